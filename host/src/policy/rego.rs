//! The Rego interpreter as rkit uses it: an engine with rkit's limits (each evaluation stops
//! after 10 s), one rule queried (`undefined` as `None`), and regorus' errors as
//! `file:line:col: message` with the picture of the line.

use anyhow::Result;
use regorus::Engine;
use serde_json::Value;

/// A fresh engine with rkit's limits: each evaluation stops after 10 s.
pub(super) fn engine() -> Engine {
    let mut engine = Engine::new();
    engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit: std::time::Duration::from_secs(10),
        check_interval: std::num::NonZeroU32::new(1024).expect("not zero"),
    });
    engine
}

/// `data.PACKAGE.RULE` on the engine's input: `None` when undefined.
pub(super) fn query(engine: &mut Engine, package: &str, rule: &str) -> Result<Option<Value>> {
    let path = format!("data.{package}.{rule}");
    let results = engine.eval_query(path, false)?;
    let Some(value) = results
        .result
        .into_iter()
        .next()
        .and_then(|r| r.expressions.into_iter().next())
        .map(|e| e.value)
    else {
        return Ok(None);
    };
    if value == regorus::Value::Undefined {
        return Ok(None);
    }
    Ok(Some(serde_json::to_value(&value)?))
}

/// A regorus error as `file:line:col: message`, then its picture of the line.
pub(super) fn located(error: &anyhow::Error) -> String {
    let text = error.to_string();
    let at = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))
        .map(str::trim);
    let message = text
        .lines()
        .find_map(|l| l.strip_prefix("error: "))
        .map(str::trim);
    match (at, message) {
        (Some(at), Some(message)) => {
            let picture: Vec<&str> = text
                .lines()
                .filter(|l| {
                    l.trim_start()
                        .starts_with(|c: char| c.is_ascii_digit() || c == '|')
                })
                .collect();
            format!("{at}: {message}\n{}", picture.join("\n"))
                .trim_end()
                .to_string()
        }
        _ => text.trim().to_string(),
    }
}
