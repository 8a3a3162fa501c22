#!/usr/bin/env bash
# Builds __NAME__.wasm with componentize-py 0.25.1: the one on PATH, else .venv/bin's, else
# the one $COMPONENTIZE_PY names. Without one: python3 -m venv .venv &&
# .venv/bin/pip install componentize-py==0.25.1
set -euo pipefail
cd "$(dirname "$0")"
tool="${COMPONENTIZE_PY:-}"
if [ -z "$tool" ]; then
    if command -v componentize-py >/dev/null; then
        tool=componentize-py
    elif [ -x .venv/bin/componentize-py ]; then
        tool=.venv/bin/componentize-py
    else
        echo "componentize-py is not on PATH (nor in .venv/bin): install it with" >&2
        echo "  python3 -m venv .venv && .venv/bin/pip install componentize-py==0.25.1" >&2
        echo "or name it: COMPONENTIZE_PY=/path/to/componentize-py ./build.sh" >&2
        exit 1
    fi
fi
"$tool" -d wit -w provider-http componentize app -o __NAME__.wasm
