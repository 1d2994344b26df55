#!/bin/bash
# Root's side of the cgroup tests: gives USER a delegated cpuset cgroup, as a
# site or Slurm would, so yurt --cgroup can make per-task cpusets in it.
#
#   cgroup-setup.sh create USER           make the cgroups, print their paths
#   cgroup-setup.sh exec USER -- CMD...   make them, join them, run CMD as USER
#   cgroup-setup.sh remove USER           remove them (once their processes are gone)
#   cgroup-setup.sh leaf -- CMD...        (as USER, v2) run CMD in a fresh leaf
#
# cgroup v1: MOUNT/yurt-test-USER in the cpuset hierarchy, with its parent's
# cpus and mems.  cgroup v2, only where its root offers cpuset (not on hybrid
# hosts that bind cpuset to v1): MOUNT/yurt-test-USER with cpuset enabled for
# its children and the command in its leaf "shell"; as v2 puts no processes
# beside child cgroups with controllers, each yurt then runs in a leaf of its
# own ("leaf" above).  USER gets the directory and the files that create and
# move into children, not cpuset.cpus: the delegated cpuset itself stays
# the administrator's, as with systemd's Delegate= and Slurm.
set -eu

die() { echo "cgroup-setup.sh: $*" >&2; exit 1; }

# Mount point of the v1 cpuset hierarchy / of cgroup2, empty when not mounted.
mount_of() {
	awk -v want="$1" '{
		for (i = 7; i < NF && $i != "-"; i++) ;
		if (want == "cpuset" && $(i + 1) == "cgroup" && ("," $(i + 3) ",") ~ /,cpuset,/ ||
		    want == "cgroup2" && $(i + 1) == "cgroup2") { print $5; exit }
	}' /proc/self/mountinfo
}

v1_mount=$(mount_of cpuset)
v2_mount=$(mount_of cgroup2)
v2_usable() { [ -n "$v2_mount" ] && grep -qw cpuset "$v2_mount/cgroup.controllers"; }

create() {
	local user=$1 group d
	group=$(id -gn "$user")
	if [ -n "$v1_mount" ]; then
		d=$v1_mount/yurt-test-$user
		mkdir -p "$d"
		# v1 cpusets start empty and take no process until both are set.
		cat "$v1_mount/cpuset.cpus" > "$d/cpuset.cpus"
		cat "$v1_mount/cpuset.mems" > "$d/cpuset.mems"
		chown "$user:$group" "$d" "$d/cgroup.procs" "$d/tasks"
		echo "cgroup v1: $d"
	fi
	if v2_usable; then
		d=$v2_mount/yurt-test-$user
		# The root cgroup may hold processes and give controllers anyway.
		echo +cpuset > "$v2_mount/cgroup.subtree_control"
		mkdir -p "$d/shell"
		echo +cpuset > "$d/cgroup.subtree_control"
		chown "$user:$group" "$d" "$d"/cgroup.{procs,threads,subtree_control} \
			"$d/shell" "$d"/shell/cgroup.{procs,threads,subtree_control}
		echo "cgroup v2: $d (commands in $d/shell)"
	elif [ -n "$v2_mount" ]; then
		echo "cgroup v2: not used: $v2_mount/cgroup.controllers offers no cpuset" \
		     "($(cat "$v2_mount/cgroup.controllers"))"
	fi
	echo "run as $user inside: $0 exec $user -- CMD..."
}

join() {
	local user=$1
	if [ -n "$v1_mount" ]; then
		echo $$ > "$v1_mount/yurt-test-$user/cgroup.procs"
	fi
	if v2_usable; then
		echo $$ > "$v2_mount/yurt-test-$user/shell/cgroup.procs"
	fi
}

remove() {
	local user=$1 d
	for d in ${v1_mount:+"$v1_mount/yurt-test-$user"} ${v2_mount:+"$v2_mount/yurt-test-$user"}; do
		# Children first; rmdir fails while a cgroup still holds processes.
		[ ! -d "$d" ] || find "$d" -depth -type d -exec rmdir {} +
	done
}

# As the user: a fresh leaf beside "shell" for CMD, removed when CMD ends.
leaf() {
	local parent leaf rc=0
	parent=$v2_mount$(sed -n 's/^0:://p' /proc/self/cgroup)
	parent=${parent%/*}
	leaf=$parent/run-$$
	mkdir "$leaf"
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$leaf" "$@" || rc=$?
	rmdir "$leaf"
	return $rc
}

[ $# -ge 1 ] || die "usage: $0 create|exec|remove USER [-- CMD...] | leaf -- CMD..."
cmd=$1
shift
case $cmd in
leaf)
	if [ "${1:-}" != -- ] || [ $# -lt 2 ]; then die "usage: $0 leaf -- CMD..."; fi
	shift
	v2_usable || die "leaf: no cgroup v2 with cpuset here"
	leaf "$@"
	exit
	;;
create|exec|remove)
	[ $# -ge 1 ] || die "usage: $0 $cmd USER"
	[ "$(id -u)" = 0 ] || die "$cmd: run as root"
	id "$1" > /dev/null || die "$cmd: no user $1"
	[ -n "$v1_mount" ] || v2_usable || die "$cmd: neither a cgroup v1 cpuset hierarchy nor cgroup v2 with cpuset"
	;;
*)
	die "unknown command $cmd"
	;;
esac

user=$1
shift
case $cmd in
create)
	create "$user"
	;;
remove)
	remove "$user"
	;;
exec)
	if [ "${1:-}" != -- ] || [ $# -lt 2 ]; then die "usage: $0 exec USER -- CMD..."; fi
	shift
	create "$user" > /dev/null
	join "$user"
	home=$(getent passwd "$user" | cut -d: -f6)
	# setpriv execs (runuser would stay behind as a root process in the cgroup).
	exec setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups \
		env HOME="$home" USER="$user" LOGNAME="$user" "$@"
	;;
esac
