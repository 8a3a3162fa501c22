package rkit.examples.blast_radius

import rego.v1

mock(name, actions) := {
	"address": name,
	"name": name,
	"type": "AWS::EC2::Instance",
	"plugin": "awscc",
	"change": {"actions": actions, "before": {}, "after": null, "after_unknown": {}, "sensitive": []},
}

test_five_deletes_are_allowed if {
	inp := {"resource_changes": [
		mock("A", ["delete"]), mock("B", ["delete"]), mock("C", ["delete"]),
		mock("D", ["delete", "create"]), mock("E", ["create", "delete"]),
		mock("F", ["create"]), mock("G", ["update"]), mock("H", ["no-op"]),
	]}
	count(deny) == 0 with input as inp
}

test_six_deletes_or_replacements_are_denied if {
	inp := {"resource_changes": [
		mock("Web[1]", ["delete"]), mock("Web[0]", ["delete"]), mock("Db", ["delete", "create"]),
		mock("Cache", ["create", "delete"]), mock("Queue", ["delete"]), mock("Topic", ["delete"]),
		mock("New", ["create"]),
	]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.msg == "this plan deletes or replaces 6 resources, more than the 5 allowed at once: Cache, Db, Queue, Topic, Web[0], Web[1]"
	not f.resource
}

test_an_empty_plan_is_fine if {
	count(deny) == 0 with input as {"resource_changes": []}
}
