#!/usr/bin/env bash
# The test command (`npm test`): type-check, build the single executable, run every test file
# with Bun, and end with one "N passed, N failed" line that CI reads.
set -uo pipefail
cd "$(dirname "$0")/.."

bin=node_modules/.bin
mkdir -p test-output

echo "== system packages"
bash test/install-system-packages.sh || exit 1

echo "== type-check"
"$bin/tsc" -p tsconfig.json --noEmit || exit 1

echo "== build dist/jams"
"$bin/bun" packaging/build.ts || exit 1

echo "== bun test"
# Tests that start jamid and dhtnode set their own timeouts; 60 s is the ceiling for the rest.
"$bin/bun" test --timeout 60000 "$@" 2>&1 | tee test-output/bun-test.log
status=${PIPESTATUS[0]}

passed=$(grep -Eo '^ *[0-9]+ pass$' test-output/bun-test.log | tail -1 | tr -dc '0-9')
failed=$(grep -Eo '^ *[0-9]+ fail$' test-output/bun-test.log | tail -1 | tr -dc '0-9')
echo "tests: ${passed:-0} passed, ${failed:-0} failed"
if [ "${passed:-0}" = 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
exit "$status"
