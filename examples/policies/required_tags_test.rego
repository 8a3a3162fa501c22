package rkit.examples.required_tags

import rego.v1

mock(name, type, actions, after) := {
	"address": name,
	"name": name,
	"type": type,
	"plugin": "awscc",
	"change": {"actions": actions, "before": null, "after": after, "after_unknown": {}, "sensitive": []},
}

good_tags := [{"Key": "owner", "Value": "web-team"}, {"Key": "cost-center", "Value": "cc-1234"}]

test_a_fully_tagged_resource_is_allowed if {
	inp := {"resource_changes": [mock("Web", "AWS::EC2::Instance", ["create"], {"InstanceType": "t3.micro", "Tags": good_tags})]}
	count(deny) == 0 with input as inp
}

test_a_missing_tag_is_denied if {
	inp := {"resource_changes": [mock("Web", "AWS::EC2::Instance", ["create"], {"InstanceType": "t3.micro", "Tags": [{"Key": "owner", "Value": "web-team"}]})]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.resource == "Web"
	f.field == "Tags"
	f.msg == "Web: Tags has no cost-center tag (required: owner, cost-center)"
}

test_a_taggable_type_without_any_tags_misses_both if {
	inp := {"resource_changes": [mock("Bucket", "AWS::S3::Bucket", ["update"], {"BucketName": "b"})]}
	found := deny with input as inp
	count(found) == 2
	{f.resource | some f in found} == {"Bucket"}
}

test_an_empty_value_is_denied if {
	tags := [{"Key": "owner", "Value": " "}, {"Key": "cost-center", "Value": "cc-1"}]
	inp := {"resource_changes": [mock("Q", "AWS::SQS::Queue", ["create"], {"Tags": tags})]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.field == "Tags.owner"
	f.msg == "Q: Tags tag owner has an empty value"
}

test_a_value_known_only_after_apply_counts_as_present if {
	tags := [{"Key": "owner", "Value": null}, {"Key": "cost-center", "Value": "cc-1"}]
	inp := {"resource_changes": [mock("Q", "AWS::SQS::Queue", ["create"], {"Tags": tags})]}
	count(deny) == 0 with input as inp
}

test_tags_as_a_map_are_understood if {
	inp := {"resource_changes": [
		mock("Tagged", "bucket", ["create"], {"tags": {"owner": "data", "cost-center": "cc-9"}}),
		mock("Partly", "bucket", ["create"], {"tags": {"owner": "data"}}),
	]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.resource == "Partly"
	f.field == "tags"
	f.msg == "Partly: tags has no cost-center tag (required: owner, cost-center)"
}

test_spec_level_tags_beside_the_change_count if {
	rc := mock("Net", "Vpc", ["create"], {"CidrBlock": "10.0.0.0/16"})
	inp := {"resource_changes": [object.union(rc, {"tags": {"owner": "net", "cost-center": "cc-2"}})]}
	count(deny) == 0 with input as inp
}

test_a_replacement_is_checked if {
	inp := {"resource_changes": [mock("Web", "AWS::EC2::Instance", ["delete", "create"], {"Tags": [{"Key": "cost-center", "Value": "cc"}]})]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	contains(f.msg, "no owner tag")
}

test_untouched_and_deleted_resources_are_not_checked if {
	inp := {"resource_changes": [
		mock("Old", "AWS::EC2::Instance", ["no-op"], {"InstanceType": "t3.micro"}),
		{"name": "Gone", "type": "AWS::EC2::Instance", "change": {"actions": ["delete"], "before": {}, "after": null}},
	]}
	count(deny) == 0 with input as inp
}

test_a_type_that_is_not_taggable_is_not_checked if {
	inp := {"resource_changes": [mock("Token", "RandomString", ["create"], {"Length": 32})]}
	count(deny) == 0 with input as inp
}

test_tags_known_only_after_apply_are_not_judged if {
	rc := mock("Table", "AWS::DynamoDB::Table", ["create"], {"TableName": "t", "Tags": null})
	inp := {"resource_changes": [object.union(rc, {"change": {"after_unknown": {"Tags": true}}})]}
	count(deny) == 0 with input as inp
}
