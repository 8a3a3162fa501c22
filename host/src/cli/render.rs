//! Plans and reports as people read them.

use crate::engine::apply::Report;
use crate::engine::plan::{Action, Change, Plan};
use crate::spec::reference::UNKNOWN;
use crate::text::{escape, escape_json};
use serde_json::Value;
use std::fmt::Write as _;

fn value(v: &Option<Value>) -> String {
    match v {
        None => "(none)".into(),
        Some(Value::String(s)) if s == UNKNOWN => UNKNOWN.into(),
        Some(v) => escape_json(&v.to_string()).into_owned(),
    }
}

fn change(out: &mut String, c: &Change, action: Action) {
    let mark = if c.forces_replacement {
        "  # forces replacement"
    } else {
        ""
    };
    let _ = match action {
        Action::Create => writeln!(out, "      {}: {}", escape(&c.field), value(&c.after)),
        _ => writeln!(
            out,
            "      {}: {} => {}{mark}",
            escape(&c.field),
            value(&c.before),
            value(&c.after)
        ),
    };
}

/// The plan as a readable diff with a summary line.
pub fn plan(plan: &Plan) -> String {
    let mut out = String::new();
    for step in plan.steps.iter().filter(|s| s.action != Action::NoOp) {
        let _ = write!(
            out,
            "  {} {} ({} {})",
            step.action.symbol(),
            escape(&step.name),
            escape(&step.plugin),
            escape(&step.type_name)
        );
        if let Some(reason) = &step.reason {
            let _ = write!(out, ": {}", escape(reason));
        }
        if step.create_before_destroy {
            out.push_str(" (create before destroy)");
        }
        out.push('\n');
        for c in &step.changes {
            change(&mut out, c, step.action);
        }
    }
    let c = plan.counts();
    if plan.has_changes() {
        let _ = writeln!(
            out,
            "\nPlan: {} to create, {} to update, {} to replace, {} to delete, {} unchanged.",
            c.create, c.update, c.replace, c.delete, c.unchanged
        );
    } else {
        let _ = writeln!(out, "No changes: {} resources are up to date.", c.unchanged);
    }
    out
}

/// The end of an apply: failures with their errors, skips with their cause, the summary.
pub fn report(verb: &str, report: &Report) -> String {
    let mut out = String::new();
    for (name, err) in &report.failed {
        let _ = writeln!(out, "  failed:  {}: {err}", escape(name));
    }
    for (name, cause) in &report.skipped {
        let _ = writeln!(
            out,
            "  skipped: {} (it waits for {}, which failed)",
            escape(name),
            escape(cause)
        );
    }
    if !report.cancelled.is_empty() {
        let _ = writeln!(
            out,
            "  not started (interrupted): {}",
            report
                .cancelled
                .iter()
                .map(|n| escape(n).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let status = if report.ok() {
        "complete"
    } else {
        "incomplete"
    };
    let _ = writeln!(out, "\n{verb} {status}: {}", report.summary());
    out
}
