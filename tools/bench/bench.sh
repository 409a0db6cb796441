#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: the IOPF benchmark, upstream's C iommufd.ko and
# rust_iommufd.ko side by side in one boot of the non-debug bench kernel,
# with the same iopf_bench binary. Prints the table (ratio rust/C per row)
# and leaves raw.csv, summary.csv, table.txt and bench.png in
# results/bench/<timestamp>/. Not a pass/fail test: the exit status is
# nonzero only if something did not run or a group was lost, duplicated
# or timed out.
#
# BENCH_PASSES (default 3): passes over every scenario, alternating which
# implementation goes first; the table shows medians.
# BENCH_SECONDS (default 2): time limit per row and pass.
set -euo pipefail
. "$(dirname "$0")/../testenv/common.sh"

BENCH_DIR=$PROJECT_DIR/tools/bench
passes=${BENCH_PASSES:-3}
seconds=${BENCH_SECONDS:-2}
start=$(date +%s)

# The plot: gnuplot from Debian (kernel.sh's deps.sh installs the rest).
if ! command -v gnuplot >/dev/null; then
	log "installing gnuplot-nox"
	SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
		--no-install-recommends gnuplot-nox >/dev/null
fi

# The bench kernel: the test kernel's configuration without the debugging
# options (KASAN, lockdep, kmemleak...) that distort timings. With KDIR,
# that tree is used as it is.
kdir=$("$TESTENV_DIR/kernel.sh" --variant bench)
mapfile -t kmake < <(kmake_args)
src=$(readlink -f "$kdir/source" 2>/dev/null || echo "$kdir")

# rust_iommufd.ko for that kernel, built from a copy of the sources so the
# debug build in the working tree stays as it is.
moddir=$CACHE_DIR/bench-module/$(basename "$kdir")
log "building rust_iommufd.ko against $kdir in $moddir"
mkdir -p "$moddir"
# Sources only: the working tree's objects belong to the debug kernel.
rsync -a --delete --exclude='*.o' --exclude='.*.cmd' --exclude='*.rmeta' \
	--exclude='uapi_generated.rs' --include='/Kbuild' --include='/rust/***' \
	--include='/include/***' --exclude='*' "$PROJECT_DIR/" "$moddir/"
make -s -C "$kdir" M="$moddir" "${kmake[@]}" modules >&2

make -s -C "$BENCH_DIR" KSFT_DIR="$src/tools/testing/selftests" >&2

results=$PROJECT_DIR/results/bench/$(date +%Y%m%d-%H%M%S)
mkdir -p "$results"
{
	echo "host: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "vm: $([ "${KVM:-0}" = 1 ] && echo KVM || echo TCG), 2 vCPUs, 2 GiB (tools/testenv/vm.sh)"
	echo "bench kernel: $kdir"
	echo "module: $(git -C "$PROJECT_DIR" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "passes: $passes, seconds per row: $seconds"
} > "$results/machine.txt"

log "booting $kdir; $passes passes of every scenario on both modules"
"$TESTENV_DIR/vm.sh" --rwdir "$results" --timeout 1500 "$kdir" -- \
	"$BENCH_DIR/guest-bench.sh" "$results" \
	"$kdir/drivers/iommu/iommufd/iommufd.ko" "$moddir/rust_iommufd.ko" \
	"$BENCH_DIR/iopf_bench" "$passes" -t "$seconds" >&2 ||
	log "the VM exited with $?"
[ -f "$results/finished" ] || die "the bench VM did not finish; see $results"
cat "$results/guest.txt" >> "$results/machine.txt"

status=0
"$BENCH_DIR/summarize.py" "$results/raw.csv" "$results" || status=$?
gnuplot -e "dat='$results/plot.dat'; out='$results/bench.png'" "$BENCH_DIR/plot.gp" ||
	log "gnuplot failed: no bench.png"
echo
cat "$results/machine.txt"
log "results in $results; total $(($(date +%s) - start)) s"
exit "$status"
