#!/usr/bin/env python3
"""Generates providers/awscc/schemas/us-east-1.json.gz: what the `awscc` provider needs of
each CloudFormation resource type Cloud Control can provision, from the CloudFormation
resource provider schemas (never hand-copied).

Source (pinned in requirements.txt beside this file): cfn-lint's copy of the schemas AWS
publishes per region (`cfnlint/data/schemas/providers/<region>.json` maps each type name to
`cfnlint/data/schemas/resources/<hash>.json`; `version.json` holds the schema date). MIT-0.

What is kept, per type offered (a type is offered when its schema has `create`, `read` and
`delete` handlers: Cloud Control provisions only those; one without `update` is immutable):
- `TypeName`, the handlers present;
- the properties and definitions as JSON Schema, without prose (`description`, `title`,
  `examples`, `$comment`) and without keywords rkit does not read (`relationshipRef`, ...);
- `required`, `primaryIdentifier`, `additionalIdentifiers`, `createOnlyProperties`,
  `conditionalCreateOnlyProperties`, `readOnlyProperties`, `writeOnlyProperties`,
  `replacementStrategy`, `propertyTransform` and the `tagging` metadata, as the schema has
  them.

The artifact is one JSON document, gzip-compressed deterministically (no name, no time):
{"Format": 1, "Region": ..., "SchemaDate": ..., "Source": "cfn-lint==X", "Types": [...]}, the
types sorted by name, keys sorted, so the same source always makes the same bytes.

Run (from the repository root):
    python3 -m venv /tmp/awscc && /tmp/awscc/bin/pip install --no-deps -r tools/awscc/requirements.txt
    /tmp/awscc/bin/python tools/awscc/generate.py
"""

import gzip
import importlib.util
import io
import json
import os
import sys

REGION = "us-east-1"
FORMAT = 1

# JSON Schema keywords the provider reads (validation, diffs, tags); every other keyword is
# left out of the artifact.
KEEP = {
    "type", "properties", "required", "additionalProperties", "patternProperties", "items",
    "$ref", "oneOf", "anyOf", "allOf", "enum", "const", "minLength", "maxLength", "minimum",
    "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "pattern", "minItems",
    "maxItems", "uniqueItems", "insertionOrder", "default", "format", "minProperties",
    "maxProperties", "dependencies", "dependentRequired", "not",
    # CloudFormation's own: an enum matched whatever the case; an array kept in order or not.
    "enumCaseInsensitive", "arrayType",
}
# Keywords whose value is a schema, or a list of schemas: trimmed in turn.
SCHEMA_VALUED = {"items", "additionalProperties", "oneOf", "anyOf", "allOf", "not"}
# Keywords whose value maps names to schemas (`dependencies` may map a name to a list of
# names instead): each schema trimmed in turn. Every other kept keyword holds data (`default`,
# `const`, `enum`, `required`, `dependentRequired`, ...) and is copied as it is.
BY_NAME = {"properties", "patternProperties", "definitions", "dependencies"}
# Keywords of prose or of tools other than rkit: dropped without a word. Any other keyword
# not in KEEP is dropped too, and counted in the summary.
PROSE = {"description", "title", "examples", "$comment", "markdownDescription"}
# What the schema says of the type as a whole, kept as it is.
TYPE_KEYS = (
    "required", "primaryIdentifier", "additionalIdentifiers", "createOnlyProperties",
    "conditionalCreateOnlyProperties", "readOnlyProperties", "writeOnlyProperties",
    "replacementStrategy", "tagging", "propertyTransform",
)


def trim(schema, dropped):
    """The schema with only the KEEP keywords, recursively through the keywords whose values
    are schemas; data-valued keywords are copied verbatim, whatever keys their data has."""
    if isinstance(schema, list):
        return [trim(s, dropped) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in BY_NAME and isinstance(value, dict):
            out[key] = {name: trim(v, dropped) for name, v in value.items()}
        elif key in SCHEMA_VALUED:
            out[key] = trim(value, dropped)
        elif key in KEEP:
            out[key] = value
        elif key not in PROSE:
            dropped[key] = dropped.get(key, 0) + 1
    return out


def schemas_dir():
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("cfn-lint is not installed: see this file's header for how to run it")
    return os.path.join(list(spec.submodule_search_locations)[0], "data", "schemas")


def load(base, region):
    """Every type of `region`: (name, schema)."""
    with open(os.path.join(base, "providers", f"{region}.json")) as f:
        index = json.load(f)
    for name, digest in sorted(index.items()):
        with open(os.path.join(base, "resources", f"{digest}.json")) as f:
            yield name, json.load(f)


def entry(name, schema, dropped):
    """What the provider needs of one type, or None when Cloud Control cannot provision it."""
    handlers = schema.get("handlers") or {}
    if not all(h in handlers for h in ("create", "read", "delete")):
        return None
    if schema.get("typeName", name) != name:
        sys.exit(f"{name}: its schema names {schema.get('typeName')}")
    out = {
        "TypeName": name,
        "Handlers": sorted(handlers),
        "Properties": {p: trim(s, dropped) for p, s in schema.get("properties", {}).items()},
        "Definitions": {d: trim(s, dropped) for d, s in schema.get("definitions", {}).items()},
    }
    for key in TYPE_KEYS:
        if key in schema:
            out[key] = schema[key]
    if not out.get("primaryIdentifier"):
        sys.exit(f"{name}: no primaryIdentifier")
    return out


def main():
    base = schemas_dir()
    with open(os.path.join(base, "version.json")) as f:
        schema_date = json.load(f)["schema_date"]
    from importlib.metadata import version

    dropped, types, skipped = {}, [], 0
    for name, schema in load(base, REGION):
        e = entry(name, schema, dropped)
        if e is None:
            skipped += 1
        else:
            types.append(e)
    doc = {
        "Format": FORMAT,
        "Region": REGION,
        "SchemaDate": schema_date,
        "Source": f"cfn-lint=={version('cfn-lint')}",
        "Types": types,
    }
    raw = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    out = os.path.join(os.path.dirname(__file__), "..", "..", "providers", "awscc", "schemas")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{REGION}.json.gz")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as z:
        z.write(raw)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    immutable = sum(1 for t in types if "update" not in t["Handlers"])
    print(
        f"{os.path.normpath(path)}: {len(types)} types offered ({immutable} immutable), "
        f"{skipped} left out (no create, read or delete handler); schemas of {schema_date}; "
        f"{len(raw)} bytes of JSON, {len(buf.getvalue())} compressed"
    )
    unread = ", ".join(f"{k} ({n})" for k, n in sorted(dropped.items(), key=lambda x: -x[1])[:12])
    print(f"keywords left out: {unread}")


if __name__ == "__main__":
    main()
