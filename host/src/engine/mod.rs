//! The engine: from a spec to converged resources. A [`Session`] holds a loaded spec, its
//! dependency graph, the locked state and the started providers; it validates, refreshes,
//! plans and applies.

pub mod apply;
pub mod credentials;
pub mod lock;
pub mod plan;
pub mod providers;
pub mod resolve;

use crate::graph::Graph;
use crate::sandbox::{ComponentCache, Sandbox};
use crate::spec::reference::{self, Reference, Target, UNKNOWN};
use crate::spec::{self, LoadedSpec};
use crate::spi::{Observed, Severity};
use crate::state::StateStore;
use anyhow::{Context as _, Result, anyhow, bail};
use apply::{Context, Report};
use plan::Plan;
use providers::{Binding, ProviderArg, Providers};
use resolve::Policy;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::task::JoinSet;

/// Everything one command works with.
pub struct Session {
    pub ctx: Arc<Context>,
    pub graph: Graph,
}

/// The default state file of a spec: `<dir>/<stem>.rkit-state.json`.
pub fn default_state_path(spec: &Path) -> PathBuf {
    let stem = spec
        .file_stem()
        .map_or("spec".into(), |s| s.to_string_lossy());
    spec.with_file_name(format!("{stem}.rkit-state.json"))
}

impl Session {
    /// Loads the spec, locks the state and starts the providers the spec and state use.
    pub async fn open(
        spec_path: &Path,
        state_path: Option<&Path>,
        args: &[ProviderArg],
        policy: Policy,
    ) -> Result<Self> {
        let spec = spec::load(spec_path)?;
        Self::with_spec(spec, state_path, args, policy).await
    }

    /// As [`Session::open`], for a spec already loaded.
    pub async fn with_spec(
        spec: LoadedSpec,
        state_path: Option<&Path>,
        args: &[ProviderArg],
        policy: Policy,
    ) -> Result<Self> {
        for warning in &spec.warnings {
            eprintln!("warning: {warning}");
        }
        let graph = Graph::build(&spec)?;
        let state_path =
            state_path.map_or_else(|| default_state_path(&spec.path), Path::to_path_buf);
        let store = StateStore::open(&state_path)?;
        // The plugins resources use (in the spec or the state), and those the spec declares
        // with a Source (so `rkit init` resolves and locks them all).
        let declared = spec
            .spec
            .providers
            .iter()
            .filter(|(_, p)| p.source.is_some());
        let plugins: BTreeSet<String> = spec
            .spec
            .resources
            .values()
            .map(|r| r.plugin.clone())
            .chain(store.state.resources.values().map(|r| r.plugin.clone()))
            .chain(declared.map(|(name, _)| name.clone()))
            .collect();
        let sandbox = Sandbox::new(ComponentCache::default_dir().as_deref())?;
        let providers = Providers::bind(&sandbox, &spec, args, &plugins, policy).await?;
        Ok(Self {
            ctx: Arc::new(Context {
                spec,
                providers,
                store: Mutex::new(store),
                progress: true,
            }),
            graph,
        })
    }

    /// Stops printing a line per completed operation.
    pub fn quiet(mut self) -> Self {
        Arc::get_mut(&mut self.ctx)
            .expect("set before any operation")
            .progress = false;
        self
    }

    /// The spec.
    pub fn spec(&self) -> &LoadedSpec {
        &self.ctx.spec
    }

    /// Checks every resource: its provider and type exist, the attributes it references
    /// exist, and its provider's `validate` finds no error. Warnings are printed.
    pub async fn validate(&self) -> Result<()> {
        let spec = self.spec();
        let file = spec.path.display();
        let mut errors = Vec::new();
        for (name, rs) in &spec.spec.resources {
            let bound = self.ctx.providers.get(&rs.plugin)?;
            let info = bound.module.info();
            if info.type_info(&rs.type_name).is_none() {
                let types: Vec<&str> = info.types.iter().map(|t| t.name.as_str()).collect();
                errors.push(format!(
                    "{file}: resource {name}: field Type: provider {} has no type {:?} (it has: {})",
                    rs.plugin,
                    rs.type_name,
                    types.join(", ")
                ));
                continue;
            }
            for (field, r) in &spec.references[name] {
                if let Some(problem) = self.check_reference(r) {
                    errors.push(format!(
                        "{file}: resource {name}: field Properties.{field}: {problem}"
                    ));
                }
            }
            // Validate with references as placeholders; findings on referencing fields wait
            // for the values.
            let placeholder = reference::resolve(&rs.properties, &|_| None);
            let referencing: Vec<&String> = spec.references[name].iter().map(|(f, _)| f).collect();
            let diagnostics = bound
                .provider
                .validate(&rs.type_name, &placeholder)
                .await
                .map_err(|e| anyhow!("{file}: resource {name}: validating: {e}"))?;
            for d in diagnostics {
                if !d.field.is_empty() && referencing.iter().any(|f| same_or_nested(f, &d.field)) {
                    continue;
                }
                let at = if d.field.is_empty() {
                    String::new()
                } else {
                    format!("field Properties.{}: ", d.field)
                };
                let line = format!("{file}: resource {name}: {at}{}", d.message);
                match d.severity {
                    Severity::Error => errors.push(line),
                    Severity::Warning => eprintln!("warning: {line}"),
                }
            }
        }
        if !errors.is_empty() {
            bail!("{}", errors.join("\n"));
        }
        Ok(())
    }

    /// Why reference `r` cannot resolve, if it cannot.
    fn check_reference(&self, r: &Reference) -> Option<String> {
        let Target::Attribute(path) = &r.target else {
            return None;
        };
        let target = &self.spec().spec.resources[&r.resource];
        let info = self.ctx.providers.get(&target.plugin).ok()?.module.info();
        let schema = &info.type_info(&target.type_name)?.attributes_schema;
        let known = schema.get("properties")?.as_object()?;
        (!known.contains_key(&path[0])).then(|| {
            let names: Vec<&String> = known.keys().collect();
            format!(
                "reference {r}: {} {} has no attribute {:?} (it has: {})",
                target.plugin,
                target.type_name,
                path[0],
                names
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }

    /// Reads back every recorded resource (`None`: it no longer exists), `parallelism` at once.
    pub async fn refresh(&self, parallelism: usize) -> Result<BTreeMap<String, Option<Observed>>> {
        let recorded: Vec<_> = {
            let store = self.ctx.store.lock().expect("state lock");
            store
                .state
                .resources
                .iter()
                .map(|(n, r)| (n.clone(), r.clone()))
                .collect()
        };
        let mut observed = BTreeMap::new();
        let mut running = JoinSet::new();
        let mut queue = recorded.into_iter();
        loop {
            while running.len() < parallelism.max(1) {
                let Some((name, r)) = queue.next() else { break };
                let provider = self.ctx.providers.get(&r.plugin)?.provider.clone();
                running.spawn(async move {
                    let read = provider.read(&r.type_name, &r.id, &r.properties).await;
                    (name, read)
                });
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            let (name, read) = joined.expect("reads do not panic");
            let read = read.map_err(|e| anyhow!("refreshing {name}: {e}"))?;
            observed.insert(name, read);
        }
        Ok(observed)
    }

    /// Plans the spec against the state, refreshing first if asked.
    pub async fn plan(&self, refresh: bool, parallelism: usize) -> Result<Plan> {
        let refreshed = if refresh {
            self.refresh(parallelism).await?
        } else {
            BTreeMap::new()
        };
        let store = self.ctx.store.lock().expect("state lock");
        plan::plan(
            self.spec(),
            &self.graph,
            &store.state,
            &self.ctx.providers,
            &refreshed,
        )
    }

    /// A plan deleting everything the state records.
    pub fn destroy_plan(&self) -> Plan {
        let store = self.ctx.store.lock().expect("state lock");
        Plan {
            stack: self.spec().stack.clone(),
            lineage: store.state.lineage.clone(),
            serial: store.state.serial,
            steps: store
                .state
                .resources
                .iter()
                .map(|(name, r)| plan::Step {
                    name: name.clone(),
                    action: plan::Action::Delete,
                    plugin: r.plugin.clone(),
                    type_name: r.type_name.clone(),
                    changes: Vec::new(),
                    reason: None,
                    create_before_destroy: false,
                })
                .collect(),
        }
    }

    /// Executes `plan`; records outputs (after a full success) and compacts the state.
    pub async fn apply(&self, plan: &Plan, parallelism: usize) -> Result<Report> {
        {
            let mut store = self.ctx.store.lock().expect("state lock");
            // A plan made before any state existed starts the state's lineage.
            if store.state.serial == 0 && plan.serial == 0 {
                store.state.lineage = plan.lineage.clone();
            }
            if store.state.lineage != plan.lineage || store.state.serial != plan.serial {
                bail!(
                    "the state {} changed since this plan was made (serial {} now, {} then): plan again",
                    store.path().display(),
                    store.state.serial,
                    plan.serial
                );
            }
        }
        let report = apply::execute(self.ctx.clone(), plan, parallelism).await;
        let mut store = self.ctx.store.lock().expect("state lock");
        if report.ok() {
            let outputs = outputs(self.spec(), &store.state);
            store.state.outputs = outputs;
        }
        store.compact()?;
        Ok(report)
    }

    /// The outputs as last recorded.
    pub fn outputs(&self) -> BTreeMap<String, Value> {
        self.ctx
            .store
            .lock()
            .expect("state lock")
            .state
            .outputs
            .clone()
    }
}

/// Whether property paths `a` and `b` are the same or one lies inside the other.
fn same_or_nested(a: &str, b: &str) -> bool {
    let inside = |outer: &str, inner: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    };
    inside(a, b) || inside(b, a)
}

fn outputs(spec: &LoadedSpec, state: &crate::state::State) -> BTreeMap<String, Value> {
    spec.spec
        .outputs
        .iter()
        .map(|(name, v)| (name.clone(), reference::resolve(v, &|r| state.value_of(r))))
        .filter(|(_, v)| v != UNKNOWN)
        .collect()
}

/// A plan saved by `rkit plan --out`: the plan, the spec it was made from and the providers it
/// was made with, so that `rkit apply FILE` executes exactly it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PlanFile {
    pub rkit_plan: u32,
    pub spec_path: PathBuf,
    pub spec: spec::Spec,
    pub state_path: PathBuf,
    pub providers: BTreeMap<String, Binding>,
    pub plan: Plan,
}

impl PlanFile {
    /// Whether `text` is a saved plan rather than a spec.
    pub fn sniff(text: &str) -> bool {
        serde_json::from_str::<Value>(text).is_ok_and(|v| v.get("RkitPlan").is_some())
    }

    /// Opens a session for the saved plan: the recorded spec, and providers whose digests
    /// must match the recorded ones.
    pub async fn session(&self, policy: Policy) -> Result<Session> {
        let text = serde_json::to_string(&self.spec)?;
        let spec = spec::parse(&self.spec_path, &text)?;
        // Module files are bound again by path; references resolve through the lock.
        let args: Vec<ProviderArg> = self
            .providers
            .iter()
            .filter(|(_, b)| !crate::registry::ModuleRef::is_reference(&b.path.to_string_lossy()))
            .map(|(name, b)| ProviderArg {
                name: Some(name.clone()),
                path: b.path.clone(),
            })
            .collect();
        let session = Session::with_spec(spec, Some(&self.state_path), &args, policy).await?;
        for (name, binding) in session.ctx.providers.bindings() {
            let saved = self
                .providers
                .get(&name)
                .with_context(|| format!("provider {name} was not in the plan"))?;
            if saved.digest != binding.digest {
                bail!(
                    "provider {name} at {} changed since the plan was made (sha256 {} then, {} now): plan again",
                    binding.path.display(),
                    saved.digest,
                    binding.digest
                );
            }
        }
        Ok(session)
    }
}
