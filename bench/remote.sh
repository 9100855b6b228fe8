#!/usr/bin/env bash
# Remote runs against the local test sshd and single-node Slurm (started
# here if needed, as the test setup does):
#   1. `guild run --remote` over SSH, trivial shell script: overhead beyond
#      the same run here (warm: the shared connection is up and the
#      binary is there; the first run, which copies it, is shown too);
#   2. submitting a 100-trial sweep to Slurm (one sbatch, end to end; the
#      jobs are held with --begin and cancelled afterwards);
#   3. `guild runs --remote` over SSH with 1,000 runs there.
# Guild 0.9.0 is not run side by side here: its ssh remote needs Guild
# installed in a venv on the host, and it has no Slurm remote.
source "$(dirname "$0")/common.sh"
SSHD_STATE="${GUILD_TEST_SSHD_STATE:-/tmp/guild-test-sshd}"
SLURM_STATE="${GUILD_TEST_SLURM_STATE:-/tmp/guild-test-slurm}"
N="${N:-15}"
SSHD_LOCAL_CLIENT_CONFIG=0 "$ROOT/services/sshd-local.sh" start "$SSHD_STATE" >/dev/null
"$ROOT/services/slurm-local.sh" start "$SLURM_STATE" >/dev/null
W=$(mktemp -d)
TAG="bench-$(basename "$W")"
SSHCFG="$SSHD_STATE/client/ssh_config"
cleanup() {
  ssh -F "$SSHCFG" sshd-local "rm -rf ~/$TAG" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/proj" "$W/gh" "$W/big/runs"
cd "$W/proj"
printf '#!/bin/sh\necho "loss: 0.5"\n' > t.sh
chmod +x t.sh
cat > guild-config.yml <<EOF
remotes:
  box: {type: ssh, host: sshd-local, ssh-config: '$SSHCFG', guild-home: '~/$TAG'}
  big: {type: ssh, host: sshd-local, ssh-config: '$SSHCFG', guild-home: '~/$TAG-big'}
  hpc: {type: slurm, partition: debug, guild-home: '$W/cluster', array-parallelism: 10, sbatch: ['--begin=now+1hour']}
EOF
export GUILD_HOME="$W/gh" GUILD_CONFIG="$W/proj/guild-config.yml"

# 1. ssh run overhead
first=$(median_ms 1 "$GUILD_RS" run t.sh -y -q --remote box)
local_ms=$(median_ms "$N" "$GUILD_RS" run t.sh -y -q)
remote_ms=$(median_ms "$N" "$GUILD_RS" run t.sh -y -q --remote box)
ok=$("$GUILD_RS" runs -a | grep -c completed || true)
echo "runs completed: $ok of $((2 * N + 1))"

# 2. 100-trial sweep submitted to Slurm
sweep_ms=$(median_ms 1 "$GUILD_RS" run t.sh "x=[$(seq -s, 1 100)]" --force-flags -y -q --remote hpc)
scripts=$(ls "$W/cluster/slurm/"*.sbatch | wc -l)
pending=$("$GUILD_RS" runs -a | grep -c pending || true)
job=$(squeue -h -o '%F %j' | awk '$2 == "t.sh+" {print $1}' | sort -u | tail -1)
[ -n "$job" ] && scancel "$job"
echo "sbatch scripts: $scripts, trials pending: $pending"

# 3. runs --remote with 1,000 runs there
fill_runs "$W/proj" t.sh "$W/big" 1000 >/dev/null
ssh -F "$SSHCFG" sshd-local "mkdir -p ~/$TAG-big/runs"
rsync -a -e "ssh -F $SSHCFG" "$W/big/runs/" "sshd-local:$TAG-big/runs/"
"$GUILD_RS" runs --remote big >/dev/null   # copies the binary there
list_ms=$(median_ms "$N" "$GUILD_RS" runs --remote big)
all_ms=$(median_ms "$N" "$GUILD_RS" runs -a --remote big)
listed=$("$GUILD_RS" runs -a --remote big | wc -l)
ssh -F "$SSHCFG" sshd-local "rm -rf ~/$TAG-big" >/dev/null 2>&1 || true

python3 - "$first" "$local_ms" "$remote_ms" "$sweep_ms" "$list_ms" "$all_ms" "$listed" <<'PY'
import sys
first, local, remote, sweep, lst, all_, n = map(float, sys.argv[1:])
print(f"run here (trivial shell script):        {local:.0f} ms")
print(f"run --remote over ssh (warm):           {remote:.0f} ms, overhead {remote - local:.0f} ms (target < 500)")
print(f"run --remote, first (copies the binary): {first:.0f} ms")
print(f"100-trial sweep submitted to Slurm:     {sweep:.0f} ms (target < 2000)")
print(f"runs --remote, 1,000 runs there:        {lst:.0f} ms; runs -a ({n:.0f} lines): {all_:.0f} ms (target < 1000)")
PY
