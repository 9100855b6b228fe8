#!/usr/bin/env bash
# The Python package's tests: build the wheel (maturin, bindings = bin),
# install it into fresh venvs, once with pandas and once without, and run
# pytest there. Needs the services of scripts/setup-test-env.sh (Slurm,
# and GUILD_COMPAT_VENV with guildai==0.9.0 and TensorBoard).
set -euo pipefail
cd "$(dirname "$0")/.."
export GUILD_COMPAT_VENV="${GUILD_COMPAT_VENV:-$PWD/.venv-guild}"
BUILD=.venv-build
if [ ! -x "$BUILD/bin/maturin" ]; then
  python3 -m venv "$BUILD"
  "$BUILD/bin/pip" install -q "maturin>=1.5,<2"
fi
rm -rf target/wheels
"$BUILD/bin/maturin" build --release --quiet -o target/wheels
wheel=$(ls target/wheels/*.whl)
for flavor in pandas plain; do
  venv="target/py-test-$flavor"
  python3 -m venv --clear "$venv"
  extra=()
  [ "$flavor" = pandas ] && extra=(pandas)
  "$venv/bin/pip" install -q "$wheel" pytest "${extra[@]}"
  # Not the repository's python/ directory: the installed package.
  (cd python/tests && GUILD_TEST_FLAVOR=$flavor "../../$venv/bin/python" -m pytest -q -p no:cacheprovider .)
done
