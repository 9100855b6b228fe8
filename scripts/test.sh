#!/usr/bin/env bash
# The whole test suite: installs test dependencies, then lint and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-env.sh
# The Ray head the setup started is stopped at the end (it holds a GiB).
trap 'services/ray-local.sh stop "${GUILD_TEST_RAY_STATE:-/tmp/guild-test-ray}"' EXIT
export GUILD_COMPAT_VENV="${GUILD_COMPAT_VENV:-$PWD/.venv-guild}"
export GUILD_TEST_SSHD_STATE="${GUILD_TEST_SSHD_STATE:-/tmp/guild-test-sshd}"
cargo fmt --check
scripts/check-layers.sh
scripts/fn-lengths.py --allow scripts/fn-lengths.allow src crates > /dev/null
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --release --no-fail-fast
scripts/test-python.sh
