// Builds a JavaScript provider into a component: node providers/sdk-js/build.mjs APP_DIR OUT.wasm
//
// The app (APP_DIR/app.js, importing "./rkit-sdk.js") is copied beside this SDK into a
// build directory (componentize-js loads modules from the app's directory only), then
// compiled by componentize-js (StarlingMonkey) against providers/guest-wit's world
// `provider-http`: `fetch` goes out through wasi:http, i.e. through rkit's HTTP gate.
import { componentize } from "@bytecodealliance/componentize-js";
import { cp, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const [appDir, out] = process.argv.slice(2);
if (!appDir || !out) {
  console.error("usage: node build.mjs APP_DIR OUT.wasm");
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const wit = process.env.RKIT_GUEST_WIT || resolve(here, "../guest-wit");
const build = await mkdtemp(join(tmpdir(), "rkit-js-"));
try {
  for (const name of await readdir(appDir)) {
    if (name.endsWith(".js") || name.endsWith(".mjs") || name.endsWith(".json")) {
      await cp(join(appDir, name), join(build, name));
    }
  }
  await cp(join(here, "rkit-sdk.js"), join(build, "rkit-sdk.js"));
  const { component } = await componentize({
    sourcePath: join(build, "app.js"),
    witPath: wit,
    worldName: "provider-http",
    // A provider serves no HTTP: no incoming handler.
    disableFeatures: ["fetch-event"],
  });
  await writeFile(out, component);
} finally {
  await rm(build, { recursive: true, force: true });
}
