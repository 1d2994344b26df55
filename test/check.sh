#!/bin/bash
# `make check`: unit tests, then end-to-end tests of bin/yurt as an
# unprivileged user.  As root (packages are installed by make check first) it
# prepares the machine the way a real site is (a test user, /dev/fuse 0666, a
# delegated cgroup), runs everything user-facing as that user, never as root,
# and then the Slurm suite on a throw-away cluster of its own.
set -euo pipefail
build=${1:?usage: check.sh BUILD_DIR [SYSCONFDIR]}
sysconfdir=${2:-/usr/local/etc}
top=$(cd "$(dirname "$0")/.." && pwd)
user=${YURT_TEST_USER:-yurttest}

log=$(mktemp)
status=0
# Runs the user-facing suites with "$@" in front (runuser...).
run_suites() {
	local unit_dir=$1 yurt=$2 test_dir=$3
	shift 3
	"$@" "$test_dir/run-unit.sh" "$unit_dir" | tee -a "$log" || status=1
	"$@" "$test_dir/e2e/run.sh" "$yurt" | tee -a "$log" || status=1
}
# Sums up every suite's last line.
summary() {
	sed -n 's/^\(unit\|e2e\|slurm\): \([0-9]*\) passed, \([0-9]*\) failed$/\2 \3/p' "$log" |
		awk '{p+=$1; f+=$2} END {printf "check: %d passed, %d failed\n", p, f}'
	rm -f "$log"
	return $status
}

if [ "$(id -u)" -ne 0 ]; then
	run_suites "$top/$build/unit" "$top/bin/yurt" "$top/test"
	echo "slurm: skipped (it starts its own Slurm and MUNGE daemons: run make check as root)"
	summary
	exit
fi

id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
chmod 666 /dev/fuse
# The checkout may sit where the test user cannot read (/root): test a copy.
work=$(mktemp -d /tmp/yurt-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/unit"
cp "$top/bin/yurt" "$work/bin/"
cp "$top/$build"/unit/test_* "$work/unit/" 2>/dev/null || true
cp -r "$top/test" "$top/examples" "$work/"
chmod 755 "$work"
chown -R "$user:" "$work"
home=$(getent passwd "$user" | cut -d: -f6)
as_user=(runuser -u "$user" --)
# A delegated cpuset cgroup, as a site or Slurm gives one, for the cgroup tests.
cgroup_setup="$work/test/e2e/cgroup-setup.sh"
if cgroup_dir=$("$cgroup_setup" create "$user" 2>/dev/null | sed -n 's/^cgroup v[12]: \([^ ]*\).*/\1/p' | head -n 1) &&
	[ -n "$cgroup_dir" ]; then
	as_user=("$cgroup_setup" exec "$user" --)
	trap 'rm -rf "$work"; "$cgroup_setup" remove "$user" 2>/dev/null || true' EXIT
fi
# A site file, as an administrator writes one, unless the machine has its own.
site_conf=$sysconfdir/yurt/yurt.conf
site_env=
if [ ! -e "$site_conf" ]; then
	mkdir -p "$work/site-data" "$(dirname "$site_conf")"
	echo "from the site" > "$work/site-data/motd"
	chown -R "$user:" "$work/site-data"
	cat > "$site_conf" <<SITE
# written by yurt's make check; removed when it ends
bind = $work/site-data:/site:ro
bind-if-exists = /nonexistent-yurt-site:/site-missing
max-tasks = 100
allow-images = /tmp
SITE
	site_env=$site_conf
	trap 'rm -rf "$work"; rm -f "$site_conf"; "$cgroup_setup" remove "$user" 2>/dev/null || true' EXIT
fi
run_suites "$work/unit" "$work/bin/yurt" "$work/test" \
	"${as_user[@]}" env -i HOME="$home" USER="$user" LOGNAME="$user" \
	PATH=/usr/local/bin:/usr/bin:/bin TERM=dumb YURT_TEST_CGROUP="$cgroup_dir" YURT_TEST_SITE="$site_env"
# What only root can set up: a second user, who must not reach the first's instances.
"$work/test/e2e/cross_user.sh" "$work/bin/yurt" "$user" "${user}2" | tee -a "$log" || status=1
# The site file was for the suites above: the Slurm suite sets its own policy.
[ -z "$site_env" ] || rm -f "$site_conf"
# A real Slurm cluster of its own, loading the plugin just built; jobs are
# submitted as another unprivileged user.  Twice: with Slurm tracking and
# binding tasks by process tree and affinity, and by cgroups, as most sites do.
for plugins in "proctrack/linuxproc task/affinity" "proctrack/cgroup task/cgroup,task/affinity"; do
	set -- $plugins
	echo "# Slurm with $1 and $2"
	YURT_SLURM_PROCTRACK=$1 YURT_SLURM_TASK=$2 "$top/test/slurm/run.sh" | tee -a "$log" || status=1
done
summary
