/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The mock device's DMA (IOMMU_TEST_OP_RUST_DMA) and a fault handler
 * thread that resolves its page faults the way a user-space driver would:
 * it reads each page request group from the fault fd, maps the faulting
 * pages from its backing buffer with IOMMU_IOAS_MAP (FIXED_IOVA), and
 * answers the group.
 */
#ifndef __IOMMUFD_RUST_DMA_UTILS_H
#define __IOMMUFD_RUST_DMA_UTILS_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "iommufd_fault_utils.h"
#include "iommufd_ioas_utils.h"

#define REQ_PAGE 4096ULL

/* What mock_dma() reports on success. */
struct dma_result {
	__u32 faults;
	__u32 requests;
};

/* IOMMU_TEST_OP_RUST_DMA; returns what ioctl() returned. */
static inline int mock_dma(int fd, __u32 idev_id, __u32 pasid, __u64 iova,
			   void *buf, __u32 length, __u32 flags,
			   __u32 timeout_ms, struct dma_result *out)
{
	struct iommu_test_cmd cmd;
	int ret;

	test_cmd_init(&cmd, IOMMU_TEST_OP_RUST_DMA, 0);
	cmd.dma.dev_id = idev_id;
	cmd.dma.pasid = pasid;
	cmd.dma.iova = iova;
	cmd.dma.uptr = PTR_U64(buf);
	cmd.dma.length = length;
	cmd.dma.flags = flags;
	cmd.dma.timeout_ms = timeout_ms;
	ret = test_cmd(fd, &cmd);
	if (!ret && out) {
		out->faults = cmd.dma.out_faults;
		out->requests = cmd.dma.out_requests;
	}
	return ret;
}

/* Page request groups the device's DMAs sent, and responses it received. */
static inline int dma_groups_answered(int fd, __u32 idev_id, __u32 *sent,
				      __u32 *answered)
{
	struct iommu_test_cmd cmd;
	int ret;

	test_cmd_init(&cmd, IOMMU_TEST_OP_RUST_IOPF_RESPONSE, 0);
	cmd.iopf_response.dev_id = idev_id;
	ret = test_cmd(fd, &cmd);
	if (!ret) {
		*sent = cmd.iopf_response.out_dma_groups;
		*answered = cmd.iopf_response.out_total;
	}
	return ret;
}

/* How the handler answers each group. */
enum handler_mode {
	/* Map the faulting pages, then answer SUCCESS. */
	HANDLER_MAP,
	/* Answer SUCCESS without mapping anything. */
	HANDLER_SUCCESS,
	/* Answer INVALID. */
	HANDLER_INVALID,
	/* Read the group and never answer it. */
	HANDLER_HOLD,
};

#define HANDLER_MAX_DEVS 8

struct fault_handler {
	/* Set up by the caller. */
	int fd, fault_fd;
	__u32 ioas_id;
	/* Backing memory of IOVA @iova_base on, @backing_len bytes. */
	char *backing;
	__u64 iova_base, backing_len;
	_Atomic int mode;
	/* Kept by the thread. */
	pthread_t thread;
	atomic_bool stop;
	atomic_uint groups, records, maps, map_errors, bad_groups;
	/* The last group read: its requests, perm, flags, pasid, grpid. */
	atomic_uint last_count, last_perm, last_flags, last_pasid, last_grpid;
	atomic_ullong last_addr;
	/* Groups by the device id the records name. */
	__u32 dev_ids[HANDLER_MAX_DEVS];
	atomic_uint dev_groups[HANDLER_MAX_DEVS];
};

static inline void handler_count_dev(struct fault_handler *h, __u32 dev_id)
{
	for (int i = 0; i < HANDLER_MAX_DEVS; i++)
		if (h->dev_ids[i] == dev_id) {
			atomic_fetch_add(&h->dev_groups[i], 1);
			return;
		}
}

/* Maps the 4 KiB page at @addr from the backing buffer. */
static inline void handler_map(struct fault_handler *h, __u64 addr)
{
	__u64 iova = addr;

	if (addr < h->iova_base || addr - h->iova_base >= h->backing_len) {
		atomic_fetch_add(&h->map_errors, 1);
		return;
	}
	/* EEXIST: another group (or a retry) mapped it first. */
	if (ioas_map(h->fd, h->ioas_id, h->backing + (addr - h->iova_base),
		     REQ_PAGE, &iova, FIXED) && errno != EEXIST)
		atomic_fetch_add(&h->map_errors, 1);
	else
		atomic_fetch_add(&h->maps, 1);
}

static inline void *handler_main(void *arg)
{
	struct fault_handler *h = arg;
	struct iommu_hwpt_pgfault rec[64];
	__u32 in_group = 0;

	while (!atomic_load(&h->stop)) {
		struct pollfd pfd = { .fd = h->fault_fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 20) <= 0 || !(pfd.revents & POLLIN))
			continue;
		n = read(h->fault_fd, rec, sizeof(rec));
		if (n <= 0)
			continue;
		for (size_t i = 0; i < n / RECORD_SIZE; i++) {
			int mode = atomic_load(&h->mode);
			__u32 code = IOMMUFD_PAGE_RESP_SUCCESS;

			atomic_fetch_add(&h->records, 1);
			in_group++;
			if (mode == HANDLER_MAP)
				handler_map(h, rec[i].addr);
			if (!(rec[i].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE))
				continue;
			atomic_store(&h->last_count, in_group);
			atomic_store(&h->last_perm, rec[i].perm);
			atomic_store(&h->last_flags, rec[i].flags);
			atomic_store(&h->last_pasid, rec[i].pasid);
			atomic_store(&h->last_grpid, rec[i].grpid);
			atomic_store(&h->last_addr,
				     rec[i].addr - (in_group - 1) * REQ_PAGE);
			in_group = 0;
			handler_count_dev(h, rec[i].dev_id);
			atomic_fetch_add(&h->groups, 1);
			if (mode == HANDLER_HOLD)
				continue;
			if (mode == HANDLER_INVALID)
				code = IOMMUFD_PAGE_RESP_INVALID;
			if (respond(h->fault_fd, rec[i].cookie, code) !=
			    RESPONSE_SIZE)
				atomic_fetch_add(&h->bad_groups, 1);
		}
	}
	return NULL;
}

static inline int handler_start(struct fault_handler *h)
{
	atomic_store(&h->stop, false);
	return pthread_create(&h->thread, NULL, handler_main, h);
}

static inline void handler_stop(struct fault_handler *h)
{
	atomic_store(&h->stop, true);
	pthread_join(h->thread, NULL);
}

/* Waits up to @ms for @fault_fd to have a group to read. */
static inline bool wait_readable(int fault_fd, int ms)
{
	struct pollfd pfd = { .fd = fault_fd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1 && (pfd.revents & POLLIN);
}

#endif /* __IOMMUFD_RUST_DMA_UTILS_H */
