//! Executing a plan: each resource operation runs as soon as everything it waits for is done,
//! up to `parallelism` at once (tokio). A failure skips what depends on it; independent work
//! finishes. Every completed operation is recorded in the state at once.
//!
//! A step becomes up to two nodes: `Delete` (of what exists) and `Upsert` (create or update).
//! Their order: upserts follow the upserts of their dependencies; deletes precede the deletes
//! of what the resource depended on; a replacement deletes first (or, create-before-destroy,
//! creates first); a resource leaving the spec is deleted after anything that depended on it
//! has been moved off it.

use super::plan::{Action, Plan, Step};
use super::providers::Providers;
use crate::spec::LoadedSpec;
use crate::spec::reference;
use crate::spi::{ErrorKind, ProviderError, Tags};
use crate::state::{ResourceState, StateStore};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Tag keys rkit puts on every resource.
pub const STACK_TAG: &str = "rkit:stack";
pub const NAME_TAG: &str = "rkit:name";

/// The suffix under which a resource being replaced create-before-destroy is recorded until
/// its old object is deleted.
const DEPOSED: &str = "#deposed";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Delete,
    Upsert,
}

/// How one operation ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum Outcome {
    Done,
    Failed(String),
    /// Not attempted: something it waits for failed.
    Skipped(String),
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
}

impl Report {
    /// Whether everything succeeded.
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty()
    }

    /// The one-line summary.
    pub fn summary(&self) -> String {
        format!(
            "{} created, {} updated, {} replaced, {} deleted; {} failed, {} skipped.",
            self.created.len(),
            self.updated.len(),
            self.replaced.len(),
            self.deleted.len(),
            self.failed.len(),
            self.skipped.len()
        )
    }
}

/// What the operations share.
pub struct Context {
    pub spec: LoadedSpec,
    pub providers: Providers,
    pub store: Mutex<StateStore>,
    /// Print a line per completed operation.
    pub progress: bool,
}

struct Node {
    step: usize,
    phase: Phase,
}

/// Executes `plan` with at most `parallelism` operations at once.
pub async fn execute(ctx: Arc<Context>, plan: &Plan, parallelism: usize) -> Report {
    let steps: Arc<Vec<Step>> = Arc::new(plan.steps.clone());
    let (nodes, successors) = build(&ctx, &steps);
    let mut waiting: Vec<usize> = vec![0; nodes.len()];
    for succ in &successors {
        for &s in succ {
            waiting[s] += 1;
        }
    }
    let mut outcome: Vec<Option<Outcome>> = vec![None; nodes.len()];
    let mut ready: VecDeque<usize> = (0..nodes.len()).filter(|&i| waiting[i] == 0).collect();
    let mut running = JoinSet::new();
    let nodes = Arc::new(nodes);
    loop {
        while running.len() < parallelism.max(1) {
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
        let (i, result) = joined.expect("operations do not panic");
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
    report(&steps, &nodes, outcome)
}

/// The nodes of the steps that change something, and each node's successors.
fn build(ctx: &Context, steps: &[Step]) -> (Vec<Node>, Vec<Vec<usize>>) {
    let mut nodes = Vec::new();
    let mut delete_of: HashMap<&str, usize> = HashMap::new();
    let mut upsert_of: HashMap<&str, usize> = HashMap::new();
    for (i, step) in steps.iter().enumerate() {
        let (delete, upsert) = match step.action {
            Action::NoOp => (false, false),
            Action::Create | Action::Update => (false, true),
            Action::Replace => (true, true),
            Action::Delete => (true, false),
        };
        if delete {
            delete_of.insert(&step.name, nodes.len());
            nodes.push(Node {
                step: i,
                phase: Phase::Delete,
            });
        }
        if upsert {
            upsert_of.insert(&step.name, nodes.len());
            nodes.push(Node {
                step: i,
                phase: Phase::Upsert,
            });
        }
    }
    let mut successors = vec![Vec::new(); nodes.len()];
    let mut edge = |from: usize, to: usize| successors[from].push(to);
    let recorded_deps: BTreeMap<String, Vec<String>> = {
        let store = ctx.store.lock().expect("state lock");
        store
            .state
            .resources
            .iter()
            .map(|(name, r)| (name.clone(), r.depends_on.clone()))
            .collect()
    };
    // Who depended on whom when last applied, inverted once (not scanned per deletion).
    let mut recorded_dependents: HashMap<&str, Vec<&str>> = HashMap::new();
    for (name, deps) in &recorded_deps {
        for dep in deps {
            recorded_dependents.entry(dep).or_default().push(name);
        }
    }
    for step in steps {
        let name = step.name.as_str();
        if let Some(&up) = upsert_of.get(name) {
            for dep in ctx.spec.dependencies(name) {
                if let Some(&dep_up) = upsert_of.get(dep) {
                    edge(dep_up, up);
                }
            }
        }
        if let Some(&del) = delete_of.get(name) {
            for dep in recorded_deps.get(name).into_iter().flatten() {
                if let Some(&dep_del) = delete_of.get(dep.as_str()) {
                    edge(del, dep_del);
                }
            }
            match upsert_of.get(name) {
                Some(&up) if step.create_before_destroy => edge(up, del),
                Some(&up) => edge(del, up),
                None => {}
            }
            // Leaving the spec: first move what depended on it (and stays) off it.
            if step.action == Action::Delete {
                for other in recorded_dependents.get(name).into_iter().flatten() {
                    if !delete_of.contains_key(other)
                        && let Some(&up) = upsert_of.get(other)
                    {
                        edge(up, del);
                    }
                }
            }
        }
    }
    (nodes, successors)
}

fn report(steps: &[Step], nodes: &[Node], outcome: Vec<Option<Outcome>>) -> Report {
    let mut by_step: BTreeMap<usize, Vec<Outcome>> = BTreeMap::new();
    for (node, outcome) in nodes.iter().zip(outcome) {
        by_step
            .entry(node.step)
            .or_default()
            .push(outcome.expect("every node ends"));
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
        Phase::Delete => delete(ctx, step).await,
        Phase::Upsert => upsert(ctx, step).await,
    };
    let what = match (phase, step.action) {
        (Phase::Delete, Action::Replace) => "deleted (to replace)",
        (Phase::Delete, _) => "deleted",
        (Phase::Upsert, Action::Create) => "created",
        (Phase::Upsert, Action::Update) => "updated",
        (Phase::Upsert, _) => "created (replacement)",
    };
    let symbol = if phase == Phase::Delete {
        "-"
    } else {
        step.action.symbol()
    };
    match &result {
        Ok(id) if ctx.progress => println!(
            "  {symbol} {}: {what} [{}] ({} ms)",
            step.name,
            crate::text::escape(id),
            started.elapsed().as_millis()
        ),
        Err(err) if ctx.progress => println!("  ! {}: failed: {err}", step.name),
        _ => {}
    }
    result.map(|_| ())
}

/// Calls `op` until it succeeds or fails for good: transient errors are retried with
/// exponential backoff and jitter.
async fn retrying<T, F: Future<Output = Result<T, ProviderError>>>(
    mut op: impl FnMut() -> F,
) -> Result<T, ProviderError> {
    const ATTEMPTS: u32 = 6;
    let mut delay = Duration::from_millis(200);
    for attempt in 1.. {
        match op().await {
            Err(err) if err.kind == ErrorKind::Transient && attempt < ATTEMPTS => {
                let jitter = delay.mul_f64(fastrand::f64());
                tokio::time::sleep(delay / 2 + jitter).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            other => return other,
        }
    }
    unreachable!("the loop returns")
}

fn describe(step: &Step, err: ProviderError) -> String {
    format!("{} ({} {}): {err}", step.name, step.plugin, step.type_name)
}

async fn delete(ctx: &Context, step: &Step) -> Result<String, String> {
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
    let provider = &ctx
        .providers
        .get(&recorded.plugin)
        .map_err(|e| e.to_string())?
        .provider;
    let result =
        retrying(|| provider.delete(&recorded.type_name, &recorded.id, &recorded.properties)).await;
    match result {
        Ok(()) => {}
        Err(err) if err.kind == ErrorKind::NotFound => {}
        Err(err) => return Err(describe(step, err)),
    }
    record(ctx, &key, None)?;
    Ok(recorded.id)
}

async fn upsert(ctx: &Context, step: &Step) -> Result<String, String> {
    let rs = &ctx.spec.spec.resources[&step.name];
    let provider = &ctx
        .providers
        .get(&rs.plugin)
        .map_err(|e| e.to_string())?
        .provider;
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
    let depends_on: Vec<String> = ctx
        .spec
        .dependencies(&step.name)
        .into_iter()
        .map(String::from)
        .collect();
    let (id, attributes) = match (step.action, recorded) {
        (Action::Update, Some(recorded)) => {
            let attributes = retrying(|| {
                provider.update(
                    &rs.type_name,
                    &recorded.id,
                    &recorded.properties,
                    &properties,
                    &tags,
                )
            })
            .await
            .map_err(|e| describe(step, e))?;
            (recorded.id, attributes)
        }
        (_, recorded) => {
            if let (true, Some(old)) = (step.create_before_destroy, recorded) {
                // Keep the old object on record until the delete node removes it.
                record(ctx, &format!("{}{DEPOSED}", step.name), Some(old))?;
                record(ctx, &step.name, None)?;
            }
            // One token for every attempt of this create: a provider passes it where the API
            // takes one, so a retried request makes no second object.
            let token = idempotency_token();
            let created = retrying(|| provider.create(&rs.type_name, &properties, &tags, &token))
                .await
                .map_err(|e| describe(step, e))?;
            (created.id, created.attributes)
        }
    };
    record(
        ctx,
        &step.name,
        Some(ResourceState {
            plugin: rs.plugin.clone(),
            type_name: rs.type_name.clone(),
            id: id.clone(),
            properties,
            attributes,
            depends_on,
            tags,
        }),
    )?;
    Ok(id)
}

fn record(ctx: &Context, name: &str, resource: Option<ResourceState>) -> Result<(), String> {
    ctx.store
        .lock()
        .expect("state lock")
        .record(name, resource)
        .map_err(|err| format!("{name}: recording in the state failed: {err:#}"))
}

/// A fresh idempotency token: 128 random bits in hex.
fn idempotency_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system's random source");
    hex::encode(bytes)
}
