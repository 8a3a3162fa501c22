"""The SDK's pure parts, on CPython: schemas, parsing with field-named errors, rendering,
and dispatch (wrapped properties, unknown types, configuration, describe-types)."""

import json
import sys
import unittest
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Literal, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rkit_sdk import Capabilities, Created, Error, Observed, Provider, Resource, prop  # noqa: E402
from rkit_sdk import schema  # noqa: E402
from rkit_sdk.provider import Dispatch  # noqa: E402


@dataclass
class Rule:
    port: int = prop("The port")
    protocol: Literal["tcp", "udp"] = "tcp"


@dataclass
class GroupProperties:
    name: str = prop("The group's name")
    rules: List[Rule] = field(default_factory=list)
    labels: Dict[str, str] = field(default_factory=dict)
    max_size: Optional[int] = None
    cidr_block: str = prop("Where", name="CIDRBlock", default="10.0.0.0/8")


class SchemaTest(unittest.TestCase):
    def test_a_dataclass_describes_itself_in_pascal_case(self):
        s = schema.schema(GroupProperties)
        self.assertEqual(s["required"], ["Name"])
        self.assertEqual(list(s["properties"]), ["Name", "Rules", "Labels", "MaxSize", "CIDRBlock"])
        self.assertFalse(s["additionalProperties"])
        self.assertEqual(s["properties"]["Name"], {"type": "string", "description": "The group's name"})
        rule = s["properties"]["Rules"]["items"]
        self.assertEqual(rule["properties"]["Protocol"], {"enum": ["tcp", "udp"]})
        self.assertEqual(s["properties"]["Labels"], {"type": "object", "additionalProperties": {"type": "string"}})
        self.assertEqual(s["properties"]["MaxSize"], {"type": "integer"})

    def test_parse_names_the_property_at_fault(self):
        def error(value):
            with self.assertRaises(Error) as caught:
                schema.parse(GroupProperties, value)
            return caught.exception

        e = error({"Name": "web", "Rules": [{"Port": 80}, {"Port": "http"}]})
        self.assertEqual((e.kind, e.field), ("invalid-input", "Rules[1].Port"))
        self.assertEqual(e.message, "expected an integer, found a string")
        e = error({"Rules": []})
        self.assertEqual((e.field, e.message), ("Name", "missing (it is required)"))
        e = error({"Name": "web", "Colour": "red"})
        self.assertEqual(
            e.message,
            "unknown property 'Colour' (known: Name, Rules, Labels, MaxSize, CIDRBlock)",
        )
        e = error({"Name": "web", "Rules": [{"Port": 1, "Protocol": "icmp"}]})
        self.assertEqual(e.message, "'icmp' is not one of 'tcp', 'udp'")
        e = error({"Name": True})
        self.assertEqual(e.message, "expected a string, found a boolean")
        e = error({"Name": "web", "MaxSize": True})
        self.assertEqual(e.field, "MaxSize")

    def test_parse_and_render_round_trip(self):
        value = {"Name": "web", "Rules": [{"Port": 80, "Protocol": "tcp"}], "Labels": {"a": "b"}, "CIDRBlock": "10.1.0.0/16"}
        parsed = schema.parse(GroupProperties, value)
        self.assertEqual(parsed.rules[0].port, 80)
        self.assertIsNone(parsed.max_size)
        self.assertEqual(schema.render(parsed), value)


@dataclass
class NoteProperties:
    text: str


@dataclass
class NoteAttributes:
    length: int


@dataclass
class NotesConfig:
    prefix: str = "n-"


class Note(Resource):
    TYPE = "Note"
    Properties = NoteProperties
    Attributes = NoteAttributes
    PROPERTY_WRAPPER = "CreateNoteInput"

    def create(self, p, tags, token):
        if p.text == "boom":
            raise ValueError("a bug")
        return Created(id=self.provider.prefix + token, attributes=NoteAttributes(length=len(p.text)))

    def read(self, id, p):
        if id == "gone":
            return None
        if id == "throttled":
            raise Error.transient("slow down")
        return Observed(id=id, properties=p, attributes=NoteAttributes(length=len(p.text)), tags={"k": "v"})


class Notes(Provider):
    NAME = "notes"
    Config = NotesConfig
    TYPES = [Note]

    def configure(self, config):
        self.prefix = config.prefix


class DispatchTest(unittest.TestCase):
    def setUp(self):
        self.d = Dispatch(Notes)
        self.d.configure("{}")

    def test_describe_and_configure(self):
        info = self.d.describe()
        self.assertEqual(info["types"][0]["name"], "Note")
        self.assertEqual(json.loads(info["config_schema"])["properties"]["Prefix"], {"type": "string"})
        with self.assertRaises(Error) as caught:
            self.d.configure('{"Prefix": 3}')
        self.assertEqual(caught.exception.field, "Prefix")

    def test_calls_parse_dispatch_and_render(self):
        self.assertEqual(self.d.create("Note", '{"Text": "hi"}', {}, "t1"), ("n-t1", '{"Length": 2}'))
        with self.assertRaises(Error) as caught:
            self.d.create("Nope", "{}", {}, "t")
        self.assertEqual(caught.exception.message, "notes has no resource type 'Nope' (it has Note)")
        self.assertEqual(self.d.validate("Note", '{"Text": 1}')[0].field, "Text")

    def test_read_many_answers_every_request_in_order(self):
        answers = self.d.read_many(
            "Note",
            [
                ("n-1", '{"CreateNoteInput": {"Text": "hi"}}'),
                ("gone", '{"Text": "x"}'),
                ("n-2", '{"Text": 5}'),
                ("throttled", '{"Text": "x"}'),
            ],
        )
        self.assertEqual([a[0] for a in answers], ["found", "gone", "failed", "failed"])
        self.assertEqual(json.loads(answers[0][1][1]), {"CreateNoteInput": {"Text": "hi"}})
        self.assertEqual((answers[2][1].kind, answers[2][1].field), ("invalid-input", "Text"))
        self.assertEqual((answers[3][1].kind, answers[3][1].message), ("transient", "slow down"))
        self.assertEqual(self.d.describe()["types"][0]["read_batch"], 1)

    def test_wrapped_properties_read_back_wrapped(self):
        observed = self.d.read("Note", "n-1", '{"CreateNoteInput": {"Text": "hi"}}')
        self.assertEqual(json.loads(observed[1]), {"CreateNoteInput": {"Text": "hi"}})
        self.assertEqual(observed[3], {"k": "v"})
        found = self.d.validate("Note", '{"CreateNoteInput": {"Text": 1}}')
        self.assertEqual(found[0].field, "CreateNoteInput.Text")
        found = self.d.validate("Note", '{"Text": "a", "CreateNoteInput": {"Text": "b"}}')
        self.assertEqual(found[0].field, "CreateNoteInput.Text")
        self.assertEqual(found[0].message, "Text is set both inside CreateNoteInput and beside it")


@dataclass
class QueueExport:
    name: str


@dataclass
class QueueProperties:
    export: Optional[QueueExport] = None


class Queue(Resource):
    TYPE = "AWS::SQS::Queue"
    DESCRIPTION = "A queue, under CloudFormation's name"
    Properties = QueueProperties
    FORCE_NEW = ["Export.Name", "Peers[*].Asn"]


class Cloud(Provider):
    NAME = "cloud"
    CAPABILITIES = Capabilities(credentials=["aws"], resource_types=["AWS::SQS::*"])
    TYPES = [Note, Queue]


class DescribeTypesTest(unittest.TestCase):
    def setUp(self):
        self.d = Dispatch(Cloud)  # not configured: describe-types must work before configure

    def test_the_named_types_whole_in_the_order_asked(self):
        found = self.d.describe_types(["AWS::SQS::Queue", "Note"])
        self.assertEqual([ty["name"] for ty in found], ["AWS::SQS::Queue", "Note"])
        described = {ty["name"]: ty for ty in self.d.describe()["types"]}
        self.assertEqual(found, [described["AWS::SQS::Queue"], described["Note"]])
        self.assertEqual(found[0]["force_new"], ["Export.Name", "Peers[*].Asn"])
        self.assertEqual(json.loads(found[0]["properties_schema"])["properties"]["Export"]["required"], ["Name"])
        self.assertEqual(self.d.describe_types([]), [])

    def test_an_unknown_name_is_invalid_input_naming_it(self):
        with self.assertRaises(Error) as caught:
            self.d.describe_types(["Note", "AWS::SQS::Topic"])
        self.assertEqual(caught.exception.kind, "invalid-input")
        self.assertEqual(
            caught.exception.message, "cloud has no resource type 'AWS::SQS::Topic' (it has Note, AWS::SQS::Queue)"
        )

    def test_a_cloudformation_type_name_dispatches(self):
        found = self.d.validate("AWS::SQS::Queue", '{"Export": {"Name": 1}}')
        self.assertEqual((found[0].field, found[0].message), ("Export.Name", "expected a string, found a number"))

    def test_resource_types_default_empty_and_declared(self):
        self.assertEqual(Dispatch(Notes).describe()["capabilities"].resource_types, [])
        self.assertEqual(Capabilities().resource_types, [])
        self.assertEqual(self.d.describe()["capabilities"].resource_types, ["AWS::SQS::*"])


if __name__ == "__main__":
    unittest.main()
