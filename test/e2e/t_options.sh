# yurt run: options and defaults.

test_bind_read_write_by_default() {
	mkdir "$T/work/rw"
	"$YURT" run -b "$T/work/rw:/mnt/data" "$T/bare.sqfs" sh -c 'echo written > /mnt/data/f'
	expect_eq "host sees the write" written "$(cat "$T/work/rw/f")"
}

test_bind_read_only() {
	mkdir "$T/work/ro"
	expect_status 1 "$YURT" run -b "$T/work/ro:/data:ro" "$T/bare.sqfs" sh -c 'touch /data/f'
	grep -q 'Read-only file system' "$T/stderr" || fail "$(cat "$T/stderr")"
	[ ! -e "$T/work/ro/f" ] || fail "read-only bind was written"
}

test_bind_destination_defaults_to_source() {
	expect_eq greeting "hello from the host" "$("$YURT" run -b "$T/host" "$T/bare.sqfs" cat "$T/host/greeting")"
}

test_bind_of_a_file() {
	expect_eq file "hello from the host" \
		"$("$YURT" run -b "$T/host/greeting:/etc/motd" "$T/bare.sqfs" cat /etc/motd)"
}

test_bind_relative_source_is_from_cwd() {
	mkdir -p "$T/work/rel" && echo rel > "$T/work/rel/x"
	expect_eq relative rel "$("$YURT" run -b rel:/r "$T/bare.sqfs" cat /r/x)"
}

test_bind_through_absolute_symlink_stays_in_image() {
	# /abs -> /etc in the image: the mount must land on the image's /etc/yurt-x,
	# never on the host's /etc.
	"$YURT" run -b "$T/host:/abs/yurt-x" "$T/hostile.sqfs" cat /etc/yurt-x/greeting > "$T/out"
	expect_eq content "hello from the host" "$(cat "$T/out")"
	[ ! -e /etc/yurt-x ] || fail "host /etc/yurt-x appeared"
}

test_bind_through_climbing_symlink_stays_in_image() {
	# /rel -> ../../../../../../etc climbs above the root: it stops at the root.
	"$YURT" run -b "$T/host:/rel/yurt-y" "$T/hostile" cat /etc/yurt-y/greeting > "$T/out"
	expect_eq content "hello from the host" "$(cat "$T/out")"
	[ ! -e /etc/yurt-y ] || fail "host /etc/yurt-y appeared"
	[ ! -e "$T/hostile/etc/yurt-y" ] || fail "the directory image was modified"
}

test_env_passes_host_environment() {
	expect_eq var "hostval" "$(FOO=hostval "$YURT" run "$T/bare.sqfs" sh -c 'echo $FOO')"
}

test_env_path_comes_from_the_image() {
	expect_eq PATH "/bin" "$(PATH=/usr/bin:/bin "$YURT" run "$T/bare.sqfs" sh -c 'echo $PATH')"
}

test_env_image_charliecloud_and_yurt_files() {
	expect_eq ch "from-ch" "$("$YURT" run "$T/hostile.sqfs" sh -c 'echo $CH_VAR')"
	expect_eq "/.yurt/env wins" "busybox" "$("$YURT" run "$T/hostile.sqfs" sh -c 'echo $YURT_IMAGE')"
}

test_env_order_host_image_file_option() {
	printf '# comment\n\nA=file\nB=file\n' > "$T/work/env"
	out=$(A=host B=host C=host YURT_IMAGE=host "$YURT" run --env-file "$T/work/env" -e B=opt \
		"$T/bare.sqfs" sh -c 'echo $A $B $C $YURT_IMAGE')
	expect_eq order "file opt host busybox" "$out"
}

test_env_name_alone_passes_host_value() {
	expect_eq var "v1" "$(X=v1 "$YURT" run -e X "$T/bare.sqfs" sh -c 'echo $X')"
}

test_env_errors() {
	expect_launch_error "invalid variable name" "$YURT" run -e 1X=y "$T/bare.sqfs" true
	printf 'GOOD=1\nBAD LINE=2\n' > "$T/work/bad.env"
	expect_launch_error "bad.env:2" "$YURT" run --env-file "$T/work/bad.env" "$T/bare.sqfs" true
	expect_launch_error "missing.env" "$YURT" run --env-file "$T/work/missing.env" "$T/bare.sqfs" true
}

test_clean_env_keeps_essentials_only() {
	out=$(FOO=x SLURM_JOB_ID=42 PMIX_RANK=3 OMPI_X=1 PMI_RANK=2 HWLOC_X=h TERM=vt100 \
		"$YURT" run --clean-env "$T/bare.sqfs" env | sort)
	for want in SLURM_JOB_ID=42 PMIX_RANK=3 OMPI_X=1 PMI_RANK=2 HWLOC_X=h TERM=vt100 \
		PATH=/bin YURT_IMAGE=busybox "HOME=$HOME" "USER=$USER"; do
		grep -qx "$want" <<<"$out" || fail "missing $want in: $out"
	done
	! grep -q '^FOO=' <<<"$out" || fail "FOO leaked"
}

test_workdir_option() {
	expect_eq pwd "/etc" "$("$YURT" run -w /etc "$T/bare.sqfs" pwd)"
	expect_launch_error "workdir /nonexistent" "$YURT" run -w /nonexistent "$T/bare.sqfs" true
}

test_cwd_is_bound_and_default_workdir() {
	mkdir -p "$T/work/project" && cd "$T/work/project" && echo data > here
	expect_eq pwd "$T/work/project" "$("$YURT" run "$T/bare.sqfs" pwd)"
	expect_eq file data "$("$YURT" run "$T/bare.sqfs" cat here)"
}

test_no_cwd_starts_in_root() {
	mkdir -p "$T/work/p2" && cd "$T/work/p2"
	expect_eq pwd "/" "$("$YURT" run --no-cwd --private-tmp "$T/bare.sqfs" pwd)"
	expect_status 1 "$YURT" run --no-cwd --private-tmp "$T/bare.sqfs" ls "$T/work/p2"
}

test_cwd_in_system_directory_is_not_bound() {
	cd /usr/share
	# The image has no /usr: yurt must not bind the host's /usr/share over it.
	expect_eq pwd "/" "$("$YURT" run "$T/bare.sqfs" pwd)"
	expect_status 1 "$YURT" run "$T/bare.sqfs" ls /usr/share
	cd /
	expect_eq "root cwd" "/" "$("$YURT" run "$T/bare.sqfs" pwd)"
}

test_default_mounts_present() {
	out=$("$YURT" run "$T/bare.sqfs" sh -c 'ls /dev/null && ls /proc/self/status && ls /sys/kernel >/dev/null && echo ok')
	expect_eq defaults "/dev/null
/proc/self/status
ok" "$out"
	echo tmpdata > /tmp/yurt-e2e-tmp.$$
	expect_eq "host /tmp" tmpdata "$("$YURT" run "$T/bare.sqfs" cat /tmp/yurt-e2e-tmp.$$)"
	rm -f /tmp/yurt-e2e-tmp.$$
	expect_eq home yes "$("$YURT" run "$T/bare.sqfs" sh -c "test -d '$HOME' && echo yes")"
}

test_full_image_without_overlay() {
	"$YURT" run -v --no-home "$T/full.sqfs" true 2>"$T/err"
	! grep -q overlay "$T/err" || fail "an image with every mount point needs no overlay"
	"$YURT" run -v "$T/bare.sqfs" true 2>"$T/err"
	grep -q overlay "$T/err" || fail "a bare image needs the skeleton overlay"
}

test_resolv_conf_and_hosts_from_host() {
	[ -e /etc/resolv.conf ] && expect_eq resolv "$(cat /etc/resolv.conf)" "$("$YURT" run "$T/full.sqfs" cat /etc/resolv.conf)"
	expect_eq hosts "$(cat /etc/hosts)" "$("$YURT" run "$T/bare.sqfs" cat /etc/hosts)"
}

test_passwd_and_group_resolve_the_user() {
	expect_eq "id -un" "$(id -un)" "$("$YURT" run "$T/bare.sqfs" id -un)"
	expect_eq "id -gn" "$(id -gn)" "$("$YURT" run "$T/bare.sqfs" id -gn)"
	expect_eq "id -u" "$(id -u)" "$("$YURT" run "$T/bare.sqfs" id -u)"
	"$YURT" run "$T/bare.sqfs" grep -q '^root:' /etc/passwd
	# The image itself is never edited.
	expect_eq "image passwd" 2 "$(wc -l < "$T/bare/etc/passwd")"
}

test_no_home() {
	expect_status 1 "$YURT" run --no-home "$T/bare.sqfs" test -d "$HOME"
}

test_private_tmp() {
	touch /tmp/yurt-e2e-private.$$
	expect_eq "empty /tmp" "" "$("$YURT" run --no-cwd --private-tmp "$T/bare.sqfs" ls -A /tmp)"
	rm -f /tmp/yurt-e2e-private.$$
}

test_fake_root() {
	expect_eq uid 0 "$("$YURT" run --root "$T/bare.sqfs" id -u)"
	expect_eq name root "$("$YURT" run --root "$T/bare.sqfs" id -un)"
	expect_eq "own uid" "$(id -u)" "$("$YURT" run "$T/bare.sqfs" id -u)"
}

test_pid_namespace() {
	expect_eq "pid" 2 "$("$YURT" run --pid "$T/bare.sqfs" sh -c 'echo $$')"
	# Only the namespace's processes are visible: yurt as init, and ls.
	expect_eq "processes" "1 2" "$("$YURT" run --pid "$T/bare.sqfs" ls /proc | grep -E '^[0-9]+$' | xargs)"
	[ "$("$YURT" run "$T/bare.sqfs" readlink /proc/self/ns/pid)" = "$(readlink /proc/self/ns/pid)" ] ||
		fail "without --pid the host PID namespace is kept"
}

test_pid_namespace_reaps_orphans() {
	# The orphaned sleep is reaped by yurt as init; the run ends with the command.
	start=$(date +%s)
	expect_status 0 "$YURT" run --pid "$T/bare.sqfs" sh -c 'sleep 30 & exit 0'
	[ $(( $(date +%s) - start )) -lt 10 ] || fail "yurt waited for the orphan"
	expect_nothing_left
}

test_writable_tmpfs() {
	expect_status 1 "$YURT" run "$T/bare.sqfs" touch /newfile
	expect_eq write ok "$("$YURT" run --writable-tmpfs "$T/bare.sqfs" sh -c 'echo x > /newfile && echo x >> /etc/passwd && echo ok')"
	# The image's files belong to its root: fake root may change them.
	expect_eq "root writes" ok "$("$YURT" run --root --writable-tmpfs "$T/bare.sqfs" sh -c 'rm /bin/ls && echo x > /bin/new && echo ok')"
	expect_status 1 "$YURT" run "$T/bare.sqfs" sh -c 'echo x >> /etc/passwd'
	expect_status 1 "$YURT" run --writable-tmpfs "$T/bare.sqfs" test -e /newfile
	expect_eq "ls survives" 0 "$("$YURT" run "$T/bare.sqfs" sh -c 'test -e /bin/ls; echo $?')"
}

test_setuid_binary_does_not_elevate() {
	[ -u "$T/hostile/suid/id" ] || fail "test image lacks its setuid binary"
	expect_eq uid "$(id -u)" "$("$YURT" run "$T/hostile.sqfs" /suid/id -u)"
	expect_eq uid "$(id -u)" "$("$YURT" run "$T/hostile" /suid/id -u)"
}

test_no_new_privs_and_no_capabilities() {
	out=$("$YURT" run "$T/bare.sqfs" grep -E '^(NoNewPrivs|CapInh|CapPrm|CapEff|CapBnd|CapAmb)' /proc/self/status)
	for want in NoNewPrivs:.1 CapInh:.0000000000000000 CapPrm:.0000000000000000 \
		CapEff:.0000000000000000 CapBnd:.0000000000000000 CapAmb:.0000000000000000; do
		grep -q "$want" <<<"$out" || fail "expected $want in: $out"
	done
}

test_image_is_mounted_nosuid_nodev_readonly() {
	out=$("$YURT" run "$T/full.sqfs" awk '$5 == "/" {print $6}' /proc/self/mountinfo)
	for flag in ro nosuid nodev; do
		grep -qw "$flag" <<<"$out" || fail "root mount lacks $flag: $out"
	done
}

test_sigterm_is_forwarded() {
	for mode in "" --pid; do
		"$YURT" run $mode "$T/bare.sqfs" sh -c 'trap "echo got-TERM; exit 3" TERM; echo ready; while :; do sleep 0.1; done' > "$T/sig.out" &
		pid=$!
		for i in $(seq 50); do grep -q ready "$T/sig.out" && break; sleep 0.1; done
		kill -TERM $pid
		status=0; wait $pid || status=$?
		expect_eq "status ($mode)" 3 "$status"
		grep -q got-TERM "$T/sig.out" || fail "TERM not delivered ($mode)"
	done
	expect_nothing_left
}

test_other_signals_are_forwarded() {
	"$YURT" run --pid "$T/bare.sqfs" sh -c 'trap "echo USR1" USR1; trap "echo HUP; exit 0" HUP; echo ready; while :; do sleep 0.1; done' > "$T/sig.out" &
	pid=$!
	for i in $(seq 50); do grep -q ready "$T/sig.out" && break; sleep 0.1; done
	kill -USR1 $pid; sleep 0.5; kill -HUP $pid
	wait $pid
	expect_eq signals "ready
USR1
HUP" "$(cat "$T/sig.out")"
}

test_kill_9_leaves_nothing_behind() {
	for mode in "" --pid; do
		# Without --pid, yurt becomes the command: what it forks is its own business.
		"$YURT" run $mode "$T/bare.sqfs" sh -c "echo ready; ${mode:+sleep 60 & }exec sleep 61" > "$T/k.out" &
		pid=$!
		for i in $(seq 50); do grep -q ready "$T/k.out" && break; sleep 0.1; done
		kill -KILL $pid
		wait $pid || true
		expect_nothing_left
		! pgrep -u "$(id -u)" -x sleep || fail "sleep survived ($mode)"
	done
}

test_site_configuration() {
	[ -n "${YURT_TEST_SITE:-}" ] || { echo "skip: no site file (make check as root writes one)"; return 0; }
	expect_eq "site bind" "from the site" "$("$YURT" run "$T/bare.sqfs" cat /site/motd)"
	expect_status 1 "$YURT" run "$T/bare.sqfs" test -e /site-missing
	expect_status 1 "$YURT" run "$T/bare.sqfs" sh -c 'echo x > /site/motd'
	expect_launch_error "this site allows at most 100 tasks" "$YURT" run -n 101 -O "$T/bare.sqfs" true
	cp "$T/bare.sqfs" "$HOME/outside.sqfs"
	expect_launch_error "not under a directory this site allows" "$YURT" run "$HOME/outside.sqfs" true
	rm -f "$HOME/outside.sqfs"
}
