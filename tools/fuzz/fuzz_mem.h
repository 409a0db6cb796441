/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where iommufd_fuzz puts the arguments of a call, and the helpers the C
 * snippets it prints are written against (so that a snippet pasted into a
 * kselftest case, with this header included, repeats the calls exactly).
 *
 * An arena of five pages per region:
 *
 *   page 0  read-write
 *   page 1  read-only
 *   page 2  no access
 *   page 3  read-write
 *   page 4  no access
 *
 * A placement puts a buffer wholly in one kind of page, or across a page
 * boundary with its first @cut bytes on one side: so that the kernel's
 * copy from or to user space fails part way, at a byte the fuzzer chose.
 */
#ifndef __IOMMUFD_FUZZ_MEM_H
#define __IOMMUFD_FUZZ_MEM_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

enum fz_place {
	FZ_RW,		/* read-write memory */
	FZ_RO,		/* read-only: the kernel cannot write back */
	FZ_RW_RO,	/* @cut bytes read-write, the rest read-only */
	FZ_RO_NONE,	/* @cut bytes read-only, the rest unmapped */
	FZ_RW_NONE,	/* @cut bytes read-write, the rest unmapped */
	FZ_NONE,	/* no access at all */
	FZ_NULL,	/* a NULL pointer */
	FZ_KERNEL,	/* a kernel address */
	FZ_NPLACE
};

static const char *const fz_place_name[FZ_NPLACE] = {
	"FZ_RW", "FZ_RO", "FZ_RW_RO", "FZ_RO_NONE", "FZ_RW_NONE",
	"FZ_NONE", "FZ_NULL", "FZ_KERNEL",
};

#define FZ_PAGES 5
#define FZ_REGIONS 2

static char *fz_arena[FZ_REGIONS];
static long fz_page;

static inline int fz_mem_init(void)
{
	int r;

	fz_page = sysconf(_SC_PAGESIZE);
	for (r = 0; r < FZ_REGIONS; r++) {
		char *a = mmap(NULL, FZ_PAGES * fz_page, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (a == MAP_FAILED)
			return -1;
		if (mprotect(a + fz_page, fz_page, PROT_READ) ||
		    mprotect(a + 2 * fz_page, fz_page, PROT_NONE) ||
		    mprotect(a + 4 * fz_page, fz_page, PROT_NONE))
			return -1;
		fz_arena[r] = a;
	}
	return 0;
}

/* Where a buffer of @len bytes goes in @region for placement @pl. */
static inline char *fz_addr(int region, int pl, unsigned int cut)
{
	char *a = fz_arena[region];

	switch (pl) {
	case FZ_RW:
		return a + 3 * fz_page;
	case FZ_RO:
		return a + fz_page;
	case FZ_RW_RO:
		return a + fz_page - cut;
	case FZ_RO_NONE:
		return a + 2 * fz_page - cut;
	case FZ_RW_NONE:
		return a + 4 * fz_page - cut;
	case FZ_NONE:
		return a + 2 * fz_page;
	case FZ_NULL:
		return NULL;
	default:
		return (char *)0xffff888000001000UL;
	}
}

/* Which pages of the arena a byte may be read from / written to. */
static inline int fz_readable(int region, const char *p)
{
	const char *a = fz_arena[region];
	long page;

	if (p < a || p >= a + FZ_PAGES * fz_page)
		return 0;
	page = (p - a) / fz_page;
	return page == 0 || page == 1 || page == 3;
}

/*
 * Copy @len bytes of @src to the buffer placed by @pl, as far as memory
 * there exists (the read-only page is opened for the copy); returns its
 * address, for the call.
 */
static inline char *fz_put(int region, int pl, unsigned int cut, const void *src,
		    size_t len)
{
	char *dst = fz_addr(region, pl, cut), *ro = fz_arena[region] + fz_page;
	size_t i;

	if (mprotect(ro, fz_page, PROT_READ | PROT_WRITE))
		abort();
	for (i = 0; i < len; i++)
		if (fz_readable(region, dst + i))
			dst[i] = ((const char *)src)[i];
	if (mprotect(ro, fz_page, PROT_READ))
		abort();
	return dst;
}

/* Read back what the kernel left there; bytes with no memory read 0xee. */
static inline void fz_get(int region, int pl, unsigned int cut, void *out, size_t len)
{
	const char *src = fz_addr(region, pl, cut);
	size_t i;

	for (i = 0; i < len; i++)
		((char *)out)[i] = fz_readable(region, src + i) ? src[i] : 0xee;
}

/*
 * The calls as a snippet makes them: ioctl() with the structure (@len
 * bytes of @words) placed by @pl/@cut in region 0, and optionally a data
 * buffer in region 1 whose address is patched into the structure at
 * @uptr_off (-1: none).
 */
static inline long fz_ioctl(int fd, unsigned long cmd, const void *words, size_t len,
		     int pl, unsigned int cut, const void *data,
		     size_t data_len, int dpl, unsigned int dcut, int uptr_off)
{
	char buf[512];
	char *arg;

	memcpy(buf, words, len);
	if (uptr_off >= 0) {
		uint64_t p = (uintptr_t)fz_put(1, dpl, dcut, data, data_len);

		memcpy(buf + uptr_off, &p, sizeof(p));
	}
	arg = fz_put(0, pl, cut, buf, len);
	return ioctl(fd, cmd, arg);
}

static inline long fz_read(int fd, size_t count, int pl, unsigned int cut, off_t pos)
{
	char *buf = fz_addr(1, pl, cut);

	return pos ? pread(fd, buf, count, pos) : read(fd, buf, count);
}

static inline long fz_write(int fd, const void *resp, size_t len, size_t count,
		     int pl, unsigned int cut, off_t pos)
{
	char *buf = fz_put(1, pl, cut, resp, len);

	return pos ? pwrite(fd, buf, count, pos) : write(fd, buf, count);
}

/*
 * A snippet's check of one call: @r and errno against what C iommufd.ko
 * returned. Failures are printed and counted in fz_failures.
 */
static int fz_failures;

static inline void fz_expect(int line, long r, int err, long want, int want_err)
{
	if (r == want && (want >= 0 || err == want_err))
		return;
	fz_failures++;
	printf("# line %d: got %ld (%s), upstream gives %ld (%s)\n", line, r,
	       r < 0 ? strerror(err) : "-", want,
	       want < 0 ? strerror(want_err) : "-");
}

#define FZ_EXPECT(r, want, want_err) \
	fz_expect(__LINE__, (r), errno, (want), (want_err))

#endif
