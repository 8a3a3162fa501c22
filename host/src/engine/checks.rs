//! Policy checks: the input document policies see, built from a plan (or from reality, at a
//! converge tick, or from a provider at its approval), and the checks themselves. The
//! document follows `terraform show -json`'s `resource_changes` (so a Conftest or OPA author
//! needs nothing new) with rkit's own keys beside it: `rkit.operation`, `stack`, `who`,
//! `parameters` and `providers` (their approved capabilities and grants).
//!
//! Invariants: a plan is never applied while a policy blocks it — [`enforce`] checks it
//! again at apply, whatever the plan file says, and records every override in the state's
//! history before anything is done; sensitive values (the resource's `Sensitive` paths, the
//! sensitive parameters) are masked in the view every policy sees, and only the policies
//! granted them see the other.

use super::action::Action;
use super::context::Context;
use super::input::{provider_entry, who_value};
use super::plan::{Checked, Plan, Step};
use super::sensitive::{MASK, mask_fields, properties_in};
use crate::policy::{Input, Override, Verdict};
use crate::spec::reference::{self, has_unknown};
use crate::state::{ResourceState, State};
use anyhow::{Result, bail};
use serde_json::{Map, Value, json};

/// Checks `plan` as `operation` and keeps the verdict in it (with the run's overrides and
/// those it already carries); the plan is not refused here (see [`enforce`]).
pub fn check(ctx: &Context, plan: &mut Plan, operation: &str) -> Result<()> {
    let run = &ctx.policy;
    if !applies(ctx, plan) {
        return Ok(());
    }
    // Overrides come from this run only: a saved plan's are shown, never taken (its file is
    // input like any other).
    let (overrides, reason) = (run.overrides.clone(), run.reason.clone());
    needs_reason(&overrides, reason.as_deref())?;
    let verdict = match remembered(ctx, plan, operation) {
        Some(verdict) => verdict,
        None => {
            let verdict = evaluate_plan(ctx, plan, operation)?;
            remember(ctx, plan, operation, &verdict);
            verdict
        }
    };
    let mut verdict = verdict;
    verdict
        .apply_overrides(&overrides, &run.policies.names())
        .map_err(anyhow::Error::msg)?;
    plan.policy = Some(Checked {
        operation: operation.to_string(),
        verdict,
        overrides,
        reason,
    });
    Ok(())
}

/// `--override` without a reason is refused (the reason is recorded).
fn needs_reason(overrides: &[String], reason: Option<&str>) -> Result<()> {
    if !overrides.is_empty() && reason.is_none_or(|r| r.trim().is_empty()) {
        bail!("--override needs --reason TEXT: why the policy is let through (it is recorded)");
    }
    Ok(())
}

/// What identifies a check within one session: the operation and the plan's steps (the
/// policies and the state do not change in between: apply refuses a plan of another state).
fn fingerprint(plan: &Plan, operation: &str) -> Option<String> {
    let mut bytes = serde_json::to_vec(&plan.steps).ok()?;
    bytes.extend(operation.as_bytes());
    Some(crate::registry::sha256_digest(&bytes))
}

/// The verdict this session already reached on the same steps (apply checks again the plan
/// it just made: evaluated once).
fn remembered(ctx: &Context, plan: &Plan, operation: &str) -> Option<Verdict> {
    let key = fingerprint(plan, operation)?;
    let memo = ctx.policy_memo.lock().expect("policy memo");
    memo.as_ref()
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v.clone())
}

/// Whether [`check`] has anything to do: policies or overrides in this run, or a verdict
/// the plan carries.
pub fn applies(ctx: &Context, plan: &Plan) -> bool {
    let run = &ctx.policy;
    !run.policies.is_empty() || plan.policy.is_some() || !run.overrides.is_empty()
}

/// Keeps `verdict` (before overrides) for [`remembered`].
fn remember(ctx: &Context, plan: &Plan, operation: &str, verdict: &Verdict) {
    if let Some(key) = fingerprint(plan, operation) {
        *ctx.policy_memo.lock().expect("policy memo") = Some((key, verdict.clone()));
    }
}

/// Before `plan` is applied: checks it again with the policies in force now (a saved plan
/// was made under others, perhaps), refuses it if a policy blocks, and records each
/// override in the state's history.
pub fn enforce(ctx: &Context, plan: &mut Plan, operation: &str) -> Result<()> {
    let before = plan.policy.as_ref().map(|c| c.verdict.digest.clone());
    if let Some(digest) = before.as_ref().filter(|d| !d.is_empty())
        && ctx.policy.policies.is_empty()
    {
        bail!(
            "this plan was checked under policies ({digest}) and none is loaded now: give them \
             (the spec's Policies, --policy, RKIT_POLICIES), or plan again"
        );
    }
    check(ctx, plan, operation)?;
    let Some(checked) = &plan.policy else {
        return Ok(());
    };
    if let Some(refusal) = checked.verdict.refusal(&format!("this {operation}")) {
        let changed = before.is_some_and(|d| d != checked.verdict.digest);
        if changed {
            bail!("{refusal}\n(The policies changed since the plan was made.)");
        }
        bail!("{refusal}");
    }
    record_overrides(ctx, checked)
}

/// Writes each policy `checked` let through by override to the state's history.
fn record_overrides(ctx: &Context, checked: &Checked) -> Result<()> {
    let overridden: Vec<_> = checked
        .verdict
        .findings
        .iter()
        .filter(|f| f.overridden)
        .collect();
    if overridden.is_empty() {
        return Ok(());
    }
    let at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut store = ctx.store.lock().expect("state lock");
    let serial = store.state.serial;
    for policy in &checked.overrides {
        let messages: Vec<String> = overridden
            .iter()
            .filter(|f| &f.policy == policy)
            .map(|f| f.message.clone())
            .collect();
        if messages.is_empty() {
            continue;
        }
        store.state.policy_overrides.push(Override {
            policy: policy.clone(),
            reason: checked.reason.clone().unwrap_or_default(),
            who: ctx.policy.who.clone(),
            at: at.clone(),
            messages,
            serial,
        });
    }
    store.compact()
}

/// What the policies say about `plan`.
fn evaluate_plan(ctx: &Context, plan: &Plan, operation: &str) -> Result<Verdict> {
    let made = made_anew(plan);
    evaluate_steps(ctx, plan, operation, |s, state, reveal| {
        Some(step_change(s, state, &made, reveal))
    })
}

/// The resources whose object the plan makes anew (created or replaced): what the state
/// records of them is not what they will be.
fn made_anew(plan: &Plan) -> std::collections::BTreeSet<&str> {
    plan.steps
        .iter()
        .filter(|s| matches!(s.action, Action::Create | Action::Replace))
        .map(|s| &*s.name)
        .collect()
}

/// What the policies say about reality: every recorded resource as it was last read (a
/// converge tick, after its refresh), as a change that changes nothing.
pub fn evaluate_reality(ctx: &Context, plan: &Plan) -> Result<Verdict> {
    evaluate_steps(ctx, plan, "converge", observed_change)
}

/// What the policies say about the document whose changes `change` makes of `plan`'s steps
/// (built under the state's lock, without copying the state).
fn evaluate_steps(
    ctx: &Context,
    plan: &Plan,
    operation: &str,
    change: impl Fn(&Step, &State, bool) -> Option<Value>,
) -> Result<Verdict> {
    let policies = &ctx.policy.policies;
    if policies.is_empty() {
        return Ok(Verdict::default());
    }
    let input = {
        let store = ctx.store.lock().expect("state lock");
        let kept = kept_steps(plan, &store.state);
        let build = |reveal| {
            let changes = plan
                .steps
                .iter()
                .map(|s| &**s)
                .chain(&kept)
                .filter_map(|s| change(s, &store.state, reveal))
                .collect();
            document(ctx, changes, operation, reveal)
        };
        Input {
            masked: build(false),
            revealed: policies.wants_sensitive().then(|| build(true)),
        }
    };
    policies.evaluate(&input)
}

/// A no-op step for each recorded resource the plan has no step for (under `--target` or
/// `--exclude`, those it is about): a plan counts the unchanged, policies are shown each of
/// them (as Terraform's `resource_changes` lists them).
fn kept_steps(plan: &Plan, state: &State) -> Vec<Step> {
    if let Some(kept) = &plan.kept {
        let recorded = kept
            .iter()
            .filter_map(|n| Some((n, state.resources.get(n)?)));
        return recorded.map(|(name, r)| Step::kept(name, r)).collect();
    }
    let stepped: std::collections::HashSet<&str> = plan.steps.iter().map(|s| &*s.name).collect();
    state
        .resources
        .iter()
        .filter(|(name, _)| !stepped.contains(name.as_str()))
        .map(|(name, r)| Step::kept(name, r))
        .collect()
}

/// The whole input document.
fn document(ctx: &Context, changes: Vec<Value>, operation: &str, reveal: bool) -> Value {
    let spec = &ctx.spec;
    let parameters: Map<String, Value> = spec
        .parameters
        .values
        .iter()
        .map(|(name, value)| {
            let masked = !reveal && spec.parameters.sensitive.contains(name);
            let value = if masked { json!(MASK) } else { value.clone() };
            (name.clone(), value)
        })
        .collect();
    // A sensitive parameter's value may have gone into a provider's configuration.
    let secrets: Vec<&Value> = spec
        .parameters
        .sensitive
        .iter()
        .filter_map(|name| spec.parameters.values.get(name))
        .collect();
    let providers: Map<String, Value> = ctx
        .providers
        .bindings()
        .into_iter()
        .filter_map(|(plugin, binding)| {
            let bound = ctx.providers.get(&plugin).ok()?;
            let provider_spec = spec
                .spec
                .providers
                .get(&plugin)
                .cloned()
                .unwrap_or_default();
            let source = provider_spec
                .source
                .clone()
                .unwrap_or_else(|| binding.path.display().to_string());
            let grants = serde_json::to_value(&provider_spec.grants).unwrap_or_default();
            let config = if reveal {
                provider_spec.config.clone()
            } else {
                mask_secrets(&provider_spec.config, &secrets)
            };
            let entry = provider_entry(
                &source,
                bound.module.info(),
                &binding.digest,
                config,
                grants,
            );
            Some((plugin, entry))
        })
        .collect();
    json!({
        "rkit": {"version": env!("CARGO_PKG_VERSION"), "operation": operation},
        "stack": spec.stack,
        "who": who_value(&ctx.policy.who),
        "parameters": parameters,
        "resource_changes": changes,
        "providers": providers,
    })
}

/// `value` with every string holding one of `secrets` (a sensitive parameter's value, as
/// text) masked.
fn mask_secrets(value: &Value, secrets: &[&Value]) -> Value {
    let texts: Vec<String> = secrets
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .filter(|t| !t.is_empty())
        .collect();
    fn walk(value: &Value, texts: &[String]) -> Value {
        match value {
            Value::String(s) if texts.iter().any(|t| s.contains(t.as_str())) => json!(MASK),
            Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, texts)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), walk(v, texts)))
                    .collect(),
            ),
            other => {
                let text = other.to_string();
                if texts.contains(&text) {
                    json!(MASK)
                } else {
                    other.clone()
                }
            }
        }
    }
    if texts.is_empty() {
        value.clone()
    } else {
        walk(value, &texts)
    }
}

/// Terraform's `actions` for an action.
fn actions(step: &Step) -> Value {
    match step.action {
        Action::Create => json!(["create"]),
        Action::Update => json!(["update"]),
        Action::Replace if step.create_before_destroy => json!(["create", "delete"]),
        Action::Replace => json!(["delete", "create"]),
        Action::Delete => json!(["delete"]),
        Action::NoOp => json!(["no-op"]),
    }
}

/// One planned change, as `resource_changes[]` holds it.
fn step_change(
    step: &Step,
    state: &State,
    made: &std::collections::BTreeSet<&str>,
    reveal: bool,
) -> Value {
    let recorded = state.resources.get(&*step.name);
    let before = before_of(step, recorded, reveal);
    let (after, unknown) = match step.action {
        Action::Delete => (Value::Null, Map::new()),
        Action::NoOp => (before.clone(), Map::new()),
        _ => after_of(step, state, made, reveal),
    };
    let replace: Vec<&str> = step
        .changes
        .iter()
        .filter(|c| c.forces_replacement)
        .map(|c| c.field.as_str())
        .collect();
    json!({
        "address": step.name,
        "name": step.name,
        "type": step.type_name,
        "plugin": step.plugin,
        "change": {
            "actions": actions(step),
            "before": before,
            "after": after,
            "after_unknown": unknown,
            "sensitive": properties_in(step.sensitive()).collect::<Vec<_>>(),
            "replace_paths": replace,
        },
        "reason": step.reason(),
        "tags": if step.tags.is_empty() { recorded.map(|r| json!(r.tags())).unwrap_or(json!({})) } else { json!(step.tags) },
    })
}

/// A resource as it was last read, as a change that changes nothing (`None`: no record).
fn observed_change(step: &Step, state: &State, reveal: bool) -> Option<Value> {
    let recorded = state.resources.get(&*step.name)?;
    let before = before_of(step, Some(recorded), reveal);
    Some(json!({
        "address": step.name,
        "name": step.name,
        "type": recorded.type_name,
        "plugin": recorded.plugin,
        "change": {
            "actions": ["no-op"],
            "before": before,
            "after": before,
            "after_unknown": {},
            "sensitive": properties_in(recorded.sensitive()).collect::<Vec<_>>(),
        },
        "tags": recorded.tags(),
    }))
}

/// What exists now: the record's properties, with what the plan read back for each changed
/// property (drift), masked unless `reveal`; an orphan's as listed; `null` for a create.
fn before_of(step: &Step, recorded: Option<&ResourceState>, reveal: bool) -> Value {
    let (mut props, sensitive) = match (recorded, step.orphan()) {
        (Some(r), _) => (r.properties().value(), r.sensitive().to_vec()),
        (None, Some(orphan)) => (orphan.properties.clone(), Vec::new()),
        (None, None) => return Value::Null,
    };
    if step.action != Action::Create
        && let Some(map) = props.as_object_mut()
    {
        for change in &step.changes {
            match &change.before {
                Some(value) => map.insert(change.field.to_string(), value.value()),
                None => map.remove(change.field.as_str()),
            };
        }
    }
    if reveal {
        props
    } else {
        mask_fields(&props, properties_in(&sensitive))
    }
}

/// What the step sets, references resolved where the state knows them; a property known
/// only after apply is `null` in `after` and `true` in `after_unknown`.
fn after_of(
    step: &Step,
    state: &State,
    made: &std::collections::BTreeSet<&str>,
    reveal: bool,
) -> (Value, Map<String, Value>) {
    let Some(props) = &step.properties else {
        return (Value::Null, Map::new());
    };
    let known = |r: &reference::Reference| {
        (!made.contains(&*r.resource))
            .then(|| state.value_of(r))
            .flatten()
    };
    let resolved = reference::resolve(&props.value(), &known);
    let mut unknown = Map::new();
    let mut after = match resolved {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    for (field, value) in after.iter_mut() {
        if has_unknown(value) {
            *value = Value::Null;
            unknown.insert(field.clone(), Value::Bool(true));
        }
    }
    let after = Value::Object(after);
    let after = if reveal {
        after
    } else {
        mask_fields(&after, properties_in(step.sensitive()))
    };
    (after, unknown)
}

/// Checks an import of `id` as resource `name` (`rkit.operation` is `import`; the object as
/// read is one change, `importing` it): refused when a policy blocks it.
pub fn check_import(
    ctx: &Context,
    name: &str,
    record: &ResourceState,
    id: &str,
) -> Result<Verdict> {
    let policies = &ctx.policy.policies;
    needs_reason(&ctx.policy.overrides, ctx.policy.reason.as_deref())?;
    if policies.is_empty() {
        return Ok(Verdict::default());
    }
    let build = |reveal: bool| {
        let props = if reveal {
            record.properties().value()
        } else {
            mask_fields(
                &record.properties().value(),
                properties_in(record.sensitive()),
            )
        };
        let change = json!({
            "address": name,
            "name": name,
            "type": record.type_name,
            "plugin": record.plugin,
            "change": {
                "actions": ["no-op"],
                "before": props,
                "after": props,
                "after_unknown": {},
                "sensitive": properties_in(record.sensitive()).collect::<Vec<_>>(),
                "importing": {"id": id},
            },
            "tags": record.tags(),
        });
        document(ctx, vec![change], "import", reveal)
    };
    let mut verdict = policies.evaluate(&Input {
        masked: build(false),
        revealed: policies.wants_sensitive().then(|| build(true)),
    })?;
    verdict
        .apply_overrides(&ctx.policy.overrides, &policies.names())
        .map_err(anyhow::Error::msg)?;
    if let Some(refusal) = verdict.refusal(&format!("importing {id} as {name}")) {
        bail!("{refusal}\nNothing was recorded.");
    }
    record_overrides(
        ctx,
        &Checked {
            operation: "import".into(),
            verdict: verdict.clone(),
            overrides: ctx.policy.overrides.clone(),
            reason: ctx.policy.reason.clone(),
        },
    )?;
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::Change;

    fn recorded(properties: Value) -> ResourceState {
        ResourceState::new(
            "p".into(),
            "T".into(),
            "id-1",
            properties.into(),
            json!({"Arn": "arn:1"}).into(),
        )
        .with_sensitive(["Properties.Password"])
    }

    #[test]
    fn a_change_reads_as_terraform_s_with_drift_unknowns_and_masks() {
        let mut state = State::default();
        state.resources.insert(
            "Db".into(),
            recorded(json!({"Size": 1, "Password": "hunter2", "Zone": "a"})),
        );
        let mut step = Step::delete("Db", "p", "T", None);
        step.action = Action::Replace;
        step.create_before_destroy = true;
        step.more_mut().sensitive = Box::new(["Properties.Password".into()]);
        step.properties = Some(
            json!({
                "Size": 2, "Password": "s3cret", "Zone": "a",
                "Subnet": "{{.Resources.Net.ID}}", "Of": "{{.Resources.Db.Attributes.Arn}}"
            })
            .into(),
        );
        step.changes = Box::new([Change {
            field: "Size".into(),
            before: Some(json!(5).into()),
            after: Some(json!(2).into()),
            forces_replacement: true,
            sensitive: false,
        }]);
        let made = std::collections::BTreeSet::from(["Db"]);
        let masked = step_change(&step, &state, &made, false);
        assert_eq!(
            masked["change"],
            json!({
                "actions": ["create", "delete"],
                "before": {"Size": 5, "Password": MASK, "Zone": "a"},
                "after": {"Size": 2, "Password": MASK, "Zone": "a", "Subnet": null, "Of": null},
                "after_unknown": {"Subnet": true, "Of": true},
                "sensitive": ["Password"],
                "replace_paths": ["Size"],
            })
        );
        let revealed = step_change(&step, &state, &made, true);
        assert_eq!(revealed["change"]["before"]["Password"], "hunter2");
        assert_eq!(revealed["change"]["after"]["Password"], "s3cret");
    }

    #[test]
    fn a_sensitive_parameter_in_a_provider_s_configuration_is_masked() {
        let config = json!({"Region": "eu-west-1", "Endpoint": "https://u:hunter2@h", "Port": 7});
        let (secret, port) = (json!("hunter2"), json!(7));
        assert_eq!(
            mask_secrets(&config, &[&secret, &port]),
            json!({"Region": "eu-west-1", "Endpoint": MASK, "Port": MASK})
        );
    }

    #[test]
    fn reality_is_a_change_that_changes_nothing() {
        let mut state = State::default();
        state
            .resources
            .insert("Db".into(), recorded(json!({"Size": 1, "Password": "x"})));
        let mut step = Step::delete("Db", "p", "T", None);
        step.action = Action::Update;
        step.changes = Box::new([Change {
            field: "Size".into(),
            before: Some(json!(9).into()),
            after: Some(json!(1).into()),
            forces_replacement: false,
            sensitive: false,
        }]);
        let seen = observed_change(&step, &state, false).unwrap();
        assert_eq!(seen["change"]["actions"], json!(["no-op"]));
        assert_eq!(
            seen["change"]["before"],
            json!({"Size": 9, "Password": MASK})
        );
        assert_eq!(seen["change"]["after"], seen["change"]["before"]);
    }
}
