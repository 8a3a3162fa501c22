# Every S3 bucket is encrypted at rest: BucketEncryption must be present, with at least one
# ServerSideEncryptionConfiguration rule whose ServerSideEncryptionByDefault names an
# algorithm (AES256, aws:kms or aws:kms:dsse).
#
# Why: S3 now encrypts new objects with SSE-S3 by default, but auditors (PCI DSS, SOC 2,
# HIPAA) want the encryption declared in code, and a KMS key is needed to control and log
# who can decrypt. Declaring it also stops a console change from silently removing it:
# every change that is not a pure delete is checked, so a converge tick catches drift.
#
# Applies to awscc `AWS::S3::Bucket` and the aws provider's `Bucket`. A BucketEncryption
# known only after apply (it names a KMS key created in the same plan) is set, so it passes
# here; the converge tick checks what was made.

package rkit.examples.s3_encryption

import rego.v1

enforcement := "mandatory"

bucket_types := {"AWS::S3::Bucket", "Bucket"}

algorithms := {"AES256", "aws:kms", "aws:kms:dsse"}

changes contains rc if {
	some rc in input.resource_changes
	rc.change.actions != ["delete"]
	is_object(rc.change.after)
}

buckets contains rc if {
	some rc in changes
	rc.type in bucket_types
}

deny contains finding if {
	some rc in buckets
	not is_object(rc.change.after.BucketEncryption)
	not rc.change.after_unknown.BucketEncryption == true
	finding := {
		"msg": sprintf("%s: BucketEncryption is not set: declare server-side encryption (AES256 or aws:kms)", [rc.name]),
		"resource": rc.name,
		"field": "BucketEncryption",
	}
}

deny contains finding if {
	some rc in buckets
	encryption := rc.change.after.BucketEncryption
	is_object(encryption)
	not has_rule(encryption)
	finding := {
		"msg": sprintf("%s: BucketEncryption.ServerSideEncryptionConfiguration has no rule with an SSEAlgorithm", [rc.name]),
		"resource": rc.name,
		"field": "BucketEncryption.ServerSideEncryptionConfiguration",
	}
}

deny contains finding if {
	some rc in buckets
	rules := rc.change.after.BucketEncryption.ServerSideEncryptionConfiguration
	is_array(rules)
	some i, rule in rules
	algorithm := rule.ServerSideEncryptionByDefault.SSEAlgorithm
	is_string(algorithm)
	not algorithm in algorithms
	finding := {
		"msg": sprintf("%s: BucketEncryption.ServerSideEncryptionConfiguration[%d].ServerSideEncryptionByDefault.SSEAlgorithm %s is not one of AES256, aws:kms, aws:kms:dsse", [rc.name, i, algorithm]),
		"resource": rc.name,
		"field": sprintf("BucketEncryption.ServerSideEncryptionConfiguration[%d].ServerSideEncryptionByDefault.SSEAlgorithm", [i]),
	}
}

has_rule(encryption) if {
	rules := encryption.ServerSideEncryptionConfiguration
	is_array(rules)
	some rule in rules
	is_string(rule.ServerSideEncryptionByDefault.SSEAlgorithm)
}

# An algorithm known only after apply (e.g. from another resource) counts as set.
has_rule(encryption) if {
	rules := encryption.ServerSideEncryptionConfiguration
	is_array(rules)
	some rule in rules
	is_object(rule.ServerSideEncryptionByDefault)
	object.get(rule.ServerSideEncryptionByDefault, "SSEAlgorithm", "") == null
}
