# No public S3 bucket: every bucket must carry a PublicAccessBlockConfiguration that blocks
# all four ways a bucket becomes public (BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy,
# RestrictPublicBuckets all true), and must not use a public canned ACL (AccessControl
# PublicRead / PublicReadWrite / AuthenticatedRead).
#
# Why: a public bucket is the most common cause of cloud data leaks. Serve public content
# through CloudFront with an origin access control instead of opening the bucket.
#
# Applies to awscc `AWS::S3::Bucket` and the aws provider's `Bucket`, on every change that is
# not a pure delete (a converge tick also sees a block someone switched off in the console).
# A configuration that is unknown until apply is refused too: it cannot be checked, so set
# it literally.

package rkit.examples.s3_public_access

import rego.v1

enforcement := "mandatory"

bucket_types := {"AWS::S3::Bucket", "Bucket"}

block_flags := ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"]

public_acls := {"PublicRead", "PublicReadWrite", "AuthenticatedRead"}

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
	not is_object(rc.change.after.PublicAccessBlockConfiguration)
	not unknown(rc, "PublicAccessBlockConfiguration")
	finding := {
		"msg": sprintf("%s: PublicAccessBlockConfiguration is not set: the bucket can be made public (set all four of %s to true)", [rc.name, concat(", ", block_flags)]),
		"resource": rc.name,
		"field": "PublicAccessBlockConfiguration",
	}
}

deny contains finding if {
	some rc in buckets
	unknown(rc, "PublicAccessBlockConfiguration")
	finding := {
		"msg": sprintf("%s: PublicAccessBlockConfiguration is not known until apply, so it cannot be checked: set it literally", [rc.name]),
		"resource": rc.name,
		"field": "PublicAccessBlockConfiguration",
	}
}

deny contains finding if {
	some rc in buckets
	config := rc.change.after.PublicAccessBlockConfiguration
	is_object(config)
	some flag in block_flags
	object.get(config, flag, null) != true
	finding := {
		"msg": sprintf("%s: PublicAccessBlockConfiguration.%s must be true (it is %s)", [rc.name, flag, shown(object.get(config, flag, null))]),
		"resource": rc.name,
		"field": sprintf("PublicAccessBlockConfiguration.%s", [flag]),
	}
}

deny contains finding if {
	some rc in buckets
	acl := rc.change.after.AccessControl
	acl in public_acls
	finding := {
		"msg": sprintf("%s: AccessControl %s makes the bucket readable outside the account", [rc.name, acl]),
		"resource": rc.name,
		"field": "AccessControl",
	}
}

unknown(rc, prop) if rc.change.after_unknown[prop] == true

shown(v) := "not set" if v == null

shown(v) := "false" if v == false

shown(v) := sprintf("%v", [v]) if not v in {null, false}
