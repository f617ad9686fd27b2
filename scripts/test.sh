#!/usr/bin/env bash
# Every check CI runs: lint, types, house rules (room sizes, no SQL on another service's
# tables: docs/architecture.md), schema drift, then unit, integration and
# end-to-end tests on a real local Kafka and PostgreSQL (started here if needed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

echo "== lint"; .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== types"; .venv/bin/mypy schemas runtime services rcm
echo "== house rules"; $PY scripts/check_house.py
echo "== schema drift"; $PY -m schemas.generate --check

started=0
if ! $PY -m rcm.cli stack status --json | $PY -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if all(p["running"] for p in d.values()) else 1)'; then
  started=1
fi
# The stack's SFTP server is Debian's OpenSSH sshd (rcm/stack_sftp.py; root only).
if [ ! -x /usr/sbin/sshd ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends openssh-server >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends openssh-server >/dev/null; }
fi
$PY -m rcm.cli stack up
cleanup() { if [ "$started" = 1 ]; then $PY -m rcm.cli stack down || true; fi; }
trap cleanup EXIT

mkdir -p test-artifacts
# The ops dashboard test renders the page in headless Chromium (Debian's package).
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
fi
# The accessibility tests run axe-core (npm) in that Chromium; the lock file pins it.
if [ ! -f tests/a11y/node_modules/axe-core/axe.min.js ]; then
  (cd tests/a11y && npm ci --no-audit --no-fund --loglevel=error)
fi
# A short chaos run: services killed at random, Kafka and PostgreSQL restarted, poison
# injected; it fails the build if anything was lost, sent twice, posted twice or unbalanced.
echo "== chaos (short)"
$PY -m rcm.cli chaos --claims 150 --kills 3 --timeout 600 --out test-artifacts/chaos > test-artifacts/chaos.log 2>&1 \
  || { tail -80 test-artifacts/chaos.log; echo "chaos run failed" >&2; exit 1; }
grep -E '"(claims|kills|lost|duplicate_submissions|duplicate_postings|unbalanced_ledgers|unexpected_dead_letters|ok)"' test-artifacts/chaos/chaos.json

# Benchmark smokes: the end-to-end bench, the scale-out stage bench and the runtime floor
# run and report sane figures (no time limit is asserted; the figures go in the notes).
echo "== bench (smoke)"
$PY -m rcm.cli bench --claims 100 --out test-artifacts/bench > test-artifacts/bench.log 2>&1 \
  || { tail -40 test-artifacts/bench.log; echo "bench smoke failed" >&2; exit 1; }
$PY -m rcm.cli bench --stage coding --instances 2 --claims 200 --out test-artifacts/bench-stage \
  > test-artifacts/bench-stage.log 2>&1 \
  || { tail -40 test-artifacts/bench-stage.log; echo "stage bench smoke failed" >&2; exit 1; }
$PY -m rcm.cli bench --floor --claims 300 --out test-artifacts/bench-floor \
  > test-artifacts/bench-floor.log 2>&1 \
  || { tail -40 test-artifacts/bench-floor.log; echo "floor bench smoke failed" >&2; exit 1; }
$PY scripts/check_bench.py test-artifacts/bench/bench.json test-artifacts/bench-stage/bench.json \
  test-artifacts/bench-floor/bench.json

set +e
$PY -m pytest -m "unit or integration or e2e" --junitxml=test-artifacts/junit.xml "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
