#!/usr/bin/env bash
# Set up the machine (idempotent), then run the test suite. Extra arguments go to pytest.
# pytest's exit code 5 ("no tests collected") is turned into a failure: a suite that ran nothing
# must not pass.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh" || exit 1
cd "$root"
start=$SECONDS
# Two pytest workers (pytest-xdist), one test file each at a time, so a file's module fixtures (the
# tiny recipe runs) are built once. Each worker gets an equal share of the cores for torch, OpenMP
# and BLAS threads: with both workers at full threads on a 2-core machine, OpenMP's spinning threads
# made the suite slower than one worker. ASR_TEST_WORKERS=0 runs in one process; arguments after
# the script's (e.g. -n 0) win.
workers=${ASR_TEST_WORKERS:-2}
parallel=()
if [ "$workers" -gt 1 ]; then
  threads=$(( $(nproc) / workers )); [ "$threads" -ge 1 ] || threads=1
  export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
  parallel=(-n "$workers" --dist loadfile)
fi
.venv/bin/python -m pytest "${parallel[@]}" "${@:-tests}"
rc=$?
if [ $rc -eq 5 ]; then
  echo "scripts/test.sh: pytest collected no tests; failing" >&2
  exit 1
fi
echo "scripts/test.sh: tests took $((SECONDS - start)) s (exit $rc)" >&2
exit $rc
