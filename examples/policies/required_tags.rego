# Required tags: every taggable resource that is being created or updated carries the tags
# `owner` and `cost-center`, each with a non-empty value.
#
# Why: untagged resources cannot be charged back to a team, nobody can be paged about them,
# and clean-up jobs cannot tell what is safe to remove. Checking only creates and updates
# (replacements included) lets an old untagged resource live until someone next touches it,
# so adopting the policy does not block every unrelated plan.
#
# Tags are read from all of these places (their union counts):
#   - `after.Tags` as a list of {"Key", "Value"} (awscc / CloudFormation);
#   - `after.Tags` or `after.tags` as a map {"key": "value"} (other providers);
#   - `tags`, a map beside `change`, should the engine pass a resource's spec-level Tags.
# When Tags holds a reference to a resource not yet created, the engine shows the whole
# property as unknown (null, after_unknown.Tags true): it is not judged then (only the
# values can be unknown, the keys are written in the spec).
# Taggable: a type in `taggable_types` below, or any resource whose properties have a Tags
# (or tags) key. Extend the list when you use other taggable types.

package rkit.examples.required_tags

import rego.v1

enforcement := "mandatory"

required := ["owner", "cost-center"]

taggable_types := {
	# awscc (CloudFormation names)
	"AWS::EC2::Instance", "AWS::EC2::Volume", "AWS::EC2::SecurityGroup", "AWS::EC2::VPC",
	"AWS::EC2::Subnet", "AWS::EC2::InternetGateway", "AWS::EC2::RouteTable",
	"AWS::EC2::LaunchTemplate", "AWS::S3::Bucket", "AWS::RDS::DBInstance",
	"AWS::RDS::DBCluster", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SNS::Topic",
	"AWS::IAM::Role", "AWS::Lambda::Function", "AWS::KMS::Key", "AWS::ECS::Cluster",
	"AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancingV2::TargetGroup",
	# the aws provider
	"Vpc", "Subnet", "InternetGateway", "RouteTable", "SecurityGroup", "Instance", "Volume",
	"LoadBalancer", "TargetGroup", "Bucket",
}

changing(rc) if {
	some action in rc.change.actions
	action in {"create", "update"}
	is_object(rc.change.after)
}

taggable(rc) if {
	rc.type in taggable_types
	not tags_unknown(rc)
}

tags_unknown(rc) if rc.change.after_unknown.Tags == true

tags_unknown(rc) if rc.change.after_unknown.tags == true

taggable(rc) if {
	some key, _ in rc.change.after
	key in {"Tags", "tags"}
	not tags_unknown(rc)
}

# Every [key, value] tag of a change, from all the places tags may be.
# The tags a change carries, key to value: its Tags property (a list of {"Key", "Value"} or a
# map) and rkit's own `tags` beside the change (the spec's resource tags).
present(rc, field) := object.union(listed(object.get(rc.change.after, field, null)), spec_tags(rc))

listed(v) := {t.Key: object.get(t, "Value", null) | some t in v; is_object(t); is_string(t.Key)} if is_array(v)

listed(v) := v if is_object(v)

listed(v) := {} if {
	not is_array(v)
	not is_object(v)
}

spec_tags(rc) := tags if {
	tags := rc.tags
	is_object(tags)
} else := {}

tags_field(rc) := "tags" if lower_case_tags(rc)

tags_field(rc) := "Tags" if not lower_case_tags(rc)

lower_case_tags(rc) if {
	keys := object.keys(rc.change.after)
	not "Tags" in keys
	"tags" in keys
}

filled(value) if {
	is_string(value)
	trim_space(value) != ""
}

filled(value) if value == null

deny contains finding if {
	some rc in input.resource_changes
	changing(rc)
	taggable(rc)
	field := tags_field(rc)
	tags := present(rc, field)
	some key in required
	finding := problem(rc, field, tags, key)
}

problem(rc, field, tags, key) := {
	"msg": sprintf("%s: %s has no %s tag (required: %s)", [rc.name, field, key, concat(", ", required)]),
	"resource": rc.name,
	"field": field,
} if not key in object.keys(tags)

problem(rc, field, tags, key) := {
	"msg": sprintf("%s: %s tag %s has an empty value", [rc.name, field, key]),
	"resource": rc.name,
	"field": sprintf("%s.%s", [field, key]),
} if {
	value := tags[key]
	not filled(value)
}
