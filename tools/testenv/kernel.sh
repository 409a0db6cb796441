#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build (or find in the cache) the test kernel and print its build directory.
#
#   kernel.sh [--variant debug|bench] [--source-only | --print-dir]
#
# --source-only fetches the source and prints its directory; --print-dir
# prints the build directory for the current key without building.
#
# The kernel is keyed by everything it is built from: source package version,
# the compilers' and bindgen's versions, the config fragments and this
# script's recipe revision. A second run with the same key builds nothing.
# KDIR=/path/to/built/tree skips all of this and prints $KDIR.
set -euo pipefail
. "$(dirname "$0")/common.sh"
# Callers capture stdout: it carries the one result line and nothing else.
result_to_stdout

# Bump when the build recipe below changes in a way that alters the result.
# 2: allnoconfig + config.base instead of defconfig.
RECIPE_REVISION=2

variant=debug
source_only=
print_dir=
while (($#)); do
	case $1 in
	--variant) variant=$2; shift 2 ;;
	--source-only) source_only=1; shift ;;
	--print-dir) print_dir=1; shift ;;
	*) die "unknown argument: $1" ;;
	esac
done

"$TESTENV_DIR/deps.sh"

if [ -n "${KDIR:-}" ]; then
	[ -f "$KDIR/Module.symvers" ] || die "KDIR=$KDIR is not a built kernel tree (no Module.symvers)"
	result "$KDIR"
	exit 0
fi

# The base (what the guest and the tests need on top of allnoconfig), the
# project's fragment (kselftest convention: a 'config' next to the tests),
# plus a per-variant fragment.
FRAGMENTS=("$TESTENV_DIR/config.base"
	   "$PROJECT_DIR/tools/testing/selftests/iommufd_rust/config"
	   "$TESTENV_DIR/config.$variant")
for f in "${FRAGMENTS[@]}"; do [ -f "$f" ] || die "no config fragment $f"; done

# --- source ---------------------------------------------------------------
SRC_DIR=$CACHE_DIR/src/$KERNEL_SRC_PKG-$KERNEL_SRC_VERSION
fetch_source() {
	[ -f "$SRC_DIR/.extracted" ] && return
	local tmp; tmp=$(mktemp -d "$CACHE_DIR/fetch.XXXXXX")
	log "fetching $KERNEL_SRC_PKG $KERNEL_SRC_VERSION (private apt list; system sources untouched)"
	mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
	echo "$KERNEL_APT_LINE" > "$tmp/sources.list"
	local apt_opts=(-o "Dir::Etc::SourceList=$tmp/sources.list"
			-o Dir::Etc::SourceParts=/dev/null
			-o "Dir::State::Lists=$tmp/lists"
			-o "Dir::Cache=$tmp/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
	apt-get "${apt_opts[@]}" update -qq
	(cd "$tmp" && apt-get "${apt_opts[@]}" download "$KERNEL_SRC_PKG=$KERNEL_SRC_VERSION")
	dpkg -x "$tmp"/"$KERNEL_SRC_PKG"_*.deb "$tmp/deb"
	rm -rf "$SRC_DIR"; mkdir -p "$SRC_DIR"
	tar -xJf "$tmp"/deb/usr/src/"$KERNEL_SRC_PKG".tar.xz -C "$SRC_DIR" --strip-components=1
	rm -rf "$tmp"
	touch "$SRC_DIR/.extracted"
}
mkdir -p "$CACHE_DIR"
# Two checkouts on one machine may get here at once: one fetches and
# builds, the other waits and then finds the result.
exec {src_lock}>>"$CACHE_DIR/src.lock"
flock "$src_lock"
fetch_source
flock -u "$src_lock"
if [ -n "$source_only" ]; then result "$SRC_DIR"; exit 0; fi

# --- key ------------------------------------------------------------------
key=$( {
	echo "recipe $RECIPE_REVISION variant $variant"
	echo "source $KERNEL_SRC_PKG $KERNEL_SRC_VERSION"
	"$KRUSTC" --version
	"$LLVM_BIN/clang" --version | head -n1
	"$TOOLS_DIR/bin/bindgen" --version
	echo "virtme-ng $VIRTME_NG_VERSION"	# supplies part of the config
	cat "${FRAGMENTS[@]}"
} | sha256sum | cut -c1-16)
BUILD_DIR=$CACHE_DIR/kernel/$variant-$key
if [ -n "$print_dir" ]; then result "$BUILD_DIR"; exit 0; fi
mkdir -p "$CACHE_DIR/kernel"
exec {build_lock}>>"$BUILD_DIR.lock"
flock "$build_lock"
if [ -f "$BUILD_DIR/.built" ]; then
	result "$BUILD_DIR"
	exit 0
fi

# --- configure --------------------------------------------------------------
mapfile -t KMAKE < <(kmake_args)
log "configuring $variant kernel in $BUILD_DIR"
rm -rf "$BUILD_DIR"; mkdir -p "$BUILD_DIR"
make -s -C "$SRC_DIR" O="$BUILD_DIR" "${KMAKE[@]}" rustavailable
# virtme-ng's own fragment makes the guest bootable under vng; ours go
# after it so they win (config.base turns off its optional extras).
virtme-configkernel --dry-run --arch x86_64 | grep -v '^##' > "$BUILD_DIR/virtme.config"
make -s -C "$SRC_DIR" O="$BUILD_DIR" "${KMAKE[@]}" allnoconfig
(cd "$SRC_DIR" && scripts/kconfig/merge_config.sh -m -O "$BUILD_DIR" \
	"$BUILD_DIR/.config" "$BUILD_DIR/virtme.config" "${FRAGMENTS[@]}" >/dev/null)
make -s -C "$SRC_DIR" O="$BUILD_DIR" "${KMAKE[@]}" olddefconfig

# Every option a fragment asks for must have survived dependency resolution:
# a silently dropped CONFIG_RUST or CONFIG_KASAN would make a useless kernel.
bad=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=*) grep -qxF "$line" "$BUILD_DIR/.config" || { log "config: wanted $line, got: $(grep -E "^(# )?${line%%=*}[= ]" "$BUILD_DIR/.config" || echo unset)"; bad=1; } ;;
	"# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *}
		! grep -q "^$opt=" "$BUILD_DIR/.config" || { log "config: wanted $opt off"; bad=1; } ;;
	esac
done < <(cat "${FRAGMENTS[@]}")
((bad == 0)) || die "the config fragments did not apply; see above"

# --- build ------------------------------------------------------------------
jobs=$(($(nproc) + 1))
log "building $variant kernel (-j$jobs); this takes a while on a cold cache"
start=$(date +%s)
make -s -C "$SRC_DIR" O="$BUILD_DIR" "${KMAKE[@]}" -j"$jobs"
log "built in $(($(date +%s) - start)) s"
touch "$BUILD_DIR/.built"
result "$BUILD_DIR"
