// SPDX-License-Identifier: GPL-2.0
/*
 * Fault queues: IOMMU_FAULT_QUEUE_ALLOC, fault-capable HWPTs, the fault fd
 * (read/write/poll), and the automatic responses when an attachment ends.
 *
 * Faults come from the mock device through the IOMMU core's real path
 * (iommu_report_device_fault() -> io-pgfault -> the module's handler), and
 * the mock device records the page responses it receives, so the tests
 * check the whole round trip: every group is answered exactly once, with
 * the code user space (or the module, on its behalf) chose.
 *
 * Cases that need rust_iommufd's own test ops (IOMMU_TEST_OP_RUST_*) skip
 * themselves against upstream's iommufd.ko; the rest run on both.
 */
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "iommufd_counters.h"
#include "iommufd_fault_utils.h"

/*
 * A PASID-capable mock device on an IOAS, a fault queue, and two paging
 * HWPTs that accept PASIDs: one delivering to the queue (the device is
 * attached to it), one without a queue.
 */
FIXTURE(fault) {
	int fd;
	__u32 ioas_id;
	__u32 stdev_id;
	__u32 idev_id;
	__u32 fault_id;
	int fault_fd;
	__u32 hwpt_id;
	__u32 plain_hwpt_id;
};

FIXTURE_SETUP(fault)
{
	self->fault_fd = -1;
	IOMMUFD_OPEN_OR_SKIP(self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	ASSERT_EQ(0, mock_domain_flags(self->fd, self->ioas_id,
				       MOCK_FLAGS_DEVICE_PASID,
				       &self->stdev_id, NULL, &self->idev_id));
	ASSERT_EQ(0, fault_alloc(self->fd, &self->fault_id, &self->fault_fd));
	ASSERT_EQ(0, hwpt_alloc_fault(self->fd, self->idev_id, self->ioas_id,
				      IOMMU_HWPT_ALLOC_PASID, self->fault_id,
				      &self->hwpt_id));
	ASSERT_EQ(0, hwpt_alloc(self->fd, self->idev_id, self->ioas_id,
				IOMMU_HWPT_ALLOC_PASID, &self->plain_hwpt_id));
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
					 self->hwpt_id, NULL));
}

FIXTURE_TEARDOWN(fault)
{
	if (self->fault_fd >= 0)
		close(self->fault_fd);
	if (self->fd >= 0)
		close(self->fd);
}

/* Reads exactly one single-record group and returns its cookie (0: none). */
static __u32 read_one(struct __test_metadata *_metadata, int fault_fd,
		      struct iommu_hwpt_pgfault *out)
{
	struct iommu_hwpt_pgfault rec[2] = {};

	EXPECT_EQ((ssize_t)RECORD_SIZE, read_records(fault_fd, rec, 2));
	if (out)
		*out = rec[0];
	return rec[0].cookie;
}

/* IOMMU_FAULT_QUEUE_ALLOC */

TEST_F(fault, alloc_returns_id_and_cloexec_anon_fd)
{
	char link[64], target[128] = "";
	__u32 id;
	int ffd;

	ASSERT_EQ(0, fault_alloc(self->fd, &id, &ffd));
	EXPECT_LT(0U, id);
	EXPECT_NE(self->fault_id, id);
	ASSERT_LE(0, ffd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(ffd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_RDWR, fcntl(ffd, F_GETFL) & O_ACCMODE);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", ffd);
	ASSERT_LT(0, readlink(link, target, sizeof(target) - 1));
	EXPECT_STREQ("anon_inode:[iommufd-pgfault]", target);
	EXPECT_EQ(0, close(ffd));
	EXPECT_EQ(0, destroy(self->fd, id));
}

TEST_F(fault, alloc_nonzero_flags_is_eopnotsupp)
{
	struct iommu_fault_alloc cmd = { .size = sizeof(cmd), .flags = 1 };

	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_FAULT_QUEUE_ALLOC, &cmd));
	cmd.flags = 1U << 31;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_FAULT_QUEUE_ALLOC, &cmd));
}

TEST_F(fault, alloc_size_rules)
{
	struct {
		struct iommu_fault_alloc cmd;
		__u64 tail;
	} big = { .cmd.size = sizeof(big) };
	struct iommu_fault_alloc cmd = { .size = sizeof(cmd) - 1 };

	/* The minimum is the whole first-release structure (16 bytes). */
	EXPECT_EQ(16U, sizeof(cmd));
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_FAULT_QUEUE_ALLOC, &cmd));
	big.tail = 1;
	EXPECT_ERRNO(E2BIG, ioctl(self->fd, IOMMU_FAULT_QUEUE_ALLOC, &big));
	big.tail = 0;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_FAULT_QUEUE_ALLOC, &big));
	EXPECT_LT(0, (int)big.cmd.out_fault_fd);
	EXPECT_EQ(0, close(big.cmd.out_fault_fd));
}

/* An unwritable result: no fd is installed and the id is given back. */
TEST_F(fault, alloc_unwritable_result_leaves_nothing)
{
	struct iommu_fault_alloc cmd = { .size = sizeof(cmd) };
	struct iommu_fault_alloc *ro;
	int next_fd;
	__u32 next_id;

	ro = mmap(NULL, page_size(), PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	*ro = cmd;
	ASSERT_EQ(0, mprotect(ro, page_size(), PROT_READ));
	next_fd = dup(0);
	ASSERT_LE(0, next_fd);
	close(next_fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &next_id));
	ASSERT_EQ(0, destroy(self->fd, next_id));

	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_FAULT_QUEUE_ALLOC, ro));
	/* The fd number and the object id are free again. */
	EXPECT_EQ(-1, fcntl(next_fd, F_GETFD));
	ASSERT_EQ(0, fault_alloc(self->fd, &cmd.out_fault_id,
				 (int *)&cmd.out_fault_fd));
	EXPECT_EQ(next_id, cmd.out_fault_id);
	EXPECT_EQ(next_fd, (int)cmd.out_fault_fd);
	close(cmd.out_fault_fd);
	munmap(ro, page_size());
}

TEST_F(fault, destroy_while_fd_open_is_ebusy_then_ok_after_close)
{
	__u32 id;
	int ffd;

	ASSERT_EQ(0, fault_alloc(self->fd, &id, &ffd));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, id));
	EXPECT_EQ(0, close(ffd));
	EXPECT_EQ(0, destroy(self->fd, id));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, id));
}

TEST_F(fault, destroy_while_hwpt_uses_it_is_ebusy)
{
	ASSERT_EQ(0, close(self->fault_fd));
	self->fault_fd = -1;
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->fault_id));
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
					 self->plain_hwpt_id, NULL));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->fault_id));
	EXPECT_EQ(0, destroy(self->fd, self->hwpt_id));
	EXPECT_EQ(0, destroy(self->fd, self->fault_id));
}

/*
 * The fd keeps the iommufd file, and so every object, alive: a group queued
 * before the iommufd fd was closed can still be read and answered.
 */
TEST_F(fault, fd_keeps_context_alive_after_iommufd_close)
{
	struct iommu_hwpt_pgfault rec;
	__u32 cookie;

	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 5));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	cookie = read_one(_metadata, self->fault_fd, &rec);
	EXPECT_EQ(5U, rec.grpid);
	EXPECT_EQ((ssize_t)RESPONSE_SIZE,
		  respond(self->fault_fd, cookie, IOMMUFD_PAGE_RESP_SUCCESS));
}

/* IOMMU_HWPT_ALLOC with IOMMU_HWPT_FAULT_ID_VALID */

TEST_F(fault, hwpt_alloc_fault_id_must_name_a_fault_queue)
{
	__u32 hwpt, before, next;

	ASSERT_EQ(0, ioas_alloc(self->fd, &before));
	ASSERT_EQ(0, destroy(self->fd, before));

	EXPECT_ERRNO(ENOENT, hwpt_alloc_fault(self->fd, self->idev_id,
					      self->ioas_id, 0, 9999, &hwpt));
	EXPECT_ERRNO(ENOENT, hwpt_alloc_fault(self->fd, self->idev_id,
					      self->ioas_id, 0, 0, &hwpt));
	EXPECT_ERRNO(ENOENT, hwpt_alloc_fault(self->fd, self->idev_id,
					      self->ioas_id, 0, self->ioas_id,
					      &hwpt));
	EXPECT_ERRNO(ENOENT, hwpt_alloc_fault(self->fd, self->idev_id,
					      self->ioas_id, 0, self->hwpt_id,
					      &hwpt));
	/* Nothing was left behind. */
	ASSERT_EQ(0, ioas_alloc(self->fd, &next));
	EXPECT_EQ(before, next);
}

/* HWPT errors come before the fault lookup, as upstream. */
TEST_F(fault, hwpt_alloc_hwpt_errors_come_first)
{
	__u32 hwpt;

	EXPECT_ERRNO(EOPNOTSUPP,
		     hwpt_alloc_fault(self->fd, self->idev_id, self->ioas_id,
				      IOMMU_HWPT_ALLOC_NEST_PARENT, 9999,
				      &hwpt));
	EXPECT_ERRNO(EOPNOTSUPP,
		     hwpt_alloc_fault(self->fd, self->idev_id, self->ioas_id,
				      1U << 30, self->fault_id, &hwpt));
	EXPECT_ERRNO(ENOENT, hwpt_alloc_fault(self->fd, 9999, self->ioas_id,
					      0, self->fault_id, &hwpt));
}

TEST_F(fault, hwpt_alloc_nested_and_viommu_nested_take_a_fault_queue)
{
	__u32 parent, nested, viommu, vnested;

	ASSERT_EQ(0, hwpt_alloc(self->fd, self->idev_id, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, hwpt_alloc_nested_fault(self->fd, self->idev_id, parent,
					     0, self->fault_id, &nested));
	ASSERT_EQ(0, viommu_alloc(self->fd, self->idev_id, parent,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0,
				  &viommu));
	ASSERT_EQ(0, hwpt_alloc_nested_fault(self->fd, self->idev_id, viommu,
					     0, self->fault_id, &vnested));
	EXPECT_ERRNO(ENOENT,
		     hwpt_alloc_nested_fault(self->fd, self->idev_id, viommu,
					     0, parent, &vnested));
	/* Each HWPT holds the queue. */
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->fault_id));
	EXPECT_EQ(0, destroy(self->fd, vnested));
	EXPECT_EQ(0, destroy(self->fd, nested));
}

/* Round trip */

TEST_F(fault, round_trip_fills_every_field)
{
	struct iommu_hwpt_pgfault rec;
	__u32 cookie;

	REQUIRE_RUST_IOPF_OPS();
	EXPECT_EQ(POLLOUT, fault_events(self->fault_fd));
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 0x23));
	EXPECT_EQ(POLLIN | POLLOUT, fault_events(self->fault_fd) &
		  (POLLIN | POLLOUT));
	/* Nothing is answered before user space answers. */
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 0x23, 0, 0);

	cookie = read_one(_metadata, self->fault_fd, &rec);
	EXPECT_EQ((__u32)IOMMU_PGFAULT_FLAGS_LAST_PAGE, rec.flags);
	EXPECT_EQ(self->idev_id, rec.dev_id);
	EXPECT_EQ(0U, rec.pasid);
	EXPECT_EQ(0x23U, rec.grpid);
	EXPECT_EQ((__u32)TEST_PERM, rec.perm);
	EXPECT_EQ(0U, rec.__reserved);
	EXPECT_EQ(TEST_ADDR, rec.addr);
	EXPECT_EQ(0U, rec.length);
	EXPECT_NE(0U, cookie);
	EXPECT_EQ(POLLOUT, fault_events(self->fault_fd));

	EXPECT_EQ((ssize_t)RESPONSE_SIZE,
		  respond(self->fault_fd, cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 0x23, 1,
			  IOMMUFD_PAGE_RESP_SUCCESS);
}

TEST_F(fault, invalid_response_reaches_the_device)
{
	__u32 cookie;

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 9));
	cookie = read_one(_metadata, self->fault_fd, NULL);
	EXPECT_EQ((ssize_t)RESPONSE_SIZE,
		  respond(self->fault_fd, cookie, IOMMUFD_PAGE_RESP_INVALID));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 9, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
}

TEST_F(fault, pasid_fault_sets_pasid_valid)
{
	struct iommu_hwpt_pgfault rec;
	struct device_responses seen;

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, pasid_attach(self->fd, self->stdev_id, 100,
				  self->hwpt_id));
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 100, 4));
	respond(self->fault_fd, read_one(_metadata, self->fault_fd, &rec),
		IOMMUFD_PAGE_RESP_SUCCESS);
	EXPECT_EQ((__u32)(IOMMU_PGFAULT_FLAGS_PASID_VALID |
			  IOMMU_PGFAULT_FLAGS_LAST_PAGE), rec.flags);
	EXPECT_EQ(100U, rec.pasid);
	EXPECT_EQ(self->idev_id, rec.dev_id);
	ASSERT_EQ(0, device_responses(self->fd, self->idev_id, 4, &seen));
	EXPECT_EQ(1U, seen.count);
	EXPECT_EQ(100U, seen.pasid);
}

/* A group is read whole: in order, one cookie, LAST_PAGE on the last only. */
TEST_F(fault, multi_fault_group_is_one_read_and_one_response)
{
	struct iommu_hwpt_pgfault rec[8] = {};
	unsigned int i;

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, trigger_group(self->fd, self->idev_id, 0, 6, 3));
	ASSERT_EQ((ssize_t)(3 * RECORD_SIZE),
		  read_records(self->fault_fd, rec, 8));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(i == 2 ? (__u32)IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0U,
			  rec[i].flags) TH_LOG("record %u", i);
		EXPECT_EQ(TEST_ADDR + i * 0x1000ULL, rec[i].addr);
		EXPECT_EQ(6U, rec[i].grpid);
		EXPECT_EQ(rec[0].cookie, rec[i].cookie);
	}
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 6, 0, 0);
	EXPECT_EQ((ssize_t)RESPONSE_SIZE,
		  respond(self->fault_fd, rec[0].cookie,
			  IOMMUFD_PAGE_RESP_SUCCESS));
	/* The device hears once per group, not per fault. */
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 6, 1,
			  IOMMUFD_PAGE_RESP_SUCCESS);
}

TEST_F(fault, group_op_count_rules)
{
	REQUIRE_RUST_IOPF_OPS();
	EXPECT_ERRNO(EINVAL, trigger_group(self->fd, self->idev_id, 0, 1, 0));
	EXPECT_ERRNO(EINVAL, trigger_group(self->fd, self->idev_id, 0, 1,
					   MOCK_IOPF_GROUP_MAX + 1));
	EXPECT_ERRNO(ENOENT, trigger_group(self->fd, 9999, 0, 1, 1));
	EXPECT_ERRNO(ENOENT, trigger_group(self->fd, self->stdev_id, 0, 1, 1));
	EXPECT_EQ(0, trigger_group(self->fd, self->idev_id, 0, 1,
				   MOCK_IOPF_GROUP_MAX));
}

TEST_F(fault, response_record_rules)
{
	struct device_responses seen;

	REQUIRE_RUST_IOPF_OPS();
	EXPECT_ERRNO(EINVAL, device_responses(self->fd, self->idev_id,
					      MOCK_IOPF_GRPID_NUM, &seen));
	EXPECT_ERRNO(ENOENT, device_responses(self->fd, 9999, 0, &seen));
	ASSERT_EQ(0, device_responses(self->fd, self->idev_id,
				      MOCK_IOPF_GRPID_NUM - 1, &seen));
	EXPECT_EQ(0U, seen.count);
	EXPECT_EQ(0U, seen.total);
}

/* Many groups come out of one read, oldest first, each with its cookie. */
TEST_F(fault, many_groups_in_one_read)
{
	struct iommu_hwpt_pgfault rec[8] = {};
	struct iommu_hwpt_page_response resp[5];
	unsigned int i, j;

	REQUIRE_RUST_IOPF_OPS();
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 10 + i));
	ASSERT_EQ((ssize_t)(5 * RECORD_SIZE),
		  read_records(self->fault_fd, rec, 8));
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(10 + i, rec[i].grpid);
		for (j = 0; j < i; j++)
			EXPECT_NE(rec[j].cookie, rec[i].cookie);
		resp[i].cookie = rec[i].cookie;
		resp[i].code = IOMMUFD_PAGE_RESP_SUCCESS;
	}
	/* ... and are answered by one write. */
	EXPECT_EQ((ssize_t)sizeof(resp),
		  write(self->fault_fd, resp, sizeof(resp)));
	for (i = 0; i < 5; i++)
		EXPECT_DEVICE_SAW(self->fd, self->idev_id, 10 + i, 1,
				  IOMMUFD_PAGE_RESP_SUCCESS);
}

/* Cookies are the lowest free numbers from 1, reused once answered. */
TEST_F(fault, cookies_start_at_one_and_are_reused)
{
	struct iommu_hwpt_pgfault rec[2] = {};
	__u32 first;

	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 2));
	ASSERT_EQ((ssize_t)(2 * RECORD_SIZE),
		  read_records(self->fault_fd, rec, 2));
	EXPECT_EQ(1U, rec[0].cookie);
	EXPECT_EQ(2U, rec[1].cookie);
	first = rec[0].cookie;
	respond(self->fault_fd, first, IOMMUFD_PAGE_RESP_SUCCESS);
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 3));
	EXPECT_EQ(first, read_one(_metadata, self->fault_fd, NULL));
}

/* read() rules */

TEST_F(fault, read_empty_queue_returns_zero)
{
	struct iommu_hwpt_pgfault rec[2];

	EXPECT_EQ(0, read_records(self->fault_fd, rec, 2));
	EXPECT_EQ(0, read(self->fault_fd, rec, 0));
}

TEST_F(fault, read_count_not_a_record_multiple_is_espipe)
{
	struct iommu_hwpt_pgfault rec[2];

	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	EXPECT_ERRNO(ESPIPE, read(self->fault_fd, rec, RECORD_SIZE - 1));
	EXPECT_ERRNO(ESPIPE, read(self->fault_fd, rec, RECORD_SIZE + 1));
	EXPECT_ERRNO(ESPIPE, read(self->fault_fd, rec, 1));
	/* Nothing was taken. */
	EXPECT_EQ(POLLIN, fault_events(self->fault_fd) & POLLIN);
}

TEST_F(fault, read_with_offset_is_espipe)
{
	struct iommu_hwpt_pgfault rec;

	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	EXPECT_ERRNO(ESPIPE, pread(self->fault_fd, &rec, RECORD_SIZE, 0));
	EXPECT_ERRNO(ESPIPE, pread(self->fault_fd, &rec, RECORD_SIZE,
				   RECORD_SIZE));
	EXPECT_ERRNO(ESPIPE, lseek(self->fault_fd, RECORD_SIZE, SEEK_SET));
	EXPECT_EQ(POLLIN, fault_events(self->fault_fd) & POLLIN);
}

/* The first group alone does not fit: EINVAL, and it stays queued. */
TEST_F(fault, read_buffer_smaller_than_first_group_is_einval)
{
	struct iommu_hwpt_pgfault rec[4] = {};

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, trigger_group(self->fd, self->idev_id, 0, 3, 2));
	EXPECT_ERRNO(EINVAL, read_records(self->fault_fd, rec, 1));
	EXPECT_ERRNO(EINVAL, read(self->fault_fd, rec, 0));
	EXPECT_EQ(POLLIN, fault_events(self->fault_fd) & POLLIN);
	ASSERT_EQ((ssize_t)(2 * RECORD_SIZE),
		  read_records(self->fault_fd, rec, 4));
	EXPECT_EQ(3U, rec[1].grpid);
	EXPECT_EQ((__u32)IOMMU_PGFAULT_FLAGS_LAST_PAGE, rec[1].flags);
}

/* Groups that fit are returned; the next one waits, whole, for later. */
TEST_F(fault, read_stops_before_a_group_that_does_not_fit)
{
	struct iommu_hwpt_pgfault rec[4] = {};

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, trigger_group(self->fd, self->idev_id, 0, 1, 1));
	ASSERT_EQ(0, trigger_group(self->fd, self->idev_id, 0, 2, 3));
	ASSERT_EQ((ssize_t)RECORD_SIZE, read_records(self->fault_fd, rec, 2));
	EXPECT_EQ(1U, rec[0].grpid);
	ASSERT_EQ((ssize_t)(3 * RECORD_SIZE),
		  read_records(self->fault_fd, rec, 4));
	EXPECT_EQ(2U, rec[0].grpid);
	EXPECT_EQ(2U, rec[2].grpid);
}

/* A bad buffer: EFAULT, and the group is still first in line. */
TEST_F(fault, read_into_bad_buffer_is_efault_and_keeps_the_group)
{
	struct iommu_hwpt_pgfault rec;
	char *pages;

	pages = map_two_pages(PROT_READ);
	ASSERT_NE(MAP_FAILED, pages);
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 7));
	/* Read-only, then the first record straddling into it. */
	EXPECT_ERRNO(EFAULT, read(self->fault_fd, pages + page_size(),
				  RECORD_SIZE));
	EXPECT_ERRNO(EFAULT, read(self->fault_fd,
				  pages + page_size() - RECORD_SIZE / 2,
				  RECORD_SIZE));
	unmap_two_pages(pages);
	read_one(_metadata, self->fault_fd, &rec);
	EXPECT_EQ(7U, rec.grpid);
	/* The failed reads spent no cookie. */
	EXPECT_EQ(1U, rec.cookie);
}

/*
 * The second group lands on an unwritable page: the first group's bytes
 * are returned, the second group stays queued with no cookie spent.
 */
TEST_F(fault, read_partial_copy_failure_returns_whole_groups_done)
{
	struct iommu_hwpt_pgfault *rec, again;
	char *pages;

	pages = map_two_pages(PROT_NONE);
	ASSERT_NE(MAP_FAILED, pages);
	rec = (void *)(pages + page_size() - RECORD_SIZE);
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 2));
	EXPECT_EQ((ssize_t)RECORD_SIZE, read(self->fault_fd, rec,
					     2 * RECORD_SIZE));
	EXPECT_EQ(1U, rec[0].grpid);
	read_one(_metadata, self->fault_fd, &again);
	EXPECT_EQ(2U, again.grpid);
	EXPECT_EQ(2U, again.cookie);
	unmap_two_pages(pages);
}

/* write() rules */

TEST_F(fault, write_count_not_a_response_multiple_is_espipe)
{
	struct iommu_hwpt_page_response resp[2] = {};

	EXPECT_ERRNO(ESPIPE, write(self->fault_fd, resp, RESPONSE_SIZE - 1));
	EXPECT_ERRNO(ESPIPE, write(self->fault_fd, resp, RESPONSE_SIZE + 1));
	EXPECT_ERRNO(ESPIPE, pwrite(self->fault_fd, resp, RESPONSE_SIZE, 0));
	EXPECT_EQ(0, write(self->fault_fd, resp, 0));
}

TEST_F(fault, write_unknown_cookie_is_einval)
{
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	/* Queued but not read: it has no cookie yet. */
	EXPECT_ERRNO(EINVAL, respond(self->fault_fd, 1,
				     IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_ERRNO(EINVAL, respond(self->fault_fd, 0,
				     IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_ERRNO(EINVAL, respond(self->fault_fd, 0xffffffff,
				     IOMMUFD_PAGE_RESP_SUCCESS));
}

TEST_F(fault, write_bad_code_is_einval_and_keeps_the_group)
{
	__u32 cookie;

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	cookie = read_one(_metadata, self->fault_fd, NULL);
	EXPECT_ERRNO(EINVAL, respond(self->fault_fd, cookie,
				     MOCK_IOPF_RESP_FAILURE));
	EXPECT_ERRNO(EINVAL, respond(self->fault_fd, cookie, 0xffffffff));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 0, 0);
	EXPECT_EQ((ssize_t)RESPONSE_SIZE,
		  respond(self->fault_fd, cookie, IOMMUFD_PAGE_RESP_INVALID));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
}

TEST_F(fault, double_response_is_einval_and_reaches_device_once)
{
	__u32 cookie;

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	cookie = read_one(_metadata, self->fault_fd, NULL);
	EXPECT_EQ((ssize_t)RESPONSE_SIZE,
		  respond(self->fault_fd, cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_ERRNO(EINVAL, respond(self->fault_fd, cookie,
				     IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 1,
			  IOMMUFD_PAGE_RESP_SUCCESS);
}

/*
 * Several responses in one write are taken in order; a bad one stops the
 * write, which reports the bytes of those taken before it.
 */
TEST_F(fault, write_reports_partial_progress)
{
	struct iommu_hwpt_pgfault rec[3] = {};
	struct iommu_hwpt_page_response resp[3];

	REQUIRE_RUST_IOPF_OPS();
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 20 + i));
	ASSERT_EQ((ssize_t)(3 * RECORD_SIZE),
		  read_records(self->fault_fd, rec, 3));
	resp[0] = (struct iommu_hwpt_page_response){ rec[0].cookie, 0 };
	resp[1] = (struct iommu_hwpt_page_response){ 0xbad, 0 };
	resp[2] = (struct iommu_hwpt_page_response){ rec[2].cookie, 0 };
	EXPECT_EQ((ssize_t)RESPONSE_SIZE,
		  write(self->fault_fd, resp, sizeof(resp)));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 20, 1,
			  IOMMUFD_PAGE_RESP_SUCCESS);
	/* The one after the bad response was not taken. */
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 22, 0, 0);
	/* A bad first response fails the whole write. */
	EXPECT_ERRNO(EINVAL, write(self->fault_fd, &resp[1], 2 * RESPONSE_SIZE));
	EXPECT_EQ((ssize_t)RESPONSE_SIZE,
		  write(self->fault_fd, &resp[2], RESPONSE_SIZE));
	EXPECT_EQ((ssize_t)RESPONSE_SIZE,
		  respond(self->fault_fd, rec[1].cookie,
			  IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 21, 1,
			  IOMMUFD_PAGE_RESP_SUCCESS);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 22, 1,
			  IOMMUFD_PAGE_RESP_SUCCESS);
}

TEST_F(fault, write_from_bad_buffer_is_efault)
{
	struct iommu_hwpt_page_response *resp;
	char *pages;
	__u32 cookie;

	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	cookie = read_one(_metadata, self->fault_fd, NULL);
	pages = map_two_pages(PROT_NONE);
	ASSERT_NE(MAP_FAILED, pages);
	EXPECT_ERRNO(EFAULT, write(self->fault_fd, pages + page_size(),
				   RESPONSE_SIZE));
	/* One good response before an unreadable page: that one counts. */
	resp = (void *)(pages + page_size() - RESPONSE_SIZE);
	resp->cookie = cookie;
	resp->code = IOMMUFD_PAGE_RESP_SUCCESS;
	EXPECT_EQ((ssize_t)RESPONSE_SIZE,
		  write(self->fault_fd, resp, 2 * RESPONSE_SIZE));
	EXPECT_ERRNO(EINVAL, respond(self->fault_fd, cookie,
				     IOMMUFD_PAGE_RESP_SUCCESS));
	unmap_two_pages(pages);
}

/* Automatic responses */

TEST_F(fault, replace_away_answers_queued_and_delivered_invalid)
{
	__u32 cookie;

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	cookie = read_one(_metadata, self->fault_fd, NULL);
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 2));
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
					 self->plain_hwpt_id, NULL));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 2, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	/* Gone from the fd: nothing to read, the cookie is dead. */
	EXPECT_EQ(POLLOUT, fault_events(self->fault_fd));
	EXPECT_ERRNO(EINVAL, respond(self->fault_fd, cookie,
				     IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 0, 0);
}

/* Replacing with the HWPT already attached changes nothing. */
TEST_F(fault, replace_with_same_hwpt_keeps_pending_groups)
{
	__u32 cookie;

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
					 self->hwpt_id, NULL));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 0, 0);
	cookie = read_one(_metadata, self->fault_fd, NULL);
	EXPECT_EQ((ssize_t)RESPONSE_SIZE,
		  respond(self->fault_fd, cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 1,
			  IOMMUFD_PAGE_RESP_SUCCESS);
}

/*
 * Fault queue to fault queue: the old queue's groups are answered, new
 * faults go to the new queue.
 */
TEST_F(fault, replace_between_two_fault_hwpts)
{
	struct iommu_hwpt_pgfault rec;
	__u32 fault2, hwpt2;
	int ffd2;

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, fault_alloc(self->fd, &fault2, &ffd2));
	ASSERT_EQ(0, hwpt_alloc_fault(self->fd, self->idev_id, self->ioas_id,
				      IOMMU_HWPT_ALLOC_PASID, fault2, &hwpt2));
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id, hwpt2,
					 NULL));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 2));
	EXPECT_EQ(0, read_records(self->fault_fd, &rec, 1));
	respond(ffd2, read_one(_metadata, ffd2, &rec),
		IOMMUFD_PAGE_RESP_SUCCESS);
	EXPECT_EQ(2U, rec.grpid);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 2, 1,
			  IOMMUFD_PAGE_RESP_SUCCESS);
	close(ffd2);
}

/*
 * Without a fault queue the core answers the fault itself and user space
 * sees nothing; replacing back turns delivery on again (IOPF is switched
 * off and on at the device along the way).
 */
TEST_F(fault, hwpt_without_fault_queue_core_answers)
{
	int round;

	REQUIRE_RUST_IOPF_OPS();
	for (round = 0; round < 3; round++) {
		ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
						 self->plain_hwpt_id, NULL));
		ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 3));
		EXPECT_DEVICE_SAW(self->fd, self->idev_id, 3, 1,
				  IOMMUFD_PAGE_RESP_INVALID);
		EXPECT_EQ(POLLOUT, fault_events(self->fault_fd));

		ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
						 self->hwpt_id, NULL));
		ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 3));
		EXPECT_DEVICE_SAW(self->fd, self->idev_id, 3, 0, 0);
		respond(self->fault_fd, read_one(_metadata, self->fault_fd,
						 NULL),
			IOMMUFD_PAGE_RESP_SUCCESS);
		EXPECT_DEVICE_SAW(self->fd, self->idev_id, 3, 1,
				  IOMMUFD_PAGE_RESP_SUCCESS);
	}
}

/* Detaching a PASID answers only that PASID's groups. */
TEST_F(fault, pasid_detach_answers_only_its_groups)
{
	__u32 cookie;

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, pasid_attach(self->fd, self->stdev_id, 100,
				  self->hwpt_id));
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 100, 1));
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 2));
	ASSERT_EQ(0, pasid_detach(self->fd, self->stdev_id, 100));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 2, 0, 0);
	cookie = read_one(_metadata, self->fault_fd, NULL);
	respond(self->fault_fd, cookie, IOMMUFD_PAGE_RESP_SUCCESS);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 2, 1,
			  IOMMUFD_PAGE_RESP_SUCCESS);
}

TEST_F(fault, pasid_replace_away_answers_invalid)
{
	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, pasid_attach(self->fd, self->stdev_id, 200,
				  self->hwpt_id));
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 200, 1));
	read_one(_metadata, self->fault_fd, NULL);
	ASSERT_EQ(0, pasid_replace(self->fd, self->stdev_id, 200,
				   self->plain_hwpt_id));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	/* Now the core answers faults on that PASID. */
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 200, 2));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 2, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	EXPECT_EQ(POLLOUT, fault_events(self->fault_fd));
}

/*
 * The RID and a PASID share the fault HWPT: IOPF stays on at the device
 * until the last of them goes.
 */
TEST_F(fault, rid_and_pasid_share_the_fault_queue)
{
	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, pasid_attach(self->fd, self->stdev_id, 300,
				  self->hwpt_id));
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
					 self->plain_hwpt_id, NULL));
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 300, 1));
	respond(self->fault_fd, read_one(_metadata, self->fault_fd, NULL),
		IOMMUFD_PAGE_RESP_SUCCESS);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 1,
			  IOMMUFD_PAGE_RESP_SUCCESS);
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
					 self->hwpt_id, NULL));
	ASSERT_EQ(0, pasid_detach(self->fd, self->stdev_id, 300));
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 2));
	respond(self->fault_fd, read_one(_metadata, self->fault_fd, NULL),
		IOMMUFD_PAGE_RESP_SUCCESS);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 2, 1,
			  IOMMUFD_PAGE_RESP_SUCCESS);
}

/* Destroying the device answers its groups; the fd forgets them. */
TEST_F(fault, device_destroy_answers_and_forgets_groups)
{
	__u32 cookie;

	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	cookie = read_one(_metadata, self->fault_fd, NULL);
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 2));
	ASSERT_EQ(0, destroy(self->fd, self->stdev_id));
	EXPECT_EQ(POLLOUT, fault_events(self->fault_fd));
	EXPECT_ERRNO(EINVAL, respond(self->fault_fd, cookie,
				     IOMMUFD_PAGE_RESP_SUCCESS));
	/* The HWPT is free to go, then the queue. */
	ASSERT_EQ(0, destroy(self->fd, self->hwpt_id));
	ASSERT_EQ(0, close(self->fault_fd));
	self->fault_fd = -1;
	EXPECT_EQ(0, destroy(self->fd, self->fault_id));
}

/* Closing the fd answers everything pending, and every later fault. */
TEST_F(fault, close_answers_pending_and_later_faults)
{
	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	read_one(_metadata, self->fault_fd, NULL);
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 2));
	ASSERT_EQ(0, close(self->fault_fd));
	self->fault_fd = -1;
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 2, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 3));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 3, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
}

/* Closing everything with faults pending leaves nothing behind. */
TEST_F(fault, close_iommufd_and_fd_with_faults_pending)
{
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	read_one(_metadata, self->fault_fd, NULL);
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 2));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(0, close(self->fault_fd));
	self->fault_fd = -1;
}

/* Several queues */

TEST_F(fault, two_fault_queues_on_two_hwpts_stay_apart)
{
	struct iommu_hwpt_pgfault rec;
	__u32 stdev2, idev2, fault2, hwpt2;
	int ffd2;

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev2, NULL,
				 &idev2));
	ASSERT_EQ(0, fault_alloc(self->fd, &fault2, &ffd2));
	ASSERT_EQ(0, hwpt_alloc_fault(self->fd, idev2, self->ioas_id, 0,
				      fault2, &hwpt2));
	ASSERT_EQ(0, mock_domain_replace(self->fd, stdev2, hwpt2, NULL));
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	ASSERT_EQ(0, trigger_fault(self->fd, idev2, 0, 2));

	respond(self->fault_fd, read_one(_metadata, self->fault_fd, &rec),
		IOMMUFD_PAGE_RESP_SUCCESS);
	EXPECT_EQ(self->idev_id, rec.dev_id);
	EXPECT_EQ(1U, rec.grpid);
	EXPECT_EQ(0, read_records(self->fault_fd, &rec, 1));
	respond(ffd2, read_one(_metadata, ffd2, &rec),
		IOMMUFD_PAGE_RESP_INVALID);
	EXPECT_EQ(idev2, rec.dev_id);
	EXPECT_EQ(2U, rec.grpid);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 1,
			  IOMMUFD_PAGE_RESP_SUCCESS);
	EXPECT_DEVICE_SAW(self->fd, idev2, 2, 1, IOMMUFD_PAGE_RESP_INVALID);
	/* A cookie of one queue means nothing to the other. */
	ASSERT_EQ(0, trigger_fault(self->fd, idev2, 0, 3));
	read_one(_metadata, ffd2, &rec);
	EXPECT_ERRNO(EINVAL, respond(self->fault_fd, rec.cookie,
				     IOMMUFD_PAGE_RESP_SUCCESS));
	close(ffd2);
}

/* Two devices on one fault HWPT: records name the right device. */
TEST_F(fault, two_devices_share_a_fault_hwpt)
{
	struct iommu_hwpt_pgfault rec[2];
	__u32 stdev2, idev2;

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, mock_domain_flags(self->fd, self->hwpt_id,
				       MOCK_FLAGS_DEVICE_PASID, &stdev2, NULL,
				       &idev2));
	ASSERT_EQ(0, trigger_fault(self->fd, idev2, 0, 1));
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	ASSERT_EQ((ssize_t)(2 * RECORD_SIZE),
		  read_records(self->fault_fd, rec, 2));
	EXPECT_EQ(idev2, rec[0].dev_id);
	EXPECT_EQ(self->idev_id, rec[1].dev_id);
	/* Destroying one device answers only its group. */
	ASSERT_EQ(0, destroy(self->fd, stdev2));
	EXPECT_ERRNO(EINVAL, respond(self->fault_fd, rec[0].cookie,
				     IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_EQ((ssize_t)RESPONSE_SIZE,
		  respond(self->fault_fd, rec[1].cookie,
			  IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 1,
			  IOMMUFD_PAGE_RESP_SUCCESS);
}

/* Nested HWPTs */

TEST_F(fault, nested_hwpt_delivers_and_routes_unattached_pasids)
{
	struct iommu_hwpt_pgfault rec;
	__u32 parent, nested;

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, hwpt_alloc(self->fd, self->idev_id, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, hwpt_alloc_nested_fault(self->fd, self->idev_id, parent,
					     0, self->fault_id, &nested));
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id, nested,
					 NULL));
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	respond(self->fault_fd, read_one(_metadata, self->fault_fd, &rec),
		IOMMUFD_PAGE_RESP_SUCCESS);
	EXPECT_EQ(1U, rec.grpid);
	/*
	 * The mock IOMMU keeps the PASID table in user space, as SMMUv3: a
	 * PASID with no attachment of its own faults to the nested RID.
	 */
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 77, 2));
	respond(self->fault_fd, read_one(_metadata, self->fault_fd, &rec),
		IOMMUFD_PAGE_RESP_SUCCESS);
	EXPECT_EQ((__u32)(IOMMU_PGFAULT_FLAGS_PASID_VALID |
			  IOMMU_PGFAULT_FLAGS_LAST_PAGE), rec.flags);
	EXPECT_EQ(77U, rec.pasid);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 2, 1,
			  IOMMUFD_PAGE_RESP_SUCCESS);
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 3));
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
					 self->hwpt_id, NULL));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 3, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
}

/* A paging RID does not take faults of PASIDs it is not attached to. */
TEST_F(fault, paging_rid_does_not_take_other_pasids)
{
	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 55, 1));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	EXPECT_EQ(POLLOUT, fault_events(self->fault_fd));
}

/* poll and epoll */

struct waiter {
	int epfd;
	int nevents;
	__u32 events;
};

static void *wait_for_event(void *arg)
{
	struct waiter *w = arg;
	struct epoll_event ev = {};

	w->nevents = epoll_wait(w->epfd, &ev, 1, 10000);
	w->events = ev.events;
	return NULL;
}

TEST_F(fault, epoll_wakes_a_waiter_when_a_fault_arrives)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct waiter w = { .nevents = -2 };
	pthread_t thread;

	w.epfd = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, w.epfd);
	ASSERT_EQ(0, epoll_ctl(w.epfd, EPOLL_CTL_ADD, self->fault_fd, &ev));
	ASSERT_EQ(0, pthread_create(&thread, NULL, wait_for_event, &w));
	/* Give the waiter time to block (it still passes if it did not). */
	usleep(100 * 1000);
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	EXPECT_EQ(1, w.nevents);
	EXPECT_EQ((__u32)EPOLLIN, w.events & EPOLLIN);
	/* Level-triggered: still readable until read. */
	EXPECT_EQ(1, epoll_wait(w.epfd, &ev, 1, 0));
	read_one(_metadata, self->fault_fd, NULL);
	EXPECT_EQ(0, epoll_wait(w.epfd, &ev, 1, 0));
	close(w.epfd);
}

TEST_F(fault, poll_reports_pollin_while_queued_and_always_pollout)
{
	struct pollfd pfd = { .fd = self->fault_fd, .events = POLLIN };

	EXPECT_EQ(0, poll(&pfd, 1, 0));
	pfd.events = POLLOUT;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLOUT, pfd.revents);
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	pfd.events = POLLIN | POLLRDNORM | POLLOUT;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN | POLLRDNORM | POLLOUT, pfd.revents);
	read_one(_metadata, self->fault_fd, NULL);
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLOUT, pfd.revents);
}

/*
 * Concurrency: trigger threads fault on their own devices, a handler thread
 * reads and answers, another thread keeps moving the devices between the
 * fault HWPT, a HWPT without a queue and a second fault HWPT whose fd it
 * finally closes. Every triggered group must reach its device exactly once.
 */
#define STRESS_DEVICES 4
#define STRESS_GROUPS 64
#define STRESS_ROUNDS 4

struct stress {
	int fd;
	int fault_fd[2];
	__u32 stdev[STRESS_DEVICES];
	__u32 idev[STRESS_DEVICES];
	__u32 hwpt[3];
	atomic_int stop;
	atomic_int handled;
	atomic_int errors;
};

static void *stress_handler(void *arg)
{
	struct stress *s = arg;
	struct iommu_hwpt_pgfault rec[16];
	struct pollfd pfd[2] = {
		{ .fd = s->fault_fd[0], .events = POLLIN },
		{ .fd = s->fault_fd[1], .events = POLLIN },
	};

	while (!atomic_load(&s->stop)) {
		if (poll(pfd, 2, 20) < 0) {
			atomic_fetch_add(&s->errors, 1);
			break;
		}
		for (int q = 0; q < 2; q++) {
			ssize_t n;

			if (!(pfd[q].revents & POLLIN))
				continue;
			n = read(pfd[q].fd, rec, sizeof(rec));
			if (n < 0) {
				atomic_fetch_add(&s->errors, 1);
				continue;
			}
			for (size_t i = 0; i < n / RECORD_SIZE; i++) {
				/* Its device may have moved on: EINVAL. */
				if (respond(pfd[q].fd, rec[i].cookie,
					    IOMMUFD_PAGE_RESP_SUCCESS) ==
				    RESPONSE_SIZE)
					atomic_fetch_add(&s->handled, 1);
			}
		}
	}
	return NULL;
}

static void *stress_replacer(void *arg)
{
	struct stress *s = arg;
	unsigned int i = 0;

	while (!atomic_load(&s->stop)) {
		if (mock_domain_replace(s->fd, s->stdev[i % STRESS_DEVICES],
					s->hwpt[(i / STRESS_DEVICES) % 3],
					NULL))
			atomic_fetch_add(&s->errors, 1);
		i++;
		usleep(2000);
	}
	return NULL;
}

struct stress_trigger {
	struct stress *s;
	int dev;
	int failed;
};

static void *stress_trigger_thread(void *arg)
{
	struct stress_trigger *t = arg;

	for (__u32 g = 0; g < STRESS_GROUPS; g++)
		if (trigger_fault(t->s->fd, t->s->idev[t->dev], 0, g))
			t->failed++;
	return NULL;
}

TEST_F(fault, concurrent_trigger_handle_replace_close)
{
	struct stress s = { .fd = self->fd, .fault_fd = { self->fault_fd } };
	struct stress_trigger trig[STRESS_DEVICES];
	pthread_t handler, replacer, threads[STRESS_DEVICES];
	__u32 fault2, seen[STRESS_DEVICES][STRESS_GROUPS] = {};
	struct device_responses r;
	int round, d;
	__u32 g;

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, fault_alloc(self->fd, &fault2, &s.fault_fd[1]));
	s.hwpt[0] = self->hwpt_id;
	s.hwpt[1] = self->plain_hwpt_id;
	ASSERT_EQ(0, hwpt_alloc_fault(self->fd, self->idev_id, self->ioas_id,
				      IOMMU_HWPT_ALLOC_PASID, fault2,
				      &s.hwpt[2]));
	for (d = 0; d < STRESS_DEVICES; d++)
		ASSERT_EQ(0, mock_domain(self->fd, self->hwpt_id, &s.stdev[d],
					 NULL, &s.idev[d]));
	ASSERT_EQ(0, pthread_create(&handler, NULL, stress_handler, &s));
	ASSERT_EQ(0, pthread_create(&replacer, NULL, stress_replacer, &s));

	for (round = 0; round < STRESS_ROUNDS; round++) {
		struct timespec start, now;
		bool pending = true;

		for (d = 0; d < STRESS_DEVICES; d++) {
			trig[d] = (struct stress_trigger){ &s, d, 0 };
			ASSERT_EQ(0, pthread_create(&threads[d], NULL,
						    stress_trigger_thread,
						    &trig[d]));
		}
		for (d = 0; d < STRESS_DEVICES; d++) {
			ASSERT_EQ(0, pthread_join(threads[d], NULL));
			EXPECT_EQ(0, trig[d].failed);
		}
		/* Wait for every group of the round to be answered. */
		clock_gettime(CLOCK_MONOTONIC, &start);
		while (pending) {
			pending = false;
			for (d = 0; d < STRESS_DEVICES; d++)
				for (g = 0; g < STRESS_GROUPS; g++) {
					if (seen[d][g] > (__u32)round)
						continue;
					ASSERT_EQ(0, device_responses(self->fd,
						s.idev[d], g, &r));
					seen[d][g] += r.count;
					if (seen[d][g] <= (__u32)round)
						pending = true;
				}
			clock_gettime(CLOCK_MONOTONIC, &now);
			ASSERT_GT(30, now.tv_sec - start.tv_sec)
				TH_LOG("round %d: groups unanswered", round);
			if (pending)
				usleep(1000);
		}
	}
	/* The second queue's fd goes while groups may still be on it. */
	ASSERT_EQ(0, close(s.fault_fd[1]));
	atomic_store(&s.stop, 1);
	ASSERT_EQ(0, pthread_join(replacer, NULL));
	ASSERT_EQ(0, pthread_join(handler, NULL));
	EXPECT_EQ(0, atomic_load(&s.errors));

	/* No group was answered twice, none was lost. */
	for (d = 0; d < STRESS_DEVICES; d++) {
		for (g = 0; g < STRESS_GROUPS; g++) {
			ASSERT_EQ(0, device_responses(self->fd, s.idev[d], g,
						      &r));
			seen[d][g] += r.count;
			EXPECT_EQ((__u32)STRESS_ROUNDS, seen[d][g])
				TH_LOG("device %d group %u", d, g);
		}
		EXPECT_EQ((__u32)(STRESS_ROUNDS * STRESS_GROUPS), r.total);
	}
	TH_LOG("%d groups answered by the handler, %d automatically",
	       atomic_load(&s.handled),
	       STRESS_DEVICES * STRESS_GROUPS * STRESS_ROUNDS -
	       atomic_load(&s.handled));
}

/*
 * The bounded queue and its fdinfo counters (rust_iommufd only): a queue
 * holds at most fault_queue_depth groups unanswered, read or not, as the
 * parameter was when the queue was made; groups past it are answered
 * IOMMUFD_PAGE_RESP_INVALID at once and counted as dropped.
 */
#define DEPTH_PARAM "/sys/module/rust_iommufd/parameters/fault_queue_depth"

static long read_depth_param(void)
{
	return file_number(DEPTH_PARAM);
}

static int write_depth_param(long value)
{
	FILE *f = fopen(DEPTH_PARAM, "w");
	int ret;

	if (!f)
		return -1;
	ret = fprintf(f, "%ld\n", value) < 0 ? -1 : 0;
	if (fclose(f))
		ret = -1;
	return ret;
}

/* The value of "@name:" in /proc/self/fdinfo/@fd, or -1. */
static long fdinfo_field(int fd, const char *name)
{
	char path[64], line[128];
	size_t len = strlen(name);
	long value = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ':') {
			value = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return value;
}

#define EXPECT_FDINFO(fd, name, value)					\
	EXPECT_EQ((long)(value), fdinfo_field(fd, name)) TH_LOG("fdinfo %s", name)

/* A fault queue made while the parameter is @depth, and a HWPT on it. */
static int bounded_queue(int fd, __u32 idev_id, __u32 ioas_id, long depth,
			 __u32 *fault_id, int *fault_fd, __u32 *hwpt_id)
{
	long old = read_depth_param();
	int ret;

	if (old < 0 || write_depth_param(depth))
		return -1;
	ret = fault_alloc(fd, fault_id, fault_fd);
	/* Put back at once: the queue keeps what it read. */
	if (write_depth_param(old))
		ret = -1;
	if (ret)
		return ret;
	return hwpt_alloc_fault(fd, idev_id, ioas_id, IOMMU_HWPT_ALLOC_PASID,
				*fault_id, hwpt_id);
}

TEST_F(fault, fdinfo_counts_every_way_a_group_goes)
{
	struct iommu_hwpt_pgfault rec[2];

	REQUIRE_RUST_IOPF_OPS();
	EXPECT_FDINFO(self->fault_fd, "depth", read_depth_param());
	EXPECT_FDINFO(self->fault_fd, "queued", 0);
	for (__u32 g = 1; g <= 3; g++)
		ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, g));
	EXPECT_FDINFO(self->fault_fd, "queued", 3);
	EXPECT_FDINFO(self->fault_fd, "held", 3);
	EXPECT_FDINFO(self->fault_fd, "delivered", 0);
	ASSERT_EQ((ssize_t)(2 * RECORD_SIZE), read_records(self->fault_fd, rec, 2));
	EXPECT_FDINFO(self->fault_fd, "delivered", 2);
	EXPECT_FDINFO(self->fault_fd, "held", 3);
	ASSERT_EQ((ssize_t)RESPONSE_SIZE,
		  respond(self->fault_fd, rec[0].cookie,
			  IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_FDINFO(self->fault_fd, "answered_by_user", 1);
	EXPECT_FDINFO(self->fault_fd, "held", 2);
	/* The attachment ends: one delivered and one queued group go. */
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
					 self->plain_hwpt_id, NULL));
	EXPECT_FDINFO(self->fault_fd, "answered_auto", 2);
	EXPECT_FDINFO(self->fault_fd, "answered_by_user", 1);
	EXPECT_FDINFO(self->fault_fd, "held", 0);
	EXPECT_FDINFO(self->fault_fd, "dropped", 0);
	EXPECT_FDINFO(self->fault_fd, "queued", 3);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 1,
			  IOMMUFD_PAGE_RESP_SUCCESS);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 2, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 3, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
}

TEST_F(fault, groups_past_the_depth_are_answered_invalid_and_counted)
{
	struct iommu_hwpt_pgfault rec[4];
	__u32 id, hwpt;
	int ffd;

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, bounded_queue(self->fd, self->idev_id, self->ioas_id, 2,
				   &id, &ffd, &hwpt));
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id, hwpt,
					 NULL));
	EXPECT_FDINFO(ffd, "depth", 2);
	for (__u32 g = 10; g < 14; g++)
		ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, g));
	/* 10 and 11 wait; 12 and 13 were answered on arrival. */
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 10, 0, 0);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 11, 0, 0);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 12, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 13, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	EXPECT_FDINFO(ffd, "queued", 2);
	EXPECT_FDINFO(ffd, "dropped", 2);
	EXPECT_FDINFO(ffd, "held", 2);
	EXPECT_FDINFO(ffd, "answered_auto", 0);

	/* Read but unanswered still counts against the depth. */
	ASSERT_EQ((ssize_t)RECORD_SIZE, read_records(ffd, rec, 1));
	EXPECT_EQ(10U, rec[0].grpid);
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 14));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 14, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	EXPECT_FDINFO(ffd, "dropped", 3);

	/* An answer makes room for the next group. */
	ASSERT_EQ((ssize_t)RESPONSE_SIZE,
		  respond(ffd, rec[0].cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 15));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 15, 0, 0);
	EXPECT_FDINFO(ffd, "queued", 3);
	EXPECT_FDINFO(ffd, "held", 2);
	ASSERT_EQ((ssize_t)(2 * RECORD_SIZE), read_records(ffd, rec, 4));
	EXPECT_EQ(11U, rec[0].grpid);
	EXPECT_EQ(15U, rec[1].grpid);
	EXPECT_FDINFO(ffd, "delivered", 3);
	EXPECT_FDINFO(ffd, "answered_by_user", 1);

	/* Leaving the queue's HWPT answers the rest, automatically. */
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
					 self->hwpt_id, NULL));
	EXPECT_FDINFO(ffd, "answered_auto", 2);
	EXPECT_FDINFO(ffd, "held", 0);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 11, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 15, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	EXPECT_EQ(0, close(ffd));
}

/* The parameter is read when a queue is made; 0 is no limit, as upstream. */
TEST_F(fault, depth_is_fixed_when_the_queue_is_made_and_0_is_unlimited)
{
	__u32 id, hwpt;
	int ffd;

	REQUIRE_RUST_IOPF_OPS();
	ASSERT_EQ(0, bounded_queue(self->fd, self->idev_id, self->ioas_id, 0,
				   &id, &ffd, &hwpt));
	EXPECT_FDINFO(ffd, "depth", 0);
	/* The fixture's queue kept the depth it was made with. */
	EXPECT_FDINFO(self->fault_fd, "depth", read_depth_param());
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id, hwpt,
					 NULL));
	for (__u32 g = 0; g < 64; g++)
		ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, g));
	EXPECT_FDINFO(ffd, "queued", 64);
	EXPECT_FDINFO(ffd, "dropped", 0);
	EXPECT_EQ(0, close(ffd));
	/* Closed: the rest is answered, and new groups on arrival. */
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 100));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 100, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 63, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
}

/* fdinfo keeps the VFS's own lines. */
TEST_F(fault, fdinfo_keeps_the_vfs_lines)
{
	REQUIRE_RUST_IOPF_OPS();
	EXPECT_EQ(0, fdinfo_field(self->fault_fd, "pos"));
	EXPECT_LE(0, fdinfo_field(self->fault_fd, "flags"));
}

/*
 * Stalled user copies: a read() or write() whose user page stalls (a
 * userfaultfd page nobody serves yet) holds no lock that an automatic
 * answer needs, so a replace that answers the device's groups goes through
 * meanwhile; the group is still answered exactly once.
 */

/* A page registered with a userfaultfd, missing until served. */
struct stall_page {
	int uffd;
	void *page;
	size_t psz;
};

/* 0, or -1 (with errno) when userfaultfd is not available. */
static int stall_page_init(struct stall_page *sp)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };

	sp->psz = page_size();
	sp->uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (sp->uffd < 0)
		return -1;
	if (ioctl(sp->uffd, UFFDIO_API, &api))
		return -1;
	sp->page = mmap(NULL, sp->psz, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sp->page == MAP_FAILED)
		return -1;
	reg.range.start = PTR_U64(sp->page);
	reg.range.len = sp->psz;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	return ioctl(sp->uffd, UFFDIO_REGISTER, &reg);
}

/* Waits until a thread's access to the page stalls on the uffd. */
static int stall_page_wait(struct stall_page *sp)
{
	struct pollfd pfd = { .fd = sp->uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, 30000) != 1)
		return -1;
	if (read(sp->uffd, &msg, sizeof(msg)) != sizeof(msg))
		return -1;
	return msg.event == UFFD_EVENT_PAGEFAULT ? 0 : -1;
}

/* Serves the page with a copy of @src (a page). */
static int stall_page_serve(struct stall_page *sp, const void *src)
{
	struct uffdio_copy copy = {
		.dst = PTR_U64(sp->page),
		.src = PTR_U64(src),
		.len = sp->psz,
	};

	return ioctl(sp->uffd, UFFDIO_COPY, &copy);
}

/* A read() or write() of the fault fd, in a thread. */
struct fd_call {
	int fd;
	void *buf;
	size_t len;
	bool write;
	ssize_t ret;
	int err;
};

static void *fd_call_thread(void *arg)
{
	struct fd_call *c = arg;

	if (c->write)
		c->ret = write(c->fd, c->buf, c->len);
	else
		c->ret = read(c->fd, c->buf, c->len);
	c->err = errno;
	return NULL;
}

struct fault_replace_call {
	int fd;
	__u32 stdev, hwpt;
	int ret, err, done;
};

static void *fault_replace_thread(void *arg)
{
	struct fault_replace_call *c = arg;

	c->ret = mock_domain_replace(c->fd, c->stdev, c->hwpt, NULL);
	c->err = errno;
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Whether the replace finished within 2 s. */
static bool replace_done_soon(struct fault_replace_call *rp)
{
	for (int i = 0; i < 40; i++) {
		if (__atomic_load_n(&rp->done, __ATOMIC_ACQUIRE))
			return true;
		usleep(50000);
	}
	return __atomic_load_n(&rp->done, __ATOMIC_ACQUIRE);
}

/*
 * The record reaches user space after the replace answered its group: its
 * cookie is then dead, as any answered one.
 */
TEST_F(fault, read_stalled_copy_does_not_hold_up_a_replace)
{
	struct fault_replace_call rp = { .fd = self->fd,
					 .stdev = self->stdev_id,
					 .hwpt = self->plain_hwpt_id };
	struct fd_call rd = { .fd = self->fault_fd };
	struct iommu_hwpt_pgfault rec;
	pthread_t rd_thread, rp_thread;
	struct stall_page sp;
	void *zero;

	REQUIRE_RUST_IOPF_OPS();
	if (stall_page_init(&sp))
		SKIP(return, "userfaultfd: %s", strerror(errno));
	zero = calloc(1, sp.psz);
	ASSERT_NE(NULL, zero);
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));

	rd.buf = sp.page;
	rd.len = 2 * RECORD_SIZE;
	ASSERT_EQ(0, pthread_create(&rd_thread, NULL, fd_call_thread, &rd));
	ASSERT_EQ(0, stall_page_wait(&sp));
	ASSERT_EQ(0, pthread_create(&rp_thread, NULL, fault_replace_thread,
				    &rp));
	EXPECT_TRUE(replace_done_soon(&rp))
		TH_LOG("the replace waited for a stalled read() copy");

	EXPECT_EQ(0, stall_page_serve(&sp, zero));
	pthread_join(rd_thread, NULL);
	pthread_join(rp_thread, NULL);
	EXPECT_EQ(0, rp.ret) TH_LOG("replace: errno %d", rp.err);
	ASSERT_EQ((ssize_t)RECORD_SIZE, rd.ret) TH_LOG("read: errno %d", rd.err);
	memcpy(&rec, sp.page, sizeof(rec));
	EXPECT_EQ(1U, rec.grpid);
	EXPECT_EQ(1U, rec.cookie);
	/* Answered once, by the replace; the record's cookie is dead. */
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	EXPECT_ERRNO(EINVAL, respond(self->fault_fd, rec.cookie,
				     IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 0, 0);
	EXPECT_EQ(POLLOUT, fault_events(self->fault_fd));
	EXPECT_FDINFO(self->fault_fd, "held", 0);
	EXPECT_FDINFO(self->fault_fd, "answered_auto", 1);
	free(zero);
	munmap(sp.page, sp.psz);
	close(sp.uffd);
}

/*
 * The copy fails after the replace answered the group: read() is EFAULT,
 * and the group does not go back to the queue (nor is it answered again).
 */
TEST_F(fault, read_failed_copy_of_a_group_answered_meanwhile)
{
	struct fault_replace_call rp = { .fd = self->fd,
					 .stdev = self->stdev_id,
					 .hwpt = self->plain_hwpt_id };
	struct fd_call rd = { .fd = self->fault_fd };
	pthread_t rd_thread, rp_thread;
	struct stall_page sp;

	REQUIRE_RUST_IOPF_OPS();
	if (stall_page_init(&sp))
		SKIP(return, "userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));

	rd.buf = sp.page;
	rd.len = 2 * RECORD_SIZE;
	ASSERT_EQ(0, pthread_create(&rd_thread, NULL, fd_call_thread, &rd));
	ASSERT_EQ(0, stall_page_wait(&sp));
	ASSERT_EQ(0, pthread_create(&rp_thread, NULL, fault_replace_thread,
				    &rp));
	EXPECT_TRUE(replace_done_soon(&rp))
		TH_LOG("the replace waited for a stalled read() copy");

	/* The page goes away; waking the fault makes the copy fail. */
	EXPECT_EQ(0, munmap(sp.page, sp.psz));
	EXPECT_EQ(0, close(sp.uffd));
	pthread_join(rd_thread, NULL);
	pthread_join(rp_thread, NULL);
	EXPECT_EQ(0, rp.ret) TH_LOG("replace: errno %d", rp.err);
	EXPECT_EQ(-1, rd.ret);
	EXPECT_EQ(EFAULT, rd.err);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	EXPECT_EQ(POLLOUT, fault_events(self->fault_fd));
	EXPECT_FDINFO(self->fault_fd, "held", 0);
	EXPECT_FDINFO(self->fault_fd, "delivered", 0);
	EXPECT_FDINFO(self->fault_fd, "answered_auto", 1);
	/* The cookie was given back: the next group gets it. */
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
					 self->hwpt_id, NULL));
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 2));
	EXPECT_EQ(1U, read_one(_metadata, self->fault_fd, NULL));
}

/*
 * A write() whose responses sit on a stalled page: the replace answers the
 * group meanwhile, and the response read afterwards names a dead cookie.
 */
TEST_F(fault, write_stalled_copy_does_not_hold_up_a_replace)
{
	struct fault_replace_call rp = { .fd = self->fd,
					 .stdev = self->stdev_id,
					 .hwpt = self->plain_hwpt_id };
	struct fd_call wr = { .fd = self->fault_fd, .write = true };
	struct iommu_hwpt_page_response *resp;
	pthread_t wr_thread, rp_thread;
	struct stall_page sp;
	__u32 cookie;

	REQUIRE_RUST_IOPF_OPS();
	if (stall_page_init(&sp))
		SKIP(return, "userfaultfd: %s", strerror(errno));
	resp = calloc(1, sp.psz);
	ASSERT_NE(NULL, resp);
	ASSERT_EQ(0, trigger_fault(self->fd, self->idev_id, 0, 1));
	cookie = read_one(_metadata, self->fault_fd, NULL);
	ASSERT_NE(0U, cookie);

	wr.buf = sp.page;
	wr.len = RESPONSE_SIZE;
	ASSERT_EQ(0, pthread_create(&wr_thread, NULL, fd_call_thread, &wr));
	ASSERT_EQ(0, stall_page_wait(&sp));
	ASSERT_EQ(0, pthread_create(&rp_thread, NULL, fault_replace_thread,
				    &rp));
	EXPECT_TRUE(replace_done_soon(&rp))
		TH_LOG("the replace waited for a stalled write() copy");

	resp->cookie = cookie;
	resp->code = IOMMUFD_PAGE_RESP_SUCCESS;
	EXPECT_EQ(0, stall_page_serve(&sp, resp));
	pthread_join(wr_thread, NULL);
	pthread_join(rp_thread, NULL);
	EXPECT_EQ(0, rp.ret) TH_LOG("replace: errno %d", rp.err);
	EXPECT_EQ(-1, wr.ret);
	EXPECT_EQ(EINVAL, wr.err);
	EXPECT_DEVICE_SAW(self->fd, self->idev_id, 1, 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	EXPECT_FDINFO(self->fault_fd, "held", 0);
	EXPECT_FDINFO(self->fault_fd, "answered_by_user", 0);
	free(resp);
	munmap(sp.page, sp.psz);
	close(sp.uffd);
}

TEST_HARNESS_MAIN
