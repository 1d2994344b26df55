#!/bin/bash
# MPI (MPICH ch4:ucx over Slurm's PMI2) in the image: ranks on both nodes
# exchange messages, and a node's ranks share its one container.
. "$(dirname "$0")/lib.sh"
I="--container-image=$IMAGE"
if ! command -v mpicc >/dev/null; then
	ok "# SKIP mpicc not installed (test/deps.sh slurm)"
	exit 0
fi
cp "$(dirname "$0")/mpi_hello.c" "$WORK/" && chown "$TEST_USER:" "$WORK/mpi_hello.c"
if ! out=$(as_user mpicc -o "$WORK/mpi_hello" "$WORK/mpi_hello.c" 2>&1); then
	show "$out"
	not_ok "mpicc builds mpi_hello.c"
	exit 0
fi

# The test cluster's two nodes are one machine, so UCX joins ranks of
# different nodes, in different containers, through shared memory too, and
# by default maps the peer's segment through /proc/PID/fd/N, which a process
# in another user namespace may not open (EACCES, "Shared memory error" in
# MPI_Init).  On real nodes no two containers' ranks share memory; ranks of
# one node share its container and the link works (checked below), so only
# this test needs named segments instead.
out=$(as_user env UCX_POSIX_USE_PROC_LINK=n timeout 60 \
	srun --mpi=pmi2 -N2 -n4 --overcommit "$I" "$WORK/mpi_hello" 2>&1); rc=$?
show "$(sort <<<"$out")"
# Ranks 0-1 on yurt1, 2-3 on yurt2; each names the node the ring's token came
# from (rank 2 hears from yurt1, rank 0 from yurt2) and the allreduce's sum.
want=$'rank 0 of 4 on yurt1 token 3 sum 6 from yurt2\nrank 1 of 4 on yurt1 token 1 sum 6 from yurt1\nrank 2 of 4 on yurt2 token 2 sum 6 from yurt1\nrank 3 of 4 on yurt2 token 3 sum 6 from yurt2'
check "srun --mpi=pmi2 -N2 -n4: ring and allreduce across the nodes (rc $rc)" \
	test "$rc" -eq 0 -a "$(grep '^rank' <<<"$out" | sed 's/ mnt:.*//' | sort)" = "$want"
ns() { grep "^rank .* on $1 " <<<"$out" | grep -o 'mnt:\[[0-9]*\]' | sort -u; }
check "a node's ranks share its container (one mount namespace each)" \
	test "$(ns yurt1 | wc -l)" -eq 1 -a "$(ns yurt2 | wc -l)" -eq 1 -a "$(grep -c '^rank' <<<"$out")" -eq 4
check "the two nodes' containers differ" test -n "$(ns yurt1)" -a "$(ns yurt1)" != "$(ns yurt2)"
check "the ranks ran in containers, not on the host" \
	bash -c '! grep -q "$(readlink /proc/self/ns/mnt)" <<<"$1"' _ "$out"

out=$(as_user env UCX_POSIX_USE_PROC_LINK=y timeout 60 \
	srun --mpi=pmi2 -N1 -n2 --overcommit "$I" "$WORK/mpi_hello" 2>&1); rc=$?
show "$out"
check "one node's ranks share memory through /proc links in their container (rc $rc)" \
	test "$rc" -eq 0 -a "$(grep -cE '^rank [01] of 2 on (yurt[12]) token 1 sum 1 from \1 ' <<<"$out")" -eq 2 \
	-a "$(awk '/^rank/ {print $5}' <<<"$out" | sort -u | wc -l)" -eq 1
check "no holder or state left" no_leftovers
