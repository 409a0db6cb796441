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
# each case on its own (30 s). Against C on an idle 2-core machine under
# TCG, iommufd took 140 s and iommufd_fail_nth 80 s (December 2026).
# COMPAT_TIMEOUT, when set, is the limit for both (by hand in a guest).
limit() {
	case $1 in
	iommufd) echo "${COMPAT_TIMEOUT:-600}" ;;
	iommufd_fail_nth) echo "${COMPAT_TIMEOUT:-400}" ;;
	esac
}

mkdir -p "$OUTDIR"
if [ ! -c /dev/iommu ]; then
	echo "# /dev/iommu is missing: nothing serves it for $LABEL" |
		tee "$OUTDIR/$LABEL.missing"
	exit 0
fi
# rust_iommufd's mock_idle_devices: upstream's iommufd_fail_nth makes a
# mock device in every run of its steps, about 130 injection points each,
# which under TCG takes past the harness's 30 s per case; reused devices
# cost 14 (reliability.rst). On for that program only: idle devices hold
# module references, and the close after it is back to 0 removes them.
IDLE=/sys/module/rust_iommufd/parameters/mock_idle_devices
for prog in iommufd iommufd_fail_nth; do
	echo "=== upstream $prog against $LABEL"
	[ "$prog" = iommufd_fail_nth ] && [ -w "$IDLE" ] && echo 4 > "$IDLE"
	start=$(date +%s)
	(cd "$BINDIR" && timeout -k 10 "$(limit "$prog")" "./$prog") \
		> "$OUTDIR/$LABEL.$prog.out" 2>&1
	rc=$?
	if [ -w "$IDLE" ] && [ "$(cat "$IDLE")" != 0 ]; then
		echo 0 > "$IDLE"
		: <> /dev/iommu
	fi
	echo "# exit $rc after $(($(date +%s) - start)) s" >> "$OUTDIR/$LABEL.$prog.out"
	grep -E '^# (Totals|exit)' "$OUTDIR/$LABEL.$prog.out"
done
