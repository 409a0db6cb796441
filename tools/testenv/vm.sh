#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot a kernel build directory under virtme-ng and run one command in it.
#
#   vm.sh [--rwdir DIR]... [--append ARGS] [--timeout SECONDS] KDIR -- COMMAND...
#
# The guest sees the host's root file system (read-only, with overlays), so
# host-built binaries and the repository run inside it; --rwdir makes a
# host directory writable from the guest (for results).
#
# TCG by default: KVM does not work on the machines this project is
# developed on. Set KVM=1 to use hardware virtualisation where it works.
set -euo pipefail
. "$(dirname "$0")/common.sh"

# Root in the guest whoever runs this: the tests load modules.
vng_args=(--memory 2G --cpus 2 --user root)
# no5lvl: with 5-level paging under TCG, an interrupt early in boot hits
# KASAN shadow that is not mapped yet; the report taints the kernel and
# switches lockdep off for the whole run (measured on the 7.3 test kernel).
# hugepages: a pool of 128 2 MiB pages (256 MiB of the 2 GiB) for the
# MAP_HUGETLB cases of upstream's selftests.
append="kmemleak=on no5lvl hugepages=128"
timeout=3600
while (($#)); do
	case $1 in
	--rwdir) vng_args+=(--rwdir "$2"); shift 2 ;;
	--append) append="$append $2"; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) kdir=$1; shift ;;
	esac
done
[ -n "${kdir:-}" ] && (($#)) || die "usage: vm.sh [options] KDIR -- COMMAND..."
# The guest runs the repository's scripts and binaries, and boots from the
# cache, at their host paths.
for d in "$PROJECT_DIR" "$CACHE_DIR" "$kdir"; do
	guest_visible "$d" || die "move it, or point RUST_IOMMUFD_CACHE elsewhere"
done
[ "${KVM:-0}" = 1 ] || vng_args+=(--disable-kvm)

# VM_LOCK=FILE: wait for FILE's lock first, so that guests sharing a small
# machine run one at a time (two TCG guests on two cores each take more
# than twice as long, and the times they report mean nothing).
if [ -n "${VM_LOCK:-}" ]; then
	exec {lock_fd}>>"$VM_LOCK"
	flock "$lock_fd"
fi

# One string for --exec, each word quoted for the guest's shell.
printf -v cmd '%q ' "$@"

# vng starts qemu as a child, and a guest past its limit must not outlive
# us. timeout(1) without --foreground signals its whole process group, qemu
# included (with --foreground, as before, it signalled vng alone, and qemu
# went on at full CPU after the run had been reported); setsid gives that
# group a session of its own, and our exit, or a signal to us, stops the
# group too. Exit 124 is a guest stopped at its limit.
#
# Its output goes through pipes: qemu opens /proc/self/fd/1 and 2 by path
# for the guest's output, which truncates a regular file, so `make check
# > log` lost everything printed before the boot.
exec {out_fd}> >(exec cat)
out_pid=$!
exec {err_fd}> >(exec cat >&2)
err_pid=$!
setsid timeout -k 10 "$timeout" \
	vng --run "$kdir" "${vng_args[@]}" --append "$append" --exec "$cmd" \
	</dev/null >&"$out_fd" 2>&"$err_fd" &
vng_pid=$!
exec {out_fd}>&- {err_fd}>&-
stop_guest() {
	kill -TERM -- "-$vng_pid" 2>/dev/null || return 0
	for _ in $(seq 20); do
		kill -0 -- "-$vng_pid" 2>/dev/null || return 0
		sleep 0.5
	done
	kill -KILL -- "-$vng_pid" 2>/dev/null || true
}
# Once the guest's processes are gone, the pipes drain and close.
finish() {
	stop_guest
	wait "$out_pid" "$err_pid" 2>/dev/null || true
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
status=0
wait "$vng_pid" || status=$?
((status != 124)) || log "the guest ran past its limit of $timeout s and was stopped"
exit "$status"
