#!/bin/bash
# What the SPANK plugin adds to a Slurm step, side by side with its
# yardsticks, on a throw-away cluster of its own (test/slurm/cluster.sh):
#   make bench-slurm      (or, as root: test/bench/slurm.sh)
# Every command runs as an unprivileged user; contenders are interleaved
# round-robin (test/bench/timeloop.sh), after one untimed warm-up round.
# Prints a markdown table with medians and ratios; never fails on a timing.
# Exit status: 0 when every measurement ran, 1 when one failed, 2 on setup.
#
#   YURT_BENCH_CACHE       where the image and results go (default /var/tmp/yurt-bench)
#   YURT_BENCH_USER        the user to submit as (default yurtbench)
#   YURT_BENCH_STEP_RUNS   runs per step measurement (default 15)
#   YURT_BENCH_STEP_TASKS  tasks of the one-node step (default 64)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${YURT_BENCH_CACHE:-/var/tmp/yurt-bench}
user=${YURT_BENCH_USER:-yurtbench}
runs=${YURT_BENCH_STEP_RUNS:-15}
many=${YURT_BENCH_STEP_TASKS:-64}

die() { echo "bench-slurm: $*" >&2; exit 2; }
say() { echo "bench-slurm: $*" >&2; }
[ "$(id -u)" -eq 0 ] || die "run as root: it starts Slurm and MUNGE daemons"
[ -x "$top/bin/yurt" ] && [ -e "$top/slurm-plugin/yurt.so" ] || die "build first (make)"
"$top/test/deps.sh" build test slurm bench || die "installing packages failed"
id "$user" >/dev/null 2>&1 || useradd -m "$user" || die "useradd $user failed"
chmod 666 /dev/fuse || die "chmod 666 /dev/fuse failed"

# The binaries where every user can read them (srun loads the plugin as the
# user; slurmstepd runs yurt as the user); a cluster of its own.
res=$cache/results/slurm-$(date +%Y%m%d-%H%M%S)
mkdir -p "$res/bin" "$res/samples" || die "cannot create $res"
cp "$top/bin/yurt" "$top/slurm-plugin/yurt.so" "$here/timeloop.sh" "$res/bin/" || die "cannot copy the binaries"
Y=$res/bin/yurt
# The image of test/bench/run.sh: ch-run needs its mount points.
"$top/examples/images/debian-numpy.sh" "$cache/debian-numpy" >/dev/null || die "building the image failed"
img=$cache/debian-numpy/debian-numpy
chmod -R a+rX "$cache" && chown -R "$user:" "$res"

export YURT_SLURM_DIR=/var/tmp/yurt-slurm-bench YURT_SLURM_PORT=18117
export YURT_SPANK_PLUGIN=$res/bin/yurt.so
export YURT_SPANK_ARGS="yurt=$Y runtime_path=$YURT_SLURM_DIR/yurt-run/%n"
trap '"$top/test/slurm/cluster.sh" stop >/dev/null 2>&1' EXIT
exports=$("$top/test/slurm/cluster.sh" start) || die "the cluster did not come up"
eval "$exports"

declare -A cmd
cmd[plain]="srun -N2 -n4 /bin/true"
cmd[plugin]="srun -N2 -n4 --container-image=$img.sqfs /bin/true"
cmd[join]="srun -N2 -n4 $Y run --join $img.sqfs /bin/true"
cmd[chrun]="srun -N2 -n4 ch-run $img.sqfs -- /bin/true"
cmd[plain_n]="srun -N1 -n$many --overcommit /bin/true"
cmd[plugin_n]="srun -N1 -n$many --overcommit --container-image=$img.sqfs /bin/true"
cmd[chrun_n]="srun -N1 -n$many --overcommit ch-run $img.sqfs -- /bin/true"
names=(plain plugin join chrun plain_n plugin_n chrun_n)

as_user() { (cd /tmp && runuser -u "$user" -- env SLURM_CONF="$SLURM_CONF" "$@"); }
args=()
for n in "${names[@]}"; do args+=("$n" "${cmd[$n]}"); done
say "measuring as $user, $runs runs each; results in $res"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
as_user "$res/bin/timeloop.sh" "$res/samples" "$runs" 1 "${args[@]}"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Image mounts on the node of a running $many-task step: FUSE servers (processes of the
# user holding /dev/fuse) while its tasks sleep.
as_user srun -N1 -n"$many" --overcommit --container-image="$img.sqfs" sleep 4 &
step=$!
for ((i = 0; i < 100; i++)); do
	[ "$(pgrep -u "$user" -x sleep | wc -l)" -ge "$many" ] && break
	sleep 0.1
done
fuse_servers=0
for p in $(pgrep -u "$user"); do
	ls -l "/proc/$p/fd" 2>/dev/null | grep -q ' -> /dev/fuse$' && fuse_servers=$((fuse_servers + 1))
done
wait $step

S=$res/samples
. "$here/stats.sh"
median() { quant "$1" median; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\\n\", $1 }" 2>/dev/null; }
{
	echo "### Slurm steps"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, Slurm $(srun --version | cut -d' ' -f2), two slurmd nodes on this host, as user $user; image: Debian + numpy, gzip SquashFS (examples/images/debian-numpy.sh). Median wall ms of $runs runs, interleaved. Load average before: $load_before, after: $load_after."
	echo
	echo "| step | median ms |"
	echo "|---|---:|"
	for n in "${names[@]}"; do
		m=$(median "$n")
		printf '| `%s` | %s |\n' "$(sed -e "s|$Y|yurt|" -e "s|$img|IMG|" <<<"${cmd[$n]}")" "${m:-failed}"
	done
	echo
	p=$(median plain) y=$(median plugin) pn=$(median plain_n) yn=$(median plugin_n)
	c=$(median chrun) cn=$(median chrun_n)
	if [ -n "$p" ] && [ -n "$y" ] && [ -n "$pn" ] && [ -n "$yn" ]; then
		over=$(calc "$y - $p") over_n=$(calc "$yn - $pn")
		echo "| Target | measured | goal |"
		echo "|---|---:|---:|"
		echo "| container overhead, -N2 -n4 step | $over ms | ≤ 50 ms |"
		echo "| container overhead, -N1 -n$many step / -N2 -n4 step | $(calc "$over_n / ($over > 0 ? $over : 1)" 2) | ≤ 2 |"
		echo "| image mounts (FUSE servers) on the node of a $many-task step | $fuse_servers | 1 |"
		[ -n "$c" ] && echo "| (context) ch-run per task overhead, -N2 -n4 / plugin's | $(calc "($c - $p) / ($over > 0 ? $over : 1)" 2) | — |"
		[ -n "$cn" ] && echo "| (context) ch-run per task overhead, -N1 -n$many / plugin's | $(calc "($cn - $pn) / ($over_n > 0 ? $over_n : 1)" 2) | — |"
	fi
	echo
	echo "Reproduce, as root: \`make bench-slurm\` (settings YURT_BENCH_STEP_RUNS=$runs YURT_BENCH_STEP_TASKS=$many)."
} | tee "$res/table.md"
chown -R "$user:" "$res"
! ls "$S"/*.fail >/dev/null 2>&1
