#!/bin/bash
# Memory of a launcher while its tasks run, as the user who runs it:
#   procmem.sh LAUNCHERS NTASKS COMMAND...
# starts COMMAND, whose tasks must be `/bin/sleep N` processes (e.g. yurt run -n
# 64 IMG /bin/sleep 60), waits until NTASKS of them run, then reads every process of
# this user whose name matches the regex LAUNCHERS (e.g. 'yurt', 'ch-run'): the
# launcher side, FUSE servers included, tasks excluded.  Prints one line:
#   procs=N hwm_kib=K pss_kib=K fuse_servers=N
# and ends the tasks (SIGTERM to the sleeps it counted) and waits for COMMAND.
# hwm_kib sums VmHWM (peak RSS; shared pages count once per process), pss_kib
# sums Pss now (shared pages divided among their users: the real footprint).
# fuse_servers counts processes holding /dev/fuse open: one per FUSE mount.
# (A task's own mountinfo may not show the FUSE mount at all: yurt stacks an
# overlay on it and detaches the mount beneath.)
set -uo pipefail
launchers=$1 ntasks=$2
shift 2
uid=$(id -u)
# A FUSE server of an earlier run may still be on its way out: not ours to count.
for ((i = 0; i < 400; i++)); do
	pgrep -u "$uid" -x "$launchers" >/dev/null || break
	sleep 0.01
done
tasks() { pgrep -u "$uid" -f -x '/bin/sleep [0-9]+'; } # not this script's own sleeps
"$@" >/dev/null 2>/dev/null &
cmd=$!
for ((i = 0; i < 3000; i++)); do
	tasks=$(tasks | wc -l)
	[ "$tasks" -ge "$ntasks" ] && break
	kill -0 "$cmd" 2>/dev/null || break
	sleep 0.01
done
if [ "$tasks" -lt "$ntasks" ]; then
	echo "procmem: only $tasks of $ntasks tasks started: $*" >&2
	kill $(tasks) 2>/dev/null
	wait "$cmd"
	exit 1
fi
sleep 0.3 # let the last tasks finish starting: all their files are open
procs=0 hwm=0 pss=0 servers=0
for pid in $(pgrep -u "$uid" -x "$launchers"); do
	h=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || continue
	p=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null)
	procs=$((procs + 1)) hwm=$((hwm + ${h:-0})) pss=$((pss + ${p:-0}))
	# /dev/fuse is char device 10:229 (its path reads /fuse from inside a container)
	for fd in "/proc/$pid/fd/"*; do
		[ "$(stat -L -c %t:%T "$fd" 2>/dev/null)" = a:e5 ] && { servers=$((servers + 1)); break; }
	done
done
echo "procs=$procs hwm_kib=$hwm pss_kib=$pss fuse_servers=$servers"
kill $(tasks) 2>/dev/null
wait "$cmd"
exit 0
