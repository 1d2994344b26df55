#!/bin/bash
# Times shell commands round-robin, as the user who runs it:
#   timeloop.sh OUTDIR REPS WARMUP NAME 'COMMAND' [NAME 'COMMAND']...
# Each round runs every COMMAND once, in turn, so that drift on a busy machine
# (frequency, other tenants) lands on all of them alike.  The wall time of each
# run, in milliseconds, is appended to OUTDIR/NAME.ms; WARMUP rounds come first
# and are not recorded.  A COMMAND that fails is recorded in OUTDIR/NAME.fail
# with its stderr and is not run again; the others go on.
# Clocks: bash's $EPOCHREALTIME, read in-process, so no fork is timed but the
# command's own.  Between runs it waits (untimed) until no process of this user
# named by the regex $BENCH_SETTLE (default: yurt|ch-run) is left, so a FUSE
# server still shutting down does not steal a core from the next run.
set -uo pipefail
out=$1 reps=$2 warmup=$3
shift 3
names=() cmds=()
while [ $# -ge 2 ]; do names+=("$1"); cmds+=("$2"); shift 2; done

# par N CMD...: N copies of CMD started at once; fails if any copy fails.
par() {
	local n=$1 i pid failed=0 pids=()
	shift
	for ((i = 0; i < n; i++)); do "$@" & pids+=($!); done
	for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
	[ "$failed" -eq 0 ] || { echo "par: $failed of $n copies failed" >&2; return 1; }
}

usec() { local t=${1/./}; echo $((10#$t)); }

settle() {
	local i
	for ((i = 0; i < 400; i++)); do
		pgrep -u "$(id -u)" -x "${BENCH_SETTLE:-yurt|ch-run}" >/dev/null || return 0
		sleep 0.005
	done
}

run_one() { # index record
	local i=$1 name=${names[$1]} t0 t1
	[ -e "$out/$name.fail" ] && return
	settle
	t0=$EPOCHREALTIME
	if ! eval "${cmds[$i]}" >/dev/null 2>"$out/$name.err"; then
		{ echo "failed: ${cmds[$i]}"; cat "$out/$name.err"; } > "$out/$name.fail"
		echo "timeloop: $name failed: ${cmds[$i]}" >&2
		sed 's/^/    /' "$out/$name.err" | head -5 >&2
		return
	fi
	t1=$EPOCHREALTIME
	local d=$(($(usec "$t1") - $(usec "$t0")))
	[ "$2" = 1 ] && printf '%d.%03d\n' $((d / 1000)) $((d % 1000)) >> "$out/$name.ms"
}

mkdir -p "$out"
for ((r = 0; r < warmup + reps; r++)); do
	for i in "${!names[@]}"; do run_one "$i" $((r >= warmup)); done
done
settle
