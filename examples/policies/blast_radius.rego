# Blast radius: one plan may delete or replace at most `max_deletes` resources.
#
# Why: a plan that removes many resources at once is usually a mistake: a renamed group, a
# spec file that lost a section, a parameter that changed every resource's name, or the
# wrong stack. Overridable, so a planned tear-down (`rkit destroy` included) goes ahead with
# `--override rkit.examples.blast_radius --reason "…"`, recorded in the state.
#
# Replacements count: they delete the old resource. The finding names no single resource
# (it is about the plan), so it has no `resource` or `field`; its message lists them all.

package rkit.examples.blast_radius

import rego.v1

enforcement := "overridable"

max_deletes := 5

deleted contains rc.name if {
	some rc in input.resource_changes
	"delete" in rc.change.actions
}

deny contains finding if {
	count(deleted) > max_deletes
	names := sort([name | some name in deleted])
	finding := {"msg": sprintf("this plan deletes or replaces %d resources, more than the %d allowed at once: %s", [count(deleted), max_deletes, concat(", ", names)])}
}
