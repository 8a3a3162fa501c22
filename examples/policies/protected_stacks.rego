# Protected stacks: no resource may be created, changed, replaced or deleted in a stack on
# the protected list. Reads and converge ticks (every action "no-op") pass, so drift is
# still reported by the other policies.
#
# Why: some stacks (the core network, DNS, the organisation's audit logging) change only
# through a separate, reviewed process. Mandatory: to change such a stack, remove it from
# `protected` in a reviewed commit, apply, and put it back.

package rkit.examples.protected_stacks

import rego.v1

enforcement := "mandatory"

protected := {"core-network", "dns", "audit-logging"}

passive_actions := {["no-op"], ["read"]}

deny contains finding if {
	input.stack in protected
	some rc in input.resource_changes
	not rc.change.actions in passive_actions
	finding := {
		"msg": sprintf("%s: stack %s is protected: this change (%s) is not allowed", [rc.name, input.stack, concat(", then ", rc.change.actions)]),
		"resource": rc.name,
	}
}
