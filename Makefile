# SPDX-License-Identifier: GPL-2.0
#
# rust-iommufd. Kbuild (next to this file) describes the module; this
# Makefile is the front door for people:
#
#   make run      build what is missing, boot the test kernel, load the
#                 module and show it answering ioctls (the demo)
#   make check    the same, then every test; ends "N passed, N failed"
#   make check-cold  the fresh-machine path: make run and make check from a
#                 fresh clone with an empty cache (kernel fetched and built)
#   make compat   upstream's own iommu selftests against C iommufd.ko and
#                 this module, side by side
#   make fuzz     the differential fuzzer: random call sequences against
#                 C iommufd.ko and this module, compared call by call
#                 (FUZZ_SEED, FUZZ_OPS, FUZZ_SECONDS)
#   make bench    the IOPF benchmark: C iommufd.ko and this module side by
#                 side on the non-debug bench kernel (not a test)
#   make modules  the module and selftests (and the test kernel if the
#                 cache lacks it), or against your own tree with KDIR=
#   make rustfmt  format the Rust sources
#   make htmldocs Documentation/ as HTML (Sphinx, warnings are errors)
#   make rustdoc  the crate's rustdoc (warnings and missing docs are errors)
#   make clean
#
# Both run and check install their own prerequisites (Debian packages,
# bindgen, virtme-ng) and the test kernel, which is cached outside the
# repository (~/.cache/rust-iommufd). KDIR=/path/to/built/tree uses your
# own Rust-enabled kernel; KVM=1 boots with KVM instead of TCG.

TESTENV := tools/testenv
SELFTESTS := tools/testing/selftests/iommufd_rust

.PHONY: all modules run check check-cold compat fuzz bench rustfmt clean kernel deps htmldocs rustdoc
all: modules

modules:
	@$(TESTENV)/build.sh >/dev/null

run:
	@$(TESTENV)/run.sh

check:
	@$(TESTENV)/check.sh

check-cold:
	@$(TESTENV)/check-cold.sh

compat:
	@$(TESTENV)/compat.sh

bench:
	@tools/bench/bench.sh

fuzz:
	@tools/fuzz/fuzz.sh

kernel:
	@$(TESTENV)/kernel.sh

deps:
	@$(TESTENV)/deps.sh

htmldocs:
	@$(TESTENV)/htmldocs.sh

rustdoc:
	@$(TESTENV)/rustdoc.sh

rustfmt:
	@src=$$($(TESTENV)/kernel.sh --source-only) && \
	 /usr/bin/rustfmt --edition 2021 --config-path $$src/.rustfmt.toml rust/rust_iommufd.rs

clean:
	@rm -f rust_iommufd.ko *.o *.mod *.mod.c modules.order Module.symvers .*.cmd
	@rm -f rust/*.o rust/.*.cmd rust/*.rmeta rust/uapi_generated.rs
	@$(MAKE) -s -C $(SELFTESTS) clean
	@$(MAKE) -s -C tools/demo clean
	@$(MAKE) -s -C tools/bench clean
	@$(MAKE) -s -C tools/fuzz clean
	@rm -rf Documentation/output tools/rust-example/target
