/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the tests that drive the mock IOMMU through IOMMU_TEST_CMD:
 * mock devices, HWPTs, vIOMMUs, PASIDs and the checks the mock driver offers.
 *
 * Like iommufd_utils.h, every helper returns what ioctl() returned (0, or -1
 * with errno set) and only stores outputs when the call succeeded. Output
 * pointers may be NULL when the caller does not need the value.
 */
#ifndef __IOMMUFD_RUST_MOCK_UTILS_H
#define __IOMMUFD_RUST_MOCK_UTILS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <linux/iommufd_test.h>

#include "iommufd_utils.h"

/* A user pointer as the __u64 the uAPI structures carry. */
#define PTR_U64(p) ((__u64)(uintptr_t)(p))

static inline void test_cmd_init(struct iommu_test_cmd *cmd, __u32 op,
				 __u32 id)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->size = sizeof(*cmd);
	cmd->op = op;
	cmd->id = id;
}

static inline int test_cmd(int fd, struct iommu_test_cmd *cmd)
{
	return ioctl(fd, IOMMU_TEST_CMD, cmd);
}

/* IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS: new mock device attached to @pt_id. */
static inline int mock_domain_flags(int fd, __u32 pt_id, __u32 dev_flags,
				    __u32 *stdev_id, __u32 *hwpt_id,
				    __u32 *idev_id)
{
	struct iommu_test_cmd cmd;
	int ret;

	test_cmd_init(&cmd, IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, pt_id);
	cmd.mock_domain_flags.dev_flags = dev_flags;
	ret = test_cmd(fd, &cmd);
	if (ret)
		return ret;
	if (stdev_id)
		*stdev_id = cmd.mock_domain_flags.out_stdev_id;
	if (hwpt_id)
		*hwpt_id = cmd.mock_domain_flags.out_hwpt_id;
	if (idev_id)
		*idev_id = cmd.mock_domain_flags.out_idev_id;
	return 0;
}

/* IOMMU_TEST_OP_MOCK_DOMAIN: the same without device flags. */
static inline int mock_domain(int fd, __u32 pt_id, __u32 *stdev_id,
			      __u32 *hwpt_id, __u32 *idev_id)
{
	struct iommu_test_cmd cmd;
	int ret;

	test_cmd_init(&cmd, IOMMU_TEST_OP_MOCK_DOMAIN, pt_id);
	ret = test_cmd(fd, &cmd);
	if (ret)
		return ret;
	if (stdev_id)
		*stdev_id = cmd.mock_domain.out_stdev_id;
	if (hwpt_id)
		*hwpt_id = cmd.mock_domain.out_hwpt_id;
	if (idev_id)
		*idev_id = cmd.mock_domain.out_idev_id;
	return 0;
}

/*
 * IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: moves selftest device @stdev_id to
 * @pt_id; *out_hwpt_id gets the HWPT it ends up on.
 */
static inline int mock_domain_replace(int fd, __u32 stdev_id, __u32 pt_id,
				      __u32 *out_hwpt_id)
{
	struct iommu_test_cmd cmd;
	int ret;

	test_cmd_init(&cmd, IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, stdev_id);
	cmd.mock_domain_replace.pt_id = pt_id;
	ret = test_cmd(fd, &cmd);
	if (!ret && out_hwpt_id)
		*out_hwpt_id = cmd.mock_domain_replace.pt_id;
	return ret;
}

static inline int set_temp_memory_limit(int fd, __u32 limit)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT, 0);
	cmd.memory_limit.limit = limit;
	return test_cmd(fd, &cmd);
}

/* The limit the mock driver starts with; tests that change it restore it. */
#define DEFAULT_TEMP_MEMORY_LIMIT 65536

/* IOMMU_TEST_OP_MD_CHECK_IOTLB on slot @slot of nested HWPT @hwpt_id. */
static inline int check_iotlb(int fd, __u32 hwpt_id, __u32 slot, __u32 value)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_MD_CHECK_IOTLB, hwpt_id);
	cmd.check_iotlb.id = slot;
	cmd.check_iotlb.iotlb = value;
	return test_cmd(fd, &cmd);
}

/* 0 if every IOTLB slot of @hwpt_id holds @value, else the first failure. */
static inline int check_iotlb_all(int fd, __u32 hwpt_id, __u32 value)
{
	__u32 i;
	int ret;

	for (i = 0; i < MOCK_NESTED_DOMAIN_IOTLB_NUM; i++) {
		ret = check_iotlb(fd, hwpt_id, i, value);
		if (ret)
			return ret;
	}
	return 0;
}

/* IOMMU_TEST_OP_DEV_CHECK_CACHE on slot @slot of device @idev_id. */
static inline int check_dev_cache(int fd, __u32 idev_id, __u32 slot,
				  __u32 value)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_DEV_CHECK_CACHE, idev_id);
	cmd.check_dev_cache.id = slot;
	cmd.check_dev_cache.cache = value;
	return test_cmd(fd, &cmd);
}

static inline int trigger_iopf(int fd, __u32 idev_id, __u32 pasid)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_TRIGGER_IOPF, 0);
	cmd.trigger_iopf.dev_id = idev_id;
	cmd.trigger_iopf.pasid = pasid;
	cmd.trigger_iopf.grpid = 0x7;
	cmd.trigger_iopf.perm = 0x3;
	cmd.trigger_iopf.addr = 0x12345000;
	return test_cmd(fd, &cmd);
}

static inline int pasid_attach(int fd, __u32 stdev_id, __u32 pasid,
			       __u32 pt_id)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_PASID_ATTACH, stdev_id);
	cmd.pasid_attach.pasid = pasid;
	cmd.pasid_attach.pt_id = pt_id;
	return test_cmd(fd, &cmd);
}

static inline int pasid_replace(int fd, __u32 stdev_id, __u32 pasid,
				__u32 pt_id)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_PASID_REPLACE, stdev_id);
	cmd.pasid_replace.pasid = pasid;
	cmd.pasid_replace.pt_id = pt_id;
	return test_cmd(fd, &cmd);
}

static inline int pasid_detach(int fd, __u32 stdev_id, __u32 pasid)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_PASID_DETACH, stdev_id);
	cmd.pasid_detach.pasid = pasid;
	return test_cmd(fd, &cmd);
}

/* 0 when @pasid is attached to @hwpt_id (0: when nothing is attached). */
static inline int pasid_check(int fd, __u32 stdev_id, __u32 pasid,
			      __u32 hwpt_id)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_PASID_CHECK_HWPT, stdev_id);
	cmd.pasid_check.pasid = pasid;
	cmd.pasid_check.hwpt_id = hwpt_id;
	return test_cmd(fd, &cmd);
}

/* IOMMU_HWPT_ALLOC with every input field under the caller's control. */
static inline int hwpt_alloc_data(int fd, __u32 dev_id, __u32 pt_id,
				  __u32 flags, __u32 data_type,
				  const void *data, __u32 data_len,
				  __u32 *out_hwpt_id)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = pt_id,
		.data_type = data_type,
		.data_len = data_len,
		.data_uptr = PTR_U64(data),
	};
	int ret;

	ret = ioctl(fd, IOMMU_HWPT_ALLOC, &cmd);
	if (!ret && out_hwpt_id)
		*out_hwpt_id = cmd.out_hwpt_id;
	return ret;
}

/* Paging HWPT on IOAS @ioas_id, no driver data. */
static inline int hwpt_alloc(int fd, __u32 dev_id, __u32 ioas_id, __u32 flags,
			     __u32 *out_hwpt_id)
{
	return hwpt_alloc_data(fd, dev_id, ioas_id, flags,
			       IOMMU_HWPT_DATA_NONE, NULL, 0, out_hwpt_id);
}

/* Nested mock HWPT on @pt_id (parent HWPT or vIOMMU) with IOTLB @iotlb. */
static inline int hwpt_alloc_nested(int fd, __u32 dev_id, __u32 pt_id,
				    __u32 flags, __u32 iotlb,
				    __u32 *out_hwpt_id)
{
	struct iommu_hwpt_selftest data = { .iotlb = iotlb };

	return hwpt_alloc_data(fd, dev_id, pt_id, flags,
			       IOMMU_HWPT_DATA_SELFTEST, &data, sizeof(data),
			       out_hwpt_id);
}

/* IOMMU_HWPT_INVALIDATE; *entry_num is in/out as in the uAPI. */
static inline int hwpt_invalidate(int fd, __u32 hwpt_id, __u32 data_type,
				  const void *reqs, __u32 entry_len,
				  __u32 *entry_num)
{
	struct iommu_hwpt_invalidate cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt_id,
		.data_uptr = PTR_U64(reqs),
		.data_type = data_type,
		.entry_len = entry_len,
		.entry_num = *entry_num,
	};
	int ret;

	ret = ioctl(fd, IOMMU_HWPT_INVALIDATE, &cmd);
	*entry_num = cmd.entry_num;
	return ret;
}

/* Invalidation with mock entries; *num is in/out. */
static inline int
hwpt_invalidate_selftest(int fd, __u32 hwpt_id,
			 const struct iommu_hwpt_invalidate_selftest *reqs,
			 __u32 *num)
{
	return hwpt_invalidate(fd, hwpt_id, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
			       reqs, sizeof(*reqs), num);
}

static inline int viommu_alloc(int fd, __u32 dev_id, __u32 hwpt_id,
			       __u32 type, __u32 flags, void *data,
			       __u32 data_len, __u32 *out_viommu_id)
{
	struct iommu_viommu_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.type = type,
		.dev_id = dev_id,
		.hwpt_id = hwpt_id,
		.data_len = data_len,
		.data_uptr = PTR_U64(data),
	};
	int ret;

	ret = ioctl(fd, IOMMU_VIOMMU_ALLOC, &cmd);
	if (!ret && out_viommu_id)
		*out_viommu_id = cmd.out_viommu_id;
	return ret;
}

static inline int vdevice_alloc(int fd, __u32 viommu_id, __u32 dev_id,
				__u64 virt_id, __u32 *out_vdevice_id)
{
	struct iommu_vdevice_alloc cmd = {
		.size = sizeof(cmd),
		.viommu_id = viommu_id,
		.dev_id = dev_id,
		.virt_id = virt_id,
	};
	int ret;

	ret = ioctl(fd, IOMMU_VDEVICE_ALLOC, &cmd);
	if (!ret && out_vdevice_id)
		*out_vdevice_id = cmd.out_vdevice_id;
	return ret;
}

/* vIOMMU invalidation of one device cache entry (or all, with FLAG_ALL). */
static inline int viommu_invalidate_one(int fd, __u32 viommu_id, __u32 flags,
					__u32 vdev_id, __u32 cache_id,
					__u32 *num)
{
	struct iommu_viommu_invalidate_selftest inv = {
		.flags = flags,
		.vdev_id = vdev_id,
		.cache_id = cache_id,
	};

	*num = 1;
	return hwpt_invalidate(fd, viommu_id,
			       IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, &inv,
			       sizeof(inv), num);
}

/* IOMMU_TEST_OP_MD_CHECK_REFS: every page of the range has @refs pins. */
static inline int check_refs(int fd, void *uptr, __u64 length, __u32 refs)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_MD_CHECK_REFS, 0);
	cmd.check_refs.uptr = PTR_U64(uptr);
	cmd.check_refs.length = length;
	cmd.check_refs.refs = refs;
	return test_cmd(fd, &cmd);
}

/*
 * IOMMU_GET_HW_INFO into @data/@data_len; the whole command structure is
 * returned in *info (when not NULL) so the caller can look at every output.
 */
static inline int get_hw_info(int fd, __u32 dev_id, __u32 flags,
			      __u32 in_data_type, void *data, __u32 data_len,
			      struct iommu_hw_info *info)
{
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev_id,
		.data_len = data_len,
		.data_uptr = PTR_U64(data),
		.in_data_type = in_data_type,
	};
	int ret;

	ret = ioctl(fd, IOMMU_GET_HW_INFO, &cmd);
	if (!ret && info)
		*info = cmd;
	return ret;
}

/*
 * True when the device under test belongs to rust_iommufd: its devname
 * parameter names the node IOMMUFD_DEV (or /dev/iommu) points at. Used only
 * to skip cases that pin where this module intentionally differs from
 * upstream's iommufd.ko.
 */
static inline bool testing_rust_iommufd(void)
{
	const char *path = iommufd_dev_path();
	const char *base = strrchr(path, '/');
	char name[64] = "";
	size_t len;
	FILE *f;

	f = fopen("/sys/module/rust_iommufd/parameters/devname", "r");
	if (!f)
		return false;
	if (!fgets(name, sizeof(name), f))
		name[0] = '\0';
	fclose(f);
	len = strlen(name);
	if (len && name[len - 1] == '\n')
		name[len - 1] = '\0';
	return !strcmp(name, base ? base + 1 : path);
}

#endif /* __IOMMUFD_RUST_MOCK_UTILS_H */
