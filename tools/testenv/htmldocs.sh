#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make htmldocs: build Documentation/ with Sphinx, every warning an error,
# into Documentation/output/html (ignored by git). Installs the pinned
# Sphinx into the project's venv when it is missing.
set -euo pipefail
. "$(dirname "$0")/common.sh"

if ! "$TOOLS_DIR/venv/bin/sphinx-build" --version 2>/dev/null |
	grep -qxF "sphinx-build $SPHINX_VERSION"; then
	# With KDIR nothing installs prerequisites (see README): make deps.
	[ -z "${KDIR:-}" ] || die "Sphinx $SPHINX_VERSION is missing: run make deps"
	"$TESTENV_DIR/deps.sh"
fi

src=$PROJECT_DIR/Documentation
out=$src/output/html
rm -rf "$out" "$src/output/doctrees"
# -W: warnings are errors; --keep-going: report all of them, not the first;
# -n: a reference to a missing target is a warning too.
"$TOOLS_DIR/venv/bin/sphinx-build" -q -W --keep-going -n -b html \
	-d "$src/output/doctrees" "$src" "$out"
log "html: $out/index.html"
