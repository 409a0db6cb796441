// SPDX-License-Identifier: GPL-2.0
/*
 * iopf_bench: the cost of an IO page fault's trip through an iommufd
 * implementation, measured through the uAPI only, so that the same binary
 * runs against upstream's C iommufd.ko and against rust_iommufd.ko.
 *
 *   iopf_bench [options] DEVICE        e.g. /dev/iommu, /dev/iommu-rust
 *
 * Scenarios (-s, default all), one CSV row each on stdout:
 *   rt     round trip: trigger one fault, poll, read it, write the response
 *   batch  trigger K faults, read them in one read(), answer them in one
 *          write(), for each K of -K
 *   scale  T threads fault on their own mock devices, H handler threads
 *          (one fault queue each) read and answer, for each T of -T and H
 *          of -H; a faulting thread waits for its answer before the next
 *   floor  IOMMU_DESTROY of an id that does not exist: a bare ioctl
 *   map    IOAS memory on an IOAS with one mock domain (so every map pins
 *          and writes the page table): "4k" an IOMMU_IOAS_MAP and
 *          IOMMU_IOAS_UNMAP of one 4 KiB page; "4kx256" 256 maps of one
 *          page each at consecutive IOVAs and one unmap of them all, per
 *          page; "2m" a map and unmap of 2 MiB (transparent huge page
 *          backed where the kernel gives one)
 *   dma    demand-paged DMA (rust_iommufd only): "demand" an N-page DMA
 *          write (-P N) through an IOAS with nothing mapped, a handler
 *          thread mapping each faulting page and answering; "mapped" the
 *          same DMA with the pages mapped; "uffd" the CPU's peer, a
 *          userfaultfd missing fault resolved with UFFDIO_COPY, per page
 *
 * Every row also checks delivery: a group lost, delivered twice, or not
 * answered within -w seconds is counted. rust_iommufd's mock devices keep
 * a record of the page responses they receive
 * (IOMMU_TEST_OP_RUST_IOPF_RESPONSE), which is the check there ("device");
 * upstream's mock keeps none, so against it the check is what user space
 * sees ("user"): every triggered group read exactly once, every response
 * write accepted.
 *
 * --tap runs a tiny smoke version of every scenario and prints TAP, one
 * case per row, failing any row with a lost, duplicated or timed-out group.
 */
#include <getopt.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>

/*
 * The selftests' ioctl helpers; their harness's test runner is not used
 * here (this program has its own main), so its being unused is fine.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "iommufd_dma_utils.h"
#include "iommufd_fault_utils.h"
#include "iommufd_ioas_utils.h"
#pragma GCC diagnostic pop
#include <sys/mman.h>

#define GRPIDS MOCK_IOPF_GRPID_NUM
#define MAX_LIST 8
/* An object id no implementation hands out this early: IOMMU_DESTROY fails. */
#define UNKNOWN_ID 0x7ffffff0U

struct opts {
	const char *dev;
	const char *label;
	const char *scenario;
	double seconds;		/* time limit per row */
	unsigned long count;	/* count limit per row (faults, ops) */
	unsigned long per_thread; /* scale: faults per thread, 0: no limit */
	double wait;		/* a group unanswered this long timed out */
	unsigned int k[MAX_LIST], nk;
	unsigned int t[MAX_LIST], nt;
	unsigned int h[MAX_LIST], nh;
	unsigned int pages;	/* dma: pages per DMA (and per uffd round) */
	bool tap;
	bool verbose;		/* batch: time per phase, on stderr */
};

/* One row of results. */
struct row {
	char scenario[16];
	char param[24];
	unsigned long faults;	/* faults (or ops) completed */
	double seconds;
	double p50_us, p99_us;	/* latency per fault, batch or op */
	unsigned long lost, dup, timeout;
	bool device_checked;	/* checked against the device's record */
	bool unsupported;	/* the module lacks an op the row needs */
	char error[96];		/* set when the row could not run */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts @v and stores its median and 99th percentile, in microseconds. */
static void percentiles(struct row *r, double *v, size_t n)
{
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_double);
	r->p50_us = v[n / 2] * 1e6;
	r->p99_us = v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] * 1e6;
}

static void fail(struct row *r, const char *what)
{
	if (!r->error[0])
		snprintf(r->error, sizeof(r->error), "%s: %s", what,
			 strerror(errno));
}

/* An open iommufd with an IOAS, mock devices and fault queues. */
struct bench_ctx {
	int fd;
	__u32 ioas;
	unsigned int ndev, nq;
	__u32 *stdev, *idev;
	__u32 *fault_id, *hwpt;
	int *ffd;
	/* Index of a device by its idev id, for the handlers. */
	int *dev_of_id;
	__u32 max_id;
	bool device_record;	/* the mock devices record responses */
};

static void ctx_init(struct bench_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void ctx_close(struct bench_ctx *c)
{
	for (unsigned int q = 0; q < c->nq; q++)
		if (c->ffd[q] >= 0)
			close(c->ffd[q]);
	if (c->fd >= 0)
		close(c->fd);
	free(c->stdev);
	free(c->idev);
	free(c->fault_id);
	free(c->hwpt);
	free(c->ffd);
	free(c->dev_of_id);
	ctx_init(c);
}

/*
 * Opens @dev with @ndev PASID-capable mock devices and @nq fault queues,
 * each with a fault-capable paging HWPT; device d is attached to HWPT
 * d % nq. This is how both implementations make a mock device fault
 * capable: attaching it to a HWPT that has an iopf handler.
 */
static int ctx_open(struct bench_ctx *c, const char *dev, unsigned int ndev,
		    unsigned int nq, struct row *r)
{
	struct device_responses resp;

	ctx_init(c);
	c->stdev = calloc(ndev, sizeof(*c->stdev));
	c->idev = calloc(ndev, sizeof(*c->idev));
	c->fault_id = calloc(nq, sizeof(*c->fault_id));
	c->hwpt = calloc(nq, sizeof(*c->hwpt));
	c->ffd = calloc(nq, sizeof(*c->ffd));
	if (!c->stdev || !c->idev || !c->fault_id || !c->hwpt || !c->ffd)
		return fail(r, "calloc"), -1;
	c->nq = nq;
	for (unsigned int q = 0; q < nq; q++)
		c->ffd[q] = -1;
	c->fd = open(dev, O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		return fail(r, "open"), -1;
	if (ioas_alloc(c->fd, &c->ioas))
		return fail(r, "IOMMU_IOAS_ALLOC"), -1;
	for (c->ndev = 0; c->ndev < ndev; c->ndev++) {
		unsigned int d = c->ndev;

		if (mock_domain_flags(c->fd, c->ioas, MOCK_FLAGS_DEVICE_PASID,
				      &c->stdev[d], NULL, &c->idev[d]))
			return fail(r, "IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS"), -1;
		if (c->idev[d] > c->max_id)
			c->max_id = c->idev[d];
		if (d)
			continue;
		for (unsigned int q = 0; q < nq; q++) {
			if (fault_alloc(c->fd, &c->fault_id[q], &c->ffd[q]))
				return fail(r, "IOMMU_FAULT_QUEUE_ALLOC"), -1;
			if (hwpt_alloc_fault(c->fd, c->idev[0], c->ioas,
					     IOMMU_HWPT_ALLOC_PASID,
					     c->fault_id[q], &c->hwpt[q]))
				return fail(r, "IOMMU_HWPT_ALLOC"), -1;
		}
	}
	for (unsigned int d = 0; d < ndev; d++)
		if (mock_domain_replace(c->fd, c->stdev[d], c->hwpt[d % nq],
					NULL))
			return fail(r, "IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE"), -1;
	c->dev_of_id = malloc((c->max_id + 1) * sizeof(*c->dev_of_id));
	if (!c->dev_of_id)
		return fail(r, "malloc"), -1;
	for (__u32 id = 0; id <= c->max_id; id++)
		c->dev_of_id[id] = -1;
	for (unsigned int d = 0; d < ndev; d++)
		c->dev_of_id[c->idev[d]] = d;
	/* Upstream's selftest has no such op: EOPNOTSUPP. */
	c->device_record = !device_responses(c->fd, c->idev[0], 0, &resp);
	return 0;
}

/*
 * The device's side of the check: device @d must have received exactly
 * one response per group it raised, @n groups with group ids 0, 1, ...
 * wrapping at GRPIDS, and no other. Adds the shortfall and the excess to
 * the row.
 */
static void device_check(struct bench_ctx *c, unsigned int d, unsigned long n,
			 struct row *r)
{
	struct device_responses resp = {};
	unsigned long seen = 0;

	if (!c->device_record)
		return;
	for (__u32 g = 0; g < GRPIDS && g < n; g++) {
		unsigned long want = n / GRPIDS + (g < n % GRPIDS);

		if (device_responses(c->fd, c->idev[d], g, &resp)) {
			fail(r, "IOMMU_TEST_OP_RUST_IOPF_RESPONSE");
			return;
		}
		seen += resp.count;
		if (resp.count < want)
			r->lost += want - resp.count;
		else if (resp.count > want)
			r->dup += resp.count - want;
		else if (resp.code != IOMMUFD_PAGE_RESP_SUCCESS)
			r->lost += resp.count; /* answered, not by us */
	}
	/* Responses to group ids beyond those used are duplicates too. */
	if (!device_responses(c->fd, c->idev[d], 0, &resp) && resp.total > seen)
		r->dup += resp.total - seen;
	r->device_checked = true;
}

/* Waits up to @wait seconds for @ffd to be readable; false on timeout. */
static bool queue_readable(int ffd, double wait)
{
	struct pollfd pfd = { .fd = ffd, .events = POLLIN };

	return poll(&pfd, 1, (int)(wait * 1000)) == 1 &&
	       (pfd.revents & POLLIN);
}

/* rt: one fault at a time, answered before the next is raised. */
static void run_rt(const struct opts *o, struct row *r)
{
	struct iommu_hwpt_pgfault rec[4];
	struct bench_ctx c;
	unsigned long n = 0;
	double *lat, start, t0;

	ctx_init(&c);
	snprintf(r->scenario, sizeof(r->scenario), "rt");
	snprintf(r->param, sizeof(r->param), "1");
	lat = calloc(o->count, sizeof(*lat));
	if (!lat || ctx_open(&c, o->dev, 1, 1, r)) {
		fail(r, "setup");
		goto out;
	}
	start = now_s();
	for (; n < o->count && now_s() - start < o->seconds; n++) {
		struct iommu_hwpt_page_response resp = {
			.code = IOMMUFD_PAGE_RESP_SUCCESS,
		};
		ssize_t got;

		t0 = now_s();
		if (trigger_fault(c.fd, c.idev[0], 0, n % GRPIDS)) {
			fail(r, "IOMMU_TEST_OP_TRIGGER_IOPF");
			break;
		}
		if (!queue_readable(c.ffd[0], o->wait)) {
			r->timeout++;
			break;
		}
		got = read_records(c.ffd[0], rec, 4);
		if (got < (ssize_t)RECORD_SIZE) {
			fail(r, "read");
			break;
		}
		/* Exactly our group, once. */
		if (rec[0].grpid != n % GRPIDS || rec[0].dev_id != c.idev[0])
			r->lost++;
		r->dup += got / RECORD_SIZE - 1;
		resp.cookie = rec[0].cookie;
		if (write(c.ffd[0], &resp, sizeof(resp)) != sizeof(resp)) {
			fail(r, "write");
			break;
		}
		lat[n] = now_s() - t0;
	}
	r->seconds = now_s() - start;
	r->faults = n;
	percentiles(r, lat, n);
	device_check(&c, 0, n, r);
out:
	ctx_close(&c);
	free(lat);
}

/* batch: K single-fault groups, one read(), one write(). */
static void run_batch(const struct opts *o, unsigned int k, struct row *r)
{
	struct iommu_hwpt_page_response *resp = calloc(k, sizeof(*resp));
	struct iommu_hwpt_pgfault *rec = calloc(k + 1, sizeof(*rec));
	unsigned long rounds = 0, max_rounds = o->count / k ? o->count / k : 1;
	double *lat = calloc(max_rounds, sizeof(*lat));
	unsigned char *seen = calloc(k, 1);
	double phase[3] = {}; /* trigger, read, write */
	struct bench_ctx c;
	double start, t0, t1;

	ctx_init(&c);
	snprintf(r->scenario, sizeof(r->scenario), "batch");
	snprintf(r->param, sizeof(r->param), "%u", k);
	if (!resp || !rec || !lat || !seen || ctx_open(&c, o->dev, 1, 1, r)) {
		fail(r, "setup");
		goto out;
	}
	start = now_s();
	for (; rounds < max_rounds && now_s() - start < o->seconds; rounds++) {
		ssize_t got;
		unsigned int i;

		t0 = now_s();
		for (i = 0; i < k; i++)
			if (trigger_fault(c.fd, c.idev[0], 0, i))
				break;
		if (i < k) {
			fail(r, "IOMMU_TEST_OP_TRIGGER_IOPF");
			break;
		}
		t1 = now_s();
		phase[0] += t1 - t0;
		got = read_records(c.ffd[0], rec, k + 1);
		phase[1] += now_s() - t1;
		if (got < 0) {
			fail(r, "read");
			break;
		}
		memset(seen, 0, k);
		for (i = 0; i < got / RECORD_SIZE; i++) {
			if (rec[i].grpid >= k || seen[rec[i].grpid]++)
				r->dup++;
			resp[i].cookie = rec[i].cookie;
			resp[i].code = IOMMUFD_PAGE_RESP_SUCCESS;
		}
		for (i = 0; i < k; i++)
			r->lost += !seen[i];
		t1 = now_s();
		got = write(c.ffd[0], resp, (got / RECORD_SIZE) * RESPONSE_SIZE);
		if (got != (ssize_t)(k * RESPONSE_SIZE)) {
			fail(r, "write");
			break;
		}
		phase[2] += now_s() - t1;
		lat[rounds] = now_s() - t0;
	}
	if (o->verbose && rounds)
		fprintf(stderr, "# %s batch %u, us per fault: trigger %.2f read %.2f write %.2f\n",
			o->label, k, phase[0] * 1e6 / (rounds * k),
			phase[1] * 1e6 / (rounds * k),
			phase[2] * 1e6 / (rounds * k));
	r->seconds = now_s() - start;
	r->faults = rounds * k;
	percentiles(r, lat, rounds);
	/* Each round used group ids 0..k-1 once. */
	if (c.device_record && !r->error[0]) {
		struct device_responses dr;

		for (__u32 g = 0; g < k; g++) {
			if (device_responses(c.fd, c.idev[0], g, &dr)) {
				fail(r, "IOMMU_TEST_OP_RUST_IOPF_RESPONSE");
				break;
			}
			if (dr.count < rounds)
				r->lost += rounds - dr.count;
			else
				r->dup += dr.count - rounds;
		}
		if (!device_responses(c.fd, c.idev[0], 0, &dr) &&
		    dr.total != rounds * k)
			r->dup += dr.total > rounds * k ? dr.total - rounds * k : 0;
		r->device_checked = true;
	}
out:
	ctx_close(&c);
	free(resp);
	free(rec);
	free(lat);
	free(seen);
}

/* scale: the shared state of one run. */
struct scale {
	const struct opts *o;
	struct bench_ctx *c;
	/* Set (and woken) once every thread exists: the start line. */
	_Atomic __u32 go;
	atomic_int stop_triggers, stop_handlers;
	/* Per device: the group it waits for, plus one (0: none). */
	_Atomic __u32 *want;
	/* Per device: groups answered; the faulting thread waits on it. */
	_Atomic __u32 *done;
	atomic_ulong dup, errors;
	double start;
};

struct scale_thread {
	struct scale *s;
	unsigned int dev;
	pthread_t thread;
	unsigned long raised;
	/* Read by the main thread while the run goes on. */
	atomic_ulong answered, timeouts;
	double *lat;
	size_t nlat, cap;
	double end;
};

static long futex(_Atomic __u32 *addr, int op, __u32 val,
		  const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

static void *scale_trigger(void *arg)
{
	struct scale_thread *t = arg;
	struct scale *s = t->s;
	unsigned int d = t->dev;

	while (!atomic_load(&s->go))
		futex(&s->go, FUTEX_WAIT_PRIVATE, 0, NULL);
	while (!atomic_load(&s->stop_triggers) &&
	       (!s->o->per_thread || t->raised < s->o->per_thread)) {
		__u32 seq = t->raised;
		double t0 = now_s(), deadline = t0 + s->o->wait;

		atomic_store(&s->want[d], seq % GRPIDS + 1);
		if (trigger_fault(s->c->fd, s->c->idev[d], 0, seq % GRPIDS)) {
			atomic_store(&s->want[d], 0);
			atomic_fetch_add(&s->errors, 1);
			break;
		}
		t->raised++;
		while (atomic_load(&s->done[d]) == seq) {
			double left = deadline - now_s();
			struct timespec ts;

			if (left <= 0)
				break;
			ts.tv_sec = (time_t)left;
			ts.tv_nsec = (long)((left - ts.tv_sec) * 1e9);
			futex(&s->done[d], FUTEX_WAIT_PRIVATE, seq, &ts);
		}
		if (atomic_load(&s->done[d]) == seq) {
			t->timeouts++;
			break;
		}
		t->answered++;
		if (t->nlat < t->cap)
			t->lat[t->nlat++] = now_s() - t0;
	}
	t->end = now_s();
	return NULL;
}

struct scale_handler {
	struct scale *s;
	unsigned int q;
	pthread_t thread;
};

#define HANDLER_BATCH 256

static void *scale_handle(void *arg)
{
	struct scale_handler *h = arg;
	struct scale *s = h->s;
	struct bench_ctx *c = s->c;
	struct iommu_hwpt_pgfault rec[HANDLER_BATCH];
	struct iommu_hwpt_page_response resp[HANDLER_BATCH];
	int woken[HANDLER_BATCH];
	struct pollfd pfd = { .fd = c->ffd[h->q], .events = POLLIN };

	while (!atomic_load(&s->stop_handlers)) {
		ssize_t got;
		size_t n, nw = 0;

		if (poll(&pfd, 1, 20) < 0) {
			atomic_fetch_add(&s->errors, 1);
			break;
		}
		if (!(pfd.revents & POLLIN))
			continue;
		got = read_records(pfd.fd, rec, HANDLER_BATCH);
		if (got < 0) {
			atomic_fetch_add(&s->errors, 1);
			continue;
		}
		n = got / RECORD_SIZE;
		for (size_t i = 0; i < n; i++) {
			int d = rec[i].dev_id <= c->max_id ?
					c->dev_of_id[rec[i].dev_id] : -1;
			__u32 want = rec[i].grpid + 1;

			resp[i].cookie = rec[i].cookie;
			resp[i].code = IOMMUFD_PAGE_RESP_SUCCESS;
			/* Read exactly once: the device waits for this one. */
			if (d < 0 || !atomic_compare_exchange_strong(
					     &s->want[d], &want, 0))
				atomic_fetch_add(&s->dup, 1);
			else
				woken[nw++] = d;
		}
		if (write(pfd.fd, resp, n * RESPONSE_SIZE) !=
		    (ssize_t)(n * RESPONSE_SIZE))
			atomic_fetch_add(&s->errors, 1);
		for (size_t i = 0; i < nw; i++) {
			atomic_fetch_add(&s->done[woken[i]], 1);
			futex(&s->done[woken[i]], FUTEX_WAKE_PRIVATE, 1, NULL);
		}
	}
	return NULL;
}

static void run_scale(const struct opts *o, unsigned int nt, unsigned int nh,
		      struct row *r)
{
	struct scale_thread *t = calloc(nt, sizeof(*t));
	struct scale_handler *h = calloc(nh, sizeof(*h));
	struct scale s = { .o = o };
	unsigned int started = 0, handlers = 0;
	size_t nlat = 0, cap;
	pthread_attr_t attr;
	struct bench_ctx c;
	double *lat, end = 0;

	snprintf(r->scenario, sizeof(r->scenario), "scale");
	snprintf(r->param, sizeof(r->param), "T%u/H%u", nt, nh);
	ctx_init(&c);
	s.want = calloc(nt, sizeof(*s.want));
	s.done = calloc(nt, sizeof(*s.done));
	cap = o->count / nt + 1;
	if (!t || !h || !s.want || !s.done ||
	    ctx_open(&c, o->dev, nt, nh, r)) {
		fail(r, "setup");
		goto out;
	}
	s.c = &c;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (; handlers < nh; handlers++) {
		h[handlers] = (struct scale_handler){ .s = &s, .q = handlers };
		if (pthread_create(&h[handlers].thread, &attr, scale_handle,
				   &h[handlers])) {
			fail(r, "pthread_create");
			goto out_threads;
		}
	}
	for (; started < nt; started++) {
		t[started].s = &s;
		t[started].dev = started;
		t[started].cap = cap;
		t[started].lat = calloc(cap, sizeof(double));
		if (!t[started].lat ||
		    pthread_create(&t[started].thread, &attr, scale_trigger,
				   &t[started])) {
			fail(r, "pthread_create");
			free(t[started].lat);
			goto out_threads;
		}
	}
	s.start = now_s();
	atomic_store(&s.go, 1);
	futex(&s.go, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
	/* Run for the time limit, or until every thread reached its count. */
	while (now_s() - s.start < o->seconds) {
		unsigned long total = 0;

		usleep(10000);
		for (unsigned int i = 0; i < nt; i++)
			total += t[i].answered + t[i].timeouts;
		if (total >= o->count ||
		    (o->per_thread && total >= o->per_thread * nt))
			break;
	}
out_threads:
	atomic_store(&s.stop_triggers, 1);
	if (!atomic_exchange(&s.go, 1)) {
		/* Setup failed: release the threads that did start. */
		s.start = now_s();
		futex(&s.go, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
	}
	for (unsigned int i = 0; i < started; i++) {
		pthread_join(t[i].thread, NULL);
		if (t[i].end > end)
			end = t[i].end;
	}
	atomic_store(&s.stop_handlers, 1);
	for (unsigned int i = 0; i < handlers; i++)
		pthread_join(h[i].thread, NULL);
	r->seconds = end > s.start ? end - s.start : 0;
	for (unsigned int i = 0; i < started; i++) {
		r->faults += t[i].answered;
		r->timeout += t[i].timeouts;
		nlat += t[i].nlat;
	}
	lat = calloc(nlat + 1, sizeof(*lat));
	nlat = 0;
	for (unsigned int i = 0; i < started; i++) {
		if (lat)
			memcpy(lat + nlat, t[i].lat, t[i].nlat * sizeof(*lat));
		nlat += t[i].nlat;
		/* A group raised and never answered is lost. */
		if (t[i].raised > t[i].answered + t[i].timeouts)
			r->lost += t[i].raised - t[i].answered - t[i].timeouts;
		if (!r->error[0])
			device_check(&c, i, t[i].raised, r);
		free(t[i].lat);
	}
	if (lat)
		percentiles(r, lat, nlat);
	free(lat);
	r->dup += atomic_load(&s.dup);
	if (atomic_load(&s.errors) && !r->error[0])
		snprintf(r->error, sizeof(r->error), "%lu failed syscalls",
			 atomic_load(&s.errors));
	pthread_attr_destroy(&attr);
out:
	ctx_close(&c);
	free(t);
	free(h);
	free(s.want);
	free(s.done);
}

/* floor: the cheapest ioctl that reaches the implementation. */
static void run_floor(const struct opts *o, struct row *r)
{
	double *lat = calloc(o->count, sizeof(*lat));
	unsigned long n = 0;
	double start, t0;
	int fd;

	snprintf(r->scenario, sizeof(r->scenario), "floor");
	snprintf(r->param, sizeof(r->param), "destroy");
	fd = open(o->dev, O_RDWR | O_CLOEXEC);
	if (fd < 0 || !lat) {
		fail(r, "open");
		goto out;
	}
	start = now_s();
	for (; n < o->count && now_s() - start < o->seconds; n++) {
		t0 = now_s();
		if (!destroy(fd, UNKNOWN_ID) || errno != ENOENT) {
			fail(r, "IOMMU_DESTROY of an unknown id did not fail");
			break;
		}
		lat[n] = now_s() - t0;
	}
	r->seconds = now_s() - start;
	r->faults = n;
	percentiles(r, lat, n);
	close(fd);
out:
	free(lat);
}

/*
 * map: IOMMU_IOAS_MAP/UNMAP cost with a domain to fill. @pages pages per
 * map, @maps maps per round (each its own area), one unmap per round;
 * latency is per round divided by @maps.
 */
static void run_map(const struct opts *o, const char *param,
		    unsigned long pages, unsigned int maps, struct row *r)
{
	size_t psz = page_size(), len = pages * psz * maps;
	size_t span = len + (2UL << 20);
	double *lat = calloc(o->count, sizeof(*lat));
	/* Rounds: the count limit is in pages mapped. */
	unsigned long rounds = o->count / maps ? o->count / maps : 1, n = 0;
	__u32 ioas, stdev;
	double start, t0;
	char *raw, *buf;
	int fd;

	snprintf(r->scenario, sizeof(r->scenario), "map");
	snprintf(r->param, sizeof(r->param), "%s", param);
	raw = mmap(NULL, span, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = open(o->dev, O_RDWR | O_CLOEXEC);
	if (fd < 0 || !lat || raw == MAP_FAILED) {
		fail(r, "setup");
		goto out;
	}
	/* 2 MiB aligned, so that a huge page can back it. */
	buf = (char *)(((uintptr_t)raw + (2UL << 20) - 1) & ~((2UL << 20) - 1));
	madvise(buf, len, MADV_HUGEPAGE);
	memset(buf, 1, len);
	if (ioas_alloc(fd, &ioas) || mock_domain(fd, ioas, &stdev, NULL, NULL)) {
		fail(r, "IOAS with a mock domain");
		goto close;
	}
	start = now_s();
	for (; n < rounds && now_s() - start < o->seconds; n++) {
		__u64 iova = MOCK_APERTURE_START, unmapped = 0;
		unsigned int i;

		t0 = now_s();
		for (i = 0; i < maps; i++) {
			iova = MOCK_APERTURE_START + (__u64)i * pages * psz;
			if (ioas_map(fd, ioas, buf + i * pages * psz,
				     pages * psz, &iova, FIXED))
				break;
		}
		if (i < maps) {
			fail(r, "IOMMU_IOAS_MAP");
			break;
		}
		if (ioas_unmap(fd, ioas, MOCK_APERTURE_START, len, &unmapped) ||
		    unmapped != len) {
			fail(r, "IOMMU_IOAS_UNMAP");
			break;
		}
		lat[n] = (now_s() - t0) / maps;
	}
	r->seconds = now_s() - start;
	r->faults = n * maps;
	percentiles(r, lat, n);
close:
	close(fd);
out:
	if (raw != MAP_FAILED)
		munmap(raw, span);
	free(lat);
}

/*
 * dma: demand-paged DMA against its peers, N pages a round (-P).
 *
 * "demand": the mock device DMA-writes N pages of an IOAS with nothing
 * mapped (IOMMU_TEST_OP_RUST_DMA); each run of up to MOCK_IOPF_GROUP_MAX
 * pages faults as one group, a handler thread maps each page of it
 * (IOMMU_IOAS_MAP, 4 KiB, fixed IOVA) and answers SUCCESS, the device
 * retries. The unmap that resets the IOAS between rounds is not timed.
 * "mapped": the same DMA with the N pages mapped beforehand (one map):
 * what the DMA costs without faults. Latency is per page (a DMA's time
 * over N); the rate is pages per second of DMA.
 * "uffd": the CPU's peer, a userfaultfd round trip: N pages registered
 * with UFFDIO_REGISTER_MODE_MISSING, this thread writes to each, a
 * handler thread answers each fault with UFFDIO_COPY of a page. Latency
 * is per fault (one touch); the MADV_DONTNEED that resets the region
 * between rounds is not timed.
 *
 * IOMMU_TEST_OP_RUST_DMA is rust_iommufd's own, so "demand" and "mapped"
 * run on it only (against upstream's module the op fails: EOPNOTSUPP);
 * "uffd" uses no iommufd at all.
 */

/* The byte a DMA of round @round writes at page offset @off. */
static unsigned char dma_byte(size_t off, unsigned long round)
{
	return (off + round * 13) % 251 + 1;
}

/*
 * dma demand/mapped: rounds of one N-page DMA write; @demand: nothing
 * mapped before each, the pager maps as the device faults.
 */
static void run_dma(const struct opts *o, bool demand, struct row *r)
{
	size_t len = (size_t)o->pages * 4096;
	unsigned long rounds = o->count / o->pages ? o->count / o->pages : 1;
	__u32 want_faults = demand ? (o->pages + MOCK_IOPF_GROUP_MAX - 1) /
					     MOCK_IOPF_GROUP_MAX : 0;
	double *lat = calloc(rounds, sizeof(*lat)), start, spent = 0;
	/* The selftests' handler: maps each faulting page, answers SUCCESS. */
	struct fault_handler h = { .iova_base = MOCK_APERTURE_START,
				   .backing_len = len, .mode = HANDLER_MAP };
	unsigned long n = 0, raised = 0;
	__u32 sent = 0, answered = 0;
	bool thread = false;
	struct bench_ctx c;
	char *src;

	ctx_init(&c);
	snprintf(r->scenario, sizeof(r->scenario), "dma");
	snprintf(r->param, sizeof(r->param), "%s/%u",
		 demand ? "demand" : "mapped", o->pages);
	src = malloc(len);
	h.backing = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!lat || !src || h.backing == MAP_FAILED ||
	    ctx_open(&c, o->dev, 1, 1, r)) {
		fail(r, "setup");
		goto out;
	}
	/* Both rows pin pages that exist: the CPU fault is not measured. */
	memset(h.backing, 0, len);
	h.fd = c.fd;
	h.fault_fd = c.ffd[0];
	h.ioas_id = c.ioas;
	if (demand) {
		if (handler_start(&h)) {
			fail(r, "pthread_create");
			goto out;
		}
		thread = true;
	} else {
		__u64 iova = MOCK_APERTURE_START;

		if (ioas_map(c.fd, c.ioas, h.backing, len, &iova, FIXED)) {
			fail(r, "IOMMU_IOAS_MAP");
			goto out;
		}
	}
	start = now_s();
	for (; n < rounds && now_s() - start < o->seconds; n++) {
		struct dma_result res = {};
		double t0;

		for (size_t i = 0; i < len; i++)
			src[i] = dma_byte(i, n);
		t0 = now_s();
		/* PASID 0: IOMMU_NO_PASID, the device's RID. */
		if (mock_dma(c.fd, c.idev[0], 0,
			     MOCK_APERTURE_START, src, len, MOCK_DMA_WRITE, 0,
			     &res)) {
			r->unsupported = errno == EOPNOTSUPP;
			if (errno == ETIMEDOUT)
				r->timeout++;
			else
				fail(r, "IOMMU_TEST_OP_RUST_DMA");
			break;
		}
		lat[n] = now_s() - t0;
		spent += lat[n];
		lat[n] /= o->pages;
		raised += res.faults;
		/* As many groups as runs of 64 pages, or none when mapped. */
		if (res.faults != want_faults)
			r->lost++;
		if (memcmp(src, h.backing, len))
			r->lost++;	/* the bytes did not land */
		if (demand) {
			__u64 unmapped = 0;

			if (ioas_unmap(c.fd, c.ioas, MOCK_APERTURE_START, len,
				       &unmapped) || unmapped != len) {
				fail(r, "IOMMU_IOAS_UNMAP");
				n++;
				break;
			}
		}
	}
	r->seconds = spent;
	r->faults = n * o->pages;
	percentiles(r, lat, n);
out:
	if (thread) {
		handler_stop(&h);
		/* The handler answered every group the DMAs raised, once. */
		if (atomic_load(&h.groups) != raised)
			r->lost++;
		if ((atomic_load(&h.map_errors) || atomic_load(&h.bad_groups)) &&
		    !r->error[0])
			snprintf(r->error, sizeof(r->error),
				 "%u failed maps, %u failed responses",
				 atomic_load(&h.map_errors),
				 atomic_load(&h.bad_groups));
	}
	/* The device's record: one response per group its DMAs sent. */
	if (c.device_record && !r->error[0] &&
	    !dma_groups_answered(c.fd, c.idev[0], &sent, &answered)) {
		if (sent != raised || answered < sent)
			r->lost += (raised > answered ? raised - answered : 0) +
				   (sent != raised);
		else
			r->dup += answered - sent;
		r->device_checked = true;
	}
	ctx_close(&c);
	if (h.backing != MAP_FAILED)
		munmap(h.backing, len);
	free(src);
	free(lat);
}

/* The uffd row's handler: UFFDIO_COPY of @page for every missing fault. */
struct uffd_handler {
	int uffd;
	char *page;		/* what every fault is resolved with */
	atomic_int stop;
	atomic_ulong faults, errors;
};

static void *uffd_thread(void *arg)
{
	struct uffd_handler *h = arg;
	struct pollfd pfd = { .fd = h->uffd, .events = POLLIN };
	struct uffd_msg msg;

	while (!atomic_load(&h->stop)) {
		struct uffdio_copy copy = { .len = 4096, .src = PTR_U64(h->page) };

		if (poll(&pfd, 1, 20) < 0) {
			atomic_fetch_add(&h->errors, 1);
			break;
		}
		if (!(pfd.revents & POLLIN))
			continue;
		if (read(h->uffd, &msg, sizeof(msg)) != sizeof(msg)) {
			if (errno != EAGAIN)
				atomic_fetch_add(&h->errors, 1);
			continue;
		}
		if (msg.event != UFFD_EVENT_PAGEFAULT) {
			atomic_fetch_add(&h->errors, 1);
			continue;
		}
		copy.dst = msg.arg.pagefault.address & ~4095ULL;
		/* Counted before the copy wakes the faulting thread. */
		atomic_fetch_add(&h->faults, 1);
		if (ioctl(h->uffd, UFFDIO_COPY, &copy) && errno != EEXIST)
			atomic_fetch_add(&h->errors, 1);
	}
	return NULL;
}

/* dma uffd: rounds of touching N missing pages, one fault each. */
static void run_uffd(const struct opts *o, struct row *r)
{
	size_t len = (size_t)o->pages * 4096;
	unsigned long rounds = o->count / o->pages ? o->count / o->pages : 1;
	double *lat = calloc(rounds * o->pages, sizeof(*lat)), start, spent = 0;
	struct uffd_handler h = { .uffd = -1 };
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	unsigned long n = 0, touched = 0;
	bool thread = false;
	pthread_t handler;
	char *region;

	snprintf(r->scenario, sizeof(r->scenario), "dma");
	snprintf(r->param, sizeof(r->param), "uffd/%u", o->pages);
	region = mmap(NULL, len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	h.page = aligned_alloc(4096, 4096);
	if (!lat || !h.page || region == MAP_FAILED) {
		fail(r, "setup");
		goto out;
	}
	memset(h.page, 0x5a, 4096);
	h.uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (h.uffd < 0) {
		fail(r, "userfaultfd");
		goto out;
	}
	reg.range.start = PTR_U64(region);
	reg.range.len = len;
	if (ioctl(h.uffd, UFFDIO_API, &api) ||
	    ioctl(h.uffd, UFFDIO_REGISTER, &reg)) {
		fail(r, "UFFDIO_API/UFFDIO_REGISTER");
		goto out;
	}
	if (pthread_create(&handler, NULL, uffd_thread, &h)) {
		fail(r, "pthread_create");
		goto out;
	}
	thread = true;
	start = now_s();
	for (; n < rounds && now_s() - start < o->seconds; n++) {
		unsigned long before = atomic_load(&h.faults);

		for (unsigned int i = 0; i < o->pages; i++) {
			volatile char *b = region + (size_t)i * 4096;
			double t0 = now_s();

			/* A read: the fault's answer is the copied page. */
			if (*b != 0x5a)
				r->lost++;
			lat[touched] = now_s() - t0;
			spent += lat[touched++];
		}
		/* One fault per page, no more. */
		if (atomic_load(&h.faults) - before != o->pages)
			r->dup++;
		if (madvise(region, len, MADV_DONTNEED)) {
			fail(r, "MADV_DONTNEED");
			n++;
			break;
		}
	}
	r->seconds = spent;
	r->faults = touched;
	percentiles(r, lat, touched);
out:
	if (thread) {
		atomic_store(&h.stop, 1);
		pthread_join(handler, NULL);
		if (atomic_load(&h.errors) && !r->error[0])
			snprintf(r->error, sizeof(r->error),
				 "%lu failed handler steps",
				 atomic_load(&h.errors));
	}
	if (h.uffd >= 0)
		close(h.uffd);
	if (region != MAP_FAILED)
		munmap(region, len);
	free(h.page);
	free(lat);
}

static bool row_ok(const struct row *r)
{
	return !r->error[0] && !r->lost && !r->dup && !r->timeout && r->faults;
}

static void print_row(const struct opts *o, const struct row *r)
{
	const char *check = strcmp(r->scenario, "floor") &&
				    strcmp(r->scenario, "map") ?
				    (r->device_checked ? "device" : "user") :
				    "-";

	if (o->tap) {
		ksft_print_msg("%s %s: %lu in %.3f s, p50 %.1f us, p99 %.1f us, lost %lu, dup %lu, timed out %lu, checked by %s%s%s\n",
			       r->scenario, r->param, r->faults, r->seconds,
			       r->p50_us, r->p99_us, r->lost, r->dup,
			       r->timeout, check, r->error[0] ? "; " : "",
			       r->error);
		if (r->unsupported)
			ksft_test_result_skip("%s %s: not supported here\n",
					      r->scenario, r->param);
		else if (row_ok(r))
			ksft_test_result_pass("%s %s\n", r->scenario,
					      r->param);
		else
			ksft_test_result_fail("%s %s\n", r->scenario,
					      r->param);
		return;
	}
	printf("%s,%s,%s,%lu,%.6f,%.1f,%.2f,%.2f,%lu,%lu,%lu,%s,%s\n",
	       o->label, r->scenario, r->param, r->faults, r->seconds,
	       r->seconds > 0 ? r->faults / r->seconds : 0.0, r->p50_us,
	       r->p99_us, r->lost, r->dup, r->timeout, check,
	       r->error[0] ? r->error : "ok");
	fflush(stdout);
}

static bool wants(const struct opts *o, const char *scenario)
{
	return !strcmp(o->scenario, "all") || !strcmp(o->scenario, scenario);
}

static unsigned int parse_list(const char *arg, unsigned int *out)
{
	unsigned int n = 0;
	char *end;

	while (n < MAX_LIST && *arg) {
		unsigned long v = strtoul(arg, &end, 10);

		if (end == arg || !v || v > 4096)
			break;
		out[n++] = v;
		arg = *end == ',' ? end + 1 : end;
	}
	return n;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-l LABEL] [-s rt|batch|scale|floor|map|dma|all]\n"
		"       [-t SECONDS] [-n COUNT] [-p PER_THREAD] [-w WAIT_SECONDS]\n"
		"       [-K 1,16,..] [-T 1,8,..] [-H 1,4] [-P PAGES] [-v] [--tap] DEVICE\n",
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "tap", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = {
		.label = "impl",
		.scenario = "all",
		.seconds = 2,
		.count = 200000,
		.wait = 10,
		.k = { 1, 16, 64, 256 }, .nk = 4,
		.t = { 1, 8, 64, 512 }, .nt = 4,
		.h = { 1, 4 }, .nh = 2,
		.pages = 256,
	};
	struct row r;
	int opt;

	while ((opt = getopt_long(argc, argv, "l:s:t:n:p:w:K:T:H:P:v", long_opts,
				  NULL)) != -1) {
		switch (opt) {
		case 'l': o.label = optarg; break;
		case 's': o.scenario = optarg; break;
		case 't': o.seconds = atof(optarg); break;
		case 'n': o.count = strtoul(optarg, NULL, 10); break;
		case 'p': o.per_thread = strtoul(optarg, NULL, 10); break;
		case 'w': o.wait = atof(optarg); break;
		case 'K': o.nk = parse_list(optarg, o.k); break;
		case 'T': o.nt = parse_list(optarg, o.t); break;
		case 'H': o.nh = parse_list(optarg, o.h); break;
		case 'P': o.pages = strtoul(optarg, NULL, 10); break;
		case 'a': o.tap = true; break;
		case 'v': o.verbose = true; break;
		default: usage(argv[0]);
		}
	}
	if (optind != argc - 1 || !o.count || !o.nk || !o.nt || !o.nh ||
	    o.seconds <= 0 || o.wait <= 0 || !o.pages ||
	    o.pages > MOCK_DMA_MAX_LENGTH / 4096)
		usage(argv[0]);
	o.dev = argv[optind];
	if (o.tap) {
		/* Small, bounded by counts: a check, not a measurement. */
		o.seconds = 60;
		o.count = 64;
		o.per_thread = 8;
		o.nk = parse_list("1,16,64", o.k);
		o.nt = parse_list("1,8,64", o.t);
		o.pages = 128;	/* two groups a DMA */
		ksft_print_header();
		ksft_set_plan((wants(&o, "rt") + wants(&o, "floor")) +
			      wants(&o, "map") * 3 + wants(&o, "dma") * 3 +
			      wants(&o, "batch") * o.nk +
			      wants(&o, "scale") * o.nt * o.nh);
		ksft_print_msg("%s\n", o.dev);
	} else {
		printf("impl,scenario,param,faults,seconds,rate,p50_us,p99_us,lost,dup,timeout,check,status\n");
	}

	if (wants(&o, "floor")) {
		memset(&r, 0, sizeof(r));
		run_floor(&o, &r);
		print_row(&o, &r);
	}
	if (wants(&o, "rt")) {
		memset(&r, 0, sizeof(r));
		run_rt(&o, &r);
		print_row(&o, &r);
	}
	for (unsigned int i = 0; wants(&o, "batch") && i < o.nk; i++) {
		memset(&r, 0, sizeof(r));
		run_batch(&o, o.k[i], &r);
		print_row(&o, &r);
	}
	for (unsigned int i = 0; wants(&o, "scale") && i < o.nt; i++) {
		for (unsigned int j = 0; j < o.nh; j++) {
			memset(&r, 0, sizeof(r));
			run_scale(&o, o.t[i], o.h[j], &r);
			print_row(&o, &r);
		}
	}
	if (wants(&o, "map")) {
		static const struct {
			const char *param;
			unsigned long pages;
			unsigned int maps;
		} kinds[] = { { "4k", 1, 1 }, { "4kx256", 1, 256 },
			      { "2m", 512, 1 } };

		for (unsigned int i = 0; i < 3; i++) {
			memset(&r, 0, sizeof(r));
			run_map(&o, kinds[i].param,
				kinds[i].pages * 4096 / page_size(),
				kinds[i].maps, &r);
			print_row(&o, &r);
		}
	}
	if (wants(&o, "dma")) {
		for (int demand = 1; demand >= 0; demand--) {
			memset(&r, 0, sizeof(r));
			run_dma(&o, demand, &r);
			print_row(&o, &r);
		}
		memset(&r, 0, sizeof(r));
		run_uffd(&o, &r);
		print_row(&o, &r);
	}
	if (o.tap)
		ksft_finished();
	return 0;
}
