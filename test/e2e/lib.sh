# Helpers for the end-to-end tests.  $YURT is the binary, $T a scratch
# directory of this run, $T/work the directory each test starts in.

build_images() {
	mkdir -p "$T/work" "$T/host"
	# bare: what a minimal image looks like; it lacks /proc, /dev, /tmp, /home...
	"$E2E/../../examples/images/busybox.sh" "$T/bare" "$T/bare.sqfs"
	# full: has every default mount point, so no overlay is needed.
	cp -a "$T/bare" "$T/full"
	mkdir -p "$T/full/"{proc,dev,sys,tmp,home,root,run,mnt,site}
	touch "$T/full/etc/resolv.conf" "$T/full/etc/hosts"
	# hostile: symlinks that try to lead mounts out of the image, a setuid
	# binary, a non-executable file, Charliecloud's environment file.
	cp -a "$T/bare" "$T/hostile"
	ln -s /etc "$T/hostile/abs"
	ln -s ../../../../../../etc "$T/hostile/rel"
	mkdir -p "$T/hostile/ch" "$T/hostile/data"
	printf 'CH_VAR=from-ch\nYURT_IMAGE=from-ch\n' > "$T/hostile/ch/environment"
	# busybox picks its applet from its name: the setuid copy is called id.
	mkdir "$T/hostile/suid"
	cp "$T/bare/bin/busybox" "$T/hostile/suid/id"
	chmod 4755 "$T/hostile/suid/id"
	printf 'not a program\n' > "$T/hostile/bin/notexec"
	chmod 644 "$T/hostile/bin/notexec"
	for img in full hostile; do
		mksquashfs "$T/$img" "$T/$img.sqfs" -all-root -noappend -quiet -no-progress >/dev/null
	done
	echo "hello from the host" > "$T/host/greeting"
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# LeakSanitizer's exit-time tracer is born in the PID namespace that a member
# of a --pid container entered, cannot see its parent there, and waits for it
# forever: such members skip the leak check in sanitizer builds.
no_lsan() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$@"; }

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

# expect_status N CMD...: CMD exits with N; its stderr is kept in $T/stderr.
expect_status() {
	local want=$1 got=0
	shift
	"$@" 2>"$T/stderr" >"$T/stdout" || got=$?
	[ "$got" -eq "$want" ] || { cat "$T/stderr" >&2; fail "'$*' exited $got, expected $want"; }
}

# expect_launch_error PATTERN CMD...: exit 125 and one line "yurt: error: ..." matching PATTERN.
expect_launch_error() {
	local pattern=$1
	shift
	expect_status 125 "$@"
	[ "$(wc -l < "$T/stderr")" -eq 1 ] || { cat "$T/stderr" >&2; fail "expected one line on stderr"; }
	grep -q "^yurt: error: .*$pattern" "$T/stderr" || fail "stderr '$(cat "$T/stderr")' lacks '$pattern'"
}

# Our live yurt processes (a FUSE server's zombie waits for init to reap it).
yurt_procs() {
	ps -u "$(id -u)" -o pid=,stat=,comm=,args= |
		awk -v name="$(basename "$YURT" | cut -c1-15)" '$3 == name && $2 !~ /^Z/'
}

# No yurt process of ours and no FUSE mount left on the host.
expect_nothing_left() {
	local i
	for i in $(seq 50); do
		[ -z "$(yurt_procs)" ] && break
		sleep 0.1
	done
	[ -z "$(yurt_procs)" ] || fail "yurt processes left behind: $(yurt_procs)"
	! grep -E 'fuse|yurt' /proc/self/mountinfo || fail "mounts left behind"
}
