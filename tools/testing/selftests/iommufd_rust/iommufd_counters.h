/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rust_iommufd's debugfs counters (/sys/kernel/debug/rust_iommufd/): what
 * every open file of the module holds. Each must be back to zero once the
 * test closed all its files. The C iommufd.ko has no such directory; then
 * counters_available() is false and the checks are left out.
 */
#ifndef __IOMMUFD_RUST_COUNTERS_H
#define __IOMMUFD_RUST_COUNTERS_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define COUNTERS_DIR "/sys/kernel/debug/rust_iommufd"

struct counters {
	long objects;		/* objects of every kind in memory */
	long groups_queued;	/* fault groups queued, not read */
	long groups_delivered;	/* fault groups read, not answered */
	long groups_owned;	/* fault groups taken from the core, not answered */
	long pages_pinned;	/* user pages pinned for DMA */
};

static inline bool counters_available(void)
{
	return access(COUNTERS_DIR "/objects", R_OK) == 0;
}

/* The number a sysfs or debugfs file holds, or -1. */
static inline long long file_number(const char *path)
{
	long long value = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fscanf(f, "%lld", &value) != 1)
		value = -1;
	fclose(f);
	return value;
}

static inline long counter_read(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), COUNTERS_DIR "/%s", name);
	return file_number(path);
}

/* Reads them all; false if any could not be read. */
static inline bool counters_read(struct counters *c)
{
	c->objects = counter_read("objects");
	c->groups_queued = counter_read("groups_queued");
	c->groups_delivered = counter_read("groups_delivered");
	c->groups_owned = counter_read("groups_owned");
	c->pages_pinned = counter_read("pages_pinned");
	return c->objects >= 0 && c->groups_queued >= 0 &&
	       c->groups_delivered >= 0 && c->groups_owned >= 0 &&
	       c->pages_pinned >= 0;
}

static inline bool counters_zero(const struct counters *c)
{
	return !c->objects && !c->groups_queued && !c->groups_delivered &&
	       !c->groups_owned && !c->pages_pinned;
}

/*
 * Waits up to a second for every counter to reach zero (a file's release
 * can finish just after close() returns, e.g. on another CPU's fput) and
 * leaves the last reading in *c. True when all are zero.
 */
static inline bool counters_settle_to_zero(struct counters *c)
{
	for (int i = 0; i < 100; i++) {
		if (counters_read(c) && counters_zero(c))
			return true;
		usleep(10 * 1000);
	}
	return false;
}

#define COUNTERS_FMT \
	"objects %ld, queued %ld, delivered %ld, owned %ld, pinned %ld"
#define COUNTERS_ARGS(c)                                                 \
	(c).objects, (c).groups_queued, (c).groups_delivered, (c).groups_owned, \
		(c).pages_pinned

#endif /* __IOMMUFD_RUST_COUNTERS_H */
