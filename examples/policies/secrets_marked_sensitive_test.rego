package rkit.examples.secrets_marked_sensitive

import rego.v1

mock(name, after, sensitive) := {
	"address": name,
	"name": name,
	"type": "AWS::RDS::DBInstance",
	"plugin": "awscc",
	"change": {"actions": ["create"], "before": null, "after": after, "after_unknown": {}, "sensitive": sensitive},
}

test_a_masked_password_is_allowed if {
	inp := {"resource_changes": [mock("Db", {"MasterUsername": "app", "MasterUserPassword": "(sensitive)"}, ["MasterUserPassword"])]}
	count(deny) == 0 with input as inp
}

test_a_literal_password_is_denied if {
	inp := {"resource_changes": [mock("Db", {"MasterUsername": "app", "MasterUserPassword": "hunter2"}, [])]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.resource == "Db"
	f.field == "MasterUserPassword"
	f.msg == "Db: MasterUserPassword holds a literal secret that is not marked sensitive: pass it as a sensitive parameter instead"
}

test_a_policy_granted_secrets_sees_values_but_they_are_marked if {
	inp := {"resource_changes": [mock("Db", {"MasterUserPassword": "hunter2"}, ["MasterUserPassword"])]}
	count(deny) == 0 with input as inp
}

test_references_to_secrets_and_non_strings_are_ignored if {
	after := {
		"MasterUserSecret": {"SecretArn": "arn:aws:secretsmanager:…"},
		"SecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:x",
		"KmsKeyId": "alias/x",
		"ManageMasterUserPassword": true,
		"AccessTokenValidity": 60,
		"PasswordPolicyName": "strict",
		"AuthToken": null,
	}
	count(deny) == 0 with input as {"resource_changes": [mock("Db", after, [])]}
}

test_other_secret_names_are_caught if {
	after := {"SecretString": "s3cr3t", "ClientSecret": "abc", "ApiKey": "k"}
	found := deny with input as {"resource_changes": [mock("App", after, [])]}
	{f.field | some f in found} == {"SecretString", "ClientSecret", "ApiKey"}
}
