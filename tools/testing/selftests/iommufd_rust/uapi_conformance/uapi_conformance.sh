#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# uAPI conformance: our include/uapi/linux/iommufd.h, iommufd_test.h and
# vfio.h (its type1 container part) against upstream's, on the host. For everything our headers declare,
# sizeof and every field offset, every enum constant and every object-like
# macro must have upstream's value. Prints TAP; exits 1 on any failure.
#
#   uapi_conformance.sh [--ours INCLUDE_DIR] UPSTREAM_SRC OUT_DIR
#
# UPSTREAM_SRC is a kernel source tree. OUT_DIR receives the generated
# sources, the binaries and log.txt. --ours replaces the project's
# include/uapi (to try the test on a modified copy of our headers).
# CLANG (clang 19 by default) reads the headers; CC builds the checks.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ours=$here/../../../../../include/uapi
if [ "${1:-}" = --ours ]; then ours=$2; shift 2; fi
if [ $# -ne 2 ]; then
	echo "usage: $0 [--ours INCLUDE_DIR] UPSTREAM_SRC OUT_DIR" >&2
	exit 2
fi
src=$1 out=$2
CLANG=${CLANG:-/usr/lib/llvm-19/bin/clang}
CC=${CC:-cc}
log=$out/log.txt

# Until the compare program runs, a failure must still be one failing
# TAP case, with the log as its diagnostics.
bail() {
	printf 'TAP version 13\n1..1\n'
	[ -f "$log" ] && tail -n 40 "$log" | sed 's/^/# /'
	echo "not ok 1 uapi conformance: $*"
	exit 1
}
step() {	# step DESCRIPTION COMMAND...
	local desc=$1; shift
	echo "+ $*" >> "$log"
	"$@" >> "$log" 2>&1 || bail "$desc"
}

mkdir -p "$out" || bail "cannot create $out"
: > "$log"
[ -n "$src" ] && [ -d "$src" ] || bail "no kernel source at '$src'"

# Where each side's headers are; upstream keeps its test header with the
# driver, not in include/uapi.
headers=(linux/iommufd.h linux/iommufd_test.h linux/vfio.h)
declare -A upstream=(
	[linux/iommufd.h]=$src/include/uapi/linux/iommufd.h
	[linux/iommufd_test.h]=$src/drivers/iommu/iommufd/iommufd_test.h
	[linux/vfio.h]=$src/include/uapi/linux/vfio.h
)
# Each side gets an include dir of symlinks of its own, searched before
# the system's (which may have an older linux/iommufd.h of its own).
for side in ours upstream; do
	rm -rf "$out/include-$side"
	mkdir -p "$out/include-$side/linux"
done
for h in "${headers[@]}"; do
	[ -f "$ours/$h" ] || bail "no $ours/$h"
	[ -f "${upstream[$h]}" ] || bail "no ${upstream[$h]}"
	ln -s "$(readlink -f "$ours/$h")" "$out/include-ours/$h"
	ln -s "$(readlink -f "${upstream[$h]}")" "$out/include-upstream/$h"
done

step "generating the checks (see log.txt)" \
	python3 "$here/uapi_conformance.py" --clang "$CLANG" \
	--ours "$out/include-ours" --upstream "$out/include-upstream" \
	--out "$out" "${headers[@]}"

# One translation unit per side, each exporting its table under its name.
for side in ours upstream; do
	step "compiling the checks against the $side headers (see log.txt)" \
		"$CC" -Wall -O0 -c -MD -MF "$out/checks-$side.d" \
		-I "$out/include-$side" -iquote "$here" -DUC_TABLE="uc_$side" \
		-o "$out/checks-$side.o" "$out/checks.c"
	# Every file it read by one of the headers' names must be the one
	# linked for this side.
	used=$(tr ' \\' '\n\n' < "$out/checks-$side.d" |
	       grep -F -f <(printf '/%s\n' "${headers[@]##*/}") | sort -u)
	want=$(for h in "${headers[@]}"; do echo "$out/include-$side/$h"; done |
	       sort -u)
	[ "$used" = "$want" ] ||
		bail "the checks built against the $side headers used" \
		     "$(echo $used), not $(echo $want)"
done
step "building the compare program (see log.txt)" \
	"$CC" -Wall -O2 -I "$out" -o "$out/uapi_conformance" \
	"$here/uapi_conformance.c" "$out/checks-ours.o" "$out/checks-upstream.o"

"$out/uapi_conformance"
