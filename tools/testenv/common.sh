# SPDX-License-Identifier: GPL-2.0
# Shared settings for the test-environment scripts. Sourced, not run.
#
# Everything pinned here feeds the test-kernel cache key (see kernel.sh):
# change a pin and the next run builds (or finds) a different kernel.

TESTENV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_DIR=$(cd "$TESTENV_DIR/../.." && pwd)

# Kernel source: Debian's Rust-capable 7.3 source package from trixie-backports.
KERNEL_SRC_PKG=linux-source-7.3
KERNEL_SRC_VERSION=7.3.4-1~bpo13+1
KERNEL_APT_LINE='deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main'

# Tools installed outside apt, pinned (both are in the kernel cache key:
# bindgen builds the kernel's Rust bindings, virtme-ng supplies part of its
# config).
BINDGEN_VERSION=0.73.2
VIRTME_NG_VERSION=1.42
# Sphinx for make htmldocs, in the same venv; not in the cache key.
SPHINX_VERSION=8.1.3

# LLVM: the kernel is built with clang/lld of this version (LLVM=-19).
LLVM_SUFFIX=-19
LLVM_BIN=/usr/lib/llvm${LLVM_SUFFIX}/bin

# Rust: Debian's rustc-web and its matching library source (rustup's
# toolchain here has no rust-src component).
KRUSTC=/usr/bin/rustc
KRUST_LIB_SRC=/usr/lib/rustlib/src/rust/library

# Where built kernels and downloaded sources live: outside the repository,
# shared by every clone on this machine.
CACHE_DIR=${RUST_IOMMUFD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rust-iommufd}

# Tools we install with cargo/pip land here.
TOOLS_DIR=$CACHE_DIR/tools
export PATH="$LLVM_BIN:$TOOLS_DIR/bin:$TOOLS_DIR/venv/bin:$HOME/.cargo/bin:$PATH"

log() { printf '[%s] %s\n' "${0##*/}" "$*" >&2; }

# For scripts whose stdout a caller captures ($(kernel.sh), $(build.sh)...):
# from here on everything a command prints goes to stderr, and only
# result() writes to the real stdout (kept as fd 3). A tool that prints
# progress on stdout (apt-get download, make) cannot end up in the
# caller's variable.
result_to_stdout() { exec 3>&1 1>&2; }
result() { printf '%s\n' "$*" >&3; }
die() { log "error: $*"; exit 1; }

# make(1) arguments for the kernel tree, one per line: with KDIR, the
# user's KMAKE_ARGS; otherwise the test kernel's compilers, not whatever
# comes first on PATH (rustup's rustc/clippy do not match Debian's).
kmake_args() {
	if [ -n "${KDIR:-}" ]; then
		local args
		read -r -a args <<< "${KMAKE_ARGS:-}"
		((${#args[@]})) && printf '%s\n' "${args[@]}"
		return 0
	fi
	printf '%s\n' "LLVM=$LLVM_SUFFIX" "RUSTC=$KRUSTC" \
		"RUST_LIB_SRC=$KRUST_LIB_SRC" "BINDGEN=$TOOLS_DIR/bin/bindgen" \
		"CLIPPY_DRIVER=/usr/bin/clippy-driver" "RUSTDOC=/usr/bin/rustdoc" \
		"RUSTFMT=/usr/bin/rustfmt"
}

# Where C iommufd.ko's results under upstream's selftests are kept: they
# depend only on the kernel, upstream's binaries and how vm.sh and
# guest-compat.sh run them, never on this module, so make check reuses them and make
# compat runs them again.
#   c_compat_cache KDIR UPSTREAM_BINDIR
c_compat_cache() {
	local kernel
	kernel=$(readlink -f "$1")
	kernel="$kernel $(stat -c %Y "$kernel/vmlinux" 2>/dev/null)"
	printf '%s\n' "$CACHE_DIR/compat-C/$( {
		echo "$kernel"
		basename "$2"
		cat "$TESTENV_DIR/guest-compat.sh" "$TESTENV_DIR/vm.sh"
	} | sha256sum | cut -c1-16)"
}

# True when a C run in OUTDIR completed: both programs reported an exit
# status and neither was stopped by its time limit.
#   c_compat_complete OUTDIR
c_compat_complete() {
	local prog rc
	[ ! -e "$1/C.missing" ] || return 1
	for prog in iommufd iommufd_fail_nth; do
		rc=$(sed -n 's/^# exit \([0-9]*\) after .*/\1/p' "$1/C.$prog.out" 2>/dev/null)
		case $rc in '' | 124 | 137) return 1 ;; esac
	done
}

# Keeps C's results of a complete run in OUTDIR as the cached ones.
#   c_compat_store OUTDIR CACHE
c_compat_store() {
	c_compat_complete "$1" || return 0
	mkdir -p "$2"
	cp "$1"/C.* "$2/"
}

# virtme-ng's init mounts fresh tmpfs over these in the guest (see its
# virtme-init), so a checkout or cache below one of them is not there for
# the tests: vm.sh refuses such a path up front instead of failing in the
# guest with "not found".
GUEST_HIDDEN_DIRS=(/var/tmp /var/cache /var/log /var/lib/apt /var/lib/sudo
	/var/lib/private /var/lib/machines /var/lib/portables /var/spool/rsyslog
	/run /dev /proc /sys)
#   guest_visible PATH: false (and a message) if the guest will not see PATH
guest_visible() {
	local path d
	path=$(readlink -f "$1")
	for d in "${GUEST_HIDDEN_DIRS[@]}"; do
		case $path/ in
		"$d"/*) log "$1 is below $d, which the guest does not see (virtme-ng mounts a tmpfs there)"
			return 1 ;;
		esac
	done
}
