# Instance sizes in dev: when the stack's `Env` parameter is "dev", no EC2 instance, launch
# template or RDS DB instance may be larger than `*.large`. Sizes are an allow-list
# (nano, micro, small, medium, large), so xlarge, 2xlarge…, metal and any size AWS adds
# later are refused until someone decides otherwise.
#
# Why: dev environments run around the clock with little load; oversized instances there
# are the most common line on a cloud bill nobody looks at. Overridable: a load test or a
# memory-hungry build can go ahead with `--override rkit.examples.dev_instance_sizes
# --reason "…"`, and the reason is recorded in the state.
#
# Applies to InstanceType of awscc `AWS::EC2::Instance` and the aws provider's `Instance`,
# LaunchTemplateData.InstanceType of `AWS::EC2::LaunchTemplate`, and DBInstanceClass of
# `AWS::RDS::DBInstance` (e.g. db.r6g.xlarge). Every change that is not a pure delete is
# checked, so a resize done by hand shows at converge.

package rkit.examples.dev_instance_sizes

import rego.v1

enforcement := "overridable"

allowed_sizes := {"nano", "micro", "small", "medium", "large"}

changes contains rc if {
	some rc in input.resource_changes
	rc.change.actions != ["delete"]
	is_object(rc.change.after)
}

# [field path, value] of each sized property of a change.
sized(rc) := ["InstanceType", rc.change.after.InstanceType] if rc.type in {"AWS::EC2::Instance", "Instance"}

sized(rc) := ["LaunchTemplateData.InstanceType", rc.change.after.LaunchTemplateData.InstanceType] if rc.type == "AWS::EC2::LaunchTemplate"

sized(rc) := ["DBInstanceClass", rc.change.after.DBInstanceClass] if rc.type in {"AWS::RDS::DBInstance", "DBInstance"}

deny contains finding if {
	input.parameters.Env == "dev"
	some rc in changes
	[field, value] := sized(rc)
	is_string(value)
	parts := split(value, ".")
	size := parts[count(parts) - 1]
	not size in allowed_sizes
	finding := {
		"msg": sprintf("%s: %s %s is larger than *.large, the most a dev stack may use (allowed sizes: nano, micro, small, medium, large)", [rc.name, field, value]),
		"resource": rc.name,
		"field": field,
	}
}
