/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the rust-iommufd selftests.
 *
 * Every helper that issues an ioctl returns what ioctl() returned (0, or -1
 * with errno set), so tests can check both outcomes with the harness macros.
 */
#ifndef __IOMMUFD_RUST_UTILS_H
#define __IOMMUFD_RUST_UTILS_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>

#include "kselftest_harness.h"

/* Bytes up to and including @member: a structure's first-release size. */
#ifndef offsetofend
#define offsetofend(type, member) \
	(offsetof(type, member) + sizeof(((type *)0)->member))
#endif

/* The device node under test; IOMMUFD_DEV overrides the default. */
static inline const char *iommufd_dev_path(void)
{
	const char *path = getenv("IOMMUFD_DEV");

	return path && *path ? path : "/dev/iommu";
}

static inline int iommufd_open(void)
{
	return open(iommufd_dev_path(), O_RDWR | O_CLOEXEC);
}

/*
 * Fixture setup: opens the device into @fd, skipping the test when the node
 * is missing (module not loaded) and failing it on any other error.
 */
#define IOMMUFD_OPEN_OR_SKIP(fd)					\
	do {								\
		int __err;						\
									\
		(fd) = iommufd_open();					\
		__err = errno;						\
		if ((fd) < 0 && (__err == ENOENT || __err == ENODEV ||	\
				 __err == ENXIO))			\
			SKIP(return, "%s: %s (is the module loaded?)",	\
			     iommufd_dev_path(), strerror(__err));	\
		ASSERT_LE(0, (fd))					\
			TH_LOG("open %s: %s", iommufd_dev_path(),	\
			       strerror(__err));			\
	} while (0)

/* IOMMU_IOAS_ALLOC with flags 0; stores the new id in *id on success. */
static inline int ioas_alloc(int fd, __u32 *id)
{
	struct iommu_ioas_alloc cmd = {
		.size = sizeof(cmd),
	};
	int ret;

	ret = ioctl(fd, IOMMU_IOAS_ALLOC, &cmd);
	if (!ret && id)
		*id = cmd.out_ioas_id;
	return ret;
}

static inline int destroy(int fd, __u32 id)
{
	struct iommu_destroy cmd = {
		.size = sizeof(cmd),
		.id = id,
	};

	return ioctl(fd, IOMMU_DESTROY, &cmd);
}

/*
 * Expects @expr to fail with @expected in errno. errno is sampled right after
 * @expr, before the harness gets a chance to clobber it while reporting.
 */
#define EXPECT_ERRNO(expected, expr)				\
	do {							\
		int __ret, __err;				\
								\
		errno = 0;					\
		__ret = (expr);					\
		__err = errno;					\
		EXPECT_EQ(-1, __ret);				\
		if (__ret == -1)				\
			EXPECT_EQ(expected, __err);		\
	} while (0)

/* EXPECT_ERRNO that also logs a printf-style message when it fails. */
#define EXPECT_ERRNO_LOG(expected, expr, fmt, ...)			\
	do {								\
		int __ret, __err;					\
									\
		errno = 0;						\
		__ret = (expr);						\
		__err = errno;						\
		EXPECT_EQ(-1, __ret) TH_LOG(fmt, ##__VA_ARGS__);	\
		if (__ret == -1)					\
			EXPECT_EQ(expected, __err)			\
				TH_LOG(fmt, ##__VA_ARGS__);		\
	} while (0)

static inline size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/*
 * Maps two adjacent pages, the first read-write and the second with
 * @second_prot, so a test can put a structure right before the boundary and
 * control what the kernel may do with the bytes after it. Returns the start
 * of the mapping, or MAP_FAILED.
 */
static inline void *map_two_pages(int second_prot)
{
	size_t psz = page_size();
	void *p;

	p = mmap(NULL, 2 * psz, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return p;
	if (mprotect((char *)p + psz, psz, second_prot)) {
		munmap(p, 2 * psz);
		return MAP_FAILED;
	}
	return p;
}

static inline void unmap_two_pages(void *p)
{
	munmap(p, 2 * page_size());
}

#endif /* __IOMMUFD_RUST_UTILS_H */
