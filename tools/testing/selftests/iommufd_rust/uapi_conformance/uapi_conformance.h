/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the generated checks (checks.c, built once against our headers
 * and once against upstream's) and the program that compares the two.
 */
#ifndef __UAPI_CONFORMANCE_H
#define __UAPI_CONFORMANCE_H

/* One measured value: a size, an offset, a constant. */
struct uc_entry {
	unsigned int group;	/* index into uc_groups[] */
	const char *what;
	unsigned long long value;
};

/* The group of the entry that ends a table. */
#define UC_END (~0u)

/* One TAP case. */
struct uc_group {
	const char *name;
	int skip;		/* a project extension: nothing to compare */
	const char *problems;	/* found by the generator, one per line */
};

#endif /* __UAPI_CONFORMANCE_H */
