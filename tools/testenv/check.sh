#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check: install what is missing, build (kernel if not cached, module,
# selftests), boot the test kernel, run everything, and print
# "N passed, N failed". Exit status is nonzero on any failure.
set -euo pipefail
. "$(dirname "$0")/common.sh"

start=$(date +%s)
kdir=$("$TESTENV_DIR/build.sh")
build_seconds=$(($(date +%s) - start))
log "built in $build_seconds s; booting $kdir"

# The demo and the Rust example run in the VM (guest-check.sh); cargo
# fetches the example's pinned crates itself.
make -s -C "$PROJECT_DIR/tools/demo" >&2
rust_example_build=0
cargo build --quiet --release --locked \
	--manifest-path "$PROJECT_DIR/tools/rust-example/Cargo.toml" >&2 ||
	rust_example_build=$?
# A failed build must not leave an old binary for the VM to run.
[ "$rust_example_build" = 0 ] ||
	rm -f "$PROJECT_DIR/tools/rust-example/target/release/iommufd-rust-example"

# CHECK_UPSTREAM=0 leaves out upstream's selftests (about 11 of the
# minutes): for iterating on the project's own tests, not for CI.
upstream=
[ "${CHECK_UPSTREAM:-1}" = 0 ] || upstream=$("$TESTENV_DIR/upstream-selftests.sh" "$kdir")
results=$(mktemp -d /tmp/rust-iommufd-check.XXXXXX)
selftests=$PROJECT_DIR/tools/testing/selftests/iommufd_rust

# C iommufd.ko's results under upstream's selftests depend only on the
# kernel and upstream's binaries: after one complete run they come from
# the cache (make compat runs them again). Ours run every time.
run_c=1 c_cache=
if [ -n "$upstream" ]; then
	c_cache=$(c_compat_cache "$kdir" "$upstream")
	mkdir -p "$results/compat"
	if c_compat_complete "$c_cache"; then
		cp "$c_cache"/C.* "$results/compat/"
		run_c=0
		log "C iommufd.ko's upstream results from $c_cache (make compat runs them again)"
	fi
fi

vm_start=$(date +%s)
vm_status=0
# The guest's limit: the sum of its programs' own limits (guest-check.sh,
# guest-compat.sh), plus 5 minutes for the boot and the kernel checks.
"$TESTENV_DIR/vm.sh" --timeout "$((run_c ? 3600 : 2600))" --rwdir "$results" "$kdir" -- \
	"$TESTENV_DIR/guest-check.sh" "$results" "$PROJECT_DIR/rust_iommufd.ko" \
	"$kdir/drivers/iommu/iommufd/iommufd.ko" "$selftests" "$upstream" "$run_c" ||
	vm_status=$?
vm_seconds=$(($(date +%s) - vm_start))
if ((run_c)) && [ -n "$upstream" ]; then
	c_compat_store "$results/compat" "$c_cache"
fi

# Upstream's selftests, C and ours side by side; the IOPF cases gate.
[ -z "$upstream" ] ||
	"$TESTENV_DIR/compat-table.sh" "$results/compat" "$results/upstream_compat.tap"

# A guest that died or hung reports what it got to, plus this failure.
{
	echo "1..1"
	if [ -f "$results/finished" ]; then
		echo "ok 1 the test VM ran to the end"
	else
		echo "not ok 1 the test VM did not finish (exit $vm_status)"
	fi
} > "$results/vm.tap"

# Our uAPI headers against upstream's, on the host. With KDIR the source
# is that tree or the one its "source" link names.
if [ -z "${KDIR:-}" ]; then ksrc=$("$TESTENV_DIR/kernel.sh" --source-only) || ksrc=
elif [ -f "$KDIR/include/uapi/linux/iommufd.h" ]; then ksrc=$KDIR
else ksrc=$(readlink -f "$KDIR/source") || ksrc=; fi
uapi_tap=$results/uapi_conformance.tap
"$selftests/uapi_conformance/uapi_conformance.sh" "$ksrc" \
	"$results/uapi_conformance" > "$uapi_tap" || true
grep -q '^1\.\.' "$uapi_tap" ||	# a crash before the plan still counts
	printf '1..1\nnot ok 1 uapi_conformance.sh printed no TAP plan\n' >> "$uapi_tap"

{
	echo "1..1"
	if [ "$rust_example_build" = 0 ]; then
		echo "ok 1 cargo build of tools/rust-example"
	else
		echo "not ok 1 cargo build of tools/rust-example (exit $rust_example_build)"
	fi
} > "$results/rust_example_build.tap"

# The crate's modules import only downwards (Documentation/design.rst,
# "Layers"), on the host.
{
	echo "1..1"
	if out=$("$TESTENV_DIR/layers.sh" "$PROJECT_DIR" 2>&1); then
		echo "ok 1 rust/: no module imports from a layer above its own"
	else
		echo "not ok 1 rust/: no module imports from a layer above its own"
		printf '%s\n' "$out" | sed 's/^/# /'
	fi
} > "$results/layers.tap"

# The documentation builds without a warning: Sphinx and rustdoc (host).
{
	echo "1..2"
	n=0
	for doc in htmldocs rustdoc; do
		n=$((n + 1))
		if out=$("$TESTENV_DIR/$doc.sh" "$kdir" 2>&1); then
			echo "ok $n make $doc: no warnings"
		else
			echo "not ok $n make $doc: no warnings"
			printf '%s\n' "$out" | tail -n 30 | sed 's/^/# /'
		fi
	done
} > "$results/docs.tap"

# Where the time went: the guest's boot (to its first command), then each
# program in the guest, as guest-check.sh measured them.
{
	echo "time: build ${build_seconds} s, VM ${vm_seconds} s (exit $vm_status)"
	[ -f "$results/boot_seconds" ] &&
		echo "time: guest boot $(cut -d. -f1 "$results/boot_seconds") s (to the first test command)"
	[ -f "$results/times" ] && sed 's/^\(.*\) \([0-9]*\)$/time: \1 \2 s/' "$results/times"
	for f in "$results"/compat/*.out; do
		[ -f "$f" ] || continue
		t=$(sed -n 's/^# exit .* after \([0-9]*\) s$/\1/p' "$f")
		name=${f##*/}; name=${name%.out}
		case $name in C.*) ((run_c)) || name="$name (cached)" ;; esac
		echo "time: upstream $name ${t:-?} s"
	done
} | tee "$results/times.txt" >&2
log "results in $results; total $(($(date +%s) - start)) s"
exec "$TESTENV_DIR/tap-summary.sh" "$results"/*.tap
