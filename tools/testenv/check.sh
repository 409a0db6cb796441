#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check: install what is missing, build (kernel if not cached, module,
# selftests), boot the test kernel, run everything, and print
# "N passed, N failed". Exit status is nonzero on any failure.
set -euo pipefail
. "$(dirname "$0")/common.sh"

start=$(date +%s)
kdir=$("$TESTENV_DIR/build.sh")
log "built in $(($(date +%s) - start)) s; booting $kdir"

results=$(mktemp -d /tmp/rust-iommufd-check.XXXXXX)
selftests=$PROJECT_DIR/tools/testing/selftests/iommufd_rust
vm_status=0
"$TESTENV_DIR/vm.sh" --rwdir "$results" "$kdir" -- \
	"$TESTENV_DIR/guest-check.sh" "$results" "$PROJECT_DIR/rust_iommufd.ko" \
	"$kdir/drivers/iommu/iommufd/iommufd.ko" "$selftests" || vm_status=$?

# A guest that died or hung reports what it got to, plus this failure.
{
	echo "1..1"
	if [ -f "$results/finished" ]; then
		echo "ok 1 the test VM ran to the end"
	else
		echo "not ok 1 the test VM did not finish (exit $vm_status)"
	fi
} > "$results/vm.tap"

log "results in $results; total $(($(date +%s) - start)) s"
exec "$TESTENV_DIR/tap-summary.sh" "$results"/*.tap
