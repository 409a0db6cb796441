#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Checks that the crate's module dependencies point down the layers of
# Documentation/design.rst ("Layers"): every `crate::` path in rust/
# (use trees and inline paths, comments stripped) must name a module that
# the file's layer may import. Prints one line per violation and exits 1 if
# there is any; the known ones still to be removed are listed in KNOWN
# below, and a KNOWN entry that no longer occurs fails too, so the list
# only shrinks. Runs on the host, needs only python3.
#
#   tools/testenv/layers.sh [REPO]
set -eu
REPO=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
exec python3 - "$REPO/rust" <<'EOF'
import os
import re
import sys

root = sys.argv[1]

# Each group of modules, lowest first, and what it may import besides
# itself. `root` is the crate root (rust_iommufd.rs): its items
# (`LocalModule`, `mock_iommu`) count as the top.
LAYERS = {
    "counters": set(),
    "uapi": set(),
    "sys": {"counters", "root:LocalModule"},
    "core": {"counters", "uapi", "sys"},
    "objects": {"counters", "uapi", "sys", "core"},
    "mock": {"counters", "uapi", "sys"},
    "selftest": {"counters", "uapi", "sys", "core", "objects", "mock"},
    "root": None,  # anything
}
GROUP = {
    "counters": "counters",
    "uapi": "uapi",
    "sys": "sys",
    "ucmd": "core",
    "object": "core",
    "context": "core",
    "mmap": "core",
    "ioas": "objects",
    "access": "objects",
    "device": "objects",
    "hwpt": "objects",
    "fault": "objects",
    "eventq": "objects",
    "viommu": "objects",
    "hw_queue": "objects",
    "vdevice": "objects",
    "veventq": "objects",
    "vfio": "objects",
    "mock": "mock",
    "selftest": "selftest",
    "rust_iommufd": "root",
}

# Imports that break the rule today, each with what removing it takes.
# Remove an entry when its import goes; the list only shrinks.
KNOWN = set()


def strip_comments(text):
    # Line comments only; the crate has no block comments in code.
    return re.sub(r"//[^\n]*", "", text)


def use_tree_heads(tree):
    """First segments of the paths in a use tree such as `{a::b, c}`."""
    tree = tree.strip()
    if not tree.startswith("{"):
        return [re.match(r"\w+|\*", tree).group(0)]
    heads, depth, item = [], 0, ""
    for ch in tree[1:-1] + ",":
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            if item.strip():
                heads += use_tree_heads(item)
            item = ""
        else:
            item += ch
    return heads


def crate_refs(text):
    refs = set()
    for m in re.finditer(r"\bcrate::(\{|\w+)", text):
        if m.group(1) == "{":
            start, depth = m.end() - 1, 0
            for i in range(start, len(text)):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                if depth == 0:
                    refs.update(use_tree_heads(text[start:i + 1]))
                    break
        else:
            refs.add(m.group(1))
    return refs


def module_of(path):
    rel = os.path.relpath(path, root)
    return rel.split(os.sep)[0].removesuffix(".rs")


seen, bad = set(), []
for dirpath, _, files in os.walk(root):
    for name in sorted(files):
        # Build output (bindgen's uapi_generated.rs) is not ours.
        if not name.endswith(".rs") or name.endswith("_generated.rs"):
            continue
        path = os.path.join(dirpath, name)
        src = module_of(path)
        group = GROUP.get(src)
        if group is None:
            bad.append(f"{path}: module {src} has no layer in layers.sh")
            continue
        allowed = LAYERS[group]
        with open(path) as f:
            refs = crate_refs(strip_comments(f.read()))
        for ref in sorted(refs):
            if ref in GROUP:
                dst, dst_group = ref, GROUP[ref]
            else:
                dst, dst_group = f"root:{ref}", f"root:{ref}"
            if dst == src or allowed is None or dst_group == group:
                continue
            if dst_group in allowed:
                continue
            if (src, dst) in KNOWN:
                seen.add((src, dst))
                continue
            bad.append(f"{os.path.relpath(path, os.path.dirname(root))}: "
                       f"{group} layer imports {dst} ({dst_group})")

for src, dst in sorted(KNOWN - seen):
    bad.append(f"layers.sh: known exception {src} -> {dst} is gone; "
               "remove it from KNOWN")
for line in bad:
    print(line)
if bad:
    sys.exit(1)
print(f"layers: ok ({len(KNOWN)} known exceptions left)")
EOF
