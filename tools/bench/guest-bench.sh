#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the bench VM (started by bench.sh): loads upstream's C
# iommufd.ko on /dev/iommu and rust_iommufd.ko beside it on
# /dev/iommu-rust, then runs every scenario of iopf_bench on both,
# alternating which goes first, PASSES times (the dma rows on
# rust_iommufd only: their op is its own). Rows go to OUT/raw.csv.
#
#   guest-bench.sh OUT IOMMUFD_KO MODULE BENCH PASSES [BENCH_ARGS...]
set -u
OUT=$1 IOMMUFD_KO=$2 MODULE=$3 BENCH=$4 PASSES=$5
shift 5

# What the numbers were measured on.
{
	echo "kernel: $(uname -r)"
	echo "cmdline: $(cat /proc/cmdline)"
	echo "cpus: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "memory: $(sed -n 's/^MemTotal: *//p' /proc/meminfo)"
} > "$OUT/guest.txt"

insmod "$IOMMUFD_KO" || { echo "insmod iommufd.ko failed" >&2; exit 1; }
insmod "$MODULE" devname=iommu-rust || { echo "insmod rust_iommufd.ko failed" >&2; exit 1; }
dmesg -C

declare -A dev=([C]=/dev/iommu [rust]=/dev/iommu-rust)
echo "pass,impl,scenario,param,faults,seconds,rate,p50_us,p99_us,lost,dup,timeout,check,status" > "$OUT/raw.csv"
for ((pass = 1; pass <= PASSES; pass++)); do
	order=(C rust)
	((pass % 2)) || order=(rust C)
	for scenario in floor rt batch scale map dma; do
		for impl in "${order[@]}"; do
			# IOMMU_TEST_OP_RUST_DMA is ours alone: no C run.
			[ "$scenario" = dma ] && [ "$impl" = C ] && continue
			echo "=== pass $pass/$PASSES: $scenario on $impl" >&2
			"$BENCH" -l "$impl" -s "$scenario" "$@" "${dev[$impl]}" |
				sed -n "2,\$s/^/$pass,/p" | tee -a "$OUT/raw.csv"
		done
	done
done

dmesg > "$OUT/dmesg.txt"
rmmod rust_iommufd
rmmod iommufd
touch "$OUT/finished"
