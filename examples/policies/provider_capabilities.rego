# Provider capabilities: what a provider plugin may be granted. Checked whenever policies
# run, and in particular at provider approval (operation "approve"), when resource_changes
# is empty and only `providers` matters.
#   - api_actions: no wildcard over everything (`*`, `*:*`) and no `iam:*`: a provider that
#     can do anything in IAM can grant itself anything else;
#   - filesystem: no provider may ask for a host directory (capabilities.filesystem) or be
#     given one by the spec (grants.Filesystem);
#   - http hosts: each host a provider declares (capabilities.http_hosts) or the spec grants
#     it (grants.Http) must be an AWS endpoint (ends with `.amazonaws.com`) or the loopback
#     address 127.0.0.1 (local emulators).
#
# Why: providers are third-party code running with the operator's credentials. The WASM
# sandbox only enforces what was approved, so approval is where a platform team draws the
# line. Hosts are parsed (scheme, user info, port, path, query and fragment removed), so
# `https://evil.example/.amazonaws.com` or `https://x.amazonaws.com@evil.example` do not pass.

package rkit.examples.provider_capabilities

import rego.v1

enforcement := "mandatory"

forbidden_actions := {"*", "*:*", "iam:*"}

deny contains finding if {
	some name, provider in input.providers
	actions := provider.capabilities.api_actions
	is_array(actions)
	some i, action in actions
	is_string(action)
	lowered := lower(trim_space(action))
	lowered in forbidden_actions
	finding := {
		"msg": sprintf("provider %s: capabilities.api_actions[%d] is %s: a provider may not be granted every action%s", [name, i, action, iam_note(lowered)]),
		"resource": name,
		"field": sprintf("capabilities.api_actions[%d]", [i]),
	}
}

iam_note(action) := " in IAM (it could grant itself anything)" if action == "iam:*"

iam_note(action) := "" if action != "iam:*"

deny contains finding if {
	some name, provider in input.providers
	provider.capabilities.filesystem == true
	finding := {
		"msg": sprintf("provider %s: capabilities.filesystem is true: it asks for a host directory, and no provider may be given one", [name]),
		"resource": name,
		"field": "capabilities.filesystem",
	}
}

deny contains finding if {
	some name, provider in input.providers
	dir := provider.grants.Filesystem
	is_string(dir)
	finding := {
		"msg": sprintf("provider %s: grants.Filesystem gives it the host directory %s: no provider may be granted a host directory", [name, dir]),
		"resource": name,
		"field": "grants.Filesystem",
	}
}

deny contains finding if {
	some name, provider in input.providers
	some path in [["capabilities", "http_hosts"], ["grants", "Http"]]
	hosts := object.get(provider, path, null)
	is_array(hosts)
	some i, url in hosts
	not allowed_url(url)
	field := sprintf("%s.%s[%d]", [path[0], path[1], i])
	finding := {
		"msg": sprintf("provider %s: %s %s is neither an AWS endpoint (*.amazonaws.com) nor 127.0.0.1", [name, field, shown(url)]),
		"resource": name,
		"field": field,
	}
}

allowed_url(url) if {
	host := host_of(url)
	endswith(host, ".amazonaws.com")
}

allowed_url(url) if host_of(url) == "127.0.0.1"

# The host of `scheme://user@host:port/path?query#fragment` (scheme optional), lower-cased.
host_of(url) := host if {
	is_string(url)
	rest := without_scheme(url)
	authority := split(split(split(rest, "/")[0], "?")[0], "#")[0]
	at := split(authority, "@")
	host_port := at[count(at) - 1]
	host := lower(without_port(host_port))
}

without_scheme(url) := split(url, "://")[1] if contains(url, "://")

without_scheme(url) := url if not contains(url, "://")

# [::1]:8080 -> ::1 ; example.com:443 -> example.com
without_port(hp) := trim_prefix(split(hp, "]")[0], "[") if startswith(hp, "[")

without_port(hp) := split(hp, ":")[0] if not startswith(hp, "[")

shown(v) := v if is_string(v)

shown(v) := sprintf("%v", [v]) if not is_string(v)
