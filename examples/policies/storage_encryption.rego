# Block storage and databases are encrypted at rest: EBS volumes need `Encrypted: true`;
# RDS DB instances and Aurora clusters need `StorageEncrypted: true`.
#
# Why: encryption at rest is required by nearly every compliance framework, and it cannot
# be switched on later: an unencrypted volume or database has to be copied to a new,
# encrypted one (a replacement, with downtime). Account-level "EBS encryption by default"
# helps, but the spec should say so explicitly so the plan can be checked.
#
# Applies to: awscc `AWS::EC2::Volume`, `AWS::RDS::DBInstance`, `AWS::RDS::DBCluster`, and the
# aws provider's `Volume` (and `DBInstance` / `DBCluster` should it grow them). A DB instance
# that belongs to an Aurora cluster (DBClusterIdentifier set) is skipped: its cluster decides.
# Every change that is not a pure delete is checked (so drift shows at converge).

package rkit.examples.storage_encryption

import rego.v1

enforcement := "mandatory"

# type -> the property that must be true
encrypted_property := {
	"AWS::EC2::Volume": "Encrypted",
	"Volume": "Encrypted",
	"AWS::RDS::DBInstance": "StorageEncrypted",
	"DBInstance": "StorageEncrypted",
	"AWS::RDS::DBCluster": "StorageEncrypted",
	"DBCluster": "StorageEncrypted",
}

changes contains rc if {
	some rc in input.resource_changes
	rc.change.actions != ["delete"]
	is_object(rc.change.after)
}

deny contains finding if {
	some rc in changes
	prop := encrypted_property[rc.type]
	not cluster_member(rc)
	value := object.get(rc.change.after, prop, null)
	value != true
	finding := {
		"msg": sprintf("%s: %s must be true (it is %s): %s data must be encrypted at rest", [rc.name, prop, shown(rc, prop, value), rc.type]),
		"resource": rc.name,
		"field": prop,
	}
}

# An Aurora DB instance: encryption is the cluster's property.
cluster_member(rc) if {
	endswith(rc.type, "DBInstance")
	is_string(rc.change.after.DBClusterIdentifier)
}

cluster_member(rc) if {
	endswith(rc.type, "DBInstance")
	rc.change.after_unknown.DBClusterIdentifier == true
}

shown(rc, prop, _) := "unknown until apply" if rc.change.after_unknown[prop] == true

shown(rc, prop, value) := "not set" if {
	value == null
	not rc.change.after_unknown[prop] == true
}

shown(_, _, value) := sprintf("%v", [value]) if value != null
