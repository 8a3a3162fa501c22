# No plaintext secrets: a top-level property whose name says it holds a secret (Password,
# Secret, Token, PrivateKey, ApiKey, AccessKey…) and whose value is a literal string must be
# one the engine treats as sensitive, i.e. listed in the change's `sensitive` (and so
# masked as "(sensitive)" for policies that are not granted secrets).
#
# Why: a password typed into the spec ends up in version control, in plan output and in
# the state. Pass it as a sensitive parameter (or read it from a secret store) instead, and
# rkit masks it everywhere. Names ending in Arn, Id, Name, Type, Policy, Length, Enabled
# or Version refer to a secret rather than hold one, so they are left alone.

package rkit.examples.secrets_marked_sensitive

import rego.v1

enforcement := "mandatory"

secret_name := `(?i)(password|passwd|secret|token|privatekey|apikey|accesskey|credential)`

reference_name := `(?i)(arn|id|name|type|policy|length|enabled|version|rotation|period)$`

changes contains rc if {
	some rc in input.resource_changes
	rc.change.actions != ["delete"]
	is_object(rc.change.after)
}

deny contains finding if {
	some rc in changes
	some key, value in rc.change.after
	regex.match(secret_name, key)
	not regex.match(reference_name, key)
	is_string(value)
	value != ""
	value != "(sensitive)"
	not marked_sensitive(rc, key)
	finding := {
		"msg": sprintf("%s: %s holds a literal secret that is not marked sensitive: pass it as a sensitive parameter instead", [rc.name, key]),
		"resource": rc.name,
		"field": key,
	}
}

marked_sensitive(rc, key) if {
	sensitive := rc.change.sensitive
	is_array(sensitive)
	key in sensitive
}
