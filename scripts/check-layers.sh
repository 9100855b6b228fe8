#!/usr/bin/env bash
# The layering rule of ARCHITECTURE.md, checked: the CLI (src/cli) parses
# arguments, calls the library API and renders; it does not reach into the
# run format, processes, operations or the filesystem helpers directly.
set -euo pipefail
cd "$(dirname "$0")/.."
below='run|query|fsutil|op|guildfile|check|platform|redact|launch|home|exec|plan|output'
if grep -rnE "crate::($below)\b|use (crate|guild)::($below)\b" src/cli; then
    echo "check-layers: src/cli may use crate::api, crate::render, crate::view, crate::error and crate::text only (see ARCHITECTURE.md)" >&2
    exit 1
fi
# The web view is a front end like the CLI: the API and the renderer.
if grep -rnE "crate::($below|cli)\b" src/view; then
    echo "check-layers: src/view may use crate::api, crate::render and crate::error only (see ARCHITECTURE.md)" >&2
    exit 1
fi
# Nothing below the CLI and the renderer depends on them.
if grep -rnE "crate::(cli|render|view)\b" src --include=*.rs | grep -vE '^src/(cli|render|view)/'; then
    echo "check-layers: only src/cli and src/view use crate::render; nothing but src/cli uses crate::view or crate::cli" >&2
    exit 1
fi
echo "check-layers: ok"
