//! A [`Session`]: one command's work on a spec. It holds the loaded spec, its dependency
//! graph, the locked state and the started providers; it settles open intents, validates,
//! refreshes, scans for the stack's objects, plans, applies, imports and records outputs.
//!
//! Invariants: the state is locked for the session's whole life; every plan starts by
//! settling the intents an earlier run left open; a plan applies only to the state (lineage
//! and serial) it was made from; outputs are recorded only after a complete apply; a session
//! that let go of its spec's resources to apply its plan ([`Session::release_spec`]) reads
//! them no more (whatever would is refused).

use super::apply::{self, Report};
use super::context::Context;
use super::events::{Event, Events};
use super::interrupt::Interrupt;
use super::options::{ApplyOptions, DestroyOptions, PlanOptions};
use super::plan::{self, Found, Plan};
use super::providers::{ProviderArg, Providers};
use super::resolve::Policy;
use super::retry::repeating;
use super::{group, refresh, sensitive};
use crate::graph::Graph;
use crate::sandbox::{ComponentCache, Sandbox};
use crate::spec::reference::{self, Reference, Target, UNKNOWN};
use crate::spec::{self, LoadedSpec};
use crate::spi::{Observed, Severity, Tags};
use crate::state::{Change, Location, ResourceState, StateRef, StateStore, TagList};
use anyhow::{Result, anyhow, bail};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Everything one command works with.
pub struct Session {
    pub(super) ctx: Arc<Context>,
    pub(super) graph: Graph,
    /// The spec's resources were let go (see [`Session::release_spec`]): no more planning.
    released: bool,
}

/// Why a session that let go of its spec's resources does not plan again.
const RELEASED: &str =
    "this session let go of its spec's resources to apply its plan: open a new one to plan again";

/// Where a spec's state lives: its `"State"` section, else a file beside it
/// (`<dir>/<stem>.rkit-state.json`).
pub fn default_state(spec: &LoadedSpec) -> Location {
    spec.spec
        .state
        .as_ref()
        .and_then(|s| s.location(&spec.path).ok())
        .unwrap_or_else(|| crate::state::location::beside(&spec.path))
}

/// A spec's state and its keys: its `"State"` section (location and encryption), else a file
/// beside it in the clear.
pub fn default_state_ref(spec: &LoadedSpec) -> Result<StateRef> {
    StateRef::new(
        default_state(spec),
        spec.spec.state.as_ref().and_then(|s| s.key_from()),
    )
}

impl Session {
    /// Loads the spec, locks the state and starts the providers the spec and state use.
    pub async fn open(
        spec_path: &Path,
        state: Option<&StateRef>,
        args: &[ProviderArg],
        policy: Policy,
        events: Events,
    ) -> Result<Self> {
        let spec = spec::load(spec_path)?;
        Self::with_spec(spec, state, args, policy, events, &[]).await
    }

    /// As [`Session::open`], for a spec already loaded; `also` names plugins to start besides
    /// those the spec and the state use (a saved plan's).
    pub async fn with_spec(
        spec: impl Into<Arc<LoadedSpec>>,
        state: Option<&StateRef>,
        args: &[ProviderArg],
        policy: Policy,
        events: Events,
        also: &[String],
    ) -> Result<Self> {
        let spec: Arc<LoadedSpec> = spec.into();
        for warning in &spec.warnings {
            events.event(Event::Warning {
                message: warning.clone(),
            });
        }
        let graph = Graph::build(&spec)?;
        let state = match state {
            Some(state) => state.clone(),
            None => default_state_ref(&spec)?,
        };
        let location = state.location;
        let store = StateStore::open(&location, &state.keys)?;
        if let Some(whose) = store.taken_over() {
            events.event(Event::Warning {
                message: format!(
                    "the state {location}: took over the lock of {whose} (its run was \
                     killed or cut off); a write by that run now fails"
                ),
            });
        }
        // The plugins resources use (in the spec or the state), and those the spec declares
        // with a Source (so `rkit init` resolves and locks them all).
        let declared = spec
            .spec
            .providers
            .iter()
            .filter(|(_, p)| p.source.is_some());
        let plugins = used_types(&spec, &store.state, declared, also);
        let sandbox = Sandbox::new(ComponentCache::default_dir().as_deref())?;
        let providers = Providers::bind(&sandbox, &spec, args, &plugins, policy, &events).await?;
        Ok(Self {
            ctx: Arc::new(Context {
                spec,
                providers,
                store: Mutex::new(store),
                events,
                progress_every: apply::PROGRESS_EVERY,
                interrupt: Interrupt::default(),
                feeding: tokio::sync::Mutex::new(()),
                writing: tokio::sync::Mutex::new(()),
                readiness: Default::default(),
                policy: Default::default(),
                policy_memo: Default::default(),
            }),
            graph,
            released: false,
        })
    }

    /// Makes the session stop starting operations once `interrupt` is raised.
    pub fn interruptible(mut self, interrupt: &Interrupt) -> Self {
        Arc::get_mut(&mut self.ctx)
            .expect("set before any operation")
            .interrupt = interrupt.clone();
        self
    }

    /// The locked state (held briefly: never across an await).
    pub(super) fn store(&self) -> std::sync::MutexGuard<'_, StateStore> {
        self.ctx.store.lock().expect("state lock")
    }

    fn interrupted(&self) -> Result<()> {
        if self.ctx.interrupt.raised() {
            bail!("interrupted");
        }
        Ok(())
    }

    /// Checks every plan against `run`'s policies (with its overrides).
    pub fn with_policies(mut self, run: super::options::PolicyRun) -> Self {
        Arc::get_mut(&mut self.ctx)
            .expect("set before any operation")
            .policy = run;
        self
    }

    /// The policies plans are checked against.
    pub fn policies(&self) -> &crate::policy::Policies {
        &self.ctx.policy.policies
    }

    /// Checks `plan` again as `operation` (`rkit policy check` on a saved plan).
    pub fn check(&self, plan: &mut Plan, operation: &str) -> Result<()> {
        super::checks::check(&self.ctx, plan, operation)
    }

    /// What the policies say about reality, as last read (a converge tick, after `plan`
    /// refreshed).
    pub fn check_reality(&self, plan: &Plan) -> Result<crate::policy::Verdict> {
        super::checks::evaluate_reality(&self.ctx, plan)
    }

    /// Reports running operations every `every` instead of every 10 s.
    pub fn progress_every(mut self, every: std::time::Duration) -> Self {
        Arc::get_mut(&mut self.ctx)
            .expect("set before any operation")
            .progress_every = every;
        self
    }

    /// Where the state lives.
    pub fn state_location(&self) -> Location {
        self.store().location().clone()
    }

    /// The keys the state is opened and sealed with (a saved plan is sealed with them too).
    pub fn state_keys(&self) -> crate::state::Keys {
        self.store().keys().clone()
    }

    /// Where this session reports.
    pub fn events(&self) -> &Events {
        &self.ctx.events
    }

    /// The spec.
    pub fn spec(&self) -> &LoadedSpec {
        &self.ctx.spec
    }

    /// Lets go of the spec's resources and their graph once the plan is made, for a command
    /// that only applies that plan next (`apply`, `destroy`, `bootstrap`): the plan's steps
    /// carry all applying needs, as a saved plan's do (its session's spec has no resources).
    /// At 100,000 resources that is ~22 MB not held while the plan runs. Nothing is let go
    /// while anything else shares the spec (a converge loop, for its next tick). Afterwards
    /// whatever reads the spec's resources (planning, validating, settling intents, scanning,
    /// importing) is refused. Returns whether they were let go.
    pub fn release_spec(&mut self) -> bool {
        let Some(ctx) = Arc::get_mut(&mut self.ctx) else {
            return false;
        };
        // Held by the context and the graph built from it, and by nothing else.
        let shared = Arc::strong_count(&ctx.spec) != 2 || Arc::weak_count(&ctx.spec) != 0;
        if shared || !std::ptr::eq(self.graph.spec(), &*ctx.spec) {
            return false;
        }
        self.graph = Graph::default();
        Arc::get_mut(&mut ctx.spec)
            .expect("the context holds the spec alone once the graph let go of it")
            .release_resources();
        self.graph = Graph::build(&ctx.spec).expect("no resources, no cycle");
        self.released = true;
        true
    }

    /// Refused once the spec's resources were let go (what reads them would find none).
    fn planning(&self) -> Result<()> {
        if self.released {
            bail!(RELEASED);
        }
        Ok(())
    }

    /// Checks every resource: its provider and type exist, the attributes it references
    /// exist, and its provider's `validate` finds no error. Warnings are printed.
    pub async fn validate(&self) -> Result<()> {
        self.planning()?;
        let spec = self.spec();
        let file = spec.path.display();
        let mut errors = Vec::new();
        for (name, rs) in &spec.spec.resources {
            let bound = self.ctx.providers.get(&rs.plugin)?;
            let info = bound.module.info();
            match info.type_info(&rs.type_name) {
                None => {
                    errors.push(spec.resource_error(name, "Type", no_type(info, rs)));
                    continue;
                }
                // Bound for another spec's types (one followed since): not described yet.
                Some(ty) if ty.outline => bail!(
                    "{file}: resource {name}: provider {} was started without describing {}; run again",
                    rs.plugin,
                    rs.type_name
                ),
                Some(_) => {}
            }
            for (field, r) in spec.references(name) {
                if let Some(problem) = self.check_reference(r) {
                    errors.push(spec.resource_error(name, &format!("Properties.{field}"), problem));
                }
            }
            // Validate with references as placeholders; findings on referencing fields wait
            // for the values.
            let placeholder = reference::resolve(&rs.properties.value(), &|_| None);
            let referencing: Vec<&str> = spec
                .references(name)
                .iter()
                .map(|(f, _)| f.as_str())
                .collect();
            let diagnostics = bound
                .provider
                .validate(&rs.type_name, &placeholder)
                .await
                .map_err(|e| anyhow!("{file}: resource {name}: validating: {e}"))?;
            for d in diagnostics {
                if !d.field.is_empty() && referencing.iter().any(|f| same_or_nested(f, &d.field)) {
                    continue;
                }
                let field = if d.field.is_empty() {
                    "Properties".to_string()
                } else {
                    format!("Properties.{}", d.field)
                };
                let error = spec.resource_error(name, &field, d.message);
                match d.severity {
                    Severity::Error => errors.push(error),
                    Severity::Warning => self.ctx.events.event(Event::Warning {
                        message: error.to_string(),
                    }),
                }
            }
        }
        if !errors.is_empty() {
            return Err(spec::diagnostic::SpecErrors(errors).into());
        }
        Ok(())
    }

    /// Why reference `r` cannot resolve, if it cannot.
    fn check_reference(&self, r: &Reference) -> Option<String> {
        let Target::Attribute(path) = &r.target else {
            return None;
        };
        let target = &self.spec().spec.resources[&*r.resource];
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

    /// How many HTTP requests each provider made so far (those that made any).
    pub fn http_requests(&self) -> Vec<(&str, u64)> {
        self.ctx.providers.http_requests()
    }

    /// Reads back every recorded resource, in batches per provider and type, `parallelism`
    /// calls at once: those gone (`None`) and those that differ from the record (see
    /// [`refresh`]).
    pub async fn refresh(&self, parallelism: usize) -> Result<BTreeMap<String, Option<Observed>>> {
        refresh::refresh(&self.ctx, parallelism).await
    }

    /// Resolves the intents a previous run left open (its process died, or a create's
    /// outcome stayed unknown): the object carrying the intent's identity tags is adopted
    /// (recorded as found, so the plan updates what differs), or the intent is closed.
    pub async fn settle_intents(&self) -> Result<()> {
        self.planning()?;
        let intents: Vec<_> = {
            let store = self.ctx.store.lock().expect("state lock");
            store.state.intents.clone().into_iter().collect()
        };
        for (name, intent) in intents {
            self.interrupted()?;
            let provider = &self.ctx.providers.get(&intent.plugin)?.provider;
            let found = apply::find_intended(&self.ctx, provider, &intent)
                .await
                .map_err(|e| {
                    anyhow!(
                        "{name}: a create of {} {} was interrupted and whether it happened cannot \
                         be found out ({e}); nothing was changed, run again when {} answers",
                        intent.plugin,
                        intent.type_name,
                        intent.plugin
                    )
                })?;
            let mut store = self.ctx.store.lock().expect("state lock");
            let change = match &found {
                Some(o) if !store.state.resources.contains_key(&name) => {
                    self.ctx.events.event(Event::IntentAdopted {
                        resource: name.clone(),
                        id: o.id.clone(),
                    });
                    let record = ResourceState::new(
                        intent.plugin.as_str().into(),
                        intent.type_name.as_str().into(),
                        &o.id,
                        (&o.properties).into(),
                        (&o.attributes).into(),
                    )
                    .with_depends_on(self.ctx.spec_deps(&name).iter().map(String::as_str))
                    .with_tags(&TagList::from(&intent.tags))
                    .with_sensitive(self.sensitive_of(&name).iter().map(String::as_str))
                    .with_provisional(o.pending);
                    Change::Resource(Some(record))
                }
                Some(_) => Change::Settled("its object is an orphan: the name is recorded".into()),
                None => Change::Settled("nothing carries its tags".into()),
            };
            store.change(&name, change)?;
        }
        Ok(())
    }

    /// Every object of the types in use (in the spec or the state) carrying the stack's tag.
    /// A provider that cannot list is an error when `required`, else skipped.
    pub async fn scan(&self, required: bool) -> Result<Vec<Found>> {
        self.planning()?;
        let types: BTreeSet<(String, String)> = {
            let store = self.ctx.store.lock().expect("state lock");
            self.spec()
                .spec
                .resources
                .values()
                .map(|r| (r.plugin.to_string(), r.type_name.to_string()))
                .chain(
                    store
                        .state
                        .resources
                        .values()
                        .map(|r| (r.plugin.to_string(), r.type_name.to_string())),
                )
                .collect()
        };
        let tags: Tags = [(crate::tags::STACK.to_string(), self.spec().stack.clone())].into();
        let mut found = Vec::new();
        for (plugin, type_name) in types {
            self.interrupted()?;
            let Ok(bound) = self.ctx.providers.get(&plugin) else {
                continue;
            };
            if bound.module.info().type_info(&type_name).is_none() {
                continue;
            }
            let listed = repeating(&self.ctx.interrupt, || {
                bound.provider.list(&type_name, &tags)
            })
            .await;
            match listed {
                Ok(listed) => found.extend(
                    listed
                        .into_iter()
                        .filter(|o| o.tags.get(crate::tags::STACK) == tags.get(crate::tags::STACK))
                        .map(|observed| Found {
                            plugin: plugin.clone(),
                            type_name: type_name.clone(),
                            observed,
                        }),
                ),
                Err(e) if required => bail!("scanning {plugin} {type_name} for orphans: {e}"),
                Err(e) => self.ctx.events.event(Event::Warning {
                    message: format!(
                        "{plugin} {type_name}: cannot look for objects of this stack made by a \
                         lost run ({e})"
                    ),
                }),
            }
        }
        Ok(found)
    }

    /// Plans the spec against the state: settles open intents, refreshes if asked, and looks
    /// for the stack's objects the state does not know when `orphans` is set (and, to adopt
    /// rather than duplicate, whenever the state records nothing: a first run, or a lost
    /// state). The resources `focus.replace` names are replaced though nothing forces it:
    /// decided while planning, so what references them is planned with their ID and
    /// attributes unknown until apply, and updated in the same apply. Then the plan is
    /// limited to `focus`'s targets and exclusions (with a warning that what it leaves out
    /// may still differ).
    pub async fn plan(&mut self, options: &PlanOptions) -> Result<Plan> {
        let mut plan = self.plan_spec(options).await?;
        let focus = &options.focus;
        if !focus.is_empty() {
            plan::focus(&mut plan, self.spec(), &self.store().state, focus)?;
        }
        if !focus.targets.is_empty() || !focus.excludes.is_empty() {
            self.ctx.events.event(Event::Warning {
                message: "the plan is limited by --target/--exclude: what it leaves out may \
                          still differ from the spec"
                    .into(),
            });
        }
        super::checks::check(&self.ctx, &mut plan, options.operation)?;
        Ok(plan)
    }

    /// The whole plan of [`Session::plan`], before its focus.
    pub(super) async fn plan_spec(&mut self, options: &PlanOptions) -> Result<Plan> {
        self.planning()?;
        let PlanOptions {
            refresh,
            parallelism,
            orphans,
            ref focus,
            operation: _,
        } = *options;
        let replace = &focus.replace;
        self.settle_intents().await?;
        let decision = if self.spec().spec.groups.is_empty() {
            None
        } else {
            Some(self.regroup().await?)
        };
        // Checked once the groups' members are resources of the spec (a group's name stands
        // for its members).
        let replace = &self.spec().with_members(replace);
        if let Some(bad) = replace
            .iter()
            .find(|n| !self.spec().spec.resources.contains_key(*n))
        {
            bail!("--replace {bad}: no resource {bad:?} in the spec");
        }
        let refreshed = if refresh {
            self.refresh(parallelism).await?
        } else {
            BTreeMap::new()
        };
        let empty = self.store().state.resources.is_empty();
        let found = if orphans || (empty && !self.spec().spec.resources.is_empty()) {
            Some(self.scan(orphans).await?)
        } else {
            None
        };
        let store = self.ctx.store.lock().expect("state lock");
        let mut replacing = replace.to_vec();
        if decision.is_some() {
            replacing.extend(group::outdated_members(self.spec(), &store.state));
        }
        let mut plan = plan::plan(
            self.spec(),
            &self.graph,
            &store.state,
            &self.ctx.providers,
            &refreshed,
            found.as_deref(),
            &replacing,
        )?;
        if !orphans {
            // A scan made only to adopt deletes nothing.
            plan.steps.retain(|s| s.orphan().is_none());
        }
        if let Some(decision) = decision {
            group::roll(
                &mut plan,
                self.spec(),
                &store.state,
                &self.ctx.providers,
                decision,
            )?;
        }
        drop(store);
        self.orphans_in_order(&mut plan.steps);
        Ok(plan)
    }

    /// Decides the groups' members from the state and what `list` finds with each group's
    /// tags, and plans from then on with the spec holding those members.
    async fn regroup(&mut self) -> Result<group::Decision> {
        let stack = self.spec().stack.clone();
        let mut listed: BTreeMap<String, Vec<Found>> = BTreeMap::new();
        for (g, gs) in &self.spec().spec.groups {
            self.interrupted()?;
            let bound = self.ctx.providers.get(&gs.plugin)?;
            let tags: Tags = [
                (crate::tags::STACK.to_string(), stack.clone()),
                (crate::tags::GROUP.to_string(), g.clone()),
            ]
            .into();
            let found = repeating(&self.ctx.interrupt, || {
                bound.provider.list(&gs.type_name, &tags)
            })
            .await
            .map_err(|e| {
                anyhow!(
                    "group {g}: listing its members ({} {}): {e}",
                    gs.plugin,
                    gs.type_name
                )
            })?;
            listed.insert(
                g.clone(),
                found
                    .into_iter()
                    .filter(|o| {
                        o.tags.get(crate::tags::STACK) == Some(&stack)
                            && o.tags.get(crate::tags::GROUP) == Some(g)
                    })
                    .map(|observed| Found {
                        plugin: gs.plugin.clone(),
                        type_name: gs.type_name.clone(),
                        observed,
                    })
                    .collect(),
            );
        }
        let decision = {
            let store = self.store();
            group::decide(self.spec(), &store.state, &listed)
        };
        let spec = Arc::new(self.spec().regroup(&decision.chosen)?);
        let graph = Graph::build(&spec)?;
        Arc::get_mut(&mut self.ctx)
            .ok_or_else(|| anyhow!("internal: the session is shared while planning"))?
            .spec = spec;
        self.graph = graph;
        Ok(decision)
    }

    /// A plan deleting everything the state records and, with `orphans`, every other object
    /// carrying the stack's tags (found even when the state is lost).
    pub async fn destroy_plan(&self, options: &DestroyOptions) -> Result<Plan> {
        self.planning()?;
        self.settle_intents().await?;
        let found = if options.orphans {
            Some(self.scan(false).await?)
        } else {
            None
        };
        let store = self.ctx.store.lock().expect("state lock");
        let mut steps: plan::Steps = store
            .state
            .resources
            .iter()
            .map(|(name, r)| {
                let mut step = plan::Step::delete(name, &r.plugin, &r.type_name, None);
                step.depends_on = self.ctx.spec_deps(name).into();
                step.recorded_depends_on = r.depends_on().to_list();
                Box::new(step)
            })
            .collect();
        if let Some(found) = found {
            let orphans = plan::sort_found(&found, &store.state, &BTreeMap::new()).1;
            steps.extend(orphans.into_iter().map(Box::new));
        }
        self.orphans_in_order(&mut steps);
        let mut plan = Plan {
            stack: self.spec().stack.clone(),
            lineage: store.state.lineage.clone(),
            serial: store.state.serial,
            steps,
            unchanged: 0,
            kept: None,
            groups: Vec::new(),
            policy: None,
            destroy: true,
        };
        drop(store);
        super::checks::check(&self.ctx, &mut plan, "destroy")?;
        Ok(plan)
    }

    /// Gives orphans the spec's dependencies of their logical name, so that they are deleted
    /// in the reverse of the spec's order.
    fn orphans_in_order(&self, steps: &mut [Box<plan::Step>]) {
        for step in steps.iter_mut().filter(|s| s.orphan().is_some()) {
            step.depends_on = self.ctx.spec_deps(step.logical()).into();
        }
    }

    /// Records an existing object as resource `name` of the spec: reads it through its
    /// provider, records what it is, and tags it as the stack's (the next plan shows how it
    /// differs from the spec).
    pub async fn import(&self, name: &str, id: &str) -> Result<ResourceState> {
        self.planning()?;
        let file = self.spec().path.display();
        let Some(rs) = self.spec().spec.resources.get(name) else {
            bail!("{file}: there is no resource {name:?} to import into");
        };
        if let Some(r) = self.store().state.resources.get(name) {
            bail!(
                "{name} is already recorded (as {}); `rkit state rm {name}` first to import \
                 another object",
                crate::text::escape(r.id())
            );
        }
        let provider = &self.ctx.providers.get(&rs.plugin)?.provider;
        let written = rs.properties.value();
        let known = {
            let store = self.ctx.store.lock().expect("state lock");
            reference::resolve(&written, &|r| store.state.value_of(r))
        };
        let observed = repeating(&self.ctx.interrupt, || {
            provider.read(&rs.type_name, id, &known)
        })
        .await
        .map_err(|e| anyhow!("{name}: reading {id}: {e}"))?
        .ok_or_else(|| anyhow!("{name}: {} {} has no object {id}", rs.plugin, rs.type_name))?;
        // The properties the spec sets, as found: a default the object has and the spec
        // does not mention (an egress rule AWS adds) is no change to plan.
        let found = ResourceState::new(
            rs.plugin.clone(),
            rs.type_name.clone(),
            &observed.id,
            apply::as_found(&written, &observed.properties).into(),
            (&observed.attributes).into(),
        )
        .with_tags(&TagList::from(&observed.tags))
        .with_sensitive(self.sensitive_of(name).iter().map(String::as_str));
        let verdict = super::checks::check_import(&self.ctx, name, &found, id)?;
        for finding in verdict.findings {
            self.ctx.events.event(Event::PolicyFinding {
                operation: "import".into(),
                finding,
            });
        }
        let mut tags: Tags = observed.tags.clone();
        tags.extend(plan::identity_of(self.spec(), name));
        let attributes = repeating(&self.ctx.interrupt, || {
            provider.update(
                &rs.type_name,
                &observed.id,
                &observed.properties,
                &observed.properties,
                &tags,
            )
        })
        .await
        .map_err(|e| anyhow!("{name}: tagging {id}: {e}"))?;
        let mut record = found;
        record.set_attributes(&attributes.into());
        record.set_depends_on(self.ctx.spec_deps(name).iter().map(String::as_str));
        record.set_tags(&TagList::from(&tags));
        let mut store = self.ctx.store.lock().expect("state lock");
        store.change(name, Change::Resource(Some(record.clone())))?;
        store.compact()?;
        Ok(record)
    }

    /// Executes `plan`; records outputs (after a full success) and compacts the state.
    pub async fn apply(&self, mut plan: Plan, options: &ApplyOptions) -> Result<Report> {
        let operation = plan.applied_as();
        let plan_destroy = plan.destroy;
        {
            let mut store = self.ctx.store.lock().expect("state lock");
            // A plan made before any state existed starts the state's lineage.
            if store.state.serial == 0 && plan.serial == 0 && store.state.lineage != plan.lineage {
                store.state.lineage = plan.lineage.clone();
                // A snapshot of the old lineage may be there already (a no-change run):
                // replaced at once, so every write after it names the lineage it continues.
                store.compact()?;
            }
            if store.state.lineage != plan.lineage || store.state.serial != plan.serial {
                bail!(
                    "the state {} changed since this plan was made (serial {} now, {} then): plan again",
                    store.location(),
                    store.state.serial,
                    plan.serial
                );
            }
        }
        super::checks::enforce(&self.ctx, &mut plan, operation)?;
        self.record_dependencies(&plan)?;
        self.ctx.interrupt.set_busy(true);
        let report = apply::execute(self.ctx.clone(), plan, options.parallelism).await;
        self.ctx.interrupt.set_busy(false);
        let mut store = self.ctx.store.lock().expect("state lock");
        if report.ok() {
            store.state.outputs = outputs(self.spec(), &store.state);
            store.state.sensitive_outputs = sensitive::outputs(self.spec(), &store.state);
        }
        if plan_destroy && report.ok() {
            // Not this spec applied: converge running meanwhile must not build it again.
            store.state.applied_spec =
                Some(format!("{}{}", crate::state::DESTROYED, self.spec().digest));
        } else {
            self.record_spec(&mut store.state);
        }
        // A state that could not be written keeps what its journal holds: the report says
        // what was not recorded or not started, and the next run reconciles it.
        if store.writable().is_ok() {
            store.compact()?;
        }
        Ok(report)
    }

    /// Records which spec this apply used (a saved plan's is not known: left as it was).
    fn record_spec(&self, state: &mut crate::state::State) {
        if !self.spec().digest.is_empty() {
            state.applied_spec = Some(self.spec().digest.clone());
        }
    }

    /// The ID the state records for resource `name`.
    pub fn recorded_id(&self, name: &str) -> Option<String> {
        self.store()
            .state
            .resources
            .get(name)
            .map(|r| r.id().to_string())
    }

    /// The spec the state's last apply used, if recorded (`destroyed:…` after a destroy).
    pub fn applied_spec(&self) -> Option<String> {
        self.store().state.applied_spec.clone()
    }

    /// For a plan without changes: records what an apply of it would (the dependencies as the
    /// spec has them now) and compacts the state.
    pub fn keep(&self, plan: &Plan) -> Result<()> {
        // Recorded as applied only if it could be: a blocked plan is not this spec applied.
        // (Checked on a copy, made only when there is something to check.)
        if super::checks::applies(&self.ctx, plan) {
            let mut checked = plan.clone();
            let operation = plan.applied_as();
            super::checks::check(&self.ctx, &mut checked, operation)?;
            if let Some(refusal) = checked
                .policy
                .as_ref()
                .and_then(|c| c.verdict.refusal(&format!("this {operation}")))
            {
                bail!("{refusal}");
            }
        }
        self.record_dependencies(plan)?;
        let mut store = self.ctx.store.lock().expect("state lock");
        // What is sensitive may have changed (a spec marking an output, a newer provider).
        store.state.sensitive_outputs = sensitive::outputs(self.spec(), &store.state);
        self.record_spec(&mut store.state);
        store.compact()
    }

    /// Brings what is recorded of unchanged resources in step with the spec: their
    /// dependencies (so that a later delete orders them as they are now) and what of them is
    /// sensitive (so that a state recorded before a value was marked stops showing it).
    fn record_dependencies(&self, plan: &Plan) -> Result<()> {
        let mut store = self.ctx.store.lock().expect("state lock");
        for step in plan.steps.iter().filter(|s| s.action == plan::Action::NoOp) {
            if let Some(r) = store.state.resources.get(&*step.name)
                && (r.depends_on() != step.depends_on || r.sensitive() != *step.sensitive())
            {
                let mut r = r.clone();
                r.set_depends_on(step.depends_on.iter());
                r.set_sensitive(step.sensitive().iter().map(String::as_str));
                store.change(&step.name, Change::Resource(Some(r)))?;
            }
        }
        Ok(())
    }

    /// The outputs as last recorded, sensitive ones masked unless `reveal`.
    pub fn outputs(&self, reveal: bool) -> BTreeMap<String, Value> {
        sensitive::shown_outputs(&self.ctx.store.lock().expect("state lock").state, reveal)
    }

    /// What of resource `name` is sensitive (`Properties.X`, `Attributes.Y`).
    fn sensitive_of(&self, name: &str) -> Vec<String> {
        sensitive::of(self.spec(), &self.ctx.providers)
            .remove(name)
            .unwrap_or_default()
    }
}

/// Why `rs`'s type is not one of `info`'s: the types it has (a dozen at most, with how many
/// more: awscc has over 1,700).
fn no_type(info: &crate::spi::ProviderInfo, rs: &spec::ResourceSpec) -> String {
    const SHOWN: usize = 12;
    let types: Vec<&str> = info.types.iter().map(|t| t.name.as_str()).collect();
    let listed = match types.len() > SHOWN {
        true => format!(
            "{}, and {} more: `rkit provider inspect` lists them",
            types[..SHOWN].join(", "),
            types.len() - SHOWN
        ),
        false => types.join(", "),
    };
    format!(
        "provider {} has no type {:?} (it has: {listed})",
        rs.plugin, rs.type_name
    )
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
    spec.outputs
        .iter()
        .map(|(name, o)| {
            let value = reference::resolve(&o.value, &|r| state.value_of(r));
            (name.clone(), value)
        })
        .filter(|(_, v)| v != UNKNOWN)
        .collect()
}

/// The plugins a run starts, each with the types it uses: those of the spec's resources and
/// groups and of the state's resources and intents, and the plugins the spec declares with a
/// Source (so `rkit init` resolves and locks them all) or the caller names (`also`).
fn used_types<'a>(
    spec: &LoadedSpec,
    state: &crate::state::State,
    declared: impl Iterator<Item = (&'a String, &'a spec::ProviderSpec)>,
    also: &[String],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let uses = spec
        .spec
        .resources
        .values()
        .map(|r| (r.plugin.as_str(), r.type_name.as_str()))
        .chain((spec.spec.groups.values()).map(|g| (g.plugin.as_str(), g.type_name.as_str())))
        .chain((state.resources.values()).map(|r| (r.plugin.as_str(), r.type_name.as_str())))
        .chain((state.intents.values()).map(|i| (i.plugin.as_str(), i.type_name.as_str())));
    for (plugin, type_name) in uses {
        // Looked up before anything is copied: most resources share a few plugins and types.
        match used.get_mut(plugin) {
            Some(types) if types.contains(type_name) => {}
            Some(types) => {
                types.insert(type_name.to_string());
            }
            None => {
                used.insert(plugin.to_string(), BTreeSet::from([type_name.to_string()]));
            }
        }
    }
    for plugin in declared.map(|(name, _)| name).chain(also) {
        used.entry(plugin.clone()).or_default();
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session on `spec` (of no resources: no provider to start), its state beside it.
    async fn session(spec: Arc<LoadedSpec>) -> Session {
        let events: Events = Arc::new(super::super::events::Silent);
        Session::with_spec(spec, None, &[], Policy::default(), events, &[])
            .await
            .unwrap()
    }

    fn spec(dir: &Path, resources: &str) -> LoadedSpec {
        let path = dir.join("spec.json");
        let text = format!(
            r#"{{"Stack": "s", "Outputs": {{"Greeting": "hello"}}, "Resources": {{{resources}}}}}"#
        );
        std::fs::write(&path, text).unwrap();
        spec::load(&path).unwrap()
    }

    /// `s` on `spec` instead, with its graph (no provider is started for its resources).
    fn on(s: &mut Session, spec: LoadedSpec) {
        let ctx = Arc::get_mut(&mut s.ctx).unwrap();
        ctx.spec = Arc::new(spec);
        s.graph = Graph::build(&ctx.spec).unwrap();
    }

    const TWO: &str = r#""A": {"Plugin": "p", "Type": "T"},
        "B": {"Plugin": "p", "Type": "T", "Properties": {"X": "{{.Resources.A.ID}}"}}"#;

    #[tokio::test]
    async fn a_session_that_let_go_of_its_spec_applies_but_reads_its_resources_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = session(Arc::new(spec(dir.path(), ""))).await;
        let plan = s.plan(&PlanOptions::default()).await.unwrap();
        on(&mut s, spec(dir.path(), TWO));
        let digest = s.spec().digest.clone();
        assert_eq!((s.spec().spec.resources.len(), s.graph.order.len()), (2, 2));
        assert!(s.release_spec());
        assert_eq!((s.spec().spec.resources.len(), s.graph.order.len()), (0, 0));
        let report = s
            .apply(plan, &ApplyOptions { parallelism: 1 })
            .await
            .unwrap();
        assert!(report.ok());
        // What applying records after the walk is kept: the outputs, the spec's digest.
        assert_eq!(s.outputs(false)["Greeting"], "hello");
        assert_eq!(s.store().state.applied_spec.as_ref(), Some(&digest));
        let refused = [
            s.plan(&PlanOptions::default()).await.unwrap_err(),
            s.validate().await.unwrap_err(),
            s.destroy_plan(&DestroyOptions::default())
                .await
                .unwrap_err(),
            s.import("A", "i-1").await.unwrap_err(),
            s.scan(false).await.unwrap_err(),
        ];
        for error in refused {
            assert_eq!(error.to_string(), RELEASED);
        }
    }

    #[tokio::test]
    async fn a_spec_shared_beyond_the_session_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = session(Arc::new(spec(dir.path(), ""))).await;
        on(&mut s, spec(dir.path(), TWO));
        // A converge loop holds it for its next tick.
        let shared = s.ctx.spec.clone();
        assert!(!s.release_spec());
        drop(shared);
        // The context shared (an operation still running).
        let ctx = s.ctx.clone();
        assert!(!s.release_spec());
        drop(ctx);
        // Two holders, but the graph's is another copy of the spec.
        let copy = Arc::new((*s.ctx.spec).clone());
        let other = s.ctx.spec.clone();
        s.graph = Graph::build(&copy).unwrap();
        assert!(!s.release_spec());
        drop(other);
        assert_eq!(s.spec().spec.resources.len(), 2, "kept whole each time");
        s.graph = Graph::build(&s.ctx.spec).unwrap();
        assert!(s.release_spec());
        assert!(s.spec().spec.resources.is_empty());
    }
}
