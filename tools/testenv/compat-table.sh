#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Upstream's iommu selftests, C iommufd.ko and rust_iommufd side by side:
# prints one row per upstream case, with the listed reason where the two
# differ (compat-differences.txt), and a totals line per program, and
# writes TAP that gates the IO page fault cases one by one and, per
# program, every case C passes: it must pass here too, or be listed.
#
#   compat-table.sh OUTDIR TAPFILE
#
# OUTDIR holds guest-compat.sh's LABEL.PROGRAM.out files for the labels
# "C" and "rust_iommufd".
set -u
OUTDIR=$1 TAP=$2
REASONS=$(dirname "$0")/compat-differences.txt

# The upstream cases that exercise IOPF delivery; all must pass (or skip
# where upstream's own test skips the variant, as it does on C too).
GATED="iommufd_ioas.no_domain.alloc_hwpt_nested
iommufd_ioas.mock_domain.alloc_hwpt_nested
iommufd_ioas.two_mock_domain.alloc_hwpt_nested
iommufd_ioas.mock_domain_limit.alloc_hwpt_nested
iommufd_viommu.no_viommu.viommu_alloc_nested_iopf
iommufd_viommu.mock_viommu.viommu_alloc_nested_iopf
iommufd_device_pasid.no_pasid.pasid_attach
iommufd_device_pasid.has_pasid.pasid_attach"

# case<TAB>result for one output file; results: pass, FAIL, skip.
results() {
	[ -f "$1" ] || return 0
	sed -nE 's/^(not )?ok [0-9]+ ([^ ]+)( # (SKIP|skip).*)?.*$/\1|\2|\4/p' "$1" |
		awk -F'|' '{ r = $1 != "" ? "FAIL" : ($3 != "" ? "skip" : "pass"); print $2 "\t" r }'
}

table=$(mktemp)
for prog in iommufd iommufd_fail_nth; do
	c=$OUTDIR/C.$prog.out r=$OUTDIR/rust_iommufd.$prog.out
	# Every case either side reported, in the order C reported them.
	awk -F'\t' -v prog="$prog" '
		FNR == 1 { side++ }
		{ if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
		  res[side, $1] = $2 }
		END { for (i = 1; i <= n; i++) {
			k = order[i]
			a = ((1, k) in res) ? res[1, k] : "-"
			b = ((2, k) in res) ? res[2, k] : "-"
			printf "%s\t%s\t%s\t%s\n", prog, k, a, b } }
	' <(results "$c"; echo) <(results "$r"; echo) | grep -v '^[^	]*		' >> "$table"
done

# The listed reason for PROGRAM CASE, if any (first matching pattern).
reason() {
	local prog=$1 case=$2 p c r
	while IFS=$'\t' read -r p r; do
		[[ $p == "#"* || -z $p ]] && continue
		c=${p#*: }
		[ "${p%%: *}" = "$prog" ] || continue
		# shellcheck disable=SC2053 # the listed case is a pattern
		[[ $case == $c ]] && { echo "$r"; return; }
	done < "$REASONS"
}

# The rows where C passes and rust_iommufd does not, with their reasons.
regressions=$(mktemp)
trap 'rm -f "$table" "$regressions"' EXIT
while IFS=$'\t' read -r prog case c r; do
	[ "$c" = pass ] && [ "$r" != pass ] || continue
	printf '%s\t%s\t%s\n' "$prog" "$case" "$(reason "$prog" "$case")"
done < "$table" > "$regressions"

echo "=== upstream iommu selftests: C iommufd.ko vs rust_iommufd (same boot, same binaries)"
printf '%-72s %-6s %s\n' "case" "C" "rust_iommufd"
while IFS=$'\t' read -r prog case c r; do
	mark=
	if [ "$c" != "$r" ]; then
		why=$(reason "$prog" "$case")
		mark="  < ${why:-(no reason listed)}"
	fi
	printf '%-72s %-6s %s%s\n' "$prog: $case" "$c" "$r" "$mark"
done < "$table"
for prog in iommufd iommufd_fail_nth; do
	awk -F'\t' -v prog="$prog" '
		$1 == prog { n++; c[$3]++; r[$4]++ }
		END { printf "%s (%d cases): C pass:%d fail:%d skip:%d missing:%d | rust_iommufd pass:%d fail:%d skip:%d missing:%d\n",
			prog, n, c["pass"], c["FAIL"], c["skip"], c["-"],
			r["pass"], r["FAIL"], r["skip"], r["-"] }' "$table"
done
for f in "$OUTDIR"/*.missing; do [ -f "$f" ] && cat "$f"; done
# Listed differences no case shows any more.
while IFS=$'\t' read -r p r; do
	[[ $p == "#"* || -z $p ]] && continue
	awk -F'\t' -v prog="${p%%: *}" -v pat="${p#*: }" '
		BEGIN { gsub(/[.]/, "[.]", pat); gsub(/[*]/, ".*", pat); pat = "^" pat "$" }
		$1 == prog && $2 ~ pat { found = 1 } END { exit !found }' "$regressions" ||
		echo "# stale entry in compat-differences.txt (nothing differs there now): $p"
done < "$REASONS"

{
	echo "TAP version 13"
	echo "1..$(($(echo "$GATED" | wc -l) + 2))"
	n=0
	while read -r case; do
		n=$((n + 1))
		row=$(awk -F'\t' -v k="$case" '$1 == "iommufd" && $2 == k' "$table")
		c=$(cut -f3 <<< "$row") r=$(cut -f4 <<< "$row")
		desc="upstream $case against rust_iommufd (C: ${c:--})"
		if [ "$r" = pass ]; then
			echo "ok $n $desc"
		elif [ "$r" = skip ] && [ "$c" = skip ]; then
			echo "ok $n $desc # SKIP upstream skips this variant"
		else
			echo "not ok $n $desc: ${r:-did not run}"
		fi
	done <<< "$GATED"
	for prog in iommufd iommufd_fail_nth; do
		n=$((n + 1))
		desc="upstream $prog: every case C passes passes against rust_iommufd, or is listed with a reason"
		unlisted=$(awk -F'\t' -v p="$prog" '$1 == p && $3 == "" { print $2 }' "$regressions")
		if ! grep -q "^$prog	" "$table"; then
			echo "not ok $n $desc: no results"
		elif [ -z "$unlisted" ]; then
			echo "ok $n $desc ($(awk -F'\t' -v p="$prog" '$1 == p' "$regressions" | wc -l) listed)"
		else
			echo "not ok $n $desc: $(echo $unlisted)"
		fi
	done
} > "$TAP"
