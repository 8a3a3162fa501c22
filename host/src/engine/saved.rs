//! A plan saved by `rkit plan --out`, applied later by `rkit apply FILE` exactly as it was
//! reviewed. The plan is the contract: its steps carry everything apply needs (properties,
//! tags, dependencies), so the file holds no resource of the spec, only how its providers are
//! obtained and granted, its outputs and the modules' digests.
//!
//! Invariants: a saved plan applies only against the state it was made from (same lineage
//! and serial, checked by [`Session::apply`]) and with the very modules it was made with
//! (same sha256); a file written by another format version is refused with what to do. The
//! plan of an encrypted state is sealed with the state's key: its first line says only the
//! format and where the key comes from (`{"RkitPlan":2,"KeyFrom":"env:…"}`), the second is
//! sealed, so the plan's properties are no more readable than the state's.

use super::Session;
use super::events::Events;
use super::plan::Plan;
use super::providers::{Binding, ProviderArg};
use super::resolve::Policy;
use crate::spec::{LoadedSpec, OutputSpec, ProviderSpec, Spec};
use anyhow::{Context as _, Result, bail};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The format version this rkit writes and reads.
pub const VERSION: u32 = 2;

/// A plan saved by `plan --out`: the plan with everything needed to apply it exactly as it
/// was reviewed (the spec's providers, outputs, the modules and the state it was made for).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PlanFile {
    /// The file's format ([`VERSION`]); others are refused.
    pub rkit_plan: u32,
    /// The spec it was made from (for messages and relative paths).
    pub spec_path: PathBuf,
    /// Where the state is (a file path or `s3://…`).
    pub state_path: crate::state::Location,
    /// Where the state's key comes from, if it is encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_key_from: Option<String>,
    /// The spec's `Providers`: how each is obtained, configured and granted.
    #[serde(default)]
    pub provider_specs: IndexMap<String, ProviderSpec>,
    /// The spec's `Outputs` (parameters substituted), recorded after the apply.
    #[serde(default)]
    pub outputs: IndexMap<String, OutputSpec>,
    /// The modules the plan was made with.
    pub providers: BTreeMap<String, Binding>,
    /// The spec's `Policies`: loaded again at apply, which checks the plan again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<crate::spec::PolicyEntry>,
    /// The parameters' values (policies see them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, Value>,
    /// Which parameters are sensitive.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub sensitive_parameters: std::collections::BTreeSet<String>,
    /// The plan.
    pub plan: Plan,
}

impl PlanFile {
    /// The saved form of `plan`, made by `session` from the spec at `spec_path`.
    pub fn new(session: &Session, plan: &Plan) -> Self {
        let spec = session.spec();
        Self {
            rkit_plan: VERSION,
            spec_path: spec.path.clone(),
            state_path: session.state_location(),
            state_key_from: session.state_keys().key_from().map(str::to_string),
            provider_specs: spec.spec.providers.clone(),
            outputs: spec.outputs.clone(),
            providers: session.ctx.providers.bindings(),
            policies: spec.spec.policies.clone(),
            parameters: spec.parameters.values.clone(),
            sensitive_parameters: spec.parameters.sensitive.clone(),
            plan: plan.clone(),
        }
    }

    /// Whether `text` is a saved plan rather than a spec (sealed or not): its first line, or
    /// all of it, is a JSON object with the key `RkitPlan`. A spec's values are skipped,
    /// not built (it may be megabytes on one line); a text with the key is then checked as
    /// a tree (what serde_json's `Value` refuses is no plan, as before).
    pub fn sniff(text: &str) -> bool {
        // Values checked as a tree only once the key is there (a plan, not a spec).
        let is_plan = |t: &str| {
            serde_json::from_str::<BTreeMap<String, serde::de::IgnoredAny>>(t)
                .is_ok_and(|keys| keys.contains_key("RkitPlan"))
                && serde_json::from_str::<Value>(t).is_ok()
        };
        let first = text.split('\n').next().unwrap_or_default();
        is_plan(first) || (first.len() < text.len() && is_plan(text))
    }

    /// The file's bytes: JSON, or sealed with the state's key when it has one.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let json = serde_json::to_vec_pretty(self)?;
        let Some(key_from) = &self.state_key_from else {
            return Ok(json);
        };
        let keys = crate::state::Keys::load(Some(key_from))?;
        let mut bytes =
            serde_json::to_vec(&serde_json::json!({"RkitPlan": VERSION, "KeyFrom": key_from}))?;
        bytes.push(b'\n');
        bytes.extend(keys.seal(json, "plan")?);
        Ok(bytes)
    }

    /// Reads a saved plan from `text` (read from `path`), opening it with its key if sealed.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
        let header = serde_json::from_str::<Value>(first).ok();
        let key_from = header
            .as_ref()
            .and_then(|h| h.get("KeyFrom")?.as_str().map(str::to_string));
        let opened;
        let (header, text) = match &key_from {
            Some(key_from) => {
                let keys = crate::state::Keys::load(Some(key_from))?;
                let what = format!("the saved plan {}", path.display());
                opened = String::from_utf8(
                    keys.open(rest.trim_end().as_bytes(), &what, "plan")?
                        .into_owned(),
                )
                .map_err(|_| anyhow::anyhow!("{what}: not UTF-8 text"))?;
                (header, opened.as_str())
            }
            None => (serde_json::from_str::<Value>(text).ok(), text),
        };
        let version = header.and_then(|v| v.get("RkitPlan")?.as_u64());
        if version != Some(VERSION.into()) {
            bail!(
                "{}: a saved plan of format {} (this rkit reads format {VERSION}): make the plan \
                 again with `rkit plan SPEC --out FILE`",
                path.display(),
                version.map_or("unknown".to_string(), |v| v.to_string())
            );
        }
        let file: Self = serde_json::from_str(text)
            .with_context(|| format!("{}: not a valid saved plan", path.display()))?;
        file.check()
            .map_err(|why| anyhow::anyhow!("{}: not a valid saved plan: {why}", path.display()))?;
        Ok(file)
    }

    /// A saved plan is input like any file (edited, truncated, forged): its steps must be what
    /// a plan can hold, or apply would act on what it cannot read, or wait on itself forever.
    /// Each step once, its templates well-formed, and no step waiting (through `DependsOn` or
    /// `After`) on itself.
    fn check(&self) -> std::result::Result<(), String> {
        use crate::text::escaped;
        let steps = &self.plan.steps;
        let mut names = std::collections::HashSet::new();
        for step in steps {
            if !names.insert(&*step.name) {
                return Err(format!("step {} appears twice", escaped(&step.name)));
            }
            if let Some(properties) = &step.properties {
                crate::spec::reference::references(&properties.value()).map_err(
                    |(field, why)| {
                        format!(
                            "step {}: field {}: {why}",
                            escaped(&step.name),
                            escaped(&field)
                        )
                    },
                )?;
            }
        }
        let mut graph = petgraph::graph::DiGraph::<usize, ()>::new();
        let index: Vec<_> = (0..steps.len()).map(|i| graph.add_node(i)).collect();
        let mut by_logical: std::collections::HashMap<&str, Vec<usize>> = Default::default();
        let mut by_name = std::collections::HashMap::new();
        for (i, step) in steps.iter().enumerate() {
            by_logical.entry(step.logical()).or_default().push(i);
            by_name.insert(&*step.name, i);
        }
        for (i, step) in steps.iter().enumerate() {
            let deps = step
                .depends_on
                .iter()
                .flat_map(|d| by_logical.get(d))
                .flatten();
            let after = step.after().iter().filter_map(|a| by_name.get(a.as_str()));
            for &j in deps.chain(after) {
                graph.add_edge(index[j], index[i], ());
            }
        }
        petgraph::algo::toposort(&graph, None)
            .map(|_| ())
            .map_err(|cycle| {
                let step = &steps[graph[cycle.node_id()]];
                format!(
                    "step {} waits for itself (through DependsOn or After)",
                    escaped(&step.name)
                )
            })
    }

    /// Opens a session for the saved plan: its providers, whose digests must match the
    /// recorded ones.
    pub async fn session(&self, policy: Policy, events: Events) -> Result<Session> {
        let spec = self.spec();
        self.session_on(spec, policy, events).await
    }

    /// The spec as the plan keeps it: its providers, outputs, parameters and policies (no
    /// resources: the plan's steps carry them).
    pub fn spec(&self) -> LoadedSpec {
        LoadedSpec {
            path: self.spec_path.clone(),
            spec: Spec {
                stack: Some(self.plan.stack.clone()),
                providers: self.provider_specs.clone(),
                policies: self.policies.clone(),
                ..Spec::default()
            },
            stack: self.plan.stack.clone(),
            outputs: self.outputs.clone(),
            parameters: crate::spec::Parameters {
                values: self.parameters.clone(),
                sensitive: self.sensitive_parameters.clone(),
            },
            ..LoadedSpec::default()
        }
    }

    /// Opens a session on `spec` (see [`PlanFile::session`]).
    pub async fn session_on(
        &self,
        spec: LoadedSpec,
        policy: Policy,
        events: Events,
    ) -> Result<Session> {
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
        let plugins: Vec<String> = self
            .plan
            .steps
            .iter()
            .map(|s| s.plugin.to_string())
            .collect();
        let state =
            crate::state::StateRef::new(self.state_path.clone(), self.state_key_from.as_deref())?;
        let session =
            Session::with_spec(spec, Some(&state), &args, policy, events, &plugins).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_is_told_from_a_spec_by_its_first_line_or_its_whole_text() {
        let plain = "{\n  \"RkitPlan\": 1,\n  \"Plan\": {\"Steps\": []}\n}";
        let sealed = "{\"RkitPlan\":1,\"KeyFrom\":\"env:K\"}\nSEALED BYTES";
        let null = "{\"RkitPlan\": null}";
        for plan in [plain, sealed, null] {
            assert!(PlanFile::sniff(plan), "{plan}");
        }
        let spec =
            r#"{"Resources": {"A": {"Plugin": "p", "Type": "T", "Properties": {"RkitPlan": 1}}}}"#;
        for other in [
            spec,
            "[{\"RkitPlan\": 1}]",
            "{\"RkitPlan\": 1",
            "",
            "// a comment",
        ] {
            assert!(!PlanFile::sniff(other), "{other}");
        }
    }
}
