// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd_fuzz: a differential fuzzer. From a seed it generates sequences
 * of iommufd calls (every ioctl and IOMMU_TEST_CMD op rust_iommufd
 * implements, the fault descriptor's read, write and poll, dup and close)
 * and runs each call on two implementations in the same process: the C
 * iommufd.ko (/dev/iommu) and rust_iommufd (/dev/iommu-rust). Each call's
 * return value, errno and output (structure bytes, data buffers, fault
 * records) is compared; object ids, cookies and file descriptors are
 * compared by what they name, not by value.
 *
 * A divergence that Documentation/userspace-api.rst lists as intentional
 * is on the allowlist below and only counted; any other stops the run,
 * is shrunk to a short sequence that still shows it, and printed as a C
 * snippet (against fuzz_mem.h). A kernel report in /dev/kmsg (KASAN,
 * lockdep, WARN, BUG, ...) stops the run too, with the sequence that led
 * to it.
 *
 *   iommufd_fuzz [-s SEED] [-n CALLS] [-t SECONDS] [-l OPS_PER_SEQUENCE]
 *                [--tap] [--c DEV] [--rust DEV] [-v]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/iommufd_test.h>

#include "fuzz_mem.h"

#define NS 2
enum { SC, SR };
static const char *side_name[NS] = { "C", "rust" };
static const char *dev_path[NS] = { "/dev/iommu", "/dev/iommu-rust" };

/* ------------------------------------------------------------------ */
/* Random numbers: splitmix64, one stream per sequence. */

static uint64_t rng;

static uint64_t rnd64(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t rnd(uint32_t n)
{
	return n ? rnd64() % n : 0;
}

static bool chance(unsigned int percent)
{
	return rnd(100) < percent;
}

/* ------------------------------------------------------------------ */
/* The model: what the fuzzer believes exists, as abstract handles. */

enum kind {
	K_FREE, K_CTX, K_FD, K_IOAS, K_STDEV, K_IDEV, K_HWPT, K_VIOMMU,
	K_VDEV, K_FAULT, K_GROUP, K_NKIND
};
enum { HW_AUTO = 1, HW_PAGING, HW_NESTED, HW_VNESTED };

#define MAXH 8192
#define FRESH_BASE 6144		/* replays: handles no recorded op names */
#define MAXSLOT 8
#define MAXID 8192
#define MAXPASID 8
#define BOGUS 0x7ffff000u

struct h {
	int kind, ctx;
	bool ever, live;
	uint32_t id[NS];	/* object id, per side */
	int fd[NS];		/* K_FD */
	int fault;		/* K_FD, K_HWPT, K_GROUP: the fault queue */
	int slot;		/* K_CTX: index of its id tables */
	int refs;		/* K_CTX, K_FAULT: open descriptors */
	int hk;			/* K_HWPT: HW_* */
	uint32_t flags;		/* K_HWPT: alloc flags; K_STDEV: dev flags */
	int parent;		/* K_HWPT: IOAS or parent; K_VIOMMU: HWPT;
				   K_VDEV: vIOMMU */
	int idev, stdev, vdev, hwpt;	/* K_STDEV (and K_IDEV: stdev) */
	int ndev;		/* K_HWPT: devices attached at the RID */
	int np;			/* K_STDEV: PASIDs attached */
	uint32_t pasid[MAXPASID];
	int phwpt[MAXPASID];
	uint32_t cookie[NS];	/* K_GROUP */
	bool holder[NS];	/* this group holds cookie[] on that side */
	bool answered;
};

static struct h hs[MAXH];
static int nh, fresh;
static bool recording;
static int own[NS][MAXSLOT][MAXID];	/* id -> handle + 1 */
static bool slot_used[MAXSLOT];

static void model_reset(void)
{
	memset(hs, 0, sizeof(hs));
	memset(own, 0, sizeof(own));
	memset(slot_used, 0, sizeof(slot_used));
	nh = 0;
	fresh = FRESH_BASE;
}

static int owner(int s, int ctx, uint32_t v)
{
	if (ctx < 0 || v >= MAXID || !hs[ctx].ever)
		return -1;
	return own[s][hs[ctx].slot][v] - 1;
}

static void set_owner(int h)
{
	struct h *H = &hs[h];
	int s;

	for (s = 0; s < NS; s++)
		if (H->id[s] < MAXID)
			own[s][hs[H->ctx].slot][H->id[s]] = h + 1;
}

static void kill(int h)
{
	struct h *H = &hs[h];
	int s;

	if (h < 0 || !H->live)
		return;
	H->live = false;
	if (H->kind == K_CTX || H->kind == K_FD || H->kind == K_GROUP)
		return;
	for (s = 0; s < NS; s++)
		if (H->id[s] < MAXID &&
		    own[s][hs[H->ctx].slot][H->id[s]] == h + 1)
			own[s][hs[H->ctx].slot][H->id[s]] = 0;
}

/*
 * A new handle for output @slot of op @o. Recording, handles are numbered
 * in creation order and the op remembers its; replaying a shortened
 * sequence, the op's handle is reused so that later ops name it.
 */
struct op;
static int new_handle(struct op *o, int slot, int kind, int ctx);

static void kill_ctx(int c)
{
	int h;

	for (h = 0; h < MAXH; h++)
		if (hs[h].live && hs[h].ctx == c && h != c)
			kill(h);
	memset(own[SC][hs[c].slot], 0, sizeof(own[SC][0]));
	memset(own[SR][hs[c].slot], 0, sizeof(own[SR][0]));
	slot_used[hs[c].slot] = false;
	hs[c].live = false;
}

/* Devices and automatic HWPTs: an automatic HWPT goes with its last device. */
static void hwpt_leave(int hw)
{
	if (hw < 0 || hs[hw].kind != K_HWPT)
		return;
	if (hs[hw].ndev > 0)
		hs[hw].ndev--;
	if (hs[hw].hk == HW_AUTO && hs[hw].ndev == 0)
		kill(hw);
}

static void hwpt_join(int hw)
{
	if (hw >= 0 && hs[hw].kind == K_HWPT)
		hs[hw].ndev++;
}

static void stdev_die(int sd)
{
	struct h *S = &hs[sd];

	if (!S->live)
		return;
	kill(S->idev);
	if (S->vdev >= 0)
		kill(S->vdev);
	hwpt_leave(S->hwpt);
	kill(sd);
}

/* ------------------------------------------------------------------ */
/* Operations. */

enum optype {
	OP_OPEN, OP_DUP, OP_CLOSE, OP_DESTROY, OP_IOAS_ALLOC, OP_HWPT_ALLOC,
	OP_HW_INFO, OP_INVALIDATE, OP_FAULT_ALLOC, OP_VIOMMU_ALLOC,
	OP_VDEV_ALLOC, OP_MOCK_DOMAIN, OP_REPLACE, OP_MEMLIMIT,
	OP_CHECK_IOTLB, OP_CHECK_CACHE, OP_CHECK_REFS, OP_TRIGGER,
	OP_PASID_ATTACH, OP_PASID_REPLACE, OP_PASID_DETACH, OP_PASID_CHECK,
	OP_TESTOP_MISSING, OP_TESTOP_RUST, OP_IOCTL_MISSING, OP_RAW,
	OP_READ, OP_WRITE, OP_POLL, OP_NTYPES
};
static const char *const op_name[OP_NTYPES] = {
	"open", "dup", "close", "IOMMU_DESTROY", "IOMMU_IOAS_ALLOC",
	"IOMMU_HWPT_ALLOC", "IOMMU_GET_HW_INFO", "IOMMU_HWPT_INVALIDATE",
	"IOMMU_FAULT_QUEUE_ALLOC", "IOMMU_VIOMMU_ALLOC",
	"IOMMU_VDEVICE_ALLOC", "TEST_OP_MOCK_DOMAIN",
	"TEST_OP_MOCK_DOMAIN_REPLACE", "TEST_OP_SET_TEMP_MEMORY_LIMIT",
	"TEST_OP_MD_CHECK_IOTLB", "TEST_OP_DEV_CHECK_CACHE",
	"TEST_OP_MD_CHECK_REFS", "TEST_OP_TRIGGER_IOPF",
	"TEST_OP_PASID_ATTACH", "TEST_OP_PASID_REPLACE",
	"TEST_OP_PASID_DETACH", "TEST_OP_PASID_CHECK_HWPT",
	"TEST_OP (not in rust_iommufd)", "TEST_OP_RUST_*",
	"ioctl (not in rust_iommufd)", "raw ioctl", "read", "write", "poll",
};

/* Literal references (struct op's r[] below 0). */
#define R_ZERO (-1)
#define R_BOGUS (-2)
#define R_MAX (-3)
#define R_SMALL(n) (-16 - (n))	/* the literal id n, 1..63 */

#define MAXRESP 4

struct op {
	uint8_t type, pl, pld, tail;
	uint16_t cut, cutd;
	int fd;
	int r[MAXRESP];
	uint32_t size;		/* the structure's size field; 0: natural */
	uint32_t v[8];
	uint32_t e[16];		/* invalidation entries */
	uint64_t q;
	int out[4];
	bool helper;		/* inserted by the executor, not generated */
};

static int new_handle(struct op *o, int slot, int kind, int ctx)
{
	int h;

	if (recording) {
		h = nh++;
		if (o && !o->helper)
			o->out[slot] = h;
	} else if (o && !o->helper && o->out[slot] > 0 &&
		   o->out[slot] < FRESH_BASE && !hs[o->out[slot]].ever) {
		h = o->out[slot];
	} else {
		h = fresh++;
	}
	if (h >= MAXH) {
		fprintf(stderr, "out of handles\n");
		exit(2);
	}
	memset(&hs[h], 0, sizeof(hs[h]));
	hs[h].kind = kind;
	hs[h].ctx = ctx;
	hs[h].ever = hs[h].live = true;
	hs[h].fault = hs[h].idev = hs[h].stdev = hs[h].vdev = -1;
	hs[h].hwpt = hs[h].parent = -1;
	if (h >= nh && recording)
		nh = h + 1;
	return h;
}

/* ------------------------------------------------------------------ */
/* Statistics. */

static struct {
	unsigned long ops, calls, same, allowed, seqs, avoided;
	unsigned long ok[OP_NTYPES], tried[OP_NTYPES];
	unsigned long groups_read, responses_taken, replace_with_groups,
		close_with_groups, destroy_with_groups, max_depth;
	unsigned long allow_hits[8];
} st;

/* ------------------------------------------------------------------ */
/* Kernel reports in /dev/kmsg. */

static int kmsg_fd = -1;
static const char *const splat_pat[] = {
	"BUG:", "WARNING:", "KASAN", "UBSAN", "lockdep", "possible circular",
	"possible recursive", "inconsistent lock", "sleeping function called",
	"unreferenced object", "suspected memory leak", "general protection", "Oops", "Call Trace",
	"refcount_t:", "Kernel panic", "INFO: task", NULL
};
static char splat_text[16384];
static size_t splat_len;

static void kmsg_open(void)
{
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
}

/* Returns true (and keeps the text) if a report came since the last look. */
static bool kmsg_splat(void)
{
	char rec[2048];
	bool found = false;
	ssize_t n;
	int i;

	if (kmsg_fd < 0)
		return false;
	for (;;) {
		n = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records */
		if (n <= 0)
			break;
		rec[n] = 0;
		for (i = 0; splat_pat[i]; i++)
			if (strstr(rec, splat_pat[i]))
				found = true;
		if ((found || splat_len) && splat_len + n < sizeof(splat_text)) {
			memcpy(splat_text + splat_len, rec, n);
			splat_len += n;
		}
	}
	return found || splat_len;
}

static const char *splat_side(void)
{
	bool r = strstr(splat_text, "rust_iommufd") != NULL;
	bool c = strstr(splat_text, "[iommufd]") != NULL ||
		 strstr(splat_text, "iommufd_") != NULL;

	return r ? (c ? "both or unknown" : "rust_iommufd") :
		   c ? "C iommufd" : "unknown";
}

/* ------------------------------------------------------------------ */
/* Executing one op on both sides. */

/* Normalized output tokens for ids. */
#define T_SAME 0x10000000u
#define T_NEW 0x20000000u
#define T_H 0x40000000u
#define T_FD 0x30000000u

#define ARGMAX 256
#define DATAMAX 512
#define NORMMAX 160

struct res {
	long ret;
	int err;
	int nn;
	uint32_t norm[NORMMAX];
	uint8_t out[ARGMAX];		/* the structure as read back */
	uint8_t outd[DATAMAX];		/* the data buffer as read back */
	uint32_t raw[8];		/* raw values of id fields */
	int nraw;
};

struct call;
static FILE *snip;
static void snip_ioctl(struct op *o, struct call *c, struct res r[NS]);

struct call {
	unsigned long cmd;
	int ctx;			/* whose ids */
	size_t len;			/* bytes placed, tail included */
	uint8_t a[NS][ARGMAX];
	int uptr_off;			/* data pointer field, or -1 */
	size_t dlen;
	uint8_t d[NS][DATAMAX];
	bool cmp_data;			/* compare the data buffer */
	int idoff[8], nid;		/* u32 id fields */
	int fdoff;			/* u32 fd field, or -1 */
	int mean[4];			/* what each r[] named */
};

static void push(struct res *r, uint32_t w)
{
	if (r->nn < NORMMAX)
		r->norm[r->nn++] = w;
}

/* Translate reference @ref into the id each side is to receive. */
static void xlate(int ref, int ctx, uint32_t v[NS], int *mean)
{
	int s, m[NS];

	switch (ref) {
	case R_ZERO:
		v[SC] = v[SR] = 0;
		*mean = -1;
		return;
	case R_BOGUS:
		v[SC] = v[SR] = BOGUS;
		*mean = -1;
		return;
	case R_MAX:
		v[SC] = v[SR] = 0xffffffffu;
		*mean = -1;
		return;
	}
	if (ref <= R_SMALL(0)) {
		v[SC] = v[SR] = R_SMALL(0) - ref;
	} else if (ref >= 0 && ref < MAXH && hs[ref].ever) {
		for (s = 0; s < NS; s++)
			v[s] = hs[ref].id[s];
	} else {
		v[SC] = v[SR] = BOGUS + 1;
		*mean = -1;
		return;
	}
	/* Sent values must name the same thing on both sides. */
	for (s = 0; s < NS; s++)
		m[s] = owner(s, ctx, v[s]);
	if (m[SC] != m[SR]) {
		v[SC] = v[SR] = BOGUS + 2;
		*mean = -1;
		return;
	}
	*mean = m[SC];
}

static int cookie_owner(int s, int fault, uint32_t v)
{
	int h;

	for (h = 0; h < MAXH; h++)
		if (hs[h].ever && hs[h].kind == K_GROUP &&
		    hs[h].fault == fault && hs[h].holder[s] &&
		    hs[h].cookie[s] == v)
			return h;
	return -1;
}

static void xlate_cookie(int ref, int fault, uint32_t v[NS], int *mean)
{
	int s, m[NS];

	*mean = -1;
	if (ref == R_ZERO) {	/* literally 0: see the cookie-0 allowlist */
		v[SC] = v[SR] = 0;
		*mean = cookie_owner(SC, fault, 0);
		return;
	}
	if (ref <= R_SMALL(0)) {
		v[SC] = v[SR] = R_SMALL(0) - ref;
	} else if (ref >= 0 && ref < MAXH && hs[ref].ever &&
		   hs[ref].kind == K_GROUP) {
		for (s = 0; s < NS; s++)
			v[s] = hs[ref].cookie[s];
	} else {
		v[SC] = v[SR] = BOGUS;
		return;
	}
	for (s = 0; s < NS; s++)
		m[s] = cookie_owner(s, fault, v[s]);
	if (m[SC] != m[SR]) {
		v[SC] = v[SR] = BOGUS + 3;
		return;
	}
	*mean = m[SC];
}

static bool fd_open(int fh)
{
	return fh >= 0 && fh < MAXH && hs[fh].ever && hs[fh].live &&
	       hs[fh].kind == K_FD;
}

/* The lowest free descriptor, to see that a failed call installed none. */
static int lowest_fd(void)
{
	int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);

	if (fd >= 0)
		close(fd);
	return fd;
}

static bool all_in(int region, int pl, unsigned int cut, size_t len,
		   bool write)
{
	char *p = fz_addr(region, pl, cut);
	size_t i;

	for (i = 0; i < len; i++) {
		if (!fz_readable(region, p + i))
			return false;
		if (write && p + i >= fz_arena[region] + fz_page &&
		    p + i < fz_arena[region] + 2 * fz_page)
			return false;
	}
	return true;
}

/* Place the structure and data of @c for each side, make the call. */
static void run_ioctl(struct op *o, struct call *c, struct res r[NS])
{
	int s, i;

	for (s = 0; s < NS; s++) {
		int fd = hs[o->fd].fd[s], low = 0;
		char *arg;

		if (c->uptr_off >= 0) {
			uint64_t p = (uintptr_t)fz_put(1, o->pld, o->cutd,
						       c->d[s], c->dlen);

			memcpy(c->a[s] + c->uptr_off, &p, sizeof(p));
		}
		arg = fz_put(0, o->pl, o->cut, c->a[s], c->len);
		if (c->fdoff >= 0)
			low = lowest_fd();
		errno = 0;
		r[s].ret = ioctl(fd, c->cmd, arg);
		r[s].err = r[s].ret < 0 ? errno : 0;
		st.calls++;
		fz_get(0, o->pl, o->cut, r[s].out, c->len);
		if (c->uptr_off >= 0)
			fz_get(1, o->pld, o->cutd, r[s].outd, c->dlen);
		push(&r[s], r[s].ret);
		push(&r[s], r[s].err);
		/* The structure, word by word, ids by what they name. */
		for (i = 0; i + 4 <= (int)c->len; i += 4) {
			uint32_t got, sent;
			int k, tok = -1;

			memcpy(&got, r[s].out + i, 4);
			memcpy(&sent, c->a[s] + i, 4);
			if (i == c->uptr_off || i == c->uptr_off + 4) {
				push(&r[s], got == sent ? T_SAME : got);
				continue;
			}
			for (k = 0; k < c->nid; k++)
				if (c->idoff[k] == i)
					tok = k;
			if (tok >= 0) {
				int m = owner(s, c->ctx, got);

				if (r[s].nraw < 8)
					r[s].raw[r[s].nraw++] = got;
				push(&r[s], got == sent ? T_SAME :
					    m >= 0 ? T_H | m : T_NEW);
			} else if (i == c->fdoff) {
				push(&r[s], got == sent ? T_SAME :
					    (int)got >= 0 ? T_FD : got);
			} else {
				push(&r[s], got);
			}
		}
		if (c->cmp_data)
			for (i = 0; i + 4 <= (int)c->dlen; i += 4) {
				uint32_t w;

				memcpy(&w, r[s].outd + i, 4);
				push(&r[s], w);
			}
		if (c->fdoff >= 0 && r[s].ret < 0)
			push(&r[s], lowest_fd() == low ? 0 : 0xfd1eaced);
	}
	if (snip)
		snip_ioctl(o, c, r);
}

/* ------------------------------------------------------------------ */
/* The C snippet of a shrunk sequence: every call as rust_iommufd got it,
 * checked against what C iommufd.ko returned. */

static void snip_expect(struct res r[NS])
{
	fprintf(snip, "\tFZ_EXPECT(r, %ld, %d);", r[SC].ret, r[SC].err);
	if (r[SC].ret != r[SR].ret || r[SC].err != r[SR].err)
		fprintf(snip, "\t/* rust_iommufd: %ld %s */", r[SR].ret,
			r[SR].ret < 0 ? strerror(r[SR].err) : "");
	fprintf(snip, "\n");
}

static void snip_words(const char *name, const uint8_t *b, size_t len)
{
	size_t i;

	fprintf(snip, "\t{ static const __u32 %s[] = {", name);
	for (i = 0; i + 4 <= len; i += 4) {
		uint32_t w;

		memcpy(&w, b + i, 4);
		fprintf(snip, "%s0x%x", i ? ", " : " ", w);
	}
	fprintf(snip, " };\n");
}

static void snip_ioctl(struct op *o, struct call *c, struct res r[NS])
{
	fprintf(snip, "\t/* %s */\n", op_name[o->type]);
	snip_words("a", c->a[SR], c->len);
	if (c->uptr_off >= 0 && c->dlen >= 4)
		snip_words("d", c->d[SR], c->dlen);
	fprintf(snip, "\tr = fz_ioctl(fd[%d], 0x%lx, a, sizeof(a), %s, %u, %s, %zu, %s, %u, %d);",
		o->fd, c->cmd, fz_place_name[o->pl], o->cut,
		c->uptr_off >= 0 && c->dlen >= 4 ? "d" : "NULL",
		c->uptr_off >= 0 && c->dlen >= 4 ? c->dlen : 0,
		fz_place_name[o->pld], o->cutd, c->dlen >= 4 ? c->uptr_off : -1);
	snip_expect(r);
	if (o->type == OP_FAULT_ALLOC && r[SC].ret == 0 && o->out[1] > 0)
		fprintf(snip, "\tfd[%d] = ((__u32 *)fz_addr(0, %s, %u))[3];\n",
			o->out[1], fz_place_name[o->pl], o->cut);
	fprintf(snip, "\t}\n");
}

static void call_init(struct call *c, struct op *o, unsigned long cmd,
		      size_t natural)
{
	memset(c, 0, sizeof(*c));
	c->cmd = cmd;
	c->ctx = fd_open(o->fd) ? hs[o->fd].ctx : -1;
	c->uptr_off = c->fdoff = -1;
	c->len = natural;
	if (o->size && o->size > natural)
		c->len = o->size > ARGMAX ? ARGMAX : o->size;
}

/* The size field and the tail of every ioctl structure. */
static void call_size(struct call *c, struct op *o, size_t natural)
{
	uint32_t size = o->size ? o->size : natural;
	int s;

	for (s = 0; s < NS; s++) {
		memcpy(c->a[s], &size, 4);
		if (o->tail && c->len > natural)
			c->a[s][natural + (o->tail % (c->len - natural))] =
				o->tail;
	}
}

static void set32(struct call *c, int off, const uint32_t v[NS])
{
	int s;

	for (s = 0; s < NS; s++)
		memcpy(c->a[s] + off, &v[s], 4);
}

static void set32c(struct call *c, int off, uint32_t v)
{
	uint32_t vv[NS] = { v, v };

	set32(c, off, vv);
}

static void set64c(struct call *c, int off, uint64_t v)
{
	int s;

	for (s = 0; s < NS; s++)
		memcpy(c->a[s] + off, &v, 8);
}

/* Set id field at @off from reference @ref; it is compared by meaning. */
static void set_ref(struct call *c, int off, int ref, int k)
{
	uint32_t v[NS];

	xlate(ref, c->ctx, v, &c->mean[k]);
	set32(c, off, v);
	c->idoff[c->nid++] = off;
}

static void out_id(struct call *c, int off)
{
	c->idoff[c->nid++] = off;
}

/* ------------------------------------------------------------------ */
/* Divergences. */

static char div_text[4096];

static bool same(struct res r[NS])
{
	return r[SC].nn == r[SR].nn &&
	       !memcmp(r[SC].norm, r[SR].norm, r[SC].nn * 4);
}

static void describe_res(char *buf, size_t len, struct res r[NS])
{
	size_t n = 0;
	int s, i;

	for (s = 0; s < NS; s++) {
		n += snprintf(buf + n, len - n, "  %-4s ret %ld%s%s:", side_name[s],
			      r[s].ret, r[s].ret < 0 ? " " : "",
			      r[s].ret < 0 ? strerror(r[s].err) : "");
		for (i = 2; i < r[s].nn && n < len - 16; i++)
			n += snprintf(buf + n, len - n, "%s%x",
				      i < r[!s].nn && r[s].norm[i] != r[!s].norm[i] ? " *" : " ",
				      r[s].norm[i]);
		n += snprintf(buf + n, len - n, "\n");
	}
}

/*
 * The allowlist: differences Documentation/userspace-api.rst lists as
 * intentional ("Differences from upstream"). Each entry names its entry
 * there; match() says whether a divergence is that one, and may bring the
 * two sides back in step.
 */
struct allow {
	const char *doc;
	bool (*match)(struct op *o, struct call *c, struct res r[NS]);
};

static bool errno_is(struct res *r, int e)
{
	return r->ret < 0 && r->err == e;
}

/* userspace-api.rst, Differences: "Cookies start from 1" */
static bool allow_cookie0(struct op *o, struct call *c, struct res r[NS])
{
	struct hwpt_resp { uint32_t cookie, code; } resp;
	int fault = hs[o->fd].fault, g;
	long n;

	(void)c;
	if (o->type != OP_WRITE || o->v[5] != 1 || o->r[0] != R_ZERO ||
	    r[SC].ret != 8 || !errno_is(&r[SR], EINVAL) || fault < 0)
		return false;
	/* C gave cookie 0 to group g and took a response for it. */
	g = cookie_owner(SC, fault, 0);
	if (g < 0 || !hs[g].holder[SR])
		return false;
	/* Answer g on our side with the same code, by its own cookie. */
	resp.cookie = hs[g].cookie[SR];
	resp.code = o->v[0];
	n = write(hs[o->fd].fd[SR], &resp, sizeof(resp));
	st.calls++;
	if (n != sizeof(resp))
		return false;
	hs[g].answered = true;
	return true;
}

/* userspace-api.rst, Differences: "The vIOMMU has no MMIO page" */
static bool allow_viommu_mmap(struct op *o, struct call *c, struct res r[NS])
{
	const int off = offsetof(struct iommu_viommu_selftest, out_mmap_offset);
	const int end = off + 16;	/* out_mmap_offset, out_mmap_length */
	int nstruct = 2 + c->len / 4, i;

	/*
	 * Same result and structure; in the driver data, which each side
	 * writes back also when the call then fails, only the MMIO fields
	 * may differ, and ours must have left 0 there.
	 */
	if (o->type != OP_VIOMMU_ALLOC || c->dlen < (size_t)end ||
	    r[SC].nn != r[SR].nn ||
	    memcmp(r[SC].norm, r[SR].norm, nstruct * 4))
		return false;
	for (i = 0; i < (int)c->dlen; i++) {
		bool mmap_field = i >= off && i < end;

		if (r[SC].outd[i] != r[SR].outd[i] &&
		    (!mmap_field || r[SR].outd[i] != 0))
			return false;
	}
	return true;
}

/* userspace-api.rst, Differences: "Missing ioctls" */
static bool allow_missing_ioctl(struct op *o, struct call *c, struct res r[NS])
{
	(void)c;
	return o->type == OP_IOCTL_MISSING && errno_is(&r[SR], ENOTTY) &&
	       r[SC].ret < 0;
}

/* userspace-api.rst, Differences: "Missing test ops" */
static bool allow_missing_testop(struct op *o, struct call *c, struct res r[NS])
{
	(void)c;
	return o->type == OP_TESTOP_MISSING && errno_is(&r[SR], EOPNOTSUPP) &&
	       r[SC].ret < 0;
}

/* userspace-api.rst, Differences: "Own test ops" */
static bool allow_own_testop(struct op *o, struct call *c, struct res r[NS])
{
	(void)c;
	return o->type == OP_TESTOP_RUST && errno_is(&r[SC], EOPNOTSUPP);
}

static const struct allow allowlist[] = {
	{ "Cookies start from 1", allow_cookie0 },
	{ "The vIOMMU has no MMIO page", allow_viommu_mmap },
	{ "Missing ioctls", allow_missing_ioctl },
	{ "Missing test ops", allow_missing_testop },
	{ "Own test ops", allow_own_testop },
};
#define NALLOW (sizeof(allowlist) / sizeof(allowlist[0]))

/* ------------------------------------------------------------------ */
/* Building each op's call, and what a success does to the model. */

static int exec_op(struct op *o, int idx);

static void pasid_cleanup(int sd, int fdh);

/* Returns 0 if both sides agreed (or differed as allowed), 1 if not. */
static int diverged(struct op *o, struct call *c, struct res r[NS], int idx)
{
	size_t i;
	char tmp[3072];

	if (same(r)) {
		st.same++;
		return 0;
	}
	for (i = 0; i < NALLOW; i++)
		if (allowlist[i].match(o, c, r)) {
			st.allowed++;
			st.allow_hits[i]++;
			return 0;
		}
	describe_res(tmp, sizeof(tmp), r);
	snprintf(div_text, sizeof(div_text), "op %d: %s\n%s", idx,
		 op_name[o->type], tmp);
	return 1;
}

static int ctx_fd_count(int ctx)
{
	int h, n = 0;

	for (h = 0; h < MAXH; h++)
		if (fd_open(h) && hs[h].ctx == ctx && hs[h].fault < 0)
			n++;
	return n;
}

static int any_ctx_fd(int ctx)
{
	int h;

	for (h = 0; h < MAXH; h++)
		if (fd_open(h) && hs[h].ctx == ctx && hs[h].fault < 0)
			return h;
	return -1;
}

/* Groups read and not answered on fault queue @f, as far as we know. */
static int pending_groups(int f)
{
	int h, n = 0;

	for (h = 0; h < MAXH; h++)
		if (hs[h].ever && hs[h].kind == K_GROUP && hs[h].fault == f &&
		    !hs[h].answered && hs[h].holder[SC])
			n++;
	return n;
}

static int pending_groups_of(int sd)
{
	int h, n = 0;

	for (h = 0; h < MAXH; h++)
		if (hs[h].ever && hs[h].kind == K_GROUP && !hs[h].answered &&
		    hs[h].holder[SC] && hs[h].stdev == hs[sd].idev)
			n++;
	return n;
}

/* Groups of device object @idev (K_GROUP's stdev holds the idev). */
static void groups_of_dev_answered(int idev)
{
	int h;

	for (h = 0; h < MAXH; h++)
		if (hs[h].ever && hs[h].kind == K_GROUP && !hs[h].answered &&
		    hs[h].stdev == idev)
			hs[h].answered = true;
}

static int exec_fd_op(struct op *o, int idx)
{
	struct res r[NS];
	int s, h, f;

	memset(r, 0, sizeof(r));
	switch (o->type) {
	case OP_OPEN: {
		int c, slot;

		for (s = 0; s < NS; s++) {
			r[s].ret = open(dev_path[s], O_RDWR | O_CLOEXEC);
			r[s].err = r[s].ret < 0 ? errno : 0;
			push(&r[s], r[s].ret >= 0);
			push(&r[s], r[s].err);
		}
		st.calls += 2;
		if (r[SC].ret < 0 || r[SR].ret < 0) {
			snprintf(div_text, sizeof(div_text),
				 "open: C %ld, rust %ld (%s)\n", r[SC].ret,
				 r[SR].ret, strerror(r[SC].ret < 0 ? r[SC].err : r[SR].err));
			for (s = 0; s < NS; s++)
				if (r[s].ret >= 0)
					close(r[s].ret);
			return 1;
		}
		for (slot = 0; slot < MAXSLOT && slot_used[slot]; slot++)
			;
		if (slot == MAXSLOT) {
			close(r[SC].ret);
			close(r[SR].ret);
			return 0;
		}
		slot_used[slot] = true;
		c = new_handle(o, 0, K_CTX, 0);
		hs[c].ctx = c;
		hs[c].slot = slot;
		memset(own[SC][slot], 0, sizeof(own[SC][slot]));
		memset(own[SR][slot], 0, sizeof(own[SR][slot]));
		h = new_handle(o, 1, K_FD, c);
		for (s = 0; s < NS; s++)
			hs[h].fd[s] = r[s].ret;
		hs[c].refs = 1;
		if (snip)
			fprintf(snip, "\tfd[%d] = open(\"/dev/iommu\", O_RDWR | O_CLOEXEC);\n", h);
		st.same++;
		st.ok[o->type]++;
		return 0;
	}
	case OP_DUP:
		if (!fd_open(o->fd))
			return 0;
		for (s = 0; s < NS; s++) {
			r[s].ret = fcntl(hs[o->fd].fd[s], F_DUPFD_CLOEXEC, 3);
			r[s].err = r[s].ret < 0 ? errno : 0;
			push(&r[s], r[s].ret >= 0);
		}
		st.calls += 2;
		if (r[SC].ret >= 0 && r[SR].ret >= 0) {
			h = new_handle(o, 0, K_FD, hs[o->fd].ctx);
			hs[h].fault = hs[o->fd].fault;
			for (s = 0; s < NS; s++)
				hs[h].fd[s] = r[s].ret;
			hs[hs[h].ctx].refs++;
			if (hs[h].fault >= 0)
				hs[hs[h].fault].refs++;
			if (snip)
				fprintf(snip, "\tfd[%d] = fcntl(fd[%d], F_DUPFD_CLOEXEC, 3);\n",
					h, o->fd);
			st.ok[o->type]++;
		}
		break;
	case OP_CLOSE: {
		int ctx;

		if (!fd_open(o->fd))
			return 0;
		ctx = hs[o->fd].ctx;
		f = hs[o->fd].fault;
		/* Upstream WARNs when a file goes with PASIDs attached. */
		if (f < 0 && ctx_fd_count(ctx) == 1)
			for (h = 0; h < MAXH; h++)
				if (hs[h].live && hs[h].kind == K_STDEV &&
				    hs[h].ctx == ctx && hs[h].np)
					pasid_cleanup(h, o->fd);
		if (f >= 0 && hs[f].refs == 1 &&
		    (pending_groups(f) ||
		     (poll(&(struct pollfd){ .fd = hs[o->fd].fd[SC],
					      .events = POLLIN }, 1, 0) == 1)))
			st.close_with_groups++;
		for (s = 0; s < NS; s++) {
			r[s].ret = close(hs[o->fd].fd[s]);
			r[s].err = r[s].ret < 0 ? errno : 0;
			push(&r[s], r[s].ret);
			push(&r[s], r[s].err);
		}
		st.calls += 2;
		if (snip)
			fprintf(snip, "\tclose(fd[%d]);\n", o->fd);
		hs[o->fd].live = false;
		if (f >= 0) {
			hs[f].refs--;
			for (h = 0; h < MAXH; h++)
				if (hs[h].ever && hs[h].kind == K_GROUP &&
				    hs[h].fault == f && !hs[f].refs)
					hs[h].answered = true;
		}
		if (--hs[ctx].refs == 0)
			kill_ctx(ctx);
		st.ok[o->type]++;
		break;
	}
	case OP_POLL:
		if (!fd_open(o->fd))
			return 0;
		for (s = 0; s < NS; s++) {
			struct pollfd p = { .fd = hs[o->fd].fd[s],
					    .events = POLLIN | POLLOUT |
						      POLLRDNORM | POLLPRI };

			r[s].ret = poll(&p, 1, 0);
			r[s].err = r[s].ret < 0 ? errno : 0;
			push(&r[s], r[s].ret);
			push(&r[s], p.revents);
		}
		st.calls += 2;
		if (snip)
			fprintf(snip, "\t{ struct pollfd p = { fd[%d], POLLIN | POLLOUT | POLLRDNORM | POLLPRI };\n"
				"\tr = poll(&p, 1, 0);\t/* revents: C 0x%x, rust_iommufd 0x%x */ }\n",
				o->fd, r[SC].norm[1], r[SR].norm[1]);
		st.ok[o->type]++;
		break;
	case OP_READ: {
		size_t count = o->v[0];
		int rec;

		if (!fd_open(o->fd))
			return 0;
		f = hs[o->fd].fault;
		for (s = 0; s < NS; s++) {
			char *buf = fz_addr(1, o->pld, o->cutd);

			/* Mark the buffer, so that untouched bytes compare. */
			static uint8_t fill[DATAMAX];

			memset(fill, 0x5a, sizeof(fill));
			fz_put(1, o->pld, o->cutd, fill,
			       count < DATAMAX ? count : DATAMAX);
			r[s].ret = o->q ? pread(hs[o->fd].fd[s], buf, count, o->q) :
					  read(hs[o->fd].fd[s], buf, count);
			r[s].err = r[s].ret < 0 ? errno : 0;
			push(&r[s], r[s].ret);
			push(&r[s], r[s].err);
			fz_get(1, o->pld, o->cutd, r[s].outd,
			       count < DATAMAX ? count : DATAMAX);
		}
		st.calls += 2;
		if (snip) {
			fprintf(snip, "\tr = fz_read(fd[%d], %zu, %s, %u, %llu);",
				o->fd, count, fz_place_name[o->pld], o->cutd,
				(unsigned long long)o->q);
			snip_expect(r);
		}
		/* Records: dev_id by what it names, cookies by partition. */
		for (s = 0; s < NS; s++) {
			uint32_t seen[DATAMAX / 40];
			int nseen = 0, k;

			for (rec = 0; r[s].ret > 0 && (rec + 1) * 40 <= r[s].ret &&
			     (rec + 1) * 40 <= DATAMAX; rec++) {
				struct iommu_hwpt_pgfault p;
				int m = -1;

				memcpy(&p, r[s].outd + rec * 40, 40);
				push(&r[s], p.flags);
				m = owner(s, hs[o->fd].ctx, p.dev_id);
				push(&r[s], m >= 0 ? T_H | m : T_NEW | p.dev_id);
				push(&r[s], p.pasid);
				push(&r[s], p.grpid);
				push(&r[s], p.perm);
				push(&r[s], p.__reserved);
				push(&r[s], p.addr);
				push(&r[s], p.addr >> 32);
				push(&r[s], p.length);
				for (k = 0; k < nseen && seen[k] != p.cookie; k++)
					;
				if (k == nseen)
					seen[nseen++] = p.cookie;
				push(&r[s], k);
			}
		}
		if (diverged(o, NULL, r, idx))
			return 1;
		if (r[SC].ret > 0 && f >= 0) {
			/* Each distinct cookie is a new group. */
			uint32_t last[NS] = { 0, 0 };
			int g = -1, dev = -1;

			for (rec = 0; (rec + 1) * 40 <= r[SC].ret &&
			     (rec + 1) * 40 <= DATAMAX; rec++) {
				uint32_t ck[NS];
				struct iommu_hwpt_pgfault p;

				for (s = 0; s < NS; s++) {
					memcpy(&p, r[s].outd + rec * 40, 40);
					ck[s] = p.cookie;
					if (!s)
						dev = owner(s, hs[o->fd].ctx, p.dev_id);
				}
				if (g >= 0 && ck[SC] == last[SC] && ck[SR] == last[SR])
					continue;
				for (s = 0; s < NS; s++) {
					int old = cookie_owner(s, f, ck[s]);

					if (old >= 0)
						hs[old].holder[s] = false;
				}
				g = new_handle(o, rec < 4 ? rec : 3, K_GROUP,
					       hs[o->fd].ctx);
				hs[g].fault = f;
				hs[g].stdev = dev;
				for (s = 0; s < NS; s++) {
					hs[g].cookie[s] = last[s] = ck[s];
					hs[g].holder[s] = true;
				}
				st.groups_read++;
			}
		}
		if (r[SC].ret > 0)
			st.ok[o->type]++;
		return 0;
	}
	case OP_WRITE: {
		struct iommu_hwpt_page_response resp[NS][MAXRESP + 1];
		int n = o->v[5], mean[MAXRESP], i;
		size_t count = o->v[4];

		if (!fd_open(o->fd))
			return 0;
		f = hs[o->fd].fault;
		memset(resp, 0, sizeof(resp));
		for (i = n; i <= MAXRESP; i++)
			resp[SC][i].cookie = resp[SR][i].cookie = BOGUS + 4;
		for (i = 0; i < n; i++) {
			uint32_t v[NS];

			xlate_cookie(o->r[i], f, v, &mean[i]);
			for (s = 0; s < NS; s++) {
				resp[s][i].cookie = v[s];
				resp[s][i].code = o->v[i];
			}
		}
		for (s = 0; s < NS; s++) {
			char *buf = fz_put(1, o->pld, o->cutd, resp[s],
					   sizeof(resp[s]));

			r[s].ret = o->q ? pwrite(hs[o->fd].fd[s], buf, count, o->q) :
					  write(hs[o->fd].fd[s], buf, count);
			r[s].err = r[s].ret < 0 ? errno : 0;
			push(&r[s], r[s].ret);
			push(&r[s], r[s].err);
		}
		st.calls += 2;
		if (snip) {
			fprintf(snip, "\t{ static const __u32 w[] = {");
			for (i = 0; i <= MAXRESP; i++)
				fprintf(snip, "%s%u, %u", i ? ", " : " ",
					resp[SR][i].cookie, resp[SR][i].code);
			fprintf(snip, " };\n\tr = fz_write(fd[%d], w, sizeof(w), %zu, %s, %u, %llu);",
				o->fd, count, fz_place_name[o->pld], o->cutd,
				(unsigned long long)o->q);
			snip_expect(r);
			fprintf(snip, "\t}\n");
		}
		if (diverged(o, NULL, r, idx))
			return 1;
		for (i = 0; r[SC].ret > 0 && i < r[SC].ret / 8 && i < n; i++) {
			if (mean[i] >= 0)
				hs[mean[i]].answered = true;
			st.responses_taken++;
		}
		if (r[SC].ret > 0)
			st.ok[o->type]++;
		return 0;
	}
	}
	return diverged(o, NULL, r, idx);
}

static void test_cmd_init(struct call *c, struct op *o, uint32_t op)
{
	call_init(c, o, IOMMU_TEST_CMD, sizeof(struct iommu_test_cmd));
	call_size(c, o, sizeof(struct iommu_test_cmd));
	set32c(c, offsetof(struct iommu_test_cmd, op), op);
}

#define TOFF(field) (offsetof(struct iommu_test_cmd, field))

static int exec_op(struct op *o, int idx)
{
	struct call c;
	struct res r[NS];
	int s, h, m;
	bool copied_back;

	st.tried[o->type]++;
	if (o->type == OP_OPEN || o->type == OP_DUP || o->type == OP_CLOSE ||
	    o->type == OP_POLL || o->type == OP_READ || o->type == OP_WRITE)
		return exec_fd_op(o, idx);
	if (!fd_open(o->fd))
		return 0;
	memset(r, 0, sizeof(r));

	switch (o->type) {
	case OP_DESTROY:
		call_init(&c, o, IOMMU_DESTROY, sizeof(struct iommu_destroy));
		call_size(&c, o, sizeof(struct iommu_destroy));
		set_ref(&c, 4, o->r[0], 0);
		m = c.mean[0];
		/* Upstream WARNs when a device goes with PASIDs attached. */
		if (m >= 0 && hs[m].kind == K_STDEV && hs[m].np) {
			pasid_cleanup(m, o->fd);
			set_ref(&c, 4, o->r[0], 0);
			c.nid = 1;
		}
		break;
	case OP_IOAS_ALLOC:
		call_init(&c, o, IOMMU_IOAS_ALLOC, sizeof(struct iommu_ioas_alloc));
		call_size(&c, o, sizeof(struct iommu_ioas_alloc));
		set32c(&c, 4, o->v[0]);
		out_id(&c, 8);
		break;
	case OP_HWPT_ALLOC: {
		struct iommu_hwpt_selftest d = { .iotlb = o->v[4],
						 .pagetable_type = o->v[5] };

		call_init(&c, o, IOMMU_HWPT_ALLOC, sizeof(struct iommu_hwpt_alloc));
		call_size(&c, o, sizeof(struct iommu_hwpt_alloc));
		set32c(&c, 4, o->v[0]);
		set_ref(&c, 8, o->r[0], 0);
		set_ref(&c, 12, o->r[1], 1);
		out_id(&c, 16);
		set32c(&c, 20, o->v[1]);
		set32c(&c, 24, o->v[2]);
		set32c(&c, 28, o->v[3]);
		c.uptr_off = 32;
		c.dlen = 16;
		for (s = 0; s < NS; s++)
			memcpy(c.d[s], &d, sizeof(d));
		set_ref(&c, 40, o->r[2], 2);
		set32c(&c, 44, o->v[6]);
		break;
	}
	case OP_HW_INFO:
		call_init(&c, o, IOMMU_GET_HW_INFO, sizeof(struct iommu_hw_info));
		call_size(&c, o, sizeof(struct iommu_hw_info));
		set32c(&c, 4, o->v[0]);
		set_ref(&c, 8, o->r[0], 0);
		set32c(&c, 12, o->v[1]);
		c.uptr_off = 16;
		c.dlen = o->v[1] < 64 ? o->v[1] : 64;
		for (s = 0; s < NS; s++)
			memset(c.d[s], 0x77, c.dlen);
		c.cmp_data = true;
		set32c(&c, 24, o->v[2]);
		set32c(&c, 28, o->v[3] << 8);
		break;
	case OP_INVALIDATE:
		call_init(&c, o, IOMMU_HWPT_INVALIDATE,
			  sizeof(struct iommu_hwpt_invalidate));
		call_size(&c, o, sizeof(struct iommu_hwpt_invalidate));
		set_ref(&c, 4, o->r[0], 0);
		c.uptr_off = 8;
		c.dlen = sizeof(o->e);
		for (s = 0; s < NS; s++)
			memcpy(c.d[s], o->e, sizeof(o->e));
		set32c(&c, 16, o->v[0]);
		set32c(&c, 20, o->v[1]);
		set32c(&c, 24, o->v[2]);
		set32c(&c, 28, o->v[3]);
		/*
		 * Upstream's mock vIOMMU allocates entry_num * 12 bytes at
		 * once: above 4 MiB, the page allocator WARNs (and fails the
		 * call with ENOMEM; userspace-api.rst, Differences, "vIOMMU
		 * invalidation arrays above 4 MiB"). Not a call to make.
		 */
		if (c.mean[0] >= 0 && hs[c.mean[0]].kind == K_VIOMMU &&
		    (uint64_t)o->v[2] * 12 > (4u << 20) && o->v[2] <= 1u << 19) {
			st.avoided++;
			return 0;
		}
		break;
	case OP_FAULT_ALLOC:
		call_init(&c, o, IOMMU_FAULT_QUEUE_ALLOC,
			  sizeof(struct iommu_fault_alloc));
		call_size(&c, o, sizeof(struct iommu_fault_alloc));
		set32c(&c, 4, o->v[0]);
		out_id(&c, 8);
		c.fdoff = 12;
		break;
	case OP_VIOMMU_ALLOC: {
		struct iommu_viommu_selftest d = { .in_data = o->v[3] };

		call_init(&c, o, IOMMU_VIOMMU_ALLOC,
			  sizeof(struct iommu_viommu_alloc));
		call_size(&c, o, sizeof(struct iommu_viommu_alloc));
		set32c(&c, 4, o->v[0]);
		set32c(&c, 8, o->v[1]);
		set_ref(&c, 12, o->r[0], 0);
		set_ref(&c, 16, o->r[1], 1);
		out_id(&c, 20);
		set32c(&c, 24, o->v[2]);
		set32c(&c, 28, o->v[4]);
		c.uptr_off = 32;
		c.dlen = 24;
		for (s = 0; s < NS; s++)
			memcpy(c.d[s], &d, sizeof(d));
		c.cmp_data = true;
		break;
	}
	case OP_VDEV_ALLOC:
		call_init(&c, o, IOMMU_VDEVICE_ALLOC,
			  sizeof(struct iommu_vdevice_alloc));
		call_size(&c, o, sizeof(struct iommu_vdevice_alloc));
		set_ref(&c, 4, o->r[0], 0);
		set_ref(&c, 8, o->r[1], 1);
		out_id(&c, 12);
		set64c(&c, 16, o->q);
		break;
	case OP_MOCK_DOMAIN:
		test_cmd_init(&c, o, o->v[0] ? IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS :
					       IOMMU_TEST_OP_MOCK_DOMAIN);
		set_ref(&c, TOFF(id), o->r[0], 0);
		out_id(&c, TOFF(mock_domain_flags.out_stdev_id));
		out_id(&c, TOFF(mock_domain_flags.out_hwpt_id));
		out_id(&c, TOFF(mock_domain_flags.out_idev_id));
		set32c(&c, TOFF(mock_domain_flags.dev_flags), o->v[1]);
		break;
	case OP_REPLACE:
		test_cmd_init(&c, o, IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE);
		set_ref(&c, TOFF(id), o->r[0], 0);
		set_ref(&c, TOFF(mock_domain_replace.pt_id), o->r[1], 1);
		break;
	case OP_MEMLIMIT:
		test_cmd_init(&c, o, IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT);
		set32c(&c, TOFF(memory_limit.limit), o->v[0]);
		break;
	case OP_CHECK_IOTLB:
		test_cmd_init(&c, o, IOMMU_TEST_OP_MD_CHECK_IOTLB);
		set_ref(&c, TOFF(id), o->r[0], 0);
		set32c(&c, TOFF(check_iotlb.id), o->v[0]);
		set32c(&c, TOFF(check_iotlb.iotlb), o->v[1]);
		break;
	case OP_CHECK_CACHE:
		test_cmd_init(&c, o, IOMMU_TEST_OP_DEV_CHECK_CACHE);
		set_ref(&c, TOFF(id), o->r[0], 0);
		set32c(&c, TOFF(check_dev_cache.id), o->v[0]);
		set32c(&c, TOFF(check_dev_cache.cache), o->v[1]);
		break;
	case OP_CHECK_REFS:
		test_cmd_init(&c, o, IOMMU_TEST_OP_MD_CHECK_REFS);
		set64c(&c, TOFF(check_refs.uptr),
		       (uintptr_t)fz_addr(1, o->pld, o->cutd) + o->v[3]);
		set64c(&c, TOFF(check_refs.length), o->v[1]);
		set32c(&c, TOFF(check_refs.refs), o->v[2]);
		break;
	case OP_TRIGGER:
		test_cmd_init(&c, o, IOMMU_TEST_OP_TRIGGER_IOPF);
		set_ref(&c, TOFF(trigger_iopf.dev_id), o->r[0], 0);
		set32c(&c, TOFF(trigger_iopf.pasid), o->v[0]);
		set32c(&c, TOFF(trigger_iopf.grpid), o->v[1]);
		set32c(&c, TOFF(trigger_iopf.perm), o->v[2]);
		set64c(&c, TOFF(trigger_iopf.addr), o->q);
		break;
	case OP_PASID_ATTACH:
	case OP_PASID_REPLACE:
		test_cmd_init(&c, o, o->type == OP_PASID_ATTACH ?
				     IOMMU_TEST_OP_PASID_ATTACH :
				     IOMMU_TEST_OP_PASID_REPLACE);
		set_ref(&c, TOFF(id), o->r[0], 0);
		set32c(&c, TOFF(pasid_attach.pasid), o->v[0]);
		set_ref(&c, TOFF(pasid_attach.pt_id), o->r[1], 1);
		break;
	case OP_PASID_DETACH:
		test_cmd_init(&c, o, IOMMU_TEST_OP_PASID_DETACH);
		set_ref(&c, TOFF(id), o->r[0], 0);
		set32c(&c, TOFF(pasid_detach.pasid), o->v[0]);
		break;
	case OP_PASID_CHECK:
		test_cmd_init(&c, o, IOMMU_TEST_OP_PASID_CHECK_HWPT);
		set_ref(&c, TOFF(id), o->r[0], 0);
		set32c(&c, TOFF(pasid_check.pasid), o->v[0]);
		set_ref(&c, TOFF(pasid_check.hwpt_id), o->r[1], 1);
		break;
	case OP_TESTOP_MISSING:
		test_cmd_init(&c, o, o->v[0]);
		set_ref(&c, TOFF(id), o->r[0], 0);
		break;
	case OP_TESTOP_RUST:
		test_cmd_init(&c, o, IOMMU_TEST_OP_RUST_IOPF_RESPONSE);
		set_ref(&c, TOFF(iopf_response.dev_id), o->r[0], 0);
		set32c(&c, TOFF(iopf_response.grpid), o->v[1]);
		break;
	case OP_IOCTL_MISSING:
	case OP_RAW:
		call_init(&c, o, o->v[0], 8);
		c.len = 16;
		set32c(&c, 0, o->v[2]);
		set32c(&c, 4, o->v[3]);
		break;
	default:
		return 0;
	}

	run_ioctl(o, &c, r);
	if (diverged(o, &c, r, idx))
		return 1;
	if (r[SC].ret < 0 && r[SC].err != EFAULT)
		return 0;

	/* The call succeeded on both sides (or failed copying back). */
	copied_back = r[SC].ret == 0;
	if (!copied_back && !all_in(0, o->pl, o->cut, c.len, false))
		return 0;	/* the structure was never read */
	if (copied_back)
		st.ok[o->type]++;
	h = -1;
	switch (o->type) {
	case OP_DESTROY:
		if (!copied_back || (m = c.mean[0]) < 0)
			break;
		if (hs[m].kind == K_STDEV) {
			if (pending_groups_of(m))
				st.destroy_with_groups++;
			groups_of_dev_answered(hs[m].idev);
			stdev_die(m);
		} else if (hs[m].kind == K_VDEV) {
			if (hs[m].stdev >= 0)
				hs[hs[m].stdev].vdev = -1;
			kill(m);
		} else {
			kill(m);
		}
		break;
	case OP_IOAS_ALLOC:
		if (!copied_back)
			break;
		h = new_handle(o, 0, K_IOAS, c.ctx);
		break;
	case OP_HWPT_ALLOC:
		if (!copied_back || (m = c.mean[1]) < 0)
			break;
		h = new_handle(o, 0, K_HWPT, c.ctx);
		hs[h].hk = hs[m].kind == K_IOAS ? HW_PAGING :
			   hs[m].kind == K_VIOMMU ? HW_VNESTED : HW_NESTED;
		hs[h].parent = m;
		hs[h].flags = o->v[0];
		if (o->v[0] & IOMMU_HWPT_FAULT_ID_VALID)
			hs[h].fault = c.mean[2];
		break;
	case OP_FAULT_ALLOC: {
		int fh;

		if (!copied_back)
			break;
		h = new_handle(o, 0, K_FAULT, c.ctx);
		hs[h].refs = 1;
		fh = new_handle(o, 1, K_FD, c.ctx);
		hs[fh].fault = h;
		for (s = 0; s < NS; s++) {
			struct iommu_fault_alloc a;

			memcpy(&a, r[s].out, sizeof(a));
			hs[fh].fd[s] = a.out_fault_fd;
		}
		hs[c.ctx].refs++;
		break;
	}
	case OP_VIOMMU_ALLOC:
		if (!copied_back)
			break;
		h = new_handle(o, 0, K_VIOMMU, c.ctx);
		hs[h].parent = c.mean[1];
		break;
	case OP_VDEV_ALLOC:
		if (!copied_back || (m = c.mean[1]) < 0)
			break;
		h = new_handle(o, 0, K_VDEV, c.ctx);
		hs[h].parent = c.mean[0];
		hs[h].stdev = hs[m].stdev;
		if (hs[m].stdev >= 0)
			hs[hs[m].stdev].vdev = h;
		break;
	case OP_MOCK_DOMAIN: {
		struct iommu_test_cmd tc[NS];
		int sd, id, hw;

		if (!copied_back)
			break;
		for (s = 0; s < NS; s++)
			memcpy(&tc[s], r[s].out, sizeof(tc[s]));
		sd = new_handle(o, 0, K_STDEV, c.ctx);
		id = new_handle(o, 1, K_IDEV, c.ctx);
		for (s = 0; s < NS; s++) {
			hs[sd].id[s] = tc[s].mock_domain_flags.out_stdev_id;
			hs[id].id[s] = tc[s].mock_domain_flags.out_idev_id;
		}
		set_owner(sd);
		set_owner(id);
		hs[sd].idev = id;
		hs[id].stdev = sd;
		hs[sd].flags = o->v[0] ? o->v[1] : 0;
		hw = owner(SC, c.ctx, tc[SC].mock_domain_flags.out_hwpt_id);
		if (hw < 0) {
			hw = new_handle(o, 2, K_HWPT, c.ctx);
			hs[hw].hk = HW_AUTO;
			hs[hw].parent = c.mean[0];
			for (s = 0; s < NS; s++)
				hs[hw].id[s] = tc[s].mock_domain_flags.out_hwpt_id;
			set_owner(hw);
		}
		hs[sd].hwpt = hw;
		hwpt_join(hw);
		return 0;
	}
	case OP_REPLACE:
	case OP_PASID_ATTACH:
	case OP_PASID_REPLACE: {
		struct iommu_test_cmd tc[NS];
		int sd = c.mean[0], hw, old, i;

		if (sd < 0 || hs[sd].kind != K_STDEV)
			break;
		for (s = 0; s < NS; s++)
			memcpy(&tc[s], r[s].out, sizeof(tc[s]));
		if (o->type == OP_PASID_ATTACH && !copied_back)
			break;	/* detached again */
		if (copied_back) {
			uint32_t out = o->type == OP_REPLACE ?
					       tc[SC].mock_domain_replace.pt_id :
					       tc[SC].pasid_attach.pt_id;

			hw = owner(SC, c.ctx, out);
			if (hw < 0 && o->type == OP_REPLACE) {
				hw = new_handle(o, 0, K_HWPT, c.ctx);
				hs[hw].hk = HW_AUTO;
				hs[hw].parent = c.mean[1];
				for (s = 0; s < NS; s++)
					hs[hw].id[s] = tc[s].mock_domain_replace.pt_id;
				set_owner(hw);
			}
		} else {
			hw = c.mean[1] >= 0 && hs[c.mean[1]].kind == K_HWPT ?
				     c.mean[1] : -1;
		}
		if (o->type == OP_REPLACE) {
			old = hs[sd].hwpt;
			if (old != hw || hw < 0) {
				if (pending_groups_of(sd))
					st.replace_with_groups++;
				groups_of_dev_answered(hs[sd].idev);
				hwpt_leave(old);
				hwpt_join(hw);
				hs[sd].hwpt = hw;
			}
			break;
		}
		for (i = 0; i < hs[sd].np && hs[sd].pasid[i] != o->v[0]; i++)
			;
		if (i == hs[sd].np && i < MAXPASID)
			hs[sd].np++;
		if (i < MAXPASID) {
			hs[sd].pasid[i] = o->v[0];
			hs[sd].phwpt[i] = hw;
		}
		break;
	}
	case OP_PASID_DETACH: {
		int sd = c.mean[0], i;

		if (!copied_back || sd < 0 || hs[sd].kind != K_STDEV)
			break;
		for (i = 0; i < hs[sd].np; i++)
			if (hs[sd].pasid[i] == o->v[0]) {
				hs[sd].pasid[i] = hs[sd].pasid[hs[sd].np - 1];
				hs[sd].phwpt[i] = hs[sd].phwpt[hs[sd].np - 1];
				hs[sd].np--;
				break;
			}
		break;
	}
	}
	if (h >= 0) {
		/* The new object's id, as each side returned it. */
		for (s = 0; s < NS; s++)
			hs[h].id[s] = r[s].raw[r[s].nraw - 1];
		switch (o->type) {
		case OP_HWPT_ALLOC:
			for (s = 0; s < NS; s++)
				hs[h].id[s] = r[s].raw[2];
			break;
		case OP_VIOMMU_ALLOC:
		case OP_VDEV_ALLOC:
			for (s = 0; s < NS; s++)
				hs[h].id[s] = r[s].raw[2];
			break;
		case OP_FAULT_ALLOC:
		case OP_IOAS_ALLOC:
			for (s = 0; s < NS; s++)
				hs[h].id[s] = r[s].raw[0];
			break;
		}
		set_owner(h);
	}
	return 0;
}

/* Detach every PASID of selftest object @sd, as calls compared like any. */
static bool helper_diverged;

static void pasid_cleanup(int sd, int fdh)
{
	struct op o;

	while (hs[sd].np) {
		int n = hs[sd].np;

		memset(&o, 0, sizeof(o));
		o.type = OP_PASID_DETACH;
		o.helper = true;
		o.fd = fd_open(fdh) && hs[fdh].fault < 0 ? fdh :
							     any_ctx_fd(hs[sd].ctx);
		o.r[0] = sd;
		o.v[0] = hs[sd].pasid[0];
		if (o.fd < 0 || exec_op(&o, -1)) {
			helper_diverged = true;
			return;
		}
		if (hs[sd].np == n)	/* the detach did not take */
			hs[sd].np--;
	}
}

/* ------------------------------------------------------------------ */
/* Generating calls from the model. */

typedef bool (*pred_t)(int h);

static int pick(int ctx, int kind, pred_t ok)
{
	int h, n = 0, got = -1;

	for (h = 0; h < nh; h++) {
		if (!hs[h].live || hs[h].kind != kind ||
		    (ctx >= 0 && hs[h].ctx != ctx) || (ok && !ok(h)))
			continue;
		if (rnd(++n) == 0)
			got = h;
	}
	return got;
}

static int hostile_ref(void)
{
	switch (rnd(6)) {
	case 0:
		return R_ZERO;
	case 1:
		return R_BOGUS;
	case 2:
		return R_MAX;
	case 3:
		return R_SMALL(1 + (int)rnd(24));
	default:	/* anything, dead or of another kind */
		return nh ? (int)rnd(nh) : R_BOGUS;
	}
}

static int ref(int h)
{
	return h < 0 || chance(6) ? hostile_ref() : h;
}

static bool p_nest_parent(int h)
{
	return hs[h].hk != HW_AUTO && hs[h].hk != HW_NESTED &&
	       hs[h].hk != HW_VNESTED && (hs[h].flags & IOMMU_HWPT_ALLOC_NEST_PARENT);
}

static bool p_nested(int h)
{
	return hs[h].hk == HW_NESTED || hs[h].hk == HW_VNESTED;
}

static bool p_fault_hwpt(int h)
{
	return hs[h].flags & IOMMU_HWPT_FAULT_ID_VALID;
}

static bool p_on_fault_hwpt(int h)
{
	return hs[h].hwpt >= 0 && (hs[hs[h].hwpt].flags & IOMMU_HWPT_FAULT_ID_VALID);
}

static bool p_not_on_fault_hwpt(int h)
{
	return !p_on_fault_hwpt(h);
}

static bool p_pasid_hwpt(int h)
{
	return hs[h].flags & IOMMU_HWPT_ALLOC_PASID;
}

static bool p_has_pasids(int h)
{
	return hs[h].np > 0;
}

static bool p_pasid_dev(int h)
{
	return hs[h].flags & MOCK_FLAGS_DEVICE_PASID;
}

static bool p_ctx_fd(int h)
{
	return hs[h].fault < 0;
}

static bool p_fault_fd(int h)
{
	return hs[h].fault >= 0;
}

static bool p_unanswered;
static int p_queue;

static bool p_group(int h)
{
	return hs[h].fault == p_queue && hs[h].answered != p_unanswered;
}

/* An idev, preferring one attached to a fault-capable HWPT. */
static int pick_idev(int ctx)
{
	int sd;

	if (chance(70)) {
		int h, n = 0, got = -1;

		for (h = 0; h < nh; h++)
			if (hs[h].live && hs[h].kind == K_STDEV &&
			    hs[h].ctx == ctx && hs[h].hwpt >= 0 &&
			    (hs[hs[h].hwpt].flags & IOMMU_HWPT_FAULT_ID_VALID ||
			     hs[h].np) && rnd(++n) == 0)
				got = h;
		if (got >= 0)
			return hs[got].idev;
	}
	sd = pick(ctx, K_STDEV, NULL);
	return sd >= 0 ? hs[sd].idev : pick(ctx, K_IDEV, NULL);
}

static int pick_pt(int ctx)
{
	int h = -1;

	switch (rnd(10)) {
	case 0: case 1: case 2:
		h = pick(ctx, K_IOAS, NULL);
		break;
	case 3: case 4: case 5: case 6:
		h = pick(ctx, K_HWPT, p_fault_hwpt);
		break;
	}
	return h >= 0 ? h : pick(ctx, K_HWPT, NULL) >= 0 && chance(60) ?
				    pick(ctx, K_HWPT, NULL) : pick(ctx, K_IOAS, NULL);
}

static void gen_mem(struct op *o, size_t natural)
{
	if (chance(8)) {
		o->pl = 1 + rnd(FZ_NPLACE - 1);
		o->cut = rnd(natural + 1);
	}
	if (chance(6)) {
		switch (rnd(3)) {
		case 0:
			o->size = rnd(natural);
			break;
		case 1:
			o->size = natural + 4 * (1 + rnd(8));
			break;
		default:
			o->size = natural + 4 * (1 + rnd(8));
			o->tail = 1 + rnd(255);
		}
	}
}

static void gen_dmem(struct op *o, size_t len)
{
	if (chance(8)) {
		o->pld = 1 + rnd(FZ_NPLACE - 1);
		o->cutd = rnd(len + 1);
	}
}

static uint32_t bits(uint32_t valid)
{
	return chance(4) ? 1u << rnd(32) : valid;
}

static int live_count(int kind, int ctx)
{
	int h, n = 0;

	for (h = 0; h < nh; h++)
		if (hs[h].live && hs[h].kind == kind &&
		    (ctx < 0 || hs[h].ctx == ctx))
			n++;
	return n;
}

static const uint8_t weight[OP_NTYPES] = {
	[OP_OPEN] = 1, [OP_DUP] = 2, [OP_CLOSE] = 2, [OP_DESTROY] = 6,
	[OP_IOAS_ALLOC] = 3, [OP_HWPT_ALLOC] = 12, [OP_HW_INFO] = 2,
	[OP_INVALIDATE] = 4, [OP_FAULT_ALLOC] = 3, [OP_VIOMMU_ALLOC] = 3,
	[OP_VDEV_ALLOC] = 3, [OP_MOCK_DOMAIN] = 4, [OP_REPLACE] = 10,
	[OP_MEMLIMIT] = 1, [OP_CHECK_IOTLB] = 2, [OP_CHECK_CACHE] = 2,
	[OP_CHECK_REFS] = 1, [OP_TRIGGER] = 16, [OP_PASID_ATTACH] = 5,
	[OP_PASID_REPLACE] = 3, [OP_PASID_DETACH] = 3, [OP_PASID_CHECK] = 2,
	[OP_TESTOP_MISSING] = 1, [OP_TESTOP_RUST] = 1, [OP_IOCTL_MISSING] = 1,
	[OP_RAW] = 2, [OP_READ] = 14, [OP_WRITE] = 12, [OP_POLL] = 3,
};

static const uint8_t missing_ioctl[] = {
	IOMMUFD_CMD_IOAS_NOIOMMU_GET_PA,
};

static bool is_missing(uint32_t nr)
{
	size_t i;

	for (i = 0; i < sizeof(missing_ioctl); i++)
		if (missing_ioctl[i] == nr)
			return true;
	return false;
}

static void gen(struct op *o)
{
	int total = 0, t, ctx, fdh, i;
	uint32_t w;

	memset(o, 0, sizeof(*o));
	o->r[0] = o->r[1] = o->r[2] = o->r[3] = R_BOGUS;
	fdh = pick(-1, K_FD, p_ctx_fd);
	if (fdh < 0 && !chance(50))
		fdh = pick(-1, K_FD, NULL);
	if (fdh < 0) {
		o->type = OP_OPEN;
		return;
	}
	for (t = 0; t < OP_NTYPES; t++)
		total += weight[t];
	w = rnd(total);
	for (t = 0; w >= weight[t]; t++)
		w -= weight[t];
	ctx = hs[fdh].ctx;
	/* Build up what deep sequences need before anything else. */
	if (!live_count(K_IOAS, ctx) && chance(50))
		t = OP_IOAS_ALLOC;
	else if (live_count(K_STDEV, ctx) < 2 && chance(30))
		t = OP_MOCK_DOMAIN;
	else if (!live_count(K_FAULT, ctx) && chance(30))
		t = OP_FAULT_ALLOC;
	else if (pick(ctx, K_HWPT, p_fault_hwpt) < 0 && chance(30))
		t = OP_HWPT_ALLOC;
	else if (pick(ctx, K_STDEV, p_on_fault_hwpt) < 0 &&
		 pick(ctx, K_HWPT, p_fault_hwpt) >= 0 && chance(40))
		t = OP_REPLACE;
	o->type = t;
	o->fd = fdh;
	/* A call with a live fault queue goes to its descriptor mostly. */
	if (t == OP_READ || t == OP_WRITE || t == OP_POLL) {
		int f = pick(-1, K_FD, p_fault_fd);

		if (f >= 0 && !chance(4))
			o->fd = fdh = f;
	} else if (chance(2)) {
		o->fd = pick(-1, K_FD, NULL);
	}

	switch (t) {
	case OP_OPEN:
		if (live_count(K_CTX, -1) >= 3)
			o->type = OP_POLL;
		break;
	case OP_DUP:
		o->fd = pick(-1, K_FD, NULL);
		break;
	case OP_CLOSE:
		o->fd = pick(-1, K_FD, chance(70) ? p_fault_fd : NULL);
		if (o->fd < 0)
			o->fd = fdh;
		break;
	case OP_DESTROY: {
		static const int kinds[] = { K_VDEV, K_HWPT, K_HWPT, K_STDEV,
					     K_FAULT, K_VIOMMU, K_IOAS, K_IDEV };

		o->r[0] = ref(pick(ctx, kinds[rnd(8)], NULL));
		gen_mem(o, sizeof(struct iommu_destroy));
		break;
	}
	case OP_IOAS_ALLOC:
		o->v[0] = bits(0);
		gen_mem(o, sizeof(struct iommu_ioas_alloc));
		break;
	case OP_HWPT_ALLOC: {
		int pt = -1, kind = rnd(10);

		o->r[0] = ref(pick_idev(ctx));
		if (kind < 3)
			pt = pick(ctx, K_HWPT, p_nest_parent);
		else if (kind < 5)
			pt = pick(ctx, K_VIOMMU, NULL);
		if (pt < 0)
			pt = pick(ctx, K_IOAS, NULL);
		o->r[1] = ref(pt);
		o->r[2] = ref(pick(ctx, K_FAULT, NULL));
		if (pt >= 0 && hs[pt].kind == K_IOAS) {
			o->v[0] = (chance(25) ? IOMMU_HWPT_ALLOC_NEST_PARENT : 0) |
				  (chance(10) ? IOMMU_HWPT_ALLOC_DIRTY_TRACKING : 0) |
				  (chance(40) ? IOMMU_HWPT_ALLOC_PASID : 0) |
				  (chance(45) ? IOMMU_HWPT_FAULT_ID_VALID : 0);
			if (o->v[0] & IOMMU_HWPT_ALLOC_NEST_PARENT && chance(80))
				o->v[0] &= ~IOMMU_HWPT_FAULT_ID_VALID;
			if (chance(30)) {
				o->v[2] = IOMMU_HWPT_DATA_SELFTEST;
				o->v[3] = 8;
				o->v[5] = chance(90) ? rnd(2) : rnd(5);
			}
		} else {
			o->v[0] = (chance(30) ? IOMMU_HWPT_ALLOC_PASID : 0) |
				  (chance(50) ? IOMMU_HWPT_FAULT_ID_VALID : 0);
			o->v[2] = chance(92) ? IOMMU_HWPT_DATA_SELFTEST : rnd(4);
			o->v[3] = 8;
			o->v[4] = chance(50) ? IOMMU_TEST_IOTLB_DEFAULT : rnd(4);
		}
		o->v[0] = bits(o->v[0]);
		if (chance(5))
			o->v[3] = rnd(17);
		o->v[1] = chance(3) ? 1 + rnd(9) : 0;
		o->v[6] = chance(10) ? (uint32_t)rnd64() : 0;
		gen_mem(o, sizeof(struct iommu_hwpt_alloc));
		gen_dmem(o, 16);
		break;
	}
	case OP_HW_INFO: {
		static const uint32_t lens[] = { 0, 4, 8, 12, 64 };

		o->r[0] = ref(pick_idev(ctx));
		o->v[0] = chance(80) ? 0 : chance(80) ? IOMMU_HW_INFO_FLAG_INPUT_TYPE :
							 bits(0);
		o->v[1] = lens[rnd(5)];
		o->v[2] = chance(50) ? 0 : chance(70) ? IOMMU_HW_INFO_TYPE_SELFTEST :
							  rnd(5);
		o->v[3] = chance(4) ? 1 + rnd(255) : 0;
		gen_mem(o, sizeof(struct iommu_hw_info));
		gen_dmem(o, o->v[1]);
		break;
	}
	case OP_INVALIDATE: {
		int target = rnd(10) < 5 ? pick(ctx, K_HWPT, p_nested) :
					   pick(ctx, K_VIOMMU, NULL);
		bool viommu = target >= 0 && hs[target].kind == K_VIOMMU;

		o->r[0] = ref(target);
		o->v[0] = chance(90) ? (viommu ? IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST :
						 IOMMU_HWPT_INVALIDATE_DATA_SELFTEST) :
				       chance(50) ? IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID :
						    rnd(3);
		o->v[1] = viommu ? 12 : 8;
		if (chance(8))
			o->v[1] = 4 * rnd(6);
		o->v[2] = chance(3) ? 1u << (19 + rnd(2)) : rnd(4);
		o->v[3] = chance(3) ? 1 : 0;
		for (i = 0; i < 16; i++) {
			int field = i % (o->v[1] == 12 ? 3 : 2);

			o->e[i] = field == 0 ? (chance(30) ? IOMMU_TEST_INVALIDATE_FLAG_ALL :
							      chance(95) ? 0 : bits(0)) :
					       field == 1 && o->v[1] == 12 ? rnd(6) : rnd(5);
		}
		gen_mem(o, sizeof(struct iommu_hwpt_invalidate));
		gen_dmem(o, 64);
		break;
	}
	case OP_FAULT_ALLOC:
		if (live_count(K_FAULT, ctx) >= 3 && chance(80)) {
			o->type = OP_TRIGGER;
			gen(o);
			return;
		}
		o->v[0] = bits(0);
		gen_mem(o, sizeof(struct iommu_fault_alloc));
		break;
	case OP_VIOMMU_ALLOC: {
		static const uint32_t lens[] = { 0, 0, 24, 24, 8, 16, 4, 32 };

		o->r[0] = ref(pick_idev(ctx));
		o->r[1] = ref(pick(ctx, K_HWPT, chance(85) ? p_nest_parent : NULL));
		o->v[0] = bits(0);
		o->v[1] = chance(90) ? IOMMU_VIOMMU_TYPE_SELFTEST : rnd(3);
		o->v[2] = lens[rnd(8)];
		o->v[3] = rnd64();
		o->v[4] = chance(10) ? rnd64() : 0;
		gen_mem(o, sizeof(struct iommu_viommu_alloc));
		gen_dmem(o, 24);
		break;
	}
	case OP_VDEV_ALLOC:
		o->r[0] = ref(pick(ctx, K_VIOMMU, NULL));
		o->r[1] = ref(pick_idev(ctx));
		o->q = chance(3) ? rnd64() : rnd(6);
		gen_mem(o, sizeof(struct iommu_vdevice_alloc));
		break;
	case OP_MOCK_DOMAIN:
		if (live_count(K_STDEV, ctx) >= 4 && chance(85)) {
			o->type = OP_REPLACE;
			gen(o);
			return;
		}
		o->r[0] = ref(chance(75) ? pick(ctx, K_IOAS, NULL) :
					   pick(ctx, K_HWPT, NULL));
		o->v[0] = chance(60);
		o->v[1] = (chance(60) ? MOCK_FLAGS_DEVICE_PASID : 0) |
			  (chance(10) ? MOCK_FLAGS_DEVICE_NO_DIRTY : 0);
		o->v[1] = bits(o->v[1]);
		gen_mem(o, sizeof(struct iommu_test_cmd));
		break;
	case OP_REPLACE: {
		int sd = chance(50) ? pick(ctx, K_STDEV, p_not_on_fault_hwpt) : -1;
		int pt = sd >= 0 && chance(70) ? pick(ctx, K_HWPT, p_fault_hwpt) : -1;

		o->r[0] = ref(sd >= 0 ? sd : pick(ctx, K_STDEV, NULL));
		o->r[1] = ref(pt >= 0 ? pt : pick_pt(ctx));
		gen_mem(o, sizeof(struct iommu_test_cmd));
		break;
	}
	case OP_MEMLIMIT:
		o->v[0] = chance(70) ? 12 + rnd(1 << 20) : rnd(16);
		break;
	case OP_CHECK_IOTLB:
		o->r[0] = ref(pick(ctx, K_HWPT, p_nested));
		o->v[0] = rnd(5);
		o->v[1] = chance(50) ? IOMMU_TEST_IOTLB_DEFAULT : rnd(4);
		break;
	case OP_CHECK_CACHE:
		o->r[0] = ref(pick_idev(ctx));
		o->v[0] = rnd(5);
		o->v[1] = chance(50) ? IOMMU_TEST_DEV_CACHE_DEFAULT : rnd(2);
		break;
	case OP_CHECK_REFS:
		o->pld = rnd(FZ_NPLACE);
		o->v[1] = rnd(3) * fz_page;
		o->v[2] = chance(90) ? 0 : 1;
		o->v[3] = chance(90) ? 0 : 1 + rnd(4095);
		break;
	case OP_TRIGGER: {
		int id = pick_idev(ctx), sd = id >= 0 ? hs[id].stdev : -1;

		o->r[0] = ref(id);
		o->v[0] = 0;
		if (sd >= 0 && hs[sd].np && chance(40))
			o->v[0] = hs[sd].pasid[rnd(hs[sd].np)];
		else if (chance(10))
			o->v[0] = rnd(8);
		o->v[1] = chance(97) ? rnd(512) : rnd64();
		o->v[2] = rnd(16);
		o->q = chance(95) ? rnd64() & 0xfffff000u : rnd64();
		break;
	}
	case OP_PASID_ATTACH:
	case OP_PASID_REPLACE:
	case OP_PASID_DETACH:
	case OP_PASID_CHECK: {
		static const uint32_t pasids[] = { 1, 2, 3, 100, 200,
						   IOMMU_TEST_PASID_RESERVED };
		int sd = (t == OP_PASID_ATTACH) ?
				 pick(ctx, K_STDEV, chance(80) ? p_pasid_dev : NULL) :
				 pick(ctx, K_STDEV, chance(80) ? p_has_pasids : NULL);

		o->r[0] = ref(sd);
		o->v[0] = pasids[rnd(6)];
		if (t != OP_PASID_ATTACH && sd >= 0 && hs[sd].np && chance(80))
			o->v[0] = hs[sd].pasid[rnd(hs[sd].np)];
		if (chance(3))
			o->v[0] = chance(50) ? 1u << 20 : rnd64();
		if (t == OP_PASID_CHECK) {
			int i2 = -1;

			for (i = 0; sd >= 0 && i < hs[sd].np; i++)
				if (hs[sd].pasid[i] == o->v[0])
					i2 = i;
			o->r[1] = i2 >= 0 && chance(70) ? hs[sd].phwpt[i2] :
				  chance(50) ? R_ZERO : ref(pick(ctx, K_HWPT, NULL));
		} else if (t != OP_PASID_DETACH) {
			int hw = pick(ctx, K_HWPT, chance(80) ? p_pasid_hwpt : NULL);

			o->r[1] = ref(hw >= 0 || chance(50) ? hw : pick(ctx, K_IOAS, NULL));
		}
		gen_mem(o, sizeof(struct iommu_test_cmd));
		break;
	}
	case OP_TESTOP_MISSING: {
		static const uint32_t ops[] = {
			IOMMU_TEST_OP_DMABUF_REVOKE,
		};

		o->v[0] = ops[rnd(sizeof(ops) / sizeof(ops[0]))];
		o->r[0] = R_BOGUS;
		break;
	}
	case OP_TESTOP_RUST:
		o->r[0] = ref(pick_idev(ctx));
		o->v[1] = rnd(512);
		break;
	case OP_IOCTL_MISSING:
		o->v[0] = _IO(IOMMUFD_TYPE, missing_ioctl[rnd(sizeof(missing_ioctl))]);
		o->v[2] = rnd(4);
		break;
	case OP_RAW: {
		uint32_t nr = 0x70 + rnd(0x40);
		static const uint32_t sizes[] = { 0, 4, 7, 8, 12, 16, 64, 4096 };

		switch (rnd(5)) {
		case 0:
			o->v[0] = _IOWR(IOMMUFD_TYPE, nr, uint64_t);
			break;
		case 1:
			o->v[0] = _IO('x', nr);
			break;
		case 2:
			o->v[0] = _IOR(IOMMUFD_TYPE, nr, uint32_t);
			break;
		default:
			/* Plain numbers: only those both answer alike. */
			if (is_missing(nr) || (nr >= IOMMUFD_CMD_BASE &&
					       nr <= IOMMUFD_CMD_BASE + 32 &&
					       !(nr >= 0x96 && nr <= 0x9f)))
				nr = chance(50) ? 0x96 + rnd(10) : 0xa1 + rnd(8);
			o->v[0] = _IO(IOMMUFD_TYPE, nr);
		}
		o->v[2] = sizes[rnd(8)];
		o->pl = chance(80) ? FZ_RW : rnd(FZ_NPLACE);
		o->cut = rnd(8);
		break;
	}
	case OP_READ: {
		static const uint32_t k[] = { 0, 1, 1, 2, 3, 4, 8, 12 };

		o->v[0] = 40 * k[rnd(8)];
		if (chance(5))
			o->v[0] = rnd(400);
		o->q = chance(4) ? 1 + rnd(80) : 0;
		if (chance(10)) {
			o->pld = 1 + rnd(FZ_NPLACE - 1);
			o->cutd = chance(50) ? 40 * rnd(4) : rnd(200);
		}
		break;
	}
	case OP_WRITE: {
		int n = 1 + (chance(70) ? 0 : rnd(MAXRESP));

		o->v[5] = n;
		p_queue = hs[o->fd].fault;
		/*
		 * After a response for cookie 0, upstream hands out cookie 0:
		 * answer by the literal 0 then, now and again (the cookie-0
		 * allowlist entry).
		 */
		if (p_queue >= 0 && cookie_owner(SC, p_queue, 0) >= 0 &&
		    chance(30)) {
			o->v[5] = 1;
			o->r[0] = R_ZERO;
			o->v[0] = rnd(2);
			o->v[4] = 8;
			break;
		}
		for (i = 0; i < n; i++) {
			int g;

			p_unanswered = true;
			g = pick(-1, K_GROUP, p_group);
			if (g < 0 || chance(10)) {
				p_unanswered = false;
				g = pick(-1, K_GROUP, p_group);
			}
			o->r[i] = g >= 0 && !chance(10) ? g :
				  chance(40) && n == 1 ? R_ZERO :
				  chance(50) ? R_SMALL(1 + (int)rnd(6)) : R_BOGUS;
			o->v[i] = chance(95) ? rnd(2) : chance(50) ? 2 : rnd64();
		}
		o->v[4] = 8 * n;
		if (chance(6))
			o->v[4] = chance(50) ? rnd(8 * n + 1) : 8u * n + 8;
		o->q = chance(3) ? 8 : 0;
		if (chance(8)) {
			o->pld = 1 + rnd(FZ_NPLACE - 1);
			o->cutd = chance(50) ? 8 * rnd(4) : rnd(32);
		}
		break;
	}
	case OP_POLL:
		break;
	}
	if (o->type != OP_DUP && o->type != OP_CLOSE && !fd_open(o->fd))
		o->fd = fdh;
}

/* ------------------------------------------------------------------ */
/* Sequences, replays and shrinking. */

#define MAXOPS 4096

static struct op seq[MAXOPS];
static int nseq;
static bool keep[MAXOPS];
static bool splat_stop;

static void close_all(void)
{
	struct op o;
	int h;

	/* Fault descriptors last: the file's descriptors first, so that
	 * PASIDs are detached while a descriptor is left to do it. */
	for (int pass = 0; pass < 2; pass++)
		for (h = 0; h < MAXH; h++) {
			if (!fd_open(h) || (pass == 0) != (hs[h].fault < 0))
				continue;
			memset(&o, 0, sizeof(o));
			o.type = OP_CLOSE;
			o.fd = h;
			o.helper = true;
			exec_op(&o, -1);
		}
}

static bool check_splat(void)
{
	if (kmsg_splat()) {
		usleep(200000);		/* the rest of the report */
		kmsg_splat();
		splat_stop = true;
	}
	return splat_stop;
}

/*
 * Replay the kept ops up to @last, which must diverge again. Returns 1 if
 * it did, 0 if not.
 */
static int replay(int last)
{
	int i, rc = 0;

	model_reset();
	recording = false;
	helper_diverged = false;
	for (i = 0; i <= last; i++) {
		if (!keep[i])
			continue;
		if (exec_op(&seq[i], i)) {
			rc = i == last;
			break;
		}
		if (check_splat())
			break;
	}
	close_all();
	check_splat();
	return rc;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static double shrink_time = 300;

static void shrink(int last)
{
	double end = now() + shrink_time;
	int chunk, start, i, n;

	for (i = 0; i < MAXOPS; i++)
		keep[i] = i <= last;
	for (chunk = last / 2 > 0 ? last / 2 : 1; chunk >= 1 && !splat_stop;) {
		bool progress = false;

		for (start = 0; start < last && now() < end && !splat_stop;
		     start += chunk) {
			bool saved[MAXOPS];

			memcpy(saved, keep, sizeof(saved));
			for (i = start, n = 0; i < start + chunk && i < last; i++)
				if (keep[i]) {
					keep[i] = false;
					n++;
				}
			if (!n)
				continue;
			if (replay(last))
				progress = true;
			else
				memcpy(keep, saved, sizeof(saved));
		}
		if (now() >= end)
			break;
		if (!progress)
			chunk /= 2;
	}
}

static void print_snippet(int last, uint64_t seed, int seqno)
{
	int i, n = 0;

	for (i = 0; i <= last; i++)
		n += keep[i];
	printf("# --- shrunk to %d of %d ops; C snippet (with tools/fuzz/fuzz_mem.h):\n",
	       n, last + 1);
	printf("/* iommufd_fuzz -s %llu: sequence %d, %d calls. fd[] by handle. */\n",
	       (unsigned long long)seed, seqno, n);
	printf("static int fd[%d];\nstatic void fuzz_case(void)\n{\n\tlong r;\n\n"
	       "\tfz_mem_init();\n", MAXH);
	snip = stdout;
	replay(last);
	snip = NULL;
	printf("}\n");
}

static uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t save = rng, v;

	rng = a * 0x100000001b3ULL ^ b;
	v = rnd64();
	rng = save;
	return v;
}

/* Runs one generated sequence. Returns 0, or 1 on a divergence or splat. */
static int run_sequence(uint64_t seed, int seqno, int len)
{
	int i, depth = 0;

	rng = mix(seed, seqno);
	model_reset();
	recording = true;
	helper_diverged = false;
	nseq = 0;
	st.seqs++;
	for (i = 0; i < len && nseq < MAXOPS - 64; i++) {
		struct op *o = &seq[nseq];

		if (nseq == 0) {
			memset(o, 0, sizeof(*o));
			o->type = OP_OPEN;
		} else {
			gen(o);
		}
		st.ops++;
		nseq++;
		if (exec_op(o, nseq - 1) || helper_diverged) {
			printf("# DIVERGENCE: seed %llu sequence %d\n# %s",
			       (unsigned long long)seed, seqno, div_text);
			close_all();
			check_splat();
			if (splat_stop)
				break;
			shrink(nseq - 1);
			print_snippet(nseq - 1, seed, seqno);
			return 1;
		}
		if (o->type == OP_READ || o->type == OP_WRITE)
			depth = nseq;
		if (check_splat())
			break;
	}
	if (depth > (int)st.max_depth)
		st.max_depth = depth;
	if (!splat_stop) {
		close_all();
		check_splat();
	}
	if (splat_stop) {
		printf("# KERNEL REPORT (%s side, by the modules it names) during seed %llu sequence %d, after op %d:\n",
		       splat_side(), (unsigned long long)seed, seqno, nseq - 1);
		fwrite(splat_text, 1, splat_len, stdout);
		printf("# the sequence that led to it:\n");
		for (i = 0; i < nseq; i++)
			keep[i] = true;
		snip = stdout;
		/* Printing replays it: only the log of what ran, not rerun. */
		for (i = 0; i < nseq; i++)
			printf("#   %d: %s fd %d r %d %d %d v %x %x %x\n", i,
			       op_name[seq[i].type], seq[i].fd, seq[i].r[0],
			       seq[i].r[1], seq[i].r[2], seq[i].v[0], seq[i].v[1],
			       seq[i].v[2]);
		snip = NULL;
		return 1;
	}
	return 0;
}

static void print_stats(double secs, const char *pfx)
{
	size_t i;
	int t;

	printf("%s%lu ops (%lu calls, both sides) in %.1f s: %.1f ops/s, %.1f calls/s; %lu sequences\n",
	       pfx, st.ops, st.calls, secs, st.ops / secs, st.calls / secs, st.seqs);
	printf("%sresults identical: %lu, allowed differences: %lu, calls not made (upstream WARNs): %lu\n",
	       pfx, st.same, st.allowed, st.avoided);
	for (i = 0; i < NALLOW; i++)
		if (st.allow_hits[i])
			printf("%s  allowlisted \"%s\" (userspace-api.rst): %lu\n",
			       pfx, allowlist[i].doc, st.allow_hits[i]);
	printf("%sdepth: %lu groups read, %lu responses taken, %lu replaces with groups pending, "
	       "%lu destroys with groups pending, %lu last closes of a fault fd with groups pending\n",
	       pfx, st.groups_read, st.responses_taken, st.replace_with_groups,
	       st.destroy_with_groups, st.close_with_groups);
	printf("%ssucceeded/tried per op:", pfx);
	for (t = 0; t < OP_NTYPES; t++)
		printf("%s %s %lu/%lu", t % 4 ? "," : "\n#  ", op_name[t], st.ok[t],
		       st.tried[t]);
	printf("\n");
}

static void usage(void)
{
	fprintf(stderr,
		"usage: iommufd_fuzz [-s SEED[,SEED...]] [-n OPS] [-t SECONDS] [-l OPS_PER_SEQUENCE]\n"
		"                    [-S SHRINK_SECONDS] [--tap] [--c DEV] [--rust DEV]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "tap", no_argument, NULL, 'T' },
		{ "c", required_argument, NULL, 'C' },
		{ "rust", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t seeds[64] = { 1 };
	int nseeds = 1, len = 200, c, k, failed = 0;
	unsigned long max_ops = 20000;
	double max_secs = 0;
	bool tap = false;

	while ((c = getopt_long(argc, argv, "s:n:t:l:S:", lo, NULL)) != -1) {
		switch (c) {
		case 's': {
			char *p = optarg;

			for (nseeds = 0; *p && nseeds < 64; nseeds++) {
				seeds[nseeds] = strtoull(p, &p, 0);
				if (*p == ',')
					p++;
			}
			break;
		}
		case 'n':
			max_ops = strtoul(optarg, NULL, 0);
			break;
		case 't':
			max_secs = atof(optarg);
			break;
		case 'l':
			len = atoi(optarg);
			break;
		case 'S':
			shrink_time = atof(optarg);
			break;
		case 'T':
			tap = true;
			break;
		case 'C':
			dev_path[SC] = optarg;
			break;
		case 'R':
			dev_path[SR] = optarg;
			break;
		default:
			usage();
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (fz_mem_init())
		return 2;
	kmsg_open();
	if (tap)
		printf("TAP version 13\n1..%d\n", nseeds);
	for (k = 0; k < nseeds; k++) {
		double t0 = now(), secs;
		int seqno, bad = 0;

		memset(&st, 0, sizeof(st));
		for (seqno = 0; !bad && st.ops < max_ops &&
				(!max_secs || now() - t0 < max_secs); seqno++)
			bad = run_sequence(seeds[k], seqno, len);
		secs = now() - t0;
		print_stats(secs, "# ");
		if (tap)
			printf("%sok %d seed %llu: %lu ops, %s\n", bad ? "not " : "",
			       k + 1, (unsigned long long)seeds[k], st.ops,
			       bad ? (splat_stop ? "kernel report" : "divergence") :
				     "no divergence outside the allowlist");
		failed |= bad;
		if (splat_stop)
			break;
	}
	if (tap && splat_stop)
		for (k++; k < nseeds; k++)
			printf("not ok %d seed %llu: not run after a kernel report\n",
			       k + 1, (unsigned long long)seeds[k]);
	return failed;
}
