//! Executing a plan, and nothing but the plan: its steps carry what each operation needs
//! (properties, tags, dependencies), [`schedule`](super::schedule) turns them into the
//! execution graph and [`walk`](super::walk) runs it, up to `parallelism` operations at once.
//! A failure skips what depends on it; independent work finishes. Every completed operation is
//! recorded in the state at once; an interrupt stops new operations from starting. Each
//! operation reports itself (started, still running every progress interval, retried,
//! finished or failed) as [`Event`]s.
//!
//! Exactly once: before a create, its intent (type, tags, idempotency token) is journaled.
//! The token is the same for every attempt. A create whose outcome is unknown (or that failed
//! in a way that may have left an object) is never simply repeated: the engine first lists
//! the type by the resource's identity tags and adopts what it finds; a conflict after such a
//! retry is handled the same way. An update is retried only after reading the object back.
//! A create that answers `pending` is recorded at once, then waits (out of its walk slot) for
//! its object to be ready, polled with the other new objects of its type ([`super::ready`]);
//! only then do its dependents start.

use super::context::provider_of;
pub use super::context::{Context, DEPOSED, PROGRESS_EVERY};
use super::events::{Event, Failure, Op, OpAction};
use super::plan::{Action, Plan, Step};
use super::retry::{Backoff, repeating_as, retryable};
use super::running::Running;
use super::schedule::{Phase, schedule};
use super::walk::{Outcome, walk};
use crate::sandbox::Provider;
use crate::spec::reference;
use crate::spi::{ErrorKind, Observed, ProviderError, Tags};
use crate::state::{Change, Intent, NameList, NamesPacked, ResourceState};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What an apply did, per resource.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Resources created (packed: a report of 100,000 creates holds their names once).
    pub created: NameList,
    /// Resources updated in place.
    pub updated: NameList,
    /// Resources replaced.
    pub replaced: NameList,
    /// Resources deleted.
    pub deleted: NameList,
    /// Resource and why it failed (the provider's kind kept).
    pub failed: Vec<(String, Failure)>,
    /// Resource and what it waited for.
    pub skipped: Vec<(String, String)>,
    /// Not started because the run was interrupted.
    pub cancelled: Vec<String>,
    /// Not started because the state could not be written before them: resource and why.
    pub not_started: Vec<(String, String)>,
}

impl Report {
    /// Whether everything succeeded.
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
            && self.skipped.is_empty()
            && self.cancelled.is_empty()
            && self.not_started.is_empty()
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
        if !self.not_started.is_empty() {
            line.push_str(&format!(
                ", {} not started (the state could not be written)",
                self.not_started.len()
            ));
        }
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

/// Executes `plan` with at most `parallelism` operations at once.
pub async fn execute(ctx: Arc<Context>, mut plan: Plan, parallelism: usize) -> Report {
    // A create's changes only describe it (it is made from its properties, an update from
    // its changes): not held while the walk runs.
    for step in plan.steps.iter_mut().filter(|s| s.action == Action::Create) {
        step.changes = Box::default();
    }
    // Read from the steps themselves (no copy of their names and dependencies).
    let sched = schedule(&plan.steps);
    for (first, then) in &sched.dropped {
        ctx.events.event(Event::OrderDropped {
            first: first.clone(),
            then: then.clone(),
        });
    }
    // Each step is freed once all its operations have succeeded.
    let steps = Arc::new(Running::new(plan.steps, &sched.nodes));
    let nodes = Arc::new(sched.nodes);
    let still = |i: usize, elapsed: Duration| {
        let node = nodes[i];
        ctx.events.event(Event::OperationProgress {
            resource: steps.name(node.step()),
            action: op_action(steps.action(node.step()), node.phase),
            elapsed_seconds: elapsed.as_secs(),
        })
    };
    let progress = Some((
        ctx.progress_every,
        &still as &(dyn Fn(usize, Duration) + Sync),
    ));
    let outcomes = walk(
        &sched.successors,
        parallelism,
        &ctx.interrupt,
        progress,
        |i| {
            let (ctx, steps, nodes) = (ctx.clone(), steps.clone(), nodes.clone());
            async move {
                let node = nodes[i];
                let step = steps.step(node.step());
                // One operation: one send budget for every write of every attempt.
                let done = crate::sandbox::operation(run(&ctx, &step, node.phase)).await;
                drop(step);
                if done.is_ok() {
                    steps.succeeded(node.step());
                }
                // Boxed: each node's outcome is held to the end of the walk.
                done.map_err(Box::new)
            }
        },
    )
    .await;
    for (i, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Outcome::Skipped(cause) => ctx.events.event(Event::OperationSkipped {
                resource: steps.name(nodes[i].step()),
                waits_for: steps.name(nodes[*cause].step()),
            }),
            Outcome::Panicked(message) => ctx.events.event(Event::Warning {
                message: format!(
                    "{}: the operation stopped unexpectedly (a bug in rkit): {message}",
                    steps.name(nodes[i].step())
                ),
            }),
            _ => {}
        }
    }
    report(&steps, &nodes, outcomes)
}

fn report(
    steps: &Running,
    nodes: &[super::schedule::Node],
    outcomes: Vec<Outcome<(), Box<Failure>>>,
) -> Report {
    let cause_of = |cause: usize| steps.name(nodes[cause].step());
    // The nodes by step, each step's in their order (no list per step: a plan may have
    // 100,000 steps).
    let mut by_step: Vec<u32> = (0..nodes.len() as u32).collect();
    by_step.sort_unstable_by_key(|&n| (nodes[n as usize].step(), n));
    let groups = || by_step.chunk_by(|a, b| nodes[*a as usize].step() == nodes[*b as usize].step());
    // The names of what was done, by action, packed as each is let go.
    let [mut created, mut updated, mut replaced, mut deleted] = Default::default();
    let mut report = Report::default();
    for group in groups() {
        let step = nodes[group[0] as usize].step();
        let of_step = || group.iter().map(|&n| &outcomes[n as usize]);
        let name = || steps.name(step);
        let failed = of_step().find_map(|o| match o {
            Outcome::Failed(f) => Some((**f).clone()),
            Outcome::Panicked(m) => Some(Failure::engine(format!("stopped unexpectedly: {m}"))),
            _ => None,
        });
        let skipped = of_step().find_map(|o| match o {
            Outcome::Skipped(cause) => Some(cause_of(*cause)),
            _ => None,
        });
        if let Some(failure) = failed {
            if failure.not_started {
                report.not_started.push((name(), failure.message));
            } else {
                report.failed.push((name(), failure));
            }
        } else if let Some(cause) = skipped {
            report.skipped.push((name(), cause));
        } else if of_step().any(|o| matches!(o, Outcome::Cancelled)) {
            report.cancelled.push(name());
        } else {
            let done: &mut NamesPacked = match steps.action(step) {
                Action::Create => &mut created,
                Action::Update => &mut updated,
                Action::Replace => &mut replaced,
                Action::Delete => &mut deleted,
                Action::NoOp => continue,
            };
            // The last time its name is asked for.
            done.push(&steps.take_name(step));
        }
    }
    Report {
        created: created.finish(),
        updated: updated.finish(),
        replaced: replaced.finish(),
        deleted: deleted.finish(),
        ..report
    }
}

/// The operation a node of a step doing `action` does.
fn op_action(action: Action, phase: Phase) -> OpAction {
    match (phase, action) {
        (Phase::Delete, Action::Replace) => OpAction::DeleteForReplace,
        (Phase::Delete, _) => OpAction::Delete,
        (Phase::Upsert, Action::Update) => OpAction::Update,
        (Phase::Upsert, Action::Replace) => OpAction::Replace,
        (Phase::Upsert, _) => OpAction::Create,
    }
}

/// Runs one node, reporting it started, and finished or failed (the walk reports it still
/// running).
async fn run(ctx: &Context, step: &Step, phase: Phase) -> Result<(), Failure> {
    // Nothing is asked of a provider once the state cannot record it.
    let writable = ctx.store.lock().expect("state lock").writable();
    if let Err(err) = writable {
        let reason = format!("{err:#}");
        ctx.events.event(Event::OperationNotStarted {
            resource: step.name.to_string(),
            action: op_action(step.action, phase),
            reason: reason.clone(),
        });
        return Err(Failure::engine(reason).never_started());
    }
    let op = Op::new(&ctx.events, &step.name, op_action(step.action, phase));
    let started = Instant::now();
    ctx.events.event(Event::OperationStarted {
        resource: step.name.to_string(),
        action: op.action,
        id: step.orphan().map(|o| o.id.clone()),
    });
    let result = match phase {
        Phase::Delete => delete(ctx, step, &op).await.map(|id| (id, false)),
        Phase::Upsert => match upsert(ctx, step, &op).await {
            Ok((id, adopted)) if step.health().is_some() => {
                // A rolling update's replacement: done when healthy long enough.
                let properties = ctx
                    .store
                    .lock()
                    .expect("state lock")
                    .state
                    .resources
                    .get(&*step.name)
                    .map_or(Value::Null, |r| r.properties().value());
                super::health::wait_healthy(ctx, &op, step, &id, &properties)
                    .await
                    .map(|()| (id, adopted))
            }
            other => other,
        },
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok((id, adopted)) => {
            ctx.events.event(Event::OperationFinished {
                resource: step.name.to_string(),
                action: op.action,
                id,
                adopted,
                elapsed_ms,
            });
            Ok(())
        }
        Err(error) => {
            ctx.events.event(Event::OperationFailed {
                resource: step.name.to_string(),
                action: op.action,
                error: error.clone(),
                elapsed_ms,
            });
            Err(error)
        }
    }
}

fn describe(step: &Step, err: &ProviderError) -> Failure {
    // An orphan's name and ID come from a provider's `list`: renderers escape them.
    Failure::provider(
        &format!("{} ({} {})", step.logical(), step.plugin, step.type_name),
        err,
    )
}

async fn delete(ctx: &Context, step: &Step, op: &Op) -> Result<String, Failure> {
    let provider = provider_of(ctx, &step.plugin)?;
    if let Some(orphan) = step.orphan() {
        let deleted = repeating_as(&ctx.interrupt, Some(op), || {
            provider.delete(&step.type_name, &orphan.id, &orphan.properties)
        })
        .await;
        return match deleted {
            Ok(()) => Ok(orphan.id.clone()),
            Err(err) if err.kind == ErrorKind::NotFound => Ok(orphan.id.clone()),
            Err(err) => Err(describe(step, &err)),
        };
    }
    let key = if step.create_before_destroy {
        format!("{}{DEPOSED}", step.name)
    } else {
        step.name.to_string()
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
    let properties = recorded.properties().value();
    let deleted = repeating_as(&ctx.interrupt, Some(op), || {
        provider.delete(&recorded.type_name, recorded.id(), &properties)
    })
    .await;
    match deleted {
        Ok(()) => {}
        Err(err) if err.kind == ErrorKind::NotFound => {}
        Err(err) => return Err(describe(step, &err)),
    }
    ctx.change(&key, Change::Resource(None)).await?;
    Ok(recorded.id().to_string())
}

/// The tags that identify what rkit made: `rkit:*`.
pub fn identity(tags: &Tags) -> Tags {
    tags.iter()
        .filter(|(k, _)| k.starts_with(crate::tags::PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Creates or updates as the step says; the ID and whether an existing object was adopted.
async fn upsert(ctx: &Context, step: &Step, op: &Op) -> Result<(String, bool), Failure> {
    let provider = provider_of(ctx, &step.plugin)?;
    let (properties, recorded) = resolved(ctx, step)?;
    let (mut id, attributes, adopted, pending) = match (step.action, recorded) {
        (Action::Update, Some(recorded)) => {
            update_recorded(ctx, op, provider, step, recorded, &properties).await?
        }
        (_, recorded) => create_or_adopt(ctx, op, provider, step, recorded, &properties).await?,
    };
    let made = recorded_as(step, &id, &properties, attributes, pending);
    ctx.change(&step.name, made).await?;
    if pending {
        // Made, and recorded: now ready, with the other new objects of its type. A read may
        // name it by its lasting ID where the create gave a provisional one.
        let (ready_id, ready) = ready_attributes(ctx, step, &id, &properties).await?;
        id = lasting_id(ctx, step, &id, ready_id)?;
        let ready = recorded_as(step, &id, &properties, ready, false);
        ctx.change(&step.name, ready).await?;
    }
    Ok((id, adopted))
}

/// The step's properties with its references resolved from the state, and what the state
/// records under its name; an error if the plan carries none or a reference is unknown.
fn resolved(ctx: &Context, step: &Step) -> Result<(Value, Option<ResourceState>), Failure> {
    let template = step.properties.as_ref().ok_or_else(|| {
        Failure::engine(format!(
            "{}: the plan carries no properties for it",
            step.name
        ))
    })?;
    // Parsed before the state's lock is taken: every operation in flight waits on it.
    let template = template.value();
    let (properties, recorded) = {
        let store = ctx.store.lock().expect("state lock");
        (
            reference::resolve(&template, &|r| store.state.value_of(r)),
            store.state.resources.get(&*step.name).cloned(),
        )
    };
    if reference::has_unknown(&properties) {
        return Err(Failure::engine(format!(
            "{}: a referenced value is not available (its resource has no such attribute)",
            step.name
        )));
    }
    Ok((properties, recorded))
}

/// Updates the `recorded` object in place, from what the plan saw: its ID and attributes,
/// not adopted, not pending.
async fn update_recorded(
    ctx: &Context,
    op: &Op,
    provider: &Provider,
    step: &Step,
    recorded: ResourceState,
    properties: &Value,
) -> Result<(String, Value, bool, bool), Failure> {
    let attributes = update(
        ctx,
        op,
        provider,
        &step.type_name,
        recorded.id(),
        as_planned(recorded.properties().value(), step),
        properties,
        &step.tags.to_map(),
    )
    .await
    .map_err(|e| describe(step, &e))?;
    Ok((recorded.id().to_string(), attributes, false, false))
}

/// Makes the object, as passes: deposes the old one of a create-before-destroy replacement,
/// journals the intent, then adopts the object the step names or creates one. The ID,
/// attributes, whether adopted, and whether still pending.
async fn create_or_adopt(
    ctx: &Context,
    op: &Op,
    provider: &Provider,
    step: &Step,
    recorded: Option<ResourceState>,
    properties: &Value,
) -> Result<(String, Value, bool, bool), Failure> {
    if let (true, Some(old)) = (step.create_before_destroy, recorded) {
        depose(ctx, step, old).await?;
    }
    let token = journal_intent(ctx, step, properties).await?;
    let (type_name, tags) = (&step.type_name, &step.tags.to_map());
    let adopted = match step.adopt() {
        Some(id) => adopt(ctx, op, provider, type_name, id, properties, tags)
            .await
            .map_err(|e| describe(step, &e))?,
        None => None,
    };
    match adopted {
        Some((id, attributes, pending)) => Ok((id, attributes, true, pending)),
        None => create(ctx, op, provider, type_name, properties, tags, &token)
            .await
            .map_err(|e| describe(step, &e)),
    }
}

/// Keeps the `old` object on record (deposed) until the delete node removes it, and frees
/// the step's name for the new one.
async fn depose(ctx: &Context, step: &Step, old: ResourceState) -> Result<(), Failure> {
    ctx.change(
        &format!("{}{DEPOSED}", step.name),
        Change::Resource(Some(old)),
    )
    .await
    .map_err(Failure::never_started)?;
    ctx.change(&step.name, Change::Resource(None))
        .await
        .map_err(Failure::never_started)
}

/// Journals the create's intent before its effect: one token for every attempt of this
/// create (a provider passes it where the API takes one), with the tags that find it and the
/// properties it sends.
async fn journal_intent(ctx: &Context, step: &Step, properties: &Value) -> Result<String, Failure> {
    let token = idempotency_token();
    ctx.change(
        &step.name,
        Change::Intent(Intent {
            plugin: step.plugin.to_string(),
            type_name: step.type_name.to_string(),
            tags: step.tags.to_map(),
            token: token.clone(),
            since: crate::state::now(),
            properties: properties.clone(),
        }),
    )
    .await
    .map_err(Failure::never_started)?;
    Ok(token)
}

/// Waits until the step's new object `id` is ready (polled with the other new objects of its
/// type); its ID then (the lasting one, where `id` was provisional) and its attributes.
async fn ready_attributes(
    ctx: &Context,
    step: &Step,
    id: &str,
    properties: &Value,
) -> Result<(String, Value), Failure> {
    let ready = ctx
        .readiness
        .wait(
            &ctx.providers,
            &ctx.interrupt,
            &step.plugin,
            &step.type_name,
            id,
            properties,
        )
        .await
        .map_err(|e| describe(step, &e))?;
    let lasting = match ready.id.is_empty() {
        true => id.to_string(),
        false => ready.id,
    };
    Ok((lasting, ready.attributes))
}

/// The ID a pending object is recorded under once ready: the lasting one its read gave
/// (`ready_id`), unless that is empty or another resource of its type is recorded under it.
fn lasting_id(ctx: &Context, step: &Step, id: &str, ready_id: String) -> Result<String, Failure> {
    if ready_id.is_empty() || ready_id == id {
        return Ok(id.to_string());
    }
    let store = ctx.store.lock().expect("state lock");
    let taken = store.state.resources.iter().find(|(name, r)| {
        **name != *step.name
            && r.plugin == step.plugin
            && r.type_name == step.type_name
            && r.id() == ready_id
    });
    match taken {
        Some((other, _)) => Err(Failure::engine(format!(
            "{}: its provider read it back as {}, which {other} is recorded as; it stays \
             recorded as {id}",
            step.name,
            crate::text::escaped(&ready_id)
        ))),
        None => Ok(ready_id),
    }
}

/// The state's record of the step's object `id`, made from `properties`, with `attributes`;
/// `provisional` while it is pending under an ID its create gave.
fn recorded_as(
    step: &Step,
    id: &str,
    properties: &Value,
    attributes: Value,
    provisional: bool,
) -> Change {
    let plugin = step.plugin.clone();
    let record = ResourceState::new(
        plugin,
        step.type_name.clone(),
        id,
        properties.into(),
        attributes.into(),
    )
    .with_depends_on(step.depends_on.iter())
    .with_tags(&step.tags)
    .with_sensitive(step.sensitive().iter().map(String::as_str))
    .with_provisional(provisional);
    Change::Resource(Some(record))
}

/// Creates one object, exactly once: a failure that may have left an object is followed by a
/// `list` by the identity tags before anything is sent again. The ID, attributes, whether an
/// existing object was adopted, and whether it is still pending (not ready yet).
async fn create(
    ctx: &Context,
    op: &Op,
    provider: &Provider,
    type_name: &str,
    properties: &Value,
    tags: &Tags,
    token: &str,
) -> Result<(String, Value, bool, bool), ProviderError> {
    let mut backoff = Backoff::new(&ctx.interrupt).reporting(Some(op));
    let mut look = false;
    let mut looked_after_conflict = false;
    loop {
        if look {
            let found = find(ctx, Some(op), provider, type_name, tags)
                .await
                .map_err(|e| {
                    ProviderError::new(
                        e.kind,
                        format!(
                            "finding out whether an earlier attempt created it: {e}; its intent \
                             stays open and the next run resolves it"
                        ),
                    )
                })?;
            if let Some(found) = found
                && let Some((id, attributes, pending)) =
                    adopt(ctx, op, provider, type_name, &found.id, properties, tags).await?
            {
                return Ok((id, attributes, true, pending));
            }
        }
        match provider.create(type_name, properties, tags, token).await {
            Ok(created) => {
                return Ok((created.id, created.attributes, false, created.pending));
            }
            // AWS's "already exists" after a request of ours whose answer was lost.
            Err(err) if err.kind == ErrorKind::Conflict && !looked_after_conflict => {
                looked_after_conflict = true;
                look = true;
            }
            Err(err) if retryable(err.kind) => {
                if !backoff.next(&err).await {
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
    op: Option<&Op>,
    provider: &Provider,
    type_name: &str,
    tags: &Tags,
) -> Result<Option<Observed>, ProviderError> {
    let identity = identity(tags);
    let mut found =
        repeating_as(&ctx.interrupt, op, || provider.list(type_name, &identity)).await?;
    // Not an object the state already records (the old one of a create-before-destroy
    // replacement carries the same tags).
    let known: std::collections::HashSet<String> = {
        let store = ctx.store.lock().expect("state lock");
        store
            .state
            .resources
            .values()
            .map(|r| r.id().to_string())
            .collect()
    };
    found.retain(|o| {
        !known.contains(&o.id) && identity.iter().all(|(k, v)| o.tags.get(k) == Some(v))
    });
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found.into_iter().next())
}

/// The object an intent left (found by its tags), as a create's lost answer is found out in
/// the run itself: read back with the properties the create sent, and recorded with those
/// fields as found (the others are the provider's defaults, which the spec never set). An
/// intent journaled without its properties, or an object the read does not answer for, is
/// recorded as the list found it.
pub(super) async fn find_intended(
    ctx: &Context,
    provider: &Provider,
    intent: &Intent,
) -> Result<Option<Observed>, ProviderError> {
    let Some(found) = find(ctx, None, provider, &intent.type_name, &intent.tags).await? else {
        return Ok(None);
    };
    if !intent.properties.is_object() {
        return Ok(Some(found));
    }
    let read = repeating_as(&ctx.interrupt, None, || {
        provider.read(&intent.type_name, &found.id, &intent.properties)
    })
    .await;
    Ok(Some(match read {
        Ok(Some(o)) => Observed {
            properties: as_found(&intent.properties, &o.properties),
            ..o
        },
        // The list found it: a read that does not (not visible yet) or cannot answer for it
        // (another ID than the listed one) leaves it as listed, never unrecorded.
        Ok(None) | Err(_) => found,
    }))
}

/// Takes over the existing object `id` as the resource: reads it, and updates what differs
/// from `desired`. `None` if it is gone; else its ID, attributes, and whether it is still
/// pending (an earlier attempt's object may not be ready yet: it is waited for as a new one).
async fn adopt(
    ctx: &Context,
    op: &Op,
    provider: &Provider,
    type_name: &str,
    id: &str,
    desired: &Value,
    tags: &Tags,
) -> Result<Option<(String, Value, bool)>, ProviderError> {
    let read = repeating_as(&ctx.interrupt, Some(op), || {
        provider.read(type_name, id, desired)
    })
    .await?;
    let Some(observed) = read else {
        return Ok(None);
    };
    let old = as_found(desired, &observed.properties);
    if &old == desired
        && identity(tags)
            .iter()
            .all(|(k, v)| observed.tags.get(k) == Some(v))
    {
        return Ok(Some((observed.id, observed.attributes, observed.pending)));
    }
    let attributes = update(
        ctx,
        op,
        provider,
        type_name,
        &observed.id,
        old,
        desired,
        tags,
    )
    .await?;
    Ok(Some((observed.id, attributes, false)))
}

/// What exists, as the plan saw it: the recorded properties with each changed field's
/// "before" (what refresh read back: drift), so that a provider comparing old and new
/// repairs drift instead of seeing nothing to do.
fn as_planned(recorded: Value, step: &Step) -> Value {
    let mut old = recorded;
    if let Some(map) = old.as_object_mut() {
        for change in &step.changes {
            match &change.before {
                Some(before) => {
                    map.insert(change.field.to_string(), before.value());
                }
                None => {
                    map.remove(change.field.as_str());
                }
            }
        }
    }
    old
}

/// The top-level fields of `fields`, each as `found` (what a read found) has it: a field the
/// read leaves out, or gives as `null`, is unset (an internet gateway whose attachment was
/// never made has no `VpcId`), so an update from it makes what is missing.
pub(super) fn as_found(fields: &Value, found: &Value) -> Value {
    match (fields.as_object(), found.as_object()) {
        (Some(fields), Some(found)) => fields
            .keys()
            .filter_map(|k| {
                let v = found.get(k).filter(|v| !v.is_null())?;
                Some((k.clone(), v.clone()))
            })
            .collect(),
        _ => found.clone(),
    }
}

/// Updates in place; before a retry the object is read back, so the provider is asked only
/// for what is still missing.
#[allow(clippy::too_many_arguments)]
async fn update(
    ctx: &Context,
    op: &Op,
    provider: &Provider,
    type_name: &str,
    id: &str,
    mut old: Value,
    new: &Value,
    tags: &Tags,
) -> Result<Value, ProviderError> {
    let mut backoff = Backoff::new(&ctx.interrupt).reporting(Some(op));
    loop {
        match provider.update(type_name, id, &old, new, tags).await {
            Ok(attributes) => return Ok(attributes),
            Err(err) if retryable(err.kind) => {
                if !backoff.next(&err).await {
                    return Err(backoff.gave_up(err));
                }
                let read = repeating_as(&ctx.interrupt, Some(op), || {
                    provider.read(type_name, id, new)
                });
                match read.await? {
                    Some(observed) => old = as_found(&old, &observed.properties),
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
    fn an_update_starts_from_what_refresh_saw() {
        let mut step = Step::delete("S", "aws", "Subnet", None);
        step.changes = Box::new([super::super::plan::Change {
            field: "MapPublicIpOnLaunch".into(),
            before: Some(json!(false).into()),
            after: Some(json!(true).into()),
            forces_replacement: false,
            sensitive: false,
        }]);
        let recorded = json!({"CidrBlock": "10.0.1.0/24", "MapPublicIpOnLaunch": true});
        assert_eq!(
            as_planned(recorded, &step),
            json!({"CidrBlock": "10.0.1.0/24", "MapPublicIpOnLaunch": false})
        );
    }

    #[test]
    fn what_was_found_is_taken_in_the_fields_asked_for_and_absent_is_unset() {
        let got = as_found(
            &json!({"A": 1, "B": 2, "D": 4}),
            &json!({"A": 9, "C": 3, "D": null}),
        );
        assert_eq!(got, json!({"A": 9}));
    }
}
