#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside a test VM: loads upstream's C iommufd.ko on /dev/iommu and
# rust_iommufd.ko beside it on /dev/iommu-rust, runs iommufd_fuzz on
# both, and puts the modules back as it found them (make check has
# rust_iommufd loaded as /dev/iommu at this point; make fuzz has nothing).
# Prints the fuzzer's output (TAP with --tap); exit status is the
# fuzzer's, or 1 if the modules could not be loaded.
#
# With --kmemleak (make fuzz), kmemleak's slate is cleared first and
# scanned after the run, before the modules are unloaded: a leak is a kernel report too,
# and kmemleak's periodic scans only print a count that the fuzzer's
# /dev/kmsg watch cannot attribute. (make check scans on its own, after
# every program, so it does not pass it.)
#
#   guest-fuzz.sh [--kmemleak] IOMMUFD_KO MODULE FUZZ_ARGS...
set -u
KMEMLEAK=
if [ "${1:-}" = --kmemleak ]; then
	KMEMLEAK=/sys/kernel/debug/kmemleak
	shift
fi
IOMMUFD_KO=$1 MODULE=$2
shift 2
FUZZ=$(cd "$(dirname "$0")" && pwd)/iommufd_fuzz

loaded() { grep -q "^$1 " /proc/modules; }
rust_was=
if loaded rust_iommufd; then
	rust_was=$(cat /sys/module/rust_iommufd/parameters/devname)
	rmmod rust_iommufd || { echo "Bail out! rmmod rust_iommufd failed"; exit 1; }
fi
c_was=0
loaded iommufd && c_was=1

if [ -n "$KMEMLEAK" ]; then
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	[ -w "$KMEMLEAK" ] || { echo "Bail out! kmemleak is not available"; exit 1; }
	echo scan > "$KMEMLEAK"
	echo clear > "$KMEMLEAK"
fi

rc=0
if { ((c_was)) || insmod "$IOMMUFD_KO"; } &&
	insmod "$MODULE" devname=iommu-rust; then
	"$FUZZ" "$@" || rc=$?
	if [ -n "$KMEMLEAK" ]; then
		# Before the modules go, so that the stacks name their functions.
		# Objects are reported once unreferenced for 5 s, after two scans.
		sleep 6
		echo scan > "$KMEMLEAK"
		echo scan > "$KMEMLEAK"
		leaks=$(cat "$KMEMLEAK")
		if [ -n "$leaks" ]; then
			side=unknown
			grep -qF '[rust_iommufd]' <<< "$leaks" && side=rust_iommufd
			grep -qF '[iommufd]' <<< "$leaks" &&
				side=$([ "$side" = unknown ] && echo "C iommufd" || echo "both or unknown")
			echo "# KERNEL REPORT (kmemleak, $side side, by the modules its stacks name) after the run:"
			sed 's/^/#   /' <<< "$leaks"
			rc=1
		else
			echo "# kmemleak: no unreferenced objects after the run"
		fi
	fi
else
	echo "Bail out! could not load iommufd.ko and rust_iommufd.ko devname=iommu-rust"
	rc=1
fi

loaded rust_iommufd && rmmod rust_iommufd
((c_was)) || { loaded iommufd && rmmod iommufd; }
if [ -n "$rust_was" ]; then
	insmod "$MODULE" devname="$rust_was" ||
		{ echo "# could not load rust_iommufd again as /dev/$rust_was"; rc=1; }
fi
exit $rc
