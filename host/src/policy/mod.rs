//! Policy as code: Rego policies (OPA's language, evaluated in-process by `regorus`) checked
//! against one documented input document built by the engine: the planned changes, the
//! providers with their approved capabilities, the parameters, the stack and who runs it.
//!
//! A policy is a Rego package. Its `deny` and `warn` rules are sets of messages, or of
//! objects `{"msg", "resource", "field"}` (OPA's and Conftest's conventions); its
//! `enforcement` rule says how a `deny` binds: `"mandatory"` (the default: the plan cannot be
//! applied), `"overridable"` (applied only with `--override PACKAGE --reason TEXT`, which the
//! state records) or `"advisory"` (shown). A `warn` never blocks.
//!
//! Invariants: policies never see a sensitive value unless their file is granted them
//! (`{"Source": …, "Sensitive": true}`), so there are two engines, one per view; every
//! evaluation runs under a time limit; what a policy says is shown escaped (its messages may
//! carry strings a provider read); a rule that fails names the package, the rule, its
//! `file:line:col` and the first resource on which it fails.
//!
//! Inside, lowest first: `verdict` (levels, findings, overrides), `rego` (the interpreter with
//! rkit's limits), `load` (sources into engines), `eval` (findings), `testing` (`test_` rules).

mod eval;
pub mod load;
mod rego;
pub mod testing;
pub mod verdict;

pub use eval::Input;
pub use load::{Policies, Source};
pub use verdict::{Finding, Kind, Level, Override, Verdict};
