#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make compat: upstream's own iommu selftests, unmodified, against the
# in-tree C iommufd.ko and against rust_iommufd.ko in one boot of the test
# kernel, printed side by side. (make check runs the same, inside its own
# boot, and gates the IO page fault cases.)
set -euo pipefail
. "$(dirname "$0")/common.sh"

kdir=$("$TESTENV_DIR/build.sh")
upstream=$("$TESTENV_DIR/upstream-selftests.sh" "$kdir")
results=$(mktemp -d /tmp/rust-iommufd-compat.XXXXXX)
# One implementation at a time on /dev/iommu: C first, then ours.
guest='
	insmod "$2" && "$4/guest-compat.sh" C "$1" "$5"; rmmod iommufd
	insmod "$3" && "$4/guest-compat.sh" rust_iommufd "$1" "$5"; rmmod rust_iommufd
	dmesg > "$1/dmesg.txt"'
mkdir -p "$results/compat"
"$TESTENV_DIR/vm.sh" --rwdir "$results" "$kdir" -- bash -c "$guest" guest \
	"$results/compat" "$kdir/drivers/iommu/iommufd/iommufd.ko" \
	"$PROJECT_DIR/rust_iommufd.ko" "$TESTENV_DIR" "$upstream" || true
# make check reuses a complete C run (check.sh); this one is the newest.
c_compat_store "$results/compat" "$(c_compat_cache "$kdir" "$upstream")"
"$TESTENV_DIR/compat-table.sh" "$results/compat" "$results/upstream_compat.tap"
log "raw outputs in $results/compat"
exec "$TESTENV_DIR/tap-summary.sh" "$results/upstream_compat.tap"
