#!/usr/bin/env bash
# One command for the benchmarks: a bench virtualenv (the package, editable, plus
# bench/requirements.txt: dlt[duckdb], pyinstrument, uvloop — never the package's own
# dependencies), then every benchmark. Arguments go to bench/run_all.py:
#   bash bench/run.sh              full run, results in bench/results/
#   bash bench/run.sh --smoke      a few seconds per benchmark, no verdicts
#   bash bench/run.sh --only fanout --runs 7
#   bash bench/run.sh --install    only make (or update) the bench virtualenv; .ci/run
#                                  does this so the dlt smoke test has dlt to run
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${ORCHESTRA_BENCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/orchestra-bench-venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[reqwest]" -r bench/requirements.txt
if [ "${1:-}" = "--install" ]; then
    echo "bench virtualenv ready: $VENV/bin/python"
    exit 0
fi
exec "$VENV/bin/python" bench/run_all.py "$@"
