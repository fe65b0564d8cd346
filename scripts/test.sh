#!/usr/bin/env bash
# Set up the machine (idempotent), then run the test suite. Extra arguments go to pytest.
# pytest's exit code 5 ("no tests collected") is turned into a failure: a suite that ran nothing
# must not pass.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh" || exit 1
cd "$root"
start=$SECONDS
.venv/bin/python -m pytest "${@:-tests}"
rc=$?
if [ $rc -eq 5 ]; then
  echo "scripts/test.sh: pytest collected no tests; failing" >&2
  exit 1
fi
echo "scripts/test.sh: tests took $((SECONDS - start)) s (exit $rc)" >&2
exit $rc
