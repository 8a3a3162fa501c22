package rkit.examples.sg_admin_ports

import rego.v1

mock_sg(name, rules) := {
	"address": name,
	"name": name,
	"type": "AWS::EC2::SecurityGroup",
	"plugin": "awscc",
	"change": {
		"actions": ["create"],
		"before": null,
		"after": {"GroupDescription": "test", "SecurityGroupIngress": rules},
		"after_unknown": {},
		"sensitive": [],
	},
}

test_ssh_open_to_ipv4_world_is_denied if {
	inp := {"resource_changes": [mock_sg("Ssh", [
		{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"},
		{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"},
	])]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.resource == "Ssh"
	f.field == "SecurityGroupIngress[1].CidrIp"
	f.msg == "Ssh: SecurityGroupIngress[1] opens port 22 (SSH) to 0.0.0.0/0"
}

test_rdp_open_to_ipv6_world_is_denied if {
	inp := {"resource_changes": [mock_sg("Rdp", [{"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "CidrIpv6": "::/0"}])]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.field == "SecurityGroupIngress[0].CidrIpv6"
	f.msg == "Rdp: SecurityGroupIngress[0] opens port 3389 (RDP) to ::/0"
}

test_a_port_range_covering_22_is_denied if {
	inp := {"resource_changes": [mock_sg("Range", [{"IpProtocol": "tcp", "FromPort": 20, "ToPort": 25, "CidrIp": "0.0.0.0/0"}])]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.resource == "Range"
}

test_all_protocols_opens_both_admin_ports if {
	inp := {"resource_changes": [mock_sg("All", [{"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}])]}
	found := deny with input as inp
	count(found) == 2
	msgs := {f.msg | some f in found}
	"All: SecurityGroupIngress[0] opens port 22 (SSH) to 0.0.0.0/0" in msgs
	"All: SecurityGroupIngress[0] opens port 3389 (RDP) to 0.0.0.0/0" in msgs
}

test_numeric_protocol_and_string_ports_are_understood if {
	inp := {"resource_changes": [mock_sg("Num", [{"IpProtocol": 6, "FromPort": "0", "ToPort": "1024", "CidrIp": "0.0.0.0/0"}])]}
	found := deny with input as inp
	count(found) == 1
}

test_udp_22_is_allowed_but_udp_3389_is_not if {
	inp := {"resource_changes": [mock_sg("Udp", [
		{"IpProtocol": "udp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"},
		{"IpProtocol": "udp", "FromPort": 3389, "ToPort": 3389, "CidrIp": "0.0.0.0/0"},
	])]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.field == "SecurityGroupIngress[1].CidrIp"
}

test_ssh_from_a_known_cidr_is_allowed if {
	inp := {"resource_changes": [mock_sg("Office", [
		{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "203.0.113.0/24"},
		{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"},
		{"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "CidrIp": "0.0.0.0/0"},
	])]}
	count(deny) == 0 with input as inp
}

test_a_deleted_group_is_not_checked if {
	sg := mock_sg("Gone", [{"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}])
	inp := {"resource_changes": [object.union(sg, {"change": {"actions": ["delete"], "before": sg.change.after, "after": null}})]}
	count(deny) == 0 with input as inp
}

test_drift_seen_at_converge_is_denied if {
	sg := mock_sg("Drifted", [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}])
	inp := {
		"rkit": {"operation": "converge"},
		"resource_changes": [object.union(sg, {"change": {"actions": ["no-op"], "before": sg.change.after}})],
	}
	found := deny with input as inp
	count(found) == 1
}

test_unknown_ports_count_as_the_whole_range if {
	inp := {"resource_changes": [mock_sg("Unknown", [{"IpProtocol": "tcp", "FromPort": null, "ToPort": null, "CidrIp": "0.0.0.0/0"}])]}
	found := deny with input as inp
	count(found) == 2
}

test_standalone_ingress_rule_is_denied if {
	inp := {"resource_changes": [{
		"name": "OpenSsh",
		"type": "AWS::EC2::SecurityGroupIngress",
		"change": {"actions": ["create"], "after": {"GroupId": "sg-1", "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}},
	}]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.msg == "OpenSsh: CidrIp 0.0.0.0/0 opens port 22 (SSH) to the internet"
	f.field == "CidrIp"
}

test_aws_provider_ip_permissions_are_checked if {
	inp := {"resource_changes": [{
		"name": "WebSecurityGroup",
		"type": "SecurityGroup",
		"plugin": "aws",
		"change": {"actions": ["update"], "after": {"GroupName": "web", "IpPermissions": [
			{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
			{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "203.0.113.0/24"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
		]}},
	}]}
	found := deny with input as inp
	count(found) == 1
	some f in found
	f.field == "IpPermissions[1].Ipv6Ranges[0].CidrIpv6"
	f.msg == "WebSecurityGroup: IpPermissions[1].Ipv6Ranges[0] opens port 22 (SSH) to ::/0"
}
