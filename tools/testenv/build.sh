#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build rust_iommufd.ko (with clippy) and the selftests against the test
# kernel, building that first if the cache lacks it. Prints the kernel
# build directory.
#
# KDIR=/path/to/built/tree uses your own Rust-enabled kernel instead; then
# KMAKE_ARGS carries that tree's toolchain arguments (e.g. "LLVM=1").
set -euo pipefail
. "$(dirname "$0")/common.sh"
result_to_stdout

kdir=$("$TESTENV_DIR/kernel.sh")
mapfile -t kmake < <(kmake_args)

log "building rust_iommufd.ko against $kdir"
make -s -C "$kdir" M="$PROJECT_DIR" "${kmake[@]}" CLIPPY="${CLIPPY:-1}" modules

# rustfmt: the kernel's own settings, on our sources only.
src=$(readlink -f "$kdir/source" 2>/dev/null || echo "$kdir")
rustfmt=${RUSTFMT:-/usr/bin/rustfmt}
if [ -x "$rustfmt" ]; then
	"$rustfmt" --check --edition 2021 --config-path "$src/.rustfmt.toml" \
		"$PROJECT_DIR"/rust/rust_iommufd.rs ||
		die "rustfmt: the sources above need formatting (run: make rustfmt)"
fi

make -s -C "$PROJECT_DIR/tools/testing/selftests/iommufd_rust" \
	KSFT_DIR="$src/tools/testing/selftests"
make -s -C "$PROJECT_DIR/tools/bench" KSFT_DIR="$src/tools/testing/selftests"
make -s -C "$PROJECT_DIR/tools/fuzz"
result "$kdir"
