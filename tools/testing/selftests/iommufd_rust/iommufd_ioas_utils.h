/* SPDX-License-Identifier: GPL-2.0 */
/*
 * IOAS memory helpers: IOMMU_IOAS_MAP, IOMMU_IOAS_COPY, IOMMU_IOAS_UNMAP
 * and IOMMU_TEST_OP_MD_CHECK_MAP, for the programs that map.
 */
#ifndef __IOMMUFD_RUST_IOAS_UTILS_H
#define __IOMMUFD_RUST_IOAS_UTILS_H

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

#endif /* __IOMMUFD_RUST_IOAS_UTILS_H */
