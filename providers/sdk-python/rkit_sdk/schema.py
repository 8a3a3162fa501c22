"""Typed properties: dataclasses in, JSON Schema and field-named errors out.

A provider declares a resource type's properties (and attributes, and its configuration) as a
dataclass with type hints. This module turns one into the JSON Schema `describe` reports
(draft 2020-12), parses the engine's JSON into it, naming the property at fault on any error
(`Rules[2].Port: expected an integer`), and renders one back to JSON.

Invariants: field names are PascalCase in JSON (`lease_ttl` is `LeaseTtl`; a field's
`metadata={"name": ...}` overrides it), as the Rust SDK's `rename_all = "PascalCase"`; unknown
properties are refused (as `deny_unknown_fields`); `Optional[...]` fields and fields with a
default may be left out, every other one is required; `None` is never written out.
"""

import dataclasses
import types
import typing
from typing import Any, Optional

from .errors import Error


def prop(doc: str = "", name: Optional[str] = None, **kwargs) -> Any:
    """A dataclass field with a description (shown in the schema) and an optional JSON name."""
    metadata = {"doc": doc}
    if name:
        metadata["name"] = name
    return dataclasses.field(metadata=metadata, **kwargs)


def json_name(f: dataclasses.Field) -> str:
    """The JSON name of a dataclass field."""
    explicit = f.metadata.get("name") if f.metadata else None
    if explicit:
        return explicit
    return "".join(part[:1].upper() + part[1:] for part in f.name.split("_") if part)


def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _optional(hint) -> tuple:
    """(inner, True) for Optional[inner] / inner | None, else (hint, False)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


def _required(f: dataclasses.Field, hint) -> bool:
    has_default = (
        f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    )
    return not has_default and not _optional(hint)[1]


def schema(hint) -> dict:
    """The JSON Schema of a type hint (a dataclass, a scalar, a list, a dict, a Literal)."""
    inner, _ = _optional(hint)
    hint = inner
    if dataclasses.is_dataclass(hint):
        hints = _hints(hint)
        properties, required = {}, []
        for f in dataclasses.fields(hint):
            s = schema(hints[f.name])
            doc = f.metadata.get("doc") if f.metadata else None
            if doc:
                s = {**s, "description": doc}
            properties[json_name(f)] = s
            if _required(f, hints[f.name]):
                required.append(json_name(f))
        out = {"type": "object", "properties": properties, "additionalProperties": False}
        if required:
            out["required"] = required
        if hint.__doc__ and not hint.__doc__.startswith(hint.__name__ + "("):
            out["description"] = hint.__doc__.strip()
        return out
    origin = typing.get_origin(hint)
    if hint is str:
        return {"type": "string"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is Any:
        return {}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(hint))}
    if origin in (list, typing.List):
        (item,) = typing.get_args(hint) or (Any,)
        return {"type": "array", "items": schema(item)}
    if origin in (dict, typing.Dict):
        args = typing.get_args(hint)
        value = args[1] if len(args) == 2 else Any
        return {"type": "object", "additionalProperties": schema(value)}
    raise TypeError(f"rkit_sdk cannot describe the type {hint!r}")


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def parse(hint, value, path: str = ""):
    """`value` (parsed JSON) as `hint`; an `Error.invalid` naming the path on any mismatch."""
    inner, optional = _optional(hint)
    if value is None:
        if optional:
            return None
        raise Error.invalid(path, "must not be null")
    hint = inner
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise Error.invalid(path, f"expected an object, found {_kind(value)}")
        hints = _hints(hint)
        fields = {json_name(f): f for f in dataclasses.fields(hint)}
        for key in value:
            if key not in fields:
                known = ", ".join(fields) or "none"
                raise Error.invalid(
                    _at(path, key), f"unknown property {key!r} (known: {known})"
                )
        args = {}
        for name, f in fields.items():
            if name in value:
                args[f.name] = parse(hints[f.name], value[name], _at(path, name))
            elif _required(f, hints[f.name]):
                raise Error.invalid(_at(path, name), "missing (it is required)")
        return hint(**args)
    origin = typing.get_origin(hint)
    if hint is str:
        if not isinstance(value, str):
            raise Error.invalid(path, f"expected a string, found {_kind(value)}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise Error.invalid(path, f"expected a boolean, found {_kind(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise Error.invalid(path, f"expected an integer, found {_kind(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Error.invalid(path, f"expected a number, found {_kind(value)}")
        return float(value)
    if hint is Any:
        return value
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise Error.invalid(
                path, f"{value!r} is not one of {', '.join(repr(a) for a in allowed)}"
            )
        return value
    if origin in (list, typing.List):
        if not isinstance(value, list):
            raise Error.invalid(path, f"expected an array, found {_kind(value)}")
        (item,) = typing.get_args(hint) or (Any,)
        return [parse(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin in (dict, typing.Dict):
        if not isinstance(value, dict):
            raise Error.invalid(path, f"expected an object, found {_kind(value)}")
        args = typing.get_args(hint)
        item = args[1] if len(args) == 2 else Any
        return {k: parse(item, v, _at(path, k)) for k, v in value.items()}
    raise TypeError(f"rkit_sdk cannot parse the type {hint!r}")


def render(value):
    """A dataclass (or list, dict, scalar) as JSON-ready data, PascalCase, `None` left out."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if v is not None:
                out[json_name(f)] = render(v)
        return out
    if isinstance(value, list):
        return [render(v) for v in value]
    if isinstance(value, dict):
        return {k: render(v) for k, v in value.items()}
    return value
