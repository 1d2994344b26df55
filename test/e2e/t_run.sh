# yurt run: images, exit statuses, errors.

test_squashfs_image_runs_command() {
	expect_eq output "hello" "$("$YURT" run "$T/bare.sqfs" echo hello)"
}

test_directory_image_runs_command() {
	expect_eq output "busybox" "$("$YURT" run "$T/bare" sh -c 'echo $YURT_IMAGE')"
}

test_image_type_comes_from_content_not_name() {
	cp "$T/bare.sqfs" "$T/work/image.dir"
	expect_eq output ok "$("$YURT" run "$T/work/image.dir" echo ok)"
}

test_double_dash_separates_command() {
	expect_eq output "-v" "$("$YURT" run "$T/bare.sqfs" -- echo -v)"
}

test_exit_status_is_the_commands() {
	expect_status 7 "$YURT" run "$T/bare.sqfs" sh -c 'exit 7'
	expect_status 0 "$YURT" run "$T/bare" true
	expect_status 1 "$YURT" run "$T/bare" false
}

test_killed_by_signal_gives_128_plus_n() {
	expect_status 143 "$YURT" run "$T/bare.sqfs" sh -c 'kill -TERM $$'
	expect_status 137 "$YURT" run --pid "$T/bare.sqfs" sh -c 'kill -KILL $$'
}

test_command_not_found_is_127() {
	expect_status 127 "$YURT" run "$T/bare.sqfs" no-such-command
	grep -q '^yurt: error: no-such-command: command not found' "$T/stderr" || fail "$(cat "$T/stderr")"
	expect_status 127 "$YURT" run "$T/bare.sqfs" /no/such/file
}

test_not_executable_is_126() {
	expect_status 126 "$YURT" run "$T/hostile.sqfs" /bin/notexec
	expect_status 126 "$YURT" run "$T/hostile.sqfs" notexec
	expect_status 126 "$YURT" run "$T/bare.sqfs" /etc
}

test_error_missing_image() {
	expect_launch_error "$T/nope.sqfs: No such file or directory" "$YURT" run "$T/nope.sqfs" true
}

test_error_not_squashfs() {
	echo "just text" > "$T/work/text.img"
	expect_launch_error "text.img: not a SquashFS" "$YURT" run "$T/work/text.img" true
	: > "$T/work/empty.img"
	expect_launch_error "empty.img" "$YURT" run "$T/work/empty.img" true
	expect_launch_error "" "$YURT" run /bin/sh true
}

test_error_truncated_image() {
	head -c 300000 "$T/bare.sqfs" > "$T/work/short.sqfs"
	expect_launch_error "short.sqfs: truncated" "$YURT" run "$T/work/short.sqfs" true
}

test_error_corrupt_image() {
	cp "$T/bare.sqfs" "$T/work/bad.sqfs"
	# Scramble the superblock's table offsets, past the magic.
	printf '\xff\xff\xff\xff\xff\xff\xff\xff' | dd of="$T/work/bad.sqfs" bs=1 seek=64 conv=notrunc 2>/dev/null
	expect_launch_error "bad.sqfs" "$YURT" run "$T/work/bad.sqfs" true
}

test_error_unreadable_image() {
	cp "$T/bare.sqfs" "$T/work/secret.sqfs"
	chmod 000 "$T/work/secret.sqfs"
	expect_launch_error "secret.sqfs: Permission denied" "$YURT" run "$T/work/secret.sqfs" true
}

test_error_bad_options() {
	expect_launch_error "unknown option --bogus" "$YURT" run --bogus "$T/bare.sqfs" true
	expect_launch_error "missing command" "$YURT" run "$T/bare.sqfs"
	expect_launch_error "missing IMAGE" "$YURT" run
	expect_launch_error "needs an argument" "$YURT" run -b
	expect_launch_error "mode must be ro or rw" "$YURT" run -b /tmp:/x:rx "$T/bare.sqfs" true
	expect_launch_error "'..' is not allowed" "$YURT" run -b /tmp:/x/../etc "$T/bare.sqfs" true
	expect_launch_error "unknown command 'frobnicate'" "$YURT" frobnicate
	expect_launch_error "must be an absolute path" "$YURT" run -w rel "$T/bare.sqfs" true
}

test_error_bind_source_missing() {
	expect_launch_error "bind source $T/none: No such file or directory" \
		"$YURT" run -b "$T/none:/mnt" "$T/bare.sqfs" true
	expect_nothing_left
}

test_help_and_version() {
	"$YURT" --version | grep -q '^yurt [0-9]'
	"$YURT" --help | grep -q 'Usage: yurt COMMAND'
	"$YURT" help run | grep -q -- '--writable-tmpfs'
	"$YURT" run --help | grep -q -- '--bind SRC'
	expect_status 125 "$YURT"
}

test_refuses_to_run_setuid() {
	cp "$YURT" "$T/work/yurt-suid"
	chmod 4755 "$T/work/yurt-suid"
	expect_launch_error "refusing to run setuid or setgid" "$T/work/yurt-suid" run "$T/bare.sqfs" true
}

test_verbose_shows_steps_and_quiet_hides_warnings() {
	"$YURT" run -v "$T/bare.sqfs" true 2>"$T/err"
	grep -q '^yurt: bind /dev -> /dev' "$T/err" || fail "no setup steps in: $(cat "$T/err")"
	expect_eq "quiet stderr" "" "$("$YURT" run -q "$T/bare.sqfs" true 2>&1)"
}

test_stdio_passes_through() {
	expect_eq stdin "piped" "$(echo piped | "$YURT" run "$T/bare.sqfs" cat)"
	"$YURT" run "$T/bare.sqfs" sh -c 'echo out; echo err >&2' >"$T/o" 2>"$T/e"
	expect_eq stdout out "$(cat "$T/o")"
	expect_eq stderr err "$(cat "$T/e")"
}

test_terminal_passes_through() {
	command -v script >/dev/null || { echo "skip: no script(1)"; return 0; }
	out=$(script -qec "$YURT run $T/bare.sqfs tty" /dev/null | tr -d '\r')
	case $out in /dev/pts/*) ;; *) fail "tty inside: $out" ;; esac
}

test_twenty_runs_in_parallel() {
	for i in $(seq 20); do
		"$YURT" run "$T/bare.sqfs" sh -c "echo run-$i" > "$T/work/par.$i" &
	done
	wait
	for i in $(seq 20); do
		expect_eq "run $i" "run-$i" "$(cat "$T/work/par.$i")"
	done
	expect_nothing_left
}

test_nothing_left_after_exit_or_error() {
	"$YURT" run "$T/bare.sqfs" true
	"$YURT" run "$T/bare.sqfs" sh -c 'exit 3' || true
	"$YURT" run "$T/bare.sqfs" no-such-command 2>/dev/null || true
	"$YURT" run --pid --writable-tmpfs "$T/bare.sqfs" true
	expect_nothing_left
}
