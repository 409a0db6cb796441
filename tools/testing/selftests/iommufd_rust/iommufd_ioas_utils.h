/* SPDX-License-Identifier: GPL-2.0 */
/*
 * IOAS memory helpers: IOMMU_IOAS_MAP, IOMMU_IOAS_MAP_FILE, IOMMU_IOAS_COPY,
 * IOMMU_IOAS_UNMAP, IOMMU_IOAS_CHANGE_PROCESS and
 * IOMMU_TEST_OP_MD_CHECK_MAP, the pins of the caller's memory
 * (MD_CHECK_REFS), its VmPin, CAP_IPC_LOCK, and access objects, for the
 * programs that map.
 */
#ifndef __IOMMUFD_RUST_IOAS_UTILS_H
#define __IOMMUFD_RUST_IOAS_UTILS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include <linux/capability.h>

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

/*
 * IOMMU_IOAS_MAP_FILE of @length bytes of @mfd from byte @start; *iova in
 * with IOMMU_IOAS_MAP_FIXED_IOVA, out always.
 */
static inline int ioas_map_file(int fd, __u32 ioas_id, int mfd, __u64 start,
				__u64 length, __u64 *iova, __u32 flags)
{
	struct iommu_ioas_map_file cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.ioas_id = ioas_id,
		.fd = mfd,
		.start = start,
		.length = length,
		.iova = iova ? *iova : 0,
	};
	int ret;

	ret = ioctl(fd, IOMMU_IOAS_MAP_FILE, &cmd);
	if (!ret && iova)
		*iova = cmd.iova;
	return ret;
}

/* IOMMU_IOAS_CHANGE_PROCESS. */
static inline int change_process(int fd)
{
	struct iommu_ioas_change_process cmd = { .size = sizeof(cmd) };

	return ioctl(fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd);
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

/* Raises or drops @cap in the effective set (raw capget/capset). */
static inline int set_cap(unsigned int cap, bool on)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	if (on)
		data[cap / 32].effective |= 1U << (cap % 32);
	else
		data[cap / 32].effective &= ~(1U << (cap % 32));
	return syscall(SYS_capset, &hdr, data);
}

/*
 * Access objects: IOMMU_TEST_OP_CREATE_ACCESS returns a file descriptor
 * that owns an access on an IOAS; the other access ops name it by that
 * descriptor.
 */
static inline int create_access(int fd, __u32 ioas_id, __u32 flags,
				int *access_fd)
{
	struct iommu_test_cmd cmd;
	int ret;

	test_cmd_init(&cmd, IOMMU_TEST_OP_CREATE_ACCESS, ioas_id);
	cmd.create_access.flags = flags;
	ret = test_cmd(fd, &cmd);
	if (!ret)
		*access_fd = cmd.create_access.out_access_fd;
	return ret;
}

static inline int access_pages(int fd, int access_fd, __u64 iova,
			       __u64 length, void *uptr, __u32 flags,
			       __u32 *pages_id)
{
	struct iommu_test_cmd cmd;
	int ret;

	test_cmd_init(&cmd, IOMMU_TEST_OP_ACCESS_PAGES, access_fd);
	cmd.access_pages.flags = flags;
	cmd.access_pages.iova = iova;
	cmd.access_pages.length = length;
	cmd.access_pages.uptr = PTR_U64(uptr);
	ret = test_cmd(fd, &cmd);
	if (!ret && pages_id)
		*pages_id = cmd.access_pages.out_access_pages_id;
	return ret;
}

static inline int destroy_access_pages(int fd, int access_fd,
				       __u32 pages_id)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, access_fd);
	cmd.destroy_access_pages.access_pages_id = pages_id;
	return test_cmd(fd, &cmd);
}

static inline int access_rw(int fd, int access_fd, __u64 iova, void *buf,
			    __u64 length, __u32 flags)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_ACCESS_RW, access_fd);
	cmd.access_rw.flags = flags;
	cmd.access_rw.iova = iova;
	cmd.access_rw.length = length;
	cmd.access_rw.uptr = PTR_U64(buf);
	return test_cmd(fd, &cmd);
}

#endif /* __IOMMUFD_RUST_IOAS_UTILS_H */
