package rkit.examples.allowed_regions

import rego.v1

mock_provider(region) := {
	"source": "awscc.wasm",
	"name": "awscc",
	"version": "0.1.0",
	"config": {"Region": region},
	"capabilities": {"http_hosts": [], "api_actions": [], "filesystem": false},
}

test_an_approved_region_is_allowed if {
	count(deny) == 0 with input as {"resource_changes": [], "providers": {"awscc": mock_provider("eu-west-1")}}
}

test_another_region_is_denied if {
	inp := {"resource_changes": [], "providers": {"awscc": mock_provider("eu-west-1"), "tokyo": mock_provider("ap-northeast-1")}}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.resource == "tokyo"
	f.field == "config.Region"
	f.msg == "provider tokyo: config.Region ap-northeast-1 is not an approved region (approved: eu-west-1, us-east-1, us-west-2)"
}

test_a_provider_without_a_region_is_not_checked if {
	inp := {"providers": {"local": {"name": "local", "config": {}}, "null": {"name": "null"}}}
	count(deny) == 0 with input as inp
}

test_availability_zones_must_be_in_an_approved_region if {
	inp := {"providers": {}, "resource_changes": [
		{"name": "PublicA", "type": "Subnet", "change": {"actions": ["create"], "after": {"AvailabilityZone": "us-east-1a"}}},
		{"name": "Edge", "type": "Subnet", "change": {"actions": ["create"], "after": {"AvailabilityZone": "us-west-2-lax-1a"}}},
		{"name": "Far", "type": "Subnet", "change": {"actions": ["create"], "after": {"AvailabilityZone": "sa-east-1b"}}},
		{"name": "Tricky", "type": "Subnet", "change": {"actions": ["create"], "after": {"AvailabilityZone": "us-east-10a"}}},
		{"name": "Later", "type": "Volume", "change": {"actions": ["create"], "after": {"AvailabilityZone": null}, "after_unknown": {"AvailabilityZone": true}}},
		{"name": "Gone", "type": "Subnet", "change": {"actions": ["delete"], "before": {"AvailabilityZone": "sa-east-1a"}, "after": null}},
	]}
	found := deny with input as inp
	count(found) == 2
	{f.resource | some f in found} == {"Far", "Tricky"}
	some f in found
	f.resource == "Far"
	f.field == "AvailabilityZone"
	f.msg == "Far: AvailabilityZone sa-east-1b is not in an approved region (approved: eu-west-1, us-east-1, us-west-2)"
}
