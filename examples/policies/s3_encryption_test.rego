package rkit.examples.s3_encryption

import rego.v1

mock_bucket(name, after) := {
	"address": name,
	"name": name,
	"type": "AWS::S3::Bucket",
	"plugin": "awscc",
	"change": {"actions": ["create"], "before": null, "after": after, "after_unknown": {}, "sensitive": []},
}

kms := {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/data"}}]}

test_an_encrypted_bucket_is_allowed if {
	inp := {"resource_changes": [mock_bucket("Data", {"BucketEncryption": kms})]}
	count(deny) == 0 with input as inp
}

test_a_bucket_without_encryption_is_denied if {
	inp := {"resource_changes": [mock_bucket("Plain", {"BucketName": "plain"}), mock_bucket("Data", {"BucketEncryption": kms})]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.resource == "Plain"
	f.field == "BucketEncryption"
	f.msg == "Plain: BucketEncryption is not set: declare server-side encryption (AES256 or aws:kms)"
}

test_an_empty_configuration_is_denied if {
	inp := {"resource_changes": [mock_bucket("Empty", {"BucketEncryption": {"ServerSideEncryptionConfiguration": []}})]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.field == "BucketEncryption.ServerSideEncryptionConfiguration"
}

test_an_unknown_algorithm_is_denied if {
	enc := {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "ROT13"}}]}
	inp := {"resource_changes": [mock_bucket("Odd", {"BucketEncryption": enc})]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.field == "BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm"
	contains(f.msg, "SSEAlgorithm ROT13 is not one of")
}

test_encryption_known_only_after_apply_counts_as_set if {
	b := mock_bucket("Later", {"BucketEncryption": null})
	inp := {"resource_changes": [object.union(b, {"change": {"after_unknown": {"BucketEncryption": true}}})]}
	count(deny) == 0 with input as inp
}

test_encryption_removed_by_hand_is_caught_at_converge if {
	inp := {"rkit": {"operation": "converge"}, "resource_changes": [{"name": "Drift", "type": "AWS::S3::Bucket", "change": {"actions": ["no-op"], "before": {"BucketName": "d"}, "after": {"BucketName": "d"}}}]}
	found := deny with input as inp
	count(found) == 1
}

test_a_deleted_bucket_is_ignored if {
	inp := {"resource_changes": [{"name": "Gone", "type": "AWS::S3::Bucket", "change": {"actions": ["delete"], "before": {"BucketName": "g"}, "after": null}}]}
	count(deny) == 0 with input as inp
}
