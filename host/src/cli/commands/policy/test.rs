//! `rkit policy test DIR…`: every `test_` rule of the `.rego` files there (tests included),
//! each passing when true, as `opa test` runs them; exit 1 when one fails.

use crate::engine::Interrupt;
use crate::policy::load::read_files;
use crate::policy::testing;
use crate::text::escape;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Run the policies' own tests.
#[derive(Args)]
#[command(after_help = "Example:\n  rkit policy test examples/policies/")]
pub struct TestArgs {
    /// Directories or `.rego` files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Show every test, not only those that fail.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Runs the tests and reports them.
pub async fn exec(args: TestArgs, _: &Interrupt) -> Result<ExitCode> {
    let mut files = Vec::new();
    for path in &args.paths {
        files.extend(read_files(path, &path.display().to_string(), false)?);
    }
    let outcomes = testing::run(&files)?;
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    for outcome in &outcomes {
        match &outcome.failure {
            Some(why) => crate::outln!("FAIL {}: {}", escape(&outcome.rule), escape(why)),
            None if args.verbose => {
                crate::outln!("PASS {} ({} µs)", escape(&outcome.rule), outcome.micros)
            }
            None => {}
        }
    }
    if outcomes.is_empty() {
        crate::errln!("error: no test_ rule found");
        return Ok(ExitCode::from(1));
    }
    crate::outln!(
        "{}: {}/{} tests passed",
        if failed == 0 { "PASS" } else { "FAIL" },
        outcomes.len() - failed,
        outcomes.len()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
