//! Rendering the engine's events: a human view (a line when each operation starts and ends,
//! "Still creating… [10s elapsed]" while it runs, retries with their reason; coloured by
//! action on a terminal) or `--json`, one JSON object per line (`@level`, `@message`,
//! `@timestamp`, `type` and the event's fields), like Terraform's machine-readable UI.
//!
//! Invariants: every provider-supplied string is escaped before it reaches a terminal
//! ([`crate::text`]); colour codes are the only escapes rkit writes and are stripped when
//! the stream is not a terminal, `NO_COLOR` is set or `--no-color` is given (anstream);
//! JSON lines carry no colour. The JSON reporter never asks: approvals need `--approve`.

use super::prompt;
use crate::engine::{Approval, Event, Events, OpAction, Reporter};
use crate::text::{escape, escape_json};
use anstyle::{AnsiColor, Style};
use serde::Serialize;

/// Which view a command renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Human,
    Json,
}

impl Mode {
    /// `--json` or not.
    pub fn of(json: bool) -> Self {
        if json { Mode::Json } else { Mode::Human }
    }

    /// The reporter rendering this view.
    pub fn events(self) -> Events {
        match self {
            Mode::Human => std::sync::Arc::new(Human),
            Mode::Json => std::sync::Arc::new(Json),
        }
    }
}

pub const GREEN: Style = AnsiColor::Green.on_default();
pub const YELLOW: Style = AnsiColor::Yellow.on_default();
pub const RED: Style = AnsiColor::Red.on_default();

/// `text` in `style` (the codes are stripped where colour is off).
pub fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// An action's symbol, coloured: `+` green, `~` yellow, `-` red (`-/+`: both).
pub fn symbol(symbol: &str) -> String {
    match symbol {
        "+" => paint(GREEN, "+"),
        "~" => paint(YELLOW, "~"),
        "-" => paint(RED, "-"),
        "-/+" => format!("{}/{}", paint(RED, "-"), paint(GREEN, "+")),
        other => other.to_string(),
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

/// The event as one plain line (no symbol, no colour, not escaped), and whether it is a
/// warning; `None` for what the human view does not show (reads that start and end well,
/// skips: the final report lists them).
fn text(event: &Event) -> Option<String> {
    Some(match event {
        Event::Warning { message } => format!("warning: {message}"),
        Event::Approved { text, .. } => format!("{text}approved (--approve)"),
        Event::OperationStarted {
            resource, action, ..
        } if *action != OpAction::Read => {
            format!("{resource}: {}…", capitalized(action.doing()))
        }
        Event::OperationProgress {
            resource,
            action,
            elapsed_seconds,
        } => format!(
            "{resource}: Still {}… [{elapsed_seconds}s elapsed]",
            action.doing()
        ),
        Event::OperationRetrying {
            resource,
            attempt,
            of,
            pause_ms,
            reason,
            ..
        } => format!(
            "{resource}: retrying in {:.1} s (attempt {attempt} of {of}): {}",
            *pause_ms as f64 / 1000.0,
            reason.message
        ),
        Event::OperationFinished {
            resource,
            action,
            id,
            adopted,
            elapsed_ms,
        } if *action != OpAction::Read => {
            format!(
                "{resource}: {} [{id}] ({elapsed_ms} ms)",
                finished(*action, *adopted)
            )
        }
        // The provider's own words, on the line itself: a converge tick has no summary below.
        Event::OperationFailed {
            resource,
            elapsed_ms,
            action,
            error,
        } => format!(
            "{resource}: {} failed after {elapsed_ms} ms: {}",
            action.doing(),
            error.message
        ),
        Event::IntentAdopted { resource, id } => {
            format!("{resource}: adopted {id} (made by an interrupted create)")
        }
        Event::TickStarted { .. } => return None,
        Event::Listening { address } => {
            format!("serving /healthz and /metrics on http://{address}")
        }
        Event::Drift {
            resource,
            action,
            fields,
            reason,
        } => drift(resource, *action, fields, reason.as_deref()),
        Event::PolicyFinding { operation, finding } => {
            // Escaped here, whole: a message's own line breaks must not make lines.
            let line = escape(&finding.line()).into_owned();
            match operation.as_str() {
                "converge" => format!("policy in reality: {line}"),
                "approve" => format!("policy at approval: {line}"),
                _ => format!("policy: {line}"),
            }
        }
        Event::BundleFollowed {
            digest,
            signer,
            pushed_by,
        } => format!(
            "following the bundle {} pushed by {}, signed by {}",
            escape(digest),
            escape(pushed_by),
            escape(signer)
        ),
        Event::BundleRefused { reason } => format!(
            "warning: {} (the last good bundle keeps running)",
            escape(reason)
        ),
        Event::SpecPending { changes } => format!(
            "the spec file changed: {changes} changes pending (converge applies them with \
             --follow-spec; or run rkit apply)"
        ),
        Event::TickFinished { .. } => tick_finished(event),
        Event::OperationNotStarted { resource, .. } => {
            format!("{resource}: not started (the state could not be written)")
        }
        Event::OrderDropped { first, then } => format!(
            "warning: the recorded order \"{first} before {then}\" is part of a cycle \
             (dependencies changed since they were recorded); it is not kept"
        ),
        _ => return None,
    })
}

/// What a finished operation did, in a word or two.
fn finished(action: OpAction, adopted: bool) -> &'static str {
    match action {
        _ if adopted => "adopted",
        OpAction::Create => "created",
        OpAction::Update => "updated",
        OpAction::Replace => "created (replacement)",
        OpAction::Delete => "deleted",
        OpAction::DeleteForReplace => "deleted (to replace)",
        OpAction::Read => "read",
    }
}

/// A drifted resource: what converging it takes, and why.
fn drift(
    resource: &str,
    action: crate::engine::Action,
    fields: &[String],
    reason: Option<&str>,
) -> String {
    use crate::engine::Action;
    let mut line = match action {
        Action::Create => format!("{resource}: to create"),
        Action::Delete => format!("{resource}: to delete"),
        Action::Replace => format!("{resource}: to replace"),
        _ => format!("{resource}: differs from the spec ({})", fields.join(", ")),
    };
    if let Some(reason) = reason {
        line.push_str(&format!(": {reason}"));
    }
    line
}

/// A converge tick's one line: what it found and did, how long it took, its requests.
fn tick_finished(event: &Event) -> String {
    let Event::TickFinished {
        tick,
        seconds,
        drift,
        repaired,
        failed,
        deferred,
        skipped,
        throttled,
        requests,
        ..
    } = event
    else {
        return String::new();
    };
    let what = if *skipped {
        "skipped (the state is locked)".to_string()
    } else if *drift == 0 {
        "no drift".to_string()
    } else if repaired + failed + deferred == 0 {
        format!("drift: {drift} to change (nothing changed)")
    } else {
        let mut parts = vec![format!("{drift} to change"), format!("{repaired} done")];
        if *failed > 0 {
            parts.push(format!("{failed} failed"));
        }
        if *deferred > 0 {
            parts.push(format!("{deferred} left for the next tick"));
        }
        parts.join(", ")
    };
    let slow = if *throttled {
        "; throttled: slowing down"
    } else {
        ""
    };
    let requests = if *requests > 0 {
        format!(", {requests} HTTP requests")
    } else {
        String::new()
    };
    format!("tick {tick}: {what} ({seconds:.2} s{requests}){slow}")
}

/// The human view.
pub struct Human;

impl Reporter for Human {
    fn event(&self, event: Event) {
        // The report lists what was not started, once, with the reason.
        if matches!(event, Event::OperationNotStarted { .. }) {
            return;
        }
        let Some(line) = text(&event) else { return };
        // Line by line: an approval lists what a module gets on several lines.
        let line = line
            .lines()
            .map(|l| escape(l).into_owned())
            .collect::<Vec<_>>()
            .join("\n");
        match &event {
            Event::PolicyFinding { finding, .. } => {
                let mark = if finding.blocks() {
                    paint(RED, "✗")
                } else {
                    paint(YELLOW, "!")
                };
                crate::errln!("  {mark} {line}")
            }
            Event::Warning { .. } | Event::OrderDropped { .. } | Event::BundleRefused { .. } => {
                crate::errln!("{}{}", paint(YELLOW, "warning"), &line["warning".len()..])
            }
            Event::Approved { .. } | Event::IntentAdopted { .. } | Event::Listening { .. } => {
                crate::errln!("{line}")
            }
            Event::OperationFailed { .. } => crate::outln!("  {} {line}", paint(RED, "!")),
            Event::Drift { action, .. } => crate::outln!("  {} {line}", symbol(action.symbol())),
            Event::OperationStarted { action, .. }
            | Event::OperationProgress { action, .. }
            | Event::OperationRetrying { action, .. }
            | Event::OperationFinished { action, .. } => {
                crate::outln!("  {} {line}", symbol(action.symbol()))
            }
            _ => crate::outln!("{line}"),
        }
    }

    fn approve(&self, request: &Approval) -> bool {
        let Approval::Provider { text, .. } = request;
        prompt::can_ask()
            && prompt::yes(&format!("{}Approve?", escape(text)), "pass --approve").unwrap_or(false)
    }
}

/// `--json`: one object per line.
pub struct Json;

impl Reporter for Json {
    fn event(&self, event: Event) {
        let level = match event {
            Event::Warning { .. }
            | Event::OrderDropped { .. }
            | Event::OperationNotStarted { .. } => "warn",
            Event::BundleRefused { .. } => "error",
            Event::OperationFailed { .. } => "error",
            Event::PolicyFinding { ref finding, .. } if finding.blocks() => "error",
            Event::PolicyFinding { .. } => "warn",
            _ => "info",
        };
        let message = text(&event).unwrap_or_default();
        line(level, &message, &event);
    }
}

/// Prints `value` (an object with a `type`) as one JSON line with `@level`, `@message` and
/// `@timestamp` first.
pub fn line(level: &str, message: &str, value: &impl Serialize) {
    let mut object = serde_json::Map::new();
    object.insert("@level".into(), level.into());
    object.insert("@message".into(), message.into());
    object.insert("@timestamp".into(), timestamp().into());
    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(value) {
        object.extend(fields);
    }
    let text = serde_json::Value::Object(object).to_string();
    crate::outln!("{}", escape_json(&text));
}

/// Now, in RFC 3339 (UTC, microseconds).
fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Failure;

    #[test]
    fn lines_read_as_terraform_users_expect() {
        let started = Event::OperationStarted {
            resource: "Web".into(),
            action: OpAction::Create,
            id: None,
        };
        assert_eq!(text(&started).unwrap(), "Web: Creating…");
        let still = Event::OperationProgress {
            resource: "Web".into(),
            action: OpAction::Delete,
            elapsed_seconds: 20,
        };
        assert_eq!(text(&still).unwrap(), "Web: Still deleting… [20s elapsed]");
        let retry = Event::OperationRetrying {
            resource: "Web".into(),
            action: OpAction::Create,
            attempt: 2,
            of: 8,
            pause_ms: 150,
            reason: Failure::engine("throttled"),
        };
        assert_eq!(
            text(&retry).unwrap(),
            "Web: retrying in 0.1 s (attempt 2 of 8): throttled"
        );
        let read = Event::OperationFinished {
            resource: "Web".into(),
            action: OpAction::Read,
            id: "i-1".into(),
            adopted: false,
            elapsed_ms: 3,
        };
        assert_eq!(text(&read), None);
        let not_started = Event::OperationNotStarted {
            resource: "Web".into(),
            action: OpAction::Create,
            reason: "the state s cannot be written: disk full".into(),
        };
        assert_eq!(
            text(&not_started).unwrap(),
            "Web: not started (the state could not be written)"
        );
        let json = serde_json::to_value(&not_started).unwrap();
        assert_eq!(json["reason"], "the state s cannot be written: disk full");
    }

    #[test]
    fn symbols_are_coloured_by_action() {
        assert_eq!(symbol("+"), "\u{1b}[32m+\u{1b}[0m");
        assert_eq!(symbol("-"), "\u{1b}[31m-\u{1b}[0m");
        assert_eq!(symbol("~"), "\u{1b}[33m~\u{1b}[0m");
    }
}
