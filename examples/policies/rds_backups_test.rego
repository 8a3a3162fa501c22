package rkit.examples.rds_backups

import rego.v1

mock(name, type, after) := {
	"address": name,
	"name": name,
	"type": type,
	"plugin": "awscc",
	"change": {"actions": ["create"], "before": null, "after": after, "after_unknown": {}, "sensitive": []},
}

test_a_well_protected_database_raises_no_warning if {
	inp := {"resource_changes": [
		mock("Db", "AWS::RDS::DBInstance", {"BackupRetentionPeriod": 14, "DeletionProtection": true}),
		mock("Cluster", "AWS::RDS::DBCluster", {"BackupRetentionPeriod": "7", "DeletionProtection": true}),
	]}
	count(warn) == 0 with input as inp
}

test_the_default_retention_and_no_protection_are_warned_about if {
	inp := {"resource_changes": [mock("Db", "AWS::RDS::DBInstance", {"Engine": "postgres"})]}
	found := warn with input as inp
	count(found) == 2
	msgs := {f.msg | some f in found}
	"Db: BackupRetentionPeriod is 1 day(s): keep automated backups for at least 7 days" in msgs
	"Db: DeletionProtection is not true: the database can be deleted by one API call" in msgs
	{f.field | some f in found} == {"BackupRetentionPeriod", "DeletionProtection"}
}

test_a_short_retention_is_warned_about if {
	inp := {"resource_changes": [mock("Cluster", "AWS::RDS::DBCluster", {"BackupRetentionPeriod": 3, "DeletionProtection": true})]}
	found := warn with input as inp
	count(found) == 1
	some f in found
	f.msg == "Cluster: BackupRetentionPeriod is 3 day(s): keep automated backups for at least 7 days"
}

test_aurora_members_are_left_to_their_cluster if {
	inp := {"resource_changes": [mock("Member", "AWS::RDS::DBInstance", {"DBClusterIdentifier": "main"})]}
	count(warn) == 0 with input as inp
}
