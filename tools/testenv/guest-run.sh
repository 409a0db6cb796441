#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM for `make run`: load, show, demo, unload.
#   guest-run.sh MODULE DEMO
set -eu
MODULE=$1 DEMO=$2
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

read -r up _ < /proc/uptime
echo "(the guest is up after $up s: kernel boot and virtme-ng's init)"
dmesg -C
step uname -r
step insmod "$MODULE"
step ls -l /dev/iommu
step cat /sys/module/rust_iommufd/parameters/devname
step "$DEMO" /dev/iommu
step rmmod rust_iommufd
echo
echo "kernel log of this run:"
dmesg
