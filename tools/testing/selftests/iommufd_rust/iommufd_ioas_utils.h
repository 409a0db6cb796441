/* SPDX-License-Identifier: GPL-2.0 */
/*
 * IOAS memory helpers: IOMMU_IOAS_MAP, IOMMU_IOAS_COPY, IOMMU_IOAS_UNMAP
 * and IOMMU_TEST_OP_MD_CHECK_MAP, the pins of the caller's memory
 * (MD_CHECK_REFS) and its VmPin, for the programs that map.
 */
#ifndef __IOMMUFD_RUST_IOAS_UTILS_H
#define __IOMMUFD_RUST_IOAS_UTILS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iommufd_mock_utils.h"

#define RW (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)
#define FIXED (IOMMU_IOAS_MAP_FIXED_IOVA | RW)

static inline int ioas_map(int fd, __u32 ioas_id, void *va, __u64 length,
			   __u64 *iova, __u32 flags)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.ioas_id = ioas_id,
		.user_va = PTR_U64(va),
		.length = length,
		.iova = iova ? *iova : 0,
	};
	int ret;

	ret = ioctl(fd, IOMMU_IOAS_MAP, &cmd);
	if (!ret && iova)
		*iova = cmd.iova;
	return ret;
}

static inline int ioas_copy(int fd, __u32 dst_id, __u32 src_id, __u64 src_iova,
			    __u64 length, __u64 *dst_iova, __u32 flags)
{
	struct iommu_ioas_copy cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dst_ioas_id = dst_id,
		.src_ioas_id = src_id,
		.length = length,
		.dst_iova = dst_iova ? *dst_iova : 0,
		.src_iova = src_iova,
	};
	int ret;

	ret = ioctl(fd, IOMMU_IOAS_COPY, &cmd);
	if (!ret && dst_iova)
		*dst_iova = cmd.dst_iova;
	return ret;
}

static inline int ioas_unmap(int fd, __u32 ioas_id, __u64 iova, __u64 length,
			     __u64 *unmapped)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.iova = iova,
		.length = length,
	};
	int ret;

	ret = ioctl(fd, IOMMU_IOAS_UNMAP, &cmd);
	if (!ret && unmapped)
		*unmapped = cmd.length;
	return ret;
}

static inline int check_map(int fd, __u32 hwpt_id, __u64 iova, __u64 length,
			    void *uptr)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_MD_CHECK_MAP, hwpt_id);
	cmd.check_map.iova = iova;
	cmd.check_map.length = length;
	cmd.check_map.uptr = PTR_U64(uptr);
	return test_cmd(fd, &cmd);
}

/*
 * The DMA pins each page of [uptr, uptr + length) carries, if they all
 * carry the same number up to @max; -1 otherwise.
 */
static inline int pins_of(int fd, void *uptr, __u64 length, int max)
{
	for (int refs = 0; refs <= max; refs++)
		if (!check_refs(fd, uptr, length, refs))
			return refs;
	return -1;
}

/* A "Vm...:" line of /proc/@pid/status, in kB; -1 if there is none. */
static inline long status_kb(pid_t pid, const char *tag)
{
	char path[64], line[256];
	size_t len = strlen(tag);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, tag, len) && line[len] == ':') {
			kb = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/* VmPin of this process in kB, or -1. */
static inline long vm_pin_kb(void)
{
	return status_kb(getpid(), "VmPin");
}

#endif /* __IOMMUFD_RUST_IOAS_UTILS_H */
