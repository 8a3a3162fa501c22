//! The commands, one file each (as cargo's are): its clap arguments (`…Args`, whose doc
//! comment is the command's help) and its `exec` over them. `state` and `provider` are
//! folders of subcommands, each with its own dispatch.
//!
//! Invariant: every `exec` has the same shape, `async fn exec(args, &Interrupt) ->
//! Result<ExitCode>`, so the dispatch in [`super`] is one line per command; commands share
//! only [`super::args`] (argument groups) and [`super::session`] (running providers).

pub mod apply;
pub mod bootstrap;
pub mod bundle;
pub mod converge;
pub mod destroy;
pub mod force_unlock;
pub mod graph;
pub mod import;
pub mod init;
pub mod output;
pub mod plan;
pub mod policy;
pub mod provider;
pub mod show;
pub mod state;
pub mod validate;
