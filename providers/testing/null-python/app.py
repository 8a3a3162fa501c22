"""The `null` provider's `Null` type, in Python: no I/O, for measuring what a provider's
language costs (tests and host/benches/languages.rs compare it with the Rust `null`)."""

import os
from dataclasses import dataclass
from typing import Any, Optional

from rkit_sdk import Created, Observed, Provider, Resource, export, prop


@dataclass
class NullProperties:
    input: Optional[Any] = prop("Any value; a change updates in place", default=None)


@dataclass
class NullAttributes:
    output: Optional[Any] = prop("The input, as given", default=None)


class Null(Resource):
    TYPE = "Null"
    DESCRIPTION = "Nothing, with an ID"
    Properties = NullProperties
    Attributes = NullAttributes

    def create(self, p, tags, token):
        return Created(id=os.urandom(8).hex(), attributes=NullAttributes(output=p.input))

    def read(self, id, p):
        return Observed(id=id, properties=p, attributes=NullAttributes(output=p.input))

    def update(self, id, old, new, tags):
        return NullAttributes(output=new.input)

    def delete(self, id, p):
        pass


class NullPython(Provider):
    NAME = "null-python"
    VERSION = "0.1.0"
    DESCRIPTION = "Resources that do nothing, in Python: for benchmarks"
    TYPES = [Null]


Resources = export(NullPython)
