#!/usr/bin/env bash
# What the crate graph cannot express (see ARCHITECTURE.md). The workspace
# keeps the layers: guild-format <- guild-project <- guild-exec <- guild,
# each crate naming only crates below it in its Cargo.toml. Left to check:
#  1. inside the top crate, the front ends (src/cli, src/view) go through
#     the API: no crate below it, no module of the run format but errors and
#     text;
#  2. only the exec layer (crates/guild-exec/src/exec) signals or waits on
#     processes;
#  3. only the CLI reads the process's working directory (everything else
#     works from the `-C` directory it is given);
#  4. user programs (an editor, an opener, a shell) start only in the front
#     ends.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() {
    echo "check-layers: $1 (see ARCHITECTURE.md)" >&2
    exit 1
}
below='guild_project|guild_exec|guild_format::(run|query|fsutil|home|platform|redact|report|output)\b|crate::check\b'
if grep -rnE "$below" src/cli; then
    fail "src/cli may use crate::api, crate::render, crate::view, guild_format::error and guild_format::text only"
fi
if grep -rnE "$below|crate::cli\b" src/view; then
    fail "src/view may use crate::api, crate::render and guild_format::error only"
fi
if grep -rnE "crate::(cli|render|view)\b" src --include=*.rs | grep -vE '^src/(cli|render|view)/'; then
    fail "only src/cli and src/view use crate::render; nothing but src/cli uses crate::view or crate::cli"
fi
signals='libc::(kill|killpg|raise|waitpid|signal|sigaction)\b|signal::(kill|killpg|sigaction)\b|wait::waitpid|signal_hook::'
if grep -rnE "$signals" src crates --include=*.rs | grep -vE '^crates/guild-exec/src/exec/'; then
    fail "only crates/guild-exec/src/exec signals or waits on processes"
fi
if grep -rnE 'std::env::current_dir\(|env::set_current_dir' src crates --include=*.rs | grep -vE '^src/cli/'; then
    fail "only src/cli reads the working directory; below it, use the -C directory of the Context"
fi
if grep -rnE '"(VISUAL|EDITOR|SHELL)"|"xdg-open"' crates --include=*.rs; then
    fail "user programs (editor, opener, shell) start only in the front ends (src/cli, src/view)"
fi
echo "check-layers: ok"
