"""The __NAME__ provider: one resource type, `Greeting`, to start from.

Replace what `Greeting` does with real calls (`rkit_sdk.http.request` reaches what the user
grants in `Grants.Http`), add types to `TYPES`, and run `./build.sh`.
"""

from dataclasses import dataclass

from rkit_sdk import Capabilities, Created, Observed, Provider, Resource, export, prop


@dataclass
class GreetingProperties:
    name: str = prop("Who to greet (a new name makes a new greeting)")
    punctuation: str = prop("How it ends", default="!")


@dataclass
class GreetingAttributes:
    text: str = prop("The greeting")


class Greeting(Resource):
    TYPE = "Greeting"
    DESCRIPTION = "A greeting that exists only in rkit's state"
    Properties = GreetingProperties
    Attributes = GreetingAttributes
    FORCE_NEW = ["Name"]

    def text(self, p: GreetingProperties) -> GreetingAttributes:
        return GreetingAttributes(text=f"Hello, {p.name}{p.punctuation}")

    def create(self, p, tags, token):
        # A real provider passes `token` where its API takes an idempotency token.
        return Created(id=f"greeting-{token[:12]}", attributes=self.text(p))

    def read(self, id, p):
        return Observed(id=id, properties=p, attributes=self.text(p))

    def update(self, id, old, new, tags):
        return self.text(new)

    def delete(self, id, p):
        pass


class __CLASS__(Provider):
    NAME = "__NAME__"
    VERSION = "0.1.0"
    DESCRIPTION = "The __NAME__ provider"
    CAPABILITIES = Capabilities(memory_mib=64)
    TYPES = [Greeting]


Resources = export(__CLASS__)
