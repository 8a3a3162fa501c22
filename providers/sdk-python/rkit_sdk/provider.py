"""A provider and its resource types, independent of the component bindings.

A provider subclasses `Provider` once (name, version, configuration dataclass, capabilities,
types) and `Resource` per type (properties and attributes dataclasses, the five operations).
`Dispatch` does what every provider would otherwise repeat: find the type by name, parse the
JSON the engine sends into the type's dataclasses (errors name the property), call the
method, render the answer, and keep the SPI's conventions (wrapped properties, force-new,
create-before-destroy). `rkit_sdk.export` binds it to the component's exports.

Invariants: nothing here touches the environment (a provider knows only its configuration);
every answer is JSON text of the shapes the schemas describe; an exception that is not an
`Error` becomes an `other` error naming the type and operation, never a trap.
"""

import dataclasses
import json
from typing import Any, Dict, Generic, List, Optional, Tuple, TypeVar

from . import schema
from .errors import Error

A = TypeVar("A")


@dataclasses.dataclass
class Capabilities:
    """What the provider asks the host for; nothing is available unless the user grants it."""

    http_hosts: List[str] = dataclasses.field(default_factory=list)
    filesystem: bool = False
    memory_mib: int = 64
    credentials: List[str] = dataclasses.field(default_factory=list)
    api_actions: List[str] = dataclasses.field(default_factory=list)
    # The AWS Cloud Control types it creates, reads, changes or deletes: CloudFormation's
    # names (`AWS::IAM::Role`) or a namespace (`AWS::S3::*`, `AWS::*`). Since SPI 0.4.0.
    resource_types: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Created(Generic[A]):
    """What `create` returns: the new object's ID and computed attributes."""

    id: str
    attributes: A


@dataclasses.dataclass
class Observed:
    """A resource as it is now: ID, properties (a `Properties` instance), attributes, tags."""

    id: str
    properties: Any
    attributes: Any
    tags: Dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Diagnostic:
    """One finding of `validate`: `severity` is "error" or "warning"."""

    field: str
    message: str
    severity: str = "error"


@dataclasses.dataclass
class NoConfig:
    """A provider that takes no configuration."""


class Resource:
    """One resource type. Subclass it and set the class attributes, then implement create,
    read, update (unless every property is force-new), delete and list."""

    # The spec's `Type`: `Note`, or CloudFormation's `AWS::SQS::Queue` (SPI 0.4.0).
    TYPE: str = ""
    DESCRIPTION: str = ""
    Properties: type = NoConfig
    Attributes: type = NoConfig
    # Property paths whose change replaces the object: `Name`, `Export.Name` (a member of an
    # object), `Peers[*].Asn` (a member of each element of an array; nested since SPI 0.4.0).
    FORCE_NEW: List[str] = []
    CREATE_BEFORE_DESTROY: bool = False
    # InfraKit's wrapped form (`{"CreateKeyInput": {...}}`) is accepted too when set.
    PROPERTY_WRAPPER: Optional[str] = None
    # How many resources `read_many` takes in one call (rkit never sends more); 1: rkit reads
    # this type one by one with `read`.
    READ_BATCH: int = 1

    def __init__(self, provider: "Provider"):
        self.provider = provider

    def validate(self, properties) -> List[Diagnostic]:
        return []

    def create(self, properties, tags: Dict[str, str], token: str) -> Created:
        raise Error.other(f"{self.TYPE}: create is not implemented")

    def read(self, id: str, properties) -> Optional[Observed]:
        raise Error.other(f"{self.TYPE}: read is not implemented")

    def read_many(self, items: List[Tuple[str, object]]) -> List[object]:
        """Reads many resources at once: one answer per `(id, properties)`, in order: an
        `Observed`, `None` (gone) or an `Error` (that one failed). Raising fails the whole
        call (rkit retries the batch). The default calls `read` for each."""
        answers: List[object] = []
        for id, props in items:
            try:
                answers.append(self.read(id, props))
            except Error as e:
                answers.append(e)
        return answers

    def update(self, id: str, old, new, tags: Dict[str, str]):
        raise Error.other(f"{self.TYPE}: update is not implemented (mark its properties force-new)")

    def delete(self, id: str, properties) -> None:
        raise Error.other(f"{self.TYPE}: delete is not implemented")

    def list(self, tags: Dict[str, str]) -> List[Observed]:
        return []


class Provider:
    """A provider: subclass it, set the class attributes, implement `configure`."""

    NAME: str = ""
    VERSION: str = "0.1.0"
    DESCRIPTION: str = ""
    Config: type = NoConfig
    CAPABILITIES: Capabilities = Capabilities()
    TYPES: List[type] = []

    def configure(self, config) -> None:
        """Receives the parsed configuration (an instance of `Config`)."""


def _unwrap(value: Any, wrapper: Optional[str]):
    """Lifts the keys inside `wrapper` to the top level; which keys were wrapped."""
    if not wrapper or not isinstance(value, dict) or wrapper not in value:
        return value, []
    inner = value.pop(wrapper)
    if not isinstance(inner, dict):
        raise Error.invalid(wrapper, "must be an object")
    for key, v in inner.items():
        if key in value:
            raise Error.invalid(f"{wrapper}.{key}", f"{key} is set both inside {wrapper} and beside it")
        value[key] = v
    return value, list(inner)


def _rewrap(value: dict, wrapper: Optional[str], keys: List[str]) -> dict:
    if not wrapper or not keys:
        return value
    inner = {k: value.pop(k) for k in keys if k in value}
    value[wrapper] = inner
    return value


class Dispatch:
    """Runs SPI calls against a provider class: JSON in, JSON out, errors as `Error`."""

    def __init__(self, provider_class: type):
        self.provider = provider_class()
        self.types = {}
        for cls in provider_class.TYPES:
            if not cls.TYPE:
                raise TypeError(f"{cls.__name__} has no TYPE")
            self.types[cls.TYPE] = cls(self.provider)

    def _type(self, name: str) -> Resource:
        found = self.types.get(name)
        if found is None:
            known = ", ".join(self.types) or "none"
            raise Error.invalid("", f"{self.provider.NAME} has no resource type {name!r} (it has {known})")
        return found

    def _props(self, r: Resource, text: str):
        try:
            value = json.loads(text)
        except ValueError as e:
            raise Error.invalid("", f"the properties are not JSON: {e}")
        value, wrapped = _unwrap(value, r.PROPERTY_WRAPPER)
        try:
            return schema.parse(r.Properties, value), wrapped
        except Error as e:
            if r.PROPERTY_WRAPPER and e.field and e.field.split(".")[0].split("[")[0] in wrapped:
                raise Error.invalid(f"{r.PROPERTY_WRAPPER}.{e.field}", e.message)
            raise

    def describe(self) -> dict:
        p = self.provider
        return {
            "name": p.NAME,
            "version": p.VERSION,
            "description": p.DESCRIPTION,
            "config_schema": json.dumps(schema.schema(p.Config)),
            "types": [self._type_info(r) for r in self.types.values()],
            "capabilities": p.CAPABILITIES,
        }

    def describe_types(self, names: List[str]) -> List[dict]:
        """The named types whole, in the order asked: the same as `describe`'s, which already
        gives every type whole. An unknown name is an `invalid-input` error naming it."""
        return [self._type_info(self._type(name)) for name in names]

    def _type_info(self, r: Resource) -> dict:
        return {
            "name": r.TYPE,
            "description": r.DESCRIPTION,
            "properties_schema": json.dumps(schema.schema(r.Properties)),
            "attributes_schema": json.dumps(schema.schema(r.Attributes)),
            "force_new": list(r.FORCE_NEW),
            "create_before_destroy": r.CREATE_BEFORE_DESTROY,
            "read_batch": max(1, int(r.READ_BATCH)),
        }

    def configure(self, text: str) -> None:
        try:
            value = json.loads(text or "{}")
        except ValueError as e:
            raise Error.invalid("", f"the configuration is not JSON: {e}")
        self.provider.configure(schema.parse(self.provider.Config, value))

    def validate(self, type_name: str, text: str) -> List[Diagnostic]:
        try:
            r = self._type(type_name)
            props, _ = self._props(r, text)
            return list(r.validate(props))
        except Error as e:
            return [Diagnostic(field=e.field or "", message=e.message)]

    def create(self, type_name: str, text: str, tags: Dict[str, str], token: str):
        r = self._type(type_name)
        props, _ = self._props(r, text)
        created = r.create(props, tags, token)
        return created.id, json.dumps(schema.render(created.attributes))

    def read(self, type_name: str, id: str, text: str):
        r = self._type(type_name)
        props, wrapped = self._props(r, text)
        observed = r.read(id, props)
        return None if observed is None else self._observed(r, observed, wrapped)

    def read_many(self, type_name: str, requests: List[Tuple[str, str]]) -> List[Tuple]:
        """One answer per `(id, properties text)`: `("found", observed)`, `("gone",)` or
        `("failed", Error)`."""
        r = self._type(type_name)
        parsed: List[object] = []
        for _, text in requests:
            try:
                parsed.append(self._props(r, text))
            except Error as e:
                parsed.append(e)
        good = [(id, p[0]) for (id, _), p in zip(requests, parsed) if not isinstance(p, Error)]
        read = list(r.read_many(good))
        if len(read) != len(good):
            raise Error.other(f"{r.TYPE}.read_many returned {len(read)} answers for {len(good)} requests")
        answers = iter(read)
        out: List[Tuple] = []
        for p in parsed:
            answer = p if isinstance(p, Error) else next(answers)
            if isinstance(answer, Error):
                out.append(("failed", answer))
            elif answer is None:
                out.append(("gone",))
            else:
                out.append(("found", self._observed(r, answer, p[1])))
        return out

    def update(self, type_name: str, id: str, old: str, new: str, tags: Dict[str, str]) -> str:
        r = self._type(type_name)
        old_props, _ = self._props(r, old)
        new_props, _ = self._props(r, new)
        return json.dumps(schema.render(r.update(id, old_props, new_props, tags)))

    def delete(self, type_name: str, id: str, text: str) -> None:
        r = self._type(type_name)
        props, _ = self._props(r, text)
        r.delete(id, props)

    def list(self, type_name: str, tags: Dict[str, str]):
        r = self._type(type_name)
        return [self._observed(r, o, []) for o in r.list(tags)]

    def _observed(self, r: Resource, o: Observed, wrapped: List[str]):
        properties = _rewrap(schema.render(o.properties), r.PROPERTY_WRAPPER, wrapped)
        return (o.id, json.dumps(properties), json.dumps(schema.render(o.attributes)), dict(o.tags))
