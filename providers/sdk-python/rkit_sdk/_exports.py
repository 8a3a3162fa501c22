"""The component's `resources` exports for a provider: WIT records in and out of `Dispatch`.

Imported only inside a component (it needs the bindings componentize-py generates); every
`Error` becomes the SPI's `error` record, and any other exception an `other` error naming the
operation and type (a provider's bug is reported, never a trap that kills the instance).
"""

from componentize_py_types import Err
from wit_world.imports import rkit_provider_types as t

from .errors import Error
from .provider import Dispatch

_KINDS = {
    "invalid-input": t.ErrorKind.INVALID_INPUT,
    "not-found": t.ErrorKind.NOT_FOUND,
    "conflict": t.ErrorKind.CONFLICT,
    "transient": t.ErrorKind.TRANSIENT,
    "denied": t.ErrorKind.DENIED,
    "other": t.ErrorKind.OTHER,
    "outcome-unknown": t.ErrorKind.OUTCOME_UNKNOWN,
}


def _wit_error(e: BaseException, what: str):
    if isinstance(e, Error):
        return Err(t.Error(kind=_KINDS[e.kind], message=e.message, field=e.field))
    return Err(t.Error(kind=t.ErrorKind.OTHER, message=f"{what}: {type(e).__name__}: {e}", field=None))


def _tags(tags) -> dict:
    return {tag.key: tag.value for tag in tags}


def _observed(o) -> "t.Observed":
    id, properties, attributes, tags = o
    return t.Observed(
        id=id,
        properties=properties,
        attributes=attributes,
        tags=[t.Tag(key=k, value=v) for k, v in sorted(tags.items())],
        pending=False,
    )


def exports_for(provider_class: type):
    dispatch = Dispatch(provider_class)

    def call(what: str, f, *args):
        try:
            return f(*args)
        except Exception as e:  # noqa: BLE001 -- every failure is reported as an SPI error
            raise _wit_error(e, what)

    class Resources:
        def describe(self):
            d = dispatch.describe()
            c = d["capabilities"]
            return t.ProviderInfo(
                name=d["name"],
                version=d["version"],
                description=d["description"],
                config_schema=d["config_schema"],
                types=[t.TypeInfo(**ty) for ty in d["types"]],
                capabilities=t.Capabilities(
                    http_hosts=list(c.http_hosts),
                    filesystem=c.filesystem,
                    memory_mib=c.memory_mib,
                    credentials=list(c.credentials),
                    api_actions=list(c.api_actions),
                    resource_types=list(c.resource_types),
                ),
            )

        def describe_types(self, names):
            found = call("describe-types", dispatch.describe_types, list(names))
            return [t.TypeInfo(**ty) for ty in found]

        def configure(self, config: str) -> None:
            call("configure", dispatch.configure, config)

        def validate(self, type_name: str, properties: str):
            severity = {"error": t.Severity.ERROR, "warning": t.Severity.WARNING}
            try:
                found = dispatch.validate(type_name, properties)
            except Exception as e:  # noqa: BLE001
                return [t.Diagnostic(severity=t.Severity.ERROR, field="", message=f"validate {type_name}: {e}")]
            return [
                t.Diagnostic(severity=severity.get(d.severity, t.Severity.ERROR), field=d.field, message=d.message)
                for d in found
            ]

        def create(self, type_name: str, properties: str, tags, token: str):
            id, attributes = call(f"create {type_name}", dispatch.create, type_name, properties, _tags(tags), token)
            return t.Created(id=id, attributes=attributes, pending=False)

        def read(self, type_name: str, id: str, properties: str):
            o = call(f"read {type_name}", dispatch.read, type_name, id, properties)
            return None if o is None else _observed(o)

        def read_many(self, type_name: str, requests):
            answers = call(
                f"read-many {type_name}", dispatch.read_many, type_name, [(r.id, r.properties) for r in requests]
            )
            out = []
            for answer in answers:
                if answer[0] == "found":
                    out.append(t.ReadAnswer_Found(_observed(answer[1])))
                elif answer[0] == "gone":
                    out.append(t.ReadAnswer_Gone())
                else:
                    out.append(t.ReadAnswer_Failed(_wit_error(answer[1], f"read {type_name}").value))
            return out

        def update(self, type_name: str, id: str, old_properties: str, new_properties: str, tags):
            return call(
                f"update {type_name}", dispatch.update, type_name, id, old_properties, new_properties, _tags(tags)
            )

        def delete(self, type_name: str, id: str, properties: str) -> None:
            call(f"delete {type_name}", dispatch.delete, type_name, id, properties)

        def list(self, type_name: str, tags):
            return [_observed(o) for o in call(f"list {type_name}", dispatch.list, type_name, _tags(tags))]

    return Resources
