#!/usr/bin/env bash
# Installs what the test suite needs, idempotently: a Python virtualenv with
# guildai==0.9.0 (the compatibility tests run the real Guild) at .venv-guild.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${GUILD_COMPAT_VENV:-$PWD/.venv-guild}"
if ! command -v python3 >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
  else
    echo "setup-test-env: python3 is required" >&2; exit 1
  fi
fi
# The safety tests use util-linux tools: unshare (a PID namespace), setpriv
# (an unprivileged user), script (a real terminal) and flock.
for tool in unshare setpriv script flock; do
  if ! command -v "$tool" >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq util-linux bsdutils >/dev/null
    break
  fi
done
if [ ! -x "$VENV/bin/guild" ] || ! "$VENV/bin/guild" --version 2>/dev/null | grep -q '^guild 0.9.0'; then
  python3 -m venv "$VENV" || {
    command -v apt-get >/dev/null 2>&1 && apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  }
  "$VENV/bin/pip" install -q --disable-pip-version-check 'guildai==0.9.0'
fi
"$VENV/bin/guild" --version
# A real OpenSSH server on 127.0.0.1 (2222, or a free port when that is
# taken: the tests read it from its client config) for the remote tests (installs
# openssh-server and rsync on first use; the system ssh client config is
# left alone: tests use the client config it writes under its state dir).
SSHD_STATE="${GUILD_TEST_SSHD_STATE:-/tmp/guild-test-sshd}"
SSHD_LOCAL_CLIENT_CONFIG=0 services/sshd-local.sh start "$SSHD_STATE" >/dev/null
# A real single-node Slurm (munge, slurmctld, slurmd) for the Slurm remote
# tests (installs slurm and munge on first use).
SLURM_STATE="${GUILD_TEST_SLURM_STATE:-/tmp/guild-test-slurm}"
services/slurm-local.sh start "$SLURM_STATE" >/dev/null
# Headless Chromium and its driver from the distribution, for the tests of
# `guild view` in a real browser.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
# The tensorboard package in the test venv: `guild tensorboard` is tested
# by reading its log directory with TensorBoard's own reader.
"$VENV/bin/python" -c "import tensorboard" 2>/dev/null \
  || "$VENV/bin/pip" install -q --disable-pip-version-check tensorboard
# A real S3-compatible server (moto's, from PyPI, in .venv-s3) on 127.0.0.1
# for the object storage remote tests (9300, or a free port: the tests read
# it from its state dir).
S3_STATE="${GUILD_TEST_S3_STATE:-/tmp/guild-test-s3}"
services/s3-local.sh start "$S3_STATE" >/dev/null
# A real Ray head node (ray[default] from PyPI, in .venv-ray: the dashboard
# and its Jobs API) on 127.0.0.1 with 2 CPUs, for the Ray remote tests
# (dashboard on 8265 or a free port; the tests read it from its state dir).
RAY_STATE="${GUILD_TEST_RAY_STATE:-/tmp/guild-test-ray}"
services/ray-local.sh start "$RAY_STATE" >/dev/null
