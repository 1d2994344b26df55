# Instances: yurt start / exec / stop / list, and yurt run --join.

# A state directory of the test's own, so that tests (and other yurts of the
# same user) never see each other's instances; whatever a failing test leaves
# running is stopped when it ends.
private_state() {
	export XDG_RUNTIME_DIR="$T/xdg-$1"
	mkdir -p "$XDG_RUNTIME_DIR"
	STATE="$XDG_RUNTIME_DIR/yurt"
	trap '"$YURT" list 2>/dev/null | awk "NR > 1 {print \$1}" | xargs -r "$YURT" stop 2>/dev/null' EXIT
}

# Our live processes whose command line matches PATTERN (zombies wait for an
# init that may be slow to reap them).
live() {
	ps -u "$(id -u)" -o stat=,args= | awk '$1 !~ /^Z/' | grep -- "$1" | grep -v grep
}

# Waits until the state directory is empty: the holder removes its files
# when it ends, just after its last member has gone.
expect_state_gone() {
	local i
	for i in $(seq 50); do
		[ -z "$(ls -A "$STATE" 2>/dev/null)" ] && return 0
		sleep 0.1
	done
	fail "state left behind: $(ls -A "$STATE")"
}

# waits_for PATTERN FILE: until FILE has a line matching PATTERN.
waits_for() {
	local i
	for i in $(seq 100); do
		grep -q "$1" "$2" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "no '$1' in $2: $(cat "$2")"
}

test_instance_start_exec_list_stop() {
	private_state roundtrip
	"$YURT" start --name web "$T/bare.sqfs"
	expect_eq "state dir mode" 700 "$(stat -c %a "$STATE")"
	expect_eq exec busybox "$("$YURT" exec web sh -c 'echo $YURT_IMAGE')"
	out=$("$YURT" list)
	expect_eq header "NAME IMAGE PID STARTED TASKS" "$(head -n 1 <<<"$out" | xargs)"
	read -r name image pid started tasks <<<"$(sed -n 2p <<<"$out")"
	expect_eq name web "$name"
	expect_eq image "$T/bare.sqfs" "$image"
	expect_eq tasks 0 "$tasks"
	[ -d "/proc/$pid" ] || fail "holder $pid is not running"
	[[ $started =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}$ ]] || fail "started: $started"
	"$YURT" stop web
	expect_eq "list after stop" 1 "$("$YURT" list | wc -l)"
	expect_state_gone
	expect_nothing_left
}

test_instance_exec_shares_the_container() {
	private_state shares
	"$YURT" start --name w --writable-tmpfs "$T/bare.sqfs"
	"$YURT" exec w sh -c 'echo kept > /newfile'
	expect_eq "earlier write" kept "$("$YURT" exec w cat /newfile)"
	expect_eq "one mount namespace" "$("$YURT" exec w readlink /proc/self/ns/mnt)" \
		"$("$YURT" exec w readlink /proc/self/ns/mnt)"
	"$YURT" stop w
	expect_nothing_left
}

test_instance_exec_tasks_labels_and_status() {
	private_state tasks
	"$YURT" start --name t "$T/bare.sqfs"
	expect_eq labels "0: task 0/2
1: task 1/2" "$("$YURT" exec -n 2 -O -l t sh -c 'echo task $YURT_TASK_ID/$YURT_NTASKS' | sort)"
	expect_status 7 "$YURT" exec t sh -c 'exit 7'
	expect_status 143 "$YURT" exec t sh -c 'kill -TERM $$'
	expect_status 127 "$YURT" exec t no-such-command
	expect_status 3 "$YURT" exec -n 2 -O t sh -c 'exit $((YURT_TASK_ID + 2))'
	"$YURT" stop t
	expect_nothing_left
}

test_instance_exec_environment_and_workdir() {
	private_state env
	mkdir -p "$T/work/proj" && cd "$T/work/proj"
	FROM_START=s "$YURT" start --name e -e SET=start "$T/bare.sqfs"
	cd "$T/work"
	out=$(FROM_START=no FROM_EXEC=x "$YURT" exec -e EXTRA=1 e sh -c 'echo $FROM_START $SET $EXTRA ${FROM_EXEC:-none} $(pwd)')
	expect_eq "instance env, -e on top, workdir" "s start 1 none $T/work/proj" "$out"
	expect_eq "-w" /etc "$("$YURT" exec -w /etc e pwd)"
	expect_launch_error "workdir /nonexistent" "$YURT" exec -w /nonexistent e true
	"$YURT" stop e
	expect_nothing_left
}

test_instance_tasks_keep_no_privileges() {
	private_state privs
	"$YURT" start --name p "$T/bare.sqfs"
	out=$("$YURT" exec p grep -E '^(NoNewPrivs|CapEff|CapBnd)' /proc/self/status | sort | xargs)
	expect_eq privileges "CapBnd: 0000000000000000 CapEff: 0000000000000000 NoNewPrivs: 1" "$out"
	expect_eq uid "$(id -u)" "$("$YURT" exec p id -u)"
	"$YURT" stop p
	"$YURT" start --name r --root "$T/bare.sqfs"
	expect_eq "--root instance" 0 "$("$YURT" exec r id -u)"
	"$YURT" stop r
	expect_nothing_left
}

test_instance_errors() {
	private_state errors
	expect_launch_error "no instance nope" "$YURT" exec nope true
	expect_launch_error "no instance nope" "$YURT" stop nope
	"$YURT" start --name d "$T/bare.sqfs"
	expect_launch_error "instance d already exists" "$YURT" start --name d "$T/bare.sqfs"
	expect_launch_error "missing --name" "$YURT" start "$T/bare.sqfs"
	expect_launch_error "an instance runs no command" "$YURT" start --name x "$T/bare.sqfs" true
	expect_launch_error "option --bind is not for 'yurt exec'" "$YURT" exec -b /tmp d true
	expect_launch_error "option --ntasks is not for 'yurt start'" "$YURT" start -n 2 --name x "$T/bare.sqfs"
	expect_launch_error "missing command" "$YURT" exec d
	expect_launch_error "must not start with '.'" "$YURT" start --name .hidden "$T/bare.sqfs"
	expect_launch_error "only letters, digits" "$YURT" start --name a/b "$T/bare.sqfs"
	expect_launch_error "longer than 64" "$YURT" start --name "$(printf 'x%.0s' $(seq 65))" "$T/bare.sqfs"
	expect_launch_error "nope.sqfs" "$YURT" start --name x "$T/nope.sqfs"
	"$YURT" stop d
	expect_state_gone
	expect_nothing_left
}

test_instance_stale_state_is_cleaned_not_trusted() {
	private_state stale
	"$YURT" start --name s "$T/bare.sqfs"
	pid=$(sed -n 's/^pid=//p' "$STATE/s.state")
	kill -KILL "$pid"
	expect_launch_error "no instance s" "$YURT" exec s true
	expect_eq "list" 1 "$("$YURT" list | wc -l)"
	expect_state_gone
	"$YURT" start --name s "$T/bare.sqfs"
	kill -KILL "$(sed -n 's/^pid=//p' "$STATE/s.state")"
	"$YURT" start --name s "$T/bare.sqfs"
	expect_eq "started again" ok "$("$YURT" exec s echo ok)"
	# A record that names another process, live but not the holder, is stale.
	sed -i "s/^pid=.*/pid=$$/" "$STATE/s.state"
	expect_launch_error "no instance s" "$YURT" exec s true
	sed -i "s/^pid=.*/pid=1/" "$STATE/s.state"
	expect_launch_error "no instance s" "$YURT" exec s true
	printf 'garbage\n' > "$STATE/s.state"
	expect_launch_error "no instance s" "$YURT" exec s true
	expect_status 0 "$YURT" stop s
	grep -q 'had already ended' "$T/stderr" || fail "$(cat "$T/stderr")"
	# The holder of the record replaced above still runs: end it as a user would.
	pkill -TERM -u "$(id -u)" -f "start --name s $T/bare.sqfs"
	expect_nothing_left
}

test_instance_state_dir_must_be_private() {
	private_state private
	"$YURT" list >/dev/null
	chmod 755 "$STATE"
	expect_launch_error "mode 0755 lets other users in" "$YURT" start --name x "$T/bare.sqfs"
	expect_launch_error "chmod 700 $STATE" "$YURT" list
	rmdir "$STATE"
	mkdir "$T/elsewhere"
	ln -s "$T/elsewhere" "$STATE"
	expect_launch_error "a symlink or a file" "$YURT" start --name x "$T/bare.sqfs"
	rm "$STATE"
	: > "$STATE"
	expect_launch_error "a symlink or a file" "$YURT" exec x true
	rm "$STATE"
	# Without XDG_RUNTIME_DIR (or with one missing here): /tmp/yurt-UID.
	XDG_RUNTIME_DIR=$T/missing "$YURT" list >/dev/null
	expect_eq "fallback" "$(id -u) 700" "$(stat -c '%u %a' "/tmp/yurt-$(id -u)")"
	expect_nothing_left
}

test_stop_ends_exec_tasks_and_what_they_left() {
	private_state stop
	for mode in "" --pid; do
		"$YURT" start $mode --name s "$T/bare.sqfs"
		no_lsan "$YURT" exec s sh -c 'sleep 97 & echo left'
		no_lsan "$YURT" exec s sh -c 'trap "echo got-TERM; exit 3" TERM; echo ready; while :; do sleep 0.1; done' > "$T/s.out" &
		pid=$!
		waits_for ready "$T/s.out"
		expect_eq tasks 1 "$("$YURT" list | awk 'NR == 2 {print $5}')"
		"$YURT" stop s
		status=0; wait $pid || status=$?
		expect_eq "exec status ($mode)" 3 "$status"
		grep -q got-TERM "$T/s.out" || fail "TERM not passed on ($mode)"
		! live 'sleep 97' || fail "a background task survived ($mode)"
		expect_state_gone
		expect_nothing_left
	done
}

test_instance_exec_killed_takes_its_tasks() {
	private_state killexec
	"$YURT" start --name k "$T/bare.sqfs"
	"$YURT" exec k sh -c 'echo ready; exec sleep 98' > "$T/k.out" &
	pid=$!
	waits_for ready "$T/k.out"
	kill -KILL $pid
	wait $pid || true
	for i in $(seq 50); do live 'sleep 98' >/dev/null || break; sleep 0.1; done
	! live 'sleep 98' || fail "the task outlived yurt exec"
	expect_eq tasks 0 "$("$YURT" list | awk 'NR == 2 {print $5}')"
	"$YURT" stop k
	expect_nothing_left
}

test_join_parallel_runs_share_one_container() {
	private_state join
	for i in $(seq 8); do
		"$YURT" run -v --join=k "$T/bare.sqfs" sh -c "sleep 0.3; echo run-$i \$(readlink /proc/self/ns/mnt)" \
			> "$T/work/j.$i" 2> "$T/work/j.$i.err" &
	done
	wait
	for i in $(seq 8); do
		expect_eq "run $i" "run-$i" "$(cut -d' ' -f1 "$T/work/j.$i")"
	done
	expect_eq "one mount namespace" 1 "$(cut -d' ' -f2 "$T/work"/j.? | sort -u | wc -l)"
	expect_eq "one FUSE server" 1 "$(cat "$T/work"/j.*.err | grep -c 'FUSE server .* serves')"
	expect_eq "created" 1 "$(cat "$T/work"/j.*.err | grep -c 'created instance k')"
	expect_eq "joined" 7 "$(cat "$T/work"/j.*.err | grep -c 'joined instance k')"
	expect_state_gone
	expect_nothing_left
}

test_join_last_one_out_tears_down() {
	private_state last
	"$YURT" run --join=k "$T/bare.sqfs" sh -c 'echo ready; sleep 1' > "$T/l.out" &
	first=$!
	waits_for ready "$T/l.out"
	# Joins, leaves; the first one is still in.
	expect_eq second ok "$("$YURT" run --join=k "$T/bare.sqfs" echo ok)"
	expect_eq "still there" k "$("$YURT" list | awk 'NR == 2 {print $1}')"
	wait $first
	expect_state_gone
	expect_nothing_left
	# And the next one makes a new container.
	expect_eq again ok "$("$YURT" run --join=k "$T/bare.sqfs" echo ok)"
	expect_state_gone
	expect_nothing_left
}

test_join_status_and_tasks_are_each_runs_own() {
	private_state status
	"$YURT" run --join=k "$T/bare.sqfs" sh -c 'echo ready; sleep 1' > "$T/st.out" &
	first=$!
	waits_for ready "$T/st.out"
	expect_status 5 "$YURT" run --join=k "$T/bare.sqfs" sh -c 'exit 5'
	expect_eq "env" "x 2" "$(X=x "$YURT" run --join=k -n 2 -O -e N=2 "$T/bare.sqfs" sh -c 'echo $X $N' | sort -u)"
	wait $first
	expect_nothing_left
}

test_join_slurm_step_is_the_default_key() {
	private_state slurm
	SLURM_JOB_ID=42 SLURM_STEP_ID=3 "$YURT" run --join "$T/bare.sqfs" sh -c 'echo ready; sleep 1' > "$T/sl.out" &
	pid=$!
	waits_for ready "$T/sl.out"
	expect_eq key 42.3 "$("$YURT" list | awk 'NR == 2 {print $1}')"
	wait $pid
	expect_launch_error "outside a Slurm step" "$YURT" run --join "$T/bare.sqfs" true
	expect_launch_error "--join key '': must not be empty" "$YURT" run --join= "$T/bare.sqfs" true
	expect_nothing_left
}

test_join_kill_9_of_a_member_spares_the_others() {
	private_state kill9
	"$YURT" run --join=k "$T/bare.sqfs" sh -c 'echo ready; sleep 1.5; echo still-fine' > "$T/a.out" &
	a=$!
	waits_for ready "$T/a.out"
	"$YURT" run --join=k "$T/bare.sqfs" sh -c 'echo ready; exec sleep 99' > "$T/b.out" &
	b=$!
	waits_for ready "$T/b.out"
	kill -KILL $b
	wait $b || true
	expect_status 0 wait $a
	grep -q still-fine "$T/a.out" || fail "the other member broke: $(cat "$T/a.out")"
	expect_state_gone
	! live 'sleep 99' || fail "the killed member's task survived"
	expect_nothing_left
}

test_join_needs_the_same_container() {
	private_state same
	"$YURT" run --join=k "$T/bare.sqfs" sh -c 'echo ready; sleep 1' > "$T/m.out" &
	pid=$!
	waits_for ready "$T/m.out"
	expect_launch_error "made from other options" "$YURT" run --join=k --writable-tmpfs "$T/bare.sqfs" true
	expect_launch_error "made from other options" "$YURT" run --join=k "$T/full.sqfs" true
	wait $pid
	"$YURT" start --name n "$T/bare.sqfs"
	expect_launch_error "made by 'yurt start'" "$YURT" run --join=n "$T/bare.sqfs" true
	"$YURT" stop n
	expect_nothing_left
}

test_join_with_pid_namespace() {
	private_state pid
	no_lsan "$YURT" run --join=k --pid "$T/bare.sqfs" sh -c 'echo ready; sleep 1' > "$T/p.out" &
	pid=$!
	waits_for ready "$T/p.out"
	# The other member's task is in the same PID namespace: visible, with
	# the namespace's init (the holder's child) as pid 1.
	out=$(no_lsan "$YURT" run --join=k --pid "$T/bare.sqfs" ps -o pid,args)
	grep -q '^ *1 .*--join=k --pid' <<<"$out" || fail "no init in: $out"
	grep -q 'sleep 1' <<<"$out" || fail "the other member's task is not visible: $out"
	wait $pid
	expect_nothing_left
}

test_instance_help() {
	for c in start exec stop list; do
		"$YURT" help $c | grep -q "^Usage: yurt $c" || fail "no help for $c"
	done
	"$YURT" help run | grep -q -- '--join\[=KEY\]' || fail "run's help lacks --join"
	"$YURT" --help | grep -q '^  exec ' || fail "main help lacks exec"
	"$YURT" exec --help | grep -q '^Usage: yurt exec' || fail "exec --help"
}
