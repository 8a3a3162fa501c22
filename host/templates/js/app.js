// The __NAME__ provider: one resource type, `Greeting`, to start from.
//
// Replace what `Greeting` does with real calls (`fetch` reaches what the user grants in
// `Grants.Http`), add types to `types`, and run `npm run build`.
import { provider, resource, t } from "./rkit-sdk.js";

const text = (p) => ({ Text: `Hello, ${p.Name}${p.Punctuation}` });

export const Greeting = resource({
  type: "Greeting",
  description: "A greeting that exists only in rkit's state",
  properties: {
    Name: t.string("Who to greet (a new name makes a new greeting)"),
    Punctuation: t.withDefault(t.string("How it ends"), "!"),
  },
  attributes: { Text: t.string("The greeting") },
  forceNew: ["Name"],
  // A real provider passes `token` where its API takes an idempotency token.
  create: (p, tags, token) => ({ id: `greeting-${token.slice(0, 12)}`, attributes: text(p) }),
  read: (id, p) => ({ id, properties: p, attributes: text(p), tags: {} }),
  update: (id, oldP, newP) => text(newP),
  delete: () => {},
});

export const resources = provider({
  name: "__NAME__",
  version: "0.1.0",
  description: "The __NAME__ provider",
  capabilities: { memoryMib: 64 },
  types: [Greeting],
});
