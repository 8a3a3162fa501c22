// rkit-sdk for JavaScript: write an rkit provider as an object per resource type.
//
// A type declares its properties and attributes with schema builders (`t.string("doc")`,
// `t.optional(...)`, `t.array(...)`, `t.map(...)`, `t.object({...})`, `t.enum([...])`); the SDK
// turns them into the JSON Schemas `describe` reports, checks the engine's JSON against them
// (errors name the property: `Rules[1].Port: expected an integer, found a string`), and keeps
// the SPI's conventions (wrapped properties, force-new, create-before-destroy). Names are
// written as in JSON (PascalCase). Errors are `RkitError`s of the SPI's kinds; `fetch` reaches
// only what the user grants; nothing else of the machine exists in the sandbox.
//
// Invariants: every answer is JSON text of the shapes the schemas describe; an exception that
// is not an `RkitError` becomes an `other` error naming the operation and type, never a trap;
// unknown properties are refused.

export const KINDS = [
  "invalid-input", "not-found", "conflict", "transient", "denied", "other", "outcome-unknown",
];

export class RkitError extends Error {
  constructor(kind, message, field) {
    super(message);
    if (!KINDS.includes(kind)) throw new TypeError(`unknown error kind ${kind}`);
    this.kind = kind;
    this.field = field || undefined;
  }
  static invalid(field, message) { return new RkitError("invalid-input", message, field); }
  static notFound(message) { return new RkitError("not-found", message); }
  static conflict(message) { return new RkitError("conflict", message); }
  static transient(message) { return new RkitError("transient", message); }
  static denied(message) { return new RkitError("denied", message); }
  static outcomeUnknown(message) { return new RkitError("outcome-unknown", message); }
  static other(message) { return new RkitError("other", message); }
}

// Schema builders: each is { schema, parse(value, path), required }.
const kind = (v) =>
  v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object"
    : typeof v === "string" ? "a string" : typeof v === "boolean" ? "a boolean" : "a number";
const at = (path, key) => (path ? `${path}.${key}` : key);
const described = (schema, doc) => (doc ? { ...schema, description: doc } : schema);
const scalar = (type, check, want) => (doc) => ({
  schema: described({ type }, doc),
  required: true,
  parse(v, path) {
    if (!check(v)) throw RkitError.invalid(path, `expected ${want}, found ${kind(v)}`);
    return v;
  },
});

export const t = {
  string: scalar("string", (v) => typeof v === "string", "a string"),
  integer: scalar("integer", (v) => Number.isInteger(v), "an integer"),
  number: scalar("number", (v) => typeof v === "number", "a number"),
  boolean: scalar("boolean", (v) => typeof v === "boolean", "a boolean"),
  any: (doc) => ({ schema: described({}, doc), required: true, parse: (v) => v }),
  enum: (values, doc) => ({
    schema: described({ enum: values }, doc),
    required: true,
    parse(v, path) {
      if (!values.includes(v)) {
        throw RkitError.invalid(path, `${JSON.stringify(v)} is not one of ${values.map((x) => JSON.stringify(x)).join(", ")}`);
      }
      return v;
    },
  }),
  optional: (inner) => ({
    schema: inner.schema,
    required: false,
    parse: (v, path) => (v === undefined || v === null ? undefined : inner.parse(v, path)),
  }),
  array: (item, doc) => ({
    schema: described({ type: "array", items: item.schema }, doc),
    required: true,
    parse(v, path) {
      if (!Array.isArray(v)) throw RkitError.invalid(path, `expected an array, found ${kind(v)}`);
      return v.map((x, i) => item.parse(x, `${path}[${i}]`));
    },
  }),
  map: (value, doc) => ({
    schema: described({ type: "object", additionalProperties: value.schema }, doc),
    required: true,
    parse(v, path) {
      if (kind(v) !== "an object") throw RkitError.invalid(path, `expected an object, found ${kind(v)}`);
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, value.parse(x, at(path, k))]));
    },
  }),
  object: (fields, doc) => ({
    schema: described({
      type: "object",
      properties: Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f.schema])),
      ...(Object.entries(fields).some(([, f]) => f.required)
        ? { required: Object.entries(fields).filter(([, f]) => f.required).map(([k]) => k) } : {}),
      additionalProperties: false,
    }, doc),
    required: true,
    parse(v, path) {
      if (kind(v) !== "an object") throw RkitError.invalid(path, `expected an object, found ${kind(v)}`);
      for (const key of Object.keys(v)) {
        if (!(key in fields)) {
          throw RkitError.invalid(at(path, key), `unknown property '${key}' (known: ${Object.keys(fields).join(", ") || "none"})`);
        }
      }
      const out = {};
      for (const [key, f] of Object.entries(fields)) {
        if (v[key] === undefined || v[key] === null) {
          if (f.required) throw RkitError.invalid(at(path, key), "missing (it is required)");
          if ("default" in f) out[key] = f.default;
          continue;
        }
        out[key] = f.parse(v[key], at(path, key));
      }
      return out;
    },
  }),
  // A field with a default: optional in JSON, `value` when left out.
  withDefault: (inner, value) => ({ ...t.optional(inner), default: value }),
};

// Drops undefined values (never written out), recursively.
function render(value) {
  if (Array.isArray(value)) return value.map(render);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, render(v)]));
  }
  return value;
}

function unwrap(value, wrapper) {
  if (!wrapper || kind(value) !== "an object" || !(wrapper in value)) return [value, []];
  const inner = value[wrapper];
  if (kind(inner) !== "an object") throw RkitError.invalid(wrapper, "must be an object");
  const out = { ...value };
  delete out[wrapper];
  for (const [k, v] of Object.entries(inner)) {
    if (k in out) throw RkitError.invalid(`${wrapper}.${k}`, `${k} is set both inside ${wrapper} and beside it`);
    out[k] = v;
  }
  return [out, Object.keys(inner)];
}

function rewrap(value, wrapper, keys) {
  if (!wrapper || !keys.length) return value;
  const out = { ...value };
  const inner = {};
  for (const k of keys) if (k in out) { inner[k] = out[k]; delete out[k]; }
  out[wrapper] = inner;
  return out;
}

function toRecord(e, what) {
  if (e instanceof RkitError) return { kind: e.kind, message: e.message, field: e.field };
  return { kind: "other", message: `${what}: ${e && e.name ? e.name : "Error"}: ${e && e.message !== undefined ? e.message : e}`, field: undefined };
}

const tagsOf = (tags) => Object.fromEntries(tags.map((x) => [x.key, x.value]));
const tagList = (tags) => Object.entries(tags || {}).sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, value]) => ({ key, value }));

// A resource type: `{type, description, properties, attributes, forceNew, createBeforeDestroy,
// propertyWrapper, readBatch, create, read, readMany, update, delete, list, validate}`;
// `properties` and `attributes` are `t.object({...})` field maps. `type` may be CloudFormation's
// (`AWS::SQS::Queue`); `forceNew` holds property paths: `Name`, `Export.Name` (a member of an
// object), `Peers[*].Asn` (a member of each element of an array). `readMany(items, self)` reads
// `[[id, properties], …]` at once (at most `readBatch`, default 1: rkit then calls `read` one
// by one) and answers one observed object, `undefined` (gone) or `RkitError` per item, in order;
// throwing fails the whole call. The default calls `read` for each.
export function resource(spec) {
  if (!spec.type) throw new TypeError("a resource needs a type");
  return {
    forceNew: [], createBeforeDestroy: false, propertyWrapper: undefined, readBatch: 1,
    validate: () => [], list: () => [],
    async readMany(items, self) {
      const answers = [];
      for (const [id, p] of items) {
        try { answers.push(await this.read(id, p, self)); } catch (e) {
          if (!(e instanceof RkitError)) throw e;
          answers.push(e);
        }
      }
      return answers;
    },
    update() { throw RkitError.other(`${spec.type}: update is not implemented (mark its properties force-new)`); },
    ...spec,
    propertiesType: t.object(spec.properties || {}),
    attributesType: t.object(spec.attributes || {}),
  };
}

// The component's `resources` export for a provider: `{name, version, description, config
// (a field map), capabilities, types, configure(config)}`. `capabilities`: `{httpHosts,
// filesystem, memoryMib, credentials, apiActions, resourceTypes}` (`resourceTypes`: the AWS
// Cloud Control types it touches, `AWS::IAM::Role` or `AWS::S3::*`), all empty by default.
export function provider(spec) {
  const types = new Map(spec.types.map((r) => [r.type, r]));
  const configType = t.object(spec.config || {});
  const state = { self: { config: undefined } };
  const find = (name) => {
    const r = types.get(name);
    if (!r) throw RkitError.invalid("", `${spec.name} has no resource type '${name}' (it has ${[...types.keys()].join(", ") || "none"})`);
    return r;
  };
  const props = (r, text) => {
    let value;
    try { value = JSON.parse(text); } catch (e) { throw RkitError.invalid("", `the properties are not JSON: ${e.message}`); }
    const [flat, wrapped] = unwrap(value, r.propertyWrapper);
    try {
      return [r.propertiesType.parse(flat, ""), wrapped];
    } catch (e) {
      if (e instanceof RkitError && r.propertyWrapper && e.field && wrapped.includes(e.field.split(/[.[]/)[0])) {
        throw RkitError.invalid(`${r.propertyWrapper}.${e.field}`, e.message);
      }
      throw e;
    }
  };
  const observed = (r, o, wrapped) => ({
    id: o.id,
    properties: JSON.stringify(rewrap(render(o.properties), r.propertyWrapper, wrapped)),
    attributes: JSON.stringify(render(o.attributes)),
    tags: tagList(o.tags),
    pending: false,
  });
  const call = async (what, f) => {
    try { return await f(); } catch (e) { throw toRecord(e, what); }
  };
  const typeInfo = (r) => ({
    name: r.type, description: r.description || "",
    propertiesSchema: JSON.stringify(r.propertiesType.schema),
    attributesSchema: JSON.stringify(r.attributesType.schema),
    forceNew: r.forceNew, createBeforeDestroy: r.createBeforeDestroy,
    readBatch: Math.max(1, Math.floor(Number(r.readBatch) || 1)),
  });
  const caps = spec.capabilities || {};
  return {
    describe() {
      return {
        name: spec.name, version: spec.version || "0.1.0", description: spec.description || "",
        configSchema: JSON.stringify(configType.schema),
        types: spec.types.map(typeInfo),
        capabilities: {
          httpHosts: caps.httpHosts || [], filesystem: !!caps.filesystem, memoryMib: caps.memoryMib || 64,
          credentials: caps.credentials || [], apiActions: caps.apiActions || [],
          resourceTypes: caps.resourceTypes || [],
        },
      };
    },
    // The named types whole, in the order asked: the same as `describe`'s, which already gives
    // every type whole. An unknown name is an `invalid-input` error naming it.
    describeTypes(names) {
      try { return names.map((name) => typeInfo(find(name))); } catch (e) { throw toRecord(e, "describe-types"); }
    },
    configure(text) {
      try {
        const config = configType.parse(JSON.parse(text || "{}"), "");
        state.self.config = config;
        if (spec.configure) spec.configure(config, state.self);
      } catch (e) { throw toRecord(e, "configure"); }
    },
    async validate(typeName, text) {
      try {
        const r = find(typeName);
        const [p] = props(r, text);
        return (await r.validate(p, state.self)).map((d) => ({ severity: d.severity || "error", field: d.field || "", message: d.message }));
      } catch (e) {
        const rec = toRecord(e, `validate ${typeName}`);
        return [{ severity: "error", field: rec.field || "", message: rec.message }];
      }
    },
    create: (typeName, text, tags, token) => call(`create ${typeName}`, async () => {
      const r = find(typeName);
      const [p] = props(r, text);
      const created = await r.create(p, tagsOf(tags), token, state.self);
      return { id: created.id, attributes: JSON.stringify(render(created.attributes)), pending: false };
    }),
    read: (typeName, id, text) => call(`read ${typeName}`, async () => {
      const r = find(typeName);
      const [p, wrapped] = props(r, text);
      const o = await r.read(id, p, state.self);
      return o ? observed(r, o, wrapped) : undefined;
    }),
    readMany: (typeName, requests) => call(`read-many ${typeName}`, async () => {
      const r = find(typeName);
      const parsed = requests.map((q) => {
        try { return props(r, q.properties); } catch (e) {
          if (e instanceof RkitError) return e;
          throw e;
        }
      });
      const good = [];
      requests.forEach((q, i) => { if (!(parsed[i] instanceof RkitError)) good.push([q.id, parsed[i][0]]); });
      const read = await r.readMany(good, state.self);
      if (!Array.isArray(read) || read.length !== good.length) {
        throw RkitError.other(`${r.type}.readMany returned ${Array.isArray(read) ? read.length : "no list of"} answers for ${good.length} requests`);
      }
      let next = 0;
      return parsed.map((p) => {
        const answer = p instanceof RkitError ? p : read[next++];
        if (answer instanceof RkitError) return { tag: "failed", val: toRecord(answer, `read ${typeName}`) };
        if (answer === undefined || answer === null) return { tag: "gone" };
        return { tag: "found", val: observed(r, answer, p[1]) };
      });
    }),
    update: (typeName, id, oldText, newText, tags) => call(`update ${typeName}`, async () => {
      const r = find(typeName);
      const [oldP] = props(r, oldText);
      const [newP] = props(r, newText);
      return JSON.stringify(render(await r.update(id, oldP, newP, tagsOf(tags), state.self)));
    }),
    delete: (typeName, id, text) => call(`delete ${typeName}`, async () => {
      const r = find(typeName);
      const [p] = props(r, text);
      await r.delete(id, p, state.self);
    }),
    list: (typeName, tags) => call(`list ${typeName}`, async () => {
      const r = find(typeName);
      return (await r.list(tagsOf(tags), state.self)).map((o) => observed(r, o, []));
    }),
  };
}
