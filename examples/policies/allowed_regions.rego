# Regions: every provider whose configuration names a `Region` must name an approved one,
# and every resource's `AvailabilityZone` must lie in an approved region.
#
# Why: data residency (GDPR, customer contracts) and cost control: the organisation runs,
# monitors and backs up only a few regions, and resources elsewhere escape guardrails,
# budgets and disaster-recovery plans. Change `allowed_regions` to your own list.
#
# A provider without Region in its configuration (the region then comes from the
# environment, or the provider is not regional) is not checked here; pin the region in the
# spec to have it checked.

package rkit.examples.allowed_regions

import rego.v1

enforcement := "mandatory"

allowed_regions := {"us-east-1", "us-west-2", "eu-west-1"}

allowed_list := sort([r | some r in allowed_regions])

deny contains finding if {
	some name, provider in input.providers
	is_object(provider.config)
	some key in ["Region", "region"]
	region := provider.config[key]
	not region in allowed_regions
	finding := {
		"msg": sprintf("provider %s: config.%s %s is not an approved region (approved: %s)", [name, key, shown(region), concat(", ", allowed_list)]),
		"resource": name,
		"field": sprintf("config.%s", [key]),
	}
}

deny contains finding if {
	some rc in input.resource_changes
	rc.change.actions != ["delete"]
	zone := rc.change.after.AvailabilityZone
	is_string(zone)
	not in_allowed_region(zone)
	finding := {
		"msg": sprintf("%s: AvailabilityZone %s is not in an approved region (approved: %s)", [rc.name, zone, concat(", ", allowed_list)]),
		"resource": rc.name,
		"field": "AvailabilityZone",
	}
}

# us-east-1a, and Local Zones such as us-east-1-bos-1a.
in_allowed_region(zone) if {
	some region in allowed_regions
	startswith(zone, region)
	rest := substring(zone, count(region), -1)
	regex.match(`^(-[a-z0-9-]+)?[a-z]$`, rest)
}

shown(v) := v if is_string(v)

shown(v) := sprintf("%v", [v]) if not is_string(v)
