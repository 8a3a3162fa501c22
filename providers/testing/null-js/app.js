// The `null` provider's `Null` type, in JavaScript: no I/O, for measuring what a provider's
// language costs (tests and host/benches/languages.rs compare it with the Rust `null`).
import { provider, resource, t } from "./rkit-sdk.js";

const Null = resource({
  type: "Null",
  description: "Nothing, with an ID",
  properties: { Input: t.optional(t.any("Any value; a change updates in place")) },
  attributes: { Output: t.optional(t.any("The input, as given")) },
  create(p) {
    const id = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
    return { id, attributes: { Output: p.Input } };
  },
  read(id, p) {
    return { id, properties: p, attributes: { Output: p.Input }, tags: {} };
  },
  update(id, oldP, newP) {
    return { Output: newP.Input };
  },
  delete() {},
});

export const resources = provider({
  name: "null-js",
  version: "0.1.0",
  description: "Resources that do nothing, in JavaScript: for benchmarks",
  types: [Null],
});
