#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM (started by check.sh). Loads the module, runs the
# selftests, unloads it, then checks that nothing leaked or splatted. Each
# part writes TAP to $RESULTS/<part>.tap; the host adds them up.
#
# With UPSTREAM_BINDIR, upstream's own iommu selftests also run: first
# against the in-tree C iommufd.ko (before anything of ours is loaded, and
# before the slate is cleaned, so its reports are not counted against us),
# then against this module after our own tests, so the leak and splat
# checks cover them. RUN_C=0 leaves the C run out (check.sh has its
# results from the cache).
#
#   guest-check.sh RESULTS MODULE IOMMUFD_KO SELFTEST_DIR [UPSTREAM_BINDIR [RUN_C]]
set -u
RESULTS=$1 MODULE=$2 IOMMUFD_KO=$3 SELFTESTS=$4 UPSTREAM=${5:-} RUN_C=${6:-1}
TESTENV=$(cd "$(dirname "$0")" && pwd)
KMEMLEAK=/sys/kernel/debug/kmemleak

# How long the guest took to get here, for check.sh's log.
read -r boot_s _ < /proc/uptime
echo "$boot_s" > "$RESULTS/boot_seconds"
echo "# guest up after $boot_s s (kernel boot and virtme-ng's init)"

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug

if [ -n "$UPSTREAM" ] && [ "$RUN_C" = 1 ]; then
	mkdir -p "$RESULTS/compat"
	insmod "$IOMMUFD_KO" &&
		"$TESTENV/guest-compat.sh" C "$RESULTS/compat" "$UPSTREAM"
	rmmod iommufd
	dmesg > "$RESULTS/compat/C.dmesg.txt"
	# kmemleak reports only objects 5 s old or more, and only from the
	# second scan that finds one unchanged: wait and scan twice, so that
	# what the C run leaked is reported (and kept) now and cleared below.
	# (One scan missed C's struct dev_iommu leak under iommufd_fail_nth.)
	if [ -w "$KMEMLEAK" ]; then
		sleep 6
		echo scan > "$KMEMLEAK"
		echo scan > "$KMEMLEAK"
		cat "$KMEMLEAK" > "$RESULTS/compat/C.kmemleak.txt"
	fi
fi

# Start from a quiet slate: boot messages, C iommufd's and boot-time
# kmemleak reports are not ours.
if [ -w "$KMEMLEAK" ]; then
	echo scan > "$KMEMLEAK"
	echo clear > "$KMEMLEAK"
fi
dmesg -C

# run_tap NAME LIMIT COMMAND...: run one TAP-printing program with a time
# limit, into $RESULTS/NAME.tap, and note its time for check.sh's
# breakdown. A program that crashed before its plan, or was stopped at its
# limit, must not vanish from the count: either adds a failing line. Each
# limit is four to twelve times the program's time measured under TCG
# with the debug kernel on an idle 2-core machine (Documentation/
# testing.rst has the figures), at least a minute, so that a loaded
# machine does not trip it and a hang costs minutes, not the run.
run_tap() {
	local name=$1 limit=$2 start rc=0; shift 2
	echo "=== $name"
	start=$(date +%s)
	# Through bash, so that COMMAND may be an exported function.
	timeout -k 10 "$limit" bash -c '"$@"' run_tap "$@" 2>&1 | tee "$RESULTS/$name.tap"
	rc=${PIPESTATUS[0]}
	echo "$name $(($(date +%s) - start))" >> "$RESULTS/times"
	grep -q '^1\.\.' "$RESULTS/$name.tap" ||
		printf '1..1\nnot ok 1 %s printed no TAP plan\n' "$name" >> "$RESULTS/$name.tap"
	if ((rc == 124 || rc == 137)); then
		printf 'not ok 999 %s stopped at its limit of %s s\n' "$name" "$limit" >> "$RESULTS/$name.tap"
	fi
	return 0
}

# Each selftest program, in order. module_load.sh leaves the module loaded
# under its default name for the programs after it.
export MODULE IOMMUFD_KO
cd "$SELFTESTS" || exit 1
run_tap module_load.sh 120 ./module_load.sh
run_tap iommufd_core 60 ./iommufd_core
run_tap iommufd_mock 180 ./iommufd_mock
run_tap iommufd_fault 120 ./iommufd_fault
run_tap iommufd_ioas 120 ./iommufd_ioas
run_tap iommufd_map_file 120 ./iommufd_map_file
run_tap iommufd_veventq 60 ./iommufd_veventq
run_tap iommufd_dma 180 ./iommufd_dma
run_tap iommufd_dirty 120 ./iommufd_dirty
run_tap iommufd_vfio_compat 60 ./iommufd_vfio_compat
run_tap iommufd_hw_queue 60 ./iommufd_hw_queue
run_tap iommufd_hostile 60 ./iommufd_hostile
# fail_inject: 156 s on a loaded machine (December 2026, with the memory
# scenarios; 98 s before the two that make a mock device per run).
run_tap iommufd_fail_inject 600 ./iommufd_fail_inject
run_tap iommufd_stress 240 ./iommufd_stress
run_tap iommufd_map_stress 240 ./iommufd_map_stress
cd / || exit 1

# The IOPF benchmark's smoke run: tiny counts; any group lost, answered
# twice or left unanswered fails its row.
run_tap iopf_bench 60 "$TESTENV/../bench/iopf_bench" --tap /dev/iommu

# The demo (make run's) and the Rust example on the published iommufd
# crates, both built on the host by check.sh.
PROJECT=$(cd "$TESTENV/../.." && pwd)
demo() {
	local out rc=0
	echo "1..1"
	out=$("$PROJECT/tools/demo/iommufd_demo" /dev/iommu 2>&1) || rc=$?
	if ((rc == 0)); then
		echo "ok 1 tools/demo: every group answered as the handler chose, every DMA as expected"
	else
		echo "not ok 1 tools/demo: exit status $rc"
	fi
	printf '%s\n' "$out" | sed 's/^/# /'
}
export -f demo
export PROJECT
run_tap demo 60 demo
rust_example=$PROJECT/tools/rust-example/target/release/iommufd-rust-example
if [ -x "$rust_example" ]; then
	run_tap rust_example 60 "$rust_example" /dev/iommu
else
	printf '1..1\nnot ok 1 rust_example was not built\n' > "$RESULTS/rust_example.tap"
fi

# The module's KUnit suites ran when module_load.sh loaded it; their KTAP
# sits in debugfs while it stays loaded. Keep the per-case level.
for suite in rust_iommufd_object rust_iommufd_iopt rust_iommufd_account; do
	f=/sys/kernel/debug/kunit/$suite/results
	echo "=== kunit $suite"
	if [ -r "$f" ]; then
		sed -n 's/^    //p' "$f" | grep -v '^ ' | tee "$RESULTS/kunit_$suite.tap"
	else
		printf '1..1\nnot ok 1 KUnit suite %s did not run\n' "$suite" |
			tee "$RESULTS/kunit_$suite.tap"
	fi
done

# The differential fuzzer, a short fixed-seed run: C iommufd.ko and this
# module side by side; guest-fuzz.sh loads both and leaves rust_iommufd
# loaded as /dev/iommu again, as it found it.
run_tap fuzz 180 "$TESTENV/../fuzz/guest-fuzz.sh" "$IOMMUFD_KO" "$MODULE" \
	--tap -s 1,2,3 -n 500 -S 20

# module_load.sh left the module loaded as /dev/iommu.
if [ -n "$UPSTREAM" ]; then
	"$TESTENV/guest-compat.sh" rust_iommufd "$RESULTS/compat" "$UPSTREAM"
fi

# Checks on the kernel itself, after the module is gone.
{
	n=0
	check() {   # check DESCRIPTION COMMAND...
		local desc=$1; shift
		n=$((n + 1))
		if out=$("$@" 2>&1); then
			echo "ok $n $desc"
		else
			echo "not ok $n $desc"
			printf '%s\n' "$out" | sed 's/^/# /'
		fi
	}
	# The module's own counters (Documentation/reliability.rst): with
	# every file closed, nothing may be left.
	counters_zero() {
		local d=/sys/kernel/debug/rust_iommufd f v bad=0
		[ -d "$d" ] || { echo "$d is missing"; return 1; }
		for f in "$d"/*; do
			v=$(cat "$f")
			echo "${f##*/} $v"
			[ "$v" = 0 ] || bad=1
		done
		return $bad
	}
	no_module_left() {
		! grep -q '^rust_iommufd ' /proc/modules || rmmod rust_iommufd
	}
	no_leaks() {
		[ -w "$KMEMLEAK" ] || { echo "kmemleak is not available"; return 1; }
		# kmemleak reports objects unreferenced for 5 s or more.
		sleep 6
		echo scan > "$KMEMLEAK"
		echo scan > "$KMEMLEAK"
		! grep . "$KMEMLEAK"
	}
	no_splats() {
		! dmesg | grep -E -A12 'BUG:|WARNING:|INFO:|Oops|Call Trace|KASAN|UBSAN|lockdep|circular locking|recursive locking|inconsistent lock|sleeping function called|unreferenced object|general protection|duplicate filename|Kernel panic|refcount_t:'
	}
	# A KASAN report or a lockdep splat switches lock debugging off for
	# the rest of the boot, after which lockdep finds nothing.
	lockdep_on() {
		grep -E '^ *debug_locks: *1$' /proc/lockdep_stats ||
			{ grep debug_locks /proc/lockdep_stats; return 1; }
	}
	echo "TAP version 13"
	echo "1..5"
	check "debugfs counters are zero with every file closed" counters_zero
	check "rmmod rust_iommufd" no_module_left
	check "kmemleak: no unreferenced objects" no_leaks
	check "dmesg: no KASAN/lockdep/WARN/BUG/leak reports" no_splats
	check "lockdep stayed on through the run (debug_locks = 1)" lockdep_on
} 2>&1 | tee "$RESULTS/kernel_checks.tap"

echo "--- dmesg during the run"
dmesg | tail -n 200 > "$RESULTS/dmesg.txt"
dmesg | tail -n 40
touch "$RESULTS/finished"
