#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make run: build what is missing, boot the test kernel, load the module
# and show it answering ioctls.
set -euo pipefail
. "$(dirname "$0")/common.sh"

start=$(date +%s)
kdir=$("$TESTENV_DIR/build.sh")
make -s -C "$PROJECT_DIR/tools/demo"
built=$(date +%s)
"$TESTENV_DIR/vm.sh" "$kdir" -- "$TESTENV_DIR/guest-run.sh" \
	"$PROJECT_DIR/rust_iommufd.ko" "$PROJECT_DIR/tools/demo/iommufd_demo"
log "build $((built - start)) s, VM $(($(date +%s) - built)) s"
