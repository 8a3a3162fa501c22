//! Groups (InfraKit's): a set of interchangeable members made from one template, with a
//! `Size` (members `Web[0]`, `Web[1]`, …) or a fixed set of `LogicalIDs` (`Web[a]`, one member
//! each). A group expands, as the spec loads, into one resource per member, so planning,
//! applying, recording, orphans and destroy treat members like any resource.
//!
//! Invariants: every member carries `rkit:group`, `rkit:logical-id` and `rkit:config-hash`
//! (the hash of the group's plugin, type and template after parameters, before the member's
//! own values), so the members of a group are found by `list` without the state; a member's
//! name is `GROUP[LOGICAL-ID]`; `{{.Member.Index}}` (a number) and `{{.Member.LogicalID}}` (a
//! string) are the only member templates. `{{.Groups.NAME.IDs}}` elsewhere is a whole value
//! and becomes the list of the members' `{{.Resources.MEMBER.ID}}` references, so that what
//! uses it depends on every member and changes when membership does. Which members exist is
//! the engine's choice (see `engine::group`); as loaded, a group has its first `Size`
//! numbers (or its `LogicalIDs`).

use super::ResourceSpec;
use super::template;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// How a template change rolls through the members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpdatingSpec {
    /// At most this many members are being replaced at once.
    #[serde(default = "one")]
    pub max_unavailable: u32,
    /// How long a replacement must stay healthy before the next is started (`30s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_for: Option<String>,
    /// How long a replacement may take to become healthy (for `HealthyFor`) before the update
    /// stops (default `10m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_timeout: Option<String>,
}

/// The default of `HealthTimeout` (as Terraform's `wait_for_capacity_timeout`).
pub const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

impl UpdatingSpec {
    /// `HealthyFor` and `HealthTimeout`, read. An error names the field.
    pub fn durations(
        &self,
    ) -> Result<(std::time::Duration, std::time::Duration), (&'static str, String)> {
        let healthy_for = match &self.healthy_for {
            Some(t) => crate::duration::parse(t).map_err(|m| ("Updating.HealthyFor", m))?,
            None => std::time::Duration::ZERO,
        };
        let timeout = match &self.health_timeout {
            Some(t) => crate::duration::positive(t).map_err(|m| ("Updating.HealthTimeout", m))?,
            None => HEALTH_TIMEOUT,
        };
        if self.max_unavailable == 0 {
            return Err((
                "Updating.MaxUnavailable",
                "must be at least 1 (members are replaced MaxUnavailable at a time)".into(),
            ));
        }
        Ok((healthy_for, timeout))
    }
}

fn one() -> u32 {
    1
}

impl Default for UpdatingSpec {
    fn default() -> Self {
        Self {
            max_unavailable: 1,
            healthy_for: None,
            health_timeout: None,
        }
    }
}

/// One group of the spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GroupSpec {
    /// How many members (or `LogicalIDs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    /// One member per ID.
    #[serde(
        default,
        rename = "LogicalIDs",
        skip_serializing_if = "Option::is_none"
    )]
    pub logical_ids: Option<Vec<String>>,
    pub plugin: String,
    #[serde(rename = "Type")]
    pub type_name: String,
    #[serde(default = "super::empty_object")]
    pub properties: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub updating: UpdatingSpec,
}

/// The largest group (a typo like `Size: 100000000` should not expand for minutes).
pub const MAX_MEMBERS: u32 = 100_000;

/// A member's resource name.
pub fn member_name(group: &str, logical_id: &str) -> String {
    format!("{group}[{logical_id}]")
}

impl GroupSpec {
    /// The members it wants: (logical ID, index). An error names the field.
    pub fn wanted(&self) -> Result<Vec<(String, usize)>, (&'static str, String)> {
        match (self.size, &self.logical_ids) {
            (Some(_), Some(_)) => Err(("Size", "give Size or LogicalIDs, not both".to_string())),
            (None, None) => Err(("Size", "give Size or LogicalIDs".to_string())),
            (Some(n), None) if n > MAX_MEMBERS => Err((
                "Size",
                format!("{n} members is more than rkit manages in one group ({MAX_MEMBERS})"),
            )),
            (Some(n), None) => Ok((0..n as usize).map(|i| (i.to_string(), i)).collect()),
            (None, Some(ids)) => {
                let mut seen = std::collections::BTreeSet::new();
                for id in ids {
                    let bad = id.is_empty() || id.contains(['[', ']', '.', '{', '}']);
                    if bad {
                        return Err((
                            "LogicalIDs",
                            format!("{id:?}: a logical ID is not empty and has no [ ] . {{ }}"),
                        ));
                    }
                    if !seen.insert(id) {
                        return Err(("LogicalIDs", format!("{id:?} is listed twice")));
                    }
                }
                Ok(ids
                    .iter()
                    .cloned()
                    .enumerate()
                    .map(|(i, id)| (id, i))
                    .collect())
            }
        }
    }

    /// The hash of what the members are made from (plugin, type, template, the group's tags).
    pub fn config_hash(&self) -> String {
        let canonical = serde_json::json!({
            "Plugin": self.plugin,
            "Type": self.type_name,
            "Properties": self.properties,
            "Tags": self.tags,
        });
        let digest = Sha256::digest(canonical.to_string().as_bytes());
        hex::encode(&digest[..8])
    }

    /// The members as resources: (name, resource), for the logical IDs it wants. An error
    /// names the field.
    pub fn expand(&self, group: &str) -> Result<Vec<(String, ResourceSpec)>, (String, String)> {
        let wanted = self.wanted().map_err(|(f, m)| (f.to_string(), m))?;
        self.updating
            .durations()
            .map_err(|(f, m)| (f.to_string(), m))?;
        let ids: Vec<String> = wanted.into_iter().map(|(id, _)| id).collect();
        self.expand_ids(group, &ids)
    }

    /// A member's index: its number in a group of a `Size`, its position in `LogicalIDs`.
    pub fn index_of(&self, logical_id: &str) -> Option<usize> {
        match &self.logical_ids {
            Some(ids) => ids.iter().position(|id| id == logical_id),
            None => logical_id
                .parse::<usize>()
                .ok()
                .filter(|i| i.to_string() == logical_id),
        }
    }

    /// The members with these logical IDs (chosen by the engine from what exists: a group of a
    /// `Size` keeps its members' numbers), as resources.
    pub fn expand_ids(
        &self,
        group: &str,
        ids: &[String],
    ) -> Result<Vec<(String, ResourceSpec)>, (String, String)> {
        let hash = self.config_hash();
        let mut members = Vec::with_capacity(ids.len());
        for logical_id in ids {
            let index = self.index_of(logical_id).ok_or_else(|| {
                (
                    "Size".to_string(),
                    format!("{logical_id:?} is not a logical ID of this group"),
                )
            })?;
            let mut fill = |expr: &str| match expr.trim() {
                ".Member.Index" => Some(Ok(Value::from(index))),
                ".Member.LogicalID" => Some(Ok(Value::String(logical_id.clone()))),
                e if e.starts_with(".Member.") => Some(Err(format!(
                    "{{{{{e}}}}}: a member has .Member.Index and .Member.LogicalID"
                ))),
                _ => None,
            };
            let properties = template::substitute(&self.properties, &mut fill)
                .map_err(|m| ("Properties".to_string(), m))?;
            let mut tags = self.tags.clone();
            tags.insert(crate::tags::GROUP.into(), group.to_string());
            tags.insert(crate::tags::LOGICAL_ID.into(), logical_id.clone());
            tags.insert(crate::tags::CONFIG_HASH.into(), hash.clone());
            members.push((
                member_name(group, logical_id),
                ResourceSpec {
                    plugin: self.plugin.as_str().into(),
                    type_name: self.type_name.as_str().into(),
                    properties: properties.into(),
                    depends_on: self.depends_on.clone().into(),
                    tags: tags.into(),
                    references: Box::default(),
                },
            ));
        }
        Ok(members)
    }
}

/// Whether `value` uses `{{.Groups.NAME.IDs}}` anywhere.
pub fn uses_groups(value: &Value) -> bool {
    template::mentions(value, ".Groups.")
}

/// `value` with every `{{.Groups.NAME.IDs}}` (which must be a whole string: it is a list)
/// replaced by the list of its members' ID references, in `members`' order. The error is the
/// message (the caller names the field).
pub fn rewrite_group_refs(
    value: &Value,
    members: &indexmap::IndexMap<String, Vec<String>>,
) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) if s.contains("{{") && s.contains(".Groups.") => {
            let whole = s
                .trim()
                .strip_prefix("{{")
                .and_then(|r| r.strip_suffix("}}"))
                .filter(|inner| !inner.contains("{{") && !inner.contains("}}"))
                .map(str::trim);
            let Some(expr) = whole else {
                return Err(format!(
                    "{s:?}: {{{{.Groups.NAME.IDs}}}} is a list of IDs: give it as the whole value"
                ));
            };
            let fields: Vec<&str> = expr.split('.').collect();
            let ["", "Groups", name, "IDs"] = fields.as_slice() else {
                return Err(format!(
                    "unsupported template {{{{{expr}}}}}: expected {{{{.Groups.NAME.IDs}}}}"
                ));
            };
            let Some(names) = members.get(*name) else {
                return Err(format!("{{{{{expr}}}}} names no group of this spec"));
            };
            Value::Array(
                names
                    .iter()
                    .map(|m| Value::String(format!("{{{{.Resources.{m}.ID}}}}")))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| rewrite_group_refs(v, members))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), rewrite_group_refs(v, members)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn group(text: Value) -> GroupSpec {
        serde_json::from_value(text).unwrap()
    }

    #[test]
    fn a_sized_group_expands_into_indexed_members_with_their_tags() {
        let g = group(json!({"Size": 2, "Plugin": "null", "Type": "Null",
            "Properties": {"Input": "web-{{.Member.Index}}", "N": "{{.Member.Index}}",
                           "Net": "{{.Resources.Net.ID}}"}}));
        let members = g.expand("Web").unwrap();
        let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Web[0]", "Web[1]"]);
        let (_, second) = &members[1];
        assert_eq!(
            second.properties,
            json!({"Input": "web-1", "N": 1, "Net": "{{.Resources.Net.ID}}"})
        );
        assert_eq!(second.tags["rkit:group"], "Web");
        assert_eq!(second.tags["rkit:logical-id"], "1");
        assert_eq!(second.tags["rkit:config-hash"], g.config_hash());
        assert_eq!(g.config_hash().len(), 16);
    }

    #[test]
    fn logical_ids_give_one_member_each_and_the_hash_follows_the_template() {
        let g = group(
            json!({"LogicalIDs": ["a", "b"], "Plugin": "null", "Type": "Null",
            "Properties": {"Input": "{{.Member.LogicalID}}"}}),
        );
        let members = g.expand("Db").unwrap();
        assert_eq!(members[0].0, "Db[a]");
        assert_eq!(members[1].1.properties, json!({"Input": "b"}));
        let mut changed = g.clone();
        changed.properties = json!({"Input": "x-{{.Member.LogicalID}}"});
        assert_ne!(changed.config_hash(), g.config_hash());
    }

    #[test]
    fn bad_groups_name_the_field() {
        let both = group(json!({"Size": 1, "LogicalIDs": ["a"], "Plugin": "p", "Type": "T"}));
        assert_eq!(
            both.expand("G").unwrap_err(),
            (
                "Size".to_string(),
                "give Size or LogicalIDs, not both".to_string()
            )
        );
        let twice = group(json!({"LogicalIDs": ["a", "a"], "Plugin": "p", "Type": "T"}));
        assert_eq!(twice.wanted().unwrap_err().1, "\"a\" is listed twice");
        let member = group(json!({"Size": 1, "Plugin": "p", "Type": "T",
            "Properties": {"X": "{{.Member.Name}}"}}));
        assert_eq!(
            member.expand("G").unwrap_err().1,
            "{{.Member.Name}}: a member has .Member.Index and .Member.LogicalID"
        );
    }
}
