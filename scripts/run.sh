#!/usr/bin/env bash
# Runs the whole product on embedded defaults (SQLite, embedded Valkey, embedded Kafka-protocol
# broker, worker, relay, consumers and the web app) with demo data. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
SKIP_BROWSER=1 ./scripts/bootstrap.sh
. .venv/bin/activate
exec ticketing up "$@"
