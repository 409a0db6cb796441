// SPDX-License-Identifier: GPL-2.0
/*
 * vIOMMU hardware queues (IOMMU_HW_QUEUE_ALLOC) and the vIOMMU's mmap()
 * pages: every input and errno, the mock driver's index rules, the pinned
 * queue memory that unmap cannot take (EBUSY), the destroy order, and the
 * offset, length and protection rules of mmap() on the iommufd file.
 *
 * Expected results are upstream's (7.3) errno for errno; every case runs
 * on both modules but the one reading rust_iommufd's debugfs counters and
 * the one where upstream's mock has a bug (freed_index_is_taken_again).
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "iommufd_counters.h"
#include "iommufd_ioas_utils.h"

static int hw_queue_alloc_cmd(int fd, struct iommu_hw_queue_alloc *cmd)
{
	return ioctl(fd, IOMMU_HW_QUEUE_ALLOC, cmd);
}

static int hw_queue_alloc(int fd, __u32 viommu_id, __u32 type, __u32 index,
			  __u64 iova, __u64 length, __u32 *id)
{
	struct iommu_hw_queue_alloc cmd = {
		.size = sizeof(cmd),
		.viommu_id = viommu_id,
		.type = type,
		.index = index,
		.nesting_parent_iova = iova,
		.length = length,
	};
	int ret = hw_queue_alloc_cmd(fd, &cmd);

	if (!ret && id)
		*id = cmd.out_hw_queue_id;
	return ret;
}

#define SELFTEST IOMMU_HW_QUEUE_TYPE_SELFTEST
#define IOVA ((__u64)MOCK_APERTURE_START)

/*
 * A mock device on an IOAS, a nesting parent on it and a selftest vIOMMU;
 * two pages of the buffer are mapped at IOVA, each its own area.
 */
FIXTURE(hw_queue) {
	int fd;
	__u32 ioas_id;
	__u32 stdev_id;
	__u32 idev_id;
	__u32 parent_id;
	__u32 viommu_id;
	size_t psz;
	void *buf;
};

FIXTURE_SETUP(hw_queue)
{
	__u64 iova;

	IOMMUFD_OPEN_OR_SKIP(self->fd);
	self->psz = page_size();
	self->buf = mmap(NULL, 4 * self->psz, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &self->stdev_id,
				 NULL, &self->idev_id));
	ASSERT_EQ(0, hwpt_alloc(self->fd, self->idev_id, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT,
				&self->parent_id));
	ASSERT_EQ(0, viommu_alloc(self->fd, self->idev_id, self->parent_id,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0,
				  &self->viommu_id));
	for (int i = 0; i < 2; i++) {
		iova = IOVA + i * self->psz;
		ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id,
				      (char *)self->buf + i * self->psz,
				      self->psz, &iova, FIXED));
	}
}

FIXTURE_TEARDOWN(hw_queue)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, 4 * self->psz);
}

/* Every rejected input, in upstream's order of checks. */
TEST_F(hw_queue, alloc_rejects_bad_inputs)
{
	struct iommu_hw_queue_alloc cmd = {
		.size = offsetofend(struct iommu_hw_queue_alloc, length) - 1,
		.viommu_id = self->viommu_id,
		.type = SELFTEST,
		.nesting_parent_iova = IOVA,
		.length = self->psz,
	};
	__u32 id;

	EXPECT_ERRNO(EINVAL, hw_queue_alloc_cmd(self->fd, &cmd));
	cmd.size = sizeof(cmd);
	cmd.flags = 1;
	EXPECT_ERRNO(EOPNOTSUPP, hw_queue_alloc_cmd(self->fd, &cmd));
	EXPECT_ERRNO(EOPNOTSUPP,
		     hw_queue_alloc(self->fd, self->viommu_id,
				    IOMMU_HW_QUEUE_TYPE_DEFAULT, 0, IOVA,
				    self->psz, &id));
	/* The type is checked before the length, which is before the IOVA. */
	EXPECT_ERRNO(EOPNOTSUPP,
		     hw_queue_alloc(self->fd, self->viommu_id,
				    IOMMU_HW_QUEUE_TYPE_DEFAULT, 0, ~0ULL, 0,
				    &id));
	EXPECT_ERRNO(EINVAL, hw_queue_alloc(self->fd, self->viommu_id,
					    SELFTEST, 0, ~0ULL, 0, &id));
	EXPECT_ERRNO(EOVERFLOW, hw_queue_alloc(self->fd, self->viommu_id,
					       SELFTEST, 0, ~0ULL, self->psz,
					       &id));
	/* Those come before the vIOMMU is looked up. */
	EXPECT_ERRNO(EOVERFLOW, hw_queue_alloc(self->fd, 0, SELFTEST, 0,
					       ~0ULL, 2, &id));
	EXPECT_ERRNO(ENOENT, hw_queue_alloc(self->fd, 0, SELFTEST, 0, IOVA,
					    self->psz, &id));
	EXPECT_ERRNO(ENOENT, hw_queue_alloc(self->fd, self->ioas_id, SELFTEST,
					    0, IOVA, self->psz, &id));
	/* A type the mock vIOMMU has no queues of. */
	EXPECT_ERRNO(EOPNOTSUPP, hw_queue_alloc(self->fd, self->viommu_id,
						SELFTEST + 1, 0, IOVA,
						self->psz, &id));
	/* Memory that is not mapped, in part or at all. */
	EXPECT_ERRNO(ENOENT, hw_queue_alloc(self->fd, self->viommu_id,
					    SELFTEST, 0, IOVA + 2 * self->psz,
					    self->psz, &id));
	EXPECT_ERRNO(ENOENT, hw_queue_alloc(self->fd, self->viommu_id,
					    SELFTEST, 0, IOVA + self->psz,
					    2 * self->psz, &id));
	/* The memory is checked before the index. */
	EXPECT_ERRNO(ENOENT, hw_queue_alloc(self->fd, self->viommu_id,
					    SELFTEST, IOMMU_TEST_HW_QUEUE_MAX,
					    IOVA + 2 * self->psz, self->psz,
					    &id));
	/* Nothing was left pinned: both pages unmap. */
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas_id, IOVA,
				2 * self->psz, NULL));
}

/* The mock driver's index rules: from 0 up, each once, below the maximum. */
TEST_F(hw_queue, index_rules)
{
	__u32 q0, q1, id;

	EXPECT_ERRNO(EIO, hw_queue_alloc(self->fd, self->viommu_id, SELFTEST,
					 1, IOVA, self->psz, &id));
	EXPECT_ERRNO(EINVAL, hw_queue_alloc(self->fd, self->viommu_id,
					    SELFTEST, IOMMU_TEST_HW_QUEUE_MAX,
					    IOVA, self->psz, &id));
	EXPECT_ERRNO(EINVAL, hw_queue_alloc(self->fd, self->viommu_id,
					    SELFTEST, ~0U, IOVA, self->psz,
					    &id));
	ASSERT_EQ(0, hw_queue_alloc(self->fd, self->viommu_id, SELFTEST, 0,
				    IOVA, self->psz, &q0));
	EXPECT_ERRNO(EEXIST, hw_queue_alloc(self->fd, self->viommu_id,
					    SELFTEST, 0, IOVA + self->psz,
					    self->psz, &id));
	/* Two queues may share memory; half a page, unaligned, is enough. */
	ASSERT_EQ(0, hw_queue_alloc(self->fd, self->viommu_id, SELFTEST, 1,
				    IOVA + self->psz / 2, self->psz / 2, &q1));
	EXPECT_NE(q0, q1);
	EXPECT_ERRNO(EEXIST, hw_queue_alloc(self->fd, self->viommu_id,
					    SELFTEST, 1, IOVA, self->psz, &id));
}

/*
 * A destroyed queue's index is free again, and only its own. Upstream's
 * mock never records a queue's index, so destroying any queue frees index
 * 0 and leaves its own taken: rust_iommufd only (see userspace-api.rst,
 * "Differences from upstream").
 */
TEST_F(hw_queue, freed_index_is_taken_again)
{
	__u32 q0, q1, id;

	if (!testing_rust_iommufd())
		SKIP(return, "upstream's mock does not free the index");
	ASSERT_EQ(0, hw_queue_alloc(self->fd, self->viommu_id, SELFTEST, 0,
				    IOVA, self->psz, &q0));
	ASSERT_EQ(0, hw_queue_alloc(self->fd, self->viommu_id, SELFTEST, 1,
				    IOVA + self->psz, self->psz, &q1));
	EXPECT_EQ(0, destroy(self->fd, q1));
	EXPECT_ERRNO(EEXIST, hw_queue_alloc(self->fd, self->viommu_id,
					    SELFTEST, 0, IOVA, self->psz, &id));
	EXPECT_EQ(0, hw_queue_alloc(self->fd, self->viommu_id, SELFTEST, 1,
				    IOVA + self->psz, self->psz, &q1));
	EXPECT_EQ(0, destroy(self->fd, q1));
	EXPECT_EQ(0, destroy(self->fd, q0));
	EXPECT_ERRNO(EIO, hw_queue_alloc(self->fd, self->viommu_id, SELFTEST,
					 1, IOVA, self->psz, &id));
}

/* The queue's memory stays mapped while the queue exists. */
TEST_F(hw_queue, pinned_memory_blocks_unmap)
{
	__u64 iova = IOVA + 2 * self->psz, unmapped = 0;
	__u32 q0, q1;

	/* A third area, two pages, the queue on its second half. */
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id,
			      (char *)self->buf + 2 * self->psz,
			      2 * self->psz, &iova, FIXED));
	ASSERT_EQ(0, hw_queue_alloc(self->fd, self->viommu_id, SELFTEST, 0,
				    IOVA, self->psz, &q0));
	ASSERT_EQ(0, hw_queue_alloc(self->fd, self->viommu_id, SELFTEST, 1,
				    iova + self->psz + 8, 8, &q1));
	EXPECT_ERRNO(EBUSY, ioas_unmap(self->fd, self->ioas_id, IOVA,
				       self->psz, NULL));
	/* EBUSY for a locked area comes before ENOENT for a cut one. */
	EXPECT_ERRNO(EBUSY, ioas_unmap(self->fd, self->ioas_id, iova,
				       self->psz, NULL));
	/* So is unmapping everything. */
	EXPECT_ERRNO(EBUSY, ioas_unmap(self->fd, self->ioas_id, 0, ~0ULL,
				       NULL));
	/* The area between is free to go. */
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas_id, IOVA + self->psz,
				self->psz, &unmapped));
	EXPECT_EQ(self->psz, unmapped);
	/* The nesting parent cannot go either: the vIOMMU holds it. */
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->parent_id));

	EXPECT_EQ(0, destroy(self->fd, q1));
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova, 2 * self->psz,
				NULL));
	EXPECT_ERRNO(EBUSY, ioas_unmap(self->fd, self->ioas_id, IOVA,
				       self->psz, NULL));
	EXPECT_EQ(0, destroy(self->fd, q0));
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas_id, IOVA, self->psz,
				NULL));
	/* Gone memory makes no queue. */
	EXPECT_ERRNO(ENOENT, hw_queue_alloc(self->fd, self->viommu_id,
					    SELFTEST, 0, IOVA, self->psz,
					    &q0));
}

/* Memory mapped without read permission cannot hold a queue. */
TEST_F(hw_queue, unreadable_memory_is_eperm)
{
	__u64 iova = IOVA + 2 * self->psz;
	__u32 id;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id,
			      (char *)self->buf + 2 * self->psz, self->psz,
			      &iova, IOMMU_IOAS_MAP_FIXED_IOVA |
			      IOMMU_IOAS_MAP_WRITEABLE));
	EXPECT_ERRNO(EPERM, hw_queue_alloc(self->fd, self->viommu_id,
					   SELFTEST, 0, iova, self->psz, &id));
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova, self->psz,
				NULL));
}

/* A queue holds its vIOMMU, and queue 1 holds queue 0. */
TEST_F(hw_queue, destroy_order)
{
	__u32 q0, q1;

	ASSERT_EQ(0, hw_queue_alloc(self->fd, self->viommu_id, SELFTEST, 0,
				    IOVA, self->psz, &q0));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->viommu_id));
	ASSERT_EQ(0, hw_queue_alloc(self->fd, self->viommu_id, SELFTEST, 1,
				    IOVA + self->psz, self->psz, &q1));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, q0));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->viommu_id));
	EXPECT_EQ(0, destroy(self->fd, q1));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, q1));
	EXPECT_EQ(0, destroy(self->fd, q0));
	EXPECT_EQ(0, destroy(self->fd, self->viommu_id));
	EXPECT_EQ(0, destroy(self->fd, self->parent_id));
}

/* Closing the file with queues alive tears them down and unpins. */
TEST_F(hw_queue, close_with_queues_leaks_nothing)
{
	struct counters c;
	__u32 q0, q1;

	if (!testing_rust_iommufd() || !counters_available())
		SKIP(return, "needs rust_iommufd's debugfs counters");
	ASSERT_EQ(0, hw_queue_alloc(self->fd, self->viommu_id, SELFTEST, 0,
				    IOVA, self->psz, &q0));
	ASSERT_EQ(0, hw_queue_alloc(self->fd, self->viommu_id, SELFTEST, 1,
				    IOVA + self->psz, self->psz, &q1));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_TRUE(counters_settle_to_zero(&c))
		TH_LOG(COUNTERS_FMT, COUNTERS_ARGS(c));
}

/*
 * A selftest vIOMMU made with driver data: its two pages hold in_data and
 * may be mmap()ed at the offset it reports.
 */
FIXTURE(viommu_mmap) {
	int fd;
	__u32 ioas_id;
	__u32 stdev_id;
	__u32 idev_id;
	__u32 parent_id;
	__u32 viommu_id;
	size_t psz;
	struct iommu_viommu_selftest data;
};

FIXTURE_SETUP(viommu_mmap)
{
	IOMMUFD_OPEN_OR_SKIP(self->fd);
	self->psz = page_size();
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &self->stdev_id,
				 NULL, &self->idev_id));
	ASSERT_EQ(0, hwpt_alloc(self->fd, self->idev_id, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT,
				&self->parent_id));
	self->data.in_data = 0xbeef;
	ASSERT_EQ(0, viommu_alloc(self->fd, self->idev_id, self->parent_id,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, &self->data,
				  sizeof(self->data), &self->viommu_id));
}

FIXTURE_TEARDOWN(viommu_mmap)
{
	if (self->fd >= 0)
		close(self->fd);
}

static void *map_at(int fd, size_t length, int prot, int flags, __u64 offset)
{
	return mmap(NULL, length, prot, flags, fd, (off_t)offset);
}

#define MAP_ERRNO(_errno, length, prot, flags, offset)			\
	EXPECT_ERRNO(_errno, (long)map_at(self->fd, length, prot, flags, \
					   offset))

TEST_F(viommu_mmap, alloc_reports_the_pages)
{
	EXPECT_EQ(self->data.in_data, self->data.out_data);
	EXPECT_EQ(2 * self->psz, self->data.out_mmap_length);
	/* Never 0, and page aligned. */
	EXPECT_LE(self->psz, self->data.out_mmap_offset);
	EXPECT_EQ(0ULL, self->data.out_mmap_offset % self->psz);
}

TEST_F(viommu_mmap, rejects_other_offsets_lengths_and_modes)
{
	__u64 off = self->data.out_mmap_offset;
	size_t len = self->data.out_mmap_length;
	int rw = PROT_READ | PROT_WRITE;

	MAP_ERRNO(EINVAL, len, rw, MAP_PRIVATE, off);
	MAP_ERRNO(EPERM, len, rw | PROT_EXEC, MAP_SHARED, off);
	MAP_ERRNO(ENXIO, len, rw, MAP_SHARED, off + self->psz);
	MAP_ERRNO(ENXIO, len, rw, MAP_SHARED, off + 2 * self->psz);
	MAP_ERRNO(ENXIO, len / 2, rw, MAP_SHARED, off);
	MAP_ERRNO(ENXIO, len * 2, rw, MAP_SHARED, off);
	MAP_ERRNO(ENXIO, len, rw, MAP_SHARED, 0);
	MAP_ERRNO(ENXIO, self->psz, rw, MAP_SHARED, off + self->psz);
	/* Nothing mapped held the vIOMMU. */
	EXPECT_EQ(0, destroy(self->fd, self->viommu_id));
}

TEST_F(viommu_mmap, maps_the_pages_and_holds_the_viommu)
{
	size_t len = self->data.out_mmap_length;
	__u32 *p, *ro;

	p = map_at(self->fd, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->data.out_mmap_offset);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(self->data.in_data, p[0]);
	/* Read-only is a mode too, of the same pages. */
	ro = map_at(self->fd, len, PROT_READ, MAP_SHARED,
		    self->data.out_mmap_offset);
	ASSERT_NE(MAP_FAILED, ro);
	p[1] = 0x1234;
	EXPECT_EQ(0x1234U, ro[1]);
	EXPECT_EQ(0, munmap(ro, len));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->viommu_id));
	EXPECT_EQ(0, munmap(p, len));
	EXPECT_EQ(0, destroy(self->fd, self->viommu_id));
	/* The offset went with it. */
	MAP_ERRNO(ENXIO, len, PROT_READ, MAP_SHARED,
		  self->data.out_mmap_offset);
}

/* Each piece of a split mapping holds the vIOMMU until it is unmapped. */
TEST_F(viommu_mmap, split_mapping_holds_until_all_unmapped)
{
	size_t len = self->data.out_mmap_length;
	char *p;

	p = map_at(self->fd, len, PROT_READ, MAP_SHARED,
		   self->data.out_mmap_offset);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, munmap(p, self->psz));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->viommu_id));
	EXPECT_EQ(0, munmap(p + self->psz, self->psz));
	EXPECT_EQ(0, destroy(self->fd, self->viommu_id));
}

/* A child's copy of the mapping holds the vIOMMU too. */
TEST_F(viommu_mmap, forked_mapping_holds_the_viommu)
{
	size_t len = self->data.out_mmap_length;
	int pipefd[2], status;
	pid_t child;
	char c;
	void *p;

	p = map_at(self->fd, len, PROT_READ, MAP_SHARED,
		   self->data.out_mmap_offset);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, pipe(pipefd));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		close(pipefd[1]);
		/* Holds the copy until the parent closes its end. */
		_exit(read(pipefd[0], &c, 1) == 0 ? 0 : 1);
	}
	close(pipefd[0]);
	EXPECT_EQ(0, munmap(p, len));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->viommu_id));
	close(pipefd[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_EQ(0, destroy(self->fd, self->viommu_id));
}

/* The mapping outlives close() of the file, and then goes cleanly. */
TEST_F(viommu_mmap, mapping_outlives_close)
{
	size_t len = self->data.out_mmap_length;
	__u32 *p;

	p = map_at(self->fd, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->data.out_mmap_offset);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(self->data.in_data, p[0]);
	p[0] = 1;
	EXPECT_EQ(1U, p[0]);
	EXPECT_EQ(0, munmap(p, len));
}

/* Each vIOMMU has pages of its own; one without driver data has none. */
TEST_F(viommu_mmap, offsets_are_per_viommu)
{
	struct iommu_viommu_selftest data = { .in_data = 7 };
	__u32 viommu2, viommu3;
	__u32 *p, *q;

	ASSERT_EQ(0, viommu_alloc(self->fd, self->idev_id, self->parent_id,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, &data,
				  sizeof(data), &viommu2));
	EXPECT_NE(self->data.out_mmap_offset, data.out_mmap_offset);
	ASSERT_EQ(0, viommu_alloc(self->fd, self->idev_id, self->parent_id,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0,
				  &viommu3));
	p = map_at(self->fd, self->data.out_mmap_length, PROT_READ,
		   MAP_SHARED, self->data.out_mmap_offset);
	q = map_at(self->fd, data.out_mmap_length, PROT_READ, MAP_SHARED,
		   data.out_mmap_offset);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(0xbeefU, p[0]);
	EXPECT_EQ(7U, q[0]);
	EXPECT_EQ(0, munmap(q, data.out_mmap_length));
	EXPECT_EQ(0, destroy(self->fd, viommu2));
	EXPECT_EQ(0, destroy(self->fd, viommu3));
	/* The first one's pages are unaffected. */
	EXPECT_EQ(0xbeefU, p[0]);
	EXPECT_EQ(0, munmap(p, self->data.out_mmap_length));
}

/* A failed copy back of the driver data leaves no offset behind. */
TEST_F(viommu_mmap, failed_alloc_leaves_no_offset)
{
	struct iommu_viommu_selftest ok = { .in_data = 2 }, *data;
	size_t psz = self->psz;
	__u32 id, *p;
	char *two;

	/* The data's out half lies on a read-only page. */
	two = map_two_pages(PROT_READ);
	ASSERT_NE(MAP_FAILED, two);
	data = (void *)(two + psz - offsetofend(struct iommu_viommu_selftest,
						in_data));
	data->in_data = 1;
	EXPECT_ERRNO(EFAULT, viommu_alloc(self->fd, self->idev_id,
					  self->parent_id,
					  IOMMU_VIOMMU_TYPE_SELFTEST, 0, data,
					  sizeof(*data), &id));
	unmap_two_pages(two);
	/* The next vIOMMU gets the offset the failed one had. */
	ASSERT_EQ(0, viommu_alloc(self->fd, self->idev_id, self->parent_id,
				  IOMMU_VIOMMU_TYPE_SELFTEST, 0, &ok,
				  sizeof(ok), &id));
	EXPECT_EQ(self->data.out_mmap_offset + self->data.out_mmap_length,
		  ok.out_mmap_offset);
	p = map_at(self->fd, ok.out_mmap_length, PROT_READ, MAP_SHARED,
		   ok.out_mmap_offset);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(2U, p[0]);
	EXPECT_EQ(0, munmap(p, ok.out_mmap_length));
}

TEST_HARNESS_MAIN
