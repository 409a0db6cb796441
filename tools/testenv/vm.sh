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
append="kmemleak=on no5lvl"
timeout=1800
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
[ "${KVM:-0}" = 1 ] || vng_args+=(--disable-kvm)

# One string for --exec, each word quoted for the guest's shell.
printf -v cmd '%q ' "$@"
exec timeout --foreground -k 10 "$timeout" \
	vng --run "$kdir" "${vng_args[@]}" --append "$append" --exec "$cmd" </dev/null
