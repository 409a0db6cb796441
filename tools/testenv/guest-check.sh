#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM (started by check.sh). Loads the module, runs the
# selftests, unloads it, then checks that nothing leaked or splatted. Each
# part writes TAP to $RESULTS/<part>.tap; the host adds them up.
#
#   guest-check.sh RESULTS MODULE IOMMUFD_KO SELFTEST_DIR
set -u
RESULTS=$1 MODULE=$2 IOMMUFD_KO=$3 SELFTESTS=$4
KMEMLEAK=/sys/kernel/debug/kmemleak

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug

# Start from a quiet slate: boot messages and boot-time kmemleak reports are
# not ours.
if [ -w "$KMEMLEAK" ]; then
	echo scan > "$KMEMLEAK"
	echo clear > "$KMEMLEAK"
fi
dmesg -C

# Each selftest program, in order. module_load.sh leaves the module loaded
# under its default name for the programs after it.
export MODULE IOMMUFD_KO
for t in module_load.sh iommufd_core iommufd_mock iommufd_fault; do
	echo "=== $t"
	(cd "$SELFTESTS" && "./$t") 2>&1 | tee "$RESULTS/$t.tap"
	# A program that crashed before its plan must not vanish from the count.
	grep -q '^1\.\.' "$RESULTS/$t.tap" ||
		printf '1..1\nnot ok 1 %s printed no TAP plan\n' "$t" >> "$RESULTS/$t.tap"
done

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
	echo "TAP version 13"
	echo "1..3"
	check "rmmod rust_iommufd" no_module_left
	check "kmemleak: no unreferenced objects" no_leaks
	check "dmesg: no KASAN/lockdep/WARN/BUG/leak reports" no_splats
} 2>&1 | tee "$RESULTS/kernel_checks.tap"

echo "--- dmesg during the run"
dmesg | tail -n 200 > "$RESULTS/dmesg.txt"
dmesg | tail -n 40
touch "$RESULTS/finished"
