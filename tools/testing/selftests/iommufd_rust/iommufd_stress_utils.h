/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the stress programs share: how long to run (-s SECONDS or
 * IOMMUFD_STRESS_SECONDS, default 60) and whether a deadline has passed.
 */
#ifndef __IOMMUFD_RUST_STRESS_UTILS_H
#define __IOMMUFD_RUST_STRESS_UTILS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kselftest.h"

static inline bool past(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec ||
	       (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static inline unsigned int seconds_from(const char *arg)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*end || v < 1 || v > 24 * 3600) {
		fprintf(stderr, "bad duration: %s\n", arg);
		exit(KSFT_FAIL);
	}
	return v;
}

/* The run's length from the command line and environment; exits on misuse. */
static inline unsigned int stress_seconds(int argc, char **argv)
{
	const char *env = getenv("IOMMUFD_STRESS_SECONDS");
	unsigned int seconds = env && *env ? seconds_from(env) : 60;
	int opt;

	while ((opt = getopt(argc, argv, "s:")) != -1) {
		if (opt != 's') {
			fprintf(stderr, "usage: %s [-s SECONDS]\n", argv[0]);
			exit(KSFT_FAIL);
		}
		seconds = seconds_from(optarg);
	}
	return seconds;
}

#endif /* __IOMMUFD_RUST_STRESS_UTILS_H */
