//! The pieces of policies' input document that need no run: who runs rkit, how a provider
//! is shown to policies, and the check of a provider about to be approved (which happens
//! while providers are bound, before any run exists). See `checks` for the document.

use crate::policy::{Input, Policies};
use crate::spi::ProviderInfo;
use anyhow::{Result, bail};
use serde_json::{Value, json};

/// Who runs rkit, for policies and the state's history: `RKIT_WHO`, else `user@host`.
pub fn who() -> String {
    if let Ok(who) = std::env::var("RKIT_WHO")
        && !who.is_empty()
    {
        return who;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("{user}@{host}")
}

/// `who` as `{"user", "host", "name"}`.
pub fn who_value(who: &str) -> Value {
    let (user, host) = who.split_once('@').unwrap_or((who, ""));
    json!({"name": who, "user": user, "host": host})
}

/// One provider as policies see it: where it comes from, what it declares, what the spec
/// gives it.
pub fn provider_entry(
    source: &str,
    info: &ProviderInfo,
    digest: &str,
    config: Value,
    grants: Value,
) -> Value {
    let caps = &info.capabilities;
    json!({
        "source": source,
        "name": info.name,
        "version": info.version,
        "digest": format!("sha256:{}", digest.trim_start_matches("sha256:")),
        "config": config,
        "capabilities": {
            "http_hosts": caps.http_hosts,
            "api_actions": caps.api_actions,
            "credentials": caps.credentials,
            "resource_types": caps.resource_types,
            "filesystem": caps.filesystem,
            "memory_mib": caps.memory_mib,
        },
        "grants": grants,
    })
}

/// Checks a provider about to be approved (`rkit.operation` is `approve`, no changes):
/// refused when a policy blocks it.
pub fn approve_provider(
    policies: &Policies,
    plugin: &str,
    entry: Value,
    events: &super::events::Events,
) -> Result<()> {
    if policies.is_empty() {
        return Ok(());
    }
    let doc = json!({
        "rkit": {"version": env!("CARGO_PKG_VERSION"), "operation": "approve"},
        "who": who_value(&who()),
        "resource_changes": [],
        "providers": {plugin: entry},
    });
    let verdict = policies.evaluate(&Input {
        masked: doc,
        revealed: None,
    })?;
    for finding in verdict.findings.iter().filter(|f| !f.blocks()) {
        events.event(super::events::Event::PolicyFinding {
            operation: "approve".into(),
            finding: finding.clone(),
        });
    }
    if let Some(refusal) = verdict.refusal(&format!("provider {plugin}")) {
        bail!("{refusal}\nNot approved: nothing was run and nothing was recorded.");
    }
    Ok(())
}
