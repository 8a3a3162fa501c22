# Network exposure: no security group may open SSH (22/tcp) or RDP (3389/tcp+udp) to the
# whole internet (0.0.0.0/0, ::/0, or any other /0 CIDR).
#
# Why: admin ports reachable from anywhere are the most scanned and brute-forced services
# on the internet; reach instances through a bastion, SSM Session Manager or a VPN, or open
# the port to a known CIDR only.
#
# Checked shapes:
#   - awscc `AWS::EC2::SecurityGroup`: SecurityGroupIngress[i].{IpProtocol, FromPort,
#     ToPort, CidrIp, CidrIpv6};
#   - awscc `AWS::EC2::SecurityGroupIngress` (a standalone rule): the same keys, top level;
#   - the aws provider's `SecurityGroup`: IpPermissions[i].{IpProtocol, FromPort, ToPort,
#     IpRanges[j].CidrIp, Ipv6Ranges[j].CidrIpv6}.
# Port ranges count (FromPort..ToPort covering 22 opens 22); IpProtocol "-1" (or -1, "all")
# means every protocol and port; protocol numbers 6 and 17 are tcp and udp. A port that is
# missing, -1 or unknown until apply is taken as the whole range (it cannot be proven closed).
# Every change that is not a pure delete is checked, so a converge tick also catches a rule
# someone added by hand, and a rule list that was unknown at plan time (it referred to a
# resource not yet created: the engine then shows the whole property as null) is checked as
# soon as it is known.

package rkit.examples.sg_admin_ports

import rego.v1

enforcement := "mandatory"

admin_ports := [
	{"port": 22, "service": "SSH", "protocols": {"tcp"}},
	{"port": 3389, "service": "RDP", "protocols": {"tcp", "udp"}},
]

changes contains rc if {
	some rc in input.resource_changes
	rc.change.actions != ["delete"]
	is_object(rc.change.after)
}

# awscc: inline ingress rules of a security group.
deny contains finding if {
	some rc in changes
	rc.type == "AWS::EC2::SecurityGroup"
	rules := rc.change.after.SecurityGroupIngress
	is_array(rules)
	some i, rule in rules
	is_object(rule)
	some key in ["CidrIp", "CidrIpv6"]
	cidr := rule[key]
	world(cidr)
	some admin in admin_ports
	exposes(rule, admin)
	finding := {
		"msg": sprintf("%s: SecurityGroupIngress[%d] opens port %d (%s) to %s", [rc.name, i, admin.port, admin.service, cidr]),
		"resource": rc.name,
		"field": sprintf("SecurityGroupIngress[%d].%s", [i, key]),
	}
}

# awscc: a standalone ingress rule.
deny contains finding if {
	some rc in changes
	rc.type == "AWS::EC2::SecurityGroupIngress"
	rule := rc.change.after
	some key in ["CidrIp", "CidrIpv6"]
	cidr := rule[key]
	world(cidr)
	some admin in admin_ports
	exposes(rule, admin)
	finding := {
		"msg": sprintf("%s: %s %s opens port %d (%s) to the internet", [rc.name, key, cidr, admin.port, admin.service]),
		"resource": rc.name,
		"field": key,
	}
}

# The aws provider: EC2's IpPermissions shape.
deny contains finding if {
	some rc in changes
	rc.type == "SecurityGroup"
	perms := rc.change.after.IpPermissions
	is_array(perms)
	some i, perm in perms
	is_object(perm)
	some list, key in {"IpRanges": "CidrIp", "Ipv6Ranges": "CidrIpv6"}
	ranges := perm[list]
	is_array(ranges)
	some j, range in ranges
	is_object(range)
	cidr := range[key]
	world(cidr)
	some admin in admin_ports
	exposes(perm, admin)
	finding := {
		"msg": sprintf("%s: IpPermissions[%d].%s[%d] opens port %d (%s) to %s", [rc.name, i, list, j, admin.port, admin.service, cidr]),
		"resource": rc.name,
		"field": sprintf("IpPermissions[%d].%s[%d].%s", [i, list, j, key]),
	}
}

# A CIDR with prefix length 0: the whole address space.
world(cidr) if {
	is_string(cidr)
	parts := split(cidr, "/")
	count(parts) == 2
	trim_space(parts[1]) == "0"
}

protocol_names := {"-1": "all", "all": "all", "6": "tcp", "tcp": "tcp", "17": "udp", "udp": "udp"}

protocol(rule) := name if {
	is_string(rule.IpProtocol)
	key := lower(rule.IpProtocol)
	name := protocol_names[key]
}

protocol(rule) := name if {
	is_number(rule.IpProtocol)
	key := format_int(rule.IpProtocol, 10)
	name := protocol_names[key]
}

exposes(rule, _) if protocol(rule) == "all"

exposes(rule, admin) if {
	protocol(rule) in admin.protocols
	from_port(rule) <= admin.port
	admin.port <= to_port(rule)
}

from_port(rule) := p if {
	p := port_value(object.get(rule, "FromPort", null))
	p >= 0
}

from_port(rule) := 0 if not known_port(object.get(rule, "FromPort", null))

to_port(rule) := p if {
	p := port_value(object.get(rule, "ToPort", null))
	p >= 0
}

to_port(rule) := 65535 if not known_port(object.get(rule, "ToPort", null))

known_port(v) if port_value(v) >= 0

port_value(v) := v if is_number(v)

port_value(v) := to_number(v) if {
	is_string(v)
	regex.match(`^-?[0-9]+$`, v)
}
