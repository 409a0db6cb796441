#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install everything the build and the VM tests need. Idempotent and quick
# when all is present: each step checks before it installs.
set -euo pipefail
. "$(dirname "$0")/common.sh"
# One installer at a time, when several checkouts start on one machine.
mkdir -p "$CACHE_DIR"
exec {deps_lock}>>"$CACHE_DIR/deps.lock"
flock "$deps_lock"

APT_PACKAGES=(
	# kernel build
	bc bison flex libelf-dev libssl-dev cpio kmod pahole rsync xz-utils
	clang-19 lld-19 llvm-19 libclang-19-dev
	# Rust for the kernel: compiler + library source that match
	rustc-web rust-web-src rust-web-clippy rustfmt-web
	# VM runner
	qemu-system-x86 udev busybox-static
	# selftests, demo
	libcap-dev make gcc
	# virtme-ng's venv
	python3-venv
)
# bindgen-cli is built with cargo: Debian's if the machine has none.
command -v cargo >/dev/null || APT_PACKAGES+=(cargo-web)

missing=()
for p in "${APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	log "installing Debian packages: ${missing[*]}"
	SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$TOOLS_DIR"
if ! "$TOOLS_DIR/bin/bindgen" --version 2>/dev/null | grep -qF "$BINDGEN_VERSION"; then
	log "installing bindgen-cli $BINDGEN_VERSION"
	cargo install --quiet --locked --root "$TOOLS_DIR" --version "$BINDGEN_VERSION" bindgen-cli
fi

if ! "$TOOLS_DIR/venv/bin/vng" --version 2>/dev/null | grep -qF "$VIRTME_NG_VERSION"; then
	log "installing virtme-ng $VIRTME_NG_VERSION"
	python3 -m venv "$TOOLS_DIR/venv"
	"$TOOLS_DIR/venv/bin/pip" install --quiet "virtme-ng==$VIRTME_NG_VERSION"
fi

if ! "$TOOLS_DIR/venv/bin/sphinx-build" --version 2>/dev/null |
	grep -qxF "sphinx-build $SPHINX_VERSION"; then
	log "installing Sphinx $SPHINX_VERSION"
	[ -x "$TOOLS_DIR/venv/bin/pip" ] || python3 -m venv "$TOOLS_DIR/venv"
	"$TOOLS_DIR/venv/bin/pip" install --quiet "sphinx==$SPHINX_VERSION"
fi
