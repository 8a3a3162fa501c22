# Monitoring (advisory, warnings only): EC2 instances should have detailed monitoring on
# (`Monitoring: true`, one-minute CloudWatch metrics) and RDS DB instances should have
# Enhanced Monitoring (`MonitoringInterval` of 1, 5, 10, 15, 30 or 60 seconds, not 0).
#
# Why: five-minute metrics are too coarse to autoscale on or to see a short CPU or I/O spike
# during an incident. It costs money, so it is advice rather than a rule: a warning never
# blocks a plan.
#
# Applies to awscc `AWS::EC2::Instance` and `AWS::RDS::DBInstance` (the aws provider's
# `Instance` has no Monitoring property, so it is not checked), on every change that is not
# a pure delete.

package rkit.examples.instance_monitoring

import rego.v1

enforcement := "advisory"

changes contains rc if {
	some rc in input.resource_changes
	rc.change.actions != ["delete"]
	is_object(rc.change.after)
}

warn contains finding if {
	some rc in changes
	rc.type == "AWS::EC2::Instance"
	not rc.change.after.Monitoring == true
	not rc.change.after_unknown.Monitoring == true
	finding := {
		"msg": sprintf("%s: Monitoring is not true: the instance only gets five-minute CloudWatch metrics", [rc.name]),
		"resource": rc.name,
		"field": "Monitoring",
	}
}

warn contains finding if {
	some rc in changes
	rc.type == "AWS::RDS::DBInstance"
	not enhanced_monitoring(rc.change.after)
	not rc.change.after_unknown.MonitoringInterval == true
	finding := {
		"msg": sprintf("%s: MonitoringInterval is 0 or not set: Enhanced Monitoring is off", [rc.name]),
		"resource": rc.name,
		"field": "MonitoringInterval",
	}
}

enhanced_monitoring(after) if {
	interval := after.MonitoringInterval
	is_number(interval)
	interval > 0
}
