// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failure injection, fail-nth style. Each scenario runs once
 * with no injection (which also faults in every page it touches), then
 * with the 1st, 2nd, ... allocation of the task failing
 * (/proc/self/task/<tid>/fail-nth, served by FAILSLAB), until a run goes
 * through without the injected failure being reached.
 *
 * After every run:
 * - a run that stopped must have stopped on ENOMEM, and only if the
 *   failure was injected;
 * - with injection off again, the scenario's follow-up must work on what
 *   is still open (the next normal operation), and where faults were
 *   triggered the mock device must have received exactly one response
 *   per fault group;
 * - once everything is closed, the module's counters (debugfs, see
 *   iommufd_counters.h) must be back to zero: no object, no queued,
 *   delivered or unanswered fault group left.
 *
 * Needs rust_iommufd (its counters and response record); skips otherwise.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "iommufd_counters.h"
#include "iommufd_fault_utils.h"

#define PASID 1
/* The follow-up's fault; scenarios use lower group ids. */
#define PROBE_GRPID 500
#define MAX_RUNS 2000u

/* Everything a scenario opened and created, for follow-up and cleanup. */
struct run {
	int fd;
	int fault_fd[2];
	__u32 ioas, stdev, idev, fault_id[2];
	__u32 hwpt_fault, hwpt_fault2, hwpt_plain;
	/* Fault groups triggered successfully (each must be answered once). */
	__u32 triggered;
	/* Where and how the scenario stopped. */
	const char *step;
	int err;
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

/* Lets every allocation of this task be failed, quietly. */
static bool fail_nth_setup(void)
{
	static const char *const settings[][2] = {
		{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/failslab/verbose", "0" },
	};
	char path[64];

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
				  &r->stdev, NULL, &r->idev));
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
	unsigned int nth;

	if (!testing_rust_iommufd() || !counters_available())
		SKIP(return, "needs rust_iommufd and its debugfs counters");
	if (!fail_nth_setup())
		SKIP(return, "no fail-nth fault injection in this kernel");
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
			EXPECT_EQ(ENOMEM, r.err)
				TH_LOG("nth %u: %s: %s", nth, r.step,
				       strerror(r.err));
			t.stopped++;
		} else if (injected) {
			t.absorbed++;
		}
		r.step = NULL;
		EXPECT_EQ(0, follow_up(&r))
			TH_LOG("nth %u: follow-up %s: %s", nth, r.step,
			       strerror(r.err));
		run_close(&r);
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

TEST_HARNESS_MAIN
