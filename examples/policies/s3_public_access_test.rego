package rkit.examples.s3_public_access

import rego.v1

mock_bucket(name, after) := {
	"address": name,
	"name": name,
	"type": "AWS::S3::Bucket",
	"plugin": "awscc",
	"change": {"actions": ["create"], "before": null, "after": after, "after_unknown": {}, "sensitive": []},
}

all_blocked := {
	"BlockPublicAcls": true,
	"IgnorePublicAcls": true,
	"BlockPublicPolicy": true,
	"RestrictPublicBuckets": true,
}

test_a_fully_blocked_bucket_is_allowed if {
	inp := {"resource_changes": [mock_bucket("Logs", {"BucketName": "logs", "PublicAccessBlockConfiguration": all_blocked})]}
	count(deny) == 0 with input as inp
}

test_a_bucket_without_a_block_is_denied if {
	inp := {"resource_changes": [mock_bucket("Open", {"BucketName": "open"})]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.resource == "Open"
	f.field == "PublicAccessBlockConfiguration"
	startswith(f.msg, "Open: PublicAccessBlockConfiguration is not set")
}

test_each_missing_or_false_flag_is_denied if {
	config := {"BlockPublicAcls": true, "IgnorePublicAcls": false, "BlockPublicPolicy": true}
	inp := {"resource_changes": [mock_bucket("Half", {"PublicAccessBlockConfiguration": config})]}
	found := deny with input as inp
	count(found) == 2
	fields := {f.field | some f in found}
	fields == {"PublicAccessBlockConfiguration.IgnorePublicAcls", "PublicAccessBlockConfiguration.RestrictPublicBuckets"}
	msgs := {f.msg | some f in found}
	"Half: PublicAccessBlockConfiguration.IgnorePublicAcls must be true (it is false)" in msgs
	"Half: PublicAccessBlockConfiguration.RestrictPublicBuckets must be true (it is not set)" in msgs
}

test_a_public_canned_acl_is_denied if {
	inp := {"resource_changes": [mock_bucket("Site", {"PublicAccessBlockConfiguration": all_blocked, "AccessControl": "PublicRead"})]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.field == "AccessControl"
	f.msg == "Site: AccessControl PublicRead makes the bucket readable outside the account"
}

test_an_unknown_block_is_denied_with_its_own_message if {
	b := mock_bucket("Later", {"PublicAccessBlockConfiguration": null})
	inp := {"resource_changes": [object.union(b, {"change": {"after_unknown": {"PublicAccessBlockConfiguration": true}}})]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	contains(f.msg, "not known until apply")
}

test_a_block_switched_off_by_hand_is_caught_at_converge if {
	b := mock_bucket("Drift", {"PublicAccessBlockConfiguration": object.union(all_blocked, {"BlockPublicPolicy": false})})
	inp := {"rkit": {"operation": "converge"}, "resource_changes": [object.union(b, {"change": {"actions": ["no-op"], "before": b.change.after}})]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.field == "PublicAccessBlockConfiguration.BlockPublicPolicy"
}

test_deleting_a_bucket_is_not_this_policys_business if {
	inp := {"resource_changes": [{"name": "Old", "type": "AWS::S3::Bucket", "change": {"actions": ["delete"], "before": {"BucketName": "old"}, "after": null}}]}
	count(deny) == 0 with input as inp
}

test_the_aws_providers_bucket_type_is_checked if {
	inp := {"resource_changes": [{"name": "Raw", "type": "Bucket", "plugin": "aws", "change": {"actions": ["create"], "after": {"Bucket": "raw"}}}]}
	found := deny with input as inp
	count(found) == 1
}

test_other_types_are_ignored if {
	inp := {"resource_changes": [{"name": "Q", "type": "AWS::SQS::Queue", "change": {"actions": ["create"], "after": {"QueueName": "q"}}}]}
	count(deny) == 0 with input as inp
}
