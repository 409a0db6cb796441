// SPDX-License-Identifier: GPL-2.0
/*
 * Failure injection, fail-nth style. Each scenario runs once with no
 * injection (which also faults in every page it touches), then with the
 * 1st, 2nd, ... fault-injectable call of the task failing
 * (/proc/self/task/<tid>/fail-nth: every slab allocation, through
 * FAILSLAB, and every check of the module's own attribute
 * fail_rust_iommufd, before pinning and before mapping into a domain),
 * until a run goes through without the injected failure being reached.
 *
 * After every run:
 * - a run that stopped must have stopped on ENOMEM (or EFAULT, what a
 *   failed pin returns; or EINVAL where a new mock device's probe failed,
 *   see STEP_NEW_DEVICE), and only if the failure was injected;
 * - in the memory scenarios (map, map of a memfd, unmap, copy, attach
 *   onto an IOAS with mappings), with injection off and the file still open: every mapping
 *   that succeeded is in its mock domain page by page (MD_CHECK_MAP), none
 *   that failed or was unmapped is, and each page of the buffer carries
 *   as many pins as the successful steps make (MD_CHECK_REFS);
 * - with injection off again, the scenario's follow-up must work on what
 *   is still open (the next normal operation), and where faults were
 *   triggered the mock device must have received exactly one response
 *   per fault group;
 * - once everything is closed, the module's counters (debugfs, see
 *   iommufd_counters.h) must be back to zero: no object, no queued,
 *   delivered or unanswered fault group left; after a memory scenario no
 *   page of the buffer (or of the memfd) is pinned and VmPin is what it
 *   was before.
 *
 * mock_domain_leaks_nothing also asks kmemleak (when the kernel has it)
 * whether a failed IOMMU_TEST_OP_MOCK_DOMAIN left anything of the IOMMU
 * core's device data behind.
 *
 * Needs rust_iommufd (its counters and response record); skips otherwise.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "iommufd_counters.h"
#include "iommufd_fault_utils.h"
#include "iommufd_ioas_utils.h"

#define PASID 1
/* The follow-up's fault; scenarios use lower group ids. */
#define PROBE_GRPID 500
#define MAX_RUNS 2000u
/* The memory scenarios' buffer, mapped into their IOASes. */
#define BUF_PAGES 8
#define MAX_MAPPINGS 6

/* What a memory scenario expects of a part of the buffer in a domain. */
struct mapping {
	__u32 hwpt;		/* mock paging HWPT; 0: no longer checked */
	__u64 iova;
	void *uptr;
	__u64 length;
	bool on;		/* mapped (the step succeeded), or not */
};

/* Everything a scenario opened and created, for follow-up and cleanup. */
struct run {
	int fd;
	int fault_fd[2];
	__u32 ioas, stdev, idev, fault_id[2];
	__u32 hwpt_fault, hwpt_fault2, hwpt_plain;
	/* Memory scenarios: the domains, a second IOAS and device. */
	bool memory;
	__u32 hwpt_dom, ioas2, stdev2, hwpt_dom2;
	struct mapping maps[MAX_MAPPINGS];
	int nmaps;
	/* Pins each page of the buffer may carry now, at least and at most. */
	int pins_lo[BUF_PAGES], pins_hi[BUF_PAGES];
	/* Fault groups triggered successfully (each must be answered once). */
	__u32 triggered;
	/* Where and how the scenario stopped. */
	const char *step;
	int err;
	/* The step makes a mock device (STEP_NEW_DEVICE). */
	bool new_device;
};

/* Runs @expr; on failure records where and why, and stops the scenario. */
#define STEP(r, expr)						\
	do {							\
		if ((expr) < 0) {				\
			(r)->step = #expr;			\
			(r)->err = errno;			\
			return -1;				\
		}						\
	} while (0)

/*
 * A step that makes a mock device. The IOMMU core probes it from a bus
 * notifier, which returns no error: when an injected failure stops the
 * probe, the device has no IOMMU and binding it fails with EINVAL, as
 * upstream's (IOMMU_CAP_CACHE_COHERENCY is not there).
 */
#define STEP_NEW_DEVICE(r, expr)				\
	do {							\
		(r)->new_device = true;				\
		STEP(r, expr);					\
		(r)->new_device = false;			\
	} while (0)

/* @expr must fail with @errnum, injected failure or not (EPROTO if not). */
#define STEP_FAILS(r, errnum, expr)				\
	do {							\
		errno = 0;					\
		if ((expr) != -1 || errno != (errnum)) {	\
			(r)->step = #expr " (expected " #errnum ")"; \
			(r)->err = EPROTO;			\
			return -1;				\
		}						\
	} while (0)

static int proc_fail_nth = -1;

static void fail_nth_arm(unsigned int n)
{
	char buf[16];
	int len;

	if (!n)
		return;
	len = snprintf(buf, sizeof(buf), "%u", n);
	if (pwrite(proc_fail_nth, buf, len, 0) != len)
		abort();
}

/* Disarms; true if the armed failure was injected. */
static bool fail_nth_disarm(void)
{
	char buf[16] = "";
	ssize_t n = pread(proc_fail_nth, buf, sizeof(buf) - 1, 0);

	if (pwrite(proc_fail_nth, "0", 1, 0) != 1)
		abort();
	return n > 0 && buf[0] == '0';
}

/* Lets every allocation of this task be failed, quietly, and quiets the
 * module's own attribute too (a module without one has no directory).
 */
static bool fail_nth_setup(void)
{
	int own = open("/sys/kernel/debug/fail_rust_iommufd/verbose", O_WRONLY);

	static const char *const settings[][2] = {
		{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/failslab/verbose", "0" },
	};
	char path[64];

	if (own >= 0) {
		bool ok = write(own, "0", 1) == 1;

		close(own);
		if (!ok)
			return false;
	}
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		int f = open(settings[i][0], O_WRONLY);
		bool ok;

		if (f < 0)
			return false;
		ok = write(f, settings[i][1], 1) == 1;
		close(f);
		if (!ok)
			return false;
	}
	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth",
		 (long)syscall(SYS_gettid));
	proc_fail_nth = open(path, O_RDWR | O_CLOEXEC);
	return proc_fail_nth >= 0;
}

static void run_close(struct run *r)
{
	for (int q = 0; q < 2; q++)
		if (r->fault_fd[q] >= 0)
			close(r->fault_fd[q]);
	if (r->fd >= 0)
		close(r->fd);
	r->fault_fd[0] = r->fault_fd[1] = r->fd = -1;
}

/* The common start, outside the injected window: a PASID-capable mock
 * device on IOAS; @faults queues with a fault HWPT each (the device
 * attached to the first), and a HWPT without a queue.
 */
static int setup_device(struct run *r, int faults)
{
	r->fd = iommufd_open();
	STEP(r, r->fd);
	STEP(r, ioas_alloc(r->fd, &r->ioas));
	STEP(r, mock_domain_flags(r->fd, r->ioas, MOCK_FLAGS_DEVICE_PASID,
				  &r->stdev, &r->hwpt_dom, &r->idev));
	if (faults < 1)
		return 0;
	STEP(r, fault_alloc(r->fd, &r->fault_id[0], &r->fault_fd[0]));
	STEP(r, hwpt_alloc_fault(r->fd, r->idev, r->ioas,
				 IOMMU_HWPT_ALLOC_PASID, r->fault_id[0],
				 &r->hwpt_fault));
	STEP(r, hwpt_alloc(r->fd, r->idev, r->ioas, IOMMU_HWPT_ALLOC_PASID,
			   &r->hwpt_plain));
	STEP(r, mock_domain_replace(r->fd, r->stdev, r->hwpt_fault, NULL));
	if (faults < 2)
		return 0;
	STEP(r, fault_alloc(r->fd, &r->fault_id[1], &r->fault_fd[1]));
	STEP(r, hwpt_alloc_fault(r->fd, r->idev, r->ioas,
				 IOMMU_HWPT_ALLOC_PASID, r->fault_id[1],
				 &r->hwpt_fault2));
	return 0;
}

static int trigger(struct run *r, __u32 pasid, __u32 grpid, __u32 count)
{
	int ret = count == 1 ? trigger_fault(r->fd, r->idev, pasid, grpid) :
			       trigger_group(r->fd, r->idev, pasid, grpid, count);

	if (!ret)
		r->triggered++;
	return ret;
}

/* Reads every queued group and answers it; returns the groups answered. */
static int drain(int fault_fd, __u32 code)
{
	struct iommu_hwpt_pgfault rec[16];
	int answered = 0;
	ssize_t n;

	while ((n = read(fault_fd, rec, sizeof(rec))) > 0) {
		for (size_t i = 0; i < n / RECORD_SIZE; i++) {
			/* A group's records share a cookie; the last ends it. */
			if (!(rec[i].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE))
				continue;
			if (respond(fault_fd, rec[i].cookie, code) !=
			    RESPONSE_SIZE)
				return -1;
			answered++;
		}
	}
	return n < 0 ? -1 : answered;
}

/* Scenarios: the part between arm and disarm. */

/* Open, fault queue alloc, close its fd, again, destroy it. */
static int scenario_fault_alloc(struct run *r, unsigned int nth)
{
	fail_nth_arm(nth);
	r->fd = iommufd_open();
	STEP(r, r->fd);
	STEP(r, fault_alloc(r->fd, &r->fault_id[0], &r->fault_fd[0]));
	STEP(r, close(r->fault_fd[0]));
	r->fault_fd[0] = -1;
	STEP(r, fault_alloc(r->fd, &r->fault_id[1], &r->fault_fd[1]));
	STEP(r, destroy(r->fd, r->fault_id[0]));
	return 0;
}

/* Fault queue, then paging, nested and vIOMMU-nested HWPTs using it. */
static int scenario_hwpt_alloc(struct run *r, unsigned int nth)
{
	__u32 parent = 0, nested = 0, viommu = 0, vnested = 0;

	STEP(r, setup_device(r, 0));
	fail_nth_arm(nth);
	STEP(r, fault_alloc(r->fd, &r->fault_id[0], &r->fault_fd[0]));
	STEP(r, hwpt_alloc_fault(r->fd, r->idev, r->ioas,
				 IOMMU_HWPT_ALLOC_PASID, r->fault_id[0],
				 &r->hwpt_fault));
	STEP(r, hwpt_alloc(r->fd, r->idev, r->ioas,
			   IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	STEP(r, hwpt_alloc_nested_fault(r->fd, r->idev, parent, 0,
					r->fault_id[0], &nested));
	STEP(r, viommu_alloc(r->fd, r->idev, parent,
			     IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0, &viommu));
	STEP(r, hwpt_alloc_nested_fault(r->fd, r->idev, viommu, 0,
					r->fault_id[0], &vnested));
	STEP(r, destroy(r->fd, vnested));
	STEP(r, destroy(r->fd, nested));
	return 0;
}

/* Replace, PASID attach, replace and detach, between fault HWPTs. */
static int scenario_attach(struct run *r, unsigned int nth)
{
	STEP(r, setup_device(r, 2));
	STEP(r, mock_domain_replace(r->fd, r->stdev, r->hwpt_plain, NULL));
	fail_nth_arm(nth);
	STEP(r, mock_domain_replace(r->fd, r->stdev, r->hwpt_fault, NULL));
	STEP(r, pasid_attach(r->fd, r->stdev, PASID, r->hwpt_fault));
	STEP(r, pasid_replace(r->fd, r->stdev, PASID, r->hwpt_fault2));
	STEP(r, mock_domain_replace(r->fd, r->stdev, r->hwpt_fault2, NULL));
	STEP(r, pasid_detach(r->fd, r->stdev, PASID));
	STEP(r, pasid_attach(r->fd, r->stdev, PASID, r->hwpt_plain));
	return 0;
}

/* Faults on the RID and a PASID, one a multi-fault group; read; answer. */
static int scenario_deliver(struct run *r, unsigned int nth)
{
	STEP(r, setup_device(r, 2));
	STEP(r, pasid_attach(r->fd, r->stdev, PASID, r->hwpt_fault2));
	fail_nth_arm(nth);
	STEP(r, trigger(r, 0, 1, 1));
	STEP(r, trigger(r, PASID, 2, 1));
	STEP(r, trigger(r, 0, 3, 4));
	STEP(r, drain(r->fault_fd[0], IOMMUFD_PAGE_RESP_SUCCESS));
	STEP(r, trigger(r, 0, 4, 1));
	STEP(r, drain(r->fault_fd[0], IOMMUFD_PAGE_RESP_INVALID));
	STEP(r, drain(r->fault_fd[1], IOMMUFD_PAGE_RESP_SUCCESS));
	return 0;
}

/* Groups queued and delivered when the fault fd and then the file close. */
static int scenario_close_pending(struct run *r, unsigned int nth)
{
	struct iommu_hwpt_pgfault rec[2];

	STEP(r, setup_device(r, 1));
	fail_nth_arm(nth);
	for (__u32 g = 0; g < 4; g++)
		STEP(r, trigger(r, 0, g, 1));
	STEP(r, read_records(r->fault_fd[0], rec, 2));
	STEP(r, close(r->fault_fd[0]));
	r->fault_fd[0] = -1;
	STEP(r, trigger(r, 0, 5, 1));
	STEP(r, close(r->fd));
	r->fd = -1;
	return 0;
}

/* Every destroy path, with faults pending: EBUSY first, then in order. */
static int scenario_destroy(struct run *r, unsigned int nth)
{
	STEP(r, setup_device(r, 1));
	STEP(r, pasid_attach(r->fd, r->stdev, PASID, r->hwpt_fault));
	fail_nth_arm(nth);
	STEP(r, trigger(r, 0, 1, 1));
	STEP(r, trigger(r, PASID, 2, 1));
	STEP_FAILS(r, EBUSY, destroy(r->fd, r->hwpt_fault));
	STEP_FAILS(r, EBUSY, destroy(r->fd, r->fault_id[0]));
	STEP(r, mock_domain_replace(r->fd, r->stdev, r->hwpt_plain, NULL));
	STEP(r, pasid_detach(r->fd, r->stdev, PASID));
	STEP(r, destroy(r->fd, r->hwpt_fault));
	STEP(r, close(r->fault_fd[0]));
	r->fault_fd[0] = -1;
	STEP(r, destroy(r->fd, r->fault_id[0]));
	STEP(r, destroy(r->fd, r->stdev));
	/* Its response record went with it. */
	r->idev = 0;
	STEP(r, destroy(r->fd, r->hwpt_plain));
	STEP(r, destroy(r->fd, r->ioas));
	return 0;
}

/* A vIOMMU, a vDEVICE and a fault-capable nested HWPT on the vIOMMU. */
static int scenario_viommu(struct run *r, unsigned int nth)
{
	__u32 parent = 0, viommu = 0, vdev = 0, nested = 0;

	STEP(r, setup_device(r, 1));
	fail_nth_arm(nth);
	STEP(r, hwpt_alloc(r->fd, r->idev, r->ioas,
			   IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	STEP(r, viommu_alloc(r->fd, r->idev, parent,
			     IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0, &viommu));
	STEP(r, vdevice_alloc(r->fd, viommu, r->idev, 0x99, &vdev));
	STEP(r, hwpt_alloc_nested_fault(r->fd, r->idev, viommu, 0,
					r->fault_id[0], &nested));
	STEP(r, mock_domain_replace(r->fd, r->stdev, nested, NULL));
	STEP(r, trigger(r, 0, 1, 1));
	STEP(r, drain(r->fault_fd[0], IOMMUFD_PAGE_RESP_SUCCESS));
	STEP(r, destroy(r->fd, vdev));
	return 0;
}

/*
 * A vEVENTQ on a vIOMMU: events past its depth (the lost-events header),
 * read back, the queue destroyed. Its fd sits in fault_fd[1], so that the
 * follow-up and run_close() close it whatever step stopped the run. A
 * report that finds no memory fails with ENOMEM and records the loss.
 */
static int scenario_veventq(struct run *r, unsigned int nth)
{
	struct iommu_veventq_alloc cmd = {
		.size = sizeof(cmd),
		.type = IOMMU_VEVENTQ_TYPE_SELFTEST,
		.veventq_depth = 2,
	};
	struct iommu_test_cmd trigger;
	__u32 parent = 0, vdev = 0, nested = 0;
	char buf[128];

	STEP(r, setup_device(r, 1));
	STEP(r, hwpt_alloc(r->fd, r->idev, r->ioas,
			   IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	STEP(r, viommu_alloc(r->fd, r->idev, parent,
			     IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0,
			     &cmd.viommu_id));
	STEP(r, vdevice_alloc(r->fd, cmd.viommu_id, r->idev, 0x99, &vdev));
	STEP(r, hwpt_alloc_nested(r->fd, r->idev, cmd.viommu_id, 0, 0,
				  &nested));
	STEP(r, mock_domain_replace(r->fd, r->stdev, nested, NULL));
	test_cmd_init(&trigger, IOMMU_TEST_OP_TRIGGER_VEVENT, 0);
	trigger.trigger_vevent.dev_id = r->idev;
	fail_nth_arm(nth);
	STEP(r, ioctl(r->fd, IOMMU_VEVENTQ_ALLOC, &cmd));
	r->fault_fd[1] = cmd.out_veventq_fd;
	for (int i = 0; i < 3; i++)
		STEP(r, test_cmd(r->fd, &trigger));
	STEP(r, read(r->fault_fd[1], buf, sizeof(buf)));
	STEP(r, test_cmd(r->fd, &trigger));
	STEP(r, close(r->fault_fd[1]));
	r->fault_fd[1] = -1;
	STEP(r, destroy(r->fd, cmd.out_veventq_id));
	STEP(r, destroy(r->fd, vdev));
	return 0;
}


/* Memory scenarios. */

static char *buf;

static size_t buf_size(void)
{
	return BUF_PAGES * page_size();
}

/* Maps the buffer once for the program and faults every page in. */
static bool buf_setup(void)
{
	if (buf)
		return true;
	buf = mmap(NULL, buf_size(), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		buf = NULL;
		return false;
	}
	memset(buf, 0x5a, buf_size());
	return true;
}

/* The file scenario's memfd, as big as the buffer, mapped shared at mbuf. */
static int mfd = -1;
static char *mbuf;

static bool mbuf_setup(void)
{
	if (mbuf)
		return true;
	mfd = memfd_create("iommufd_fail_inject", 0);
	if (mfd < 0 || ftruncate(mfd, buf_size()))
		return false;
	mbuf = mmap(NULL, buf_size(), PROT_READ | PROT_WRITE, MAP_SHARED, mfd,
		    0);
	if (mbuf == MAP_FAILED) {
		mbuf = NULL;
		return false;
	}
	memset(mbuf, 0xa5, buf_size());
	return true;
}

/* From now on, @length bytes from @uptr are (@on) or are not at @iova of
 * @hwpt; returns the entry, to flip once the step succeeded.
 */
static struct mapping *expect_mapping(struct run *r, __u32 hwpt, __u64 iova,
				      void *uptr, __u64 length, bool on)
{
	struct mapping *m = &r->maps[r->nmaps < MAX_MAPPINGS ? r->nmaps++ :
							       MAX_MAPPINGS - 1];

	*m = (struct mapping){ hwpt, iova, uptr, length, on };
	return m;
}

/* Stops checking what was expected of @hwpt (it went away). */
static void forget_hwpt(struct run *r, __u32 hwpt)
{
	for (int i = 0; i < r->nmaps; i++)
		if (r->maps[i].hwpt == hwpt)
			r->maps[i].hwpt = 0;
}

/* Pages [first, first + n) of the buffer carry from @lo to @hi pins. */
static void expect_pins(struct run *r, int first, int n, int lo, int hi)
{
	for (int i = first; i < first + n && i < BUF_PAGES; i++) {
		r->pins_lo[i] = lo;
		r->pins_hi[i] = hi;
	}
}

#define FAIL_CHECK(r, what, errnum)				\
	do {							\
		(r)->step = (what);				\
		(r)->err = (errnum);				\
		return -1;					\
	} while (0)

/*
 * With injection off and the file open: each page of each mapping is in
 * its domain exactly when its step succeeded, and the buffer's pages carry
 * the pins the scenario's successful steps make.
 */
static int check_memory(struct run *r)
{
	size_t psz = page_size();

	if (!r->memory || r->fd < 0)
		return 0;
	for (int i = 0; i < r->nmaps; i++) {
		const struct mapping *m = &r->maps[i];

		for (__u64 off = 0; m->hwpt && off < m->length; off += psz) {
			int ret = check_map(r->fd, m->hwpt, m->iova + off, psz,
					    (char *)m->uptr + off);

			if (m->on && ret)
				FAIL_CHECK(r, "a page that was mapped is not in the domain",
					   errno);
			if (!m->on && !ret)
				FAIL_CHECK(r, "a page that was not mapped (or was unmapped) is in the domain",
					   EEXIST);
			if (!m->on && errno != EINVAL)
				FAIL_CHECK(r, "MD_CHECK_MAP of a page not mapped", errno);
		}
	}
	for (int i = 0; i < BUF_PAGES; i++) {
		int pins = pins_of(r->fd, buf + i * psz, psz, 8);

		if (pins < r->pins_lo[i] || pins > r->pins_hi[i])
			FAIL_CHECK(r, "a page of the buffer has more or fewer pins than the steps made",
				   EPROTO);
	}
	return 0;
}

/* Everything closed: no page of the buffer pinned, VmPin as before. */
static int memory_released(struct run *r, long vm_pin_before)
{
	int fd = iommufd_open();
	int ret;

	if (fd < 0)
		FAIL_CHECK(r, "open for MD_CHECK_REFS", errno);
	ret = check_refs(fd, buf, buf_size(), 0);
	if (!ret && mbuf)
		ret = check_refs(fd, mbuf, buf_size(), 0);
	close(fd);
	if (ret)
		FAIL_CHECK(r, "a page of the buffer is still pinned after close",
			   errno);
	if (vm_pin_kb() != vm_pin_before)
		FAIL_CHECK(r, "VmPin is not back to what it was", EPROTO);
	return 0;
}

/* A mock device and its domain on a new IOAS, before the window. */
static int setup_memory(struct run *r)
{
	r->memory = true;
	return setup_device(r, 0);
}

/* Map the buffer at a fixed IOVA, then again at one the IOAS picks, into
 * an IOAS with a domain: pins, fills, and both unwound on failure.
 */
static int scenario_map(struct run *r, unsigned int nth)
{
	__u64 iova = MOCK_APERTURE_START, auto_iova = 0;
	struct mapping *m;

	STEP(r, setup_memory(r));
	m = expect_mapping(r, r->hwpt_dom, iova, buf, buf_size(), false);
	fail_nth_arm(nth);
	STEP(r, ioas_map(r->fd, r->ioas, buf, buf_size(), &iova, FIXED));
	m->on = true;
	expect_pins(r, 0, BUF_PAGES, 1, 1);
	STEP(r, ioas_map(r->fd, r->ioas, buf, buf_size(), &auto_iova, RW));
	expect_mapping(r, r->hwpt_dom, auto_iova, buf, buf_size(), true);
	expect_pins(r, 0, BUF_PAGES, 2, 2);
	return 0;
}

/* Map the memfd at a fixed IOVA, then all but its first page at one the
 * IOAS picks (IOMMU_IOAS_MAP_FILE): the file's pages pinned and filled,
 * both unwound on failure.
 */
static int scenario_map_file(struct run *r, unsigned int nth)
{
	__u64 iova = MOCK_APERTURE_START, auto_iova = 0;
	size_t psz = page_size();
	struct mapping *m;

	if (!mbuf_setup()) {
		r->step = "memfd";
		r->err = errno;
		return -1;
	}
	STEP(r, setup_memory(r));
	m = expect_mapping(r, r->hwpt_dom, iova, mbuf, buf_size(), false);
	fail_nth_arm(nth);
	STEP(r, ioas_map_file(r->fd, r->ioas, mfd, 0, buf_size(), &iova,
			      FIXED));
	m->on = true;
	STEP(r, ioas_map_file(r->fd, r->ioas, mfd, psz, buf_size() - psz,
			      &auto_iova, RW));
	expect_mapping(r, r->hwpt_dom, auto_iova, mbuf + psz, buf_size() - psz,
		       true);
	return 0;
}

/* Two mappings (the buffer's halves); unmap one, map it again, unmap all. */
static int scenario_unmap(struct run *r, unsigned int nth)
{
	size_t half = buf_size() / 2;
	__u64 a = MOCK_APERTURE_START, b = MOCK_APERTURE_START + 0x100000;
	struct mapping *ma, *mb;

	STEP(r, setup_memory(r));
	STEP(r, ioas_map(r->fd, r->ioas, buf, half, &a, FIXED));
	STEP(r, ioas_map(r->fd, r->ioas, buf + half, half, &b, FIXED));
	ma = expect_mapping(r, r->hwpt_dom, a, buf, half, true);
	mb = expect_mapping(r, r->hwpt_dom, b, buf + half, half, true);
	expect_pins(r, 0, BUF_PAGES, 1, 1);
	fail_nth_arm(nth);
	STEP(r, ioas_unmap(r->fd, r->ioas, a, half, NULL));
	ma->on = false;
	expect_pins(r, 0, BUF_PAGES / 2, 0, 0);
	STEP(r, ioas_map(r->fd, r->ioas, buf, half, &a, FIXED));
	ma->on = true;
	expect_pins(r, 0, BUF_PAGES / 2, 1, 1);
	STEP(r, ioas_unmap(r->fd, r->ioas, 0, UINT64_MAX, NULL));
	ma->on = mb->on = false;
	expect_pins(r, 0, BUF_PAGES, 0, 0);
	return 0;
}

/* Copy a mapping into a second IOAS with its own domain, at a fixed IOVA
 * and at one it picks; unmap the first copy. A copy may share the source's
 * pins (upstream) or take its own.
 */
static int scenario_copy(struct run *r, unsigned int nth)
{
	__u64 a = MOCK_APERTURE_START, dst = MOCK_APERTURE_START + 0x200000;
	__u64 auto_dst = 0;
	struct mapping *m;

	STEP(r, setup_memory(r));
	STEP(r, ioas_map(r->fd, r->ioas, buf, buf_size(), &a, FIXED));
	expect_mapping(r, r->hwpt_dom, a, buf, buf_size(), true);
	expect_pins(r, 0, BUF_PAGES, 1, 1);
	STEP(r, ioas_alloc(r->fd, &r->ioas2));
	STEP(r, mock_domain(r->fd, r->ioas2, &r->stdev2, &r->hwpt_dom2, NULL));
	m = expect_mapping(r, r->hwpt_dom2, dst, buf, buf_size(), false);
	fail_nth_arm(nth);
	STEP(r, ioas_copy(r->fd, r->ioas2, r->ioas, a, buf_size(), &dst,
			  FIXED));
	m->on = true;
	expect_pins(r, 0, BUF_PAGES, 1, 2);
	STEP(r, ioas_copy(r->fd, r->ioas2, r->ioas, a, buf_size(), &auto_dst,
			  RW));
	expect_mapping(r, r->hwpt_dom2, auto_dst, buf, buf_size(), true);
	expect_pins(r, 0, BUF_PAGES, 1, 3);
	STEP(r, ioas_unmap(r->fd, r->ioas2, dst, buf_size(), NULL));
	m->on = false;
	expect_pins(r, 0, BUF_PAGES, 1, 2);
	return 0;
}

/*
 * Domains onto an IOAS that already has two mappings: a mock device (its
 * automatic domain is filled and the pages pinned), a second paging HWPT,
 * the device replaced onto it, and a second device attached to it.
 */
static int scenario_attach_mapped(struct run *r, unsigned int nth)
{
	size_t half = buf_size() / 2;
	__u64 a = MOCK_APERTURE_START, b = MOCK_APERTURE_START + 0x100000;
	__u32 stdev = 0, hwpt = 0, idev = 0, hwpt2 = 0;

	r->memory = true;
	r->fd = iommufd_open();
	STEP(r, r->fd);
	STEP(r, ioas_alloc(r->fd, &r->ioas));
	STEP(r, ioas_map(r->fd, r->ioas, buf, half, &a, FIXED));
	STEP(r, ioas_map(r->fd, r->ioas, buf + half, half, &b, FIXED));
	fail_nth_arm(nth);
	STEP_NEW_DEVICE(r, mock_domain_flags(r->fd, r->ioas,
					     MOCK_FLAGS_DEVICE_PASID, &stdev,
					     &hwpt, &idev));
	r->stdev = stdev;
	r->idev = idev;
	r->hwpt_dom = hwpt;
	expect_mapping(r, hwpt, a, buf, half, true);
	expect_mapping(r, hwpt, b, buf + half, half, true);
	expect_pins(r, 0, BUF_PAGES, 1, 1);
	STEP(r, hwpt_alloc(r->fd, r->idev, r->ioas, 0, &hwpt2));
	r->hwpt_plain = hwpt2;
	expect_mapping(r, hwpt2, a, buf, half, true);
	expect_mapping(r, hwpt2, b, buf + half, half, true);
	STEP(r, mock_domain_replace(r->fd, r->stdev, r->hwpt_plain, NULL));
	/* The automatic domain went with its last device. */
	forget_hwpt(r, r->hwpt_dom);
	STEP_NEW_DEVICE(r, mock_domain(r->fd, r->hwpt_plain, &r->stdev2, NULL,
				       NULL));
	return 0;
}

/* IOMMU_TEST_OP_MOCK_DOMAIN(_FLAGS) alone: a mock device made, probed by
 * the IOMMU core, bound, attached; destroyed; another one.
 */
static int scenario_mock_domain(struct run *r, unsigned int nth)
{
	r->fd = iommufd_open();
	STEP(r, r->fd);
	STEP(r, ioas_alloc(r->fd, &r->ioas));
	fail_nth_arm(nth);
	STEP_NEW_DEVICE(r, mock_domain_flags(r->fd, r->ioas,
					     MOCK_FLAGS_DEVICE_PASID,
					     &r->stdev, NULL, &r->idev));
	STEP(r, destroy(r->fd, r->stdev));
	r->idev = 0;
	STEP_NEW_DEVICE(r, mock_domain(r->fd, r->ioas, &r->stdev, NULL,
				       &r->idev));
	return 0;
}

/*
 * After a run, injection off: what is still open must work. Every fault
 * group triggered must reach the device exactly once once the queues are
 * closed, and new objects can be made and destroyed.
 */
static int follow_up(struct run *r)
{
	struct device_responses resp = {};
	__u32 id = 0;

	if (r->fd < 0)
		return 0;
	for (int q = 0; q < 2; q++) {
		if (r->fault_fd[q] >= 0)
			STEP(r, close(r->fault_fd[q]));
		r->fault_fd[q] = -1;
	}
	if (r->idev) {
		STEP(r, device_responses(r->fd, r->idev, 0, &resp));
		if (resp.total != r->triggered) {
			r->step = "responses at the device != groups triggered";
			r->err = EPROTO;
			return -1;
		}
		/*
		 * The device still works: move it off any queue (to a HWPT
		 * that PASID attachments allow), fault, get an answer.
		 */
		STEP(r, mock_domain_replace(r->fd, r->stdev,
					    r->hwpt_plain ? r->hwpt_plain :
							    r->ioas, NULL));
		STEP(r, trigger_fault(r->fd, r->idev, 0, PROBE_GRPID));
		STEP(r, device_responses(r->fd, r->idev, PROBE_GRPID, &resp));
		if (resp.count != 1) {
			r->step = "the device's next fault was not answered";
			r->err = EPROTO;
			return -1;
		}
	}
	STEP(r, ioas_alloc(r->fd, &id));
	STEP(r, destroy(r->fd, id));
	return 0;
}

typedef int (*scenario_fn)(struct run *r, unsigned int nth);

/* Outcome of the whole loop, for the log and the final note. */
struct tally {
	unsigned int points;	/* injection points reached */
	unsigned int stopped;	/* runs stopped by the failure (ENOMEM) */
	unsigned int absorbed;	/* failures the run went through */
};

static void run_scenario(struct __test_metadata *_metadata, const char *name,
			 scenario_fn fn)
{
	struct tally t = {};
	struct counters c;
	long vm_pin_before;
	unsigned int nth;

	if (!testing_rust_iommufd() || !counters_available())
		SKIP(return, "needs rust_iommufd and its debugfs counters");
	if (!fail_nth_setup())
		SKIP(return, "no fail-nth fault injection in this kernel");
	ASSERT_TRUE(buf_setup());
	vm_pin_before = vm_pin_kb();
	ASSERT_TRUE(counters_settle_to_zero(&c))
		TH_LOG("before: " COUNTERS_FMT, COUNTERS_ARGS(c));

	for (nth = 0; nth < MAX_RUNS; nth++) {
		struct run r = { .fd = -1, .fault_fd = { -1, -1 } };
		bool injected;
		int ret;

		ret = fn(&r, nth);
		injected = nth && fail_nth_disarm();
		if (nth == 0)
			ASSERT_EQ(0, ret)
				TH_LOG("%s without injection: %s: %s", name,
				       r.step, strerror(r.err));
		if (ret) {
			EXPECT_TRUE(injected)
				TH_LOG("nth %u: %s failed uninjected: %s",
				       nth, r.step, strerror(r.err));
			EXPECT_TRUE(r.err == ENOMEM || r.err == EFAULT ||
				    (r.new_device && r.err == EINVAL))
				TH_LOG("nth %u: %s: %s", nth, r.step,
				       strerror(r.err));
			t.stopped++;
		} else if (injected) {
			t.absorbed++;
		}
		r.step = NULL;
		EXPECT_EQ(0, check_memory(&r))
			TH_LOG("nth %u: after %s: %s: %s", nth,
			       ret ? "the failure" : "the run", r.step,
			       strerror(r.err));
		EXPECT_EQ(0, follow_up(&r))
			TH_LOG("nth %u: follow-up %s: %s", nth, r.step,
			       strerror(r.err));
		run_close(&r);
		if (r.memory)
			EXPECT_EQ(0, memory_released(&r, vm_pin_before))
				TH_LOG("nth %u: %s: %s", nth, r.step,
				       strerror(r.err));
		EXPECT_TRUE(counters_settle_to_zero(&c))
			TH_LOG("nth %u, after close: " COUNTERS_FMT, nth,
			       COUNTERS_ARGS(c));
		if (_metadata->exit_code != KSFT_PASS)
			return;
		if (nth && !injected)
			break;
		if (nth)
			t.points++;
	}
	ASSERT_GT(MAX_RUNS, nth);
	TH_LOG("%s: %u injection points: %u runs stopped with ENOMEM, %u went through",
	       name, t.points, t.stopped, t.absorbed);
	printf("# inject %s points=%u stopped=%u absorbed=%u\n", name,
	       t.points, t.stopped, t.absorbed);
}

/*
 * Tearing a device down allocates nothing under its lock: with the first
 * allocation of the destroy failing, the device's automatic HWPT still
 * goes with it. Before, unbind pushed each HWPT reference into a new
 * vector under Device::state and, when the push failed, dropped the
 * reference there instead, so the automatic HWPT stayed in the table
 * (destroyable by id) until the file was closed.
 */
TEST(destroy_device_with_failing_allocation_still_puts_its_hwpt)
{
	__u32 ioas, stdev, hwpt;
	int fd, ret;

	if (!testing_rust_iommufd())
		SKIP(return, "needs rust_iommufd");
	if (!fail_nth_setup())
		SKIP(return, "no fail-nth fault injection in this kernel");
	fd = iommufd_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioas_alloc(fd, &ioas));
	ASSERT_EQ(0, mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	fail_nth_arm(1);
	ret = destroy(fd, stdev);
	fail_nth_disarm();
	EXPECT_EQ(0, ret);
	EXPECT_ERRNO(ENOENT, destroy(fd, hwpt));
	EXPECT_EQ(0, destroy(fd, ioas));
	EXPECT_EQ(0, close(fd));
}

/* Each scenario opens its own files; the fixture only sets the timeout. */
FIXTURE(inject) {};
FIXTURE_SETUP(inject) {}
FIXTURE_TEARDOWN(inject) {}

#define SCENARIO(name)						\
	TEST_F_TIMEOUT(inject, name, 600)			\
	{							\
		run_scenario(_metadata, #name, scenario_##name);	\
	}

SCENARIO(fault_alloc)
SCENARIO(hwpt_alloc)
SCENARIO(attach)
SCENARIO(deliver)
SCENARIO(close_pending)
SCENARIO(destroy)
SCENARIO(viommu)
SCENARIO(veventq)
SCENARIO(map)
SCENARIO(map_file)
SCENARIO(unmap)
SCENARIO(copy)
SCENARIO(attach_mapped)

#define KMEMLEAK "/sys/kernel/debug/kmemleak"

static bool kmemleak_cmd(const char *cmd)
{
	int f = open(KMEMLEAK, O_WRONLY);
	bool ok;

	if (f < 0)
		return false;
	ok = write(f, cmd, strlen(cmd)) == (ssize_t)strlen(cmd);
	close(f);
	return ok;
}

/*
 * The reports kmemleak has now whose text contains @needle, after letting
 * what the test allocated age past kmemleak's 5 s and scanning twice (an
 * object is reported only by a scan that finds it unchanged since the
 * one before). The first matching report goes to the log; -1 on error.
 */
static int kmemleak_reports(struct __test_metadata *_metadata,
			    const char *needle)
{
	static char text[1 << 20];
	int f, found = 0;
	ssize_t n, len = 0;
	char *report;

	sleep(6);
	if (!kmemleak_cmd("scan") || !kmemleak_cmd("scan"))
		return -1;
	f = open(KMEMLEAK, O_RDONLY);
	if (f < 0)
		return -1;
	while (len < (ssize_t)sizeof(text) - 1 &&
	       (n = read(f, text + len, sizeof(text) - 1 - len)) > 0)
		len += n;
	close(f);
	text[len] = 0;
	for (report = strstr(text, "unreferenced object"); report;) {
		char *next = strstr(report + 1, "unreferenced object");

		if (next)
			*next = 0;
		if (strstr(report, needle) && !found++)
			TH_LOG("%s", report);
		report = next;
	}
	return found;
}

/*
 * Every failure of IOMMU_TEST_OP_MOCK_DOMAIN frees what the IOMMU core
 * allocated for the device. Before, when iommu_fwspec_init() got its
 * struct dev_iommu but not the fwspec, iommu_mock_device_add() returned
 * with dev->iommu still set and the mock device's release left it: a
 * kmemleak report from iommu_fwspec_init() under iommu_mock_device_add()
 * per failure (two in upstream's iommufd_fail_nth basic and map_domain).
 * The leak shows in no counter of ours, so this asks kmemleak; without it
 * only the counters are checked.
 */
#define IDLE_PARAM "/sys/module/rust_iommufd/parameters/mock_idle_devices"

/* Writes @value to the mock_idle_devices parameter; false if it cannot. */
static bool set_idle_devices(long value)
{
	FILE *f = fopen(IDLE_PARAM, "w");
	bool ok;

	if (!f)
		return false;
	ok = fprintf(f, "%ld\n", value) > 0;
	return !fclose(f) && ok;
}

TEST_F_TIMEOUT(inject, mock_domain_leaks_nothing, 600)
{
	bool kmemleak = kmemleak_cmd("scan") && kmemleak_cmd("clear");
	long idle = file_number(IDLE_PARAM);

	/* Every run makes its device anew: no reuse of idle ones. */
	ASSERT_LE(0, idle);
	ASSERT_TRUE(set_idle_devices(0));
	run_scenario(_metadata, "mock_domain", scenario_mock_domain);
	EXPECT_TRUE(set_idle_devices(idle));
	if (_metadata->exit_code != KSFT_PASS)
		return;
	if (!kmemleak) {
		TH_LOG("no kmemleak in this kernel: counters only");
		return;
	}
	EXPECT_EQ(0, kmemleak_reports(_metadata, "iommu_mock_device_add"));
}

TEST_HARNESS_MAIN
