#!/usr/bin/env bash
# Builds every provider in the repository, whatever its language, into
# target/wasm32-wasip2/release/NAME.wasm:
#   - Rust: the crates `cargo providers` names (.cargo/config.toml);
#   - Python: each providers/NAME/app.py (and providers/testing/NAME/app.py), with componentize-py from the virtualenv
#     (.venv, or $RKIT_VENV; pinned in providers/requirements.txt), on providers/sdk-python.
# A Python provider is rebuilt only when one of its files, the SDK or the WIT changed.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo providers

venv=${RKIT_VENV:-.venv}
out=target/wasm32-wasip2/release
mkdir -p "$out"
for app in providers/*/app.py providers/testing/*/app.py; do
  [ -e "$app" ] || continue
  dir=$(dirname "$app")
  name=$(basename "$dir")
  wasm="$out/$name.wasm"
  if [ -e "$wasm" ] && [ -z "$(find "$dir" providers/sdk-python providers/guest-wit wit -newer "$wasm" \
      \( -name '*.py' -o -name '*.wit' \) -print -quit)" ]; then
    continue
  fi
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
  if [ -e "$wasm" ] && [ -z "$(find "$dir" providers/sdk-js providers/guest-wit wit -newer "$wasm" \
      \( -name '*.js' -o -name '*.mjs' -o -name '*.wit' \) -not -path '*/node_modules/*' -print -quit)" ]; then
    continue
  fi
  if [ ! -d providers/node_modules/@bytecodealliance/componentize-js ]; then
    echo "providers/build.sh: componentize-js is missing: npm ci --prefix providers" >&2
    exit 1
  fi
  echo "building $wasm (JavaScript, componentize-js)"
  node providers/sdk-js/build.mjs "$dir" "$wasm.tmp"
  mv "$wasm.tmp" "$wasm"
done
