#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check-cold: the fresh-machine path, as a new user (or CI on a new
# machine) meets it. For each target (default: run, then check), a fresh
# clone of HEAD runs `make TARGET` with an empty cache directory, so the
# kernel source is fetched, bindgen and virtme-ng installed, the test
# kernel configured and built, the module built and the VM booted, all
# from nothing. Prints each target's wall time; exit status is nonzero if
# any target failed.
#
#   COLD_TARGETS="run check"  which targets, each from its own empty cache
#   COLD_DIR=DIR              where the clones and caches go (kept, for
#                             reading logs; several GiB per target); by
#                             default beside the cache directory
#
# Debian packages are system-wide and stay installed: deps.sh installs
# them on a machine that lacks them, which this cannot undo.
set -euo pipefail
. "$(dirname "$0")/common.sh"

targets=${COLD_TARGETS:-run check}
# Beside the cache by default: a place the guest sees (not /var/tmp, which
# virtme-ng hides), on disk rather than in a tmpfs /tmp.
top=${COLD_DIR:-$(mktemp -d "$(dirname "$CACHE_DIR")/rust-iommufd-cold.XXXXXX")}
guest_visible "$top" || die "COLD_DIR=$top: the guest would not see the clones"
[ -z "$(git -C "$PROJECT_DIR" status --porcelain --untracked-files=no)" ] ||
	log "warning: the working tree has uncommitted changes; the clone has HEAD only"

failed=0 summary=()
for t in $targets; do
	dir=$top/$t
	rm -rf "$dir"; mkdir -p "$dir"
	git clone -q "$PROJECT_DIR" "$dir/repo"
	log "cold make $t in $dir/repo (cache $dir/cache, log $dir/log)"
	start=$(date +%s) rc=0
	RUST_IOMMUFD_CACHE=$dir/cache make -C "$dir/repo" "$t" > "$dir/log" 2>&1 || rc=$?
	secs=$(($(date +%s) - start))
	tail -n 3 "$dir/log" >&2
	summary+=("cold make $t: exit $rc in $secs s ($((secs / 60)) min $((secs % 60)) s)")
	((rc == 0)) || failed=1
done
printf '%s\n' "${summary[@]}"
exit $failed
