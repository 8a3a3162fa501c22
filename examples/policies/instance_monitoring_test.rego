package rkit.examples.instance_monitoring

import rego.v1

mock(name, type, after) := {
	"address": name,
	"name": name,
	"type": type,
	"plugin": "awscc",
	"change": {"actions": ["create"], "before": null, "after": after, "after_unknown": {}, "sensitive": []},
}

test_monitored_resources_raise_no_warning if {
	inp := {"resource_changes": [
		mock("Web", "AWS::EC2::Instance", {"InstanceType": "t3.micro", "Monitoring": true}),
		mock("Db", "AWS::RDS::DBInstance", {"MonitoringInterval": 60}),
	]}
	count(warn) == 0 with input as inp
}

test_an_instance_without_monitoring_is_warned_about if {
	inp := {"resource_changes": [mock("Web[0]", "AWS::EC2::Instance", {"InstanceType": "t3.micro"})]}
	found := warn with input as inp
	count(found) == 1
	some f in found
	f.resource == "Web[0]"
	f.field == "Monitoring"
	f.msg == "Web[0]: Monitoring is not true: the instance only gets five-minute CloudWatch metrics"
}

test_a_database_without_enhanced_monitoring_is_warned_about if {
	inp := {"resource_changes": [
		mock("Db", "AWS::RDS::DBInstance", {"MonitoringInterval": 0}),
		mock("Db2", "AWS::RDS::DBInstance", {}),
	]}
	found := warn with input as inp
	count(found) == 2
	{f.field | some f in found} == {"MonitoringInterval"}
}

test_monitoring_switched_off_is_warned_about if {
	inp := {"resource_changes": [mock("Web", "AWS::EC2::Instance", {"Monitoring": false})]}
	found := warn with input as inp
	count(found) == 1
	some f in found
	f.resource == "Web"
}

test_the_aws_providers_instance_is_not_checked if {
	inp := {"resource_changes": [mock("Web", "Instance", {"InstanceType": "t3.micro"})]}
	count(warn) == 0 with input as inp
}
