#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make fuzz: the differential fuzzer on the debug test kernel, C
# iommufd.ko and rust_iommufd.ko in one boot. Prints the fuzzer's report;
# the exit status is nonzero on a divergence outside the allowlist or a
# kernel report.
#
#   FUZZ_SEED (default: the time)   seed, or seeds separated by commas
#   FUZZ_OPS (default 1000000)      stop after this many operations
#   FUZZ_SECONDS (default 0: none)  or after this many seconds
#   FUZZ_ARGS                       more iommufd_fuzz arguments
set -euo pipefail
. "$(dirname "$0")/../testenv/common.sh"

FUZZ_DIR=$PROJECT_DIR/tools/fuzz
seed=${FUZZ_SEED:-$(date +%s)}
ops=${FUZZ_OPS:-1000000}
secs=${FUZZ_SECONDS:-0}

kdir=$("$TESTENV_DIR/build.sh")
make -s -C "$FUZZ_DIR" >&2
results=$(mktemp -d /tmp/rust-iommufd-fuzz.XXXXXX)
log "fuzzing: seed $seed, up to $ops operations$( ((secs > 0)) && echo " or $secs s"); results in $results"
# The guest's limit: the run's own, plus time to boot and shrink.
limit=$((secs > 0 ? secs + 900 : 86400))
# shellcheck disable=SC2086
"$TESTENV_DIR/vm.sh" --timeout "$limit" --rwdir "$results" "$kdir" -- \
	bash -c '"$@" > "$0/fuzz.out" 2>&1; echo $? > "$0/rc"; dmesg > "$0/dmesg.txt"' \
	"$results" "$FUZZ_DIR/guest-fuzz.sh" --kmemleak "$kdir/drivers/iommu/iommufd/iommufd.ko" \
	"$PROJECT_DIR/rust_iommufd.ko" -s "$seed" -n "$ops" -t "$secs" ${FUZZ_ARGS:-} >&2 || true
cat "$results/fuzz.out" 2>/dev/null || die "the guest wrote no output; see $results"
rc=$(cat "$results/rc" 2>/dev/null || echo 1)
log "exit $rc; output and the kernel log in $results"
exit "$rc"
