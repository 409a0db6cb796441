// SPDX-License-Identifier: GPL-2.0
/*
 * Demand-paged DMA on the mock device (IOMMU_TEST_OP_RUST_DMA): a DMA
 * that meets an IOVA with no mapping sends page requests, stalls until
 * user space answers them, and goes on after the handler has mapped the
 * pages; and every way a stall ends.
 */
#include <signal.h>
#include <sys/mman.h>
#include <time.h>

#include "kselftest_harness.h"
#include "iommufd_dma_utils.h"

#define IOVA_BASE (1ULL << 24)
#define BACKING_PAGES 128
#define BACKING_LEN (BACKING_PAGES * REQ_PAGE)

/*
 * A PASID-capable mock device on a fault-capable paging HWPT of an empty
 * IOAS, a plain HWPT beside it, a fault handler (not started) whose
 * backing buffer stands behind IOVA_BASE, and a source and a destination
 * buffer for the DMAs.
 */
FIXTURE(dma) {
	int fd;
	__u32 ioas_id, stdev_id, idev_id, fault_id, hwpt_id, plain_hwpt_id;
	struct fault_handler h;
	bool running;
	char *src, *dst;
};

FIXTURE_SETUP(dma)
{
	memset(&self->h, 0, sizeof(self->h));
	self->h.fault_fd = -1;
	IOMMUFD_OPEN_OR_SKIP(self->fd);
	if (!testing_rust_iommufd())
		SKIP(return, "IOMMU_TEST_OP_RUST_DMA is rust_iommufd's");
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	ASSERT_EQ(0, mock_domain_flags(self->fd, self->ioas_id,
				       MOCK_FLAGS_DEVICE_PASID,
				       &self->stdev_id, NULL, &self->idev_id));
	ASSERT_EQ(0, fault_alloc(self->fd, &self->fault_id, &self->h.fault_fd));
	ASSERT_EQ(0, hwpt_alloc_fault(self->fd, self->idev_id, self->ioas_id,
				      IOMMU_HWPT_ALLOC_PASID, self->fault_id,
				      &self->hwpt_id));
	ASSERT_EQ(0, hwpt_alloc(self->fd, self->idev_id, self->ioas_id,
				IOMMU_HWPT_ALLOC_PASID, &self->plain_hwpt_id));
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
					 self->hwpt_id, NULL));
	self->h.fd = self->fd;
	self->h.ioas_id = self->ioas_id;
	self->h.iova_base = IOVA_BASE;
	self->h.backing_len = BACKING_LEN;
	self->h.backing = mmap(NULL, BACKING_LEN, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	self->src = mmap(NULL, BACKING_LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	self->dst = mmap(NULL, BACKING_LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->h.backing);
	ASSERT_NE(MAP_FAILED, self->src);
	ASSERT_NE(MAP_FAILED, self->dst);
	for (size_t i = 0; i < BACKING_LEN; i++)
		self->src[i] = (char)(i * 7 + i / 4096);
	memset(self->dst, 0xaa, BACKING_LEN);
	self->h.dev_ids[0] = self->idev_id;
}

FIXTURE_TEARDOWN(dma)
{
	if (self->running)
		handler_stop(&self->h);
	if (self->h.fault_fd >= 0)
		close(self->h.fault_fd);
	if (self->fd >= 0)
		close(self->fd);
}

static void start(struct __test_metadata *_metadata, FIXTURE_DATA(dma) *self,
		  int mode)
{
	atomic_store(&self->h.mode, mode);
	ASSERT_EQ(0, handler_start(&self->h));
	self->running = true;
}

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 +
	       (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* Inputs */

TEST_F(dma, rejects_bad_arguments)
{
	EXPECT_ERRNO(EINVAL, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
				      self->src, 4096, 2, 0, NULL));
	EXPECT_ERRNO(EINVAL, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
				      self->src, 0, MOCK_DMA_WRITE, 0, NULL));
	EXPECT_ERRNO(EINVAL, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
				      self->src, MOCK_DMA_MAX_LENGTH + 1,
				      MOCK_DMA_WRITE, 0, NULL));
	EXPECT_ERRNO(EINVAL, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
				      self->src, 4096, MOCK_DMA_WRITE,
				      MOCK_DMA_TIMEOUT_MAX_MS + 1, NULL));
	EXPECT_ERRNO(EOVERFLOW, mock_dma(self->fd, self->idev_id, 0,
					 ~0ULL - 100, self->src, 4096,
					 MOCK_DMA_WRITE, 0, NULL));
	/* Not a device; no object. */
	EXPECT_ERRNO(ENOENT, mock_dma(self->fd, self->ioas_id, 0, IOVA_BASE,
				      self->src, 4096, MOCK_DMA_WRITE, 0, NULL));
	EXPECT_ERRNO(ENOENT, mock_dma(self->fd, 9999, 0, IOVA_BASE, self->src,
				      4096, MOCK_DMA_WRITE, 0, NULL));
	/* Nothing was sent for any of them. */
	EXPECT_FALSE(wait_readable(self->h.fault_fd, 0));
}

TEST_F(dma, bad_user_buffer_is_efault)
{
	__u64 iova = IOVA_BASE;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->h.backing,
			      REQ_PAGE, &iova, FIXED));
	EXPECT_ERRNO(EFAULT, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
				      NULL, 4096, MOCK_DMA_WRITE, 0, NULL));
	EXPECT_ERRNO(EFAULT, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
				      NULL, 4096, 0, 0, NULL));
}

/* DMA through mappings that are there */

TEST_F(dma, premapped_write_and_read)
{
	struct dma_result r = { 1, 1 };
	__u64 iova = IOVA_BASE;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->h.backing,
			      16 * REQ_PAGE, &iova, FIXED));
	/* Unaligned start and length, across pages. */
	ASSERT_EQ(0, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE + 100,
			      self->src, 3 * 4096 + 17, MOCK_DMA_WRITE, 0, &r));
	EXPECT_EQ(0U, r.faults);
	EXPECT_EQ(0U, r.requests);
	EXPECT_EQ(0, memcmp(self->h.backing + 100, self->src, 3 * 4096 + 17));
	EXPECT_EQ(0, self->h.backing[99]);
	EXPECT_EQ(0, self->h.backing[100 + 3 * 4096 + 17]);
	ASSERT_EQ(0, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE + 100,
			      self->dst, 3 * 4096 + 17, 0, 0, &r));
	EXPECT_EQ(0, memcmp(self->dst, self->src, 3 * 4096 + 17));
	EXPECT_EQ((char)0xaa, self->dst[3 * 4096 + 17]);
	EXPECT_FALSE(wait_readable(self->h.fault_fd, 0));
}

TEST_F(dma, plain_hwpt_fails_at_once)
{
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
					 self->plain_hwpt_id, NULL));
	EXPECT_ERRNO(EFAULT, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
				      self->src, 4096, MOCK_DMA_WRITE, 0, NULL));
	EXPECT_FALSE(wait_readable(self->h.fault_fd, 0));
}

TEST_F(dma, unattached_pasid_is_blocked)
{
	EXPECT_ERRNO(ENXIO, mock_dma(self->fd, self->idev_id, 7, IOVA_BASE,
				     self->src, 4096, MOCK_DMA_WRITE, 0, NULL));
}

/* The fault loop */

TEST_F(dma, demand_write_maps_only_what_it_touches)
{
	struct dma_result r = {};
	__u32 sent, answered;

	start(_metadata, self, HANDLER_MAP);
	EXPECT_EQ(0, pins_of(self->fd, self->h.backing, BACKING_LEN, 2));
	ASSERT_EQ(0, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
			      self->src, 16 * 4096, MOCK_DMA_WRITE, 0, &r));
	/* One run of 16 missing pages: one group of 16 requests. */
	EXPECT_EQ(1U, r.faults);
	EXPECT_EQ(16U, r.requests);
	EXPECT_EQ(1U, atomic_load(&self->h.groups));
	EXPECT_EQ(16U, atomic_load(&self->h.last_count));
	EXPECT_EQ(IOVA_BASE, atomic_load(&self->h.last_addr));
	EXPECT_EQ((__u32)IOMMU_PGFAULT_PERM_WRITE,
		  atomic_load(&self->h.last_perm));
	EXPECT_EQ((__u32)IOMMU_PGFAULT_FLAGS_LAST_PAGE,
		  atomic_load(&self->h.last_flags));
	EXPECT_LE((__u32)MOCK_DMA_GRPID_BASE, atomic_load(&self->h.last_grpid));
	EXPECT_GT((__u32)MOCK_IOPF_GRPID_NUM, atomic_load(&self->h.last_grpid));
	EXPECT_EQ(0U, atomic_load(&self->h.map_errors));
	EXPECT_EQ(0, memcmp(self->h.backing, self->src, 16 * 4096));
	/* Only the touched pages are pinned. */
	EXPECT_EQ(1, pins_of(self->fd, self->h.backing, 16 * REQ_PAGE, 2));
	EXPECT_EQ(0, pins_of(self->fd, self->h.backing + 16 * REQ_PAGE,
			     BACKING_LEN - 16 * REQ_PAGE, 2));
	/* The group was answered exactly once, SUCCESS. */
	EXPECT_DEVICE_SAW(self->fd, self->idev_id,
			  atomic_load(&self->h.last_grpid), 1,
			  IOMMUFD_PAGE_RESP_SUCCESS);
	ASSERT_EQ(0, dma_groups_answered(self->fd, self->idev_id, &sent,
					 &answered));
	EXPECT_EQ(1U, sent);
	EXPECT_EQ(1U, answered);
}

TEST_F(dma, demand_read_asks_for_read)
{
	struct dma_result r = {};

	memcpy(self->h.backing, self->src, 4 * 4096);
	start(_metadata, self, HANDLER_MAP);
	ASSERT_EQ(0, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
			      self->dst, 4 * 4096, 0, 0, &r));
	EXPECT_EQ(1U, r.faults);
	EXPECT_EQ(4U, r.requests);
	EXPECT_EQ((__u32)IOMMU_PGFAULT_PERM_READ,
		  atomic_load(&self->h.last_perm));
	EXPECT_EQ(0, memcmp(self->dst, self->src, 4 * 4096));
}

TEST_F(dma, long_runs_split_into_groups)
{
	struct dma_result r = {};

	start(_metadata, self, HANDLER_MAP);
	ASSERT_EQ(0, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
			      self->src, 100 * 4096, MOCK_DMA_WRITE, 0, &r));
	EXPECT_EQ(2U, r.faults);
	EXPECT_EQ(100U, r.requests);
	EXPECT_EQ(100U - MOCK_IOPF_GROUP_MAX, atomic_load(&self->h.last_count));
	EXPECT_EQ(0, memcmp(self->h.backing, self->src, 100 * 4096));
}

TEST_F(dma, holes_fault_one_run_each)
{
	struct dma_result r = {};
	__u64 iova = IOVA_BASE + 2 * REQ_PAGE;

	/* Pages 2-3 mapped: runs 0-1 and 4-5 fault, two groups. */
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id,
			      self->h.backing + 2 * REQ_PAGE, 2 * REQ_PAGE,
			      &iova, FIXED));
	start(_metadata, self, HANDLER_MAP);
	ASSERT_EQ(0, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
			      self->src, 6 * 4096, MOCK_DMA_WRITE, 0, &r));
	EXPECT_EQ(2U, r.faults);
	EXPECT_EQ(4U, r.requests);
	EXPECT_EQ(IOVA_BASE + 4 * REQ_PAGE, atomic_load(&self->h.last_addr));
	EXPECT_EQ(0, memcmp(self->h.backing, self->src, 6 * 4096));
}

TEST_F(dma, unmap_makes_the_next_dma_fault_again)
{
	struct dma_result r = {};
	__u64 unmapped = 0;

	start(_metadata, self, HANDLER_MAP);
	ASSERT_EQ(0, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
			      self->src, 8 * 4096, MOCK_DMA_WRITE, 0, &r));
	EXPECT_EQ(1U, r.faults);
	ASSERT_EQ(0, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
			      self->dst, 8 * 4096, 0, 0, &r));
	EXPECT_EQ(0U, r.faults);
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, IOVA_BASE,
				8 * REQ_PAGE, &unmapped));
	EXPECT_EQ(8 * REQ_PAGE, unmapped);
	EXPECT_EQ(0, pins_of(self->fd, self->h.backing, 8 * REQ_PAGE, 2));
	ASSERT_EQ(0, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
			      self->dst, 8 * 4096, 0, 0, &r));
	EXPECT_EQ(1U, r.faults);
	EXPECT_EQ(8U, r.requests);
	EXPECT_EQ(0, memcmp(self->dst, self->src, 8 * 4096));
}

TEST_F(dma, success_without_mapping_gives_up)
{
	struct dma_result r = {};
	__u64 iova = IOVA_BASE;
	__u32 sent, answered;

	/* Page 0 mapped, page 1 not: the read stops at page 1. */
	memcpy(self->h.backing, self->src, 4096);
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->h.backing,
			      REQ_PAGE, &iova, FIXED));
	start(_metadata, self, HANDLER_SUCCESS);
	EXPECT_ERRNO(EFAULT, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
				      self->dst, 2 * 4096, 0, 0, &r));
	EXPECT_EQ((__u32)MOCK_DMA_MAX_RETRIES, atomic_load(&self->h.groups));
	EXPECT_EQ(0, memcmp(self->dst, self->src, 4096));
	for (int i = 4096; i < 2 * 4096; i++)
		ASSERT_EQ((char)0xaa, self->dst[i]);
	ASSERT_EQ(0, dma_groups_answered(self->fd, self->idev_id, &sent,
					 &answered));
	EXPECT_EQ((__u32)MOCK_DMA_MAX_RETRIES, sent);
	EXPECT_EQ(sent, answered);
}

TEST_F(dma, invalid_answer_is_eio)
{
	start(_metadata, self, HANDLER_INVALID);
	EXPECT_ERRNO(EIO, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
				   self->src, 4 * 4096, MOCK_DMA_WRITE, 0,
				   NULL));
	EXPECT_EQ(1U, atomic_load(&self->h.groups));
	EXPECT_DEVICE_SAW(self->fd, self->idev_id,
			  atomic_load(&self->h.last_grpid), 1,
			  IOMMUFD_PAGE_RESP_INVALID);
	/* Nothing landed. */
	for (int i = 0; i < 4 * 4096; i++)
		ASSERT_EQ(0, self->h.backing[i]);
}

TEST_F(dma, read_only_mapping_faults_writes_only)
{
	struct dma_result r = { 1, 1 };
	__u64 iova = IOVA_BASE;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->h.backing,
			      REQ_PAGE, &iova,
			      IOMMU_IOAS_MAP_FIXED_IOVA |
				      IOMMU_IOAS_MAP_READABLE));
	start(_metadata, self, HANDLER_INVALID);
	EXPECT_ERRNO(EIO, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
				   self->src, 4096, MOCK_DMA_WRITE, 0, NULL));
	EXPECT_EQ(1U, atomic_load(&self->h.groups));
	EXPECT_EQ((__u32)IOMMU_PGFAULT_PERM_WRITE,
		  atomic_load(&self->h.last_perm));
	ASSERT_EQ(0, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
			      self->dst, 4096, 0, 0, &r));
	EXPECT_EQ(0U, r.faults);
	EXPECT_EQ(1U, atomic_load(&self->h.groups));
}

TEST_F(dma, no_answer_times_out)
{
	struct iommu_hwpt_pgfault rec[2];
	struct timespec t0;
	__u32 sent, answered;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_ERRNO(ETIMEDOUT, mock_dma(self->fd, self->idev_id, 0,
					 IOVA_BASE, self->src, 4096,
					 MOCK_DMA_WRITE, 300, NULL));
	ms = elapsed_ms(&t0);
	EXPECT_LE(250, ms);
	EXPECT_GT(10000, ms);
	/* The group is still there; answering it late is harmless. */
	ASSERT_EQ((ssize_t)RECORD_SIZE,
		  read_records(self->h.fault_fd, rec, 2));
	EXPECT_EQ((ssize_t)RESPONSE_SIZE,
		  respond(self->h.fault_fd, rec[0].cookie,
			  IOMMUFD_PAGE_RESP_SUCCESS));
	ASSERT_EQ(0, dma_groups_answered(self->fd, self->idev_id, &sent,
					 &answered));
	EXPECT_EQ(1U, sent);
	EXPECT_EQ(1U, answered);
	/* The device goes on working. */
	start(_metadata, self, HANDLER_MAP);
	ASSERT_EQ(0, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
			      self->src, 4096, MOCK_DMA_WRITE, 0, NULL));
}

/* Whatever ends the attachment ends the stall */

struct stalled_dma {
	int fd;
	__u32 idev_id, pasid;
	__u64 iova;
	void *buf;
	int ret, err;
	long ms;
	pthread_t thread;
};

static void *stalled_dma_main(void *arg)
{
	struct stalled_dma *d = arg;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	d->ret = mock_dma(d->fd, d->idev_id, d->pasid, d->iova, d->buf, 4096,
			  MOCK_DMA_WRITE, MOCK_DMA_TIMEOUT_MAX_MS, NULL);
	d->err = errno;
	d->ms = elapsed_ms(&t0);
	return NULL;
}

/* Starts a DMA in a thread and waits until its group is queued. */
static void stall(struct __test_metadata *_metadata, FIXTURE_DATA(dma) *self,
		  struct stalled_dma *d, __u32 pasid)
{
	d->fd = self->fd;
	d->idev_id = self->idev_id;
	d->pasid = pasid;
	d->iova = IOVA_BASE;
	d->buf = self->src;
	ASSERT_EQ(0, pthread_create(&d->thread, NULL, stalled_dma_main, d));
	ASSERT_TRUE(wait_readable(self->h.fault_fd, 20000));
}

/* Expects the DMA to have ended with @err well before its timeout. */
static void expect_ended(struct __test_metadata *_metadata,
			 struct stalled_dma *d, int err)
{
	pthread_join(d->thread, NULL);
	EXPECT_EQ(-1, d->ret);
	EXPECT_EQ(err, d->err);
	EXPECT_GT(MOCK_DMA_TIMEOUT_MAX_MS / 2, d->ms);
}

TEST_F(dma, replace_ends_the_stall)
{
	struct stalled_dma d;

	stall(_metadata, self, &d, 0);
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id,
					 self->plain_hwpt_id, NULL));
	expect_ended(_metadata, &d, EIO);
}

TEST_F(dma, pasid_detach_ends_the_stall)
{
	struct dma_result r = {};
	struct stalled_dma d;

	ASSERT_EQ(0, pasid_attach(self->fd, self->stdev_id, 100,
				  self->hwpt_id));
	start(_metadata, self, HANDLER_MAP);
	ASSERT_EQ(0, mock_dma(self->fd, self->idev_id, 100, IOVA_BASE,
			      self->src, 2 * 4096, MOCK_DMA_WRITE, 0, &r));
	EXPECT_EQ(1U, r.faults);
	EXPECT_EQ(100U, atomic_load(&self->h.last_pasid));
	EXPECT_EQ((__u32)(IOMMU_PGFAULT_FLAGS_PASID_VALID |
			  IOMMU_PGFAULT_FLAGS_LAST_PAGE),
		  atomic_load(&self->h.last_flags));
	EXPECT_EQ(0, memcmp(self->h.backing, self->src, 2 * 4096));
	handler_stop(&self->h);
	self->running = false;
	/* Now a stall on a page nobody maps, ended by the detach. */
	d.fd = self->fd;
	d.idev_id = self->idev_id;
	d.pasid = 100;
	d.iova = IOVA_BASE + 64 * REQ_PAGE;
	d.buf = self->src;
	ASSERT_EQ(0, pthread_create(&d.thread, NULL, stalled_dma_main, &d));
	ASSERT_TRUE(wait_readable(self->h.fault_fd, 20000));
	ASSERT_EQ(0, pasid_detach(self->fd, self->stdev_id, 100));
	expect_ended(_metadata, &d, EIO);
}

TEST_F(dma, closing_the_fault_fd_ends_the_stall)
{
	struct stalled_dma d;

	stall(_metadata, self, &d, 0);
	ASSERT_EQ(0, close(self->h.fault_fd));
	self->h.fault_fd = -1;
	expect_ended(_metadata, &d, EIO);
}

TEST_F(dma, destroying_the_device_ends_the_stall)
{
	struct stalled_dma d;

	stall(_metadata, self, &d, 0);
	ASSERT_EQ(0, destroy(self->fd, self->stdev_id));
	expect_ended(_metadata, &d, EIO);
}

static void on_signal(int sig)
{
	(void)sig;
}

TEST_F(dma, a_signal_ends_the_stall)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct stalled_dma d;

	/* No SA_RESTART: the ioctl returns EINTR. */
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	stall(_metadata, self, &d, 0);
	ASSERT_EQ(0, pthread_kill(d.thread, SIGUSR1));
	expect_ended(_metadata, &d, EINTR);
}

TEST_F(dma, nested_hwpt_faults_and_translates_through_its_parent)
{
	struct dma_result r = {};
	__u32 parent, nested;

	ASSERT_EQ(0, hwpt_alloc(self->fd, self->idev_id, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, hwpt_alloc_nested_fault(self->fd, self->idev_id, parent,
					     0, self->fault_id, &nested));
	ASSERT_EQ(0, mock_domain_replace(self->fd, self->stdev_id, nested,
					 NULL));
	start(_metadata, self, HANDLER_MAP);
	ASSERT_EQ(0, mock_dma(self->fd, self->idev_id, 0, IOVA_BASE,
			      self->src, 3 * 4096, MOCK_DMA_WRITE, 0, &r));
	EXPECT_EQ(1U, r.faults);
	EXPECT_EQ(3U, r.requests);
	EXPECT_EQ(0, memcmp(self->h.backing, self->src, 3 * 4096));
	EXPECT_EQ(0, check_map(self->fd, parent, IOVA_BASE, 3 * REQ_PAGE,
			       self->h.backing));
}

/*
 * Concurrency: several devices DMA through fault HWPTs on one IOAS with
 * one handler thread; another thread unmaps windows and moves devices
 * between two fault HWPTs meanwhile. Every DMA ends, with the right data
 * or with the errno a disruption explains; every group a device sent is
 * answered exactly once.
 */
#define NDEV 3
#define WINDOW_PAGES 8

struct worker {
	int fd;
	__u32 idev_id;
	__u64 iova;
	char *backing;
	int iterations;
	atomic_int ok, eio, efault, other, bad_data;
	atomic_bool done;
	pthread_t thread;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	size_t len = WINDOW_PAGES * 4096;
	char *src = malloc(len), *dst = malloc(len);

	for (int it = 0; it < w->iterations && src && dst; it++) {
		memset(src, (int)(w->idev_id * 16 + it), len);
		if (mock_dma(w->fd, w->idev_id, 0, w->iova, src, len,
			     MOCK_DMA_WRITE, 5000, NULL) ||
		    mock_dma(w->fd, w->idev_id, 0, w->iova, dst, len, 0, 5000,
			     NULL)) {
			if (errno == EIO)
				atomic_fetch_add(&w->eio, 1);
			else if (errno == EFAULT)
				atomic_fetch_add(&w->efault, 1);
			else
				atomic_fetch_add(&w->other, 1);
			continue;
		}
		if (memcmp(src, dst, len))
			atomic_fetch_add(&w->bad_data, 1);
		else
			atomic_fetch_add(&w->ok, 1);
	}
	free(src);
	free(dst);
	atomic_store(&w->done, true);
	return NULL;
}

/* One worker per device, each on a window of its own. */
static void start_workers(struct __test_metadata *_metadata, struct worker *w,
			  int fd, const __u32 *idev, int iterations)
{
	for (int i = 0; i < NDEV; i++) {
		w[i].fd = fd;
		w[i].idev_id = idev[i];
		w[i].iova = IOVA_BASE + i * 2 * WINDOW_PAGES * REQ_PAGE;
		w[i].iterations = iterations;
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL, worker_main,
					    &w[i]));
	}
}

static bool all_done(struct worker *w)
{
	for (int i = 0; i < NDEV; i++)
		if (!atomic_load(&w[i].done))
			return false;
	return true;
}

TEST_F(dma, concurrent_devices_handler_and_disruptor)
{
	__u32 stdev[NDEV], idev[NDEV], hwpt2;
	struct worker w[NDEV] = {};
	int ok = 0, eio = 0, efault = 0, rounds = 0;
	__u32 total_sent = 0;

	ASSERT_EQ(0, hwpt_alloc_fault(self->fd, self->idev_id, self->ioas_id,
				      IOMMU_HWPT_ALLOC_PASID, self->fault_id,
				      &hwpt2));
	for (int i = 0; i < NDEV; i++) {
		ASSERT_EQ(0, mock_domain_flags(self->fd, self->hwpt_id, 0,
					       &stdev[i], NULL, &idev[i]));
		self->h.dev_ids[i + 1] = idev[i];
	}
	start(_metadata, self, HANDLER_MAP);
	start_workers(_metadata, w, self->fd, idev, 40);
	/* Disrupt until the workers are done: unmap a window, move a device. */
	for (int round = 0; !all_done(w); round++) {
		int i = round % NDEV;
		__u64 unmapped;

		usleep(2000);
		rounds++;
		if (round % 3 == 0) {
			/* ENOENT when nothing is mapped there right now. */
			if (ioas_unmap(self->fd, self->ioas_id, w[i].iova,
				       WINDOW_PAGES * REQ_PAGE, &unmapped))
				ASSERT_EQ(ENOENT, errno);
		} else {
			ASSERT_EQ(0, mock_domain_replace(
					     self->fd, stdev[i],
					     round % 2 ? hwpt2 : self->hwpt_id,
					     NULL));
		}
	}
	for (int i = 0; i < NDEV; i++) {
		pthread_join(w[i].thread, NULL);
		ok += atomic_load(&w[i].ok);
		eio += atomic_load(&w[i].eio);
		efault += atomic_load(&w[i].efault);
		EXPECT_EQ(0, atomic_load(&w[i].other));
		EXPECT_EQ(0, atomic_load(&w[i].bad_data));
	}
	TH_LOG("%d DMA pairs completed, %d EIO, %d EFAULT, %d disruptions",
	       ok, eio, efault, rounds);
	EXPECT_EQ(NDEV * 40, ok + eio + efault);
	EXPECT_LT(0, ok);
	handler_stop(&self->h);
	self->running = false;
	EXPECT_EQ(0U, atomic_load(&self->h.map_errors));
	/*
	 * Every group sent was answered, once: by the handler or on replace
	 * (the handler's late answer to a group a replace answered fails
	 * with EINVAL and reaches no device).
	 */
	for (int i = 0; i < NDEV; i++) {
		__u32 sent, answered;

		ASSERT_EQ(0, dma_groups_answered(self->fd, idev[i], &sent,
						 &answered));
		EXPECT_EQ(sent, answered) TH_LOG("device %u", idev[i]);
		EXPECT_LE(atomic_load(&self->h.dev_groups[i + 1]), sent);
		total_sent += sent;
	}
	/* The unmaps made DMAs fault again: beyond each window's first. */
	TH_LOG("%u groups sent", total_sent);
	EXPECT_LT((__u32)NDEV, total_sent);
}

/*
 * Several devices stalled at once, the handler holding their groups: one
 * close of the fault descriptor ends every stall, and every later fault
 * is answered on arrival.
 */
TEST_F(dma, concurrent_stalls_end_on_close)
{
	__u32 stdev[NDEV], idev[NDEV];
	struct worker w[NDEV] = {};
	struct timespec t0;

	for (int i = 0; i < NDEV; i++)
		ASSERT_EQ(0, mock_domain_flags(self->fd, self->hwpt_id, 0,
					       &stdev[i], NULL, &idev[i]));
	start(_metadata, self, HANDLER_HOLD);
	start_workers(_metadata, w, self->fd, idev, 5);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (atomic_load(&self->h.groups) < NDEV && elapsed_ms(&t0) < 20000)
		usleep(1000);
	ASSERT_EQ((__u32)NDEV, atomic_load(&self->h.groups));
	handler_stop(&self->h);
	self->running = false;
	ASSERT_EQ(0, close(self->h.fault_fd));
	self->h.fault_fd = -1;
	for (int i = 0; i < NDEV; i++) {
		__u32 sent, answered;

		pthread_join(w[i].thread, NULL);
		EXPECT_EQ(5, atomic_load(&w[i].eio));
		EXPECT_EQ(0, atomic_load(&w[i].ok) + atomic_load(&w[i].efault) +
				     atomic_load(&w[i].other));
		ASSERT_EQ(0, dma_groups_answered(self->fd, idev[i], &sent,
						 &answered));
		EXPECT_EQ(5U, sent);
		EXPECT_EQ(sent, answered);
	}
	/* Nowhere near the 5 s each DMA would wait unanswered. */
	EXPECT_GT(15000, elapsed_ms(&t0));
}

TEST_HARNESS_MAIN
