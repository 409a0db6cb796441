#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: upstream's iommu selftests, unmodified, against
# whichever implementation serves /dev/iommu right now (the caller loads
# and unloads them). Raw kselftest output goes to OUTDIR/LABEL.PROGRAM.out;
# compat-table.sh on the host puts the labels side by side.
#
#   guest-compat.sh LABEL OUTDIR BINDIR
set -u
LABEL=$1 OUTDIR=$2 BINDIR=$3
# A whole program may not hold the run hostage; the harness also times out
# each case on its own (30 s).
PROGRAM_TIMEOUT=${COMPAT_TIMEOUT:-600}

mkdir -p "$OUTDIR"
if [ ! -c /dev/iommu ]; then
	echo "# /dev/iommu is missing: nothing serves it for $LABEL" |
		tee "$OUTDIR/$LABEL.missing"
	exit 0
fi
for prog in iommufd iommufd_fail_nth; do
	echo "=== upstream $prog against $LABEL"
	start=$(date +%s)
	(cd "$BINDIR" && timeout -k 10 "$PROGRAM_TIMEOUT" "./$prog") \
		> "$OUTDIR/$LABEL.$prog.out" 2>&1
	rc=$?
	echo "# exit $rc after $(($(date +%s) - start)) s" >> "$OUTDIR/$LABEL.$prog.out"
	grep -E '^# (Totals|exit)' "$OUTDIR/$LABEL.$prog.out"
done
