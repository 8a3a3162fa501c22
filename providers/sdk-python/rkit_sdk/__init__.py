"""rkit-sdk for Python: write an rkit provider as a class per resource type.

    from dataclasses import dataclass
    from rkit_sdk import Provider, Resource, Created, Observed, Error, prop, export

    @dataclass
    class NoteProperties:
        text: str = prop("What the note says")

    class Note(Resource):
        TYPE = "Note"
        Properties = NoteProperties
        ...

    class Notes(Provider):
        NAME = "notes"
        TYPES = [Note]

    Resources = export(Notes)   # the component's exports (componentize-py looks for this name)

See providers/sdk-python/README.md for the guide, and providers/etcd for a real provider.
"""

from .errors import Error, KINDS
from .provider import (
    Capabilities,
    Created,
    Diagnostic,
    NoConfig,
    Observed,
    Provider,
    Resource,
)
from .schema import prop


def export(provider_class: type):
    """The class componentize-py exports as `resources` for `provider_class`. Outside a
    component (tests on CPython, where the bindings do not exist) it is `None`: test the
    provider through `rkit_sdk.testing.Dispatch`."""
    try:
        from ._exports import exports_for
    except ImportError:
        return None
    return exports_for(provider_class)


__all__ = [
    "Capabilities",
    "Created",
    "Diagnostic",
    "Error",
    "KINDS",
    "NoConfig",
    "Observed",
    "Provider",
    "Resource",
    "export",
    "prop",
]
