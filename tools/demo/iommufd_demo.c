// SPDX-License-Identifier: GPL-2.0
/*
 * An IO page fault (IOPF) handler in user space, the way a VMM runs one,
 * and demand-paged DMA on top of it. `make run` runs it in the test VM;
 * `make check` runs it too.
 *
 *   iommufd_demo [/dev/iommu]
 *
 * The program sets up what a VMM sets up for a device that can fault:
 *
 *   IOAS                     an I/O address space
 *   device                   here a mock device; in a VMM, a VFIO device
 *                            bound to the iommufd (VFIO_DEVICE_BIND_IOMMUFD)
 *   fault queue + its fd     IOMMU_FAULT_QUEUE_ALLOC
 *   fault-capable HWPT       IOMMU_HWPT_ALLOC with IOMMU_HWPT_FAULT_ID_VALID
 *   attach                   the device to that HWPT
 *
 * Part 1: a second thread plays the device and sends page requests, and
 * the main thread handles them: poll() the fault fd, read() whole groups
 * of records in batches, map the faulting pages of "guest RAM" into the
 * IOAS (IOMMU_IOAS_MAP), write() one response per group. It then checks
 * the HWPT's page table and asks the mock device which responses really
 * arrived, and shows the module answering a group on its own when the
 * device is detached.
 *
 * Part 2, demand-paged DMA: a second device on an IOAS with nothing
 * mapped does real DMA (IOMMU_TEST_OP_RUST_DMA) into a buffer. Each page
 * it touches faults; a handler thread maps that page from the buffer and
 * answers SUCCESS; the device retries and the DMA completes. Only the
 * pages touched get pinned. After IOMMU_IOAS_UNMAP the next DMA faults
 * again.
 *
 * As a template: keep main()'s setup and handler_loop() (or
 * dma_handler_thread()); replace resolve_fault() with what your VMM does
 * (map the page into the IOAS, or inject the fault into the guest's
 * vIOMMU and answer when the guest does); replace device_thread() and the
 * mock DMA with your real device. Everything prefixed "mock_" exists only
 * because the device is the module's mock (IOMMU_TEST_CMD, selftest-only;
 * IOMMU_TEST_OP_RUST_DMA is rust_iommufd's own); a real device needs none
 * of it.
 *
 * Exit status 0 when every group got the answer the handler chose and
 * every DMA moved the bytes, faulted and pinned as expected.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/iommufd_test.h>

/*
 * The window of "guest RAM" in IOVA space: faults inside it are resolved
 * by mapping the page, others not. It lies inside the mock IOMMU's
 * aperture (MOCK_APERTURE_START, 16 MiB, up), as a guest's RAM lies in its
 * IOMMU's; its memory is guest_ram, an anonymous mapping of the same size.
 */
#define GUEST_RAM_START 0x1000000ULL
#define GUEST_RAM_END 0x5000000ULL
#define DEMO_PAGE 4096ULL

/* Records read() at once; a group never straddles two reads. */
#define BATCH 8

/* What the device thread sends: one page request group each. */
struct request {
	__u32 grpid;	/* PCIe page request group index, chosen by the device */
	__u32 pages;	/* page requests in the group */
	__u64 addr;	/* address of the first; the next ones follow by 4 KiB */
	__u32 expect;	/* the answer the handler should give */
};

/*
 * The first BURST groups arrive together, before the handler looks, so one
 * read() returns them all; the others come one at a time.
 */
static const struct request requests[] = {
	{ .grpid = 1, .pages = 1, .addr = 0x1200000, .expect = IOMMUFD_PAGE_RESP_SUCCESS },
	{ .grpid = 2, .pages = 3, .addr = 0x1300000, .expect = IOMMUFD_PAGE_RESP_SUCCESS },
	{ .grpid = 3, .pages = 1, .addr = 0x80000000, .expect = IOMMUFD_PAGE_RESP_INVALID },
	{ .grpid = 4, .pages = 2, .addr = 0x1400000, .expect = IOMMUFD_PAGE_RESP_SUCCESS },
	{ .grpid = 5, .pages = 1, .addr = 0x1200000, .expect = IOMMUFD_PAGE_RESP_SUCCESS },
};
#define NR_REQUESTS (sizeof(requests) / sizeof(requests[0]))
#define BURST 3

/* Posted by the device thread once the burst is queued. */
static sem_t burst_sent;

static int iommufd;
static __u32 idev_id;	/* the device object: what records' dev_id names */
static __u32 ioas_id;	/* the IOAS the handler maps guest RAM into */
static __u32 fault_hwpt_id;	/* the HWPT the device faults through */
static char *guest_ram;	/* the memory behind [GUEST_RAM_START, END) */

/* Prints a step's result; exits on failure (setup has no plan B). */
static void must(int rc, const char *what)
{
	if (rc < 0) {
		printf("  %-44s FAILED: %s\n", what, strerror(errno));
		exit(1);
	}
	printf("  %-44s ok\n", what);
}

/* --- the mock device: IOMMU_TEST_CMD, not needed with real hardware --- */

static int mock_cmd(struct iommu_test_cmd *cmd, __u32 op, __u32 id)
{
	cmd->size = sizeof(*cmd);
	cmd->op = op;
	cmd->id = id;
	return ioctl(iommufd, IOMMU_TEST_CMD, cmd);
}

/* Sends group @r the way a device's page request interface would. */
static int mock_send(const struct request *r)
{
	struct iommu_test_cmd cmd = {
		.trigger_iopf_group = {
			.dev_id = idev_id,
			.grpid = r->grpid,
			.perm = IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE,
			.addr = r->addr,
			.count = r->pages,
		},
	};

	return mock_cmd(&cmd, IOMMU_TEST_OP_RUST_TRIGGER_IOPF_GROUP, 0);
}

/* How many responses the device got for @grpid (since the last call), and
 * the code of the last one. */
static int mock_responses(__u32 grpid, __u32 *count, __u32 *code)
{
	struct iommu_test_cmd cmd = {
		.iopf_response = { .dev_id = idev_id, .grpid = grpid },
	};

	if (mock_cmd(&cmd, IOMMU_TEST_OP_RUST_IOPF_RESPONSE, 0))
		return -1;
	*count = cmd.iopf_response.out_count;
	*code = cmd.iopf_response.out_code;
	return 0;
}

static const char *code_name(__u32 code)
{
	switch (code) {
	case IOMMUFD_PAGE_RESP_SUCCESS:
		return "SUCCESS";
	case IOMMUFD_PAGE_RESP_INVALID:
		return "INVALID";
	default:
		return "FAILURE";
	}
}

/* The "device": a burst of requests, then the rest a little apart. */
static void *device_thread(void *arg)
{
	size_t i;

	(void)arg;
	for (i = 0; i < NR_REQUESTS; i++) {
		const struct request *r = &requests[i];

		if (i == BURST)
			sem_post(&burst_sent);
		if (i >= BURST)
			usleep(100 * 1000);
		printf("device:  page request group %u, %u page(s) from 0x%llx\n",
		       r->grpid, r->pages, (unsigned long long)r->addr);
		if (mock_send(r))
			printf("device:  sending failed: %s\n", strerror(errno));
	}
	if (NR_REQUESTS <= BURST)
		sem_post(&burst_sent);
	return NULL;
}

/* --- the handler: what a VMM keeps --------------------------------------- */

/*
 * Maps the guest RAM page at IOVA @iova (IOMMU_IOAS_MAP at a fixed IOVA);
 * the IOAS maps it into every HWPT on it, pinning the memory. EEXIST: an
 * earlier fault mapped it already. Returns 0 when the page is mapped.
 */
static int map_guest_page(__u64 iova)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas_id,
		.user_va = (__u64)(uintptr_t)(guest_ram + (iova - GUEST_RAM_START)),
		.length = DEMO_PAGE,
		.iova = iova,
	};

	if (!ioctl(iommufd, IOMMU_IOAS_MAP, &map)) {
		printf("handler:   mapped 0x%llx\n", (unsigned long long)iova);
		return 0;
	}
	if (errno == EEXIST) {
		printf("handler:   0x%llx is mapped already\n",
		       (unsigned long long)iova);
		return 0;
	}
	printf("handler:   mapping 0x%llx failed: %s\n",
	       (unsigned long long)iova, strerror(errno));
	return -1;
}

/*
 * TEMPLATE: decide one group. @recs are its records, the last one flagged
 * IOMMU_PGFAULT_FLAGS_LAST_PAGE. A VMM with a guest-managed stage 1 (nested
 * HWPT) forwards the group to the guest's vIOMMU and answers later with
 * the guest's answer; one that owns the mappings maps the pages into the
 * IOAS, then answers SUCCESS so the device retries. Here: inside guest
 * RAM, map every page of the group and answer SUCCESS; outside, INVALID
 * (the device must not retry).
 */
static __u32 resolve_fault(const struct iommu_hwpt_pgfault *recs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (recs[i].addr < GUEST_RAM_START || recs[i].addr >= GUEST_RAM_END) {
			printf("handler:   0x%llx is outside guest RAM\n",
			       (unsigned long long)recs[i].addr);
			return IOMMUFD_PAGE_RESP_INVALID;
		}
	}
	for (i = 0; i < n; i++)
		if (map_guest_page(recs[i].addr & ~(DEMO_PAGE - 1)))
			return IOMMUFD_PAGE_RESP_INVALID;
	return IOMMUFD_PAGE_RESP_SUCCESS;
}

/*
 * mock: asks the mock IOMMU whether the fault HWPT's page table translates
 * @iova to the guest RAM page behind it (IOMMU_TEST_OP_MD_CHECK_MAP).
 */
static int mock_check_map(__u64 iova)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MD_CHECK_MAP,
		.id = fault_hwpt_id,
		.check_map = {
			.iova = iova,
			.length = DEMO_PAGE,
			.uptr = (__u64)(uintptr_t)(guest_ram + (iova - GUEST_RAM_START)),
		},
	};

	return ioctl(iommufd, IOMMU_TEST_CMD, &cmd);
}

/*
 * Handles groups until @want have been answered or nothing arrives for
 * @idle_ms. Returns the number answered, or -1 on an error.
 */
static int handler_loop(int fault_fd, int want, int idle_ms)
{
	struct iommu_hwpt_pgfault recs[BATCH];
	struct iommu_hwpt_page_response resp[BATCH];
	int answered = 0;

	while (answered < want) {
		struct pollfd pfd = { .fd = fault_fd, .events = POLLIN };
		size_t n, i, start, nresp = 0;
		ssize_t len;
		int rc;

		/* Sleep until a group is queued (EPOLLIN). */
		rc = poll(&pfd, 1, idle_ms);
		if (rc < 0) {
			perror("poll");
			return -1;
		}
		if (rc == 0) {
			printf("handler: nothing for %d ms, stopping\n", idle_ms);
			break;
		}

		/*
		 * read() returns whole groups, as many as fit, and never
		 * blocks. The count must be a multiple of the record size.
		 */
		len = read(fault_fd, recs, sizeof(recs));
		if (len < 0) {
			perror("read");
			return -1;
		}
		n = len / sizeof(recs[0]);
		printf("handler: read() returned %zu record(s)\n", n);

		/* Split into groups: a group ends at its LAST_PAGE record. */
		for (start = 0, i = 0; i < n; i++) {
			printf("handler:   dev %u grpid %u addr 0x%llx perm %#x cookie %u%s\n",
			       recs[i].dev_id, recs[i].grpid,
			       (unsigned long long)recs[i].addr, recs[i].perm,
			       recs[i].cookie,
			       recs[i].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE ?
			       " (last of its group)" : "");
			if (!(recs[i].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE))
				continue;
			/* One response per group, naming it by its cookie. */
			resp[nresp].cookie = recs[i].cookie;
			resp[nresp].code = resolve_fault(&recs[start], i + 1 - start);
			printf("handler:   -> group %u (cookie %u): %s\n",
			       recs[i].grpid, recs[i].cookie,
			       code_name(resp[nresp].code));
			nresp++;
			start = i + 1;
		}

		/*
		 * The responses of the whole batch in one write(). It takes
		 * them in order and stops at the first bad one, returning the
		 * bytes it took: a short count means a response was refused.
		 */
		len = write(fault_fd, resp, nresp * sizeof(resp[0]));
		if (len < 0) {
			perror("write");
			return -1;
		}
		if ((size_t)len != nresp * sizeof(resp[0])) {
			fprintf(stderr, "write took %zd of %zu bytes\n", len,
				nresp * sizeof(resp[0]));
			return -1;
		}
		printf("handler: write() sent %zu response(s)\n", nresp);
		answered += nresp;
	}
	return answered;
}

/* --- part 2: demand-paged DMA ------------------------------------------- */

/*
 * The device's DMA buffer: DMA_PAGES pages of anonymous memory, at IOVA
 * DMA_IOVA for the device once the handler maps them. At first nothing
 * is mapped (and nothing pinned).
 */
#define DMA_IOVA 0x10000000ULL
#define DMA_PAGES 1024ULL
#define DMA_LEN (DMA_PAGES * DEMO_PAGE)

/* Records read() at once: at least one whole group (MOCK_IOPF_GROUP_MAX). */
#define DMA_BATCH (2 * MOCK_IOPF_GROUP_MAX)

/* What the DMA handler thread works on, and what it counts. */
struct dma_handler {
	int fault_fd;
	int stop_fd;		/* an eventfd: written once, the thread ends */
	__u32 ioas_id;		/* where it maps */
	char *buf;		/* the memory behind [DMA_IOVA, + DMA_LEN) */
	unsigned int groups, pages, errors;
};

/* The mock device's DMA: @len bytes between @iova and @uptr. */
static int mock_dma(__u32 dev_id, __u64 iova, void *uptr, __u32 len,
		    bool write, __u32 *faults, __u32 *requests)
{
	struct iommu_test_cmd cmd = {
		.dma = {
			.dev_id = dev_id,
			.pasid = 0,	/* IOMMU_NO_PASID: the device's RID */
			.iova = iova,
			.uptr = (__u64)(uintptr_t)uptr,
			.length = len,
			.flags = write ? MOCK_DMA_WRITE : 0,
		},
	};
	int rc = mock_cmd(&cmd, IOMMU_TEST_OP_RUST_DMA, 0);

	*faults = cmd.dma.out_faults;
	*requests = cmd.dma.out_requests;
	return rc;
}

/* One 4 KiB page of the buffer into the IOAS at its IOVA; EEXIST is fine. */
static int map_dma_page(const struct dma_handler *h, __u64 iova)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = h->ioas_id,
		.user_va = (__u64)(uintptr_t)(h->buf + (iova - DMA_IOVA)),
		.length = DEMO_PAGE,
		.iova = iova,
	};

	if (!ioctl(iommufd, IOMMU_IOAS_MAP, &map) || errno == EEXIST)
		return 0;
	printf("handler: mapping 0x%llx failed: %s\n",
	       (unsigned long long)iova, strerror(errno));
	return -1;
}

/*
 * Decides one group of the DMA device: every page inside the buffer is
 * mapped, then SUCCESS; a page outside it gets INVALID (nothing there to
 * map) and the device's DMA fails.
 */
static __u32 resolve_dma_fault(struct dma_handler *h,
			       const struct iommu_hwpt_pgfault *recs, size_t n)
{
	__u64 first = recs[0].addr & ~(DEMO_PAGE - 1);
	size_t i;

	for (i = 0; i < n; i++)
		if (recs[i].addr < DMA_IOVA || recs[i].addr >= DMA_IOVA + DMA_LEN)
			break;
	if (i < n) {
		printf("handler: group %u: 0x%llx is outside the buffer -> INVALID\n",
		       recs[0].grpid, (unsigned long long)recs[i].addr);
		return IOMMUFD_PAGE_RESP_INVALID;
	}
	for (i = 0; i < n; i++)
		if (map_dma_page(h, recs[i].addr & ~(DEMO_PAGE - 1)))
			return IOMMUFD_PAGE_RESP_INVALID;
	printf("handler: group %u: %zu page(s) at 0x%llx-0x%llx mapped -> SUCCESS\n",
	       recs[0].grpid, n, (unsigned long long)first,
	       (unsigned long long)((recs[n - 1].addr | (DEMO_PAGE - 1))));
	h->pages += n;
	return IOMMUFD_PAGE_RESP_SUCCESS;
}

/*
 * The handler thread: poll() the fault fd (and the stop eventfd), read
 * whole groups, resolve each, answer the batch in one write(). The DMA
 * ioctl of the main thread sleeps in the kernel until its group is
 * answered.
 */
static void *dma_handler_thread(void *arg)
{
	struct dma_handler *h = arg;
	struct iommu_hwpt_pgfault recs[DMA_BATCH];
	struct iommu_hwpt_page_response resp[DMA_BATCH];

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = h->fault_fd, .events = POLLIN },
			{ .fd = h->stop_fd, .events = POLLIN },
		};
		size_t n, i, start, nresp = 0;
		ssize_t len;

		if (poll(pfd, 2, -1) < 0) {
			perror("handler: poll");
			h->errors++;
			return NULL;
		}
		if (pfd[1].revents & POLLIN)
			return NULL;
		if (!(pfd[0].revents & POLLIN))
			continue;
		len = read(h->fault_fd, recs, sizeof(recs));
		if (len < 0) {
			perror("handler: read");
			h->errors++;
			continue;
		}
		n = len / sizeof(recs[0]);
		for (start = 0, i = 0; i < n; i++) {
			if (!(recs[i].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE))
				continue;
			resp[nresp].cookie = recs[i].cookie;
			resp[nresp].code = resolve_dma_fault(h, &recs[start],
							     i + 1 - start);
			nresp++;
			h->groups++;
			start = i + 1;
		}
		len = write(h->fault_fd, resp, nresp * sizeof(resp[0]));
		if (len != (ssize_t)(nresp * sizeof(resp[0]))) {
			perror("handler: write");
			h->errors++;
		}
	}
}

/* The byte a DMA of round @seed puts at offset @off: never 0. */
static unsigned char pattern(size_t off, unsigned int seed)
{
	return (off + seed * 17) % 251 + 1;
}

/* VmPin of this process (kB), or -1; the memory the IOAS pinned. */
static long vm_pin_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmPin:", 6))
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

/* rust_iommufd's debugfs count of pinned pages, or -1 without debugfs. */
static long debugfs_pages_pinned(void)
{
	FILE *f = fopen("/sys/kernel/debug/rust_iommufd/pages_pinned", "r");
	long n = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

/* Prints and checks: VmPin grew by @pages pages over @base kB. */
static bool show_pinned(const char *when, long base, long pages)
{
	long kb = vm_pin_kb(), dbg = debugfs_pages_pinned();
	bool ok = kb < 0 || kb - base == pages * (long)(DEMO_PAGE / 1024);

	printf("  pinned %-30s VmPin %ld kB (%+ld kB)", when, kb, kb - base);
	if (dbg >= 0)
		printf(", debugfs pages_pinned %ld", dbg);
	printf("%s\n", ok ? "" : "   <-- unexpected");
	return ok;
}

/* One DMA of the demo: what it does, and what is expected of it. */
struct dma_step {
	const char *what;
	__u64 page;		/* first page, in the buffer */
	__u32 offset;		/* in that page */
	__u32 len;
	bool write;
	__u32 faults;		/* groups the device should send (if it completes) */
	int err;		/* errno the DMA should fail with, or 0 */
	unsigned int seed;	/* a write's bytes: pattern(offset, seed) */
};

/* Device-side source / sink of every DMA: the bytes on the "device". */
static unsigned char dma_dev[MOCK_DMA_MAX_LENGTH];

/*
 * Runs @s; a write's bytes are pattern(seed) by buffer offset, a read is
 * compared with what the buffer holds. Returns true if all is as expected.
 */
static bool run_dma(__u32 dev_id, const struct dma_step *s, const char *buf)
{
	size_t off = s->page * DEMO_PAGE + s->offset, i;
	__u64 iova = s->page < DMA_PAGES ? DMA_IOVA + off : s->page * DEMO_PAGE;
	__u32 faults = 0, requests = 0;
	int rc, err;
	bool ok;

	if (s->write)
		for (i = 0; i < s->len; i++)
			dma_dev[i] = pattern(off + i, s->seed);
	else
		memset(dma_dev, 0, s->len);
	rc = mock_dma(dev_id, iova, dma_dev, s->len, s->write, &faults,
		      &requests);
	err = rc ? errno : 0;
	ok = err == s->err;
	/* The counts come back only when the DMA completes. */
	ok &= err || faults == s->faults;
	if (!rc && !s->write)
		ok &= !memcmp(dma_dev, buf + off, s->len);
	printf("device:  DMA %-5s %6u bytes at 0x%llx (%s): ",
	       s->write ? "write" : "read", s->len, (unsigned long long)iova,
	       s->what);
	if (err)
		printf("%s%s\n", strerror(err), ok ? ", as expected" : "   <-- unexpected");
	else
		printf("done, %u fault group(s), %u page request(s)%s\n", faults,
		       requests, ok ? "" : "   <-- unexpected");
	return ok;
}

/*
 * Checks the whole buffer: the bytes the writes of @steps put there (a
 * later one over an earlier one), zeros everywhere else.
 */
static bool check_buffer(const char *buf, const struct dma_step *steps,
			 size_t nsteps)
{
	size_t bad = 0, written = 0, off, i;

	for (off = 0; off < DMA_LEN; off++) {
		unsigned char want = 0;

		for (i = 0; i < nsteps; i++) {
			size_t o = steps[i].page * DEMO_PAGE + steps[i].offset;

			if (steps[i].write && !steps[i].err && off >= o &&
			    off < o + steps[i].len)
				want = pattern(off, steps[i].seed);
		}
		written += !!want;
		bad += (unsigned char)buf[off] != want;
	}
	printf("  buffer: %zu bytes as the device wrote them, the other %llu zero: %s\n",
	       written, DMA_LEN - written, bad ? "NO" : "yes");
	if (bad)
		printf("  %zu byte(s) differ   <-- unexpected\n", bad);
	return !bad;
}

/* Part 2; returns true when every check held. */
static bool demand_paged_dma(int fault_fd, __u32 fault_id)
{
	/*
	 * 89 pages touched of 1024: 8 at the start (one group), 80 from page
	 * 256 (more than MOCK_IOPF_GROUP_MAX: two groups, 64 + 16), and 64
	 * bytes inside page 1000 (one group, one page). The read-back faults
	 * nowhere: its pages are mapped by then.
	 */
	static const struct dma_step steps[] = {
		{ "8 pages", 0, 0, 8 * DEMO_PAGE, true, 1, 0, 1 },
		{ "80 pages", 256, 0, 80 * DEMO_PAGE, true, 2, 0, 1 },
		{ "64 bytes", 1000, 0x123, 64, true, 1, 0, 1 },
		{ "read back", 256, 0, 80 * DEMO_PAGE, false, 0, 0, 0 },
		/* After the unmap: the first 8 pages again, new bytes. */
		{ "8 pages again", 0, 0, 8 * DEMO_PAGE, true, 1, 0, 2 },
	};
	static const size_t before_unmap = 4, nsteps = 5;
	static const long touched = 8 + 80 + 1;
	/* Outside the buffer: nothing to map, INVALID, the DMA fails. */
	static const struct dma_step outside = {
		"outside the buffer", 0x40000, 0, 256, true, 1, EIO, 1,
	};
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	struct iommu_hwpt_alloc hwpt = { .size = sizeof(hwpt) };
	struct iommu_ioas_unmap unmap = { .size = sizeof(unmap) };
	struct iommu_test_cmd mock = {};
	struct dma_handler h = { .fault_fd = fault_fd };
	__u32 stdev_id;
	bool ok = true;
	pthread_t thread;
	long base;
	size_t i;

	printf("\n== demand-paged DMA: nothing mapped, the device writes anyway\n");
	must(ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas), "IOMMU_IOAS_ALLOC (empty)");
	h.ioas_id = ioas.out_ioas_id;
	h.buf = mmap(NULL, DMA_LEN, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	must(h.buf == MAP_FAILED ? -1 : 0, "DMA buffer, 4 MiB (mmap)");
	must(mock_cmd(&mock, IOMMU_TEST_OP_MOCK_DOMAIN, ioas.out_ioas_id),
	     "second mock device");
	hwpt.flags = IOMMU_HWPT_FAULT_ID_VALID;
	hwpt.dev_id = mock.mock_domain.out_idev_id;
	hwpt.pt_id = ioas.out_ioas_id;
	hwpt.fault_id = fault_id;
	must(ioctl(iommufd, IOMMU_HWPT_ALLOC, &hwpt),
	     "fault-capable HWPT on it (same fault queue)");
	stdev_id = mock.mock_domain.out_stdev_id;
	mock.mock_domain_replace.pt_id = hwpt.out_hwpt_id;
	must(mock_cmd(&mock, IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, stdev_id),
	     "attach the device to the HWPT");
	h.stop_fd = eventfd(0, EFD_CLOEXEC);
	must(h.stop_fd, "handler thread's stop eventfd");
	if (pthread_create(&thread, NULL, dma_handler_thread, &h)) {
		fprintf(stderr, "pthread_create failed\n");
		exit(1);
	}

	base = vm_pin_kb();
	ok &= show_pinned("before any DMA:", base, 0);
	for (i = 0; i < before_unmap; i++)
		ok &= run_dma(hwpt.dev_id, &steps[i], h.buf);
	ok &= check_buffer(h.buf, steps, before_unmap);
	ok &= show_pinned("after (89 of 1024 pages touched):", base, touched);
	ok &= run_dma(hwpt.dev_id, &outside, h.buf);

	/* Unmapping unpins; the device's next DMA faults again. */
	unmap.ioas_id = ioas.out_ioas_id;
	unmap.iova = 0;
	unmap.length = UINT64_MAX;
	must(ioctl(iommufd, IOMMU_IOAS_UNMAP, &unmap), "IOMMU_IOAS_UNMAP (all)");
	printf("  %-44s %llu bytes unmapped%s\n", "",
	       (unsigned long long)unmap.length,
	       unmap.length == touched * DEMO_PAGE ? "" : "   <-- unexpected");
	ok &= unmap.length == touched * DEMO_PAGE;
	ok &= show_pinned("after the unmap:", base, 0);
	ok &= run_dma(hwpt.dev_id, &steps[before_unmap], h.buf);
	ok &= check_buffer(h.buf, steps, nsteps);
	ok &= show_pinned("after faulting 8 pages back:", base, 8);

	if (eventfd_write(h.stop_fd, 1))
		perror("eventfd_write");
	pthread_join(thread, NULL);
	printf("  handler: %u group(s) answered, %u page(s) mapped, %u error(s)\n",
	       h.groups, h.pages, h.errors);
	ok &= h.groups == 1 + 2 + 1 + 1 + 1 && h.pages == touched + 8 && !h.errors;
	close(h.stop_fd);
	return ok;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/iommu";
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	struct iommu_fault_alloc fault = { .size = sizeof(fault) };
	struct iommu_hwpt_alloc hwpt = { .size = sizeof(hwpt) };
	struct iommu_hwpt_alloc plain = { .size = sizeof(plain) };
	struct iommu_test_cmd mock = {};
	__u32 stdev_id, count, code;
	int fault_fd, answered, failed = 0;
	pthread_t device;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("== setup\n");
	iommufd = open(path, O_RDWR | O_CLOEXEC);
	must(iommufd, path);

	must(ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas), "IOMMU_IOAS_ALLOC");
	printf("  %-44s ioas %u\n", "", ioas.out_ioas_id);
	ioas_id = ioas.out_ioas_id;

	/* Guest RAM: nothing of it is mapped for the device yet. */
	guest_ram = mmap(NULL, GUEST_RAM_END - GUEST_RAM_START,
			 PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	must(guest_ram == MAP_FAILED ? -1 : 0, "guest RAM (mmap)");

	/* A VMM binds its VFIO device here; we ask for a mock one. */
	must(mock_cmd(&mock, IOMMU_TEST_OP_MOCK_DOMAIN, ioas.out_ioas_id),
	     "mock device (IOMMU_TEST_OP_MOCK_DOMAIN)");
	stdev_id = mock.mock_domain.out_stdev_id;
	idev_id = mock.mock_domain.out_idev_id;
	printf("  %-44s device %u\n", "", idev_id);

	/* The fault queue: an object (its id) and a file descriptor. */
	must(ioctl(iommufd, IOMMU_FAULT_QUEUE_ALLOC, &fault),
	     "IOMMU_FAULT_QUEUE_ALLOC");
	fault_fd = fault.out_fault_fd;
	printf("  %-44s fault queue %u, fd %d\n", "", fault.out_fault_id,
	       fault_fd);

	/* A HWPT whose faults go to that queue. */
	hwpt.flags = IOMMU_HWPT_FAULT_ID_VALID;
	hwpt.dev_id = idev_id;
	hwpt.pt_id = ioas.out_ioas_id;
	hwpt.fault_id = fault.out_fault_id;
	must(ioctl(iommufd, IOMMU_HWPT_ALLOC, &hwpt),
	     "IOMMU_HWPT_ALLOC (IOMMU_HWPT_FAULT_ID_VALID)");
	printf("  %-44s hwpt %u\n", "", hwpt.out_hwpt_id);
	fault_hwpt_id = hwpt.out_hwpt_id;

	/* Attach the device to it (a VMM: VFIO_DEVICE_ATTACH_IOMMUFD_PT). */
	mock.mock_domain_replace.pt_id = hwpt.out_hwpt_id;
	must(mock_cmd(&mock, IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, stdev_id),
	     "attach the device to the HWPT");

	printf("\n== the device faults, the handler answers\n");
	sem_init(&burst_sent, 0, 0);
	if (pthread_create(&device, NULL, device_thread, NULL)) {
		fprintf(stderr, "pthread_create failed\n");
		return 1;
	}
	/* Only so that the first read() finds several groups waiting. */
	sem_wait(&burst_sent);
	answered = handler_loop(fault_fd, NR_REQUESTS, 3000);
	pthread_join(device, NULL);
	if (answered != (int)NR_REQUESTS) {
		printf("answered %d of %zu groups\n", answered, NR_REQUESTS);
		failed = 1;
	}

	printf("\n== what the handler mapped (the HWPT's page table)\n");
	for (i = 0; i < NR_REQUESTS; i++) {
		const struct request *r = &requests[i];
		__u32 p;

		if (r->expect != IOMMUFD_PAGE_RESP_SUCCESS)
			continue;
		for (p = 0; p < r->pages; p++) {
			__u64 iova = (r->addr & ~(DEMO_PAGE - 1)) + p * 0x1000;
			bool ok = !mock_check_map(iova);

			printf("  0x%llx -> guest RAM + 0x%llx: %s\n",
			       (unsigned long long)iova,
			       (unsigned long long)(iova - GUEST_RAM_START),
			       ok ? "mapped" : "NOT MAPPED   <-- unexpected");
			failed |= !ok;
		}
	}

	printf("\n== what the device received\n");
	for (i = 0; i < NR_REQUESTS; i++) {
		const struct request *r = &requests[i];
		bool ok;

		if (mock_responses(r->grpid, &count, &code)) {
			perror("IOMMU_TEST_OP_RUST_IOPF_RESPONSE");
			return 1;
		}
		ok = count == 1 && code == r->expect;
		printf("  group %u: %u response(s), %s%s\n", r->grpid, count,
		       code_name(code), ok ? "" : "   <-- unexpected");
		failed |= !ok;
	}

	/*
	 * A group nobody answers is answered INVALID by the module when its
	 * device leaves the HWPT: the device never waits forever.
	 */
	printf("\n== a group left unanswered, then the device is detached\n");
	plain.dev_id = idev_id;
	plain.pt_id = ioas.out_ioas_id;
	must(ioctl(iommufd, IOMMU_HWPT_ALLOC, &plain),
	     "IOMMU_HWPT_ALLOC (no fault queue)");
	must(mock_send(&(struct request){ .grpid = 9, .pages = 1,
					  .addr = 0x1600000 }),
	     "device: page request group 9");
	mock.mock_domain_replace.pt_id = plain.out_hwpt_id;
	must(mock_cmd(&mock, IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, stdev_id),
	     "move the device to the other HWPT");
	if (mock_responses(9, &count, &code)) {
		perror("IOMMU_TEST_OP_RUST_IOPF_RESPONSE");
		return 1;
	}
	printf("  group 9: %u response(s), %s (from the module)\n", count,
	       code_name(code));
	failed |= count != 1 || code != IOMMUFD_PAGE_RESP_INVALID;

	failed |= !demand_paged_dma(fault_fd, fault.out_fault_id);

	/* Closing the iommufd and the fault fd destroys every object. */
	close(fault_fd);
	close(iommufd);
	printf("\n%s\n", failed ? "FAILED: see above" :
	       "every group answered as chosen, every DMA as expected");
	return failed;
}
