# No deletion or replacement of stateful resources: RDS DB instances and clusters, DynamoDB
# tables, S3 buckets, EBS volumes and EFS file systems hold data that a delete (or a
# replacement, which deletes the old resource) loses for good.
#
# Why: a renamed property that forces replacement, a resource removed from the spec by
# mistake, or a `destroy` on the wrong stack are the classic ways IaC loses production
# data. Overridable: a deliberate removal goes ahead with
# `--override rkit.examples.protect_stateful --reason "…"`, recorded in the state.
#
# Deletes are ["delete"]; replacements are ["delete","create"] and ["create","delete"]
# (create before destroy loses the data just the same). For a replacement the finding names
# the properties that force it (`change.replace_paths`, the first one as its field); without
# them it lists the top-level properties whose values change.

package rkit.examples.protect_stateful

import rego.v1

enforcement := "overridable"

stateful_types := {
	"AWS::RDS::DBInstance", "AWS::RDS::DBCluster", "AWS::DynamoDB::Table", "AWS::S3::Bucket",
	"AWS::EC2::Volume", "AWS::EFS::FileSystem",
	# the aws provider's names
	"DBInstance", "DBCluster", "Table", "Bucket", "Volume",
}

deny contains finding if {
	some rc in input.resource_changes
	rc.type in stateful_types
	rc.change.actions == ["delete"]
	finding := {
		"msg": sprintf("%s: this %s would be deleted, and the data it holds with it", [rc.name, rc.type]),
		"resource": rc.name,
	}
}

deny contains finding if {
	some rc in input.resource_changes
	rc.type in stateful_types
	replacement(rc.change.actions)
	paths := forcing(rc)
	count(paths) > 0
	finding := {
		"msg": sprintf("%s: this %s would be replaced (%s) because %s changes, losing the data it holds", [rc.name, rc.type, concat(", then ", rc.change.actions), concat(", ", paths)]),
		"resource": rc.name,
		"field": paths[0],
	}
}

deny contains finding if {
	some rc in input.resource_changes
	rc.type in stateful_types
	replacement(rc.change.actions)
	count(forcing(rc)) == 0
	finding := {
		"msg": sprintf("%s: this %s would be replaced (%s), losing the data it holds%s", [rc.name, rc.type, concat(", then ", rc.change.actions), changed_note(rc)]),
		"resource": rc.name,
	}
}

# The properties whose change forces the replacement, as the engine reports them.
forcing(rc) := [path | some path in rc.change.replace_paths; is_string(path)] if is_array(rc.change.replace_paths)

forcing(rc) := [] if not is_array(rc.change.replace_paths)

replacement(actions) if actions == ["delete", "create"]

replacement(actions) if actions == ["create", "delete"]

# The top-level properties whose values differ between before and after.
changed(rc) := sort([key |
	some key in object.keys(object.union(as_object(rc.change.before), as_object(rc.change.after)))
	object.get(as_object(rc.change.before), key, null) != object.get(as_object(rc.change.after), key, null)
])

changed_note(rc) := sprintf("; changed: %s", [concat(", ", changed(rc))]) if count(changed(rc)) > 0

changed_note(rc) := "" if count(changed(rc)) == 0

as_object(v) := v if is_object(v)

as_object(v) := {} if not is_object(v)
