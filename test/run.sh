#!/usr/bin/env bash
# The test command (`npm test`). It installs the Debian packages the tests drive, type-checks and
# builds the single executable. It then runs every test file with Bun, runs the real-client test
# again with the server under Deno, and ends with one "N passed, N failed" line that CI reads.
set -uo pipefail
cd "$(dirname "$0")/.."

bin=node_modules/.bin
mkdir -p test-output

echo "== system packages"
bash test/install-system-packages.sh || exit 1

echo "== type-check"
"$bin/tsc" -p tsconfig.json --noEmit || exit 1

echo "== build the admin UI and dist/jams"
"$bin/bun" packaging/build.ts || exit 1

# Runs `bun test` with the given arguments, logging to test-output/NAME.log.
run_bun_test() {
  local name=$1
  shift
  echo "== $name"
  # Tests that start jamid and dhtnode set their own timeouts; 60 s is the ceiling for the rest.
  "$bin/bun" test --timeout 60000 "$@" 2>&1 | tee "test-output/$name.log"
  return "${PIPESTATUS[0]}"
}

# Prints the number of tests that ended as $1 (pass or fail) in test-output/$2.log, or 0.
count() {
  local value
  value=$(grep -Eo "^ *[0-9]+ $1\$" "test-output/$2.log" 2>/dev/null | tail -1 | tr -dc '0-9')
  echo "${value:-0}"
}

run_bun_test bun-test "$@"
status=$?
if [ $# -eq 0 ]; then
  JAMS_SERVER_RUNTIME=deno run_bun_test deno-server test/jamid-enrollment.test.ts || status=1
fi

passed=$(( $(count pass bun-test) + $(count pass deno-server) ))
failed=$(( $(count fail bun-test) + $(count fail deno-server) ))
echo "tests: ${passed} passed, ${failed} failed"
if [ "$passed" = 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
exit "$status"
