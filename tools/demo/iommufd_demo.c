// SPDX-License-Identifier: GPL-2.0
/*
 * An IO page fault (IOPF) handler in user space, the way a VMM runs one.
 * `make run` runs it in the test VM; `make check` runs it too.
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
 * Then a second thread plays the device and sends page requests, and the
 * main thread handles them: poll() the fault fd, read() whole groups of
 * records in batches, map the faulting pages of "guest RAM" into the IOAS
 * (IOMMU_IOAS_MAP), write() one response per group. At the end it checks
 * the HWPT's page table and asks the mock device which responses really
 * arrived, and shows the
 * module answering a group on its own when the device is detached.
 *
 * As a template: keep main()'s setup and handler_loop(); replace
 * resolve_fault() with what your VMM does (map the page into the IOAS, or
 * inject the fault into the guest's vIOMMU and answer when the guest
 * does); replace device_thread() with your real device. Everything
 * prefixed "mock_" exists only because the device is the module's mock
 * (IOMMU_TEST_CMD, selftest-only); a real device needs none of it.
 *
 * Exit status 0 when every group got the answer the handler chose.
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

	/* Closing the iommufd and the fault fd destroys every object. */
	close(fault_fd);
	close(iommufd);
	printf("\n%s\n", failed ? "FAILED: see above" : "every group answered as chosen");
	return failed;
}
