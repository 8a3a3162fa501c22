// The SDK's pure parts on Node (no component needed): node --test providers/sdk-js/test
import assert from "node:assert/strict";
import { test } from "node:test";
import { RkitError, provider, resource, t } from "../rkit-sdk.js";

const Rule = t.object({ Port: t.integer("The port"), Protocol: t.withDefault(t.enum(["tcp", "udp"]), "tcp") });
const Group = t.object({
  Name: t.string("The group's name"),
  Rules: t.optional(t.array(Rule)),
  Labels: t.optional(t.map(t.string())),
});

const error = (f) => {
  try {
    f();
  } catch (e) {
    return e;
  }
  assert.fail("no error");
};

test("schemas describe the fields", () => {
  assert.deepEqual(Group.schema.required, ["Name"]);
  assert.equal(Group.schema.additionalProperties, false);
  assert.deepEqual(Group.schema.properties.Name, { type: "string", description: "The group's name" });
  assert.deepEqual(Group.schema.properties.Rules.items.properties.Protocol, { enum: ["tcp", "udp"] });
});

test("parsing names the property at fault", () => {
  let e = error(() => Group.parse({ Name: "web", Rules: [{ Port: 80 }, { Port: "http" }] }, ""));
  assert.ok(e instanceof RkitError);
  assert.deepEqual([e.kind, e.field, e.message], ["invalid-input", "Rules[1].Port", "expected an integer, found a string"]);
  e = error(() => Group.parse({ Rules: [] }, ""));
  assert.deepEqual([e.field, e.message], ["Name", "missing (it is required)"]);
  e = error(() => Group.parse({ Name: "x", Colour: 1 }, ""));
  assert.equal(e.message, "unknown property 'Colour' (known: Name, Rules, Labels)");
  e = error(() => Group.parse({ Name: "x", Rules: [{ Port: 1, Protocol: "icmp" }] }, ""));
  assert.equal(e.message, '"icmp" is not one of "tcp", "udp"');
  assert.deepEqual(Group.parse({ Name: "x", Rules: [{ Port: 1 }] }, "").Rules[0], { Port: 1, Protocol: "tcp" });
});

const Note = resource({
  type: "Note",
  properties: { Text: t.string() },
  attributes: { Length: t.integer() },
  propertyWrapper: "CreateNoteInput",
  create(p, tags, token, self) {
    if (p.Text === "boom") throw new TypeError("a bug");
    return { id: self.config.Prefix + token, attributes: { Length: p.Text.length } };
  },
  read(id, p) {
    if (id === "gone") return undefined;
    if (id === "throttled") throw RkitError.transient("slow down");
    return { id, properties: p, attributes: { Length: p.Text.length }, tags: { k: "v" } };
  },
});

const exports = provider({ name: "notes", config: { Prefix: t.withDefault(t.string(), "n-") }, types: [Note] });

test("calls parse, dispatch and render; errors become the SPI's records", async () => {
  exports.configure("{}");
  assert.deepEqual(await exports.create("Note", '{"Text": "hi"}', [], "t1"), { id: "n-t1", attributes: '{"Length":2}', pending: false });
  await assert.rejects(exports.create("Nope", "{}", [], "t"), {
    kind: "invalid-input",
    message: "notes has no resource type 'Nope' (it has Note)",
  });
  await assert.rejects(exports.create("Note", '{"Text": "boom"}', [], "t"), {
    kind: "other",
    message: "create Note: TypeError: a bug",
  });
  const [d] = await exports.validate("Note", '{"CreateNoteInput": {"Text": 1}}');
  assert.deepEqual([d.field, d.message], ["CreateNoteInput.Text", "expected a string, found a number"]);
  const o = await exports.read("Note", "n-1", '{"CreateNoteInput": {"Text": "hi"}}');
  assert.deepEqual(JSON.parse(o.properties), { CreateNoteInput: { Text: "hi" } });
  assert.deepEqual(o.tags, [{ key: "k", value: "v" }]);
  const info = exports.describe();
  assert.equal(info.types[0].name, "Note");
  assert.deepEqual(JSON.parse(info.configSchema).properties.Prefix, { type: "string" });
});

test("read-many answers every request in order: found, gone, failed, or bad properties", async () => {
  exports.configure("{}");
  const answers = await exports.readMany("Note", [
    { id: "n-1", properties: '{"Text": "hi"}' },
    { id: "gone", properties: '{"Text": "x"}' },
    { id: "n-2", properties: '{"Text": 5}' },
    { id: "throttled", properties: '{"Text": "x"}' },
  ]);
  assert.deepEqual(answers.map((a) => a.tag), ["found", "gone", "failed", "failed"]);
  assert.equal(answers[0].val.id, "n-1");
  assert.equal(answers[0].val.pending, false);
  assert.deepEqual([answers[2].val.kind, answers[2].val.field], ["invalid-input", "Text"]);
  assert.deepEqual([answers[3].val.kind, answers[3].val.message], ["transient", "slow down"]);
  assert.equal(exports.describe().types[0].readBatch, 1);
});

const Queue = resource({
  type: "AWS::SQS::Queue",
  description: "A queue, under CloudFormation's name",
  properties: { Export: t.optional(t.object({ Name: t.string() })) },
  forceNew: ["Export.Name", "Peers[*].Asn"],
});

// Not configured: describe-types must work before configure.
const cloud = provider({
  name: "cloud",
  capabilities: { credentials: ["aws"], resourceTypes: ["AWS::SQS::*"] },
  types: [Note, Queue],
});

test("describe-types answers the named types whole, in the order asked", () => {
  const found = cloud.describeTypes(["AWS::SQS::Queue", "Note"]);
  assert.deepEqual(found.map((ty) => ty.name), ["AWS::SQS::Queue", "Note"]);
  const described = Object.fromEntries(cloud.describe().types.map((ty) => [ty.name, ty]));
  assert.deepEqual(found, [described["AWS::SQS::Queue"], described.Note]);
  assert.deepEqual(found[0].forceNew, ["Export.Name", "Peers[*].Asn"]);
  assert.deepEqual(JSON.parse(found[0].propertiesSchema).properties.Export.required, ["Name"]);
  assert.deepEqual(cloud.describeTypes([]), []);
});

test("describe-types refuses an unknown name with invalid-input naming it", () => {
  const e = error(() => cloud.describeTypes(["Note", "AWS::SQS::Topic"]));
  assert.ok(!(e instanceof RkitError), "thrown as the SPI's error record");
  assert.deepEqual(e, {
    kind: "invalid-input",
    message: "cloud has no resource type 'AWS::SQS::Topic' (it has Note, AWS::SQS::Queue)",
    field: undefined,
  });
});

test("a CloudFormation type name dispatches", async () => {
  const [d] = await cloud.validate("AWS::SQS::Queue", '{"Export": {"Name": 1}}');
  assert.deepEqual([d.field, d.message], ["Export.Name", "expected a string, found a number"]);
});

test("resource-types is empty by default and as declared", () => {
  assert.deepEqual(exports.describe().capabilities.resourceTypes, []);
  assert.deepEqual(cloud.describe().capabilities.resourceTypes, ["AWS::SQS::*"]);
});
