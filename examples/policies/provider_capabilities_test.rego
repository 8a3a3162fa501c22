package rkit.examples.provider_capabilities

import rego.v1

mock_provider(name, capabilities) := {
	"source": sprintf("%s.wasm", [name]),
	"name": name,
	"version": "0.1.0",
	"digest": "sha256:00",
	"config": {"Region": "us-east-1"},
	"capabilities": object.union(
		{"http_hosts": [], "api_actions": [], "credentials": [], "resource_types": [], "filesystem": false, "memory_mib": 0},
		capabilities,
	),
}

awscc := mock_provider("awscc", {
	"http_hosts": ["https://cloudcontrolapi.us-east-1.amazonaws.com"],
	"api_actions": ["cloudformation:CreateResource", "cloudformation:GetResource"],
	"credentials": ["aws"],
	"resource_types": ["AWS::*"],
})

test_a_scoped_provider_is_approved if {
	aws := mock_provider("aws", {"http_hosts": ["https://ec2.*.amazonaws.com", "https://elasticloadbalancing.*.amazonaws.com"], "api_actions": ["ec2:Describe*", "ec2:CreateVpc"]})
	local := mock_provider("emulated", {"http_hosts": ["http://127.0.0.1:4566"]})
	inp := {"rkit": {"operation": "approve"}, "resource_changes": [], "providers": {"awscc": awscc, "aws": aws, "emulated": local}}
	count(deny) == 0 with input as inp
}

test_wildcard_and_iam_actions_are_denied if {
	p := mock_provider("greedy", {"api_actions": ["s3:GetObject", "*", "IAM:*", "*:*", "iam:PassRole"]})
	found := deny with input as {"providers": {"greedy": p}}
	count(found) == 3
	{f.field | some f in found} == {"capabilities.api_actions[1]", "capabilities.api_actions[2]", "capabilities.api_actions[3]"}
	some f in found
	f.resource == "greedy"
	f.field == "capabilities.api_actions[2]"
	f.msg == "provider greedy: capabilities.api_actions[2] is IAM:*: a provider may not be granted every action in IAM (it could grant itself anything)"
}

test_a_filesystem_grant_is_denied if {
	p := mock_provider("local", {"filesystem": true})
	found := deny with input as {"providers": {"local": p}}
	count(found) == 1
	some f in found
	f.field == "capabilities.filesystem"
	f.msg == "provider local: capabilities.filesystem is true: it asks for a host directory, and no provider may be given one"
}

test_hosts_outside_aws_are_denied if {
	p := mock_provider("leaky", {"http_hosts": [
		"https://sts.amazonaws.com",
		"https://telemetry.example.com",
		"https://evil.example/.amazonaws.com",
		"https://s3.amazonaws.com@evil.example",
		"https://s3.amazonaws.com.evil.example:443",
		"http://127.0.0.2:4566",
		"http://localhost:4566",
		"https://[::1]:8443",
		"https://*",
	]})
	found := deny with input as {"providers": {"leaky": p}}
	count(found) == 8
	not "capabilities.http_hosts[0]" in {f.field | some f in found}
	some f in found
	f.field == "capabilities.http_hosts[1]"
	f.msg == "provider leaky: capabilities.http_hosts[1] https://telemetry.example.com is neither an AWS endpoint (*.amazonaws.com) nor 127.0.0.1"
}

test_host_parsing if {
	host_of("https://cloudcontrolapi.us-east-1.amazonaws.com") == "cloudcontrolapi.us-east-1.amazonaws.com"
	host_of("http://127.0.0.1:4566/path?q=1") == "127.0.0.1"
	host_of("HTTPS://User@S3.AMAZONAWS.COM:443#x") == "s3.amazonaws.com"
	host_of("[::1]:80") == "::1"
	host_of("example.com") == "example.com"
}

test_only_providers_matter_at_approval if {
	p := mock_provider("bad", {"filesystem": true})
	inp := {"rkit": {"operation": "approve"}, "resource_changes": [], "providers": {"awscc": awscc, "bad": p}}
	found := deny with input as inp
	{f.resource | some f in found} == {"bad"}
}

test_spec_grants_are_checked_too if {
	p := object.union(mock_provider("files", {}), {"grants": {"Filesystem": "out", "Http": ["https://ec2.us-east-1.amazonaws.com", "https://api.example.com"]}})
	found := deny with input as {"providers": {"files": p}}
	count(found) == 2
	{f.field | some f in found} == {"grants.Filesystem", "grants.Http[1]"}
	some f in found
	f.field == "grants.Http[1]"
	f.msg == "provider files: grants.Http[1] https://api.example.com is neither an AWS endpoint (*.amazonaws.com) nor 127.0.0.1"
}

test_empty_grants_are_fine if {
	p := object.union(awscc, {"grants": {}})
	count(deny) == 0 with input as {"providers": {"awscc": p}}
}
