#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside a test VM: loads upstream's C iommufd.ko on /dev/iommu and
# rust_iommufd.ko beside it on /dev/iommu-rust, runs iommufd_fuzz on
# both, and puts the modules back as it found them (make check has
# rust_iommufd loaded as /dev/iommu at this point; make fuzz has nothing).
# Prints the fuzzer's output (TAP with --tap); exit status is the
# fuzzer's, or 1 if the modules could not be loaded.
#
#   guest-fuzz.sh IOMMUFD_KO MODULE FUZZ_ARGS...
set -u
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

rc=0
if { ((c_was)) || insmod "$IOMMUFD_KO"; } &&
	insmod "$MODULE" devname=iommu-rust; then
	"$FUZZ" "$@" || rc=$?
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
