package rkit.examples.storage_encryption

import rego.v1

mock(name, type, after) := {
	"address": name,
	"name": name,
	"type": type,
	"plugin": "awscc",
	"change": {"actions": ["create"], "before": null, "after": after, "after_unknown": {}, "sensitive": []},
}

test_encrypted_volume_and_database_are_allowed if {
	inp := {"resource_changes": [
		mock("Data", "AWS::EC2::Volume", {"Size": 20, "Encrypted": true}),
		mock("Db", "AWS::RDS::DBInstance", {"Engine": "postgres", "StorageEncrypted": true}),
		mock("Cluster", "AWS::RDS::DBCluster", {"Engine": "aurora-postgresql", "StorageEncrypted": true}),
	]}
	count(deny) == 0 with input as inp
}

test_an_unencrypted_volume_is_denied if {
	inp := {"resource_changes": [mock("Data", "AWS::EC2::Volume", {"Size": 20})]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.resource == "Data"
	f.field == "Encrypted"
	f.msg == "Data: Encrypted must be true (it is not set): AWS::EC2::Volume data must be encrypted at rest"
}

test_the_aws_providers_volume_is_checked if {
	inp := {"resource_changes": [{"name": "Data", "type": "Volume", "plugin": "aws", "change": {"actions": ["create"], "after": {"Size": 20, "VolumeType": "gp3", "Encrypted": false}}}]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.msg == "Data: Encrypted must be true (it is false): Volume data must be encrypted at rest"
}

test_an_unencrypted_database_is_denied if {
	inp := {"resource_changes": [
		mock("Db", "AWS::RDS::DBInstance", {"Engine": "postgres", "StorageEncrypted": false}),
		mock("Cluster", "AWS::RDS::DBCluster", {"Engine": "aurora-mysql"}),
	]}
	found := deny with input as inp
	count(found) == 2
	{f.resource | some f in found} == {"Db", "Cluster"}
	{f.field | some f in found} == {"StorageEncrypted"}
}

test_an_aurora_cluster_member_is_left_to_its_cluster if {
	inp := {"resource_changes": [mock("Member", "AWS::RDS::DBInstance", {"Engine": "aurora-postgresql", "DBClusterIdentifier": "main"})]}
	count(deny) == 0 with input as inp
}

test_unknown_encryption_is_denied_and_says_so if {
	v := mock("Data", "AWS::EC2::Volume", {"Size": 20, "Encrypted": null})
	inp := {"resource_changes": [object.union(v, {"change": {"after_unknown": {"Encrypted": true}}})]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	contains(f.msg, "(it is unknown until apply)")
}

test_deletes_are_ignored if {
	inp := {"resource_changes": [{"name": "Old", "type": "AWS::EC2::Volume", "change": {"actions": ["delete"], "before": {"Size": 1}, "after": null}}]}
	count(deny) == 0 with input as inp
}
