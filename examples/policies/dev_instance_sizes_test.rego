package rkit.examples.dev_instance_sizes

import rego.v1

mock(name, type, after) := {
	"address": name,
	"name": name,
	"type": type,
	"plugin": "awscc",
	"change": {"actions": ["create"], "before": null, "after": after, "after_unknown": {}, "sensitive": []},
}

big := [
	mock("Web[0]", "AWS::EC2::Instance", {"InstanceType": "m5.xlarge"}),
	mock("Db", "AWS::RDS::DBInstance", {"DBInstanceClass": "db.r6g.2xlarge"}),
	mock("Lt", "AWS::EC2::LaunchTemplate", {"LaunchTemplateData": {"InstanceType": "c7g.metal"}}),
	mock("Raw", "Instance", {"InstanceType": "t3.xlarge"}),
]

test_large_and_smaller_are_allowed_in_dev if {
	inp := {"parameters": {"Env": "dev"}, "resource_changes": [
		mock("A", "AWS::EC2::Instance", {"InstanceType": "t3.large"}),
		mock("B", "AWS::EC2::Instance", {"InstanceType": "t4g.nano"}),
		mock("C", "AWS::RDS::DBInstance", {"DBInstanceClass": "db.t3.medium"}),
	]}
	count(deny) == 0 with input as inp
}

test_larger_than_large_is_denied_in_dev if {
	inp := {"parameters": {"Env": "dev"}, "resource_changes": big}
	found := deny with input as inp
	count(found) == 4
	{f.resource | some f in found} == {"Web[0]", "Db", "Lt", "Raw"}
	some f in found
	f.resource == "Web[0]"
	f.field == "InstanceType"
	f.msg == "Web[0]: InstanceType m5.xlarge is larger than *.large, the most a dev stack may use (allowed sizes: nano, micro, small, medium, large)"
}

test_the_field_names_the_nested_property if {
	inp := {"parameters": {"Env": "dev"}, "resource_changes": [big[2], big[1]]}
	found := deny with input as inp
	{f.field | some f in found} == {"LaunchTemplateData.InstanceType", "DBInstanceClass"}
}

test_other_environments_may_use_any_size if {
	count(deny) == 0 with input as {"parameters": {"Env": "prod"}, "resource_changes": big}
	count(deny) == 0 with input as {"resource_changes": big}
}

test_an_unknown_type_is_not_judged if {
	rc := mock("Web", "AWS::EC2::Instance", {"InstanceType": null})
	inp := {"parameters": {"Env": "dev"}, "resource_changes": [object.union(rc, {"change": {"after_unknown": {"InstanceType": true}}})]}
	count(deny) == 0 with input as inp
}

test_a_resize_by_hand_shows_at_converge if {
	rc := mock("Web", "AWS::EC2::Instance", {"InstanceType": "m5.4xlarge"})
	inp := {"parameters": {"Env": "dev"}, "resource_changes": [object.union(rc, {"change": {"actions": ["no-op"], "before": rc.change.after}})]}
	count(deny) == 1 with input as inp
}
