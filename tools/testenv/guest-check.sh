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
# checks cover them.
#
#   guest-check.sh RESULTS MODULE IOMMUFD_KO SELFTEST_DIR [UPSTREAM_BINDIR]
set -u
RESULTS=$1 MODULE=$2 IOMMUFD_KO=$3 SELFTESTS=$4 UPSTREAM=${5:-}
TESTENV=$(cd "$(dirname "$0")" && pwd)
KMEMLEAK=/sys/kernel/debug/kmemleak

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug

if [ -n "$UPSTREAM" ]; then
	mkdir -p "$RESULTS/compat"
	insmod "$IOMMUFD_KO" &&
		"$TESTENV/guest-compat.sh" C "$RESULTS/compat" "$UPSTREAM"
	rmmod iommufd
	dmesg > "$RESULTS/compat/C.dmesg.txt"
	# kmemleak reports only objects 5 s old or more: wait, so that what
	# the C run leaked is reported (and kept) now and cleared below.
	if [ -w "$KMEMLEAK" ]; then
		sleep 6
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

# Each selftest program, in order. module_load.sh leaves the module loaded
# under its default name for the programs after it.
export MODULE IOMMUFD_KO
for t in module_load.sh iommufd_core iommufd_mock iommufd_fault \
	iommufd_hostile iommufd_fail_inject iommufd_stress; do
	echo "=== $t"
	(cd "$SELFTESTS" && "./$t") 2>&1 | tee "$RESULTS/$t.tap"
	# A program that crashed before its plan must not vanish from the count.
	grep -q '^1\.\.' "$RESULTS/$t.tap" ||
		printf '1..1\nnot ok 1 %s printed no TAP plan\n' "$t" >> "$RESULTS/$t.tap"
done

# The IOPF benchmark's smoke run: tiny counts; any group lost, answered
# twice or left unanswered fails its row.
echo "=== iopf_bench --tap"
"$TESTENV/../bench/iopf_bench" --tap /dev/iommu 2>&1 | tee "$RESULTS/iopf_bench.tap"
grep -q '^1\.\.' "$RESULTS/iopf_bench.tap" ||
	printf '1..1\nnot ok 1 iopf_bench printed no TAP plan\n' >> "$RESULTS/iopf_bench.tap"

# The demo (make run's) and the Rust example on the published iommufd
# crates, both built on the host by check.sh.
PROJECT=$(cd "$TESTENV/../.." && pwd)
echo "=== demo"
{
	echo "1..1"
	if out=$("$PROJECT/tools/demo/iommufd_demo" /dev/iommu 2>&1); then
		echo "ok 1 tools/demo: every group answered as the handler chose"
	else
		echo "not ok 1 tools/demo: exit status $?"
	fi
	printf '%s\n' "$out" | sed 's/^/# /'
} 2>&1 | tee "$RESULTS/demo.tap"
echo "=== rust_example"
rust_example=$PROJECT/tools/rust-example/target/release/iommufd-rust-example
if [ -x "$rust_example" ]; then
	"$rust_example" /dev/iommu 2>&1 | tee "$RESULTS/rust_example.tap"
fi
grep -q '^1\.\.' "$RESULTS/rust_example.tap" 2>/dev/null ||
	printf '1..1\nnot ok 1 rust_example printed no TAP plan\n' >> "$RESULTS/rust_example.tap"

# The module's KUnit suites ran when module_load.sh loaded it; their KTAP
# sits in debugfs while it stays loaded. Keep the per-case level.
for suite in rust_iommufd_object; do
	f=/sys/kernel/debug/kunit/$suite/results
	echo "=== kunit $suite"
	if [ -r "$f" ]; then
		sed -n 's/^    //p' "$f" | grep -v '^ ' | tee "$RESULTS/kunit_$suite.tap"
	else
		printf '1..1\nnot ok 1 KUnit suite %s did not run\n' "$suite" |
			tee "$RESULTS/kunit_$suite.tap"
	fi
done

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
