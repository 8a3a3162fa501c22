package rkit.examples.protect_stateful

import rego.v1

mock(name, type, actions, before, after) := {
	"address": name,
	"name": name,
	"type": type,
	"plugin": "awscc",
	"change": {"actions": actions, "before": before, "after": after, "after_unknown": {}, "sensitive": []},
}

db := {"Engine": "postgres", "DBInstanceClass": "db.t3.medium", "StorageEncrypted": true}

test_updates_and_creates_are_allowed if {
	inp := {"resource_changes": [
		mock("Db", "AWS::RDS::DBInstance", ["update"], db, object.union(db, {"DBInstanceClass": "db.t3.large"})),
		mock("Table", "AWS::DynamoDB::Table", ["create"], null, {"TableName": "t"}),
		mock("Db2", "AWS::RDS::DBInstance", ["no-op"], db, db),
	]}
	count(deny) == 0 with input as inp
}

test_deleting_a_database_is_denied if {
	inp := {"rkit": {"operation": "destroy"}, "resource_changes": [mock("Db", "AWS::RDS::DBInstance", ["delete"], db, null)]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.resource == "Db"
	f.msg == "Db: this AWS::RDS::DBInstance would be deleted, and the data it holds with it"
}

test_a_replacement_is_denied_and_names_what_changed if {
	after := object.union(db, {"Engine": "mysql"})
	inp := {"resource_changes": [mock("Db", "AWS::RDS::DBInstance", ["delete", "create"], db, after)]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.msg == "Db: this AWS::RDS::DBInstance would be replaced (delete, then create), losing the data it holds; changed: Engine"
}

test_create_before_destroy_is_a_replacement_too if {
	inp := {"resource_changes": [mock("Items", "AWS::DynamoDB::Table", ["create", "delete"], {"TableName": "a"}, {"TableName": "b"})]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.msg == "Items: this AWS::DynamoDB::Table would be replaced (create, then delete), losing the data it holds; changed: TableName"
}

test_buckets_of_both_providers_are_protected if {
	inp := {"resource_changes": [
		mock("A", "AWS::S3::Bucket", ["delete"], {"BucketName": "a"}, null),
		mock("B", "Bucket", ["delete"], {"Bucket": "b"}, null),
	]}
	found := deny with input as inp
	{f.resource | some f in found} == {"A", "B"}
}

test_stateless_resources_may_go if {
	inp := {"resource_changes": [
		mock("Web", "AWS::EC2::Instance", ["delete"], {"InstanceType": "t3.micro"}, null),
		mock("Sg", "AWS::EC2::SecurityGroup", ["delete", "create"], {"GroupName": "a"}, {"GroupName": "b"}),
	]}
	count(deny) == 0 with input as inp
}

test_the_engines_replace_paths_name_the_cause if {
	rc := mock("Db", "AWS::RDS::DBInstance", ["delete", "create"], db, object.union(db, {"Engine": "mysql", "DBInstanceClass": "db.t3.large"}))
	inp := {"resource_changes": [object.union(rc, {"change": {"replace_paths": ["Engine"]}})]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.field == "Engine"
	f.msg == "Db: this AWS::RDS::DBInstance would be replaced (delete, then create) because Engine changes, losing the data it holds"
}
