//! A plan's step: what is done to one resource, with everything apply needs to do it (the
//! plan is the contract apply executes).
//!
//! Invariants:
//! - A step is written and read as [`StepWire`], the same fields as ever (saved plans and
//!   `plan --json` are unchanged); in memory what few steps have (a reason, an adoption, an
//!   orphan, what is sensitive, a rolling update's order and health) is held apart, in one
//!   box made only for a step that has some of it, so a plan of 100,000 creates holds a
//!   step in 128 bytes rather than 240.
//! - [`Step::more_mut`] makes that box; a step whose box holds nothing equals one without
//!   (equality and the wire form compare what is held, not where).

use super::action::Action;
use crate::interned::Name;
use crate::state::{Compact, NameList, ResourceState, TagList};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One changed top-level property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Change {
    /// The property (a path: `Tags.Name`; held once for all the resources that have it).
    pub field: Name,
    /// Its value now (`None`: not set), as compact text (written as the value, indented with
    /// the rest of a saved plan).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "as_value"
    )]
    pub before: Option<Compact>,
    /// `None`: the property is removed. [`UNKNOWN`](crate::spec::reference::UNKNOWN) marks a
    /// value known only after apply. As compact text (a plan of 100,000 creates holds one
    /// for each).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "as_value"
    )]
    pub after: Option<Compact>,
    /// The provider cannot change it in place: the resource is replaced.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forces_replacement: bool,
    /// Its values must not be shown.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

/// `value` written as its tree (a `Compact` alone is written as its text, on one line even
/// in an indented file); the tree is made as it is written, one change at a time.
fn as_value<S: serde::Serializer>(
    value: &Option<Compact>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    value.as_ref().map(Compact::value).serialize(serializer)
}

/// A plan's steps, each in its own allocation: apply frees each step as soon as it is done
/// (see `running`), which steps held side by side in one vector would not allow.
pub type Steps = Vec<Box<Step>>;

/// The plan for one resource.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "StepWire", into = "StepWire")]
pub struct Step {
    /// The resource's name (an orphan's: as recorded, or made up from its tags). Boxed: a
    /// step is then 128 bytes, a size the allocator has (136 would take 160).
    pub name: Box<str>,
    /// What is done to it.
    pub action: Action,
    /// A replacement that creates the new object before deleting the old one.
    pub create_before_destroy: bool,
    /// Its provider's name in the spec.
    pub plugin: Name,
    /// Its type, as its provider names it.
    pub type_name: Name,
    /// The properties that differ.
    pub changes: Box<[Change]>,
    /// What it depends on in the spec (logical names): creates and updates wait for these,
    /// and the state records them for later deletes.
    pub depends_on: NameList,
    /// What it depended on when last applied (deletes go before these).
    pub recorded_depends_on: NameList,
    /// For a create, update or replacement: the properties to set, references to other
    /// resources left as templates (resolved from the state as apply reaches them).
    /// Held as compact text, as the spec and the state hold them.
    pub properties: Option<Compact>,
    /// For a create, update or replacement: every tag the object carries (rkit's included).
    pub tags: TagList,
    /// What few steps have (see [`More`]).
    more: Option<Box<More>>,
}

/// What few steps have, held apart from the rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct More {
    /// Why (a replacement's cause, an orphan, drift), for people.
    pub reason: Option<String>,
    /// A create that adopts this existing object (it carries the stack's and the resource's
    /// tags: made by an earlier run whose answer or state was lost) instead of making one.
    pub adopt: Option<String>,
    /// A delete of an object carrying the stack's tags that the state does not know.
    pub orphan: Option<Orphan>,
    /// What of it must not be shown (`Properties.X`, `Attributes.Y`), recorded with it.
    pub sensitive: Box<[String]>,
    /// Steps that must have finished (every operation of them) before it starts: a rolling
    /// update's previous batch.
    pub after: Box<[String]>,
    /// For a group member's replacement: how healthy it must be before the step is done.
    pub health: Option<Health>,
}

/// What a rolling update waits for after a member is replaced: the provider's `read` finds it
/// and its attributes do not say `"Healthy": false`, and every resource it feeds that reports
/// `TargetHealth` reports it `healthy`, for `healthy_for_ms` in a row, within `timeout_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub healthy_for_ms: u64,
    pub timeout_ms: u64,
    /// The resources that use the group's IDs (a target group): brought up to date with the
    /// new member before it is waited on (as a load balancer's registration would be).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feeds: Vec<Feed>,
}

/// A resource a group's members feed (it uses `{{.Groups.X.IDs}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Feed {
    pub name: String,
    pub plugin: String,
    #[serde(rename = "Type")]
    pub type_name: String,
    /// Its properties with the members' references as templates.
    pub properties: Value,
}

/// An object carrying the stack's tags that the state does not record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Orphan {
    /// Its `rkit:name` tag.
    pub logical: String,
    #[serde(rename = "ID")]
    pub id: String,
    /// Its properties as listed (for the provider's delete).
    pub properties: Value,
}

impl Step {
    /// A step doing `action` to `name`, with nothing else yet.
    pub fn new(name: String, action: Action, plugin: Name, type_name: Name) -> Self {
        Step {
            name: name.into(),
            action,
            create_before_destroy: false,
            plugin,
            type_name,
            changes: Box::default(),
            depends_on: NameList::default(),
            recorded_depends_on: NameList::default(),
            properties: None,
            tags: TagList::default(),
            more: None,
        }
    }

    /// A step deleting a recorded resource (for destroy and what leaves the spec).
    pub fn delete(name: &str, plugin: &str, type_name: &str, reason: Option<String>) -> Self {
        let mut step = Step::new(name.into(), Action::Delete, plugin.into(), type_name.into());
        step.set_reason(reason);
        step
    }

    /// Sets why (a box for it made only for a reason).
    pub fn set_reason(&mut self, reason: Option<String>) {
        if reason.is_some() || self.more.is_some() {
            self.more_mut().reason = reason;
        }
    }

    /// The no-op step of `name`, unchanged and recorded as `r`: what a plan counts rather
    /// than holds, made where every resource is wanted (the policies' `resource_changes`).
    pub fn kept(name: &str, r: &ResourceState) -> Self {
        let mut step = Step {
            action: Action::NoOp,
            depends_on: r.depends_on().to_list(),
            recorded_depends_on: r.depends_on().to_list(),
            ..Step::delete(name, &r.plugin, &r.type_name, None)
        };
        if !r.sensitive().is_empty() {
            step.more_mut().sensitive = r.sensitive().to_vec().into();
        }
        step
    }

    /// The name it stands for in the spec (an orphan's `rkit:name`).
    pub fn logical(&self) -> &str {
        self.orphan().map_or(&self.name, |o| &o.logical)
    }

    /// What few steps have, made if it is not yet.
    pub fn more_mut(&mut self) -> &mut More {
        self.more.get_or_insert_default()
    }

    /// What few steps have, if this one has any of it.
    fn more(&self) -> Option<&More> {
        self.more.as_deref()
    }

    /// Why (a replacement's cause, an orphan, drift), for people.
    pub fn reason(&self) -> Option<&str> {
        self.more()?.reason.as_deref()
    }

    /// The existing object a create adopts.
    pub fn adopt(&self) -> Option<&str> {
        self.more()?.adopt.as_deref()
    }

    /// The unrecorded object a delete is of.
    pub fn orphan(&self) -> Option<&Orphan> {
        self.more()?.orphan.as_ref()
    }

    /// What of it must not be shown.
    pub fn sensitive(&self) -> &[String] {
        self.more().map_or(&[], |m| &m.sensitive)
    }

    /// The steps that finish before it starts.
    pub fn after(&self) -> &[String] {
        self.more().map_or(&[], |m| &m.after)
    }

    /// How healthy a group member's replacement must be before the step is done.
    pub fn health(&self) -> Option<&Health> {
        self.more()?.health.as_ref()
    }
}

impl PartialEq for Step {
    fn eq(&self, other: &Self) -> bool {
        let same_more = match (self.more(), other.more()) {
            (Some(a), Some(b)) => a == b,
            (Some(held), None) | (None, Some(held)) => *held == More::default(),
            (None, None) => true,
        };
        self.name == other.name
            && self.action == other.action
            && self.create_before_destroy == other.create_before_destroy
            && self.plugin == other.plugin
            && self.type_name == other.type_name
            && self.changes == other.changes
            && self.depends_on == other.depends_on
            && self.recorded_depends_on == other.recorded_depends_on
            && self.properties == other.properties
            && self.tags == other.tags
            && same_more
    }
}

/// A step as it is written and read: every field side by side, as saved plans have always
/// held them.
#[derive(Serialize, Deserialize)]
#[serde(rename = "Step", rename_all = "PascalCase")]
struct StepWire {
    name: String,
    action: Action,
    plugin: Name,
    #[serde(rename = "Type")]
    type_name: Name,
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    changes: Box<[Change]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    create_before_destroy: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adopt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    orphan: Option<Orphan>,
    #[serde(default, skip_serializing_if = "NameList::is_empty")]
    depends_on: NameList,
    #[serde(default, skip_serializing_if = "NameList::is_empty")]
    recorded_depends_on: NameList,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    properties: Option<Compact>,
    #[serde(default, skip_serializing_if = "TagList::is_empty")]
    tags: TagList,
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    sensitive: Box<[String]>,
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    after: Box<[String]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    health: Option<Health>,
}

impl From<StepWire> for Step {
    fn from(w: StepWire) -> Self {
        let more = More {
            reason: w.reason,
            adopt: w.adopt,
            orphan: w.orphan,
            sensitive: w.sensitive,
            after: w.after,
            health: w.health,
        };
        Step {
            name: w.name.into(),
            action: w.action,
            create_before_destroy: w.create_before_destroy,
            plugin: w.plugin,
            type_name: w.type_name,
            changes: w.changes,
            depends_on: w.depends_on,
            recorded_depends_on: w.recorded_depends_on,
            properties: w.properties,
            tags: w.tags,
            more: (more != More::default()).then(|| Box::new(more)),
        }
    }
}

impl From<Step> for StepWire {
    fn from(s: Step) -> Self {
        let more = s.more.map(|m| *m).unwrap_or_default();
        StepWire {
            name: s.name.into(),
            action: s.action,
            plugin: s.plugin,
            type_name: s.type_name,
            changes: s.changes,
            reason: more.reason,
            create_before_destroy: s.create_before_destroy,
            adopt: more.adopt,
            orphan: more.orphan,
            depends_on: s.depends_on,
            recorded_depends_on: s.recorded_depends_on,
            properties: s.properties,
            tags: s.tags,
            sensitive: more.sensitive,
            after: more.after,
            health: more.health,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_written_and_read_as_it_always_was() {
        let mut step = Step::delete("Web", "aws", "Instance", Some("it is gone".into()));
        step.recorded_depends_on = NameList::from(&["Sg"][..]);
        step.more_mut().after = Box::new(["Web[0]".into()]);
        let json = serde_json::to_value(&step).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"Name": "Web", "Action": "delete", "Plugin": "aws",
                "Type": "Instance", "Reason": "it is gone", "RecordedDependsOn": ["Sg"],
                "After": ["Web[0]"]})
        );
        let read: Step = serde_json::from_value(json).unwrap();
        assert_eq!(read, step);
        assert_eq!(read.reason(), Some("it is gone"));
        assert_eq!(read.after(), ["Web[0]".to_string()]);
    }

    #[test]
    fn a_changes_values_are_written_as_values_indented_with_the_rest() {
        let mut step = Step::delete("Web", "aws", "Instance", None);
        step.changes = Box::new([Change {
            field: "Rules".into(),
            before: None,
            after: Some(serde_json::json!({"Port": 22}).into()),
            forces_replacement: false,
            sensitive: false,
        }]);
        let pretty = serde_json::to_string_pretty(&step).unwrap();
        assert!(
            pretty.contains("\"After\": {\n        \"Port\": 22\n      }"),
            "{pretty}"
        );
        let read: Step = serde_json::from_str(&pretty).unwrap();
        assert_eq!(read, step);
    }

    #[test]
    fn a_step_with_nothing_more_holds_no_box_and_equals_one_with_an_empty_box() {
        let plain = Step::delete("A", "p", "T", None);
        assert!(plain.more.is_none());
        let mut boxed = plain.clone();
        boxed.more_mut();
        assert_eq!(plain, boxed);
        let read: Step = serde_json::from_value(serde_json::to_value(&boxed).unwrap()).unwrap();
        assert!(read.more.is_none(), "nothing more is read back as no box");
    }

    #[test]
    fn a_step_fits_in_128_bytes() {
        // The allocator's classes go 112, 128, 160: at 136 bytes a planned step took 160, 3.2
        // MB more at 100,000 creates. Running, with an `Arc`'s two counts, it takes 160.
        assert!(
            std::mem::size_of::<Step>() <= 128,
            "{}",
            std::mem::size_of::<Step>()
        );
    }
}
