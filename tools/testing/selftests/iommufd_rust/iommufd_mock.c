// SPDX-License-Identifier: GPL-2.0
/*
 * The mock IOMMU of rust-iommufd, driven through IOMMU_TEST_CMD: mock
 * devices and their selftest (stdev) and device (idev) objects, paging and
 * nested HWPTs, IOMMU_HWPT_INVALIDATE, vIOMMUs, IOMMU_GET_HW_INFO, PASID
 * attachment and the lifetime rules that tie these objects together.
 *
 * Expected results follow upstream's iommufd.ko built with
 * CONFIG_IOMMUFD_TEST=y, errno for errno; the suite is run against it too.
 *
 * Every test gets a fresh file whose first object is an IOAS, so ids are
 * predictable: the IOAS is 1, and a first mock device on it gets stdev 2,
 * idev 3 and an automatically created paging HWPT 4.
 */
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "iommufd_mock_utils.h"

#define IOTLB_CUSTOM 0x1234abcd

#define INV_SELFTEST IOMMU_HWPT_INVALIDATE_DATA_SELFTEST
#define INV_SELFTEST_INVALID IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID

/* The shortest driver data the mock driver accepts. */
#define HWPT_DATA_MIN_LEN offsetofend(struct iommu_hwpt_selftest, iotlb)
#define VIOMMU_DATA_MIN_LEN offsetofend(struct iommu_viommu_selftest, out_data)

FIXTURE(mock) {
	int fd;
	__u32 ioas_id;
};

FIXTURE_SETUP(mock)
{
	IOMMUFD_OPEN_OR_SKIP(self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	ASSERT_EQ(1U, self->ioas_id);
}

FIXTURE_TEARDOWN(mock)
{
	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
}

/* The next id the file hands out, found by allocating and freeing an IOAS. */
static __u32 next_free_id(int fd)
{
	__u32 id = 0;

	if (ioas_alloc(fd, &id))
		return 0;
	destroy(fd, id);
	return id;
}

/*
 * A read-only copy of @cmd on a page of its own, so the kernel can read the
 * command but not write the results back. Free with munmap(p, page_size()).
 */
static void *read_only_copy(const void *cmd, size_t len)
{
	void *p;

	p = mmap(NULL, page_size(), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return p;
	memcpy(p, cmd, len);
	if (mprotect(p, page_size(), PROT_READ)) {
		munmap(p, page_size());
		return MAP_FAILED;
	}
	return p;
}

/* IOMMU_TEST_CMD itself */

TEST_F(mock, test_cmd_size_below_offsetofend_last_is_einval)
{
	const __u32 sizes[] = {
		0, sizeof(__u32), offsetof(struct iommu_test_cmd, last),
		offsetofend(struct iommu_test_cmd, last) - 1,
	};
	struct iommu_test_cmd cmd;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		test_cmd_init(&cmd, IOMMU_TEST_OP_MOCK_DOMAIN, self->ioas_id);
		cmd.size = sizes[i];
		EXPECT_ERRNO(EINVAL, test_cmd(self->fd, &cmd));
	}
	/* Nothing was created. */
	EXPECT_EQ(2U, next_free_id(self->fd));
}

/* offsetofend(last) is enough, and the outputs still come back. */
TEST_F(mock, test_cmd_min_size_is_offsetofend_last)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_MOCK_DOMAIN, self->ioas_id);
	cmd.size = offsetofend(struct iommu_test_cmd, last);
	ASSERT_EQ(0, test_cmd(self->fd, &cmd));
	EXPECT_EQ(2U, cmd.mock_domain.out_stdev_id);
	EXPECT_EQ(4U, cmd.mock_domain.out_hwpt_id);
	EXPECT_EQ(3U, cmd.mock_domain.out_idev_id);
}

TEST_F(mock, test_cmd_longer_struct_zero_tail_ok_nonzero_tail_e2big)
{
	union {
		struct iommu_test_cmd cmd;
		__u8 raw[256];
	} buf;

	memset(&buf, 0, sizeof(buf));
	buf.cmd.size = sizeof(buf);
	buf.cmd.op = IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT;
	buf.cmd.memory_limit.limit = DEFAULT_TEMP_MEMORY_LIMIT;
	EXPECT_EQ(0, test_cmd(self->fd, &buf.cmd));

	buf.raw[sizeof(buf.cmd)] = 1;
	EXPECT_ERRNO(E2BIG, test_cmd(self->fd, &buf.cmd));
	buf.raw[sizeof(buf.cmd)] = 0;
	buf.raw[255] = 1;
	EXPECT_ERRNO(E2BIG, test_cmd(self->fd, &buf.cmd));
}

/* Upstream never looks at iommu_test_cmd::__reserved. */
TEST_F(mock, test_cmd_reserved_field_is_not_checked)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_MOCK_DOMAIN, self->ioas_id);
	cmd.__reserved = 0xffffffff;
	ASSERT_EQ(0, test_cmd(self->fd, &cmd));
	EXPECT_EQ(2U, cmd.mock_domain.out_stdev_id);
}

/*
 * Intentional difference: the 4 bytes of tail padding after
 * iommu_test_cmd::last come back as zero, whatever the caller put there
 * (upstream copies its buffer back, so they come back as they went in).
 * Before the module zeroed them, the response carried the caller's bytes
 * back; before padding was explicit in the Rust structures, those bytes
 * were not even defined.
 */
TEST_F(mock, test_cmd_padding_comes_back_zero)
{
	const size_t pad = offsetofend(struct iommu_test_cmd, last);
	union {
		struct iommu_test_cmd cmd;
		__u8 raw[sizeof(struct iommu_test_cmd)];
	} buf;
	size_t i;

	if (!testing_rust_iommufd())
		SKIP(return, "%s: not rust_iommufd, upstream echoes the padding",
		     iommufd_dev_path());
	ASSERT_LT(pad, sizeof(buf.cmd));
	memset(&buf, 0xa5, sizeof(buf));
	buf.cmd.size = sizeof(buf.cmd);
	buf.cmd.op = IOMMU_TEST_OP_MOCK_DOMAIN;
	buf.cmd.id = self->ioas_id;
	buf.cmd.__reserved = 0;
	ASSERT_EQ(0, test_cmd(self->fd, &buf.cmd));
	EXPECT_EQ(2U, buf.cmd.mock_domain.out_stdev_id);
	for (i = pad; i < sizeof(buf.cmd); i++) {
		EXPECT_EQ(0, buf.raw[i])
			TH_LOG("byte %zu of %zu", i, sizeof(buf.cmd));
	}
}

TEST_F(mock, test_cmd_unknown_op_is_eopnotsupp)
{
	const __u32 ops[] = { 0, IOMMU_TEST_OP_DMABUF_REVOKE + 1, 1000,
			      0xffffffff };
	struct iommu_test_cmd cmd;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		test_cmd_init(&cmd, ops[i], self->ioas_id);
		EXPECT_ERRNO_LOG(EOPNOTSUPP, test_cmd(self->fd, &cmd),
				 "op %u", ops[i]);
	}
}

/*
 * Intentional difference: the ops this module leaves out fail with
 * EOPNOTSUPP whatever their arguments. Upstream implements them, so the
 * case only runs against rust_iommufd.
 */
TEST_F(mock, test_cmd_ops_left_out_by_this_module_are_eopnotsupp)
{
	const __u32 ops[] = {
		IOMMU_TEST_OP_DMABUF_GET,
		IOMMU_TEST_OP_DMABUF_REVOKE,
	};
	struct iommu_test_cmd cmd;
	unsigned int i;

	if (!testing_rust_iommufd())
		SKIP(return, "%s: not rust_iommufd, upstream implements them",
		     iommufd_dev_path());
	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		test_cmd_init(&cmd, ops[i], self->ioas_id);
		EXPECT_ERRNO_LOG(EOPNOTSUPP, test_cmd(self->fd, &cmd),
				 "op %u", ops[i]);
	}
}

/* SET_TEMP_MEMORY_LIMIT: at least sizeof(unsigned long) + sizeof(u32). */
TEST_F(mock, set_temp_memory_limit_below_12_is_einval)
{
	const __u32 limits[] = { 0, 1, 8, 11 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(limits); i++)
		EXPECT_ERRNO(EINVAL, set_temp_memory_limit(self->fd,
							   limits[i]));
}

TEST_F(mock, set_temp_memory_limit_accepts_12_and_up)
{
	EXPECT_EQ(0, set_temp_memory_limit(self->fd, 12));
	EXPECT_EQ(0, set_temp_memory_limit(self->fd, 16));
	EXPECT_EQ(0, set_temp_memory_limit(self->fd, 0xffffffff));
	EXPECT_EQ(0, set_temp_memory_limit(self->fd,
					   DEFAULT_TEMP_MEMORY_LIMIT));
}

/* MOCK_DOMAIN / MOCK_DOMAIN_FLAGS */

TEST_F(mock, mock_domain_ids_are_stdev_idev_then_auto_hwpt)
{
	__u32 stdev, hwpt, idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &hwpt,
				 &idev));
	EXPECT_EQ(2U, stdev);
	EXPECT_EQ(3U, idev);
	EXPECT_EQ(4U, hwpt);
	EXPECT_EQ(5U, next_free_id(self->fd));
}

/* Devices on one IOAS share its automatically created HWPT. */
TEST_F(mock, mock_domain_second_device_shares_auto_hwpt)
{
	__u32 stdev[3], hwpt[3], idev[3];

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev[0], &hwpt[0],
				 &idev[0]));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev[1], &hwpt[1],
				 &idev[1]));
	EXPECT_EQ(5U, stdev[1]);
	EXPECT_EQ(6U, idev[1]);
	EXPECT_EQ(hwpt[0], hwpt[1]);

	/* A device without dirty tracking fits the auto HWPT as well. */
	ASSERT_EQ(0, mock_domain_flags(self->fd, self->ioas_id,
				       MOCK_FLAGS_DEVICE_NO_DIRTY, &stdev[2],
				       &hwpt[2], &idev[2]));
	EXPECT_EQ(hwpt[0], hwpt[2]);
	EXPECT_EQ(9U, next_free_id(self->fd));
}

/* The auto HWPT belongs to its IOAS: another IOAS gets its own. */
TEST_F(mock, mock_domain_other_ioas_gets_own_auto_hwpt)
{
	__u32 ioas2, hwpt1, hwpt2;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, &hwpt1, NULL));
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, mock_domain(self->fd, ioas2, NULL, &hwpt2, NULL));
	EXPECT_NE(hwpt1, hwpt2);
	EXPECT_EQ(8U, hwpt2);
}

TEST_F(mock, mock_domain_unknown_id_is_enoent_and_leaves_nothing)
{
	const __u32 ids[] = { 0, 2, 99, 0xffffffff };
	unsigned int i;
	__u32 stdev;

	for (i = 0; i < ARRAY_SIZE(ids); i++)
		EXPECT_ERRNO(ENOENT, mock_domain(self->fd, ids[i], NULL, NULL,
						 NULL));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, NULL, NULL));
	EXPECT_EQ(2U, stdev);
}

/* Attaching to something that is neither an IOAS nor a HWPT. */
TEST_F(mock, mock_domain_on_device_object_is_einval)
{
	__u32 stdev, idev, id;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, NULL,
				 &idev));
	EXPECT_ERRNO(EINVAL, mock_domain(self->fd, idev, NULL, NULL, NULL));
	EXPECT_ERRNO(EINVAL, mock_domain(self->fd, stdev, NULL, NULL, NULL));
	/* The failed attempts gave their ids back. */
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &id, NULL, NULL));
	EXPECT_EQ(5U, id);
}

TEST_F(mock, mock_domain_flags_unknown_bits_are_einval)
{
	const __u32 flags[] = { 1U << 1, 1U << 3, 1U << 31,
				MOCK_FLAGS_DEVICE_NO_DIRTY | (1U << 1),
				~0U };
	unsigned int i;
	__u32 stdev;

	for (i = 0; i < ARRAY_SIZE(flags); i++)
		EXPECT_ERRNO_LOG(EINVAL,
				 mock_domain_flags(self->fd, self->ioas_id,
						   flags[i], NULL, NULL, NULL),
				 "dev_flags %#x", flags[i]);
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, NULL, NULL));
	EXPECT_EQ(2U, stdev);
}

TEST_F(mock, mock_domain_flags_accepts_no_dirty_and_pasid)
{
	const __u32 flags[] = {
		0, MOCK_FLAGS_DEVICE_NO_DIRTY, MOCK_FLAGS_DEVICE_PASID,
		MOCK_FLAGS_DEVICE_NO_DIRTY | MOCK_FLAGS_DEVICE_PASID,
	};
	__u32 stdev, hwpt, idev, first_hwpt = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		ASSERT_EQ(0, mock_domain_flags(self->fd, self->ioas_id,
					       flags[i], &stdev, &hwpt, &idev))
			TH_LOG("dev_flags %#x", flags[i]);
		if (!first_hwpt)
			first_hwpt = hwpt;
		EXPECT_EQ(first_hwpt, hwpt);
		EXPECT_EQ(stdev + 1, idev);
	}
}

/* Given a HWPT id, the device goes straight onto it: no auto HWPT. */
TEST_F(mock, mock_domain_on_hwpt_attaches_to_that_hwpt)
{
	__u32 idev, paging, nested, parent, hwpt, stdev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id, 0, &paging));
	ASSERT_EQ(0, mock_domain(self->fd, paging, &stdev, &hwpt, NULL));
	EXPECT_EQ(paging, hwpt);
	EXPECT_ERRNO(EBUSY, destroy(self->fd, paging));
	ASSERT_EQ(0, destroy(self->fd, stdev));
	EXPECT_EQ(0, destroy(self->fd, paging));

	/* A nested HWPT built on a parent works the same way. */
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, parent, 0,
				       IOMMU_TEST_IOTLB_DEFAULT, &nested));
	ASSERT_EQ(0, mock_domain(self->fd, nested, &stdev, &hwpt, NULL));
	EXPECT_EQ(nested, hwpt);
	EXPECT_ERRNO(EBUSY, destroy(self->fd, nested));
	ASSERT_EQ(0, destroy(self->fd, stdev));
	EXPECT_EQ(0, destroy(self->fd, nested));
	EXPECT_EQ(0, destroy(self->fd, parent));
}

/* The mock driver refuses to put a NO_DIRTY device on a dirty-tracking HWPT. */
TEST_F(mock, mock_domain_no_dirty_device_on_dirty_hwpt_is_einval)
{
	__u32 idev, dirty, stdev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &dirty));
	EXPECT_ERRNO(EINVAL, mock_domain_flags(self->fd, dirty,
					       MOCK_FLAGS_DEVICE_NO_DIRTY,
					       NULL, NULL, NULL));
	/* A device with dirty tracking is fine. */
	ASSERT_EQ(0, mock_domain(self->fd, dirty, &stdev, NULL, NULL));
	ASSERT_EQ(0, destroy(self->fd, stdev));
	EXPECT_EQ(0, destroy(self->fd, dirty));
}

/* If the ids cannot be written back, the device is undone entirely. */
TEST_F(mock, mock_domain_unwritable_result_is_efault_and_leaves_nothing)
{
	struct iommu_test_cmd cmd;
	__u32 stdev, hwpt, idev;
	void *ro;

	test_cmd_init(&cmd, IOMMU_TEST_OP_MOCK_DOMAIN, self->ioas_id);
	ro = read_only_copy(&cmd, sizeof(cmd));
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_TEST_CMD, ro));
	munmap(ro, page_size());

	EXPECT_EQ(0, destroy(self->fd, self->ioas_id));
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &hwpt,
				 &idev));
	EXPECT_EQ(2U, stdev);
	EXPECT_EQ(3U, idev);
	EXPECT_EQ(4U, hwpt);
}

/*
 * Upstream does not undo a replace whose result cannot be written back:
 * the call fails with EFAULT, yet the device has moved.
 */
TEST_F(mock, replace_unwritable_result_is_efault_but_replace_stays)
{
	struct iommu_test_cmd cmd;
	__u32 stdev, auto_hwpt, idev, manual;
	void *ro;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &auto_hwpt,
				 &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id, 0, &manual));
	test_cmd_init(&cmd, IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, stdev);
	cmd.mock_domain_replace.pt_id = manual;
	ro = read_only_copy(&cmd, sizeof(cmd));
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_TEST_CMD, ro));
	munmap(ro, page_size());

	EXPECT_ERRNO(ENOENT, destroy(self->fd, auto_hwpt));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, manual));
	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, self->ioas_id,
					 NULL));
	EXPECT_EQ(0, destroy(self->fd, manual));
}

/* Lifetime of mock devices */

TEST_F(mock, destroy_idev_while_stdev_exists_is_ebusy)
{
	__u32 stdev, idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, NULL,
				 &idev));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, idev));
	EXPECT_EQ(0, destroy(self->fd, stdev));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, idev));
}

/* Destroying the stdev detaches and unbinds: idev and auto HWPT go too. */
TEST_F(mock, destroy_stdev_removes_idev_and_auto_hwpt)
{
	__u32 stdev, hwpt, idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &hwpt,
				 &idev));
	ASSERT_EQ(0, destroy(self->fd, stdev));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, hwpt));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, idev));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, stdev));
	EXPECT_ERRNO(ENOENT, check_dev_cache(self->fd, idev, 0,
					     IOMMU_TEST_DEV_CACHE_DEFAULT));
	EXPECT_EQ(0, destroy(self->fd, self->ioas_id));
	/* All four ids are free again, lowest first. */
	EXPECT_EQ(1U, next_free_id(self->fd));
}

TEST_F(mock, destroy_attached_auto_hwpt_is_ebusy)
{
	__u32 stdev, hwpt;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &hwpt, NULL));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, hwpt));
	EXPECT_EQ(0, destroy(self->fd, stdev));
}

TEST_F(mock, destroy_ioas_with_attached_device_is_ebusy)
{
	__u32 stdev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, NULL, NULL));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->ioas_id));
	ASSERT_EQ(0, destroy(self->fd, stdev));
	EXPECT_EQ(0, destroy(self->fd, self->ioas_id));
}

/* A HWPT nobody is attached to still holds its IOAS. */
TEST_F(mock, destroy_ioas_with_unattached_hwpt_is_ebusy)
{
	__u32 stdev, idev, ioas2, hwpt;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, NULL,
				 &idev));
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, ioas2, 0, &hwpt));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, ioas2));
	ASSERT_EQ(0, destroy(self->fd, hwpt));
	EXPECT_EQ(0, destroy(self->fd, ioas2));
}

/* The shared auto HWPT lives until the last device leaves it. */
TEST_F(mock, shared_auto_hwpt_lives_until_last_device_is_gone)
{
	__u32 stdev1, stdev2, hwpt1, hwpt2, idev1, idev2;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev1, &hwpt1,
				 &idev1));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev2, &hwpt2,
				 &idev2));
	ASSERT_EQ(hwpt1, hwpt2);

	ASSERT_EQ(0, destroy(self->fd, stdev1));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, idev1));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, hwpt1));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->ioas_id));

	ASSERT_EQ(0, destroy(self->fd, stdev2));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, hwpt1));
	EXPECT_EQ(0, destroy(self->fd, self->ioas_id));
}

/* MOCK_DOMAIN_REPLACE */

/* Back and forth between two manual paging HWPTs. */
TEST_F(mock, replace_between_paging_hwpts_moves_the_busy_one)
{
	__u32 stdev, auto_hwpt, idev, a, b, out;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &auto_hwpt,
				 &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id, 0, &a));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &b));

	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, a, &out));
	EXPECT_EQ(a, out);
	EXPECT_ERRNO(EBUSY, destroy(self->fd, a));

	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, b, &out));
	EXPECT_EQ(b, out);
	EXPECT_ERRNO(EBUSY, destroy(self->fd, b));

	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, a, &out));
	EXPECT_EQ(a, out);
	EXPECT_ERRNO(EBUSY, destroy(self->fd, a));
	EXPECT_EQ(0, destroy(self->fd, b));

	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, self->ioas_id,
					 &out));
	EXPECT_EQ(0, destroy(self->fd, a));
	EXPECT_EQ(0, destroy(self->fd, stdev));
}

/*
 * Leaving the auto HWPT frees it (its id is then unknown); coming back to
 * the IOAS creates a new auto HWPT at the lowest free id.
 */
TEST_F(mock, replace_away_from_auto_hwpt_frees_it)
{
	__u32 stdev, auto_hwpt, idev, manual, out;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &auto_hwpt,
				 &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id, 0, &manual));
	EXPECT_EQ(5U, manual);

	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, manual, &out));
	EXPECT_EQ(manual, out);
	EXPECT_ERRNO(ENOENT, destroy(self->fd, auto_hwpt));
	EXPECT_ERRNO(ENOENT, mock_domain_replace(self->fd, stdev, auto_hwpt,
						 NULL));

	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, self->ioas_id,
					 &out));
	EXPECT_EQ(auto_hwpt, out);
	EXPECT_NE(manual, out);
	EXPECT_EQ(0, destroy(self->fd, manual));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, out));
}

/* Replacing onto the IOAS the device already uses finds the same HWPT. */
TEST_F(mock, replace_to_same_ioas_keeps_auto_hwpt)
{
	__u32 stdev, hwpt, out;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &hwpt, NULL));
	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, self->ioas_id,
					 &out));
	EXPECT_EQ(hwpt, out);
	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, hwpt, &out));
	EXPECT_EQ(hwpt, out);
	EXPECT_EQ(5U, next_free_id(self->fd));
}

/* Another IOAS: a new auto HWPT there, the old one freed afterwards. */
TEST_F(mock, replace_to_other_ioas_allocates_new_auto_hwpt)
{
	__u32 stdev, hwpt, ioas2, out;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &hwpt, NULL));
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(5U, ioas2);

	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, ioas2, &out));
	/* Allocated while the old one still existed. */
	EXPECT_EQ(6U, out);
	EXPECT_ERRNO(ENOENT, destroy(self->fd, hwpt));
	EXPECT_EQ(0, destroy(self->fd, self->ioas_id));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, ioas2));

	ASSERT_EQ(0, destroy(self->fd, stdev));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, out));
	EXPECT_EQ(0, destroy(self->fd, ioas2));
}

/* With two devices on the auto HWPT, one leaving does not free it. */
TEST_F(mock, replace_one_of_two_devices_keeps_shared_auto_hwpt)
{
	__u32 stdev1, stdev2, hwpt, idev, manual, out;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev1, &hwpt,
				 &idev));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev2, NULL, NULL));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id, 0, &manual));

	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev1, manual, NULL));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, hwpt));
	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev1, self->ioas_id,
					 &out));
	EXPECT_EQ(hwpt, out);
	EXPECT_EQ(0, destroy(self->fd, manual));
}

/* Between a paging HWPT and nested HWPTs on it, and back. */
TEST_F(mock, replace_between_paging_and_nested)
{
	__u32 stdev, idev, parent, nested[2], out;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, parent, 0,
				       IOMMU_TEST_IOTLB_DEFAULT, &nested[0]));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, parent, 0,
				       IOMMU_TEST_IOTLB_DEFAULT, &nested[1]));

	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, parent, &out));
	EXPECT_EQ(parent, out);
	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, nested[0], &out));
	EXPECT_EQ(nested[0], out);
	EXPECT_ERRNO(EBUSY, destroy(self->fd, nested[0]));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, parent));

	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, nested[1], &out));
	EXPECT_EQ(nested[1], out);
	EXPECT_ERRNO(EBUSY, destroy(self->fd, nested[1]));
	EXPECT_EQ(0, destroy(self->fd, nested[0]));

	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, parent, &out));
	EXPECT_EQ(0, destroy(self->fd, nested[1]));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, parent));

	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, self->ioas_id,
					 &out));
	EXPECT_EQ(0, destroy(self->fd, parent));
}

/* Replacing onto what is already attached changes nothing. */
TEST_F(mock, replace_to_current_hwpt_is_noop)
{
	__u32 stdev, idev, hwpt, out;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id, 0, &hwpt));
	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, hwpt, NULL));
	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, hwpt, &out));
	EXPECT_EQ(hwpt, out);
	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, self->ioas_id,
					 NULL));
	/* Only one attachment was counted on the HWPT. */
	EXPECT_EQ(0, destroy(self->fd, hwpt));
}

/* @id must name a selftest device: anything else is ENOENT. */
TEST_F(mock, replace_id_not_a_stdev_is_enoent)
{
	__u32 stdev, hwpt, idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &hwpt,
				 &idev));
	EXPECT_ERRNO(ENOENT, mock_domain_replace(self->fd, idev,
						 self->ioas_id, NULL));
	EXPECT_ERRNO(ENOENT, mock_domain_replace(self->fd, hwpt,
						 self->ioas_id, NULL));
	EXPECT_ERRNO(ENOENT, mock_domain_replace(self->fd, self->ioas_id,
						 self->ioas_id, NULL));
	EXPECT_ERRNO(ENOENT, mock_domain_replace(self->fd, 0, self->ioas_id,
						 NULL));
	EXPECT_ERRNO(ENOENT, mock_domain_replace(self->fd, 99, self->ioas_id,
						 NULL));
}

/* Unknown pt_id is ENOENT, an object of the wrong kind EINVAL. */
TEST_F(mock, replace_pt_id_unknown_enoent_wrong_kind_einval)
{
	__u32 stdev, hwpt, idev, out = 0;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &hwpt,
				 &idev));
	EXPECT_ERRNO(ENOENT, mock_domain_replace(self->fd, stdev, 0, NULL));
	EXPECT_ERRNO(ENOENT, mock_domain_replace(self->fd, stdev, 99, NULL));
	EXPECT_ERRNO(EINVAL, mock_domain_replace(self->fd, stdev, idev, NULL));
	EXPECT_ERRNO(EINVAL, mock_domain_replace(self->fd, stdev, stdev,
						 NULL));
	/* Still on the auto HWPT. */
	EXPECT_ERRNO(EBUSY, destroy(self->fd, hwpt));
	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, self->ioas_id, &out));
	EXPECT_EQ(hwpt, out);
}

TEST_F(mock, replace_no_dirty_device_to_dirty_hwpt_is_einval)
{
	__u32 idev, stdev, hwpt, dirty, out;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &dirty));
	ASSERT_EQ(0, mock_domain_flags(self->fd, self->ioas_id,
				       MOCK_FLAGS_DEVICE_NO_DIRTY, &stdev,
				       &hwpt, NULL));
	EXPECT_ERRNO(EINVAL, mock_domain_replace(self->fd, stdev, dirty, NULL));
	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, self->ioas_id, &out));
	EXPECT_EQ(hwpt, out);
	EXPECT_EQ(0, destroy(self->fd, dirty));
}

/* IOMMU_HWPT_ALLOC: paging HWPTs */

TEST_F(mock, hwpt_alloc_paging_on_ioas)
{
	__u32 idev, hwpt;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id, 0, &hwpt));
	EXPECT_EQ(5U, hwpt);
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->ioas_id));
	EXPECT_EQ(0, destroy(self->fd, hwpt));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, hwpt));
}

TEST_F(mock, hwpt_alloc_paging_accepts_known_flags)
{
	const __u32 flags[] = {
		IOMMU_HWPT_ALLOC_NEST_PARENT,
		IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
		IOMMU_HWPT_ALLOC_PASID,
		IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING |
			IOMMU_HWPT_ALLOC_PASID,
	};
	unsigned int i;
	__u32 idev, hwpt;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
					flags[i], &hwpt))
			TH_LOG("flags %#x", flags[i]);
		EXPECT_EQ(0, destroy(self->fd, hwpt));
	}
}

/* The PASID flag is a HWPT property; the device need not support PASID. */
TEST_F(mock, hwpt_alloc_pasid_flag_on_non_pasid_device_ok)
{
	__u32 idev, hwpt;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_PASID, &hwpt));
	EXPECT_EQ(0, destroy(self->fd, hwpt));
}

TEST_F(mock, hwpt_alloc_unknown_flags_are_eopnotsupp)
{
	const __u32 flags[] = { 1U << 4, 1U << 31,
				IOMMU_HWPT_ALLOC_NEST_PARENT | (1U << 5) };
	unsigned int i;
	__u32 idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	for (i = 0; i < ARRAY_SIZE(flags); i++)
		EXPECT_ERRNO_LOG(EOPNOTSUPP,
				 hwpt_alloc(self->fd, idev, self->ioas_id,
					    flags[i], NULL),
				 "flags %#x", flags[i]);
	EXPECT_EQ(5U, next_free_id(self->fd));
}

TEST_F(mock, hwpt_alloc_dirty_tracking_on_no_dirty_device_is_eopnotsupp)
{
	__u32 idev, hwpt;

	ASSERT_EQ(0, mock_domain_flags(self->fd, self->ioas_id,
				       MOCK_FLAGS_DEVICE_NO_DIRTY, NULL, NULL,
				       &idev));
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc(self->fd, idev, self->ioas_id,
					    IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
					    NULL));
	/* Without the flag the same device is fine. */
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id, 0, &hwpt));
	EXPECT_EQ(0, destroy(self->fd, hwpt));
}

TEST_F(mock, hwpt_alloc_reserved_nonzero_is_eopnotsupp)
{
	struct iommu_hwpt_alloc cmd = { .size = sizeof(cmd) };
	__u32 idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	cmd.dev_id = idev;
	cmd.pt_id = self->ioas_id;
	cmd.__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_ALLOC, &cmd));
}

/*
 * Upstream reads fault_id only under IOMMU_HWPT_FAULT_ID_VALID and never
 * checks __reserved2: both are ignored.
 */
TEST_F(mock, hwpt_alloc_ignores_reserved2_and_fault_id_without_flag)
{
	struct iommu_hwpt_alloc cmd = { .size = sizeof(cmd) };
	__u32 idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	cmd.dev_id = idev;
	cmd.pt_id = self->ioas_id;
	cmd.fault_id = 12345;
	cmd.__reserved2 = 0xffffffff;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &cmd));
	EXPECT_EQ(5U, cmd.out_hwpt_id);
	EXPECT_EQ(0, destroy(self->fd, cmd.out_hwpt_id));
}

/* Minimum size is offsetofend(__reserved): data and fault_id are optional. */
TEST_F(mock, hwpt_alloc_size_rules)
{
	union {
		struct iommu_hwpt_alloc cmd;
		__u8 raw[128];
	} buf;
	__u32 idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));

	memset(&buf, 0, sizeof(buf));
	buf.cmd.dev_id = idev;
	buf.cmd.pt_id = self->ioas_id;
	buf.cmd.size = offsetofend(struct iommu_hwpt_alloc, __reserved) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_ALLOC, &buf));

	buf.cmd.size = offsetofend(struct iommu_hwpt_alloc, __reserved);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &buf));
	EXPECT_EQ(5U, buf.cmd.out_hwpt_id);
	ASSERT_EQ(0, destroy(self->fd, buf.cmd.out_hwpt_id));

	buf.cmd.size = sizeof(buf);
	buf.cmd.out_hwpt_id = 0;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &buf));
	ASSERT_EQ(0, destroy(self->fd, buf.cmd.out_hwpt_id));

	buf.raw[sizeof(buf.cmd) + 3] = 1;
	EXPECT_ERRNO(E2BIG, ioctl(self->fd, IOMMU_HWPT_ALLOC, &buf));
}

/* data_len and data_type must agree: no type, no length, and vice versa. */
TEST_F(mock, hwpt_alloc_data_len_must_match_data_type)
{
	struct iommu_hwpt_selftest data = {};
	__u32 idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	EXPECT_ERRNO(EINVAL, hwpt_alloc_data(self->fd, idev, self->ioas_id, 0,
					     IOMMU_HWPT_DATA_NONE, &data,
					     sizeof(data), NULL));
	EXPECT_ERRNO(EINVAL, hwpt_alloc_data(self->fd, idev, self->ioas_id, 0,
					     IOMMU_HWPT_DATA_SELFTEST, &data,
					     0, NULL));
	EXPECT_EQ(5U, next_free_id(self->fd));
}

/* A paging HWPT may carry iommu_hwpt_selftest data. */
TEST_F(mock, hwpt_alloc_paging_with_selftest_data)
{
	struct {
		struct iommu_hwpt_selftest data;
		__u64 tail;
	} buf = {};
	__u32 idev, hwpt;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));

	buf.data.iotlb = IOMMU_TEST_IOTLB_DEFAULT;
	buf.data.pagetable_type = MOCK_IOMMUPT_DEFAULT;
	ASSERT_EQ(0, hwpt_alloc_data(self->fd, idev, self->ioas_id, 0,
				     IOMMU_HWPT_DATA_SELFTEST, &buf.data,
				     sizeof(buf.data), &hwpt));
	EXPECT_EQ(0, destroy(self->fd, hwpt));

	/* Only iotlb is required. */
	ASSERT_EQ(0, hwpt_alloc_data(self->fd, idev, self->ioas_id, 0,
				     IOMMU_HWPT_DATA_SELFTEST, &buf.data,
				     HWPT_DATA_MIN_LEN, &hwpt));
	EXPECT_EQ(0, destroy(self->fd, hwpt));

	/* Shorter than iotlb, or longer than the structure: EINVAL. */
	EXPECT_ERRNO(EINVAL, hwpt_alloc_data(self->fd, idev, self->ioas_id, 0,
					     IOMMU_HWPT_DATA_SELFTEST,
					     &buf.data, 3, NULL));
	EXPECT_ERRNO(EINVAL, hwpt_alloc_data(self->fd, idev, self->ioas_id, 0,
					     IOMMU_HWPT_DATA_SELFTEST, &buf,
					     sizeof(buf), NULL));

	/* An unknown page table format. */
	buf.data.pagetable_type = 2;
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc_data(self->fd, idev,
						 self->ioas_id, 0,
						 IOMMU_HWPT_DATA_SELFTEST,
						 &buf.data, sizeof(buf.data),
						 NULL));

	/* Unreadable data. */
	EXPECT_ERRNO(EFAULT, hwpt_alloc_data(self->fd, idev, self->ioas_id, 0,
					     IOMMU_HWPT_DATA_SELFTEST, NULL,
					     sizeof(buf.data), NULL));
	EXPECT_EQ(5U, next_free_id(self->fd));
}

TEST_F(mock, hwpt_alloc_paging_foreign_data_type_is_eopnotsupp)
{
	__u64 data[4] = {};
	__u32 idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc_data(self->fd, idev,
						 self->ioas_id, 0,
						 IOMMU_HWPT_DATA_VTD_S1, data,
						 sizeof(data), NULL));
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc_data(self->fd, idev,
						 self->ioas_id, 0,
						 IOMMU_HWPT_DATA_SELFTEST + 1,
						 data, 8, NULL));
}

/* dev_id must name a device object. */
TEST_F(mock, hwpt_alloc_dev_id_not_a_device_is_enoent)
{
	__u32 stdev, hwpt, idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &hwpt,
				 &idev));
	EXPECT_ERRNO(ENOENT, hwpt_alloc(self->fd, 0, self->ioas_id, 0, NULL));
	EXPECT_ERRNO(ENOENT, hwpt_alloc(self->fd, 99, self->ioas_id, 0, NULL));
	EXPECT_ERRNO(ENOENT, hwpt_alloc(self->fd, stdev, self->ioas_id, 0,
					NULL));
	EXPECT_ERRNO(ENOENT, hwpt_alloc(self->fd, self->ioas_id,
					self->ioas_id, 0, NULL));
	EXPECT_ERRNO(ENOENT, hwpt_alloc(self->fd, hwpt, self->ioas_id, 0,
					NULL));
}

/* A pt_id that is unknown or of the wrong kind is EINVAL, not ENOENT. */
TEST_F(mock, hwpt_alloc_pt_id_unknown_or_wrong_kind_is_einval)
{
	__u32 stdev, idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, NULL, &idev));
	EXPECT_ERRNO(EINVAL, hwpt_alloc(self->fd, idev, 0, 0, NULL));
	EXPECT_ERRNO(EINVAL, hwpt_alloc(self->fd, idev, 99, 0, NULL));
	EXPECT_ERRNO(EINVAL, hwpt_alloc(self->fd, idev, idev, 0, NULL));
	EXPECT_ERRNO(EINVAL, hwpt_alloc(self->fd, idev, stdev, 0, NULL));
	EXPECT_EQ(5U, next_free_id(self->fd));
}

/* If the new id cannot be written back, no HWPT is left behind. */
TEST_F(mock, hwpt_alloc_unwritable_result_is_efault_and_leaves_nothing)
{
	struct iommu_hwpt_alloc cmd = { .size = sizeof(cmd) };
	__u32 idev, hwpt;
	void *ro;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	cmd.dev_id = idev;
	cmd.pt_id = self->ioas_id;
	cmd.flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
	ro = read_only_copy(&cmd, sizeof(cmd));
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_HWPT_ALLOC, ro));
	munmap(ro, page_size());

	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id, 0, &hwpt));
	EXPECT_EQ(5U, hwpt);
}

/* IOMMU_HWPT_ALLOC: nested HWPTs */

TEST_F(mock, hwpt_alloc_nested_initialises_every_iotlb_slot)
{
	__u32 idev, parent, nested[2], i;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, parent, 0,
				       IOMMU_TEST_IOTLB_DEFAULT, &nested[0]));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, parent, 0,
				       IOTLB_CUSTOM, &nested[1]));
	EXPECT_EQ(parent + 1, nested[0]);
	EXPECT_EQ(parent + 2, nested[1]);

	for (i = 0; i < MOCK_NESTED_DOMAIN_IOTLB_NUM; i++) {
		EXPECT_EQ(0, check_iotlb(self->fd, nested[0], i,
					 IOMMU_TEST_IOTLB_DEFAULT));
		EXPECT_EQ(0, check_iotlb(self->fd, nested[1], i,
					 IOTLB_CUSTOM));
		EXPECT_ERRNO(EINVAL, check_iotlb(self->fd, nested[1], i,
						 IOMMU_TEST_IOTLB_DEFAULT));
	}
	EXPECT_EQ(0, destroy(self->fd, nested[0]));
	EXPECT_EQ(0, destroy(self->fd, nested[1]));
	EXPECT_EQ(0, destroy(self->fd, parent));
}

TEST_F(mock, md_check_iotlb_slot_beyond_max_is_einval)
{
	__u32 idev, parent, nested;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, parent, 0, 0, &nested));
	EXPECT_EQ(0, check_iotlb(self->fd, nested,
				 MOCK_NESTED_DOMAIN_IOTLB_ID_MAX, 0));
	EXPECT_ERRNO(EINVAL, check_iotlb(self->fd, nested,
					 MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1,
					 0));
	EXPECT_ERRNO(EINVAL, check_iotlb(self->fd, nested, 0xffffffff, 0));
}

/* MD_CHECK_IOTLB looks up a nested HWPT only. */
TEST_F(mock, md_check_iotlb_id_not_nested_hwpt_is_enoent)
{
	__u32 stdev, auto_hwpt, idev, parent;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &auto_hwpt,
				 &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	EXPECT_ERRNO(ENOENT, check_iotlb(self->fd, parent, 0, 0));
	EXPECT_ERRNO(ENOENT, check_iotlb(self->fd, auto_hwpt, 0, 0));
	EXPECT_ERRNO(ENOENT, check_iotlb(self->fd, idev, 0, 0));
	EXPECT_ERRNO(ENOENT, check_iotlb(self->fd, self->ioas_id, 0, 0));
	EXPECT_ERRNO(ENOENT, check_iotlb(self->fd, 0, 0, 0));
}

TEST_F(mock, hwpt_alloc_nested_parent_not_nest_parent_is_einval)
{
	__u32 idev, plain;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id, 0, &plain));
	EXPECT_ERRNO(EINVAL, hwpt_alloc_nested(self->fd, idev, plain, 0,
					       IOMMU_TEST_IOTLB_DEFAULT, NULL));
	EXPECT_EQ(0, destroy(self->fd, plain));
}

TEST_F(mock, hwpt_alloc_nested_on_auto_hwpt_is_einval)
{
	__u32 idev, auto_hwpt;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, &auto_hwpt,
				 &idev));
	EXPECT_ERRNO(EINVAL, hwpt_alloc_nested(self->fd, idev, auto_hwpt, 0,
					       IOMMU_TEST_IOTLB_DEFAULT, NULL));
}

TEST_F(mock, hwpt_alloc_nested_on_nested_is_einval)
{
	__u32 idev, parent, nested;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, parent, 0,
				       IOMMU_TEST_IOTLB_DEFAULT, &nested));
	EXPECT_ERRNO(EINVAL, hwpt_alloc_nested(self->fd, idev, nested, 0,
					       IOMMU_TEST_IOTLB_DEFAULT, NULL));
}

/*
 * Nested allocation needs IOMMU_HWPT_DATA_SELFTEST data: without any it is
 * EOPNOTSUPP (the generic length rule catches a type given without data or
 * data given without a type first, with EINVAL).
 */
TEST_F(mock, hwpt_alloc_nested_data_rules)
{
	struct {
		struct iommu_hwpt_selftest data;
		__u64 tail;
	} buf = { .data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT } };
	__u32 idev, parent, nested;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));

	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc_data(self->fd, idev, parent, 0,
						 IOMMU_HWPT_DATA_NONE, NULL, 0,
						 NULL));
	EXPECT_ERRNO(EINVAL, hwpt_alloc_data(self->fd, idev, parent, 0,
					     IOMMU_HWPT_DATA_NONE, &buf.data,
					     sizeof(buf.data), NULL));
	EXPECT_ERRNO(EINVAL, hwpt_alloc_data(self->fd, idev, parent, 0,
					     IOMMU_HWPT_DATA_SELFTEST,
					     &buf.data, 0, NULL));
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc_data(self->fd, idev, parent, 0,
						 IOMMU_HWPT_DATA_SELFTEST + 1,
						 &buf.data, sizeof(buf.data),
						 NULL));
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc_data(self->fd, idev, parent, 0,
						 IOMMU_HWPT_DATA_VTD_S1,
						 &buf.data, sizeof(buf.data),
						 NULL));
	EXPECT_ERRNO(EINVAL, hwpt_alloc_data(self->fd, idev, parent, 0,
					     IOMMU_HWPT_DATA_SELFTEST,
					     &buf.data,
					     HWPT_DATA_MIN_LEN - 1, NULL));
	EXPECT_ERRNO(EINVAL, hwpt_alloc_data(self->fd, idev, parent, 0,
					     IOMMU_HWPT_DATA_SELFTEST, &buf,
					     sizeof(buf), NULL));
	EXPECT_ERRNO(EFAULT, hwpt_alloc_data(self->fd, idev, parent, 0,
					     IOMMU_HWPT_DATA_SELFTEST, NULL,
					     sizeof(buf.data), NULL));
	/* None of the failures kept an id. */
	EXPECT_EQ(parent + 1, next_free_id(self->fd));

	/* iotlb alone is enough. */
	ASSERT_EQ(0, hwpt_alloc_data(self->fd, idev, parent, 0,
				     IOMMU_HWPT_DATA_SELFTEST, &buf.data,
				     HWPT_DATA_MIN_LEN, &nested));
	EXPECT_EQ(0, check_iotlb_all(self->fd, nested,
				     IOMMU_TEST_IOTLB_DEFAULT));
}

/* Only IOMMU_HWPT_ALLOC_PASID applies to a nested HWPT. */
TEST_F(mock, hwpt_alloc_nested_flags)
{
	const __u32 bad[] = { IOMMU_HWPT_ALLOC_NEST_PARENT,
			      IOMMU_HWPT_ALLOC_DIRTY_TRACKING, 1U << 4,
			      1U << 31 };
	unsigned int i;
	__u32 idev, parent, nested;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_ERRNO_LOG(EOPNOTSUPP,
				 hwpt_alloc_nested(self->fd, idev, parent,
						   bad[i],
						   IOMMU_TEST_IOTLB_DEFAULT,
						   NULL),
				 "flags %#x", bad[i]);
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, parent,
				       IOMMU_HWPT_ALLOC_PASID,
				       IOMMU_TEST_IOTLB_DEFAULT, &nested));
	EXPECT_EQ(0, destroy(self->fd, nested));
}

TEST_F(mock, destroy_parent_of_nested_hwpt_is_ebusy)
{
	__u32 idev, parent, nested[2];

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, parent, 0,
				       IOMMU_TEST_IOTLB_DEFAULT, &nested[0]));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, parent, 0,
				       IOMMU_TEST_IOTLB_DEFAULT, &nested[1]));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, parent));
	ASSERT_EQ(0, destroy(self->fd, nested[0]));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, parent));
	ASSERT_EQ(0, destroy(self->fd, nested[1]));
	EXPECT_EQ(0, destroy(self->fd, parent));
}

/* IOMMU_HWPT_INVALIDATE */

/* Allocates a mock device, a nesting parent and one nested HWPT. */
static void nested_setup(struct __test_metadata *_metadata, int fd,
			 __u32 ioas_id, __u32 *idev, __u32 *parent,
			 __u32 *nested)
{
	ASSERT_EQ(0, mock_domain(fd, ioas_id, NULL, NULL, idev));
	ASSERT_EQ(0, hwpt_alloc(fd, *idev, ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, parent));
	ASSERT_EQ(0, hwpt_alloc_nested(fd, *idev, *parent, 0,
				       IOMMU_TEST_IOTLB_DEFAULT, nested));
}

/* entry_num 0 only asks whether the data type is supported. */
TEST_F(mock, invalidate_zero_entries_probes_data_type)
{
	__u32 idev, parent, nested, num;

	nested_setup(_metadata, self->fd, self->ioas_id, &idev, &parent,
		     &nested);

	/* data_uptr and entry_len are ignored. */
	num = 0;
	EXPECT_EQ(0, hwpt_invalidate(self->fd, nested, INV_SELFTEST,
				     NULL, 0, &num));
	EXPECT_EQ(0U, num);
	num = 0;
	EXPECT_EQ(0, hwpt_invalidate(self->fd, nested, INV_SELFTEST,
				     (void *)1, 0xffffffff, &num));
	EXPECT_EQ(0U, num);

	num = 0;
	EXPECT_ERRNO(EINVAL, hwpt_invalidate(self->fd, nested,
					     INV_SELFTEST_INVALID, NULL, 0,
					     &num));
	EXPECT_EQ(0U, num);
	EXPECT_EQ(0, check_iotlb_all(self->fd, nested,
				     IOMMU_TEST_IOTLB_DEFAULT));
}

/* With entries, the array itself must make sense before anything else. */
TEST_F(mock, invalidate_array_shape_is_checked_first)
{
	struct iommu_hwpt_invalidate_selftest reqs[2] = {};
	__u32 idev, parent, nested, num;

	nested_setup(_metadata, self->fd, self->ioas_id, &idev, &parent,
		     &nested);

	num = 1;
	EXPECT_ERRNO(EINVAL, hwpt_invalidate(self->fd, nested, INV_SELFTEST,
					     NULL, sizeof(reqs[0]), &num));
	EXPECT_EQ(0U, num);
	num = 1;
	EXPECT_ERRNO(EINVAL, hwpt_invalidate(self->fd, nested, INV_SELFTEST,
					     reqs, 0, &num));
	EXPECT_EQ(0U, num);
	num = 1;
	EXPECT_ERRNO(EINVAL, hwpt_invalidate(self->fd, nested, INV_SELFTEST,
					     reqs, page_size() + 1, &num));
	EXPECT_EQ(0U, num);
	num = (1U << 19) + 1;
	EXPECT_ERRNO(EINVAL, hwpt_invalidate(self->fd, nested, INV_SELFTEST,
					     reqs, sizeof(reqs[0]), &num));
	EXPECT_EQ(0U, num);
	/* Even on an id that does not exist. */
	num = 1;
	EXPECT_ERRNO(EINVAL, hwpt_invalidate(self->fd, 99, INV_SELFTEST,
					     NULL, sizeof(reqs[0]), &num));
	EXPECT_EQ(0U, num);
	EXPECT_EQ(0, check_iotlb_all(self->fd, nested,
				     IOMMU_TEST_IOTLB_DEFAULT));
}

/*
 * The mock driver takes entries of exactly its own size up to the end of
 * iotlb_id: shorter or longer entries are EINVAL, even when the extra bytes
 * of a longer entry are zero.
 */
TEST_F(mock, invalidate_entry_len_must_fit_the_mock_entry)
{
	const __u32 lens[] = { 1, 4, 7, 9, 12, 16, 64 };
	__u64 raw[8] = {};
	unsigned int i;
	__u32 idev, parent, nested, num;

	nested_setup(_metadata, self->fd, self->ioas_id, &idev, &parent,
		     &nested);
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		num = 1;
		EXPECT_ERRNO_LOG(EINVAL,
				 hwpt_invalidate(self->fd, nested,
						 INV_SELFTEST, raw, lens[i],
						 &num),
				 "entry_len %u", lens[i]);
		EXPECT_EQ(0U, num);
	}
	EXPECT_EQ(0, check_iotlb_all(self->fd, nested,
				     IOMMU_TEST_IOTLB_DEFAULT));
}

TEST_F(mock, invalidate_unknown_data_type_with_entries_is_einval)
{
	struct iommu_hwpt_invalidate_selftest req = {};
	__u32 idev, parent, nested, num = 1;

	nested_setup(_metadata, self->fd, self->ioas_id, &idev, &parent,
		     &nested);
	EXPECT_ERRNO(EINVAL, hwpt_invalidate(self->fd, nested,
					     INV_SELFTEST_INVALID, &req,
					     sizeof(req), &num));
	EXPECT_EQ(0U, num);
	num = 1;
	EXPECT_ERRNO(EINVAL, hwpt_invalidate(self->fd, nested,
					     IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
					     &req, sizeof(req), &num));
	EXPECT_EQ(0U, num);
	EXPECT_EQ(0, check_iotlb_all(self->fd, nested,
				     IOMMU_TEST_IOTLB_DEFAULT));
}

/* Bad flags stop the array at that entry; entry_num says how far it got. */
TEST_F(mock, invalidate_bad_flags_eopnotsupp_reports_entries_done)
{
	struct iommu_hwpt_invalidate_selftest reqs[3] = {
		{ .flags = 0, .iotlb_id = 0 },
		{ .flags = 0xffffffff, .iotlb_id = 1 },
		{ .flags = 0, .iotlb_id = 2 },
	};
	__u32 idev, parent, nested, num;

	nested_setup(_metadata, self->fd, self->ioas_id, &idev, &parent,
		     &nested);

	num = 1;
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_invalidate_selftest(self->fd, nested,
							  &reqs[1], &num));
	EXPECT_EQ(0U, num);

	num = 3;
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_invalidate_selftest(self->fd, nested,
							  reqs, &num));
	EXPECT_EQ(1U, num);
	EXPECT_EQ(0, check_iotlb(self->fd, nested, 0, 0));
	EXPECT_EQ(0, check_iotlb(self->fd, nested, 1,
				 IOMMU_TEST_IOTLB_DEFAULT));
	EXPECT_EQ(0, check_iotlb(self->fd, nested, 2,
				 IOMMU_TEST_IOTLB_DEFAULT));
	EXPECT_EQ(0, check_iotlb(self->fd, nested, 3,
				 IOMMU_TEST_IOTLB_DEFAULT));
}

TEST_F(mock, invalidate_iotlb_id_beyond_max_einval_reports_entries_done)
{
	struct iommu_hwpt_invalidate_selftest reqs[2] = {
		{ .iotlb_id = 3 },
		{ .iotlb_id = MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1 },
	};
	__u32 idev, parent, nested, num = 2;

	nested_setup(_metadata, self->fd, self->ioas_id, &idev, &parent,
		     &nested);
	EXPECT_ERRNO(EINVAL, hwpt_invalidate_selftest(self->fd, nested, reqs,
						      &num));
	EXPECT_EQ(1U, num);
	EXPECT_EQ(0, check_iotlb(self->fd, nested, 3, 0));
	EXPECT_EQ(0, check_iotlb(self->fd, nested, 0,
				 IOMMU_TEST_IOTLB_DEFAULT));

	/* The slot check comes before FLAG_ALL is looked at. */
	reqs[0].flags = IOMMU_TEST_INVALIDATE_FLAG_ALL;
	reqs[0].iotlb_id = MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1;
	num = 1;
	EXPECT_ERRNO(EINVAL, hwpt_invalidate_selftest(self->fd, nested, reqs,
						      &num));
	EXPECT_EQ(0U, num);
	EXPECT_EQ(0, check_iotlb(self->fd, nested, 0,
				 IOMMU_TEST_IOTLB_DEFAULT));
}

TEST_F(mock, invalidate_clears_the_named_slots)
{
	struct iommu_hwpt_invalidate_selftest reqs[2] = {};
	__u32 idev, parent, nested, other, num;

	nested_setup(_metadata, self->fd, self->ioas_id, &idev, &parent,
		     &nested);
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, parent, 0,
				       IOMMU_TEST_IOTLB_DEFAULT, &other));

	reqs[0].iotlb_id = 1;
	num = 1;
	ASSERT_EQ(0, hwpt_invalidate_selftest(self->fd, nested, reqs, &num));
	EXPECT_EQ(1U, num);
	EXPECT_EQ(0, check_iotlb(self->fd, nested, 0,
				 IOMMU_TEST_IOTLB_DEFAULT));
	EXPECT_EQ(0, check_iotlb(self->fd, nested, 1, 0));
	EXPECT_EQ(0, check_iotlb(self->fd, nested, 2,
				 IOMMU_TEST_IOTLB_DEFAULT));

	reqs[0].iotlb_id = 2;
	reqs[1].iotlb_id = 3;
	num = 2;
	ASSERT_EQ(0, hwpt_invalidate_selftest(self->fd, nested, reqs, &num));
	EXPECT_EQ(2U, num);
	EXPECT_EQ(0, check_iotlb(self->fd, nested, 0,
				 IOMMU_TEST_IOTLB_DEFAULT));
	EXPECT_EQ(0, check_iotlb(self->fd, nested, 1, 0));
	EXPECT_EQ(0, check_iotlb(self->fd, nested, 2, 0));
	EXPECT_EQ(0, check_iotlb(self->fd, nested, 3, 0));

	/* The other nested HWPT on the same parent is untouched. */
	EXPECT_EQ(0, check_iotlb_all(self->fd, other,
				     IOMMU_TEST_IOTLB_DEFAULT));
}

TEST_F(mock, invalidate_flag_all_clears_every_slot)
{
	struct iommu_hwpt_invalidate_selftest req = {
		.flags = IOMMU_TEST_INVALIDATE_FLAG_ALL,
		.iotlb_id = 2,
	};
	__u32 idev, parent, nested, num = 1;

	nested_setup(_metadata, self->fd, self->ioas_id, &idev, &parent,
		     &nested);
	ASSERT_EQ(0, hwpt_invalidate_selftest(self->fd, nested, &req, &num));
	EXPECT_EQ(1U, num);
	EXPECT_EQ(0, check_iotlb_all(self->fd, nested, 0));
}

/* Entries are read one at a time: a fault stops at the unreadable one. */
TEST_F(mock, invalidate_unreadable_entry_efault_reports_entries_done)
{
	struct iommu_hwpt_invalidate_selftest *reqs;
	size_t psz = page_size();
	__u32 idev, parent, nested, num;
	void *pages;

	nested_setup(_metadata, self->fd, self->ioas_id, &idev, &parent,
		     &nested);
	pages = map_two_pages(PROT_NONE);
	ASSERT_NE(MAP_FAILED, pages);
	reqs = (void *)((char *)pages + psz - sizeof(*reqs));
	reqs->flags = 0;
	reqs->iotlb_id = 0;

	num = 2;
	EXPECT_ERRNO(EFAULT, hwpt_invalidate_selftest(self->fd, nested, reqs,
						      &num));
	EXPECT_EQ(1U, num);
	EXPECT_EQ(0, check_iotlb(self->fd, nested, 0, 0));
	EXPECT_EQ(0, check_iotlb(self->fd, nested, 1,
				 IOMMU_TEST_IOTLB_DEFAULT));
	unmap_two_pages(pages);
}

/* Only nested HWPTs (and vIOMMUs) take invalidations. */
TEST_F(mock, invalidate_on_paging_hwpt_or_ioas_is_einval)
{
	struct iommu_hwpt_invalidate_selftest req = {};
	__u32 stdev, auto_hwpt, idev, parent, nested, num;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &auto_hwpt,
				 &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, parent, 0,
				       IOMMU_TEST_IOTLB_DEFAULT, &nested));

	num = 1;
	EXPECT_ERRNO(EINVAL, hwpt_invalidate_selftest(self->fd, parent, &req,
						      &num));
	EXPECT_EQ(0U, num);
	num = 1;
	EXPECT_ERRNO(EINVAL, hwpt_invalidate_selftest(self->fd, auto_hwpt,
						      &req, &num));
	num = 1;
	EXPECT_ERRNO(EINVAL, hwpt_invalidate_selftest(self->fd, self->ioas_id,
						      &req, &num));
	num = 1;
	EXPECT_ERRNO(EINVAL, hwpt_invalidate_selftest(self->fd, idev, &req,
						      &num));
	num = 0;
	EXPECT_ERRNO(EINVAL, hwpt_invalidate_selftest(self->fd, parent, &req,
						      &num));
	EXPECT_EQ(0, check_iotlb_all(self->fd, nested,
				     IOMMU_TEST_IOTLB_DEFAULT));
}

TEST_F(mock, invalidate_unknown_hwpt_id_is_enoent)
{
	struct iommu_hwpt_invalidate_selftest req = {};
	__u32 num = 1;

	EXPECT_ERRNO(ENOENT, hwpt_invalidate_selftest(self->fd, 99, &req,
						      &num));
	EXPECT_EQ(0U, num);
	num = 0;
	EXPECT_ERRNO(ENOENT, hwpt_invalidate_selftest(self->fd, 0, &req,
						      &num));
}

TEST_F(mock, invalidate_reserved_nonzero_is_eopnotsupp)
{
	struct iommu_hwpt_invalidate_selftest req = {};
	struct iommu_hwpt_invalidate cmd = { .size = sizeof(cmd) };
	__u32 idev, parent, nested;

	nested_setup(_metadata, self->fd, self->ioas_id, &idev, &parent,
		     &nested);
	cmd.hwpt_id = nested;
	cmd.data_uptr = PTR_U64(&req);
	cmd.data_type = IOMMU_HWPT_INVALIDATE_DATA_SELFTEST;
	cmd.entry_len = sizeof(req);
	cmd.entry_num = 1;
	cmd.__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_INVALIDATE, &cmd));
	EXPECT_EQ(0U, cmd.entry_num);
	EXPECT_EQ(0, check_iotlb_all(self->fd, nested,
				     IOMMU_TEST_IOTLB_DEFAULT));

	/* The whole structure is the minimum size. */
	cmd.__reserved = 0;
	cmd.entry_num = 1;
	cmd.size = sizeof(cmd) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_INVALIDATE, &cmd));
}

/* IOMMU_VIOMMU_ALLOC */

TEST_F(mock, viommu_alloc_loops_in_data_back)
{
	struct iommu_viommu_selftest data = { .in_data = 0xbeef };
	__u32 idev, parent, viommu;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, viommu_alloc(self->fd, idev, parent,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, &data,
				  sizeof(data), &viommu));
	EXPECT_EQ(parent + 1, viommu);
	EXPECT_EQ(0xbeefU, data.in_data);
	EXPECT_EQ(data.in_data, data.out_data);
}

/* Driver data is optional; only out_data is required when it is given. */
TEST_F(mock, viommu_alloc_data_len_rules)
{
	struct {
		struct iommu_viommu_selftest data;
		__u64 tail;
	} buf = { .data = { .in_data = 0x5a5a } };
	__u32 idev, parent, viommu;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));

	ASSERT_EQ(0, viommu_alloc(self->fd, idev, parent,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0,
				  &viommu));
	EXPECT_EQ(0, destroy(self->fd, viommu));

	ASSERT_EQ(0, viommu_alloc(self->fd, idev, parent,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, &buf.data,
				  VIOMMU_DATA_MIN_LEN, &viommu));
	EXPECT_EQ(0x5a5aU, buf.data.out_data);
	EXPECT_EQ(0, destroy(self->fd, viommu));

	EXPECT_ERRNO(EINVAL, viommu_alloc(self->fd, idev, parent,
					  IOMMU_VIOMMU_TYPE_SELFTEST, 0,
					  &buf.data,
					  VIOMMU_DATA_MIN_LEN - 1, NULL));
	EXPECT_ERRNO(EINVAL, viommu_alloc(self->fd, idev, parent,
					  IOMMU_VIOMMU_TYPE_SELFTEST, 0, &buf,
					  sizeof(buf), NULL));
	EXPECT_ERRNO(EFAULT, viommu_alloc(self->fd, idev, parent,
					  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL,
					  sizeof(buf.data), NULL));
	EXPECT_EQ(parent + 1, next_free_id(self->fd));
}

TEST_F(mock, viommu_alloc_unsupported_type_is_eopnotsupp)
{
	const __u32 types[] = { IOMMU_VIOMMU_TYPE_DEFAULT,
				IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
				IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV, 0xdead,
				IOMMU_VIOMMU_TYPE_SELFTEST + 1 };
	unsigned int i;
	__u32 idev, parent;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	for (i = 0; i < ARRAY_SIZE(types); i++)
		EXPECT_ERRNO_LOG(EOPNOTSUPP,
				 viommu_alloc(self->fd, idev, parent,
					      types[i], 0, NULL, 0, NULL),
				 "type %#x", types[i]);
	/* The type is checked before the HWPT is even looked up. */
	EXPECT_ERRNO(EOPNOTSUPP, viommu_alloc(self->fd, idev, 99, 0xdead, 0,
					      NULL, 0, NULL));
}

TEST_F(mock, viommu_alloc_nonzero_flags_is_eopnotsupp)
{
	__u32 idev, parent;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	EXPECT_ERRNO(EOPNOTSUPP, viommu_alloc(self->fd, idev, parent,
					      IOMMU_VIOMMU_TYPE_SELFTEST, 1,
					      NULL, 0, NULL));
	EXPECT_ERRNO(EOPNOTSUPP, viommu_alloc(self->fd, idev, parent,
					      IOMMU_VIOMMU_TYPE_SELFTEST,
					      1U << 31, NULL, 0, NULL));
	/* Flags come before the device lookup. */
	EXPECT_ERRNO(EOPNOTSUPP, viommu_alloc(self->fd, 99, parent,
					      IOMMU_VIOMMU_TYPE_SELFTEST, 1,
					      NULL, 0, NULL));
}

/*
 * hwpt_id must be a paging HWPT (else ENOENT) allocated with
 * IOMMU_HWPT_ALLOC_NEST_PARENT (else EINVAL).
 */
TEST_F(mock, viommu_alloc_needs_nest_parent_paging_hwpt)
{
	__u32 idev, auto_hwpt, plain, parent, nested;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, &auto_hwpt,
				 &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id, 0, &plain));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, parent, 0,
				       IOMMU_TEST_IOTLB_DEFAULT, &nested));

	EXPECT_ERRNO(EINVAL, viommu_alloc(self->fd, idev, plain,
					  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL,
					  0, NULL));
	EXPECT_ERRNO(EINVAL, viommu_alloc(self->fd, idev, auto_hwpt,
					  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL,
					  0, NULL));
	EXPECT_ERRNO(ENOENT, viommu_alloc(self->fd, idev, nested,
					  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL,
					  0, NULL));
	EXPECT_ERRNO(ENOENT, viommu_alloc(self->fd, idev, self->ioas_id,
					  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL,
					  0, NULL));
	EXPECT_ERRNO(ENOENT, viommu_alloc(self->fd, idev, 0,
					  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL,
					  0, NULL));
	EXPECT_EQ(nested + 1, next_free_id(self->fd));
}

TEST_F(mock, viommu_alloc_dev_id_not_a_device_is_enoent)
{
	__u32 stdev, idev, parent;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	EXPECT_ERRNO(ENOENT, viommu_alloc(self->fd, stdev, parent,
					  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL,
					  0, NULL));
	EXPECT_ERRNO(ENOENT, viommu_alloc(self->fd, parent, parent,
					  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL,
					  0, NULL));
	EXPECT_ERRNO(ENOENT, viommu_alloc(self->fd, 0, parent,
					  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL,
					  0, NULL));
}

/* Minimum size is offsetofend(out_viommu_id): no driver data then. */
TEST_F(mock, viommu_alloc_min_size_is_offsetofend_out_viommu_id)
{
	struct iommu_viommu_alloc cmd = {};
	__u32 idev, parent;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	cmd.type = IOMMU_VIOMMU_TYPE_SELFTEST;
	cmd.dev_id = idev;
	cmd.hwpt_id = parent;
	cmd.size = offsetofend(struct iommu_viommu_alloc, out_viommu_id) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_VIOMMU_ALLOC, &cmd));
	cmd.size = offsetofend(struct iommu_viommu_alloc, out_viommu_id);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_VIOMMU_ALLOC, &cmd));
	EXPECT_EQ(parent + 1, cmd.out_viommu_id);
}

/* A nested HWPT may be built on a vIOMMU instead of on its parent. */
TEST_F(mock, viommu_nested_hwpt_alloc)
{
	__u32 idev, parent, viommu, nested;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, viommu_alloc(self->fd, idev, parent,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0,
				  &viommu));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, viommu, 0,
				       IOTLB_CUSTOM, &nested));
	EXPECT_EQ(viommu + 1, nested);
	EXPECT_EQ(0, check_iotlb_all(self->fd, nested, IOTLB_CUSTOM));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, viommu,
				       IOMMU_HWPT_ALLOC_PASID,
				       IOMMU_TEST_IOTLB_DEFAULT, &nested));
	EXPECT_EQ(0, destroy(self->fd, nested));
}

TEST_F(mock, viommu_nested_hwpt_alloc_rejections)
{
	struct iommu_hwpt_selftest data = { .iotlb = 0 };
	__u32 idev, parent, viommu;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, viommu_alloc(self->fd, idev, parent,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0,
				  &viommu));

	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc_nested(
					 self->fd, idev, viommu,
					 IOMMU_HWPT_ALLOC_NEST_PARENT, 0,
					 NULL));
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc_nested(
					 self->fd, idev, viommu,
					 IOMMU_HWPT_ALLOC_DIRTY_TRACKING, 0,
					 NULL));
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc_data(self->fd, idev, viommu, 0,
						 IOMMU_HWPT_DATA_NONE, NULL, 0,
						 NULL));
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc_data(self->fd, idev, viommu, 0,
						 IOMMU_HWPT_DATA_SELFTEST + 1,
						 &data, sizeof(data), NULL));
	EXPECT_ERRNO(EINVAL, hwpt_alloc_data(self->fd, idev, viommu, 0,
					     IOMMU_HWPT_DATA_SELFTEST, &data,
					     3, NULL));
	EXPECT_ERRNO(EFAULT, hwpt_alloc_data(self->fd, idev, viommu, 0,
					     IOMMU_HWPT_DATA_SELFTEST, NULL,
					     sizeof(data), NULL));
	EXPECT_EQ(viommu + 1, next_free_id(self->fd));
}

/* A vIOMMU's nested HWPT needs a vDEVICE for the device being attached. */
TEST_F(mock, viommu_nested_attach_without_vdevice_is_enoent)
{
	__u32 stdev, idev, parent, viommu, nested, out;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, viommu_alloc(self->fd, idev, parent,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0,
				  &viommu));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, viommu, 0,
				       IOMMU_TEST_IOTLB_DEFAULT, &nested));
	EXPECT_ERRNO(ENOENT, mock_domain_replace(self->fd, stdev, nested,
						 NULL));
	EXPECT_ERRNO(ENOENT, mock_domain(self->fd, nested, NULL, NULL, NULL));
	/* The device stayed where it was, and the nested HWPT is unused. */
	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev, self->ioas_id, &out));
	EXPECT_EQ(4U, out);
	EXPECT_EQ(0, destroy(self->fd, nested));
}

/* vIOMMU holds its parent; nested HWPTs on the vIOMMU hold it. */
TEST_F(mock, viommu_lifetime)
{
	__u32 idev, parent, viommu, nested;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, viommu_alloc(self->fd, idev, parent,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0,
				  &viommu));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, idev, viommu, 0,
				       IOMMU_TEST_IOTLB_DEFAULT, &nested));

	EXPECT_ERRNO(EBUSY, destroy(self->fd, parent));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, viommu));
	ASSERT_EQ(0, destroy(self->fd, nested));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, parent));
	ASSERT_EQ(0, destroy(self->fd, viommu));
	EXPECT_EQ(0, destroy(self->fd, parent));
}

/*
 * IOMMU_HWPT_FAULT_ID_VALID names a fault object. None exists here, so the
 * HWPT is built and then dropped with ENOENT, leaving no id behind; with
 * NEST_PARENT the flag is refused before anything is built.
 */
TEST_F(mock, hwpt_alloc_fault_id_without_fault_object)
{
	__u32 idev, hwpt, next;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	EXPECT_ERRNO(ENOENT, hwpt_alloc(self->fd, idev, self->ioas_id,
					IOMMU_HWPT_FAULT_ID_VALID, &hwpt));
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_alloc(self->fd, idev, self->ioas_id,
					    IOMMU_HWPT_FAULT_ID_VALID |
					    IOMMU_HWPT_ALLOC_NEST_PARENT,
					    &hwpt));
	/* The ids tried above were given back: 1 IOAS, 2-4 mock domain. */
	ASSERT_EQ(0, ioas_alloc(self->fd, &next));
	EXPECT_EQ(5U, next);
}

/*
 * vIOMMU invalidation names device caches by virtual device id. With no
 * vDEVICE, a well-formed entry is EINVAL; the checks before that lookup
 * still apply in order.
 */
TEST_F(mock, viommu_invalidate_rules_without_vdevices)
{
	struct iommu_viommu_invalidate_selftest inv = {};
	__u32 idev, parent, viommu, num;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, viommu_alloc(self->fd, idev, parent,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0,
				  &viommu));

	/* No entries: only the data type is checked. */
	num = 0;
	EXPECT_EQ(0, hwpt_invalidate(self->fd, viommu,
				     IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
				     &inv, sizeof(inv), &num));
	EXPECT_EQ(0U, num);
	num = 0;
	EXPECT_ERRNO(EINVAL, hwpt_invalidate(self->fd, viommu,
				IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID,
				&inv, sizeof(inv), &num));
	EXPECT_EQ(0U, num);

	/* Unknown flags fail first, then the unknown virtual device. */
	inv.flags = 1U << 1;
	num = 1;
	EXPECT_ERRNO(EOPNOTSUPP, hwpt_invalidate(self->fd, viommu,
				IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
				&inv, sizeof(inv), &num));
	EXPECT_EQ(0U, num);
	inv.flags = IOMMU_TEST_INVALIDATE_FLAG_ALL;
	num = 1;
	EXPECT_ERRNO(EINVAL, hwpt_invalidate(self->fd, viommu,
				IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
				&inv, sizeof(inv), &num));
	EXPECT_EQ(0U, num);
	/* The device cache was not touched. */
	EXPECT_EQ(0, check_dev_cache(self->fd, idev, 0,
				     IOMMU_TEST_DEV_CACHE_DEFAULT));
}

/*
 * The largest entry count upstream accepts, over a buffer far too short:
 * the array is read entry by entry, so this is EFAULT rather than one
 * oversized kernel allocation (upstream sizes a kcalloc() by entry_num,
 * which the page allocator refuses with a WARN).
 */
TEST_F(mock, viommu_invalidate_huge_count_short_buffer_is_efault)
{
	struct iommu_viommu_invalidate_selftest *inv;
	__u32 idev, parent, viommu, num = 1U << 19;

	if (!testing_rust_iommufd())
		SKIP(return, "%s: not rust_iommufd, upstream WARNs on this",
		     iommufd_dev_path());
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, viommu_alloc(self->fd, idev, parent,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0,
				  &viommu));
	inv = map_two_pages(PROT_NONE);
	ASSERT_NE(MAP_FAILED, inv);
	EXPECT_ERRNO(EFAULT, hwpt_invalidate(self->fd, viommu,
				IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
				inv, sizeof(*inv), &num));
	EXPECT_EQ(0U, num);
	unmap_two_pages(inv);
}

/* IOMMU_VDEVICE_ALLOC */

/* A mock device on the IOAS, a nesting parent, a vIOMMU and its nested HWPT. */
struct viommu_env {
	__u32 stdev, idev, parent, viommu, nested;
};

static int viommu_env_setup(int fd, __u32 ioas_id, struct viommu_env *env)
{
	if (mock_domain(fd, ioas_id, &env->stdev, NULL, &env->idev) ||
	    hwpt_alloc(fd, env->idev, ioas_id, IOMMU_HWPT_ALLOC_NEST_PARENT,
		       &env->parent) ||
	    viommu_alloc(fd, env->idev, env->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
			 0, NULL, 0, &env->viommu))
		return -1;
	return hwpt_alloc_nested(fd, env->idev, env->viommu, 0,
				 IOMMU_TEST_IOTLB_DEFAULT, &env->nested);
}

/* The vDEVICE is what lets the device attach to the vIOMMU's nested HWPT. */
TEST_F(mock, vdevice_lets_its_device_attach_to_viommu_nested)
{
	struct viommu_env env;
	__u32 vdev, out;

	ASSERT_EQ(0, viommu_env_setup(self->fd, self->ioas_id, &env));
	EXPECT_ERRNO(ENOENT, mock_domain_replace(self->fd, env.stdev,
						 env.nested, NULL));
	ASSERT_EQ(0, vdevice_alloc(self->fd, env.viommu, env.idev, 0x99, &vdev));
	EXPECT_EQ(env.nested + 1, vdev);
	ASSERT_EQ(0, mock_domain_replace(self->fd, env.stdev, env.nested,
					 &out));
	EXPECT_EQ(env.nested, out);
	/* The vIOMMU is held by both; the vDEVICE by nothing. */
	EXPECT_ERRNO(EBUSY, destroy(self->fd, env.viommu));
	ASSERT_EQ(0, mock_domain_replace(self->fd, env.stdev, self->ioas_id,
					 NULL));
	ASSERT_EQ(0, destroy(self->fd, vdev));
	/* Gone with it: the device's id on the vIOMMU. */
	EXPECT_ERRNO(ENOENT, mock_domain_replace(self->fd, env.stdev,
						 env.nested, NULL));
	ASSERT_EQ(0, destroy(self->fd, env.nested));
	EXPECT_EQ(0, destroy(self->fd, env.viommu));
}

TEST_F(mock, vdevice_alloc_errors_leave_nothing)
{
	struct iommu_vdevice_alloc cmd = { .size = sizeof(cmd) };
	struct viommu_env env;
	__u32 stdev2, idev2, vdev;

	ASSERT_EQ(0, viommu_env_setup(self->fd, self->ioas_id, &env));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev2, NULL,
				 &idev2));
	/* Ids that name nothing, or something else. */
	EXPECT_ERRNO(ENOENT, vdevice_alloc(self->fd, 99, env.idev, 1, NULL));
	EXPECT_ERRNO(ENOENT, vdevice_alloc(self->fd, env.parent, env.idev, 1,
					   NULL));
	EXPECT_ERRNO(ENOENT, vdevice_alloc(self->fd, env.viommu, 99, 1, NULL));
	EXPECT_ERRNO(ENOENT, vdevice_alloc(self->fd, env.viommu, env.stdev, 1,
					   NULL));
	/* Size rules: virt_id is the last required field. */
	cmd.size = offsetof(struct iommu_vdevice_alloc, virt_id);
	cmd.viommu_id = env.viommu;
	cmd.dev_id = env.idev;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_VDEVICE_ALLOC, &cmd));

	ASSERT_EQ(0, vdevice_alloc(self->fd, env.viommu, env.idev, 0x99, &vdev));
	/* One vDEVICE per device; one device per virtual id. */
	EXPECT_ERRNO(EEXIST, vdevice_alloc(self->fd, env.viommu, env.idev,
					   0x88, NULL));
	EXPECT_ERRNO(EEXIST, vdevice_alloc(self->fd, env.viommu, idev2, 0x99,
					   NULL));
	/* None of the failures kept an id. */
	EXPECT_EQ(vdev + 1, next_free_id(self->fd));
	ASSERT_EQ(0, vdevice_alloc(self->fd, env.viommu, idev2, 0x88, NULL));
}

/* As upstream: destroying the device takes its vDEVICE along. */
TEST_F(mock, vdevice_goes_with_its_device)
{
	struct viommu_env env;
	__u32 vdev;

	ASSERT_EQ(0, viommu_env_setup(self->fd, self->ioas_id, &env));
	ASSERT_EQ(0, destroy(self->fd, env.nested));
	ASSERT_EQ(0, vdevice_alloc(self->fd, env.viommu, env.idev, 0x99, &vdev));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, env.viommu));
	ASSERT_EQ(0, destroy(self->fd, env.stdev));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, vdev));
	EXPECT_EQ(0, destroy(self->fd, env.viommu));
}

/* A destroyed vDEVICE frees its virtual id, and its device may get another. */
TEST_F(mock, vdevice_destroy_frees_the_virtual_id)
{
	struct viommu_env env;
	__u32 idev2, vdev;

	ASSERT_EQ(0, viommu_env_setup(self->fd, self->ioas_id, &env));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev2));
	ASSERT_EQ(0, vdevice_alloc(self->fd, env.viommu, env.idev, 0x99, &vdev));
	ASSERT_EQ(0, destroy(self->fd, vdev));
	ASSERT_EQ(0, vdevice_alloc(self->fd, env.viommu, idev2, 0x99, NULL));
	EXPECT_EQ(0, vdevice_alloc(self->fd, env.viommu, env.idev, 0x88, NULL));
}

/* Closing the file with vDEVICEs (attached or not) tears everything down. */
TEST_F(mock, close_with_vdevices_live)
{
	struct viommu_env env;
	__u32 idev2;

	ASSERT_EQ(0, viommu_env_setup(self->fd, self->ioas_id, &env));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev2));
	ASSERT_EQ(0, vdevice_alloc(self->fd, env.viommu, env.idev, 1, NULL));
	ASSERT_EQ(0, vdevice_alloc(self->fd, env.viommu, idev2, 2, NULL));
	ASSERT_EQ(0, mock_domain_replace(self->fd, env.stdev, env.nested,
					 NULL));
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
}

/* vIOMMU invalidation flushes the cache of the device with that virtual id. */
TEST_F(mock, viommu_invalidate_flushes_by_virtual_id)
{
	struct iommu_viommu_invalidate_selftest inv[2] = {};
	struct viommu_env env;
	__u32 idev2, num, i;

	ASSERT_EQ(0, viommu_env_setup(self->fd, self->ioas_id, &env));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev2));
	ASSERT_EQ(0, vdevice_alloc(self->fd, env.viommu, env.idev, 1, NULL));
	ASSERT_EQ(0, vdevice_alloc(self->fd, env.viommu, idev2, 2, NULL));

	/* One entry of one device. */
	ASSERT_EQ(0, viommu_invalidate_one(self->fd, env.viommu, 0, 1, 0, &num));
	EXPECT_EQ(1U, num);
	EXPECT_EQ(0, check_dev_cache(self->fd, env.idev, 0, 0));
	EXPECT_EQ(0, check_dev_cache(self->fd, env.idev, 1,
				     IOMMU_TEST_DEV_CACHE_DEFAULT));
	EXPECT_EQ(0, check_dev_cache(self->fd, idev2, 0,
				     IOMMU_TEST_DEV_CACHE_DEFAULT));

	/* A cache id past the last fails before the device is looked up. */
	EXPECT_ERRNO(EINVAL, viommu_invalidate_one(self->fd, env.viommu, 0, 1,
						   MOCK_DEV_CACHE_ID_MAX + 1,
						   &num));
	EXPECT_EQ(0U, num);

	/* Entries run in order: the first is done when the second fails. */
	inv[0].vdev_id = 1;
	inv[0].cache_id = 1;
	inv[1].vdev_id = 3;
	num = 2;
	EXPECT_ERRNO(EINVAL, hwpt_invalidate(self->fd, env.viommu,
				IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
				inv, sizeof(*inv), &num));
	EXPECT_EQ(1U, num);
	EXPECT_EQ(0, check_dev_cache(self->fd, env.idev, 1, 0));

	/*
	 * FLAG_ALL flushes every entry of its device; cache_id must still be
	 * in range (it is checked first), but which one does not matter.
	 */
	EXPECT_ERRNO(EINVAL, viommu_invalidate_one(self->fd, env.viommu,
					IOMMU_TEST_INVALIDATE_FLAG_ALL, 2,
					MOCK_DEV_CACHE_ID_MAX + 1, &num));
	EXPECT_EQ(0U, num);
	ASSERT_EQ(0, viommu_invalidate_one(self->fd, env.viommu,
					   IOMMU_TEST_INVALIDATE_FLAG_ALL, 2,
					   MOCK_DEV_CACHE_ID_MAX, &num));
	EXPECT_EQ(1U, num);
	for (i = 0; i < MOCK_DEV_CACHE_NUM; i++)
		EXPECT_EQ(0, check_dev_cache(self->fd, idev2, i, 0));
	EXPECT_EQ(0, check_dev_cache(self->fd, env.idev, 2,
				     IOMMU_TEST_DEV_CACHE_DEFAULT));
}

/* IOMMU_TEST_OP_MD_CHECK_REFS: upstream's teardown check for leaked pins. */
TEST_F(mock, md_check_refs_counts_pins_of_user_pages)
{
	size_t psz = page_size();
	char *pages;

	pages = map_two_pages(PROT_NONE);
	ASSERT_NE(MAP_FAILED, pages);
	pages[0] = 1;
	/* This module pins nothing: zero pins, so any other count is EIO. */
	EXPECT_EQ(0, check_refs(self->fd, pages, psz, 0));
	EXPECT_ERRNO(EIO, check_refs(self->fd, pages, psz, 1));
	EXPECT_EQ(0, check_refs(self->fd, pages, 0, 7));
	/* Page granular only. */
	EXPECT_ERRNO(EINVAL, check_refs(self->fd, pages + 1, psz, 0));
	EXPECT_ERRNO(EINVAL, check_refs(self->fd, pages, psz + 1, 0));
	EXPECT_ERRNO(EINVAL, check_refs(self->fd, (void *)(uintptr_t)-psz,
					2 * psz, 0));
	/* An inaccessible page cannot be looked at. */
	EXPECT_ERRNO(EFAULT, check_refs(self->fd, pages, 2 * psz, 0));
	unmap_two_pages(pages);
}

TEST_F(mock, viommu_alloc_unwritable_result_is_efault_and_leaves_nothing)
{
	struct iommu_viommu_alloc cmd = { .size = sizeof(cmd) };
	__u32 idev, parent;
	void *ro;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	cmd.type = IOMMU_VIOMMU_TYPE_SELFTEST;
	cmd.dev_id = idev;
	cmd.hwpt_id = parent;
	ro = read_only_copy(&cmd, sizeof(cmd));
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_VIOMMU_ALLOC, ro));
	munmap(ro, page_size());

	/* The parent is free again and the id was not kept. */
	EXPECT_EQ(parent + 1, next_free_id(self->fd));
	EXPECT_EQ(0, destroy(self->fd, parent));
}

/* IOMMU_GET_HW_INFO */

TEST_F(mock, get_hw_info_reports_selftest_data)
{
	struct iommu_test_hw_info data;
	struct iommu_hw_info info;
	__u32 idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	memset(&data, 0xa5, sizeof(data));
	ASSERT_EQ(0, get_hw_info(self->fd, idev, 0, 0, &data, sizeof(data),
				 &info));
	EXPECT_EQ(IOMMU_HW_INFO_TYPE_SELFTEST, info.out_data_type);
	EXPECT_EQ(sizeof(data), info.data_len);
	EXPECT_EQ(0U, data.flags);
	EXPECT_EQ(IOMMU_HW_INFO_SELFTEST_REGVAL, data.test_reg);
	EXPECT_EQ(0, info.out_max_pasid_log2);
	/* Dirty tracking, and ATS is not available on a mock device. */
	EXPECT_EQ((__u64)(IOMMU_HW_CAP_DIRTY_TRACKING |
			  IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED),
		  info.out_capabilities);
	EXPECT_EQ(0, info.__reserved[0]);
	EXPECT_EQ(0, info.__reserved[1]);
	EXPECT_EQ(0, info.__reserved[2]);
}

TEST_F(mock, get_hw_info_capabilities_follow_device_flags)
{
	struct iommu_hw_info info;
	__u32 no_dirty, pasid, both;

	ASSERT_EQ(0, mock_domain_flags(self->fd, self->ioas_id,
				       MOCK_FLAGS_DEVICE_NO_DIRTY, NULL, NULL,
				       &no_dirty));
	ASSERT_EQ(0, mock_domain_flags(self->fd, self->ioas_id,
				       MOCK_FLAGS_DEVICE_PASID, NULL, NULL,
				       &pasid));
	ASSERT_EQ(0, mock_domain_flags(self->fd, self->ioas_id,
				       MOCK_FLAGS_DEVICE_NO_DIRTY |
					       MOCK_FLAGS_DEVICE_PASID,
				       NULL, NULL, &both));

	ASSERT_EQ(0, get_hw_info(self->fd, no_dirty, 0, 0, NULL, 0, &info));
	EXPECT_EQ((__u64)IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED,
		  info.out_capabilities);
	EXPECT_EQ(0, info.out_max_pasid_log2);

	ASSERT_EQ(0, get_hw_info(self->fd, pasid, 0, 0, NULL, 0, &info));
	EXPECT_EQ((__u64)(IOMMU_HW_CAP_DIRTY_TRACKING |
			  IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED),
		  info.out_capabilities);
	EXPECT_EQ(MOCK_PASID_WIDTH, info.out_max_pasid_log2);

	ASSERT_EQ(0, get_hw_info(self->fd, both, 0, 0, NULL, 0, &info));
	EXPECT_EQ((__u64)IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED,
		  info.out_capabilities);
	EXPECT_EQ(MOCK_PASID_WIDTH, info.out_max_pasid_log2);
}

/* data_len 0 (even with no buffer) still reports the driver's length. */
TEST_F(mock, get_hw_info_zero_len_reports_data_len)
{
	struct iommu_hw_info info;
	__u32 idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, get_hw_info(self->fd, idev, 0, 0, NULL, 0, &info));
	EXPECT_EQ(sizeof(struct iommu_test_hw_info), info.data_len);
	EXPECT_EQ(IOMMU_HW_INFO_TYPE_SELFTEST, info.out_data_type);
}

/* A short buffer gets the first data_len bytes and nothing more. */
TEST_F(mock, get_hw_info_short_buffer_gets_prefix)
{
	struct iommu_test_hw_info data;
	struct iommu_hw_info info;
	__u32 idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	memset(&data, 0xa5, sizeof(data));
	ASSERT_EQ(0, get_hw_info(self->fd, idev, 0, 0, &data,
				 offsetofend(struct iommu_test_hw_info, flags),
				 &info));
	EXPECT_EQ(sizeof(data), info.data_len);
	EXPECT_EQ(0U, data.flags);
	EXPECT_EQ(0xa5a5a5a5U, data.test_reg);
}

/* A long buffer gets the data, then zeroes up to data_len. */
TEST_F(mock, get_hw_info_long_buffer_tail_is_zeroed)
{
	struct {
		struct iommu_test_hw_info data;
		__u8 tail[24];
	} buf;
	struct iommu_hw_info info;
	unsigned int i;
	__u32 idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	memset(&buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, get_hw_info(self->fd, idev, 0, 0, &buf,
				 sizeof(buf) - 8, &info));
	EXPECT_EQ(sizeof(buf.data), info.data_len);
	EXPECT_EQ(IOMMU_HW_INFO_SELFTEST_REGVAL, buf.data.test_reg);
	for (i = 0; i < sizeof(buf.tail) - 8; i++)
		ASSERT_EQ(0, buf.tail[i]) TH_LOG("byte %u not zeroed", i);
	for (; i < sizeof(buf.tail); i++)
		ASSERT_EQ(0xa5, buf.tail[i]) TH_LOG("byte %u written", i);
}

TEST_F(mock, get_hw_info_unwritable_buffer_is_efault)
{
	struct iommu_hw_info info;
	size_t psz = page_size();
	void *pages;
	__u32 idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	EXPECT_ERRNO(EFAULT, get_hw_info(self->fd, idev, 0, 0, NULL,
					 sizeof(struct iommu_test_hw_info),
					 &info));
	/* The data fits, the zeroing past it does not. */
	pages = map_two_pages(PROT_READ);
	ASSERT_NE(MAP_FAILED, pages);
	EXPECT_ERRNO(EFAULT, get_hw_info(self->fd, idev, 0, 0,
					 (char *)pages + psz - 8, 16, &info));
	unmap_two_pages(pages);
}

/* Data delivered, but the command's outputs cannot be written: EFAULT. */
TEST_F(mock, get_hw_info_unwritable_result_is_efault)
{
	struct iommu_test_hw_info data = {};
	struct iommu_hw_info cmd = { .size = sizeof(cmd) };
	void *ro;
	__u32 idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	cmd.dev_id = idev;
	cmd.data_len = sizeof(data);
	cmd.data_uptr = PTR_U64(&data);
	ro = read_only_copy(&cmd, sizeof(cmd));
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_GET_HW_INFO, ro));
	munmap(ro, page_size());
	EXPECT_EQ(IOMMU_HW_INFO_SELFTEST_REGVAL, data.test_reg);
}

/* With IOMMU_HW_INFO_FLAG_INPUT_TYPE the requested type must be one the
 * mock driver knows: DEFAULT or SELFTEST. Without it the field is ignored.
 */
struct hw_info_call {
	int fd;
	__u32 idev;
	void *data;
	int ret, err;
};

static void *hw_info_thread(void *arg)
{
	struct hw_info_call *c = arg;

	c->ret = get_hw_info(c->fd, c->idev, 0, 0, c->data,
			     sizeof(struct iommu_test_hw_info), NULL);
	c->err = errno;
	return NULL;
}

struct replace_call {
	int fd;
	__u32 stdev, hwpt;
	int ret, err, done;
};

static void *replace_thread(void *arg)
{
	struct replace_call *c = arg;

	c->ret = mock_domain_replace(c->fd, c->stdev, c->hwpt, NULL);
	c->err = errno;
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * A GET_HW_INFO whose copy to user space stalls (on a userfaultfd page
 * nobody serves yet) holds up nothing else on the device: an attach
 * change goes through meanwhile. Before the copy moved out of the
 * device's lock, the replace waited for the page.
 */
TEST_F(mock, get_hw_info_stalled_copy_does_not_hold_up_the_device)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct hw_info_call hw = { .fd = self->fd };
	struct replace_call rp = { .fd = self->fd };
	struct uffdio_register reg = { 0 };
	struct uffdio_zeropage zero = { 0 };
	struct pollfd pfd = { .events = POLLIN };
	const size_t psz = page_size();
	pthread_t hw_thread, rp_thread;
	struct uffd_msg msg;
	void *page;
	int uffd, i;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (uffd < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	page = mmap(NULL, psz, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	reg.range.start = PTR_U64(page);
	reg.range.len = psz;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &rp.stdev, NULL,
				 &hw.idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, hw.idev, self->ioas_id, 0, &rp.hwpt));

	hw.data = page;
	ASSERT_EQ(0, pthread_create(&hw_thread, NULL, hw_info_thread, &hw));
	/* The copy is stalled once the fault shows up on the uffd. */
	pfd.fd = uffd;
	ASSERT_EQ(1, poll(&pfd, 1, 30000));
	ASSERT_EQ((ssize_t)sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);

	ASSERT_EQ(0, pthread_create(&rp_thread, NULL, replace_thread, &rp));
	for (i = 0; i < 200 && !__atomic_load_n(&rp.done, __ATOMIC_ACQUIRE);
	     i++)
		usleep(50000);
	EXPECT_TRUE(__atomic_load_n(&rp.done, __ATOMIC_ACQUIRE))
		TH_LOG("the replace waited 10 s for a stalled GET_HW_INFO copy");

	/* Serve the page: the copy goes on. */
	zero.range.start = PTR_U64(page);
	zero.range.len = psz;
	EXPECT_EQ(0, ioctl(uffd, UFFDIO_ZEROPAGE, &zero));
	pthread_join(hw_thread, NULL);
	pthread_join(rp_thread, NULL);
	EXPECT_EQ(0, rp.ret) TH_LOG("replace: errno %d", rp.err);
	EXPECT_EQ(0, hw.ret) TH_LOG("GET_HW_INFO: errno %d", hw.err);
	EXPECT_EQ(IOMMU_HW_INFO_SELFTEST_REGVAL,
		  ((struct iommu_test_hw_info *)page)->test_reg);
	munmap(page, psz);
	close(uffd);
}

TEST_F(mock, get_hw_info_input_type)
{
	struct iommu_test_hw_info data;
	struct iommu_hw_info info;
	__u32 idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	ASSERT_EQ(0, get_hw_info(self->fd, idev,
				 IOMMU_HW_INFO_FLAG_INPUT_TYPE,
				 IOMMU_HW_INFO_TYPE_SELFTEST, &data,
				 sizeof(data), &info));
	EXPECT_EQ(IOMMU_HW_INFO_TYPE_SELFTEST, info.out_data_type);
	ASSERT_EQ(0, get_hw_info(self->fd, idev,
				 IOMMU_HW_INFO_FLAG_INPUT_TYPE,
				 IOMMU_HW_INFO_TYPE_DEFAULT, &data,
				 sizeof(data), &info));
	EXPECT_EQ(IOMMU_HW_INFO_TYPE_SELFTEST, info.out_data_type);

	EXPECT_ERRNO(EOPNOTSUPP, get_hw_info(self->fd, idev,
					     IOMMU_HW_INFO_FLAG_INPUT_TYPE,
					     IOMMU_HW_INFO_TYPE_SELFTEST + 1,
					     &data, sizeof(data), &info));
	EXPECT_ERRNO(EOPNOTSUPP, get_hw_info(self->fd, idev,
					     IOMMU_HW_INFO_FLAG_INPUT_TYPE,
					     IOMMU_HW_INFO_TYPE_INTEL_VTD,
					     &data, sizeof(data), &info));

	ASSERT_EQ(0, get_hw_info(self->fd, idev, 0, 0x12345678, &data,
				 sizeof(data), &info));
	EXPECT_EQ(IOMMU_HW_INFO_TYPE_SELFTEST, info.out_data_type);
}

TEST_F(mock, get_hw_info_unknown_flags_or_reserved_is_eopnotsupp)
{
	struct iommu_hw_info cmd = { .size = sizeof(cmd) };
	unsigned int i;
	__u32 idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	cmd.dev_id = idev;
	cmd.flags = 1U << 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_GET_HW_INFO, &cmd));
	cmd.flags = 1U << 31;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_GET_HW_INFO, &cmd));
	cmd.flags = 0;
	for (i = 0; i < 3; i++) {
		memset(cmd.__reserved, 0, sizeof(cmd.__reserved));
		cmd.__reserved[i] = 1;
		EXPECT_ERRNO(EOPNOTSUPP,
			     ioctl(self->fd, IOMMU_GET_HW_INFO, &cmd));
	}
	/* Checked before the device lookup. */
	cmd.dev_id = 99;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_GET_HW_INFO, &cmd));
}

TEST_F(mock, get_hw_info_dev_id_not_a_device_is_enoent)
{
	__u32 stdev, hwpt, idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &hwpt,
				 &idev));
	EXPECT_ERRNO(ENOENT, get_hw_info(self->fd, stdev, 0, 0, NULL, 0, NULL));
	EXPECT_ERRNO(ENOENT, get_hw_info(self->fd, hwpt, 0, 0, NULL, 0, NULL));
	EXPECT_ERRNO(ENOENT, get_hw_info(self->fd, self->ioas_id, 0, 0, NULL,
					 0, NULL));
	EXPECT_ERRNO(ENOENT, get_hw_info(self->fd, 0, 0, 0, NULL, 0, NULL));
}

/*
 * The minimum size ends at __reserved: with it, out_capabilities is neither
 * read nor written back.
 */
TEST_F(mock, get_hw_info_min_size_leaves_capabilities_alone)
{
	struct iommu_hw_info cmd;
	__u32 idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	memset(&cmd, 0, sizeof(cmd));
	cmd.dev_id = idev;
	cmd.size = offsetofend(struct iommu_hw_info, __reserved) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_GET_HW_INFO, &cmd));

	cmd.size = offsetofend(struct iommu_hw_info, __reserved);
	cmd.out_capabilities = 0xa5a5a5a5a5a5a5a5ULL;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_GET_HW_INFO, &cmd));
	EXPECT_EQ(IOMMU_HW_INFO_TYPE_SELFTEST, cmd.out_data_type);
	EXPECT_EQ(sizeof(struct iommu_test_hw_info), cmd.data_len);
	EXPECT_EQ(0xa5a5a5a5a5a5a5a5ULL, cmd.out_capabilities);
}

/* TRIGGER_IOPF and DEV_CHECK_CACHE */

/* No fault-capable HWPT: the fault goes nowhere and the op succeeds. */
TEST_F(mock, trigger_iopf_without_fault_hwpt_succeeds)
{
	__u32 stdev, idev, pasid_idev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, NULL, &idev));
	EXPECT_EQ(0, trigger_iopf(self->fd, idev, 0));
	EXPECT_EQ(0, trigger_iopf(self->fd, idev, 1));
	ASSERT_EQ(0, mock_domain_flags(self->fd, self->ioas_id,
				       MOCK_FLAGS_DEVICE_PASID, NULL, NULL,
				       &pasid_idev));
	EXPECT_EQ(0, trigger_iopf(self->fd, pasid_idev, 100));
	/* Nothing changed: the device can still go away normally. */
	EXPECT_EQ(0, destroy(self->fd, stdev));
}

TEST_F(mock, trigger_iopf_dev_id_not_a_device_is_enoent)
{
	__u32 stdev, hwpt;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &hwpt, NULL));
	EXPECT_ERRNO(ENOENT, trigger_iopf(self->fd, stdev, 0));
	EXPECT_ERRNO(ENOENT, trigger_iopf(self->fd, hwpt, 0));
	EXPECT_ERRNO(ENOENT, trigger_iopf(self->fd, 0, 0));
}

TEST_F(mock, dev_check_cache_starts_at_default)
{
	__u32 idev, i;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, &idev));
	for (i = 0; i < MOCK_DEV_CACHE_NUM; i++) {
		EXPECT_EQ(0, check_dev_cache(self->fd, idev, i,
					     IOMMU_TEST_DEV_CACHE_DEFAULT));
		EXPECT_ERRNO(EINVAL, check_dev_cache(self->fd, idev, i, 0));
	}
	EXPECT_ERRNO(EINVAL, check_dev_cache(self->fd, idev,
					     MOCK_DEV_CACHE_ID_MAX + 1,
					     IOMMU_TEST_DEV_CACHE_DEFAULT));
}

TEST_F(mock, dev_check_cache_id_not_a_device_is_enoent)
{
	__u32 stdev, hwpt;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &hwpt, NULL));
	EXPECT_ERRNO(ENOENT, check_dev_cache(self->fd, stdev, 0,
					     IOMMU_TEST_DEV_CACHE_DEFAULT));
	EXPECT_ERRNO(ENOENT, check_dev_cache(self->fd, hwpt, 0,
					     IOMMU_TEST_DEV_CACHE_DEFAULT));
	EXPECT_ERRNO(ENOENT, check_dev_cache(self->fd, 0, 0,
					     IOMMU_TEST_DEV_CACHE_DEFAULT));
}

/* PASID */

/*
 * A PASID-capable mock device whose RID sits on a PASID-compatible paging
 * HWPT @s2, plus a nesting parent and PASID-compatible nested HWPTs.
 */
struct pasid_env {
	__u32 stdev, idev, parent, s2, nested[2];
};

static void pasid_setup(struct __test_metadata *_metadata, int fd,
			__u32 ioas_id, struct pasid_env *env)
{
	unsigned int i;

	ASSERT_EQ(0, mock_domain_flags(fd, ioas_id, MOCK_FLAGS_DEVICE_PASID,
				       &env->stdev, NULL, &env->idev));
	ASSERT_EQ(0, hwpt_alloc(fd, env->idev, ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &env->parent));
	ASSERT_EQ(0, hwpt_alloc(fd, env->idev, ioas_id,
				IOMMU_HWPT_ALLOC_PASID, &env->s2));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, hwpt_alloc_nested(fd, env->idev, env->parent,
					       IOMMU_HWPT_ALLOC_PASID,
					       IOMMU_TEST_IOTLB_DEFAULT,
					       &env->nested[i]));
	ASSERT_EQ(0, mock_domain_replace(fd, env->stdev, env->s2, NULL));
}

TEST_F(mock, pasid_detach_of_unattached_pasid_succeeds)
{
	struct pasid_env env;

	pasid_setup(_metadata, self->fd, self->ioas_id, &env);
	EXPECT_EQ(0, pasid_detach(self->fd, env.stdev, 100));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 100, 0));
}

TEST_F(mock, pasid_attach_check_detach)
{
	struct pasid_env env;

	pasid_setup(_metadata, self->fd, self->ioas_id, &env);
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 100, 0));

	ASSERT_EQ(0, pasid_attach(self->fd, env.stdev, 100, env.s2));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 100, env.s2));
	EXPECT_ERRNO(EINVAL, pasid_check(self->fd, env.stdev, 100,
					 env.nested[0]));
	EXPECT_ERRNO(EINVAL, pasid_check(self->fd, env.stdev, 100, 0));
	/* Other PASIDs are untouched. */
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 101, 0));

	ASSERT_EQ(0, pasid_attach(self->fd, env.stdev, 200, env.nested[0]));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 200, env.nested[0]));

	ASSERT_EQ(0, pasid_detach(self->fd, env.stdev, 100));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 100, 0));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 200, env.nested[0]));
	ASSERT_EQ(0, pasid_detach(self->fd, env.stdev, 200));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 200, 0));
}

/* Attach does not overwrite: a PASID in use needs REPLACE. */
TEST_F(mock, pasid_attach_to_attached_pasid_is_ebusy)
{
	struct pasid_env env;

	pasid_setup(_metadata, self->fd, self->ioas_id, &env);
	ASSERT_EQ(0, pasid_attach(self->fd, env.stdev, 100, env.nested[0]));
	EXPECT_ERRNO(EBUSY, pasid_attach(self->fd, env.stdev, 100,
					 env.nested[0]));
	EXPECT_ERRNO(EBUSY, pasid_attach(self->fd, env.stdev, 100, env.s2));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 100, env.nested[0]));
	ASSERT_EQ(0, pasid_detach(self->fd, env.stdev, 100));
}

/* Only HWPTs allocated with IOMMU_HWPT_ALLOC_PASID go on a PASID. */
TEST_F(mock, pasid_attach_needs_pasid_compatible_hwpt)
{
	struct pasid_env env;
	__u32 plain;

	pasid_setup(_metadata, self->fd, self->ioas_id, &env);
	ASSERT_EQ(0, hwpt_alloc(self->fd, env.idev, self->ioas_id, 0, &plain));
	EXPECT_ERRNO(EINVAL, pasid_attach(self->fd, env.stdev, 100, plain));
	EXPECT_ERRNO(EINVAL, pasid_attach(self->fd, env.stdev, 100,
					  env.parent));
	/* An IOAS would need an auto HWPT, which is never PASID-compatible. */
	EXPECT_ERRNO(EINVAL, pasid_attach(self->fd, env.stdev, 100,
					  self->ioas_id));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 100, 0));
	EXPECT_EQ(0, destroy(self->fd, plain));
}

/*
 * While the RID is on a HWPT without the PASID flag, no PASID can be
 * attached; while a PASID is attached, the RID cannot move to such a HWPT.
 */
TEST_F(mock, pasid_and_rid_hwpts_must_both_be_pasid_compatible)
{
	struct pasid_env env;
	__u32 out;

	pasid_setup(_metadata, self->fd, self->ioas_id, &env);
	ASSERT_EQ(0, mock_domain_replace(self->fd, env.stdev, env.parent,
					 NULL));
	EXPECT_ERRNO(EINVAL, pasid_attach(self->fd, env.stdev, 100, env.s2));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 100, 0));

	ASSERT_EQ(0, mock_domain_replace(self->fd, env.stdev, env.s2, NULL));
	ASSERT_EQ(0, pasid_attach(self->fd, env.stdev, 100, env.nested[0]));
	EXPECT_ERRNO(EINVAL, mock_domain_replace(self->fd, env.stdev,
						 env.parent, NULL));
	EXPECT_ERRNO(EINVAL, mock_domain_replace(self->fd, env.stdev,
						 self->ioas_id, NULL));
	/* A PASID-compatible nested HWPT is fine for the RID. */
	ASSERT_EQ(0, mock_domain_replace(self->fd, env.stdev, env.nested[1],
					 &out));
	EXPECT_EQ(env.nested[1], out);
	ASSERT_EQ(0, pasid_detach(self->fd, env.stdev, 100));
	ASSERT_EQ(0, mock_domain_replace(self->fd, env.stdev, env.parent,
					 NULL));
}

/* The device advertises 20 PASID bits: 1 << 20 and above are refused. */
TEST_F(mock, pasid_beyond_device_width_is_einval)
{
	struct pasid_env env;

	pasid_setup(_metadata, self->fd, self->ioas_id, &env);
	EXPECT_ERRNO(EINVAL, pasid_attach(self->fd, env.stdev,
					  1U << MOCK_PASID_WIDTH, env.s2));
	EXPECT_ERRNO(EINVAL, pasid_attach(self->fd, env.stdev, 0xfffffffe,
					  env.s2));
	ASSERT_EQ(0, pasid_attach(self->fd, env.stdev,
				  (1U << MOCK_PASID_WIDTH) - 1, env.s2));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev,
				 (1U << MOCK_PASID_WIDTH) - 1, env.s2));
	ASSERT_EQ(0, pasid_detach(self->fd, env.stdev,
				  (1U << MOCK_PASID_WIDTH) - 1));
}

/* A device without PASID support, RID on its (plain) auto HWPT. */
TEST_F(mock, pasid_attach_on_non_pasid_device_is_einval)
{
	__u32 stdev, idev, s2;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, NULL, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
				IOMMU_HWPT_ALLOC_PASID, &s2));
	EXPECT_ERRNO(EINVAL, pasid_attach(self->fd, stdev, 100, s2));
	EXPECT_EQ(0, pasid_check(self->fd, stdev, 100, 0));
}

TEST_F(mock, pasid_replace_walks_through_hwpts)
{
	struct pasid_env env;

	pasid_setup(_metadata, self->fd, self->ioas_id, &env);
	/* Nothing to replace yet. */
	EXPECT_ERRNO(EINVAL, pasid_replace(self->fd, env.stdev, 200, env.s2));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 200, 0));

	ASSERT_EQ(0, pasid_attach(self->fd, env.stdev, 200, env.s2));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 200, env.s2));
	ASSERT_EQ(0, pasid_replace(self->fd, env.stdev, 200, env.nested[0]));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 200, env.nested[0]));
	/* s2 is still the RID's HWPT. */
	EXPECT_ERRNO(EBUSY, destroy(self->fd, env.s2));
	ASSERT_EQ(0, pasid_replace(self->fd, env.stdev, 200, env.nested[1]));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 200, env.nested[1]));
	/* The one left behind is free to go, the new one is busy. */
	EXPECT_EQ(0, destroy(self->fd, env.nested[0]));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, env.nested[1]));
	/* Replacing with the current HWPT is a no-op. */
	ASSERT_EQ(0, pasid_replace(self->fd, env.stdev, 200, env.nested[1]));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 200, env.nested[1]));
	ASSERT_EQ(0, pasid_detach(self->fd, env.stdev, 200));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 200, 0));
	EXPECT_EQ(0, destroy(self->fd, env.nested[1]));
}

TEST_F(mock, pasid_replace_to_ioas_or_plain_hwpt_fails_keeps_old)
{
	struct pasid_env env;
	__u32 plain;

	pasid_setup(_metadata, self->fd, self->ioas_id, &env);
	ASSERT_EQ(0, hwpt_alloc(self->fd, env.idev, self->ioas_id, 0, &plain));
	ASSERT_EQ(0, pasid_attach(self->fd, env.stdev, 200, env.s2));
	EXPECT_ERRNO(EINVAL, pasid_replace(self->fd, env.stdev, 200,
					   self->ioas_id));
	EXPECT_ERRNO(EINVAL, pasid_replace(self->fd, env.stdev, 200, plain));
	EXPECT_ERRNO(ENOENT, pasid_replace(self->fd, env.stdev, 200, 99));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 200, env.s2));
	ASSERT_EQ(0, pasid_detach(self->fd, env.stdev, 200));
	EXPECT_EQ(0, destroy(self->fd, plain));
}

/*
 * IOMMU_TEST_PASID_RESERVED: after a domain is set on PASID 1024, the mock
 * driver fails the next set (ENOMEM) and clears its flag, so a replace
 * fails once, keeps the old HWPT, and succeeds when tried again.
 */
TEST_F(mock, pasid_reserved_1024_fails_the_first_replace)
{
	const __u32 pasid = IOMMU_TEST_PASID_RESERVED;
	struct pasid_env env;

	pasid_setup(_metadata, self->fd, self->ioas_id, &env);
	ASSERT_EQ(0, pasid_attach(self->fd, env.stdev, pasid, env.s2));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, pasid, env.s2));

	EXPECT_ERRNO(ENOMEM, pasid_replace(self->fd, env.stdev, pasid,
					   env.nested[0]));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, pasid, env.s2));
	/* The failed replace took no reference on the new HWPT. */
	EXPECT_EQ(0, destroy(self->fd, env.nested[0]));

	ASSERT_EQ(0, pasid_replace(self->fd, env.stdev, pasid, env.nested[1]));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, pasid, env.nested[1]));
	ASSERT_EQ(0, pasid_detach(self->fd, env.stdev, pasid));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, pasid, 0));

	/* Detach reset the flag: attach, then replace fails once again. */
	ASSERT_EQ(0, pasid_attach(self->fd, env.stdev, pasid, env.s2));
	EXPECT_ERRNO(ENOMEM, pasid_replace(self->fd, env.stdev, pasid,
					   env.nested[1]));
	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, pasid, env.s2));
	ASSERT_EQ(0, pasid_detach(self->fd, env.stdev, pasid));
}

/* A PASID attach whose result cannot be written back is undone. */
TEST_F(mock, pasid_attach_unwritable_result_is_efault_and_detached)
{
	struct iommu_test_cmd cmd;
	struct pasid_env env;
	void *ro;

	pasid_setup(_metadata, self->fd, self->ioas_id, &env);
	test_cmd_init(&cmd, IOMMU_TEST_OP_PASID_ATTACH, env.stdev);
	cmd.pasid_attach.pasid = 100;
	cmd.pasid_attach.pt_id = env.s2;
	ro = read_only_copy(&cmd, sizeof(cmd));
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_TEST_CMD, ro));
	munmap(ro, page_size());

	EXPECT_EQ(0, pasid_check(self->fd, env.stdev, 100, 0));
	ASSERT_EQ(0, pasid_attach(self->fd, env.stdev, 100, env.s2));
	ASSERT_EQ(0, pasid_detach(self->fd, env.stdev, 100));
}

/* An attached PASID holds its HWPT. */
TEST_F(mock, destroy_hwpt_attached_to_pasid_is_ebusy)
{
	struct pasid_env env;

	pasid_setup(_metadata, self->fd, self->ioas_id, &env);
	ASSERT_EQ(0, pasid_attach(self->fd, env.stdev, 300, env.nested[0]));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, env.nested[0]));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, env.parent));
	ASSERT_EQ(0, pasid_detach(self->fd, env.stdev, 300));
	EXPECT_EQ(0, destroy(self->fd, env.nested[0]));
}

/* PASID ops name the device by its stdev; pt/hwpt ids by kind. */
TEST_F(mock, pasid_ops_object_kinds)
{
	struct pasid_env env;

	pasid_setup(_metadata, self->fd, self->ioas_id, &env);
	EXPECT_ERRNO(ENOENT, pasid_attach(self->fd, env.idev, 100, env.s2));
	EXPECT_ERRNO(ENOENT, pasid_replace(self->fd, env.idev, 100, env.s2));
	EXPECT_ERRNO(ENOENT, pasid_detach(self->fd, env.idev, 100));
	EXPECT_ERRNO(ENOENT, pasid_check(self->fd, env.idev, 100, 0));
	EXPECT_ERRNO(ENOENT, pasid_detach(self->fd, 99, 100));

	EXPECT_ERRNO(ENOENT, pasid_attach(self->fd, env.stdev, 100, 99));
	EXPECT_ERRNO(EINVAL, pasid_attach(self->fd, env.stdev, 100, env.idev));
	/* CHECK: unknown HWPT id ENOENT, a non-HWPT object EINVAL. */
	EXPECT_ERRNO(ENOENT, pasid_check(self->fd, env.stdev, 100, 99));
	EXPECT_ERRNO(EINVAL, pasid_check(self->fd, env.stdev, 100,
					 self->ioas_id));
	EXPECT_ERRNO(EINVAL, pasid_check(self->fd, env.stdev, 100, env.idev));
}

/* Closing the file with everything live */

/*
 * Devices on auto, manual and nested HWPTs, a vIOMMU with nested HWPTs on
 * it, spare HWPTs: release has to take it all down in a valid order.
 * Leaks and splats are for kmemleak and dmesg to report.
 */
TEST_F(mock, close_with_devices_hwpts_and_viommu_live)
{
	struct iommu_viommu_selftest vdata = { .in_data = 7 };
	__u32 stdev[4], idev[4], parent, manual, nested, viommu, vnested;
	__u32 ioas2;
	int fd;

	fd = iommufd_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioas_alloc(fd, &ioas2));
	ASSERT_EQ(0, mock_domain(fd, ioas2, &stdev[0], NULL, &idev[0]));
	ASSERT_EQ(0, mock_domain(fd, ioas2, &stdev[1], NULL, &idev[1]));
	ASSERT_EQ(0, mock_domain_flags(fd, ioas2, MOCK_FLAGS_DEVICE_PASID,
				       &stdev[2], NULL, &idev[2]));
	ASSERT_EQ(0, hwpt_alloc(fd, idev[0], ioas2,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, hwpt_alloc(fd, idev[0], ioas2, 0, &manual));
	ASSERT_EQ(0, hwpt_alloc_nested(fd, idev[0], parent, 0,
				       IOMMU_TEST_IOTLB_DEFAULT, &nested));
	ASSERT_EQ(0, viommu_alloc(fd, idev[0], parent,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, &vdata,
				  sizeof(vdata), &viommu));
	ASSERT_EQ(0, hwpt_alloc_nested(fd, idev[0], viommu, 0,
				       IOMMU_TEST_IOTLB_DEFAULT, &vnested));
	ASSERT_EQ(0, mock_domain_replace(fd, stdev[1], manual, NULL));
	ASSERT_EQ(0, mock_domain_replace(fd, stdev[2], nested, NULL));
	ASSERT_EQ(0, mock_domain(fd, parent, &stdev[3], NULL, &idev[3]));
	EXPECT_EQ(0, close(fd));

	/* A new file starts empty. */
	fd = iommufd_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioas_alloc(fd, &ioas2));
	EXPECT_EQ(1U, ioas2);
	EXPECT_EQ(0, close(fd));
}

/* Many devices sharing one auto HWPT, closed without any cleanup. */
TEST_F(mock, close_with_many_devices_on_one_auto_hwpt)
{
	__u32 hwpt, first = 0;
	unsigned int i;
	int fd;

	fd = iommufd_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioas_alloc(fd, NULL));
	for (i = 0; i < 32; i++) {
		ASSERT_EQ(0, mock_domain(fd, 1, NULL, &hwpt, NULL));
		if (!first)
			first = hwpt;
		ASSERT_EQ(first, hwpt);
	}
	EXPECT_EQ(0, close(fd));
}

/*
 * Intentional difference: closing the file while PASIDs are attached must
 * tear everything down cleanly. Upstream's selftest object only detaches
 * the RID before unbinding, so its release WARNs and leaks the device;
 * the case therefore only runs against rust_iommufd.
 */
TEST_F(mock, close_with_pasids_attached)
{
	struct pasid_env env;
	__u32 ioas;
	int fd;

	if (!testing_rust_iommufd())
		SKIP(return, "%s: not rust_iommufd, upstream WARNs on this",
		     iommufd_dev_path());
	fd = iommufd_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioas_alloc(fd, &ioas));
	pasid_setup(_metadata, fd, ioas, &env);
	ASSERT_EQ(0, pasid_attach(fd, env.stdev, 100, env.nested[0]));
	ASSERT_EQ(0, pasid_attach(fd, env.stdev, 200, env.s2));
	ASSERT_EQ(0, pasid_attach(fd, env.stdev, IOMMU_TEST_PASID_RESERVED,
				  env.nested[1]));
	EXPECT_EQ(0, close(fd));

	fd = iommufd_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioas_alloc(fd, &ioas));
	EXPECT_EQ(1U, ioas);
	EXPECT_EQ(0, close(fd));
}

/*
 * A device made after another was destroyed may be that device again
 * (rust_iommufd keeps idle ones, see mock_idle_devices): it must start as
 * a new one, its cache entries back to their default, attachable and with
 * no vDEVICE. Runs on either module.
 */
#define IDLE_PARAM "/sys/module/rust_iommufd/parameters/mock_idle_devices"

/* Writes @value to rust_iommufd's mock_idle_devices; false if it cannot. */
static bool set_idle_devices(const char *value)
{
	FILE *f = fopen(IDLE_PARAM, "w");
	bool ok;

	if (!f)
		return false;
	ok = fputs(value, f) >= 0;
	return !fclose(f) && ok;
}

TEST_F(mock, next_device_starts_clean)
{
	__u32 stdev, idev, parent, viommu, vdev, num;
	/* Reuse on for this case (off by default); back off after it. */
	bool reuse = set_idle_devices("4\n");

	for (int round = 0; round < 3; round++) {
		ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, NULL,
					 &idev));
		for (__u32 slot = 0; slot < MOCK_DEV_CACHE_NUM; slot++)
			EXPECT_EQ(0, check_dev_cache(self->fd, idev, slot,
					IOMMU_TEST_DEV_CACHE_DEFAULT));
		ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id,
					IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
		ASSERT_EQ(0, viommu_alloc(self->fd, idev, parent,
					  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL,
					  0, &viommu));
		ASSERT_EQ(0, vdevice_alloc(self->fd, viommu, idev, 1, &vdev));
		ASSERT_EQ(0, viommu_invalidate_one(self->fd, viommu,
				IOMMU_TEST_INVALIDATE_FLAG_ALL, 1, 0, &num));
		EXPECT_EQ(0, check_dev_cache(self->fd, idev, 0, 0));
		/* The device goes with its vDEVICE. */
		ASSERT_EQ(0, destroy(self->fd, stdev));
		EXPECT_EQ(0, destroy(self->fd, viommu));
		EXPECT_EQ(0, destroy(self->fd, parent));
	}
	/* Closing the file with reuse off again lets the idle ones go. */
	if (reuse)
		EXPECT_TRUE(set_idle_devices("0\n"));
}

TEST_HARNESS_MAIN
