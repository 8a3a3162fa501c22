// Builds __NAME__.wasm with componentize-js (`npm install` first): npm run build
import { componentize } from "@bytecodealliance/componentize-js";
import { writeFile } from "node:fs/promises";

const { component } = await componentize({
  sourcePath: "app.js",
  witPath: "wit",
  worldName: "provider-http",
  // A provider serves no HTTP: no incoming handler.
  disableFeatures: ["fetch-event"],
});
await writeFile("__NAME__.wasm", component);
