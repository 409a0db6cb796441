#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Generate the uAPI conformance checks (run by uapi_conformance.sh).

    uapi_conformance.py --clang CLANG --ours DIR --upstream DIR --out DIR \
        HEADER...

Both DIRs are include directories holding every HEADER (linux/iommufd.h,
...). What to check comes from the headers in --ours, read with clang's
JSON AST dump (records, fields, enums) and its -dD preprocessor output
(object-like macros); --upstream is read the same way only to know what
upstream declares. Writes into --out:

  checks.c  one table of (group, what, value) entries, compiled once
            against each DIR; only names both sides declare appear in it
  groups.h  one TAP case per group: its name, whether it is a SKIP, and
            the differences found here already (names missing on a side)
"""
import argparse
import functools
import json
import os
import re
import subprocess
import sys

# Names in our headers that upstream lacks on purpose. A name absent
# upstream is a failure unless it matches one of these; a match is
# reported as "SKIP project extension". A pattern is searched for in a
# constant's or macro's name ("IOMMU_FOO"), a record's ("struct foo"), a
# named enum's ("enum foo") or a field's ("foo.bar", "foo.bar.baz").
ALLOWLIST = [
    # This module's own IOMMU_TEST_CMD ops, numbered from 0x1000.
    r'_RUST_',
    # The iommu_test_cmd union members carrying those ops' arguments.
    r'^iommu_test_cmd\.(trigger_iopf_group|iopf_response|dma)$',
    # Limits and a response code only those ops use.
    r'^MOCK_IOPF_(GROUP_MAX|GRPID_NUM|RESP_FAILURE)$',
    # The mock DMA op's flags and limits.
    r'^MOCK_DMA_',
]


def allowed(name):
    return any(re.search(p, name) for p in ALLOWLIST)


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if p.returncode:
        sys.stderr.write(p.stderr)
        sys.exit('failed: ' + ' '.join(cmd))
    return p.stdout


class Field:
    def __init__(self, path, kind, bitfield=False):
        self.path, self.kind, self.bitfield = path, kind, bitfield


def type_kind(t):
    """What a field's type allows a check to do with it."""
    qt = t.get('desugaredQualType', t['qualType'])
    if qt.endswith('[]'):
        return 'flexible array'     # no sizeof
    if re.search(r'\[\d+\]$', qt):
        return 'array'
    if qt.startswith(('struct ', 'union ')):
        return 'record'
    if '*' in qt or '(' in qt:
        return 'pointer'
    return 'scalar'                 # an integer: signedness is checkable


def record_fields(rec, prefix=''):
    """Fields of a record, flattened to paths usable in offsetof()."""
    out = []
    nested = None
    for n in rec.get('inner', []):
        if n['kind'] == 'RecordDecl':
            # The definition comes right before the field(s) of its type.
            nested = n
        elif n['kind'] == 'FieldDecl':
            qt = n['type']['qualType']
            inline = nested is not None and ('(anonymous' in qt or
                                             '(unnamed' in qt)
            if inline and n.get('isImplicit'):
                # Anonymous struct/union: its members belong to ours.
                out += record_fields(nested, prefix)
            elif inline:
                path = prefix + n['name']
                out.append(Field(path, 'record'))
                out += record_fields(nested, path + '.')
            else:
                out.append(Field(prefix + n['name'], type_kind(n['type']),
                                 n.get('isBitfield', False)))
    return out


# Written before the headers in every translation unit: what
# headers_install strips (__user) and what only the kernel's own
# <linux/stddef.h> defines (__counted_by), for upstream's <linux/vfio.h>
# read against the system's <linux/types.h>.
PRELUDE = ('#define __user\n'
           '#ifndef __counted_by\n#define __counted_by(m)\n#endif\n')


class Headers:
    """What one include directory's HEADERs declare."""

    def __init__(self, clang, incdir, headers, workdir, tag):
        self.clang, self.incdir = clang, incdir
        self.headers, self.workdir, self.tag = headers, workdir, tag
        # Files are told apart by real path: the include dirs hold symlinks.
        self.files = {os.path.realpath(os.path.join(incdir, h)): i
                      for i, h in enumerate(headers)}
        self.tu = os.path.join(workdir, 'decls-%s.c' % tag)
        with open(self.tu, 'w') as f:
            f.write(PRELUDE)
            f.writelines('#include <%s>\n' % h for h in headers)
        self.records = {}   # "struct foo": (where, [Field])
        self.enums = []     # (where, tag or None, [constant names])
        self.macros = {}    # name: (where, body)
        self.read_ast()
        self.read_macros()
        self.names = set(self.macros)
        for _, _, consts in self.enums:
            self.names.update(consts)
        self.enum_tags = {t for _, t, _ in self.enums if t}

    @functools.lru_cache(maxsize=None)
    def which(self, path):
        return self.files.get(os.path.realpath(path)) if path else None

    def read_ast(self):
        ast = json.loads(run([self.clang, '-I', self.incdir, '-fsyntax-only',
                              '-Xclang', '-ast-dump=json', self.tu]))
        # The dump leaves out a location's file and line when they equal
        # the previous location's, in document order; replay that order.
        state = {'file': None, 'line': 0}

        def walk(node):
            if isinstance(node, list):
                for n in node:
                    walk(n)
            elif isinstance(node, dict):
                if 'offset' in node:
                    state['file'] = node.get('file', state['file'])
                    state['line'] = node.get('line', state['line'])
                for k, v in list(node.items()):
                    if k != 'includedFrom':
                        walk(v)
                    if k == 'loc':
                        node['_where'] = (self.which(state['file']),
                                          state['line'])
        walk(ast)
        for n in ast['inner']:
            where = n.get('_where', (None, 0))
            if where[0] is None:
                continue
            if n['kind'] == 'RecordDecl' and n.get('completeDefinition') \
                    and n.get('name'):
                key = '%s %s' % (n['tagUsed'], n['name'])
                self.records[key] = (where, record_fields(n))
            elif n['kind'] == 'EnumDecl':
                consts = [c['name'] for c in n.get('inner', [])
                          if c['kind'] == 'EnumConstantDecl']
                self.enums.append((where, n.get('name'), consts))

    def read_macros(self):
        out = run([self.clang, '-I', self.incdir, '-E', '-dD', self.tu])
        where_file, line = None, 0
        for text in out.splitlines():
            m = re.match(r'# (\d+) "(.*)"', text)
            if m:
                where_file, line = self.which(m.group(2)), int(m.group(1))
                continue
            m = re.match(r'#define ([A-Za-z_]\w*)(\(?)\s*(.*)', text)
            # Function-like macros are not values; an empty body is an
            # include guard or a marker, nothing to compare.
            if where_file is not None and m and not m.group(2) \
                    and m.group(3).strip():
                self.macros[m.group(1)] = ((where_file, line), m.group(3))
            elif where_file is not None and text.startswith('#undef '):
                self.macros.pop(text.split()[1], None)
            line += 1

    def integer_constants(self, names):
        """The names among @names that are integer constant expressions."""
        def probe(subset):
            path = os.path.join(self.workdir, 'ice-%s.c' % self.tag)
            with open(path, 'w') as f:
                f.write(PRELUDE)
                f.writelines('#include <%s>\n' % h for h in self.headers)
                for name in subset:
                    f.write('_Static_assert((unsigned long long)(%s) == '
                            '(unsigned long long)(%s), "");\n' % (name, name))
            return subprocess.run(
                [self.clang, '-I', self.incdir, '-fsyntax-only',
                 '-Werror=gnu-folding-constant', path],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            ).returncode == 0
        names = sorted(names)
        # One compile in the usual case; one per name only to find culprits.
        if probe(names):
            return set(names)
        return {n for n in names if probe([n])}


def topmost(paths):
    """@paths without those inside another one of @paths."""
    return [p for p in paths
            if not any(p.startswith(q + '.') for q in paths)]


class Generator:
    def __init__(self, ours, up):
        self.ours, self.up = ours, up
        self.groups = []    # [name, skip, [problems]]
        self.entries = []   # (group index, what, C expression)
        self.notes = []     # TAP comments printed before the first case

    def group(self, name, skip=False, problems=None):
        self.groups.append([name, skip, problems or []])
        return len(self.groups) - 1

    def entry(self, g, what, expr):
        self.entries.append((g, what, expr))

    def skip(self, name):
        self.group(name, skip=True)

    def record(self, key, fields):
        bare = key.split(' ', 1)[1]
        if key not in self.up.records:
            if allowed(key):
                self.skip(key)
            else:
                self.group(key, problems=['not declared upstream'])
            return
        up_fields = {f.path: f for f in self.up.records[key][1]}
        g = self.group(key)
        problems = self.groups[g][2]
        self.entry(g, 'sizeof(%s)' % key, 'sizeof(%s)' % key)
        self.entry(g, '_Alignof(%s)' % key, '_Alignof(%s)' % key)
        extensions = []
        for f in fields:
            u = up_fields.get(f.path)
            name = '%s.%s' % (bare, f.path)
            if u is None:
                extensions.append(f.path)
                continue
            if f.bitfield or u.bitfield:
                problems.append('%s: bit-fields are not checked' % name)
                continue
            member = '((%s *)0)->%s' % (key, f.path)
            self.entry(g, name + ' offset',
                       'offsetof(%s, %s)' % (key, f.path))
            if f.kind != u.kind:
                problems.append('%s: %s here, %s upstream'
                                % (name, f.kind, u.kind))
                continue
            if f.kind != 'flexible array':
                self.entry(g, name + ' size', 'sizeof(%s)' % member)
            if f.kind.endswith('array'):
                self.entry(g, name + ' element size',
                           'sizeof(%s[0])' % member)
            if f.kind == 'scalar':
                self.entry(g, name + ' is signed',
                           '(__typeof__(%s))-1 < 0' % member)
        for path in topmost(extensions):
            name = '%s.%s' % (bare, path)
            if allowed(name):
                self.skip(name)
            else:
                problems.append('%s: not in upstream\'s %s' % (name, key))
        ours_paths = {f.path for f in fields}
        for path in topmost([p for p in up_fields if p not in ours_paths]):
            problems.append('%s.%s: upstream has it, ours does not'
                            % (bare, path))

    def enum(self, tag, consts):
        if tag:
            name = 'enum ' + tag
        elif len(consts) > 1:
            name = 'anonymous enum %s..%s' % (consts[0], consts[-1])
        else:
            name = 'anonymous enum %s' % (consts[0] if consts else '')
        shared = [c for c in consts if c in self.up.names]
        extra = [c for c in consts if c not in self.up.names]
        # A tag upstream lacks passes only when the whole enum is ours.
        tag_missing = tag and tag not in self.up.enum_tags
        if not shared and all(allowed(c) for c in extra) and \
                (not tag_missing or allowed(name)):
            self.skip(name)
            return
        g = self.group(name)
        problems = self.groups[g][2]
        if tag_missing:
            problems.append('%s: not declared upstream' % name)
        elif tag:
            self.entry(g, 'sizeof(enum %s)' % tag, 'sizeof(enum %s)' % tag)
        for c in shared:
            self.value(g, c)
        for c in extra:
            if allowed(c):
                self.skip('enum constant ' + c)
            else:
                problems.append('%s: not declared upstream' % c)

    def macro(self, name):
        if name not in self.up.names:
            if allowed(name):
                self.skip('macro ' + name)
            else:
                self.group('macro ' + name,
                           problems=['not declared upstream'])
            return
        self.value(self.group('macro ' + name), name)

    def value(self, g, name):
        if name in self.up_not_ice:
            self.groups[g][2].append('%s: upstream\'s is not an integer '
                                     'constant expression' % name)
        else:
            self.entry(g, name, name)

    def generate(self):
        ours, up = self.ours, self.up
        ice = ours.integer_constants(ours.macros)
        for name in sorted(set(ours.macros) - ice):
            self.notes.append('not compared (not an integer constant '
                              'expression): ' + name)
        # Every name we compare that upstream defines as a macro must give
        # upstream's translation unit an integer constant too.
        compared = ice | {c for _, _, cs in ours.enums for c in cs}
        up_macros = compared & set(up.macros)
        self.up_not_ice = up_macros - up.integer_constants(up_macros)
        # One list in the headers' order, so TAP reads like the headers.
        items = [(w, 'record', (k, f)) for k, (w, f) in ours.records.items()]
        items += [(w, 'enum', (t, c)) for w, t, c in ours.enums]
        items += [(ours.macros[n][0], 'macro', (n,)) for n in ice]
        items.sort(key=lambda i: i[0])
        for _, kind, args in items:
            getattr(self, kind)(*args)

    def write(self, out, headers):
        with open(os.path.join(out, 'checks.c'), 'w') as f:
            f.write('/* Generated by uapi_conformance.py; compiled once '
                    'per side. */\n#include <stddef.h>\n')
            f.write(PRELUDE)
            f.writelines('#include <%s>\n' % h for h in headers)
            f.write('#include "uapi_conformance.h"\n\n'
                    'const struct uc_entry UC_TABLE[] = {\n')
            for g, what, expr in self.entries:
                f.write('\t{ %d, %s, (unsigned long long)(%s) },\n'
                        % (g, json.dumps(what), expr))
            f.write('\t{ UC_END, NULL, 0 },\n};\n')
        with open(os.path.join(out, 'groups.h'), 'w') as f:
            f.write('/* Generated by uapi_conformance.py. */\n'
                    'static const struct uc_group uc_groups[] = {\n')
            for name, skip, problems in self.groups:
                text = json.dumps('\n'.join(problems)) if problems else 'NULL'
                f.write('\t{ %s, %d, %s },\n'
                        % (json.dumps(name), skip, text))
            f.write('};\n\nstatic const char *const uc_notes[] = {\n')
            f.writelines('\t%s,\n' % json.dumps(n) for n in self.notes)
            f.write('\tNULL,\n};\n')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--clang', required=True)
    ap.add_argument('--ours', required=True)
    ap.add_argument('--upstream', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('headers', nargs='+')
    a = ap.parse_args()
    ours = Headers(a.clang, a.ours, a.headers, a.out, 'ours')
    up = Headers(a.clang, a.upstream, a.headers, a.out, 'upstream')
    if not ours.records and not ours.enums and not ours.macros:
        sys.exit('nothing found to check in ' + a.ours)
    gen = Generator(ours, up)
    gen.generate()
    gen.write(a.out, a.headers)


if __name__ == '__main__':
    main()
