package rkit.examples.protected_stacks

import rego.v1

mock(name, actions) := {
	"address": name,
	"name": name,
	"type": "AWS::Route53::RecordSet",
	"plugin": "awscc",
	"change": {"actions": actions, "before": {}, "after": {}, "after_unknown": {}, "sensitive": []},
}

test_changes_to_a_protected_stack_are_denied if {
	inp := {"stack": "dns", "resource_changes": [mock("Www", ["update"]), mock("Api", ["delete", "create"]), mock("Mx", ["no-op"])]}
	found := deny with input as inp
	count(found) == 2
	{f.resource | some f in found} == {"Www", "Api"}
	some f in found
	f.resource == "Api"
	f.msg == "Api: stack dns is protected: this change (delete, then create) is not allowed"
}

test_a_converge_tick_on_a_protected_stack_passes if {
	inp := {"stack": "core-network", "rkit": {"operation": "converge"}, "resource_changes": [mock("Vpc", ["no-op"]), mock("Subnet", ["no-op"])]}
	count(deny) == 0 with input as inp
}

test_other_stacks_may_change if {
	inp := {"stack": "web", "resource_changes": [mock("Www", ["update"]), mock("Old", ["delete"])]}
	count(deny) == 0 with input as inp
}
