// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: for a bounded time, threads trigger IO page faults on several
 * mock devices and PASIDs while others read and answer them (or leave
 * them unanswered), move the devices and PASIDs between fault HWPTs, a
 * HWPT without a queue and nothing, and replace whole fault queues: a new
 * queue and HWPT, the devices moved off the old HWPT, the old fd closed
 * with groups still on it, the old HWPT and queue destroyed.
 *
 * The invariant, checked at the end through the mock devices' response
 * records (IOMMU_TEST_OP_RUST_IOPF_RESPONSE): every group that was
 * triggered received exactly one response, from user space or the
 * automatic INVALID, none twice, none lost. Then, with everything closed,
 * the module's debugfs counters must be zero.
 *
 *   iommufd_stress [-s SECONDS]     (default 60; IOMMUFD_STRESS_SECONDS too)
 *
 * Needs rust_iommufd (its response record); skips otherwise.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "kselftest.h"

#include "iommufd_counters.h"
#include "iommufd_stress_utils.h"
/*
 * The helpers come with kselftest_harness.h; this program prints its own
 * TAP (one case per row or check) and leaves the harness's runner unused.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "iommufd_fault_utils.h"
#pragma GCC diagnostic pop

#define DEVICES 4
#define PASIDS 3		/* 0 (the RID) and two PASIDs */
#define SLOTS 2			/* fault queues alive at a time */
#define TRIGGERS 3
#define READERS 2
#define GROUP_MAX 4		/* faults per group, at most */
/*
 * The device whose groups have several faults. It stays on fault HWPTs:
 * the core answers each fault without a handler on its own, so a group
 * of N faults sent where there is no fault queue gets N responses, and
 * "one response per group" holds only where a handler takes the group.
 */
#define MULTI_DEV 0

struct slot {
	__u32 fault_id;
	__u32 hwpt_id;
	int fd;
};

struct stress {
	int fd;
	__u32 ioas, plain_hwpt;
	__u32 stdev[DEVICES], idev[DEVICES];
	struct timespec deadline;
	atomic_int stop_triggers, stop;

	/* Slots and who is attached where; held across attach changes. */
	pthread_mutex_t lock;
	struct slot slot[SLOTS];
	/* HWPT each (device, PASID) is attached to; 0 for a detached PASID. */
	__u32 attached[DEVICES][PASIDS];
	/* Fault objects whose fd a reader still held when destroyed. */
	__u32 graveyard[4096];
	unsigned int graves;

	/* What happened. */
	_Atomic unsigned int triggered[DEVICES][MOCK_IOPF_GRPID_NUM];
	atomic_uint groups, faults, answered, answer_raced, left;
	atomic_uint replaces, pasid_ops, churns, unexpected;
	atomic_int last_unexpected;
};

static unsigned int rnd(unsigned int *seed, unsigned int n)
{
	return rand_r(seed) % n;
}

static void unexpected(struct stress *s, int err)
{
	atomic_fetch_add(&s->unexpected, 1);
	atomic_store(&s->last_unexpected, err);
}

static void *trigger_thread(void *arg)
{
	struct stress *s = arg;
	unsigned int seed = (unsigned int)(uintptr_t)&seed;

	while (!atomic_load(&s->stop_triggers)) {
		unsigned int d = rnd(&seed, DEVICES);
		unsigned int g = rnd(&seed, MOCK_IOPF_GRPID_NUM);
		unsigned int n = d == MULTI_DEV ? 1 + rnd(&seed, GROUP_MAX) : 1;
		unsigned int pasid = rnd(&seed, PASIDS);
		int ret;

		ret = n == 1 ? trigger_fault(s->fd, s->idev[d], pasid, g) :
			       trigger_group(s->fd, s->idev[d], pasid, g, n);
		if (ret) {
			unexpected(s, errno);
			continue;
		}
		atomic_fetch_add(&s->triggered[d][g], 1);
		atomic_fetch_add(&s->groups, 1);
		atomic_fetch_add(&s->faults, n);
	}
	return NULL;
}

/* A reference to slot @q's fd that survives the slot being replaced. */
static int slot_fd(struct stress *s, int q)
{
	int fd;

	pthread_mutex_lock(&s->lock);
	fd = fcntl(s->slot[q].fd, F_DUPFD_CLOEXEC, 0);
	pthread_mutex_unlock(&s->lock);
	return fd;
}

static void *reader_thread(void *arg)
{
	struct stress *s = arg;
	unsigned int seed = (unsigned int)(uintptr_t)&seed;
	struct iommu_hwpt_pgfault rec[16];

	for (unsigned int i = 0; !atomic_load(&s->stop); i++) {
		struct pollfd pfd = { .events = POLLIN };
		ssize_t n;

		pfd.fd = slot_fd(s, i % SLOTS);
		if (pfd.fd < 0) {
			unexpected(s, errno);
			continue;
		}
		if (poll(&pfd, 1, 5) <= 0)
			goto next;
		n = read(pfd.fd, rec, sizeof(rec));
		if (n < 0) {
			unexpected(s, errno);
			goto next;
		}
		for (size_t r = 0; r < n / RECORD_SIZE; r++) {
			unsigned int pick = rnd(&seed, 10);
			__u32 code = pick < 7 ? IOMMUFD_PAGE_RESP_SUCCESS :
						IOMMUFD_PAGE_RESP_INVALID;

			if (!(rec[r].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE))
				continue;
			if (pick == 9) {
				/* Answered for us when its queue goes. */
				atomic_fetch_add(&s->left, 1);
				continue;
			}
			if (respond(pfd.fd, rec[r].cookie, code) ==
			    RESPONSE_SIZE)
				atomic_fetch_add(&s->answered, 1);
			else if (errno == EINVAL)
				/* Its device moved on and it was answered. */
				atomic_fetch_add(&s->answer_raced, 1);
			else
				unexpected(s, errno);
		}
next:
		close(pfd.fd);
	}
	return NULL;
}

/* Moves (device, PASID) to @hwpt (0: detach a PASID). Under s->lock. */
static void move(struct stress *s, unsigned int d, unsigned int p, __u32 hwpt)
{
	__u32 cur = s->attached[d][p];
	int ret;

	if (p == 0) {
		ret = mock_domain_replace(s->fd, s->stdev[d], hwpt, NULL);
		atomic_fetch_add(&s->replaces, 1);
	} else if (!hwpt) {
		ret = cur ? pasid_detach(s->fd, s->stdev[d], p) : 0;
		atomic_fetch_add(&s->pasid_ops, 1);
	} else {
		ret = cur ? pasid_replace(s->fd, s->stdev[d], p, hwpt) :
			    pasid_attach(s->fd, s->stdev[d], p, hwpt);
		atomic_fetch_add(&s->pasid_ops, 1);
	}
	if (ret)
		unexpected(s, errno);
	else
		s->attached[d][p] = hwpt;
}

static void *replacer_thread(void *arg)
{
	struct stress *s = arg;
	unsigned int seed = (unsigned int)(uintptr_t)&seed;

	while (!atomic_load(&s->stop)) {
		unsigned int d = rnd(&seed, DEVICES);
		unsigned int p = rnd(&seed, PASIDS);
		unsigned int pick = rnd(&seed, SLOTS + 2);
		__u32 hwpt;

		if (d == MULTI_DEV)
			pick %= SLOTS;
		pthread_mutex_lock(&s->lock);
		if (pick < SLOTS)
			hwpt = s->slot[pick].hwpt_id;
		else if (pick == SLOTS)
			hwpt = s->plain_hwpt;
		else
			hwpt = p ? 0 : s->plain_hwpt;
		move(s, d, p, hwpt);
		pthread_mutex_unlock(&s->lock);
		usleep(500);
	}
	return NULL;
}

static int slot_open(struct stress *s, struct slot *slot)
{
	if (fault_alloc(s->fd, &slot->fault_id, &slot->fd))
		return -1;
	if (hwpt_alloc_fault(s->fd, s->idev[0], s->ioas,
			     IOMMU_HWPT_ALLOC_PASID, slot->fault_id,
			     &slot->hwpt_id)) {
		close(slot->fd);
		destroy(s->fd, slot->fault_id);
		return -1;
	}
	return 0;
}

/* Destroys a fault object now, or later if a reader still holds its fd. */
static void fault_destroy(struct stress *s, __u32 fault_id)
{
	if (!destroy(s->fd, fault_id))
		return;
	if (errno != EBUSY || s->graves == ARRAY_SIZE(s->graveyard))
		unexpected(s, errno);
	else
		s->graveyard[s->graves++] = fault_id;
}

/*
 * Replaces slot @q: a new queue and HWPT; everything on the old HWPT
 * moves to the new one; the old fd closes with groups still on it; the
 * old HWPT and queue are destroyed.
 */
static void churn(struct stress *s, int q)
{
	struct slot old = s->slot[q], new;

	if (slot_open(s, &new)) {
		unexpected(s, errno);
		return;
	}
	for (unsigned int d = 0; d < DEVICES; d++)
		for (unsigned int p = 0; p < PASIDS; p++)
			if (s->attached[d][p] == old.hwpt_id)
				move(s, d, p, new.hwpt_id);
	s->slot[q] = new;
	close(old.fd);
	if (destroy(s->fd, old.hwpt_id))
		unexpected(s, errno);
	fault_destroy(s, old.fault_id);
	atomic_fetch_add(&s->churns, 1);
}

static void *churn_thread(void *arg)
{
	struct stress *s = arg;

	for (unsigned int i = 0; !atomic_load(&s->stop); i++) {
		usleep(20 * 1000);
		pthread_mutex_lock(&s->lock);
		churn(s, i % SLOTS);
		/* Retry what readers held last time. */
		for (unsigned int g = 0; g < s->graves;)
			if (!destroy(s->fd, s->graveyard[g]))
				s->graveyard[g] = s->graveyard[--s->graves];
			else
				g++;
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

static int setup(struct stress *s)
{
	s->fd = iommufd_open();
	if (s->fd < 0 || ioas_alloc(s->fd, &s->ioas))
		return -1;
	for (unsigned int d = 0; d < DEVICES; d++)
		if (mock_domain_flags(s->fd, s->ioas, MOCK_FLAGS_DEVICE_PASID,
				      &s->stdev[d], &s->attached[d][0],
				      &s->idev[d]))
			return -1;
	if (hwpt_alloc(s->fd, s->idev[0], s->ioas, IOMMU_HWPT_ALLOC_PASID,
		       &s->plain_hwpt))
		return -1;
	for (int q = 0; q < SLOTS; q++)
		if (slot_open(s, &s->slot[q]))
			return -1;
	/* Everyone starts on the first queue. */
	for (unsigned int d = 0; d < DEVICES; d++)
		for (unsigned int p = 0; p < PASIDS; p++) {
			move(s, d, p, s->slot[0].hwpt_id);
			if (s->attached[d][p] != s->slot[0].hwpt_id)
				return -1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t trig[TRIGGERS], readers[READERS], replacer, churner;
	static struct stress s = { .fd = -1 };
	unsigned int seconds = stress_seconds(argc, argv);
	unsigned int lost = 0, twice = 0, total = 0, seen = 0;
	struct counters c;
	int i;

	ksft_print_header();
	ksft_set_plan(4);
	if (!testing_rust_iommufd() || !counters_available()) {
		ksft_test_result_skip("setup\n");
		ksft_test_result_skip("run\n");
		ksft_test_result_skip("every group answered exactly once\n");
		ksft_test_result_skip("counters back to zero\n");
		ksft_finished();
	}
	pthread_mutex_init(&s.lock, NULL);
	if (setup(&s)) {
		ksft_test_result_fail("setup: %s\n", strerror(errno));
		ksft_exit_fail();
	}
	ksft_test_result_pass("setup: %d devices x %d PASIDs, %d queues\n",
			      DEVICES, PASIDS, SLOTS);

	clock_gettime(CLOCK_MONOTONIC, &s.deadline);
	s.deadline.tv_sec += seconds;
	for (i = 0; i < TRIGGERS; i++)
		pthread_create(&trig[i], NULL, trigger_thread, &s);
	for (i = 0; i < READERS; i++)
		pthread_create(&readers[i], NULL, reader_thread, &s);
	pthread_create(&replacer, NULL, replacer_thread, &s);
	pthread_create(&churner, NULL, churn_thread, &s);
	while (!past(&s.deadline))
		usleep(100 * 1000);

	/* No new faults, then no more handling; the queues close last. */
	atomic_store(&s.stop_triggers, 1);
	for (i = 0; i < TRIGGERS; i++)
		pthread_join(trig[i], NULL);
	atomic_store(&s.stop, 1);
	for (i = 0; i < READERS; i++)
		pthread_join(readers[i], NULL);
	pthread_join(replacer, NULL);
	pthread_join(churner, NULL);
	for (int q = 0; q < SLOTS; q++)
		close(s.slot[q].fd);

	ksft_test_result(!atomic_load(&s.unexpected),
			 "run: %us, %u groups (%u faults) triggered, %u answered by the handler, %u left to the automatic answer, %u raced a move; %u RID replaces, %u PASID ops, %u queue replacements; %u unexpected errors (last: %s)\n",
			 seconds, s.groups, s.faults, s.answered, s.left,
			 s.answer_raced, s.replaces, s.pasid_ops, s.churns,
			 s.unexpected,
			 s.unexpected ? strerror(s.last_unexpected) : "none");

	for (unsigned int d = 0; d < DEVICES; d++) {
		struct device_responses r = {};

		for (unsigned int g = 0; g < MOCK_IOPF_GRPID_NUM; g++) {
			unsigned int want = s.triggered[d][g];

			if (device_responses(s.fd, s.idev[d], g, &r)) {
				ksft_print_msg("device %u group %u: %s\n", d,
					       g, strerror(errno));
				lost += want;
				continue;
			}
			seen += r.count;
			lost += r.count < want ? want - r.count : 0;
			twice += r.count > want ? r.count - want : 0;
		}
		total += r.total;
	}
	ksft_test_result(!lost && !twice && seen == s.groups && total == seen,
			 "every group answered exactly once: %u triggered, %u responses at the devices (%u in their totals), %u lost, %u duplicated\n",
			 s.groups, seen, total, lost, twice);

	close(s.fd);
	ksft_test_result(counters_settle_to_zero(&c),
			 "counters back to zero: " COUNTERS_FMT "\n",
			 COUNTERS_ARGS(c));
	ksft_finished();
}
