#!/bin/bash
# Runs every Criterion unit test binary in DIR; the last line sums them up.
set -u
dir=$(cd "${1:?usage: run-unit.sh DIR}" && pwd)
# Tests find their data relative to the project root.
cd "$(dirname "$0")/.."
passed=0 failed=0
for t in "$dir"/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	log=$(mktemp)
	"$t" --jobs=1 >"$log" 2>&1
	rc=$?
	synthesis=$(grep -h 'Synthesis' "$log" | tail -n 1)
	ok=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$synthesis")
	bad=$(sed -n 's/.*Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2/p' <<<"$synthesis")
	ok=${ok:-0}
	bad=$(( ${bad% *} + ${bad#* } )) 2>/dev/null || bad=0
	[ "$rc" -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
	if [ "$bad" -ne 0 ]; then
		echo "--- $name failed:"; grep -v '^\[----\]' "$log" | tail -n 40
	fi
	echo "$name: $ok passed, $bad failed"
	passed=$((passed + ok)) failed=$((failed + bad))
	rm -f "$log"
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
