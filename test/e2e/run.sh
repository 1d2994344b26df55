#!/bin/bash
# End-to-end tests of a yurt binary, run as whoever calls this (make check runs
# it as an unprivileged user).  Usage: test/e2e/run.sh PATH/TO/yurt [NAME...]
# Each test_* function of test/e2e/t_*.sh runs in its own subshell; the last
# line sums them up.
set -u
YURT=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
E2E=$(cd "$(dirname "$0")" && pwd)
export YURT E2E
T=$(mktemp -d "${TMPDIR:-/tmp}/yurt-e2e.XXXXXX")
export T
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT

. "$E2E/lib.sh"
build_images

passed=0 failed=0 failures=()
for file in "$E2E"/t_*.sh; do
	. "$file"
done
tests=$(declare -F | awk '{print $3}' | grep '^test_')
[ $# -gt 0 ] && tests=$(printf '%s\n' "$@")
for t in $tests; do
	out="$T/$t.out"
	start=$(date +%s%N)
	if (cd "$T/work" && set -e && "$t") >"$out" 2>&1; then
		passed=$((passed + 1))
		printf 'ok     %-44s %6d ms\n' "$t" $(( ($(date +%s%N) - start) / 1000000 ))
	else
		failed=$((failed + 1))
		failures+=("$t")
		echo "FAILED $t"
		sed 's/^/    /' "$out" | tail -n 25
	fi
done
[ $failed -gt 0 ] && echo "failed: ${failures[*]}"
echo "e2e: $passed passed, $failed failed"
[ $failed -eq 0 ]
