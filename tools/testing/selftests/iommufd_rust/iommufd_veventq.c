// SPDX-License-Identifier: GPL-2.0
/*
 * vEVENTQs: IOMMU_VEVENTQ_ALLOC, the vEVENTQ fd (read/poll), sequence
 * numbers, the depth limit and the lost-events record, and
 * IOMMU_TEST_OP_TRIGGER_VEVENT, with which the mock vIOMMU reports an event
 * for the virtual id of the device attached to one of its nested HWPTs.
 *
 * Expected results are upstream's (7.3) errno for errno; every case but
 * the one reading rust_iommufd's debugfs counters runs on both modules.
 */
#include <poll.h>
#include <sys/mman.h>

#include "iommufd_counters.h"
#include "iommufd_mock_utils.h"

#define HDR sizeof(struct iommufd_vevent_header)
#define EVT sizeof(struct iommu_viommu_event_selftest)
#define REC (HDR + EVT)
#define MAX_DEPTH (1U << 19)
#define VIRT_ID 0x99

/*
 * A mock device on an IOAS, a nesting parent, a selftest vIOMMU on it and a
 * nested HWPT of that vIOMMU; the device has no vDEVICE yet and stays
 * attached to the IOAS.
 */
FIXTURE(veventq) {
	int fd;
	__u32 ioas_id;
	__u32 stdev_id;
	__u32 idev_id;
	__u32 parent_id;
	__u32 viommu_id;
	__u32 nested_id;
};

FIXTURE_SETUP(veventq)
{
	IOMMUFD_OPEN_OR_SKIP(self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &self->stdev_id,
				 NULL, &self->idev_id));
	ASSERT_EQ(0, hwpt_alloc(self->fd, self->idev_id, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT,
				&self->parent_id));
	ASSERT_EQ(0, viommu_alloc(self->fd, self->idev_id, self->parent_id,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0,
				  &self->viommu_id));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, self->idev_id,
				       self->viommu_id, 0, 0,
				       &self->nested_id));
}

FIXTURE_TEARDOWN(veventq)
{
	if (self->fd >= 0)
		close(self->fd);
}

static int veventq_alloc_cmd(int fd, struct iommu_veventq_alloc *cmd)
{
	return ioctl(fd, IOMMU_VEVENTQ_ALLOC, cmd);
}

static int veventq_alloc(int fd, __u32 viommu_id, __u32 type, __u32 depth,
			 __u32 *id, int *qfd)
{
	struct iommu_veventq_alloc cmd = {
		.size = sizeof(cmd),
		.viommu_id = viommu_id,
		.type = type,
		.veventq_depth = depth,
	};
	int ret = veventq_alloc_cmd(fd, &cmd);

	if (!ret) {
		if (id)
			*id = cmd.out_veventq_id;
		if (qfd)
			*qfd = cmd.out_veventq_fd;
		else
			close(cmd.out_veventq_fd);
	}
	return ret;
}

static int trigger_vevent(int fd, __u32 idev_id)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_TRIGGER_VEVENT, 0);
	cmd.trigger_vevent.dev_id = idev_id;
	return test_cmd(fd, &cmd);
}

/* Gives the device virtual id @virt_id and attaches it to the nested HWPT. */
static int attach_nested(int fd, __u32 viommu_id, __u32 idev_id,
			 __u32 stdev_id, __u32 nested_id, __u64 virt_id,
			 __u32 *vdev_id)
{
	int ret = vdevice_alloc(fd, viommu_id, idev_id, virt_id, vdev_id);

	return ret ? ret : mock_domain_replace(fd, stdev_id, nested_id, NULL);
}

#define ATTACH_NESTED(virt_id, vdev_id)					\
	ASSERT_EQ(0, attach_nested(self->fd, self->viommu_id,		\
				   self->idev_id, self->stdev_id,	\
				   self->nested_id, virt_id, vdev_id))

/* One record as read(): a header and, unless it is a lost-events one, data. */
struct rec {
	struct iommufd_vevent_header hdr;
	struct iommu_viommu_event_selftest evt;
};

/* poll() of @qfd now, asking for POLLIN, POLLRDNORM and POLLOUT. */
static short revents(int qfd)
{
	struct pollfd pfd = {
		.fd = qfd,
		.events = POLLIN | POLLRDNORM | POLLOUT,
	};

	if (poll(&pfd, 1, 0) < 0)
		return -1;
	return pfd.revents;
}

/* IOMMU_VEVENTQ_ALLOC */

TEST_F(veventq, alloc_returns_id_and_cloexec_anon_fd)
{
	char link[64], target[128] = "";
	__u32 id;
	int qfd;

	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, &id, &qfd));
	EXPECT_EQ(self->nested_id + 1, id);
	EXPECT_EQ(FD_CLOEXEC, fcntl(qfd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_RDWR, fcntl(qfd, F_GETFL) & O_ACCMODE);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", qfd);
	ASSERT_LT(0, readlink(link, target, sizeof(target) - 1));
	EXPECT_STREQ("anon_inode:[iommufd-viommu-event]", target);
	EXPECT_EQ(0, close(qfd));
	EXPECT_EQ(0, destroy(self->fd, id));
}

/* flags, __reserved and the reserved type: EOPNOTSUPP, before the depth. */
TEST_F(veventq, alloc_flags_reserved_and_default_type_are_eopnotsupp)
{
	struct iommu_veventq_alloc cmd = {
		.size = sizeof(cmd),
		.viommu_id = self->viommu_id,
		.type = IOMMU_VEVENTQ_TYPE_SELFTEST,
		.veventq_depth = 0,
	};

	cmd.flags = 1;
	EXPECT_ERRNO(EOPNOTSUPP, veventq_alloc_cmd(self->fd, &cmd));
	cmd.flags = 0;
	cmd.__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP, veventq_alloc_cmd(self->fd, &cmd));
	cmd.__reserved = 0;
	cmd.type = IOMMU_VEVENTQ_TYPE_DEFAULT;
	EXPECT_ERRNO(EOPNOTSUPP, veventq_alloc_cmd(self->fd, &cmd));
	/* Only then the depth. */
	cmd.type = IOMMU_VEVENTQ_TYPE_SELFTEST;
	EXPECT_ERRNO(EINVAL, veventq_alloc_cmd(self->fd, &cmd));
}

TEST_F(veventq, alloc_depth_from_1_to_2_pow_19)
{
	__u32 id;

	EXPECT_ERRNO(EINVAL, veventq_alloc(self->fd, self->viommu_id,
					   IOMMU_VEVENTQ_TYPE_SELFTEST, 0,
					   NULL, NULL));
	EXPECT_ERRNO(EINVAL, veventq_alloc(self->fd, self->viommu_id,
					   IOMMU_VEVENTQ_TYPE_SELFTEST,
					   MAX_DEPTH + 1, NULL, NULL));
	EXPECT_ERRNO(EINVAL, veventq_alloc(self->fd, self->viommu_id,
					   IOMMU_VEVENTQ_TYPE_SELFTEST,
					   0xffffffffU, NULL, NULL));
	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, MAX_DEPTH,
				   &id, NULL));
	EXPECT_EQ(0, destroy(self->fd, id));
	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 1, &id, NULL));
	EXPECT_EQ(0, destroy(self->fd, id));
}

/* The depth is checked before the vIOMMU is looked up. */
TEST_F(veventq, alloc_viommu_id_must_name_a_viommu)
{
	EXPECT_ERRNO(ENOENT, veventq_alloc(self->fd, 0,
					   IOMMU_VEVENTQ_TYPE_SELFTEST, 2,
					   NULL, NULL));
	EXPECT_ERRNO(ENOENT, veventq_alloc(self->fd, self->ioas_id,
					   IOMMU_VEVENTQ_TYPE_SELFTEST, 2,
					   NULL, NULL));
	EXPECT_ERRNO(ENOENT, veventq_alloc(self->fd, self->nested_id,
					   IOMMU_VEVENTQ_TYPE_SELFTEST, 2,
					   NULL, NULL));
	EXPECT_ERRNO(EINVAL, veventq_alloc(self->fd, 0,
					   IOMMU_VEVENTQ_TYPE_SELFTEST, 0,
					   NULL, NULL));
}

/* One per type per vIOMMU; any other nonzero type is accepted. */
TEST_F(veventq, alloc_one_per_type_else_eexist)
{
	__u32 id, other, again;
	int qfd;

	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, &id, &qfd));
	EXPECT_ERRNO(EEXIST, veventq_alloc(self->fd, self->viommu_id,
					   IOMMU_VEVENTQ_TYPE_SELFTEST, 4,
					   NULL, NULL));
	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 2, &other,
				   NULL));
	EXPECT_ERRNO(EEXIST, veventq_alloc(self->fd, self->viommu_id,
					   IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 2,
					   NULL, NULL));
	/* Closing the fd keeps the queue: still EEXIST until destroyed. */
	EXPECT_EQ(0, close(qfd));
	EXPECT_ERRNO(EEXIST, veventq_alloc(self->fd, self->viommu_id,
					   IOMMU_VEVENTQ_TYPE_SELFTEST, 2,
					   NULL, NULL));
	EXPECT_EQ(0, destroy(self->fd, id));
	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, &again,
				   NULL));
	EXPECT_EQ(id, again);
}

/* A type is per vIOMMU: another vIOMMU may have its own. */
TEST_F(veventq, alloc_same_type_on_another_viommu)
{
	__u32 viommu2;

	ASSERT_EQ(0, viommu_alloc(self->fd, self->idev_id, self->parent_id,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0,
				  &viommu2));
	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, NULL, NULL));
	ASSERT_EQ(0, veventq_alloc(self->fd, viommu2,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, NULL, NULL));
}

TEST_F(veventq, alloc_size_rules)
{
	struct {
		struct iommu_veventq_alloc cmd;
		__u64 tail;
	} big = { .cmd = { .size = sizeof(big), .type = 1, .veventq_depth = 1 } };
	struct iommu_veventq_alloc cmd = {
		.viommu_id = self->viommu_id,
		.type = IOMMU_VEVENTQ_TYPE_SELFTEST,
		.veventq_depth = 2,
	};

	big.cmd.viommu_id = self->viommu_id;
	/* The first release ends with out_veventq_fd: 28 bytes. */
	cmd.size = offsetofend(struct iommu_veventq_alloc, out_veventq_fd) - 1;
	EXPECT_ERRNO(EINVAL, veventq_alloc_cmd(self->fd, &cmd));
	cmd.size = offsetofend(struct iommu_veventq_alloc, out_veventq_fd);
	cmd.__reserved = 1; /* beyond the caller's size: not read */
	ASSERT_EQ(0, veventq_alloc_cmd(self->fd, &cmd));
	EXPECT_EQ(1U, cmd.__reserved);
	EXPECT_EQ(0, close(cmd.out_veventq_fd));
	big.tail = 1;
	EXPECT_ERRNO(E2BIG, veventq_alloc_cmd(self->fd, &big.cmd));
	big.tail = 0;
	ASSERT_EQ(0, veventq_alloc_cmd(self->fd, &big.cmd));
	EXPECT_EQ(0, close(big.cmd.out_veventq_fd));
}

/* An unwritable result: no fd, no object, and the type is free again. */
TEST_F(veventq, alloc_unwritable_result_leaves_nothing)
{
	struct iommu_veventq_alloc *ro;
	__u32 id;
	int next_fd, qfd;

	ro = mmap(NULL, page_size(), PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	*ro = (struct iommu_veventq_alloc){
		.size = sizeof(*ro),
		.viommu_id = self->viommu_id,
		.type = IOMMU_VEVENTQ_TYPE_SELFTEST,
		.veventq_depth = 2,
	};
	ASSERT_EQ(0, mprotect(ro, page_size(), PROT_READ));
	next_fd = dup(0);
	ASSERT_LE(0, next_fd);
	close(next_fd);

	EXPECT_ERRNO(EFAULT, veventq_alloc_cmd(self->fd, ro));
	EXPECT_EQ(-1, fcntl(next_fd, F_GETFD));
	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, &id, &qfd));
	EXPECT_EQ(self->nested_id + 1, id);
	EXPECT_EQ(next_fd, qfd);
	munmap(ro, page_size());
}

/* Lifetimes */

TEST_F(veventq, destroy_while_fd_open_is_ebusy_then_ok_after_close)
{
	__u32 id;
	int qfd;

	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, &id, &qfd));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, id));
	EXPECT_EQ(0, close(qfd));
	EXPECT_EQ(0, destroy(self->fd, id));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, id));
}

/* The vEVENTQ holds its vIOMMU. */
TEST_F(veventq, viommu_destroy_is_ebusy_while_it_has_a_veventq)
{
	__u32 id;

	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, &id, NULL));
	EXPECT_EQ(0, destroy(self->fd, self->nested_id));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->viommu_id));
	EXPECT_EQ(0, destroy(self->fd, id));
	EXPECT_EQ(0, destroy(self->fd, self->viommu_id));
}

/* The fd keeps the iommufd file and its objects: events can still be read. */
TEST_F(veventq, fd_keeps_context_alive_after_iommufd_close)
{
	struct rec r[2] = {};
	int qfd;

	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, NULL, &qfd));
	ATTACH_NESTED(VIRT_ID, NULL);
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ((ssize_t)REC, read(qfd, r, sizeof(r)));
	EXPECT_EQ(0U, r[0].hdr.flags);
	EXPECT_EQ(0U, r[0].hdr.sequence);
	EXPECT_EQ((__u32)VIRT_ID, r[0].evt.virt_id);
	EXPECT_EQ(0, close(qfd));
}

/* After destroy, the vIOMMU has no queue of that type: EOPNOTSUPP. */
TEST_F(veventq, trigger_after_destroy_is_eopnotsupp)
{
	__u32 id;

	ATTACH_NESTED(VIRT_ID, NULL);
	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, &id, NULL));
	EXPECT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	/* No reader is needed to queue. */
	EXPECT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	EXPECT_EQ(0, destroy(self->fd, id));
	EXPECT_ERRNO(EOPNOTSUPP, trigger_vevent(self->fd, self->idev_id));
}

/* Queued events are freed with the queue; nothing is left behind. */
TEST_F(veventq, close_with_events_queued_leaks_nothing)
{
	struct counters c;
	int qfd;

	if (!testing_rust_iommufd() || !counters_available())
		SKIP(return, "needs rust_iommufd's debugfs counters");
	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 4, NULL, &qfd));
	ATTACH_NESTED(VIRT_ID, NULL);
	for (int i = 0; i < 6; i++)
		ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(0, close(qfd));
	EXPECT_TRUE(counters_settle_to_zero(&c))
		TH_LOG(COUNTERS_FMT, COUNTERS_ARGS(c));
}

/* IOMMU_TEST_OP_TRIGGER_VEVENT */

TEST_F(veventq, trigger_needs_a_nested_attachment_of_the_viommu)
{
	__u32 vdev;

	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, NULL, NULL));
	EXPECT_ERRNO(ENOENT, trigger_vevent(self->fd, self->ioas_id));
	/* Attached to the IOAS: no vIOMMU to report. */
	EXPECT_ERRNO(ENOENT, trigger_vevent(self->fd, self->idev_id));
	/* A vDEVICE alone is not enough. */
	ASSERT_EQ(0, vdevice_alloc(self->fd, self->viommu_id, self->idev_id,
				   VIRT_ID, &vdev));
	EXPECT_ERRNO(ENOENT, trigger_vevent(self->fd, self->idev_id));
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
					 self->nested_id, NULL));
	EXPECT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	/* Back on the IOAS: nothing to report through again. */
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
					 self->ioas_id, NULL));
	EXPECT_ERRNO(ENOENT, trigger_vevent(self->fd, self->idev_id));
}

TEST_F(veventq, trigger_without_a_veventq_of_the_type_is_eopnotsupp)
{
	ATTACH_NESTED(VIRT_ID, NULL);
	EXPECT_ERRNO(EOPNOTSUPP, trigger_vevent(self->fd, self->idev_id));
	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 2, NULL,
				   NULL));
	EXPECT_ERRNO(EOPNOTSUPP, trigger_vevent(self->fd, self->idev_id));
}

/* Upstream's mock tells "no virtual id" by 0. */
TEST_F(veventq, trigger_with_virt_id_0_is_enoent)
{
	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, NULL, NULL));
	ATTACH_NESTED(0, NULL);
	EXPECT_ERRNO(ENOENT, trigger_vevent(self->fd, self->idev_id));
}

/* The fd */

TEST_F(veventq, fd_is_not_writable_and_polls_in_only_with_events)
{
	char byte = 0;
	int qfd;

	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, NULL, &qfd));
	EXPECT_EQ(0, revents(qfd));
	EXPECT_ERRNO(EINVAL, write(qfd, &byte, 1));
	EXPECT_ERRNO(EINVAL, write(qfd, NULL, 0));
	ATTACH_NESTED(VIRT_ID, NULL);
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	EXPECT_EQ(POLLIN | POLLRDNORM, revents(qfd));
	EXPECT_EQ(0, close(qfd));
}

TEST_F(veventq, read_count_and_position_rules)
{
	char buf[64];
	int qfd;

	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, NULL, &qfd));
	/* Below one header: EINVAL, even on an empty queue. */
	EXPECT_ERRNO(EINVAL, read(qfd, buf, 0));
	EXPECT_ERRNO(EINVAL, read(qfd, buf, HDR - 1));
	EXPECT_EQ(0, read(qfd, buf, sizeof(buf)));
	EXPECT_ERRNO(ESPIPE, pread(qfd, buf, sizeof(buf), 1));

	ATTACH_NESTED(VIRT_ID, NULL);
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	EXPECT_ERRNO(EINVAL, read(qfd, buf, 0));
	/* The header fits, the event's data does not. */
	EXPECT_ERRNO(EINVAL, read(qfd, buf, HDR));
	EXPECT_ERRNO(EINVAL, read(qfd, buf, REC - 1));
	EXPECT_ERRNO(ESPIPE, pread(qfd, buf, sizeof(buf), 1));
	/* Nothing was lost on the way. */
	EXPECT_EQ((ssize_t)REC, read(qfd, buf, sizeof(buf)));
	EXPECT_EQ(0, read(qfd, buf, sizeof(buf)));
	EXPECT_EQ(0, close(qfd));
}

/* Whole events, numbered from 0, each with the device's virtual id. */
TEST_F(veventq, read_returns_whole_events_in_sequence)
{
	struct rec r[4] = {};
	int qfd;

	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 8, NULL, &qfd));
	ATTACH_NESTED(VIRT_ID, NULL);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	/* Room for one and a half: one. */
	EXPECT_EQ((ssize_t)REC, read(qfd, r, REC + REC / 2));
	EXPECT_EQ(0U, r[0].hdr.sequence);
	EXPECT_EQ((ssize_t)(3 * REC), read(qfd, r, sizeof(r)));
	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(0U, r[i].hdr.flags);
		EXPECT_EQ((__u32)i + 1, r[i].hdr.sequence);
		EXPECT_EQ((__u32)VIRT_ID, r[i].evt.virt_id);
	}
	EXPECT_EQ(0, revents(qfd));
	/* Numbering goes on. */
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	EXPECT_EQ((ssize_t)REC, read(qfd, r, sizeof(r)));
	EXPECT_EQ(4U, r[0].hdr.sequence);
	EXPECT_EQ(0, close(qfd));
}

/*
 * Past the depth events are lost: the queue ends with one lost-events
 * header (no data), renumbered by each further loss.
 */
TEST_F(veventq, overflow_ends_the_queue_with_one_lost_events_header)
{
	unsigned char buf[5 * REC];
	struct iommufd_vevent_header *lost;
	struct rec *r = (struct rec *)buf;
	int qfd;

	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, NULL, &qfd));
	ATTACH_NESTED(VIRT_ID, NULL);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	EXPECT_EQ((ssize_t)(2 * REC + HDR), read(qfd, buf, sizeof(buf)));
	EXPECT_EQ(0U, r[0].hdr.flags);
	EXPECT_EQ(0U, r[0].hdr.sequence);
	EXPECT_EQ(0U, r[1].hdr.flags);
	EXPECT_EQ(1U, r[1].hdr.sequence);
	lost = (struct iommufd_vevent_header *)(buf + 2 * REC);
	EXPECT_EQ((__u32)IOMMU_VEVENTQ_FLAG_LOST_EVENTS, lost->flags);
	/* Events 2 and 3 were lost; the header has the last number. */
	EXPECT_EQ(3U, lost->sequence);
	EXPECT_EQ(0, read(qfd, buf, sizeof(buf)));
	/* The queue has room again. */
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	EXPECT_EQ((ssize_t)REC, read(qfd, buf, sizeof(buf)));
	EXPECT_EQ(0U, r[0].hdr.flags);
	EXPECT_EQ(4U, r[0].hdr.sequence);
	EXPECT_EQ(0, close(qfd));
}

/* The lost-events header fits where only a header does. */
TEST_F(veventq, lost_events_header_is_read_on_its_own)
{
	struct iommufd_vevent_header hdr;
	struct rec r;
	int qfd;

	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 1, NULL, &qfd));
	ATTACH_NESTED(VIRT_ID, NULL);
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	/* Exactly one event's room: the event, not the header after it. */
	EXPECT_EQ((ssize_t)REC, read(qfd, &r, sizeof(r)));
	EXPECT_EQ(0U, r.hdr.sequence);
	EXPECT_EQ(POLLIN | POLLRDNORM, revents(qfd));
	EXPECT_EQ((ssize_t)HDR, read(qfd, &hdr, sizeof(hdr)));
	EXPECT_EQ((__u32)IOMMU_VEVENTQ_FLAG_LOST_EVENTS, hdr.flags);
	EXPECT_EQ(1U, hdr.sequence);
	EXPECT_EQ(0, revents(qfd));
	EXPECT_EQ(0, close(qfd));
}

/* A later event replaces the lost-events header; the gap tells the loss. */
TEST_F(veventq, next_event_replaces_the_lost_events_header)
{
	struct rec r[2] = {};
	int qfd;

	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 1, NULL, &qfd));
	ATTACH_NESTED(VIRT_ID, NULL);
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	EXPECT_EQ((ssize_t)REC, read(qfd, r, REC));
	EXPECT_EQ(0U, r[0].hdr.sequence);
	/* Room again: this event takes the header's place. */
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	EXPECT_EQ((ssize_t)REC, read(qfd, r, sizeof(r)));
	EXPECT_EQ(0U, r[0].hdr.flags);
	EXPECT_EQ(2U, r[0].hdr.sequence);
	EXPECT_EQ(0, close(qfd));
}

/* A fault in the buffer returns what was copied; the rest stays queued. */
TEST_F(veventq, read_fault_keeps_the_undelivered_event_first)
{
	unsigned char *p;
	struct rec r[2];
	int qfd;

	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 4, NULL, &qfd));
	ATTACH_NESTED(VIRT_ID, NULL);
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	p = map_two_pages(PROT_NONE);
	ASSERT_NE(MAP_FAILED, p);
	/* The first event ends at the page boundary, the second crosses it. */
	EXPECT_EQ((ssize_t)REC,
		  read(qfd, p + page_size() - REC, 2 * REC));
	EXPECT_EQ(0U, ((struct rec *)(p + page_size() - REC))->hdr.sequence);
	EXPECT_ERRNO(EFAULT, read(qfd, p + page_size() - HDR, 2 * REC));
	EXPECT_EQ((ssize_t)REC, read(qfd, r, sizeof(r)));
	EXPECT_EQ(1U, r[0].hdr.sequence);
	unmap_two_pages(p);
	EXPECT_EQ(0, close(qfd));
}

/* Upstream's vdevice_alloc case, in our words: set, unset, set again. */
TEST_F(veventq, virt_id_follows_the_vdevice_through_attachments)
{
	struct rec r[3] = {};
	__u32 vdev;
	int qfd;

	ASSERT_EQ(0, veventq_alloc(self->fd, self->viommu_id,
				   IOMMU_VEVENTQ_TYPE_SELFTEST, 2, NULL, &qfd));
	ATTACH_NESTED(0x99, &vdev);
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	EXPECT_EQ((ssize_t)REC, read(qfd, r, sizeof(r)));
	EXPECT_EQ(0x99U, r[0].evt.virt_id);
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
					 self->ioas_id, NULL));
	ASSERT_EQ(0, destroy(self->fd, vdev));
	ATTACH_NESTED(0x88, &vdev);
	ASSERT_EQ(0, trigger_vevent(self->fd, self->idev_id));
	EXPECT_EQ((ssize_t)REC, read(qfd, r, sizeof(r)));
	EXPECT_EQ(0x88U, r[0].evt.virt_id);
	EXPECT_EQ(1U, r[0].hdr.sequence);
	EXPECT_EQ(0, close(qfd));
}

TEST_HARNESS_MAIN
