// The __NAME__ provider's tests, on Node (no component needed): npm test
import assert from "node:assert/strict";
import { test } from "node:test";
import { resources } from "./app.js";

test("a greeting is created, read and updated", async () => {
  resources.configure("{}");
  const created = await resources.create("Greeting", '{"Name": "world"}', [], "0123456789abcdef");
  assert.deepEqual(JSON.parse(created.attributes), { Text: "Hello, world!" });
  const read = await resources.read("Greeting", created.id, '{"Name": "world"}');
  assert.equal(read.id, created.id);
  const updated = await resources.update("Greeting", created.id, '{"Name": "world"}', '{"Name": "world", "Punctuation": "?"}', []);
  assert.deepEqual(JSON.parse(updated), { Text: "Hello, world?" });
});

test("errors name the property", async () => {
  await assert.rejects(resources.create("Greeting", '{"Name": 3}', [], "t"), { kind: "invalid-input", field: "Name" });
});
