// SPDX-License-Identifier: GPL-2.0
/*
 * IOAS memory under concurrency: for a bounded time, threads map and
 * unmap user memory in one IOAS (fixed and automatic IOVAs), copy
 * mappings into a second IOAS and unmap them there, while another thread
 * allocates paging HWPTs on the IOASes (each filled with whatever is
 * mapped at that moment), moves a device between them and destroys them,
 * and mock devices come and go.
 *
 * Each mapper owns its IOVA window, so every answer is determinate: a
 * map there must succeed, the persistent HWPT's page table must then
 * translate the range to the buffer (IOMMU_TEST_OP_MD_CHECK_MAP), an
 * unmap that cuts the area must fail with ENOENT, the exact unmap must
 * report the whole length, and afterwards the page table must no longer
 * translate it. At the end nothing may stay pinned: MD_CHECK_REFS 0 over
 * the buffer with a domain still on the IOAS, VmPin 0, and (on
 * rust_iommufd) the debugfs counters, pages_pinned included, back to 0.
 *
 *   iommufd_map_stress [-s SECONDS]  (default 60; IOMMUFD_STRESS_SECONDS too)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>

#include "kselftest.h"

#include "iommufd_counters.h"
#include "iommufd_stress_utils.h"
/*
 * The helpers come with kselftest_harness.h; this program prints its own
 * TAP and leaves the harness's runner unused.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "iommufd_ioas_utils.h"
#pragma GCC diagnostic pop

#define MAPPERS 3		/* fixed-IOVA mappers, one window each */
#define BUF_PAGES 256
#define MAX_RUN 8		/* pages per mapping, at most */
#define WINDOW (16UL << 20)	/* IOVA bytes per mapper */
/* Automatic IOVAs go here only (the IOAS's allowed range). */
#define AUTO_START (MOCK_APERTURE_START + MAPPERS * WINDOW)
#define AUTO_LAST (AUTO_START + WINDOW - 1)

struct stress {
	int fd;
	__u32 ioas, ioas2;
	/* A device and the user-owned HWPT the mappers check against. */
	__u32 stdev, idev, hwpt;
	char *buf;
	size_t psz;
	struct timespec deadline;

	atomic_uint maps, unmaps, copies, cuts, checks, hwpts, devices;
	atomic_uint unexpected;
	/* The first unexpected answer, for the report. */
	pthread_mutex_t lock;
	char first[200];
	atomic_long vmpin_max;
};

struct mapper {
	struct stress *s;
	unsigned int id;
	unsigned int seed;
};

static unsigned int rnd(unsigned int *seed, unsigned int n)
{
	return rand_r(seed) % n;
}

static void note_vmpin(struct stress *s)
{
	long kib = vm_pin_kb();
	long max = atomic_load(&s->vmpin_max);

	while (kib > max && !atomic_compare_exchange_weak(&s->vmpin_max, &max,
							   kib))
		;
}

/* Records an answer that should not have been; returns true if it was one. */
static bool expect(struct stress *s, bool ok, const char *what, int err)
{
	if (ok)
		return false;
	if (atomic_fetch_add(&s->unexpected, 1) == 0) {
		pthread_mutex_lock(&s->lock);
		snprintf(s->first, sizeof(s->first), "%s: %s", what,
			 strerror(err));
		pthread_mutex_unlock(&s->lock);
	}
	return true;
}

/* One mapping's life: map, check, maybe copy, cut, unmap, check again. */
static void one_mapping(struct mapper *m, bool automatic)
{
	struct stress *s = m->s;
	unsigned int npages = 1 + rnd(&m->seed, MAX_RUN);
	unsigned int first = rnd(&m->seed, BUF_PAGES - npages + 1);
	__u64 len = (__u64)npages * s->psz, iova = 0, unmapped = 0;
	char *va = s->buf + (size_t)first * s->psz;
	int rc;

	if (automatic) {
		rc = ioas_map(s->fd, s->ioas, va, len, &iova, RW);
		if (expect(s, !rc, "automatic map", errno))
			return;
		if (expect(s, iova >= AUTO_START && iova + len - 1 <= AUTO_LAST,
			   "automatic IOVA outside the allowed range", ERANGE)) {
			ioas_unmap(s->fd, s->ioas, iova, len, NULL);
			return;
		}
	} else {
		iova = MOCK_APERTURE_START + m->id * WINDOW +
		       (__u64)rnd(&m->seed, WINDOW / s->psz - MAX_RUN) * s->psz;
		rc = ioas_map(s->fd, s->ioas, va, len, &iova, FIXED);
		if (expect(s, !rc, "fixed map in the mapper's own window",
			   errno))
			return;
	}
	atomic_fetch_add(&s->maps, 1);
	note_vmpin(s);

	rc = check_map(s->fd, s->hwpt, iova, len, va);
	expect(s, !rc, "MD_CHECK_MAP after map", errno);
	atomic_fetch_add(&s->checks, 1);

	if (!rnd(&m->seed, 4)) {
		__u64 dst = 0;

		rc = ioas_copy(s->fd, s->ioas2, s->ioas, iova, len, &dst, RW);
		if (!expect(s, !rc, "copy into the second IOAS", errno)) {
			atomic_fetch_add(&s->copies, 1);
			rc = ioas_unmap(s->fd, s->ioas2, dst, len, &unmapped);
			expect(s, !rc && unmapped == len,
			       "unmap of the copy", rc ? errno : EIO);
		}
	}

	if (npages > 1) {
		/* Its first page alone cuts the area: refused, nothing moves. */
		rc = ioas_unmap(s->fd, s->ioas, iova, s->psz, NULL);
		expect(s, rc && errno == ENOENT, "unmap cutting an area",
		       rc ? errno : 0);
		atomic_fetch_add(&s->cuts, 1);
	}

	rc = ioas_unmap(s->fd, s->ioas, iova, len, &unmapped);
	if (expect(s, !rc && unmapped == len, "exact unmap", rc ? errno : EIO))
		return;
	atomic_fetch_add(&s->unmaps, 1);

	rc = check_map(s->fd, s->hwpt, iova, s->psz, va);
	expect(s, rc && errno == EINVAL, "MD_CHECK_MAP after unmap",
	       rc ? errno : 0);
}

static void *mapper_thread(void *arg)
{
	struct mapper *m = arg;

	while (!past(&m->s->deadline))
		one_mapping(m, m->id == MAPPERS);
	return NULL;
}

/*
 * HWPTs and devices come and go on both IOASes while the mappers work:
 * each new domain is filled with what is mapped at that moment and
 * emptied when it goes.
 */
static void *domain_thread(void *arg)
{
	struct stress *s = arg;
	unsigned int seed = 7, n = 0;

	while (!past(&s->deadline)) {
		__u32 ioas = n++ % 2 ? s->ioas2 : s->ioas;
		__u32 hwpt = 0, stdev = 0, dev_hwpt;
		int rc;

		rc = hwpt_alloc(s->fd, s->idev, ioas, 0, &hwpt);
		if (expect(s, !rc, ioas == s->ioas ? "HWPT allocation" :
				   "HWPT allocation on the second IOAS",
			   errno))
			continue;
		if (ioas == s->ioas) {
			/* Move the device over and back; the mappers' HWPT stays. */
			rc = mock_domain_replace(s->fd, s->stdev, hwpt, NULL);
			expect(s, !rc, "replace onto a new HWPT", errno);
			rc = mock_domain_replace(s->fd, s->stdev, s->hwpt,
						 NULL);
			expect(s, !rc, "replace back", errno);
		}
		rc = destroy(s->fd, hwpt);
		expect(s, !rc, "HWPT destroy", errno);
		atomic_fetch_add(&s->hwpts, 1);

		if (!rnd(&seed, 2)) {
			rc = mock_domain(s->fd, ioas, &stdev, &dev_hwpt, NULL);
			if (!expect(s, !rc, "mock device", errno)) {
				rc = destroy(s->fd, stdev);
				expect(s, !rc, "mock device destroy", errno);
				atomic_fetch_add(&s->devices, 1);
			}
		}
	}
	return NULL;
}

static int setup(struct stress *s)
{
	struct iommu_iova_range allowed = {
		.start = AUTO_START,
		.last = AUTO_LAST,
	};
	struct iommu_ioas_allow_iovas allow = {
		.size = sizeof(allow),
		.num_iovas = 1,
		.allowed_iovas = PTR_U64(&allowed),
	};
	__u32 auto_hwpt;

	s->psz = page_size();
	s->buf = mmap(NULL, BUF_PAGES * s->psz, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (s->buf == MAP_FAILED)
		return -1;
	memset(s->buf, 0x3c, BUF_PAGES * s->psz);
	s->fd = iommufd_open();
	if (s->fd < 0 || ioas_alloc(s->fd, &s->ioas) ||
	    ioas_alloc(s->fd, &s->ioas2))
		return -1;
	/*
	 * Automatic IOVAs (maps and copies) inside the mock aperture, so
	 * that no area keeps a new domain off either IOAS.
	 */
	allow.ioas_id = s->ioas;
	if (ioctl(s->fd, IOMMU_IOAS_ALLOW_IOVAS, &allow))
		return -1;
	allow.ioas_id = s->ioas2;
	if (ioctl(s->fd, IOMMU_IOAS_ALLOW_IOVAS, &allow))
		return -1;
	/*
	 * The device starts on an automatic HWPT; a HWPT of our own replaces
	 * it (and so frees it), so that the mappers' HWPT outlives every
	 * move of the device.
	 */
	if (mock_domain(s->fd, s->ioas, &s->stdev, &auto_hwpt, &s->idev) ||
	    hwpt_alloc(s->fd, s->idev, s->ioas, 0, &s->hwpt) ||
	    mock_domain_replace(s->fd, s->stdev, s->hwpt, NULL))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct stress s = { .fd = -1 };
	struct mapper m[MAPPERS + 1];
	pthread_t mappers[MAPPERS + 1], domains;
	unsigned int seconds = stress_seconds(argc, argv);
	struct counters c = {};
	bool have_counters;
	long vmpin;
	int i, refs;

	ksft_print_header();
	ksft_set_plan(4);
	pthread_mutex_init(&s.lock, NULL);
	if (setup(&s)) {
		ksft_test_result_fail("setup: %s\n", strerror(errno));
		ksft_exit_fail();
	}
	ksft_test_result_pass("setup: %d fixed-IOVA mappers and one automatic, %d pages of memory\n",
			      MAPPERS, BUF_PAGES);

	clock_gettime(CLOCK_MONOTONIC, &s.deadline);
	s.deadline.tv_sec += seconds;
	for (i = 0; i <= MAPPERS; i++) {
		m[i] = (struct mapper){ .s = &s, .id = i, .seed = 1 + i };
		pthread_create(&mappers[i], NULL, mapper_thread, &m[i]);
	}
	pthread_create(&domains, NULL, domain_thread, &s);
	for (i = 0; i <= MAPPERS; i++)
		pthread_join(mappers[i], NULL);
	pthread_join(domains, NULL);

	ksft_test_result(!atomic_load(&s.unexpected),
			 "run: %us, %u maps, %u unmaps, %u copies, %u refused cuts, %u page-table checks, %u HWPTs, %u devices; VmPin peak %ld kB; %u unexpected (first: %s)\n",
			 seconds, s.maps, s.unmaps, s.copies, s.cuts, s.checks,
			 s.hwpts, s.devices, (long)s.vmpin_max, s.unexpected,
			 s.unexpected ? s.first : "none");

	/* Everything was unmapped: with a domain still there, no pin stays. */
	refs = check_refs(s.fd, s.buf, BUF_PAGES * s.psz, 0);
	vmpin = vm_pin_kb();
	have_counters = counters_available();
	if (have_counters)
		counters_read(&c);
	ksft_test_result(!refs && vmpin == 0 &&
			 (!have_counters || c.pages_pinned == 0),
			 "nothing pinned with the file still open: MD_CHECK_REFS %s, VmPin %ld kB, pages_pinned %ld\n",
			 refs ? strerror(errno) : "0", vmpin,
			 have_counters ? c.pages_pinned : -1L);

	close(s.fd);
	munmap(s.buf, BUF_PAGES * s.psz);
	if (have_counters)
		ksft_test_result(counters_settle_to_zero(&c),
				 "counters back to zero: " COUNTERS_FMT "\n",
				 COUNTERS_ARGS(c));
	else
		ksft_test_result_skip("counters back to zero: no rust_iommufd debugfs\n");
	ksft_finished();
}
