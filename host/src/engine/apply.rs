//! Executing a plan: each resource operation runs as soon as everything it waits for is done
//! (the order is [`schedule`](super::schedule)'s), up to `parallelism` at once (tokio). A
//! failure skips what depends on it; independent work finishes. Every completed operation is
//! recorded in the state at once; an interrupt stops new operations from starting.
//!
//! Exactly once: before a create, its intent (type, tags, idempotency token) is journaled.
//! The token is the same for every attempt. A create whose outcome is unknown (or that failed
//! in a way that may have left an object) is never simply repeated: the engine first lists
//! the type by the resource's identity tags and adopts what it finds; a conflict after such a
//! retry is handled the same way. An update is retried only after reading the object back.

use super::interrupt::Interrupt;
use super::plan::{Action, Plan, Step};
use super::providers::Providers;
use super::retry::{Backoff, repeating, retryable};
use super::schedule::{Phase, StepShape, schedule};
use crate::sandbox::Provider;
use crate::spec::LoadedSpec;
use crate::spec::reference;
use crate::spi::{ErrorKind, Observed, ProviderError, Tags};
use crate::state::{Change, Intent, ResourceState, StateStore};
use crate::{errln, outln};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::task::JoinSet;

/// Tag keys rkit puts on every resource.
pub const STACK_TAG: &str = "rkit:stack";
pub const NAME_TAG: &str = "rkit:name";

/// The suffix under which a resource being replaced create-before-destroy is recorded until
/// its old object is deleted.
pub const DEPOSED: &str = "#deposed";

/// How one operation ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum Outcome {
    Done,
    Failed(String),
    /// Not attempted: something it waits for failed.
    Skipped(String),
    /// Not attempted: the run was interrupted.
    Cancelled,
}

/// What an apply did, per resource.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub replaced: Vec<String>,
    pub deleted: Vec<String>,
    /// Resource and error.
    pub failed: Vec<(String, String)>,
    /// Resource and what it waited for.
    pub skipped: Vec<(String, String)>,
    /// Not started because the run was interrupted.
    pub cancelled: Vec<String>,
}

impl Report {
    /// Whether everything succeeded.
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && self.cancelled.is_empty()
    }

    /// The one-line summary.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{} created, {} updated, {} replaced, {} deleted; {} failed, {} skipped",
            self.created.len(),
            self.updated.len(),
            self.replaced.len(),
            self.deleted.len(),
            self.failed.len(),
            self.skipped.len()
        );
        if !self.cancelled.is_empty() {
            line.push_str(&format!(
                ", {} not started (interrupted)",
                self.cancelled.len()
            ));
        }
        line.push('.');
        line
    }
}

/// What the operations share.
pub struct Context {
    pub spec: LoadedSpec,
    pub providers: Providers,
    pub store: Mutex<StateStore>,
    /// Print a line per completed operation.
    pub progress: bool,
    /// Raised by the CLI on SIGINT/SIGTERM.
    pub interrupt: Interrupt,
}

impl Context {
    /// The resource's dependencies in the spec (none if it is not in the spec).
    pub fn spec_deps(&self, name: &str) -> Vec<String> {
        if self.spec.spec.resources.contains_key(name) {
            self.spec
                .dependencies(name)
                .into_iter()
                .map(String::from)
                .collect()
        } else {
            Vec::new()
        }
    }

    /// Journals `change` to `name`.
    pub fn change(&self, name: &str, change: Change) -> Result<(), String> {
        self.store
            .lock()
            .expect("state lock")
            .change(name, change)
            .map_err(|err| format!("{name}: recording in the state failed: {err:#}"))
    }
}

/// Executes `plan` with at most `parallelism` operations at once.
pub async fn execute(ctx: Arc<Context>, plan: &Plan, parallelism: usize) -> Report {
    let steps: Arc<Vec<Step>> = Arc::new(plan.steps.clone());
    let shapes = shapes(&ctx, &steps);
    let sched = schedule(&shapes);
    for (first, then) in &sched.dropped {
        errln!(
            "warning: the recorded order \"{first} before {then}\" is part of a cycle (dependencies changed since they were recorded); it is not kept"
        );
    }
    let (nodes, successors) = (Arc::new(sched.nodes), sched.successors);
    let mut waiting: Vec<usize> = vec![0; nodes.len()];
    for succ in &successors {
        for &s in succ {
            waiting[s] += 1;
        }
    }
    let mut outcome: Vec<Option<Outcome>> = vec![None; nodes.len()];
    let mut ready: VecDeque<usize> = (0..nodes.len()).filter(|&i| waiting[i] == 0).collect();
    let mut running = JoinSet::new();
    loop {
        while running.len() < parallelism.max(1) && !ctx.interrupt.raised() {
            let Some(i) = ready.pop_front() else { break };
            let (ctx, steps, nodes) = (ctx.clone(), steps.clone(), nodes.clone());
            running.spawn(async move {
                let node = &nodes[i];
                let result = run(&ctx, &steps[node.step], node.phase).await;
                (i, result)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, result) = match joined {
            Ok(done) => done,
            // An operation panicked (a bug): its node is unknown; report rather than abort.
            Err(err) => {
                errln!("error: an operation stopped unexpectedly: {err}");
                continue;
            }
        };
        match result {
            Ok(()) => {
                outcome[i] = Some(Outcome::Done);
                for &s in &successors[i] {
                    waiting[s] -= 1;
                    if waiting[s] == 0 && outcome[s].is_none() {
                        ready.push_back(s);
                    }
                }
            }
            Err(err) => {
                outcome[i] = Some(Outcome::Failed(err));
                let cause = steps[nodes[i].step].name.clone();
                let mut stack = successors[i].clone();
                while let Some(s) = stack.pop() {
                    if outcome[s].is_none() {
                        outcome[s] = Some(Outcome::Skipped(cause.clone()));
                        stack.extend(&successors[s]);
                    }
                }
            }
        }
    }
    let interrupted = ctx.interrupt.raised();
    let outcome = outcome
        .into_iter()
        .map(|o| {
            o.unwrap_or(if interrupted {
                Outcome::Cancelled
            } else {
                Outcome::Failed("stopped unexpectedly".into())
            })
        })
        .collect();
    report(&steps, &nodes, outcome)
}

/// What scheduling needs of each step.
fn shapes(ctx: &Context, steps: &[Step]) -> Vec<StepShape> {
    let store = ctx.store.lock().expect("state lock");
    steps
        .iter()
        .map(|step| {
            let (delete, upsert) = match step.action {
                Action::NoOp => (false, false),
                Action::Create | Action::Update => (false, true),
                Action::Replace => (true, true),
                Action::Delete => (true, false),
            };
            let recorded_deps = match &step.orphan {
                Some(_) => Vec::new(),
                None => store
                    .state
                    .resources
                    .get(&step.name)
                    .map(|r| r.depends_on.clone())
                    .unwrap_or_default(),
            };
            StepShape {
                name: step.name.clone(),
                logical: step.logical().to_string(),
                delete,
                upsert,
                create_before_destroy: step.create_before_destroy,
                leaving: step.action == Action::Delete,
                spec_deps: ctx.spec_deps(step.logical()),
                recorded_deps,
            }
        })
        .collect()
}

fn report(steps: &[Step], nodes: &[super::schedule::Node], outcome: Vec<Outcome>) -> Report {
    let mut by_step: BTreeMap<usize, Vec<Outcome>> = BTreeMap::new();
    for (node, outcome) in nodes.iter().zip(outcome) {
        by_step.entry(node.step).or_default().push(outcome);
    }
    let mut report = Report::default();
    for (i, outcomes) in by_step {
        let step = &steps[i];
        let name = step.name.clone();
        if let Some(Outcome::Failed(err)) =
            outcomes.iter().find(|o| matches!(o, Outcome::Failed(_)))
        {
            report.failed.push((name, err.clone()));
        } else if let Some(Outcome::Skipped(cause)) =
            outcomes.iter().find(|o| matches!(o, Outcome::Skipped(_)))
        {
            report.skipped.push((name, cause.clone()));
        } else if outcomes.contains(&Outcome::Cancelled) {
            report.cancelled.push(name);
        } else {
            match step.action {
                Action::Create => report.created.push(name),
                Action::Update => report.updated.push(name),
                Action::Replace => report.replaced.push(name),
                Action::Delete => report.deleted.push(name),
                Action::NoOp => {}
            }
        }
    }
    report
}

/// Runs one node; the error is the message to report.
async fn run(ctx: &Context, step: &Step, phase: Phase) -> Result<(), String> {
    let started = Instant::now();
    let result = match phase {
        Phase::Delete => delete(ctx, step).await.map(|id| (id, false)),
        Phase::Upsert => upsert(ctx, step).await,
    };
    let symbol = if phase == Phase::Delete {
        "-"
    } else {
        step.action.symbol()
    };
    match &result {
        Ok((id, adopted)) if ctx.progress => {
            let what = match (phase, step.action) {
                (Phase::Delete, Action::Replace) => "deleted (to replace)",
                (Phase::Delete, _) => "deleted",
                (Phase::Upsert, _) if *adopted => "adopted",
                (Phase::Upsert, Action::Create) => "created",
                (Phase::Upsert, Action::Update) => "updated",
                (Phase::Upsert, _) => "created (replacement)",
            };
            outln!(
                "  {symbol} {}: {what} [{}] ({} ms)",
                crate::text::escape(&step.name),
                crate::text::escape(id),
                started.elapsed().as_millis()
            )
        }
        Err(err) if ctx.progress => {
            outln!("  ! {}: failed: {err}", crate::text::escape(&step.name))
        }
        _ => {}
    }
    result.map(|_| ())
}

fn describe(step: &Step, err: ProviderError) -> String {
    // An orphan's name and ID come from a provider's `list`: escaped like any provider text.
    format!(
        "{} ({} {}): {err}",
        crate::text::escape(step.logical()),
        step.plugin,
        step.type_name
    )
}

fn provider_of<'a>(ctx: &'a Context, plugin: &str) -> Result<&'a Provider, String> {
    ctx.providers
        .get(plugin)
        .map(|b| b.provider.as_ref())
        .map_err(|e| e.to_string())
}

async fn delete(ctx: &Context, step: &Step) -> Result<String, String> {
    let provider = provider_of(ctx, &step.plugin)?;
    if let Some(orphan) = &step.orphan {
        let deleted = repeating(&ctx.interrupt, || {
            provider.delete(&step.type_name, &orphan.id, &orphan.properties)
        })
        .await;
        return match deleted {
            Ok(()) => Ok(orphan.id.clone()),
            Err(err) if err.kind == ErrorKind::NotFound => Ok(orphan.id.clone()),
            Err(err) => Err(describe(step, err)),
        };
    }
    let key = if step.create_before_destroy {
        format!("{}{DEPOSED}", step.name)
    } else {
        step.name.clone()
    };
    let Some(recorded) = ctx
        .store
        .lock()
        .expect("state lock")
        .state
        .resources
        .get(&key)
        .cloned()
    else {
        return Ok("already gone".into());
    };
    let provider = provider_of(ctx, &recorded.plugin)?;
    let deleted = repeating(&ctx.interrupt, || {
        provider.delete(&recorded.type_name, &recorded.id, &recorded.properties)
    })
    .await;
    match deleted {
        Ok(()) => {}
        Err(err) if err.kind == ErrorKind::NotFound => {}
        Err(err) => return Err(describe(step, err)),
    }
    ctx.change(&key, Change::Resource(None))?;
    Ok(recorded.id)
}

/// The tags that identify what rkit made: `rkit:*`.
pub fn identity(tags: &Tags) -> Tags {
    tags.iter()
        .filter(|(k, _)| k.starts_with("rkit:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Creates or updates; the ID and whether an existing object was adopted.
async fn upsert(ctx: &Context, step: &Step) -> Result<(String, bool), String> {
    let rs = &ctx.spec.spec.resources[&step.name];
    let provider = provider_of(ctx, &rs.plugin)?;
    let (properties, recorded) = {
        let store = ctx.store.lock().expect("state lock");
        (
            reference::resolve(&rs.properties, &|r| store.state.value_of(r)),
            store.state.resources.get(&step.name).cloned(),
        )
    };
    if reference::has_unknown(&properties) {
        return Err(format!(
            "{}: a referenced value is not available (its resource has no such attribute)",
            step.name
        ));
    }
    let mut tags: Tags = rs.tags.clone();
    tags.insert(STACK_TAG.into(), ctx.spec.stack.clone());
    tags.insert(NAME_TAG.into(), step.name.clone());
    let (id, attributes, adopted) = match (step.action, recorded) {
        (Action::Update, Some(recorded)) => {
            let attributes = update(
                ctx,
                provider,
                &rs.type_name,
                &recorded.id,
                recorded.properties.clone(),
                &properties,
                &tags,
            )
            .await
            .map_err(|e| describe(step, e))?;
            (recorded.id, attributes, false)
        }
        (_, recorded) => {
            if let (true, Some(old)) = (step.create_before_destroy, recorded) {
                // Keep the old object on record until the delete node removes it.
                ctx.change(
                    &format!("{}{DEPOSED}", step.name),
                    Change::Resource(Some(old)),
                )?;
                ctx.change(&step.name, Change::Resource(None))?;
            }
            // Intent before effect: one token for every attempt of this create (a provider
            // passes it where the API takes one), journaled with the tags that find it.
            let token = idempotency_token();
            ctx.change(
                &step.name,
                Change::Intent(Intent {
                    plugin: rs.plugin.clone(),
                    type_name: rs.type_name.clone(),
                    tags: tags.clone(),
                    token: token.clone(),
                    since: crate::state::now(),
                }),
            )?;
            let adopted = match &step.adopt {
                Some(id) => adopt(ctx, provider, &rs.type_name, id, &properties, &tags)
                    .await
                    .map_err(|e| describe(step, e))?,
                None => None,
            };
            match adopted {
                Some((id, attributes)) => (id, attributes, true),
                None => create(ctx, provider, &rs.type_name, &properties, &tags, &token)
                    .await
                    .map_err(|e| describe(step, e))?,
            }
        }
    };
    ctx.change(
        &step.name,
        Change::Resource(Some(ResourceState {
            plugin: rs.plugin.clone(),
            type_name: rs.type_name.clone(),
            id: id.clone(),
            properties,
            attributes,
            depends_on: ctx.spec_deps(&step.name),
            tags,
        })),
    )?;
    Ok((id, adopted))
}

/// Creates one object, exactly once: a failure that may have left an object is followed by a
/// `list` by the identity tags before anything is sent again. The ID, attributes and whether
/// an existing object was adopted.
async fn create(
    ctx: &Context,
    provider: &Provider,
    type_name: &str,
    properties: &Value,
    tags: &Tags,
    token: &str,
) -> Result<(String, Value, bool), ProviderError> {
    let mut backoff = Backoff::new(&ctx.interrupt);
    let mut look = false;
    let mut looked_after_conflict = false;
    loop {
        if look {
            let found = find(ctx, provider, type_name, tags).await.map_err(|e| {
                ProviderError::new(
                    e.kind,
                    format!(
                        "finding out whether an earlier attempt created it: {e}; its intent stays \
                         open and the next run resolves it"
                    ),
                )
            })?;
            if let Some(found) = found
                && let Some((id, attributes)) =
                    adopt(ctx, provider, type_name, &found.id, properties, tags).await?
            {
                return Ok((id, attributes, true));
            }
        }
        match provider.create(type_name, properties, tags, token).await {
            Ok(created) => return Ok((created.id, created.attributes, false)),
            // AWS's "already exists" after a request of ours whose answer was lost.
            Err(err) if err.kind == ErrorKind::Conflict && !looked_after_conflict => {
                looked_after_conflict = true;
                look = true;
            }
            Err(err) if retryable(err.kind) => {
                if !backoff.next().await {
                    return Err(backoff.gave_up(err));
                }
                look = true;
            }
            Err(err) => return Err(err),
        }
    }
}

/// The object carrying `tags`' identity (rkit's tags), if the provider lists one; of several
/// (duplicates from before), the first by ID: the others are orphans.
pub async fn find(
    ctx: &Context,
    provider: &Provider,
    type_name: &str,
    tags: &Tags,
) -> Result<Option<Observed>, ProviderError> {
    let identity = identity(tags);
    let mut found = repeating(&ctx.interrupt, || provider.list(type_name, &identity)).await?;
    // Not an object the state already records (the old one of a create-before-destroy
    // replacement carries the same tags).
    let known: std::collections::HashSet<String> = {
        let store = ctx.store.lock().expect("state lock");
        store
            .state
            .resources
            .values()
            .map(|r| r.id.clone())
            .collect()
    };
    found.retain(|o| {
        !known.contains(&o.id) && identity.iter().all(|(k, v)| o.tags.get(k) == Some(v))
    });
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found.into_iter().next())
}

/// Takes over the existing object `id` as the resource: reads it, and updates what differs
/// from `desired`. `None` if it is gone.
async fn adopt(
    ctx: &Context,
    provider: &Provider,
    type_name: &str,
    id: &str,
    desired: &Value,
    tags: &Tags,
) -> Result<Option<(String, Value)>, ProviderError> {
    let read = repeating(&ctx.interrupt, || provider.read(type_name, id, desired)).await?;
    let Some(observed) = read else {
        return Ok(None);
    };
    let old = overlay(desired, &observed.properties);
    if &old == desired
        && identity(tags)
            .iter()
            .all(|(k, v)| observed.tags.get(k) == Some(v))
    {
        return Ok(Some((observed.id, observed.attributes)));
    }
    let attributes = update(ctx, provider, type_name, &observed.id, old, desired, tags).await?;
    Ok(Some((observed.id, attributes)))
}

/// `base` with the top-level fields `over` reports replaced by its values.
fn overlay(base: &Value, over: &Value) -> Value {
    let mut out = base.clone();
    if let (Some(out), Some(over)) = (out.as_object_mut(), over.as_object()) {
        for (k, v) in over {
            if out.contains_key(k) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

/// Updates in place; before a retry the object is read back, so the provider is asked only
/// for what is still missing.
async fn update(
    ctx: &Context,
    provider: &Provider,
    type_name: &str,
    id: &str,
    mut old: Value,
    new: &Value,
    tags: &Tags,
) -> Result<Value, ProviderError> {
    let mut backoff = Backoff::new(&ctx.interrupt);
    loop {
        match provider.update(type_name, id, &old, new, tags).await {
            Ok(attributes) => return Ok(attributes),
            Err(err) if retryable(err.kind) => {
                if !backoff.next().await {
                    return Err(backoff.gave_up(err));
                }
                match repeating(&ctx.interrupt, || provider.read(type_name, id, new)).await? {
                    Some(observed) => old = overlay(&old, &observed.properties),
                    None => {
                        return Err(ProviderError::new(
                            ErrorKind::NotFound,
                            format!("{id} is gone (it was being updated)"),
                        ));
                    }
                }
            }
            Err(err) => return Err(err),
        }
    }
}

/// A fresh idempotency token: 128 random bits in hex.
fn idempotency_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system's random source");
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn overlay_takes_only_fields_the_base_has() {
        let got = overlay(&json!({"A": 1, "B": 2}), &json!({"A": 9, "C": 3}));
        assert_eq!(got, json!({"A": 9, "B": 2}));
    }
}
