//! Plans and reports as people read them.

use super::ui::{self, RED, paint};
use crate::engine::MASK;
use crate::engine::Report;
use crate::engine::{Action, Change, Plan};
use crate::spec::reference::UNKNOWN;
use crate::state::{Compact, ResourceState};
use crate::text::{escape, escape_json};
use serde_json::Value;
use std::fmt::Write as _;

fn value(v: &Option<Value>) -> String {
    match v {
        None => "(none)".into(),
        Some(v) => json_value(v),
    }
}

/// A value as shown: JSON, except the markers of a value not known yet or not shown.
pub fn json_value(v: &Value) -> String {
    match v {
        Value::String(s) if s == UNKNOWN || s == MASK => s.clone(),
        v => escape_json(&v.to_string()).into_owned(),
    }
}

/// A recorded resource (already masked as it should be shown).
pub fn resource(name: &str, r: &ResourceState) -> String {
    let mut out = format!(
        "# {} ({} {}) [{}]\n",
        escape(name),
        escape(&r.plugin),
        escape(&r.type_name),
        escape(r.id())
    );
    for (title, fields) in [
        ("properties", r.properties().value()),
        ("attributes", r.attributes().value()),
    ] {
        let Some(map) = fields.as_object().filter(|m| !m.is_empty()) else {
            continue;
        };
        let _ = writeln!(out, "  {title}:");
        for (k, v) in map {
            let _ = writeln!(out, "    {} = {}", escape(k), json_value(v));
        }
    }
    out.push('\n');
    out
}

fn change(out: &mut String, c: &Change, action: Action, reveal: bool) {
    let masked = Some(Value::String(MASK.into()));
    let shown = |v: &Option<Compact>| v.as_ref().map(Compact::value);
    let (before, after) = if c.sensitive && !reveal {
        (masked.clone(), masked)
    } else {
        (shown(&c.before), shown(&c.after))
    };
    let mark = if c.forces_replacement {
        "  # forces replacement"
    } else {
        ""
    };
    let _ = match action {
        Action::Create => writeln!(out, "      {}: {}", escape(&c.field), value(&after)),
        _ => writeln!(
            out,
            "      {}: {} => {}{mark}",
            escape(&c.field),
            value(&before),
            value(&after)
        ),
    };
}

/// How much of a plan's text is handed on at once.
const CHUNK: usize = 64 * 1024;

/// The plan as a readable diff with a summary line; sensitive values masked unless `reveal`.
/// It is handed to `emit` in pieces of about [`CHUNK`] bytes, each of whole steps: a plan of
/// 100,000 creates is never held as one text of megabytes.
pub fn write_plan(plan: &Plan, reveal: bool, emit: &mut dyn FnMut(&str)) {
    let mut out = String::new();
    for step in plan.steps.iter().filter(|s| s.action != Action::NoOp) {
        if out.len() >= CHUNK {
            emit(&out);
            out.clear();
        }
        let _ = write!(
            out,
            "  {} {} ({} {})",
            ui::symbol(step.action.symbol()),
            escape(&step.name),
            escape(&step.plugin),
            escape(&step.type_name)
        );
        if let Some(reason) = step.reason() {
            let _ = write!(out, ": {}", escape(reason));
        }
        if step.create_before_destroy {
            out.push_str(" (create before destroy)");
        }
        out.push('\n');
        for c in &step.changes {
            change(&mut out, c, step.action, reveal);
        }
    }
    if plan.has_changes() {
        out.push('\n');
    }
    // Group names come from the spec (no provider text), but escape them all the same.
    for line in plan.group_lines() {
        let _ = writeln!(out, "{}", escape(&line));
    }
    let _ = writeln!(out, "{}", summary(plan));
    if let Some(checked) = &plan.policy {
        out.push_str(&policies(checked));
    }
    emit(&out);
}

/// What the policies said of a plan: a line per finding, then a summary line.
pub fn policies(checked: &crate::engine::Checked) -> String {
    let verdict = &checked.verdict;
    let mut out = String::new();
    if !verdict.findings.is_empty() {
        out.push('\n');
    }
    for finding in &verdict.findings {
        let mark = if finding.blocks() {
            paint(RED, "✗")
        } else {
            "!".to_string()
        };
        let _ = writeln!(out, "  {mark} {}", escape(&finding.line()));
    }
    let blocking = verdict.blocking().count();
    let _ = writeln!(
        out,
        "Policies: {} checked, {} blocking, {} other finding{}.{}",
        verdict.policies,
        blocking,
        verdict.findings.len() - blocking,
        if verdict.findings.len() - blocking == 1 {
            ""
        } else {
            "s"
        },
        if blocking > 0 {
            " This plan cannot be applied."
        } else {
            ""
        }
    );
    out
}

/// The plan's summary line.
pub fn summary(plan: &Plan) -> String {
    let c = plan.counts();
    if plan.has_changes() {
        format!(
            "Plan: {} to create, {} to update, {} to replace, {} to delete, {} unchanged.",
            c.create, c.update, c.replace, c.delete, c.unchanged
        )
    } else {
        match c.unchanged {
            1 => "No changes: 1 resource is up to date.".to_string(),
            n => format!("No changes: {n} resources are up to date."),
        }
    }
}

/// What a step does, as a verb ("create", "update", …).
pub fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "delete",
        Action::NoOp => "keep",
    }
}

/// The end of an apply: failures with their errors, skips with their cause, the summary.
pub fn report(verb: &str, report: &Report) -> String {
    let mut out = String::new();
    for (_, failure) in &report.failed {
        let kind = failure
            .kind
            .map(|k| {
                format!(
                    " [{}]",
                    serde_json::to_value(k)
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or("")
                )
            })
            .unwrap_or_default();
        // The message starts with the resource (and its plugin and type).
        let _ = writeln!(
            out,
            "  {}  {}{kind}",
            paint(RED, "failed:"),
            escape(&failure.message)
        );
    }
    for (name, cause) in &report.skipped {
        let what = if report.not_started.iter().any(|(n, _)| n == cause) {
            "which was not started"
        } else {
            "which failed"
        };
        let _ = writeln!(
            out,
            "  skipped: {} (it waits for {}, {what})",
            escape(name),
            escape(cause)
        );
    }
    if let Some((_, why)) = report.not_started.first() {
        let _ = writeln!(
            out,
            "  not started (the state could not be written): {}\n    {}",
            report
                .not_started
                .iter()
                .map(|(n, _)| escape(n).into_owned())
                .collect::<Vec<_>>()
                .join(", "),
            escape(why)
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
