#!/usr/bin/env bash
# Builds every provider in the repository, whatever its language, into
# target/wasm32-wasip2/release/NAME.wasm:
#   - Rust: the crates `cargo providers` names (.cargo/config.toml);
#   - Python: each providers/NAME/app.py (and providers/testing/NAME/app.py), with
#     componentize-py from the virtualenv (.venv, or $RKIT_VENV; pinned in
#     providers/requirements.txt), on providers/sdk-python;
#   - JavaScript: each providers/NAME/app.js (and providers/testing/NAME/app.js), with
#     componentize-js from providers/node_modules (`npm ci --prefix providers`; pinned in
#     providers/package-lock.json), on providers/sdk-js.
# A Python or JavaScript provider is rebuilt only when one of its files, its SDK or the WIT
# changed.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo providers

# Whether $1 (a built module) is newer than every source under the other arguments.
fresh() {
  local wasm=$1
  shift
  [ -e "$wasm" ] && [ -z "$(find "$@" providers/guest-wit wit -newer "$wasm" \
    \( -name '*.py' -o -name '*.js' -o -name '*.mjs' -o -name '*.wit' \) \
    -not -path '*/node_modules/*' -print -quit)" ]
}

venv=${RKIT_VENV:-.venv}
out=target/wasm32-wasip2/release
mkdir -p "$out"
for app in providers/*/app.py providers/testing/*/app.py; do
  [ -e "$app" ] || continue
  dir=$(dirname "$app")
  name=$(basename "$dir")
  wasm="$out/$name.wasm"
  fresh "$wasm" "$dir" providers/sdk-python && continue
  if [ ! -x "$venv/bin/componentize-py" ]; then
    echo "providers/build.sh: $venv/bin/componentize-py is missing: $venv/bin/pip install -r providers/requirements.txt" >&2
    exit 1
  fi
  echo "building $wasm (Python, componentize-py)"
  "$venv/bin/componentize-py" -d providers/guest-wit -w provider-http componentize app \
    -p "$dir" -p providers/sdk-python -o "$wasm.tmp"
  mv "$wasm.tmp" "$wasm"
done

for app in providers/*/app.js providers/testing/*/app.js; do
  [ -e "$app" ] || continue
  dir=$(dirname "$app")
  name=$(basename "$dir")
  wasm="$out/$name.wasm"
  fresh "$wasm" "$dir" providers/sdk-js && continue
  if [ ! -d providers/node_modules/@bytecodealliance/componentize-js ]; then
    echo "providers/build.sh: componentize-js is missing: npm ci --prefix providers" >&2
    exit 1
  fi
  echo "building $wasm (JavaScript, componentize-js)"
  node providers/sdk-js/build.mjs "$dir" "$wasm.tmp"
  mv "$wasm.tmp" "$wasm"
done
