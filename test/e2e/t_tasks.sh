# yurt run -n: many tasks in one container, binding, cgroups.

# The synthetic node of the issue: 2 packages x 4 cores x 2 threads.
small_node="pack:2 core:4 pu:2"

test_tasks_get_ids_and_share_one_container() {
	out=$("$YURT" run -n 2 -O "$T/bare.sqfs" sh -c 'echo $YURT_TASK_ID/$YURT_LOCAL_ID/$YURT_NTASKS $(readlink /proc/self/ns/mnt)' | sort)
	expect_eq ids "0/0/2 1/1/2" "$(cut -d' ' -f1 <<<"$out" | xargs)"
	expect_eq "one mount namespace" 1 "$(cut -d' ' -f2 <<<"$out" | sort -u | wc -l)"
}

test_tasks_use_one_fuse_server() {
	"$YURT" run -n 4 -O "$T/bare.sqfs" sh -c 'echo ready; sleep 1' > "$T/r" &
	for i in $(seq 50); do [ "$(grep -c ready "$T/r")" = 4 ] && break; sleep 0.1; done
	# The launcher, which waits for the tasks, and one FUSE server.
	expect_eq "yurt processes" 2 "$(yurt_procs | wc -l)"
	wait
}

test_exit_status_is_the_highest_and_failures_are_named() {
	expect_status 3 "$YURT" run -n 4 -O "$T/bare.sqfs" sh -c 'exit $(( YURT_TASK_ID == 2 ? 3 : YURT_TASK_ID == 1 ? 1 : 0 ))'
	grep -q 'task 2: exited with status 3' "$T/stderr" || fail "$(cat "$T/stderr")"
	grep -q 'task 1: exited with status 1' "$T/stderr" || fail "$(cat "$T/stderr")"
	! grep -q 'task 0' "$T/stderr" || fail "task 0 succeeded: $(cat "$T/stderr")"
}

test_kill_on_bad_exit_ends_the_others() {
	start=$(date +%s)
	expect_status 143 "$YURT" run -n 3 -O -K "$T/bare.sqfs" sh -c '[ $YURT_TASK_ID = 1 ] && exit 5; exec sleep 30'
	[ $(( $(date +%s) - start )) -lt 10 ] || fail "the other tasks were not ended"
	grep -q 'task 1: exited with status 5' "$T/stderr" || fail "$(cat "$T/stderr")"
}

test_without_kill_on_bad_exit_others_finish() {
	expect_status 5 "$YURT" run -n 2 -O "$T/bare.sqfs" sh -c '[ $YURT_TASK_ID = 1 ] && exit 5; sleep 0.5; echo finished'
	expect_eq output finished "$(cat "$T/stdout")"
}

test_label_prefixes_whole_lines() {
	"$YURT" run -n 2 -O -l "$T/bare.sqfs" sh -c 'printf "a-$YURT_TASK_ID"; sleep 0.2; printf "b\n"; echo second >&2' >"$T/o" 2>"$T/e"
	expect_eq stdout "0: a-0b
1: a-1b" "$(sort "$T/o")"
	expect_eq stderr "0: second
1: second" "$(sort "$T/e")"
}

test_signals_reach_every_task() {
	"$YURT" run -n 2 -O "$T/bare.sqfs" sh -c 'trap "echo term-$YURT_TASK_ID; exit 0" TERM; echo ready; while :; do sleep 0.1; done' > "$T/sig.out" &
	pid=$!
	for i in $(seq 50); do [ "$(grep -c ready "$T/sig.out")" = 2 ] && break; sleep 0.1; done
	kill -TERM $pid
	wait $pid
	expect_eq "both got TERM" "term-0 term-1" "$(grep term "$T/sig.out" | sort | xargs)"
	expect_nothing_left
}

test_binding_is_applied_and_read_back() {
	# This machine: cores bound one per task, read back from the kernel.
	out=$("$YURT" run -n 2 --cpu-bind=verbose,cores "$T/bare.sqfs" sh -c 'echo $YURT_TASK_ID $(grep Cpus_allowed_list /proc/self/status | cut -f2)' 2>"$T/err" | sort)
	ncpu=$(nproc)
	if [ "$ncpu" -ge 2 ]; then
		[ "$(wc -l <<<"$out")" = 2 ] || fail "$out"
		[ "$(cut -d' ' -f2 <<<"$out" | sort -u | wc -l)" = 2 ] || fail "tasks share cpus: $out"
		grep -q '^yurt: task 0: cpus ' "$T/err" || fail "no verbose binding: $(cat "$T/err")"
	fi
}

test_too_many_tasks_is_an_error_naming_the_numbers() {
	expect_launch_error "9 tasks x 1 cpu: need 9 cores, only 8 allowed" \
		env HWLOC_SYNTHETIC="$small_node" "$YURT" run -n 9 --cpu-bind=cores --dry-run "$T/bare.sqfs" true
	HWLOC_SYNTHETIC="$small_node" "$YURT" run -n 9 -O --cpu-bind=cores --dry-run "$T/bare.sqfs" true >/dev/null
}

test_dry_run_block_and_cyclic_on_synthetic_node() {
	expect_eq block "yurt: task 0: cpus 0-1
yurt: task 1: cpus 2-3
yurt: task 2: cpus 4-5
yurt: task 3: cpus 6-7" "$(HWLOC_SYNTHETIC="$small_node" "$YURT" run -n 4 --cpu-bind=cores -m block --dry-run "$T/bare.sqfs" true)"
	expect_eq cyclic "yurt: task 0: cpus 0-1
yurt: task 1: cpus 8-9
yurt: task 2: cpus 2-3
yurt: task 3: cpus 10-11" "$(HWLOC_SYNTHETIC="$small_node" "$YURT" run -n 4 --cpu-bind=cores --dry-run "$T/bare.sqfs" true)"
}

test_dry_run_on_big_numa_node() {
	out=$(HWLOC_SYNTHETIC="pack:2 numa:2 core:32 pu:2" "$YURT" run -n 4 -c 32 --cpu-bind=ldoms --mem-bind=local --dry-run "$T/bare.sqfs" true)
	expect_eq "4 NUMA domains" 4 "$(grep -c 'mems' <<<"$out")"
	expect_eq "distinct" 4 "$(sed 's/.*cpus //' <<<"$out" | sort -u | wc -l)"
}

test_topology_summary() {
	out=$(HWLOC_SYNTHETIC="pack:2 numa:2 core:64 pu:2" "$YURT" topology)
	grep -qx 'machine: packages 2, numa domains 4, cores 256, threads 512' <<<"$out" || fail "$out"
	"$YURT" topology | grep -q "^allowed: cpus" || fail "no allowed line"
}

test_option_errors_for_tasks() {
	expect_launch_error "--ntasks 0" "$YURT" run -n 0 "$T/bare.sqfs" true
	expect_launch_error "--ntasks x" "$YURT" run -n x "$T/bare.sqfs" true
	expect_launch_error "cpu-bind" "$YURT" run --cpu-bind=bogus "$T/bare.sqfs" true
	expect_launch_error "cgroup" "$YURT" run --cgroup=maybe "$T/bare.sqfs" true
}

test_cgroup_require_without_delegation_fails() {
	[ -n "${YURT_TEST_CGROUP:-}" ] && { echo "skip: running inside a delegated cgroup"; return 0; }
	expect_launch_error "cgroup" "$YURT" run -n 2 -O --cgroup=require "$T/bare.sqfs" true
}

test_cgroup_cpusets_in_delegated_cgroup() {
	[ -n "${YURT_TEST_CGROUP:-}" ] || { echo "skip: no delegated cgroup (make check as root prepares one)"; return 0; }
	out=$("$YURT" run -n 2 --cpu-bind=cores --cgroup=require "$T/bare.sqfs" sh -c \
		'echo $YURT_TASK_ID $(grep Cpus_allowed_list /proc/self/status | cut -f2) $(cut -d: -f3 /proc/self/cgroup | grep -m1 task)' | sort)
	[ "$(wc -l <<<"$out")" = 2 ] || fail "$out"
	grep -q 'task-0' <<<"$out" && grep -q 'task-1' <<<"$out" || fail "tasks not in their cgroups: $out"
	# A task cannot widen its own binding.
	"$YURT" run -n 2 --cpu-bind=cores --cgroup=require "$T/bare.sqfs" sh -c \
		'taskset -p 0x3 $$ >/dev/null 2>&1; grep Cpus_allowed_list /proc/self/status | cut -f2' > "$T/w"
	[ "$(sort -u "$T/w" | wc -l)" = 2 ] || fail "binding widened: $(cat "$T/w")"
	# Its cgroups are gone afterwards.
	! ls -d "$YURT_TEST_CGROUP"/yurt-* 2>/dev/null || fail "cgroups left behind"
}
