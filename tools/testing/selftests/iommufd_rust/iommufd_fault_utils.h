/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the fault queue tests: IOMMU_FAULT_QUEUE_ALLOC, fault-capable
 * HWPTs, the fault fd protocol, and the mock device's fault ops.
 *
 * As in the other helper headers, ioctl wrappers return what ioctl()
 * returned and store outputs only on success.
 */
#ifndef __IOMMUFD_RUST_FAULT_UTILS_H
#define __IOMMUFD_RUST_FAULT_UTILS_H

#include <poll.h>

#include "iommufd_mock_utils.h"

#define RECORD_SIZE sizeof(struct iommu_hwpt_pgfault)
#define RESPONSE_SIZE sizeof(struct iommu_hwpt_page_response)

/* What the fixture's faults carry unless a test says otherwise. */
#define TEST_PERM (IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE)
#define TEST_ADDR 0x12345000ULL

/* IOMMU_FAULT_QUEUE_ALLOC with flags 0. */
static inline int fault_alloc(int fd, __u32 *id, int *fault_fd)
{
	struct iommu_fault_alloc cmd = { .size = sizeof(cmd) };
	int ret;

	ret = ioctl(fd, IOMMU_FAULT_QUEUE_ALLOC, &cmd);
	if (!ret) {
		if (id)
			*id = cmd.out_fault_id;
		if (fault_fd)
			*fault_fd = cmd.out_fault_fd;
	}
	return ret;
}

/* A HWPT of @flags on @pt_id whose faults go to @fault_id. */
static inline int hwpt_alloc_fault(int fd, __u32 dev_id, __u32 pt_id,
				   __u32 flags, __u32 fault_id, __u32 *hwpt_id)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags | IOMMU_HWPT_FAULT_ID_VALID,
		.dev_id = dev_id,
		.pt_id = pt_id,
		.fault_id = fault_id,
	};
	int ret;

	ret = ioctl(fd, IOMMU_HWPT_ALLOC, &cmd);
	if (!ret && hwpt_id)
		*hwpt_id = cmd.out_hwpt_id;
	return ret;
}

/* The same for a nested mock HWPT on @pt_id (parent HWPT or vIOMMU). */
static inline int hwpt_alloc_nested_fault(int fd, __u32 dev_id, __u32 pt_id,
					  __u32 flags, __u32 fault_id,
					  __u32 *hwpt_id)
{
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags | IOMMU_HWPT_FAULT_ID_VALID,
		.dev_id = dev_id,
		.pt_id = pt_id,
		.data_type = IOMMU_HWPT_DATA_SELFTEST,
		.data_len = sizeof(data),
		.data_uptr = PTR_U64(&data),
		.fault_id = fault_id,
	};
	int ret;

	ret = ioctl(fd, IOMMU_HWPT_ALLOC, &cmd);
	if (!ret && hwpt_id)
		*hwpt_id = cmd.out_hwpt_id;
	return ret;
}

/* IOMMU_TEST_OP_TRIGGER_IOPF (upstream's): one fault, last of its group. */
static inline int trigger_fault(int fd, __u32 idev_id, __u32 pasid,
				__u32 grpid)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_TRIGGER_IOPF, 0);
	cmd.trigger_iopf.dev_id = idev_id;
	cmd.trigger_iopf.pasid = pasid;
	cmd.trigger_iopf.grpid = grpid;
	cmd.trigger_iopf.perm = TEST_PERM;
	cmd.trigger_iopf.addr = TEST_ADDR;
	return test_cmd(fd, &cmd);
}

/* IOMMU_TEST_OP_RUST_TRIGGER_IOPF_GROUP: @count faults of group @grpid. */
static inline int trigger_group(int fd, __u32 idev_id, __u32 pasid,
				__u32 grpid, __u32 count)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_RUST_TRIGGER_IOPF_GROUP, 0);
	cmd.trigger_iopf_group.dev_id = idev_id;
	cmd.trigger_iopf_group.pasid = pasid;
	cmd.trigger_iopf_group.grpid = grpid;
	cmd.trigger_iopf_group.perm = TEST_PERM;
	cmd.trigger_iopf_group.addr = TEST_ADDR;
	cmd.trigger_iopf_group.count = count;
	return test_cmd(fd, &cmd);
}

/* What IOMMU_TEST_OP_RUST_IOPF_RESPONSE reports. */
struct device_responses {
	__u32 count;
	__u32 code;
	__u32 pasid;
	__u32 total;
};

/* Takes the mock device's record of responses to group @grpid. */
static inline int device_responses(int fd, __u32 idev_id, __u32 grpid,
				   struct device_responses *out)
{
	struct iommu_test_cmd cmd;
	int ret;

	test_cmd_init(&cmd, IOMMU_TEST_OP_RUST_IOPF_RESPONSE, 0);
	cmd.iopf_response.dev_id = idev_id;
	cmd.iopf_response.grpid = grpid;
	ret = test_cmd(fd, &cmd);
	if (!ret && out) {
		out->count = cmd.iopf_response.out_count;
		out->code = cmd.iopf_response.out_code;
		out->pasid = cmd.iopf_response.out_pasid;
		out->total = cmd.iopf_response.out_total;
	}
	return ret;
}

/*
 * Expects the device to have received exactly @n responses to group
 * @grpid since the last look, the last of them @code (when @n > 0).
 */
#define EXPECT_DEVICE_SAW(fd, idev, grpid, n, resp_code)			\
	do {								\
		struct device_responses __r = {};			\
									\
		ASSERT_EQ(0, device_responses(fd, idev, grpid, &__r));	\
		EXPECT_EQ((__u32)(n), __r.count)				\
			TH_LOG("responses to group %u", (grpid));	\
		if ((n) > 0)						\
			EXPECT_EQ((__u32)(resp_code), __r.code)		\
				TH_LOG("code for group %u", (grpid));	\
	} while (0)

/* Reads up to @n records; returns what read() returned. */
static inline ssize_t read_records(int fault_fd,
				   struct iommu_hwpt_pgfault *records, size_t n)
{
	return read(fault_fd, records, n * RECORD_SIZE);
}

/* Writes one response; returns what write() returned. */
static inline ssize_t respond(int fault_fd, __u32 cookie, __u32 code)
{
	struct iommu_hwpt_page_response response = {
		.cookie = cookie,
		.code = code,
	};

	return write(fault_fd, &response, sizeof(response));
}

/* The poll events of @fault_fd right now. */
static inline short fault_events(int fault_fd)
{
	struct pollfd pfd = { .fd = fault_fd, .events = POLLIN | POLLOUT };

	if (poll(&pfd, 1, 0) < 0)
		return -1;
	return pfd.revents;
}

/* The IOPF test ops exist in rust_iommufd only. */
#define REQUIRE_RUST_IOPF_OPS()						\
	do {								\
		if (!testing_rust_iommufd())				\
			SKIP(return, "needs rust_iommufd's IOPF test ops"); \
	} while (0)

#endif /* __IOMMUFD_RUST_FAULT_UTILS_H */
