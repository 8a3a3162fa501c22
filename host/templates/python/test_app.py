"""The __NAME__ provider's tests, on CPython (no component needed): python3 -m unittest"""

import json
import unittest

import app
from rkit_sdk import Error
from rkit_sdk.testing import Dispatch


class GreetingTest(unittest.TestCase):
    def setUp(self):
        self.d = Dispatch(app.__CLASS__)
        self.d.configure("{}")

    def test_create_read_update(self):
        id, attributes = self.d.create("Greeting", '{"Name": "world"}', {}, "0123456789abcdef")
        self.assertEqual(json.loads(attributes), {"Text": "Hello, world!"})
        observed = self.d.read("Greeting", id, '{"Name": "world"}')
        self.assertEqual(observed[0], id)
        updated = self.d.update("Greeting", id, '{"Name": "world"}', '{"Name": "world", "Punctuation": "?"}', {})
        self.assertEqual(json.loads(updated), {"Text": "Hello, world?"})

    def test_errors_name_the_property(self):
        with self.assertRaises(Error) as caught:
            self.d.create("Greeting", '{"Name": 3}', {}, "t")
        self.assertEqual(caught.exception.field, "Name")


if __name__ == "__main__":
    unittest.main()
