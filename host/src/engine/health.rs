//! Waiting on health, at apply time: a rolling replacement is done only once it has been
//! healthy for its group's `HealthyFor` (within `HealthTimeout`); what the group feeds is
//! brought up to date with it first.
//!
//! Invariants:
//! - Healthy means: the provider's `read` finds the member, its attributes do not say
//!   `"Healthy": false`, and every fed resource that reports `TargetHealth` reports it
//!   `healthy`; any problem restarts the `HealthyFor` clock.
//! - Fed resources are updated one at a time (the context's `feeding` lock), each resolving
//!   the membership recorded then, and recorded like any other change.
//! - The wait ends on an interrupt, and fails past `HealthTimeout` naming what was wrong
//!   (provider text escaped).

use super::context::{Context, provider_of};
use super::events::{Failure, Op};
use super::plan::{Feed, Step};
use super::retry::repeating_as;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Waits until the member `id` made by `step` is healthy for the step's `HealthyFor`: the
/// provider's `read` finds it, its attributes do not say `"Healthy": false`, and every
/// resource it feeds (first brought up to date with it) that reports `TargetHealth` reports
/// it `healthy`. Fails when that does not happen within `HealthTimeout`, or on an interrupt.
pub async fn wait_healthy(
    ctx: &Context,
    op: &Op,
    step: &Step,
    id: &str,
    properties: &Value,
) -> Result<(), Failure> {
    let Some(health) = step.health() else {
        return Ok(());
    };
    for feed in &health.feeds {
        refeed(ctx, op, feed).await?;
    }
    let provider = provider_of(ctx, &step.plugin)?;
    let healthy_for = Duration::from_millis(health.healthy_for_ms);
    let timeout = Duration::from_millis(health.timeout_ms);
    let poll = (healthy_for / 4).clamp(Duration::from_millis(200), Duration::from_secs(5));
    let started = Instant::now();
    let mut since: Option<Instant> = None;
    loop {
        let read = repeating_as(&ctx.interrupt, Some(op), || {
            provider.read(&step.type_name, id, properties)
        })
        .await
        .map_err(|e| Failure::provider(&step_context(step), &e))?;
        let mut problem = match &read {
            None => Some("it is gone".to_string()),
            Some(o) if o.attributes.get("Healthy") == Some(&Value::Bool(false)) => {
                Some("its provider reports it unhealthy".to_string())
            }
            Some(_) => None,
        };
        if problem.is_none() {
            for feed in &health.feeds {
                if let Some(p) = fed_health(ctx, op, feed, id).await? {
                    problem = Some(p);
                    break;
                }
            }
        }
        let now = Instant::now();
        match &problem {
            None => {
                let since = *since.get_or_insert(now);
                if now.duration_since(since) >= healthy_for {
                    return Ok(());
                }
            }
            Some(_) => since = None,
        }
        if now.duration_since(started) >= timeout {
            return Err(Failure::engine(format!(
                "{}: the replacement {} did not stay healthy for {} within {} ({}); the \
                 rolling update stops here",
                step.name,
                crate::text::escape(id),
                human(healthy_for),
                human(timeout),
                crate::text::escape(problem.as_deref().unwrap_or("not healthy long enough")),
            )));
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = ctx.interrupt.wait() => {
                return Err(Failure::engine(format!(
                    "{}: interrupted while waiting for it to be healthy",
                    step.name
                )));
            }
        }
    }
}

fn step_context(step: &Step) -> String {
    format!("{} ({} {})", step.name, step.plugin, step.type_name)
}

/// Brings a resource the group feeds up to date with the members recorded now (one at a time:
/// each update resolves the latest membership) and records it. Nothing to do if it is not
/// recorded yet or a member is not made yet.
async fn refeed(ctx: &Context, op: &Op, feed: &Feed) -> Result<(), Failure> {
    let _one_at_a_time = ctx.feeding.lock().await;
    let (recorded, desired) = {
        let store = ctx.store.lock().expect("state lock");
        let Some(recorded) = store.state.resources.get(&feed.name).cloned() else {
            return Ok(());
        };
        let desired =
            crate::spec::reference::resolve(&feed.properties, &|r| store.state.value_of(r));
        (recorded, desired)
    };
    if crate::spec::reference::has_unknown(&desired) || recorded.properties() == desired {
        return Ok(());
    }
    let provider = provider_of(ctx, &feed.plugin)?;
    let context = format!("{} ({} {})", feed.name, feed.plugin, feed.type_name);
    let (before, tags) = (recorded.properties().value(), recorded.tags().to_map());
    let attributes = repeating_as(&ctx.interrupt, Some(op), || {
        provider.update(&feed.type_name, recorded.id(), &before, &desired, &tags)
    })
    .await
    .map_err(|e| Failure::provider(&context, &e))?;
    ctx.change(
        &feed.name,
        crate::state::Change::Resource(Some({
            let mut record = recorded;
            record.set_properties(&desired.into());
            record.set_attributes(&attributes.into());
            record
        })),
    )
    .await
}

/// Why member `id` is not healthy in what it feeds, if the feed reports `TargetHealth`.
async fn fed_health(
    ctx: &Context,
    op: &Op,
    feed: &Feed,
    id: &str,
) -> Result<Option<String>, Failure> {
    let recorded = ctx
        .store
        .lock()
        .expect("state lock")
        .state
        .resources
        .get(&feed.name)
        .cloned();
    let Some(recorded) = recorded else {
        return Ok(None);
    };
    let provider = provider_of(ctx, &feed.plugin)?;
    let context = format!("{} ({} {})", feed.name, feed.plugin, feed.type_name);
    let known = recorded.properties().value();
    let read = repeating_as(&ctx.interrupt, Some(op), || {
        provider.read(&feed.type_name, recorded.id(), &known)
    })
    .await
    .map_err(|e| Failure::provider(&context, &e))?;
    let Some(health) = read.as_ref().and_then(|o| o.attributes.get("TargetHealth")) else {
        return Ok(None);
    };
    Ok(match health.get(id).and_then(Value::as_str) {
        Some("healthy") => None,
        Some(state) => Some(format!("{} reports it {state}", feed.name)),
        None => Some(format!("it is not registered in {}", feed.name)),
    })
}

fn human(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
