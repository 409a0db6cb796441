#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Loading rules of rust_iommufd.ko: the devname parameter, refusing a taken
# device name cleanly, and unloading. Needs root and
#   MODULE=path/to/rust_iommufd.ko  IOMMUFD_KO=path/to/iommufd.ko (in-tree C)
# Leaves rust_iommufd loaded under its default name, /dev/iommu, for the
# tests that run after it.
set -u
: "${MODULE:?MODULE=path/to/rust_iommufd.ko}" "${IOMMUFD_KO:?IOMMUFD_KO=path/to/iommufd.ko}"

n=0
echo "TAP version 13"
echo "1..11"
expect() {	# expect DESCRIPTION COMMAND...
	local desc=$1; shift
	n=$((n + 1))
	if "$@"; then echo "ok $n $desc"; else echo "not ok $n $desc"; fi
}

loaded() { grep -q "^$1 " /proc/modules; }
param() { cat "/sys/module/rust_iommufd/parameters/$1" 2>/dev/null; }

# insmod must fail, with this error text, and leave nothing loaded. kmod
# words some errnos its own way: EINVAL from init is "Invalid parameters".
refused() {	# refused ERROR_TEXT [PARAM=VALUE...]
	local want=$1 out; shift
	if out=$(insmod "$MODULE" "$@" 2>&1); then
		echo "# loaded although it should not: $*"
		rmmod rust_iommufd
		return 1
	fi
	echo "# insmod: $out"
	grep -q "$want" <<< "$out" && ! loaded rust_iommufd
}
dmesg_says() { dmesg | grep -q -- "$1"; }

loaded rust_iommufd && rmmod rust_iommufd
loaded iommufd && rmmod iommufd

expect "empty devname is refused (EINVAL) with a reason in dmesg" \
	eval 'refused "Invalid parameters" devname= && dmesg_says "is not a valid device name"'
expect "devname with a slash is refused (EINVAL)" \
	refused "Invalid parameters" devname=a/b
expect "devname '..' is refused (EINVAL)" \
	refused "Invalid parameters" devname=..
expect "devname longer than 31 bytes is refused" \
	refused "No space left on device" devname=abcdefghijklmnopqrstuvwxyz0123456789
expect "the in-tree iommufd.ko loads and takes /dev/iommu" \
	eval 'insmod "$IOMMUFD_KO" && [ -c /dev/iommu ]'
expect "a taken name is refused (EBUSY) with a clear message" \
	eval 'refused "Device or resource busy" && dmesg_says "/dev/iommu is taken"'
expect "refusing a taken name leaves no sysfs duplicate-name splat" \
	eval '! dmesg_says "duplicate filename" && ! dmesg_says "Call Trace"'
expect "loads beside iommufd.ko as devname=iommu-rust" \
	eval 'insmod "$MODULE" devname=iommu-rust && [ -c /dev/iommu-rust ] &&
	      [ "$(param devname)" = iommu-rust ]'
expect "unloads and removes its device node" \
	eval 'rmmod rust_iommufd && ! loaded rust_iommufd && [ ! -e /dev/iommu-rust ]'
expect "loads as /dev/iommu by default once iommufd.ko is gone" \
	eval 'rmmod iommufd && insmod "$MODULE" && [ -c /dev/iommu ] &&
	      [ "$(param devname)" = iommu ] && ! loaded iommufd'
expect "loading logs no workqueue name truncation (the iopf queue's name fits)" \
	eval '! dmesg_says "exceeds WQ_NAME_LEN"'
