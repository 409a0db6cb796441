#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build upstream's own iommufd selftests (tools/testing/selftests/iommu:
# iommufd and iommufd_fail_nth) from the test kernel's source, unmodified,
# and print the directory holding the binaries.
#
#   upstream-selftests.sh KDIR
#
# KDIR is a built kernel tree (the test kernel, or yours with KDIR=); the
# uAPI headers come from it ("make headers"), the test sources from its
# source tree. Nothing is written into the source tree: the binaries go to
# the cache, keyed by the source they were built from.
set -euo pipefail
. "$(dirname "$0")/common.sh"
result_to_stdout

kdir=${1:?usage: upstream-selftests.sh KDIR}
src=$(readlink -f "$kdir/source" 2>/dev/null || echo "$kdir")
tests=$src/tools/testing/selftests/iommu
[ -f "$tests/iommufd.c" ] || die "no upstream iommu selftests in $src"

key=$(cat "$tests"/*.c "$tests"/*.h "$src"/include/uapi/linux/iommufd.h \
	"$src"/drivers/iommu/iommufd/iommufd_test.h | sha256sum | cut -c1-16)
out=$CACHE_DIR/upstream-selftests/$key
if [ ! -x "$out/iommufd" ] || [ ! -x "$out/iommufd_fail_nth" ]; then
	log "building upstream iommu selftests from $src"
	mapfile -t kmake < <(kmake_args)
	# The exported uAPI headers of that kernel, as kselftest expects them.
	make -s -C "$kdir" "${kmake[@]}" headers
	mkdir -p "$out"
	make -s -C "$tests" OUTPUT="$out" CC=gcc \
		KHDR_INCLUDES="-isystem $kdir/usr/include"
fi
result "$out"
