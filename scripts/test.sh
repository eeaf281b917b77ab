#!/usr/bin/env bash
# The test command of the README: first scripts/prerequisites.sh (RabbitMQ reachable, the vhost
# `asgi` created if missing, chromium, python3-aiormq/msgpack and openssl present; it installs the
# Debian packages itself only as root with CI=true or CHANNEL_LAYER_INSTALL_PREREQUISITES=1, and
# otherwise fails within seconds, one line per missing piece naming the command that provides it:
# a missing piece fails the run rather than skipping tests, so a green run means every test ran),
# then every project of the vitest workspace, then one closing line "N passed, N failed" that any
# CI can read.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/prerequisites.sh || { echo "Tests: 0 passed, 1 failed (missing prerequisites, listed above)"; exit 1; }
mkdir -p .tmp
npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json "$@"
status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(".tmp/vitest.json", "utf8"))
  console.log(`\nTests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`)
' || true
exit $status
