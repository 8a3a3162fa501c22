# Database backups (advisory, warnings only): RDS DB instances and Aurora clusters should
# keep automated backups for at least 7 days (`BackupRetentionPeriod`, 1 day when not set)
# and have `DeletionProtection: true`.
#
# Why: one day of backups does not cover a bad migration found after a weekend, and
# deletion protection stops a console click or an API call from removing the database.
# Advisory, because short-lived test databases rightly skip both; production stacks
# usually make this mandatory.
#
# Applies to awscc `AWS::RDS::DBInstance` (not the members of an Aurora cluster: the cluster
# holds those settings) and `AWS::RDS::DBCluster`, on every change that is not a pure delete.

package rkit.examples.rds_backups

import rego.v1

enforcement := "advisory"

min_retention_days := 7

changes contains rc if {
	some rc in input.resource_changes
	rc.change.actions != ["delete"]
	is_object(rc.change.after)
	rc.type in {"AWS::RDS::DBInstance", "AWS::RDS::DBCluster"}
	not cluster_member(rc)
}

cluster_member(rc) if {
	rc.type == "AWS::RDS::DBInstance"
	is_string(rc.change.after.DBClusterIdentifier)
}

warn contains finding if {
	some rc in changes
	days := retention(rc.change.after)
	days < min_retention_days
	finding := {
		"msg": sprintf("%s: BackupRetentionPeriod is %v day(s): keep automated backups for at least %v days", [rc.name, days, min_retention_days]),
		"resource": rc.name,
		"field": "BackupRetentionPeriod",
	}
}

warn contains finding if {
	some rc in changes
	not rc.change.after.DeletionProtection == true
	not rc.change.after_unknown.DeletionProtection == true
	finding := {
		"msg": sprintf("%s: DeletionProtection is not true: the database can be deleted by one API call", [rc.name]),
		"resource": rc.name,
		"field": "DeletionProtection",
	}
}

# RDS's default is 1 day.
retention(after) := 1 if not "BackupRetentionPeriod" in object.keys(after)

retention(after) := after.BackupRetentionPeriod if is_number(after.BackupRetentionPeriod)

retention(after) := to_number(after.BackupRetentionPeriod) if {
	is_string(after.BackupRetentionPeriod)
	regex.match(`^[0-9]+$`, after.BackupRetentionPeriod)
}
