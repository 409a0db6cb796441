// SPDX-License-Identifier: GPL-2.0
/*
 * Compare the two builds of the generated checks, entry by entry, and print
 * one TAP case per group (a record, an enum, a macro, an extension).
 * Built by uapi_conformance.sh with its generated groups.h.
 */
#include <stdio.h>
#include <string.h>

#include "uapi_conformance.h"
#include "groups.h"

/* checks.c built against our headers, and against upstream's. */
extern const struct uc_entry uc_ours[], uc_upstream[];

#define N_GROUPS (sizeof(uc_groups) / sizeof(uc_groups[0]))

/* Print each line of @text as a TAP comment. */
static void comment_lines(const char *text)
{
	while (*text) {
		size_t len = strcspn(text, "\n");

		printf("# %.*s\n", (int)len, text);
		text += len + (text[len] == '\n');
	}
}

/*
 * Both tables come from one source: same entries in the same order, by
 * group, which main() relies on to walk them once.
 */
static int tables_in_step(void)
{
	const struct uc_entry *o = uc_ours, *u = uc_upstream;
	unsigned int prev = 0;

	for (; o->group != UC_END; prev = o->group, o++, u++) {
		if (u->group != o->group || strcmp(o->what, u->what) ||
		    o->group >= N_GROUPS || o->group < prev)
			return 0;
	}
	return u->group == UC_END;
}

int main(void)
{
	unsigned int pass = 0, fail = 0, skip = 0;
	const struct uc_entry *o = uc_ours, *u = uc_upstream;
	unsigned int g;

	printf("TAP version 13\n");
	if (!tables_in_step()) {
		printf("1..1\nnot ok 1 uapi conformance: the two builds of "
		       "checks.c differ\n");
		return 1;
	}
	printf("1..%zu\n", N_GROUPS);
	for (g = 0; uc_notes[g]; g++)
		printf("# %s\n", uc_notes[g]);

	for (g = 0; g < N_GROUPS; g++) {
		const struct uc_group *grp = &uc_groups[g];
		int bad = 0;

		if (grp->problems) {
			comment_lines(grp->problems);
			bad = 1;
		}
		for (; o->group == g; o++, u++) {
			if (o->value == u->value)
				continue;
			printf("# %s: ours %llu (%#llx), upstream %llu (%#llx)\n",
			       o->what, o->value, o->value, u->value, u->value);
			bad = 1;
		}
		if (grp->skip) {
			printf("ok %u %s # SKIP project extension\n", g + 1,
			       grp->name);
			skip++;
		} else {
			printf("%sok %u %s\n", bad ? "not " : "", g + 1,
			       grp->name);
			if (bad)
				fail++;
			else
				pass++;
		}
	}
	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0\n",
	       pass, fail, skip);
	return fail ? 1 : 0;
}
