#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make rustdoc: the module crate's rustdoc, built with the very flags Kbuild
# compiled it with (taken from rust/.rust_iommufd.o.cmd), warnings denied
# and every public item required to have documentation. Private items are
# documented too: the crate is read by the people who change it.
#
#   rustdoc.sh [KDIR]   KDIR: a tree the module was just built against
#                       (make check passes it); without it, build first.
# Output: Documentation/output/rustdoc/rust_iommufd/index.html
set -euo pipefail
. "$(dirname "$0")/common.sh"

cmdfile=$PROJECT_DIR/rust/.rust_iommufd.o.cmd
[ -n "${1:-}" ] && [ -f "$cmdfile" ] || "$TESTENV_DIR/build.sh" >/dev/null
[ -f "$cmdfile" ] || die "no $cmdfile: the module build did not run"

# The saved command is one shell line Kbuild wrote: environment
# assignments, the compiler (clippy-driver or rustc), its arguments.
line=$(sed -n 's|^savedcmd_rust/rust_iommufd\.o := ||p' "$cmdfile")
[ -n "$line" ] || die "$cmdfile has no savedcmd line"
eval "set -- $line"

out=$PROJECT_DIR/Documentation/output/rustdoc
envs=() args=() skip=
for a in "$@"; do
	if [ -n "$skip" ]; then skip=; continue; fi
	case $a in
	OBJTREE=* | RUST_MODFILE=*) envs+=("$a") ;;
	*clippy-driver | *rustc) ;;	# the compiler: rustdoc replaces it
	--out-dir) skip=1 ;;		# and its value, the next word
	# What only code generation needs; clippy's lints rustdoc lacks.
	--emit=* | -Zbinary_dep_depinfo=* | -[WAD]clippy::*) ;;
	*) args+=("$a") ;;
	esac
done
[ "${args[-1]}" = rust/rust_iommufd.rs ] ||
	die "unexpected last argument in $cmdfile: ${args[-1]}"

rm -rf "$out"
mkdir -p "$out"
cd "$PROJECT_DIR"
# -Cunsafe-allow-abi-mismatch: as the kernel's own rustdoc rule, for the
# target modifiers rustdoc does not see the way rustc did.
# The kernel build exports RUSTC_BOOTSTRAP=1 for its -Z flags, Kbuild
# RUST_IOMMUFD_GENERATED for uapi.rs: so do we.
env RUSTC_BOOTSTRAP=1 RUST_IOMMUFD_GENERATED="$PROJECT_DIR/rust" "${envs[@]}" "${RUSTDOC:-/usr/bin/rustdoc}" "${args[@]}" \
	-Zunstable-options --document-private-items \
	-Cunsafe-allow-abi-mismatch=fixed-x18 \
	-Dwarnings -Dmissing_docs -Drustdoc::all -Arustdoc::private_intra_doc_links \
	--crate-name rust_iommufd --output "$out"
log "rustdoc: $out/rust_iommufd/index.html"
