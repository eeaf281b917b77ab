#!/usr/bin/env bash
# The test command of the README: every project of the vitest workspace, then one closing
# line "N passed, N failed" that any CI can read.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tmp
npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json "$@"
status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(".tmp/vitest.json", "utf8"))
  console.log(`\nTests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`)
' || true
exit $status
