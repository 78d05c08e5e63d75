#!/usr/bin/env bash
# The whole test suite: lint, types, the dependency audit, unit, integration (real Valkey,
# SQLite and PostgreSQL, the Kafka-protocol broker, real worker/relay/consumer processes),
# end-to-end (Chromium), and the benchmarks' quick correctness run. Fails when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
. .venv/bin/activate
export PYTHONUNBUFFERED=1
echo "== lint"
ruff check .
echo "== types"
mypy ticketing_app backend_jobs bench
echo "== dependency audit (pip-audit; skipped, and said so, when its service is unreachable)"
python scripts/audit_deps.py
echo "== tests"
pytest -q -p no:cacheprovider --durations=15 "$@"
if [ -z "${1:-}" ] && [ -f bench/__main__.py ]; then
  echo "== benchmarks (quick: correctness checks only)"
  python -m bench --quick --out artifacts/bench-quick
fi
