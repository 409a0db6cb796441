#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Add up the TAP files of a run: print one line per failure, then
# "N passed, N failed" (with skips after it), and exit nonzero on failure.
# A file that announced more tests ("1..N") than it reported counts the
# missing ones as failed: a crash must not look like a pass.
#
#   tap-summary.sh FILE.tap...
set -u
awk '
	FNR == 1 { if (NR > 1) close_file(); file = FILENAME; planned = 0; seen = 0 }
	/^1\.\.[0-9]+/ { planned = substr($0, 4) + 0 }
	/^(not )?ok [0-9]+/ {
		seen++
		if ($0 ~ /^not ok/) { failed++; print "FAIL " file ": " $0 }
		else if ($0 ~ /# *[Ss][Kk][Ii][Pp]/) skipped++
		else passed++
	}
	function close_file() {
		if (seen < planned) {
			failed += planned - seen
			print "FAIL " file ": " planned - seen " planned tests did not report"
		}
	}
	END {
		close_file()
		printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped
		exit failed > 0
	}
' "$@"
