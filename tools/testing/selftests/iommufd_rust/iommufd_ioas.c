// SPDX-License-Identifier: GPL-2.0
/*
 * IOAS memory: IOMMU_IOAS_MAP, IOMMU_IOAS_UNMAP, IOMMU_IOAS_IOVA_RANGES and
 * IOMMU_IOAS_ALLOW_IOVAS, the selftest ops ADD_RESERVED, MD_CHECK_MAP and
 * MD_CHECK_REFS, and what a mock paging domain does to an IOAS (aperture,
 * alignment, pinning). Every expected value is upstream 7.3's, so the
 * program passes on iommufd.ko too.
 *
 * The mock domains use a 2 KiB granule and the aperture
 * [MOCK_APERTURE_START, MOCK_APERTURE_LAST]; pages are pinned only while
 * the IOAS has a domain.
 *
 * The account fixture checks locked-memory accounting (RLIMIT_MEMLOCK,
 * CAP_IPC_LOCK, IOMMU_OPTION_RLIMIT_MODE, VmPin and VmLck); it needs root
 * to set itself up as a user of its own without CAP_IPC_LOCK.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/capability.h>
#include <linux/iommufd_test.h>

#include "iommufd_ioas_utils.h"

#define BUF_PAGES 16

static int option(int fd, __u32 option_id, __u16 op, __u32 object_id,
		  __u64 *val)
{
	struct iommu_option cmd = {
		.size = sizeof(cmd),
		.option_id = option_id,
		.op = op,
		.object_id = object_id,
		.val64 = *val,
	};
	int ret;

	ret = ioctl(fd, IOMMU_OPTION, &cmd);
	if (!ret)
		*val = cmd.val64;
	return ret;
}

/* IOMMU_IOAS_IOVA_RANGES; *num is room in, count out (also on EMSGSIZE). */
static int iova_ranges(int fd, __u32 ioas_id, struct iommu_iova_range *ranges,
		       __u32 *num, __u64 *alignment)
{
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.num_iovas = *num,
		.allowed_iovas = PTR_U64(ranges),
	};
	int ret;

	ret = ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &cmd);
	*num = cmd.num_iovas;
	if (alignment)
		*alignment = cmd.out_iova_alignment;
	return ret;
}

static int allow_iovas(int fd, __u32 ioas_id,
		       const struct iommu_iova_range *ranges, __u32 num)
{
	struct iommu_ioas_allow_iovas cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.num_iovas = num,
		.allowed_iovas = PTR_U64(ranges),
	};

	return ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &cmd);
}

static int add_reserved(int fd, __u32 ioas_id, __u64 start, __u64 length)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_ADD_RESERVED, ioas_id);
	cmd.add_reserved.start = start;
	cmd.add_reserved.length = length;
	return test_cmd(fd, &cmd);
}

FIXTURE(ioas) {
	int fd;
	__u32 ioas_id;
	size_t psz;
	char *buf;
	size_t buf_size;
};

FIXTURE_SETUP(ioas)
{
	IOMMUFD_OPEN_OR_SKIP(self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	self->psz = page_size();
	self->buf_size = BUF_PAGES * self->psz;
	self->buf = mmap(NULL, self->buf_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 0x5a, self->buf_size);
}

FIXTURE_TEARDOWN(ioas)
{
	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
	/* Nothing stays pinned once the file is closed. */
	if (self->buf && self->buf != MAP_FAILED) {
		int fd = iommufd_open();

		if (fd >= 0) {
			EXPECT_EQ(0, check_refs(fd, self->buf, self->buf_size,
						0));
			close(fd);
		}
		munmap(self->buf, self->buf_size);
	}
}

/* IOMMU_IOAS_MAP: the argument checks, in upstream's order. */
TEST_F(ioas, map_rejects_bad_arguments)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = RW,
		.ioas_id = self->ioas_id,
		.user_va = PTR_U64(self->buf),
		.length = self->psz,
	};
	struct iommu_ioas_map bad;
	__u64 iova = 0;

	bad = cmd;
	bad.flags |= 1 << 3;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_IOAS_MAP, &bad));
	bad = cmd;
	bad.__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_IOAS_MAP, &bad));
	bad = cmd;
	bad.iova = UINT64_MAX;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP, &bad));
	bad = cmd;
	bad.length = UINT64_MAX;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP, &bad));
	/* Neither readable nor writeable. */
	bad = cmd;
	bad.flags = IOMMU_IOAS_MAP_FIXED_IOVA;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_IOAS_MAP, &bad));
	bad = cmd;
	bad.ioas_id = self->ioas_id + 100;
	EXPECT_ERRNO(ENOENT, ioctl(self->fd, IOMMU_IOAS_MAP, &bad));
	bad = cmd;
	bad.length = 0;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_IOAS_MAP, &bad));
	/* The user range wraps around the address space. */
	bad = cmd;
	bad.user_va = UINT64_MAX - 10;
	bad.length = 100;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP, &bad));
	/* A fixed IOVA range that wraps. */
	iova = UINT64_MAX - self->psz + 1;
	EXPECT_ERRNO(EOVERFLOW, ioas_map(self->fd, self->ioas_id, self->buf,
					 2 * self->psz, &iova, FIXED));
	/* The first release of the structure ends at iova. */
	bad = cmd;
	bad.size = offsetofend(struct iommu_ioas_map, iova) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_IOAS_MAP, &bad));
}

/* A fixed IOVA is used as given; overlapping an area is EEXIST. */
TEST_F(ioas, map_fixed_iova_and_overlap_eexist)
{
	__u64 base = 0x100000, iova;

	iova = base;
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf,
			      2 * self->psz, &iova, FIXED));
	EXPECT_EQ(base, iova);
	iova = base;
	EXPECT_ERRNO(EEXIST, ioas_map(self->fd, self->ioas_id, self->buf,
				      self->psz, &iova, FIXED));
	iova = base + self->psz;
	EXPECT_ERRNO(EEXIST, ioas_map(self->fd, self->ioas_id, self->buf,
				      2 * self->psz, &iova, FIXED));
	iova = base - self->psz;
	EXPECT_ERRNO(EEXIST, ioas_map(self->fd, self->ioas_id, self->buf,
				      2 * self->psz, &iova, FIXED));
	/* Right after the area is free, and so is right before it. */
	iova = base + 2 * self->psz;
	EXPECT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->psz,
			      &iova, FIXED));
	iova = base - self->psz;
	EXPECT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->psz,
			      &iova, FIXED | IOMMU_IOAS_MAP_READABLE));
	/* Read-only and write-only mappings are fine too. */
	iova = base + 3 * self->psz;
	EXPECT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->psz,
			      &iova, IOMMU_IOAS_MAP_FIXED_IOVA |
				     IOMMU_IOAS_MAP_READABLE));
	iova = base + 4 * self->psz;
	EXPECT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->psz,
			      &iova, IOMMU_IOAS_MAP_FIXED_IOVA |
				     IOMMU_IOAS_MAP_WRITEABLE));
}

/*
 * Automatic IOVAs: the lowest free IOVA from PAGE_SIZE (never 0), aligned to
 * the smaller of the length (rounded up to a power of two) and the user
 * address's lowest set bit, keeping its offset in the page. Without a
 * domain nothing is pinned, so the user addresses need no memory: they are
 * chosen for their alignment, below what any kernel caps it at (a page, or
 * a huge page with THP).
 */
TEST_F(ioas, map_automatic_iova_is_upstreams)
{
	char *va = (char *)(uintptr_t)0x40000000;
	/* Upstream keeps up to a huge page of alignment with THP built in. */
	bool thp = !access("/sys/kernel/mm/transparent_hugepage", F_OK);
	__u64 iova = 0;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, va, self->psz, &iova,
			      RW));
	EXPECT_EQ(self->psz, iova);
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, va, self->psz, &iova,
			      RW));
	EXPECT_EQ(2 * self->psz, iova);
	/* Two pages from an address aligned to one page only. */
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, va + self->psz,
			      2 * self->psz, &iova, RW));
	EXPECT_EQ(3 * self->psz, iova);
	/*
	 * Two pages from an address aligned to more: aligned to two pages
	 * with THP (skipping 5 * psz), to one without.
	 */
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, va, 2 * self->psz,
			      &iova, RW));
	EXPECT_EQ((thp ? 6 : 5) * self->psz, iova);
	/* Half a page at a half-page offset keeps the offset. */
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, va + self->psz / 2,
			      self->psz / 2, &iova, RW));
	EXPECT_EQ((thp ? 5 : 7) * self->psz + self->psz / 2, iova);
	/* A gap left by an unmap is found again. */
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 2 * self->psz,
				self->psz, NULL));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, va, self->psz, &iova,
			      RW));
	EXPECT_EQ(2 * self->psz, iova);
}

/* Unmapping never splits an area: ENOENT for a range that cuts one. */
TEST_F(ioas, unmap_part_of_an_area_is_enoent)
{
	__u64 base = 0x200000, iova = base, unmapped = 0;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf,
			      2 * self->psz, &iova, FIXED));
	EXPECT_ERRNO(ENOENT, ioas_unmap(self->fd, self->ioas_id, base,
					self->psz, NULL));
	EXPECT_ERRNO(ENOENT, ioas_unmap(self->fd, self->ioas_id,
					base + self->psz, self->psz, NULL));
	EXPECT_ERRNO(ENOENT, ioas_unmap(self->fd, self->ioas_id,
					base + self->psz, 4 * self->psz,
					NULL));
	/* Nothing mapped in the range. */
	EXPECT_ERRNO(ENOENT, ioas_unmap(self->fd, self->ioas_id, 0x900000,
					self->psz, NULL));
	/* A range around the area takes it whole. */
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas_id, base - self->psz,
				4 * self->psz, &unmapped));
	EXPECT_EQ(2 * self->psz, unmapped);
	EXPECT_ERRNO(ENOENT, ioas_unmap(self->fd, self->ioas_id, base,
					2 * self->psz, NULL));
}

TEST_F(ioas, unmap_rejects_bad_arguments)
{
	EXPECT_ERRNO(EINVAL, ioas_unmap(self->fd, self->ioas_id, 0x1000, 0,
					NULL));
	EXPECT_ERRNO(EOVERFLOW, ioas_unmap(self->fd, self->ioas_id,
					   UINT64_MAX, 1, NULL));
	EXPECT_ERRNO(EOVERFLOW, ioas_unmap(self->fd, self->ioas_id, 1,
					   UINT64_MAX, NULL));
	EXPECT_ERRNO(EOVERFLOW, ioas_unmap(self->fd, self->ioas_id,
					   1ULL << 63, (1ULL << 63) + 1,
					   NULL));
	EXPECT_ERRNO(ENOENT, ioas_unmap(self->fd, self->ioas_id + 100, 0,
					UINT64_MAX, NULL));
}

/* iova 0 with length U64_MAX unmaps everything, and reports how much. */
TEST_F(ioas, unmap_all_reports_the_length)
{
	__u64 iova, unmapped = 1, total = 0;
	int i;

	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX,
				&unmapped));
	EXPECT_EQ((__u64)(0), unmapped);
	for (i = 1; i <= 3; i++) {
		iova = 0x400000 * i;
		ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf,
				      i * self->psz, &iova, FIXED));
		total += i * self->psz;
	}
	/* A range over two areas and the gap between them. */
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0x400000, 0x400000 +
				2 * self->psz, &unmapped));
	EXPECT_EQ(3 * self->psz, unmapped);
	total -= 3 * self->psz;
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX,
				&unmapped));
	EXPECT_EQ(total, unmapped);
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX,
				&unmapped));
	EXPECT_EQ((__u64)(0), unmapped);
}

/* IOVA_RANGES: the holes between reservations, and the alignment. */
TEST_F(ioas, iova_ranges_are_the_holes_between_reservations)
{
	struct iommu_iova_range ranges[4];
	__u64 alignment = 0;
	__u32 num = 0;

	/* No room: EMSGSIZE, with the count. */
	EXPECT_ERRNO(EMSGSIZE, iova_ranges(self->fd, self->ioas_id, NULL,
					   &num, &alignment));
	EXPECT_EQ((__u64)(1), num);
	num = 4;
	ASSERT_EQ(0, iova_ranges(self->fd, self->ioas_id, ranges, &num,
				 &alignment));
	EXPECT_EQ((__u64)(1), num);
	EXPECT_EQ((__u64)(1), alignment);
	EXPECT_EQ((__u64)(0), ranges[0].start);
	EXPECT_EQ(UINT64_MAX, ranges[0].last);

	ASSERT_EQ(0, add_reserved(self->fd, self->ioas_id, 0x10000, 0x10000));
	ASSERT_EQ(0, add_reserved(self->fd, self->ioas_id, 0x18000, 0x10000));
	num = 4;
	ASSERT_EQ(0, iova_ranges(self->fd, self->ioas_id, ranges, &num, NULL));
	ASSERT_EQ((__u64)(2), num);
	EXPECT_EQ((__u64)(0), ranges[0].start);
	EXPECT_EQ((__u64)(0xffff), ranges[0].last);
	EXPECT_EQ((__u64)(0x28000), ranges[1].start);
	EXPECT_EQ(UINT64_MAX, ranges[1].last);

	/* Fewer slots than ranges: filled, then EMSGSIZE. */
	num = 1;
	memset(ranges, 0, sizeof(ranges));
	EXPECT_ERRNO(EMSGSIZE, iova_ranges(self->fd, self->ioas_id, ranges,
					   &num, NULL));
	EXPECT_EQ((__u64)(2), num);
	EXPECT_EQ((__u64)(0xffff), ranges[0].last);
	EXPECT_EQ((__u64)(0), ranges[1].last);
}

TEST_F(ioas, iova_ranges_rejects_reserved_and_bad_pointer)
{
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = self->ioas_id,
		.num_iovas = 1,
		.__reserved = 1,
	};

	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
	cmd.__reserved = 0;
	cmd.allowed_iovas = 8;
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
	cmd.ioas_id = self->ioas_id + 100;
	EXPECT_ERRNO(ENOENT, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
}

/* Reserved ranges: refused to fixed maps, skipped by automatic ones. */
TEST_F(ioas, reserved_ranges)
{
	__u64 iova = 0;

	EXPECT_ERRNO(EINVAL, add_reserved(self->fd, self->ioas_id, 0x1000, 0));
	EXPECT_ERRNO(EOVERFLOW, add_reserved(self->fd, self->ioas_id,
					     UINT64_MAX - 1, 10));
	EXPECT_ERRNO(ENOENT, add_reserved(self->fd, self->ioas_id + 100,
					  0x1000, 0x1000));
	ASSERT_EQ(0, add_reserved(self->fd, self->ioas_id, self->psz,
				  4 * self->psz));
	iova = 2 * self->psz;
	EXPECT_ERRNO(EINVAL, ioas_map(self->fd, self->ioas_id, self->buf,
				      self->psz, &iova, FIXED));
	iova = 0;
	EXPECT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->psz,
			      &iova, FIXED));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->psz,
			      &iova, RW));
	EXPECT_EQ(5 * self->psz, iova);
	/* A reservation over an area is EADDRINUSE. */
	EXPECT_ERRNO(EADDRINUSE, add_reserved(self->fd, self->ioas_id, iova,
					      1));
}

/* ALLOW_IOVAS: where automatic IOVAs may go. */
TEST_F(ioas, allowed_ranges)
{
	struct iommu_iova_range allowed[2] = {
		{ .start = 0x200000, .last = 0x2fffff },
		{ .start = 0x400000, .last = 0x4fffff },
	};
	struct iommu_iova_range bad[2];
	struct iommu_ioas_allow_iovas cmd = {
		.size = sizeof(cmd),
		.ioas_id = self->ioas_id,
		.__reserved = 1,
	};
	__u64 iova = 0;

	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_IOAS_ALLOW_IOVAS, &cmd));
	bad[0].start = bad[0].last = 0x1000;
	EXPECT_ERRNO(EINVAL, allow_iovas(self->fd, self->ioas_id, bad, 1));
	bad[0].start = 0x2000;
	bad[0].last = 0x1000;
	EXPECT_ERRNO(EINVAL, allow_iovas(self->fd, self->ioas_id, bad, 1));
	bad[0] = allowed[0];
	bad[1].start = 0x2ff000;
	bad[1].last = 0x300fff;
	EXPECT_ERRNO(EINVAL, allow_iovas(self->fd, self->ioas_id, bad, 2));
	EXPECT_ERRNO(EFAULT, allow_iovas(self->fd, self->ioas_id, NULL, 1));
	EXPECT_ERRNO(ENOENT, allow_iovas(self->fd, self->ioas_id + 100,
					 allowed, 2));

	ASSERT_EQ(0, allow_iovas(self->fd, self->ioas_id, allowed, 2));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->psz,
			      &iova, RW));
	EXPECT_EQ((__u64)(0x200000), iova);
	/* Too big for the first range: the second one. */
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, 0x100000,
			      &iova, RW));
	EXPECT_EQ((__u64)(0x400000), iova);
	/* Too big for any. */
	EXPECT_ERRNO(ENOSPC, ioas_map(self->fd, self->ioas_id, self->buf,
				      0x200000, &iova, RW));
	/* A fixed IOVA may lie outside them. */
	iova = 0x800000;
	EXPECT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->psz,
			      &iova, FIXED));
	/* A reservation over an allowed range, and the reverse. */
	EXPECT_ERRNO(EADDRINUSE, add_reserved(self->fd, self->ioas_id,
					      0x4ff000, 0x2000));
	ASSERT_EQ(0, add_reserved(self->fd, self->ioas_id, 0x600000, 0x1000));
	bad[0].start = 0x600000;
	bad[0].last = 0x6fffff;
	EXPECT_ERRNO(EADDRINUSE, allow_iovas(self->fd, self->ioas_id, bad, 1));
	/* None again: everything allowed. */
	ASSERT_EQ(0, allow_iovas(self->fd, self->ioas_id, NULL, 0));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->psz,
			      &iova, RW));
	EXPECT_EQ(self->psz, iova);
}

/*
 * A mock domain on the IOAS reserves what lies outside its aperture and
 * sets the IOVA alignment to its 2 KiB granule; both go with it.
 */
TEST_F(ioas, mock_domain_aperture_and_alignment)
{
	struct iommu_iova_range ranges[4];
	__u32 stdev_id, hwpt_id, num = 4;
	__u64 alignment, iova = 0;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev_id, &hwpt_id,
				 NULL));
	ASSERT_EQ(0, iova_ranges(self->fd, self->ioas_id, ranges, &num,
				 &alignment));
	ASSERT_EQ((__u64)(1), num);
	EXPECT_EQ((__u64)(MOCK_APERTURE_START), ranges[0].start);
	EXPECT_EQ((__u64)(MOCK_APERTURE_LAST), ranges[0].last);
	EXPECT_EQ((__u64)(MOCK_PAGE_SIZE), alignment);

	iova = 0;
	EXPECT_ERRNO(EINVAL, ioas_map(self->fd, self->ioas_id, self->buf,
				      self->psz, &iova, FIXED));
	iova = MOCK_APERTURE_START + MOCK_PAGE_SIZE / 2;
	EXPECT_ERRNO(EINVAL, ioas_map(self->fd, self->ioas_id, self->buf,
				      self->psz, &iova, FIXED));
	iova = MOCK_APERTURE_START;
	EXPECT_ERRNO(EINVAL, ioas_map(self->fd, self->ioas_id, self->buf,
				      MOCK_PAGE_SIZE / 2, &iova, FIXED));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->psz,
			      &iova, RW));
	EXPECT_EQ((__u64)(MOCK_APERTURE_START), iova);

	ASSERT_EQ(0, destroy(self->fd, stdev_id));
	num = 4;
	ASSERT_EQ(0, iova_ranges(self->fd, self->ioas_id, ranges, &num,
				 &alignment));
	EXPECT_EQ((__u64)(1), num);
	EXPECT_EQ((__u64)(0), ranges[0].start);
	EXPECT_EQ(UINT64_MAX, ranges[0].last);
	EXPECT_EQ((__u64)(1), alignment);
}

/* An area outside the aperture keeps a domain off the IOAS. */
TEST_F(ioas, mock_domain_refused_over_an_area_outside_its_aperture)
{
	__u64 iova = 0x1000;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->psz,
			      &iova, FIXED));
	EXPECT_ERRNO(EADDRINUSE, mock_domain(self->fd, self->ioas_id, NULL,
					     NULL, NULL));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX, NULL));
	EXPECT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, NULL));
}

/*
 * Pins: none without a domain; one per page with one or two domains,
 * whether the memory was mapped before or after they came; none after
 * unmap or once the last domain is gone.
 */
TEST_F(ioas, md_check_refs_counts_real_pins)
{
	size_t len = 4 * self->psz;
	__u32 stdev_id, idev_id, hwpt_id, hwpt2_id;
	__u64 iova = MOCK_APERTURE_START, unmapped;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, len, &iova,
			      FIXED));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 0));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev_id, &hwpt_id,
				 &idev_id));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 1));
	EXPECT_EQ(0, check_refs(self->fd, self->buf + len, self->psz, 0));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev_id, self->ioas_id, 0,
				&hwpt2_id));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 1));
	EXPECT_EQ(0, check_map(self->fd, hwpt_id, iova, len, self->buf));
	EXPECT_EQ(0, check_map(self->fd, hwpt2_id, iova, len, self->buf));

	/* A second area, mapped while the domains are there. */
	iova = MOCK_APERTURE_START + 0x100000;
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf + len, len,
			      &iova, FIXED));
	EXPECT_EQ(0, check_refs(self->fd, self->buf + len, len, 1));
	EXPECT_EQ(0, check_map(self->fd, hwpt2_id, iova, len,
			       self->buf + len));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova, len,
				&unmapped));
	EXPECT_EQ(len, unmapped);
	EXPECT_EQ(0, check_refs(self->fd, self->buf + len, len, 0));
	EXPECT_ERRNO(EINVAL, check_map(self->fd, hwpt_id, iova, len,
				       self->buf + len));

	/* The last domain takes the pins with it. */
	ASSERT_EQ(0, destroy(self->fd, hwpt2_id));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 1));
	ASSERT_EQ(0, destroy(self->fd, stdev_id));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 0));
}

/* Closing the file unpins everything (checked again by the teardown). */
TEST_F(ioas, close_unpins)
{
	__u64 iova = 0;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, NULL));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf,
			      self->buf_size, &iova, RW));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, self->buf_size, 1));
	ASSERT_EQ(0, close(self->fd));
	self->fd = iommufd_open();
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(0, check_refs(self->fd, self->buf, self->buf_size, 0));
}

/* MD_CHECK_MAP: each IOVA page translates to the page under the user VA. */
TEST_F(ioas, md_check_map_data)
{
	__u32 hwpt_id;
	__u64 iova = MOCK_APERTURE_START;
	size_t len = 2 * self->psz;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, &hwpt_id,
				 NULL));
	EXPECT_ERRNO(EINVAL, check_map(self->fd, hwpt_id, iova, self->psz,
				       self->buf));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, len, &iova,
			      FIXED));
	EXPECT_EQ(0, check_map(self->fd, hwpt_id, iova, len, self->buf));
	EXPECT_EQ(0, check_map(self->fd, hwpt_id, iova + MOCK_PAGE_SIZE,
			       MOCK_PAGE_SIZE, self->buf + MOCK_PAGE_SIZE));
	/* The wrong user page, an unaligned IOVA, not a HWPT. */
	EXPECT_ERRNO(EINVAL, check_map(self->fd, hwpt_id, iova, self->psz,
				       self->buf + self->psz));
	EXPECT_ERRNO(EINVAL, check_map(self->fd, hwpt_id, iova + 1, self->psz,
				       self->buf));
	EXPECT_ERRNO(ENOENT, check_map(self->fd, self->ioas_id, iova,
				       self->psz, self->buf));
	/* Past the area nothing is mapped. */
	EXPECT_ERRNO(EINVAL, check_map(self->fd, hwpt_id, iova, len + self->psz,
				       self->buf));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova, len, NULL));
	EXPECT_ERRNO(EINVAL, check_map(self->fd, hwpt_id, iova, self->psz,
				       self->buf));
}

/* A half-page area at a half-page offset maps at the 2 KiB granule. */
TEST_F(ioas, md_check_map_sub_page_area)
{
	__u32 hwpt_id;
	__u64 iova = 0;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, &hwpt_id,
				 NULL));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id,
			      self->buf + MOCK_PAGE_SIZE, MOCK_PAGE_SIZE, &iova,
			      RW));
	EXPECT_EQ((__u64)(MOCK_APERTURE_START + MOCK_PAGE_SIZE), iova);
	EXPECT_EQ(0, check_map(self->fd, hwpt_id, iova, MOCK_PAGE_SIZE,
			       self->buf + MOCK_PAGE_SIZE));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, self->psz, 1));
}

/* With a domain, memory is pinned at map time: faults are the map's. */
TEST_F(ioas, map_with_a_domain_pins_or_fails)
{
	__u64 iova = 0;
	void *ro;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, NULL));
	ro = mmap(NULL, self->psz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		  0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_ERRNO(EFAULT, ioas_map(self->fd, self->ioas_id, ro, self->psz,
				      &iova, RW));
	EXPECT_EQ(0, ioas_map(self->fd, self->ioas_id, ro, self->psz, &iova,
			      IOMMU_IOAS_MAP_READABLE));
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova, self->psz,
				NULL));
	munmap(ro, self->psz);
	/* Nothing mapped there any more. */
	EXPECT_ERRNO(EFAULT, ioas_map(self->fd, self->ioas_id, ro, self->psz,
				      &iova, RW));
	/* The failed maps left no area behind. */
	EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX,
				&iova));
	EXPECT_EQ((__u64)(0), iova);
}

/* Without a domain nothing is pinned, so a bad address still maps. */
TEST_F(ioas, map_without_a_domain_is_lazy)
{
	__u64 iova = 0;
	void *gone;

	gone = mmap(NULL, self->psz, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, gone);
	munmap(gone, self->psz);
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, gone, self->psz, &iova,
			      RW));
	/* ... and a domain that would have to pin it cannot come. */
	iova = MOCK_APERTURE_START;
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX, NULL));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, gone, self->psz, &iova,
			      FIXED));
	EXPECT_ERRNO(EFAULT, mock_domain(self->fd, self->ioas_id, NULL, NULL,
					 NULL));
	/* The failed attach pinned nothing and left the IOAS usable. */
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX, NULL));
	EXPECT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, NULL));
}

/* An IOAS with mappings can be destroyed; a HWPT on it keeps it. */
TEST_F(ioas, destroy_with_mappings)
{
	__u32 hwpt_id, stdev_id;
	__u64 iova = 0;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev_id, &hwpt_id,
				 NULL));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf,
			      self->buf_size, &iova, RW));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->ioas_id));
	ASSERT_EQ(0, destroy(self->fd, stdev_id));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, self->buf_size, 0));
	EXPECT_EQ(0, destroy(self->fd, self->ioas_id));
}

/* IOMMU_IOAS_COPY: the argument checks and what the source must cover. */
TEST_F(ioas, copy_rejects_bad_arguments)
{
	__u64 base = 0x100000, iova = base, dst = 0;
	__u32 dst_id;

	ASSERT_EQ(0, ioas_alloc(self->fd, &dst_id));
	/* Two areas back to back, a gap, a third one. */
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf,
			      2 * self->psz, &iova, FIXED));
	iova = base + 2 * self->psz;
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->psz,
			      &iova, FIXED | IOMMU_IOAS_MAP_READABLE));
	iova = base + 4 * self->psz;
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->psz,
			      &iova, IOMMU_IOAS_MAP_FIXED_IOVA |
				     IOMMU_IOAS_MAP_READABLE));

	EXPECT_ERRNO(EOPNOTSUPP, ioas_copy(self->fd, dst_id, self->ioas_id,
					   base, self->psz, &dst, 1 << 3 | RW));
	EXPECT_ERRNO(EOVERFLOW, ioas_copy(self->fd, dst_id, self->ioas_id,
					  UINT64_MAX, self->psz, &dst, RW));
	EXPECT_ERRNO(EINVAL, ioas_copy(self->fd, dst_id, self->ioas_id, base,
				       self->psz, &dst,
				       IOMMU_IOAS_MAP_FIXED_IOVA));
	EXPECT_ERRNO(ENOENT, ioas_copy(self->fd, dst_id, self->ioas_id + 100,
				       base, self->psz, &dst, RW));
	EXPECT_ERRNO(EINVAL, ioas_copy(self->fd, dst_id, self->ioas_id, base,
				       0, &dst, RW));
	/* Nothing there, or a gap inside the range. */
	EXPECT_ERRNO(ENOENT, ioas_copy(self->fd, dst_id, self->ioas_id,
				       base - self->psz, self->psz, &dst, RW));
	EXPECT_ERRNO(ENOENT, ioas_copy(self->fd, dst_id, self->ioas_id, base,
				       5 * self->psz, &dst, RW));
	EXPECT_ERRNO(ENOENT, ioas_copy(self->fd, dst_id + 100, self->ioas_id,
				       base, self->psz, &dst, RW));
	/* Across the two contiguous areas, from inside the first. */
	EXPECT_EQ(0, ioas_copy(self->fd, dst_id, self->ioas_id,
			       base + self->psz, 2 * self->psz, &dst, RW));
	/*
	 * The lowest free IOVA from a page up, aligned like the source's
	 * user address (buf + psz) up to the length: a page, or two where
	 * that address is 8 KiB aligned.
	 */
	EXPECT_EQ(((uintptr_t)self->buf + self->psz) % (2 * self->psz) ?
			  self->psz : 2 * self->psz,
		  dst);
	/* Memory mapped read-only cannot become writeable. */
	EXPECT_ERRNO(EPERM, ioas_copy(self->fd, dst_id, self->ioas_id,
				      base + 4 * self->psz, self->psz, &dst,
				      RW));
	/* A fixed destination that overlaps: EEXIST. */
	dst = (uintptr_t)(self->buf + self->psz) & self->psz ? self->psz :
							       2 * self->psz;
	EXPECT_ERRNO(EEXIST, ioas_copy(self->fd, dst_id, self->ioas_id, base,
				       self->psz, &dst,
				       FIXED));
}

/* The copy maps the source's memory: pinned for, and mapped by, the
 * destination's domain.
 */
TEST_F(ioas, copy_into_an_ioas_with_a_domain)
{
	__u64 src = 0x100000, dst = MOCK_APERTURE_START + 0x10000, unmapped;
	size_t len = 4 * self->psz;
	__u32 dst_id, hwpt_id;

	ASSERT_EQ(0, ioas_alloc(self->fd, &dst_id));
	ASSERT_EQ(0, mock_domain(self->fd, dst_id, NULL, &hwpt_id, NULL));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, len, &src,
			      FIXED));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 0));
	ASSERT_EQ(0, ioas_copy(self->fd, dst_id, self->ioas_id,
			       src + self->psz, 2 * self->psz, &dst, FIXED));
	EXPECT_EQ(0, check_map(self->fd, hwpt_id, dst, 2 * self->psz,
			       self->buf + self->psz));
	EXPECT_EQ(0, check_refs(self->fd, self->buf + self->psz,
				2 * self->psz, 1));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, self->psz, 0));
	/* Unmapping the source leaves the copy. */
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX,
				&unmapped));
	EXPECT_EQ((__u64)len, unmapped);
	EXPECT_EQ(0, check_map(self->fd, hwpt_id, dst, 2 * self->psz,
			       self->buf + self->psz));
	ASSERT_EQ(0, ioas_unmap(self->fd, dst_id, 0, UINT64_MAX, &unmapped));
	EXPECT_EQ((__u64)(2 * self->psz), unmapped);
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 0));
}

/* IOMMU_OPTION_RLIMIT_MODE: per file, settable only while it is empty. */
TEST_F(ioas, option_rlimit_mode)
{
	struct iommu_option cmd = {
		.size = sizeof(cmd),
		.option_id = IOMMU_OPTION_RLIMIT_MODE,
		.op = IOMMU_OPTION_OP_GET,
		.__reserved = 1,
	};
	__u64 val = 0;
	int fd;

	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_OPTION, &cmd));
	EXPECT_ERRNO(EOPNOTSUPP, option(self->fd, 7, IOMMU_OPTION_OP_GET, 0,
					&val));
	EXPECT_ERRNO(EOPNOTSUPP, option(self->fd, IOMMU_OPTION_RLIMIT_MODE,
					IOMMU_OPTION_OP_GET, 1, &val));
	EXPECT_ERRNO(EOPNOTSUPP, option(self->fd, IOMMU_OPTION_RLIMIT_MODE, 2,
					0, &val));
	val = 7;
	ASSERT_EQ(0, option(self->fd, IOMMU_OPTION_RLIMIT_MODE,
			    IOMMU_OPTION_OP_GET, 0, &val));
	EXPECT_EQ((__u64)0, val);
	/* The fixture's IOAS is an object: EBUSY, before the value. */
	val = 1;
	EXPECT_ERRNO(EBUSY, option(self->fd, IOMMU_OPTION_RLIMIT_MODE,
				   IOMMU_OPTION_OP_SET, 0, &val));
	val = 2;
	EXPECT_ERRNO(EBUSY, option(self->fd, IOMMU_OPTION_RLIMIT_MODE,
				   IOMMU_OPTION_OP_SET, 0, &val));

	fd = iommufd_open();
	ASSERT_LE(0, fd);
	val = 2;
	EXPECT_ERRNO(EINVAL, option(fd, IOMMU_OPTION_RLIMIT_MODE,
				    IOMMU_OPTION_OP_SET, 0, &val));
	val = 1;
	EXPECT_EQ(0, option(fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET,
			    0, &val));
	val = 0;
	EXPECT_EQ(0, option(fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_GET,
			    0, &val));
	EXPECT_EQ((__u64)1, val);
	close(fd);
}

/* IOMMU_OPTION_HUGE_PAGES: per IOAS; off raises the alignment to a page. */
TEST_F(ioas, option_huge_pages)
{
	struct iommu_iova_range ranges[2];
	__u64 val = 0, alignment = 0, iova = 0;
	__u32 num = 2;

	EXPECT_ERRNO(ENOENT, option(self->fd, IOMMU_OPTION_HUGE_PAGES,
				    IOMMU_OPTION_OP_GET, self->ioas_id + 100,
				    &val));
	EXPECT_ERRNO(EOPNOTSUPP, option(self->fd, IOMMU_OPTION_HUGE_PAGES, 2,
					self->ioas_id, &val));
	ASSERT_EQ(0, option(self->fd, IOMMU_OPTION_HUGE_PAGES,
			    IOMMU_OPTION_OP_GET, self->ioas_id, &val));
	EXPECT_EQ((__u64)1, val);
	val = 2;
	EXPECT_ERRNO(EINVAL, option(self->fd, IOMMU_OPTION_HUGE_PAGES,
				    IOMMU_OPTION_OP_SET, self->ioas_id, &val));
	val = 0;
	ASSERT_EQ(0, option(self->fd, IOMMU_OPTION_HUGE_PAGES,
			    IOMMU_OPTION_OP_SET, self->ioas_id, &val));
	ASSERT_EQ(0, option(self->fd, IOMMU_OPTION_HUGE_PAGES,
			    IOMMU_OPTION_OP_GET, self->ioas_id, &val));
	EXPECT_EQ((__u64)0, val);
	ASSERT_EQ(0, iova_ranges(self->fd, self->ioas_id, ranges, &num,
				 &alignment));
	EXPECT_EQ((__u64)self->psz, alignment);
	EXPECT_ERRNO(EINVAL, ioas_map(self->fd, self->ioas_id, self->buf,
				      self->psz / 2, &iova, RW));

	/* Back on: alignment 1 again. */
	val = 1;
	ASSERT_EQ(0, option(self->fd, IOMMU_OPTION_HUGE_PAGES,
			    IOMMU_OPTION_OP_SET, self->ioas_id, &val));
	num = 2;
	ASSERT_EQ(0, iova_ranges(self->fd, self->ioas_id, ranges, &num,
				 &alignment));
	EXPECT_EQ((__u64)1, alignment);

	/* A sub-page area keeps it on. */
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf,
			      self->psz / 2, &iova, RW));
	val = 0;
	EXPECT_ERRNO(EADDRINUSE, option(self->fd, IOMMU_OPTION_HUGE_PAGES,
					IOMMU_OPTION_OP_SET, self->ioas_id,
					&val));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX, NULL));

	/* A domain that maps an area keeps it on too. */
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, NULL));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->psz,
			      &iova, RW));
	val = 0;
	EXPECT_ERRNO(EINVAL, option(self->fd, IOMMU_OPTION_HUGE_PAGES,
				    IOMMU_OPTION_OP_SET, self->ioas_id, &val));
}

/*
 * SET_TEMP_MEMORY_LIMIT bounds the pinning path's temporary memory, so
 * that pins go a page or two at a time (upstream's mock_domain_limit
 * variant uses 16 bytes): mapping must still pin and map every page.
 */
TEST_F(ioas, tiny_temp_memory_limit_still_maps)
{
	__u32 hwpt_id, hwpt2_id, idev_id;
	__u64 iova = 0, iova2 = 0;
	unsigned int limits[] = { 16, 12 };
	unsigned int i;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, &hwpt_id,
				 &idev_id));
	for (i = 0; i != sizeof(limits) / sizeof(limits[0]); i++) {
		ASSERT_EQ(0, set_temp_memory_limit(self->fd, limits[i]));
		/* 14.5 pages from the second page, then the first page. */
		ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id,
				      self->buf + self->psz,
				      (BUF_PAGES - 2) * self->psz +
					      MOCK_PAGE_SIZE,
				      &iova, RW));
		EXPECT_EQ(0, check_refs(self->fd, self->buf + self->psz,
					(BUF_PAGES - 1) * self->psz, 1));
		EXPECT_EQ(0, check_refs(self->fd, self->buf, self->psz, 0));
		EXPECT_EQ(0, check_map(self->fd, hwpt_id, iova,
				       (BUF_PAGES - 2) * self->psz,
				       self->buf + self->psz));
		/* A second domain is filled from the same small batches. */
		ASSERT_EQ(0, hwpt_alloc(self->fd, idev_id, self->ioas_id, 0,
					&hwpt2_id));
		EXPECT_EQ(0, check_map(self->fd, hwpt2_id, iova,
				       (BUF_PAGES - 2) * self->psz,
				       self->buf + self->psz));
		ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf,
				      self->psz, &iova2, RW));
		EXPECT_EQ(0, check_map(self->fd, hwpt2_id, iova2, self->psz,
				       self->buf));
		EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX,
					NULL));
		EXPECT_EQ(0, check_refs(self->fd, self->buf, self->buf_size,
					0));
		EXPECT_EQ(0, destroy(self->fd, hwpt2_id));
		iova = iova2 = 0;
	}
	EXPECT_EQ(0, set_temp_memory_limit(self->fd,
					   DEFAULT_TEMP_MEMORY_LIMIT));
}

/*
 * Locked-memory accounting, as upstream's (IOPT_PAGES_ACCOUNT_*): a task
 * without CAP_IPC_LOCK is charged for the pages it pins, against its
 * RLIMIT_MEMLOCK, in its user's locked_vm (RLIMIT_MODE 0) or its own
 * locked_vm, VmLck (RLIMIT_MODE 1); every pin counts in VmPin. The fixture
 * becomes a user of its own (ACCOUNT_UID, whose locked_vm nothing else
 * touches) with RLIMIT_MEMLOCK of LIMIT_PAGES and CAP_IPC_LOCK only in its
 * permitted set, so that a test may raise it.
 */
#define ACCOUNT_UID 61234
#define LIMIT_PAGES 64
#define ACCOUNT_BUF_PAGES (4 * LIMIT_PAGES)

static long vm_pin(pid_t pid)
{
	return status_kb(pid, "VmPin");
}

static long vm_lck(pid_t pid)
{
	return status_kb(pid, "VmLck");
}

FIXTURE(account) {
	int fd, fd2;
	__u32 ioas_id;
	size_t psz;
	char *buf;
	long kb;	/* kB in a page */
	long pin0, lck0;	/* VmPin and VmLck before the test */
};

FIXTURE_VARIANT(account) {
	bool mm;	/* RLIMIT_MODE 1 */
};

FIXTURE_VARIANT_ADD(account, user) {
	.mm = false,
};

FIXTURE_VARIANT_ADD(account, mm) {
	.mm = true,
};

FIXTURE_SETUP(account)
{
	struct rlimit rl;
	__u64 mode = variant->mm;

	self->fd2 = -1;
	IOMMUFD_OPEN_OR_SKIP(self->fd);
	if (geteuid() != 0)
		SKIP(return, "needs root, to become a user of its own");
	self->fd2 = iommufd_open();
	ASSERT_LE(0, self->fd2);
	/* The mode is set while the files are empty (CAP_SYS_RESOURCE). */
	ASSERT_EQ(0, option(self->fd, IOMMU_OPTION_RLIMIT_MODE,
			    IOMMU_OPTION_OP_SET, 0, &mode));
	ASSERT_EQ(0, option(self->fd2, IOMMU_OPTION_RLIMIT_MODE,
			    IOMMU_OPTION_OP_SET, 0, &mode));
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, NULL));

	self->psz = page_size();
	self->kb = self->psz / 1024;
	self->buf = mmap(NULL, ACCOUNT_BUF_PAGES * self->psz,
			 PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);

	rl.rlim_cur = rl.rlim_max = LIMIT_PAGES * self->psz;
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));
	/* Keep the permitted set across the change of user, not the rest. */
	ASSERT_EQ(0, prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
	ASSERT_EQ(0, setresuid(ACCOUNT_UID, ACCOUNT_UID, ACCOUNT_UID));
	ASSERT_EQ(0, prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
	ASSERT_EQ(0, set_cap(CAP_IPC_LOCK, false));
	self->pin0 = vm_pin(getpid());
	self->lck0 = vm_lck(getpid());
	ASSERT_LE(0, self->pin0);
	ASSERT_LE(0, self->lck0);
}

FIXTURE_TEARDOWN(account)
{
	if (self->fd2 >= 0)
		close(self->fd2);
	if (self->fd >= 0)
		close(self->fd);
	/* Whatever the test did, closing gives everything back. */
	if (self->buf && self->buf != MAP_FAILED) {
		EXPECT_EQ(self->pin0, vm_pin(getpid()));
		EXPECT_EQ(self->lck0, vm_lck(getpid()));
	}
}

/* What VmLck should have risen by for @pages charged pages. */
#define LCK(pages) (variant->mm ? (long)(pages) * self->kb : 0)

/*
 * Past RLIMIT_MEMLOCK a map is ENOMEM and leaves nothing pinned or
 * charged; up to it the pages count in VmPin (and VmLck in mm mode) until
 * they are unmapped; the charge adds up across maps.
 */
TEST_F(account, memlock_limit_enomem)
{
	char *buf = self->buf;
	__u64 iova = 0, iova2 = 0;
	size_t psz = self->psz;

	EXPECT_ERRNO(ENOMEM, ioas_map(self->fd, self->ioas_id, buf,
				      (LIMIT_PAGES + 1) * psz, &iova, RW));
	EXPECT_EQ(0, check_refs(self->fd, buf, (LIMIT_PAGES + 1) * psz, 0));
	EXPECT_EQ(self->pin0, vm_pin(getpid()));
	EXPECT_EQ(self->lck0, vm_lck(getpid()));

	/* Exactly the limit is allowed. */
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, buf, LIMIT_PAGES * psz,
			      &iova, RW));
	EXPECT_EQ(0, check_refs(self->fd, buf, LIMIT_PAGES * psz, 1));
	EXPECT_EQ(self->pin0 + LIMIT_PAGES * self->kb, vm_pin(getpid()));
	EXPECT_EQ(self->lck0 + LCK(LIMIT_PAGES), vm_lck(getpid()));

	/* One page more, in a map of its own, is not. */
	EXPECT_ERRNO(ENOMEM, ioas_map(self->fd, self->ioas_id,
				      buf + LIMIT_PAGES * psz, psz, &iova2,
				      RW));
	EXPECT_EQ(0, check_refs(self->fd, buf + LIMIT_PAGES * psz, psz, 0));

	/* The unmap gives the charge back. */
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova,
				LIMIT_PAGES * psz, NULL));
	EXPECT_EQ(self->pin0, vm_pin(getpid()));
	EXPECT_EQ(self->lck0, vm_lck(getpid()));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, buf + LIMIT_PAGES * psz,
			      psz, &iova2, RW));
	EXPECT_EQ(self->pin0 + self->kb, vm_pin(getpid()));
	EXPECT_EQ(self->lck0 + LCK(1), vm_lck(getpid()));
}

/*
 * Memory named with CAP_IPC_LOCK is not charged (no limit, no VmLck) but
 * counts in VmPin, as upstream; it does not use up the limit of what is
 * named afterwards without the capability.
 */
TEST_F(account, cap_ipc_lock_is_not_charged)
{
	char *buf = self->buf;
	size_t psz = self->psz;
	__u64 iova = 0, iova2 = 0;

	ASSERT_EQ(0, set_cap(CAP_IPC_LOCK, true));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, buf,
			      2 * LIMIT_PAGES * psz, &iova, RW));
	ASSERT_EQ(0, set_cap(CAP_IPC_LOCK, false));
	EXPECT_EQ(0, check_refs(self->fd, buf, 2 * LIMIT_PAGES * psz, 1));
	EXPECT_EQ(self->pin0 + 2 * LIMIT_PAGES * self->kb, vm_pin(getpid()));
	EXPECT_EQ(self->lck0, vm_lck(getpid()));

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id,
			      buf + 2 * LIMIT_PAGES * psz, LIMIT_PAGES * psz,
			      &iova2, RW));
	EXPECT_EQ(self->pin0 + 3 * LIMIT_PAGES * self->kb, vm_pin(getpid()));
	EXPECT_EQ(self->lck0 + LCK(LIMIT_PAGES), vm_lck(getpid()));
	EXPECT_ERRNO(ENOMEM, ioas_map(self->fd, self->ioas_id,
				      buf + 3 * LIMIT_PAGES * psz, psz, &iova2,
				      RW));
	/* What is pinned without the capability goes with the capability. */
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova,
				2 * LIMIT_PAGES * psz, NULL));
	EXPECT_EQ(self->pin0 + LIMIT_PAGES * self->kb, vm_pin(getpid()));
	EXPECT_EQ(self->lck0 + LCK(LIMIT_PAGES), vm_lck(getpid()));
}

/*
 * Pages pinned lazily, when the IOAS gets its first domain, are charged
 * then, and given back when the last domain goes.
 */
TEST_F(account, charged_while_a_domain_pins)
{
	size_t psz = self->psz;
	__u32 ioas_id, stdev_id;
	/* Inside the mock aperture, where a domain can come. */
	__u64 iova = MOCK_APERTURE_START;

	ASSERT_EQ(0, ioas_alloc(self->fd2, &ioas_id));
	ASSERT_EQ(0, ioas_map(self->fd2, ioas_id, self->buf,
			      LIMIT_PAGES * psz, &iova, FIXED));
	EXPECT_EQ(self->pin0, vm_pin(getpid()));
	ASSERT_EQ(0, mock_domain(self->fd2, ioas_id, &stdev_id, NULL, NULL));
	EXPECT_EQ(self->pin0 + LIMIT_PAGES * self->kb, vm_pin(getpid()));
	EXPECT_EQ(self->lck0 + LCK(LIMIT_PAGES), vm_lck(getpid()));
	ASSERT_EQ(0, destroy(self->fd2, stdev_id));
	EXPECT_EQ(self->pin0, vm_pin(getpid()));
	EXPECT_EQ(self->lck0, vm_lck(getpid()));

	/* Over the limit, the domain cannot be added: nothing stays. */
	iova = MOCK_APERTURE_START + LIMIT_PAGES * psz;
	ASSERT_EQ(0, ioas_map(self->fd2, ioas_id, self->buf + LIMIT_PAGES * psz,
			      psz, &iova, FIXED));
	EXPECT_ERRNO(ENOMEM, mock_domain(self->fd2, ioas_id, NULL, NULL, NULL));
	EXPECT_EQ(0, check_refs(self->fd2, self->buf,
				(LIMIT_PAGES + 1) * psz, 0));
	EXPECT_EQ(self->pin0, vm_pin(getpid()));
	EXPECT_EQ(self->lck0, vm_lck(getpid()));
}

/*
 * The areas IOMMU_IOAS_COPY makes of one mapping share its pages, and
 * upstream charges a page once however many of them pin it.
 */
TEST_F(account, copy_is_charged_once)
{
	size_t len = (LIMIT_PAGES - 4) * self->psz;
	__u64 src = 0, dst = 0, dst2 = 0;
	__u32 dst_id;

	ASSERT_EQ(0, ioas_alloc(self->fd, &dst_id));
	ASSERT_EQ(0, mock_domain(self->fd, dst_id, NULL, NULL, NULL));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, len, &src,
			      RW));
	ASSERT_EQ(0, ioas_copy(self->fd, dst_id, self->ioas_id, src, len, &dst,
			       RW));
	/* A part of it again, in the source IOAS. */
	ASSERT_EQ(0, ioas_copy(self->fd, self->ioas_id, self->ioas_id,
			       src + self->psz, 2 * self->psz, &dst2, RW));
	EXPECT_EQ(self->pin0 + (LIMIT_PAGES - 4) * self->kb, vm_pin(getpid()));
	EXPECT_EQ(self->lck0 + LCK(LIMIT_PAGES - 4), vm_lck(getpid()));
	/* The copies keep the pages charged when the source goes. */
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, src, len, NULL));
	EXPECT_EQ(self->pin0 + (LIMIT_PAGES - 4) * self->kb, vm_pin(getpid()));
	ASSERT_EQ(0, ioas_unmap(self->fd, dst_id, 0, UINT64_MAX, NULL));
	EXPECT_EQ(self->pin0 + 2 * self->kb, vm_pin(getpid()));
	EXPECT_EQ(self->lck0 + LCK(2), vm_lck(getpid()));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX, NULL));
	EXPECT_EQ(self->pin0, vm_pin(getpid()));
	EXPECT_EQ(self->lck0, vm_lck(getpid()));
}

/*
 * The charge is the mapping process's: a child of the same user mapping
 * its own memory through the same file shares the user's locked_vm in
 * user mode (so the parent's pages count against it) and has a locked_vm
 * of its own in mm mode. What the child leaves mapped when it exits is
 * given back when the parent unmaps it.
 */
TEST_F(account, charged_to_the_mapping_process)
{
	size_t psz = self->psz;
	pid_t parent = getpid(), child;
	__u64 iova = 0;
	int status;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf,
			      40 * psz, &iova, RW));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		char *mine = self->buf + 64 * psz;
		__u64 civa = 0;
		int ret;

		/* 40 + 40 pages: past the user's limit, not the process's. */
		ret = ioas_map(self->fd, self->ioas_id, mine, 40 * psz, &civa,
			       RW);
		if (variant->mm) {
			if (ret || vm_lck(getpid()) != 40 * self->kb ||
			    vm_pin(getpid()) != 40 * self->kb ||
			    vm_lck(parent) != self->lck0 + 40 * self->kb)
				_exit(1);
			if (ioas_unmap(self->fd, self->ioas_id, civa, 40 * psz,
				       NULL) || vm_lck(getpid()) ||
			    vm_pin(getpid()))
				_exit(2);
		} else if (!ret || errno != ENOMEM || vm_pin(getpid())) {
			_exit(3);
		}
		/* 40 + 20: within both; left mapped at exit. */
		if (ioas_map(self->fd, self->ioas_id, mine, 20 * psz, &civa,
			     RW))
			_exit(4);
		_exit(0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The parent's own charge was untouched by the child's. */
	EXPECT_EQ(self->pin0 + 40 * self->kb, vm_pin(getpid()));
	EXPECT_EQ(self->lck0 + LCK(40), vm_lck(getpid()));
	if (variant->mm) {
		/* 40 + 24 is the parent's own limit. */
		EXPECT_EQ(0, ioas_map(self->fd, self->ioas_id,
				      self->buf + 40 * psz, 24 * psz, &iova,
				      RW));
		EXPECT_ERRNO(ENOMEM, ioas_map(self->fd, self->ioas_id,
					      self->buf + 128 * psz, psz,
					      &iova, RW));
	} else {
		/* The user has 40 + 20 pages charged: 5 more do not fit. */
		EXPECT_ERRNO(ENOMEM, ioas_map(self->fd, self->ioas_id,
					      self->buf + 40 * psz, 5 * psz,
					      &iova, RW));
	}
	/* Unmapping everything gives the child's charge back too. */
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX, NULL));
	EXPECT_EQ(self->pin0, vm_pin(getpid()));
	EXPECT_EQ(self->lck0, vm_lck(getpid()));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf,
			      LIMIT_PAGES * psz, &iova, RW));
}

/*
 * The last close may come from another process (a child after fork):
 * the charge still goes back to the process and user that mapped.
 */
TEST_F(account, close_in_another_process_uncharges)
{
	size_t psz = self->psz;
	int go[2], status;
	__u32 ioas_id;
	__u64 iova = 0;
	pid_t child;
	char c;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf,
			      LIMIT_PAGES * psz, &iova, RW));
	EXPECT_EQ(self->pin0 + LIMIT_PAGES * self->kb, vm_pin(getpid()));
	ASSERT_EQ(0, pipe(go));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		close(go[1]);
		/* Once the parent has closed its copy, ours is the last. */
		if (read(go[0], &c, 1) != 0)
			_exit(1);
		_exit(close(self->fd) ? 2 : 0);
	}
	close(go[0]);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(self->pin0 + LIMIT_PAGES * self->kb, vm_pin(getpid()));
	close(go[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(self->pin0, vm_pin(getpid()));
	EXPECT_EQ(self->lck0, vm_lck(getpid()));
	/* The whole limit is free again, for the other file. */
	ASSERT_EQ(0, ioas_alloc(self->fd2, &ioas_id));
	ASSERT_EQ(0, mock_domain(self->fd2, ioas_id, NULL, NULL, NULL));
	ASSERT_EQ(0, ioas_map(self->fd2, ioas_id, self->buf,
			      LIMIT_PAGES * psz, &iova, RW));
}

static int access_replace(int fd, int access_fd, __u32 ioas_id)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_ACCESS_REPLACE_IOAS, access_fd);
	cmd.access_replace_ioas.ioas_id = ioas_id;
	return test_cmd(fd, &cmd);
}

#define PIN MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES

/*
 * An access is an object (it takes an id, which IOMMU_DESTROY cannot
 * destroy), uses its IOAS (which cannot be destroyed under it) and goes
 * when its close-on-exec descriptor is closed.
 */
TEST_F(ioas, access_create_and_destroy)
{
	int access_fd, other_fd;
	__u32 next_id, id = 0;

	EXPECT_ERRNO(EOPNOTSUPP, create_access(self->fd, self->ioas_id, 1 << 1,
					       &access_fd));
	EXPECT_ERRNO(ENOENT, create_access(self->fd, self->ioas_id + 100, 0,
					   &access_fd));
	ASSERT_EQ(0, create_access(self->fd, self->ioas_id, 0, &access_fd));
	EXPECT_EQ(FD_CLOEXEC, fcntl(access_fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->ioas_id));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, self->ioas_id + 1));
	ASSERT_EQ(0, ioas_alloc(self->fd, &next_id));
	EXPECT_EQ(self->ioas_id + 2, next_id);
	/* Only an access file names an access. */
	EXPECT_ERRNO(EBADFD, access_pages(self->fd, self->fd, 0, 1, NULL, 0,
					  &id));
	EXPECT_ERRNO(EBADFD, destroy_access_pages(self->fd, -1, 0));
	EXPECT_ERRNO(EBADFD, access_replace(self->fd, self->fd, next_id));
	EXPECT_ERRNO(EBADFD, access_rw(self->fd, self->fd, 0, &id, 1, 0));
	/* Any iommufd can carry the ops. */
	other_fd = iommufd_open();
	ASSERT_LE(0, other_fd);
	EXPECT_ERRNO(ENOENT, access_rw(other_fd, access_fd, 0, &id, 1, 0));
	close(other_fd);
	ASSERT_EQ(0, close(access_fd));
	EXPECT_EQ(0, destroy(self->fd, self->ioas_id));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, self->ioas_id + 1));
}

/* ACCESS_PAGES: the argument checks, in upstream's order. */
TEST_F(ioas, access_pages_rejects_bad_arguments)
{
	__u64 iova = MOCK_APERTURE_START, ro_iova = MOCK_APERTURE_START + 0x100000;
	size_t len = 4 * self->psz;
	int access_fd, plain_fd;
	__u32 id = 0;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, len, &iova,
			      FIXED));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf + len, len,
			      &ro_iova, IOMMU_IOAS_MAP_FIXED_IOVA |
			      IOMMU_IOAS_MAP_READABLE));
	ASSERT_EQ(0, create_access(self->fd, self->ioas_id, PIN, &access_fd));
	ASSERT_EQ(0, create_access(self->fd, self->ioas_id, 0, &plain_fd));

	EXPECT_ERRNO(ENOMEM, access_pages(self->fd, access_fd, iova,
					  (16 << 20) + 1, self->buf, 0, &id));
	EXPECT_ERRNO(EOPNOTSUPP, access_pages(self->fd, access_fd, iova, len,
					      self->buf, 1 << 1, &id));
	EXPECT_ERRNO(EOPNOTSUPP, access_pages(self->fd, plain_fd, iova, len,
					      self->buf, 0, &id));
	EXPECT_ERRNO(EINVAL, access_pages(self->fd, access_fd, iova, 0,
					  self->buf, 0, &id));
	EXPECT_ERRNO(EOVERFLOW, access_pages(self->fd, access_fd, UINT64_MAX,
					     2, NULL, 0, &id));
	EXPECT_ERRNO(EINVAL, access_pages(self->fd, access_fd, iova + 1,
					  self->psz, self->buf, 0, &id));
	/* Past the area, and where nothing is mapped. */
	EXPECT_ERRNO(ENOENT, access_pages(self->fd, access_fd, iova,
					  len + self->psz, self->buf, 0, &id));
	EXPECT_ERRNO(ENOENT, access_pages(self->fd, access_fd, iova - self->psz,
					  self->psz, NULL, 0, &id));
	/* A read-only area is not pinned for writing. */
	EXPECT_ERRNO(EPERM, access_pages(self->fd, access_fd, ro_iova, len,
					 self->buf + len,
					 MOCK_FLAGS_ACCESS_WRITE, &id));
	EXPECT_EQ(0, access_pages(self->fd, access_fd, ro_iova, len,
				  self->buf + len, 0, &id));
	EXPECT_EQ(0, destroy_access_pages(self->fd, access_fd, id));
	/* The pages are checked against uptr; a mismatch pins nothing. */
	EXPECT_ERRNO(EBADE, access_pages(self->fd, access_fd, iova, len,
					 self->buf + self->psz, 0, &id));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 0));
	EXPECT_ERRNO(ENOENT, destroy_access_pages(self->fd, access_fd, 12345));
	close(plain_fd);
	close(access_fd);
}

/*
 * An access pin and a domain share the pins: each page is pinned once,
 * however many users it has, and until the last goes.
 */
TEST_F(ioas, access_pins_are_shared_with_domains)
{
	__u64 iova = MOCK_APERTURE_START;
	size_t len = 4 * self->psz;
	__u32 id1 = 0, id2 = 0, stdev_id = 0, hwpt_id = 0;
	int access_fd;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, len, &iova,
			      FIXED));
	ASSERT_EQ(0, create_access(self->fd, self->ioas_id, PIN, &access_fd));

	/* Without a domain the access pins. */
	ASSERT_EQ(0, access_pages(self->fd, access_fd, iova, len, self->buf,
				  MOCK_FLAGS_ACCESS_WRITE, &id1));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 1));
	ASSERT_EQ(0, access_pages(self->fd, access_fd, iova, len, self->buf, 0,
				  &id2));
	EXPECT_NE(id1, id2);
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 1));

	/* A domain added and removed under the pins. */
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev_id, &hwpt_id,
				 NULL));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 1));
	EXPECT_EQ(0, check_map(self->fd, hwpt_id, iova, len, self->buf));
	EXPECT_EQ(0, destroy_access_pages(self->fd, access_fd, id1));
	ASSERT_EQ(0, destroy(self->fd, stdev_id));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 1));
	EXPECT_EQ(0, destroy_access_pages(self->fd, access_fd, id2));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 0));
	EXPECT_ERRNO(ENOENT, destroy_access_pages(self->fd, access_fd, id2));

	/* With a domain the access takes its pins. */
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev_id, NULL,
				 NULL));
	ASSERT_EQ(0, access_pages(self->fd, access_fd, iova + self->psz,
				  self->psz, self->buf + self->psz, 0, &id1));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 1));
	ASSERT_EQ(0, destroy(self->fd, stdev_id));
	EXPECT_EQ(0, check_refs(self->fd, self->buf + self->psz, self->psz,
				1));
	EXPECT_EQ(0, destroy_access_pages(self->fd, access_fd, id1));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 0));
	close(access_fd);
}

/*
 * Unmap of memory an access pins asks the access to let go (the selftest
 * access drops its pins there), then succeeds.
 */
TEST_F(ioas, unmap_of_access_pinned_memory)
{
	__u64 iova = MOCK_APERTURE_START, unmapped = 0;
	size_t len = 4 * self->psz;
	__u32 id = 0, keep = 0;
	int access_fd;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, len, &iova,
			      FIXED));
	iova = MOCK_APERTURE_START + 0x100000;
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf + len, len,
			      &iova, FIXED));
	ASSERT_EQ(0, create_access(self->fd, self->ioas_id, PIN, &access_fd));
	ASSERT_EQ(0, access_pages(self->fd, access_fd, MOCK_APERTURE_START,
				  len, self->buf, 0, &id));
	ASSERT_EQ(0, access_pages(self->fd, access_fd, iova, len,
				  self->buf + len, 0, &keep));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, MOCK_APERTURE_START,
				len, &unmapped));
	EXPECT_EQ(len, unmapped);
	EXPECT_ERRNO(ENOENT, destroy_access_pages(self->fd, access_fd, id));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 0));
	/* The other pin stays until unmap-all. */
	EXPECT_EQ(0, check_refs(self->fd, self->buf + len, len, 1));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX,
				&unmapped));
	EXPECT_EQ(len, unmapped);
	EXPECT_ERRNO(ENOENT, destroy_access_pages(self->fd, access_fd, keep));
	EXPECT_EQ(0, check_refs(self->fd, self->buf + len, len, 0));
	close(access_fd);
}

/* ACCESS_RW reads and writes the memory, with or without a domain. */
static void check_access_rw_data(struct __test_metadata *_metadata,
				 FIXTURE_DATA(ioas) *self, int access_fd,
				 __u64 iova)
{
	size_t len = 4 * self->psz;
	char tmp[64], *big;
	unsigned int i;

	/* Across a page boundary, both ways, fast and slow path. */
	for (i = 0; i < sizeof(tmp); i++)
		tmp[i] = i + 1;
	ASSERT_EQ(0, access_rw(self->fd, access_fd, iova + self->psz - 10, tmp,
			       sizeof(tmp), MOCK_ACCESS_RW_WRITE));
	EXPECT_EQ(0, memcmp(self->buf + self->psz - 10, tmp, sizeof(tmp)));
	memset(self->buf + self->psz - 10, 0x33, sizeof(tmp));
	ASSERT_EQ(0, access_rw(self->fd, access_fd, iova + self->psz - 10, tmp,
			       sizeof(tmp), MOCK_ACCESS_RW_SLOW_PATH));
	for (i = 0; i < sizeof(tmp); i++)
		EXPECT_EQ(0x33, tmp[i]);
	/* All of it at once. */
	big = malloc(len);
	ASSERT_NE(NULL, big);
	ASSERT_EQ(0, access_rw(self->fd, access_fd, iova, big, len, 0));
	EXPECT_EQ(0, memcmp(self->buf, big, len));
	free(big);
	/* Past the end, empty, unknown flags. */
	EXPECT_ERRNO(ENOENT, access_rw(self->fd, access_fd, iova + len - 1, tmp,
				       2, 0));
	EXPECT_ERRNO(EINVAL, access_rw(self->fd, access_fd, iova, tmp, 0, 0));
	EXPECT_ERRNO(EOPNOTSUPP, access_rw(self->fd, access_fd, iova, tmp, 1,
					   1 << 1));
	EXPECT_ERRNO(ENOMEM, access_rw(self->fd, access_fd, iova, tmp,
				       (16 << 20) + 1, 0));
}

TEST_F(ioas, access_rw_without_a_domain)
{
	__u64 iova = MOCK_APERTURE_START;
	int access_fd;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf,
			      4 * self->psz, &iova, FIXED));
	ASSERT_EQ(0, create_access(self->fd, self->ioas_id, 0, &access_fd));
	check_access_rw_data(_metadata, self, access_fd, iova);
	/* Nothing was left pinned. */
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 4 * self->psz, 0));
	close(access_fd);
}

TEST_F(ioas, access_rw_with_a_domain)
{
	__u64 iova = MOCK_APERTURE_START;
	int access_fd;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, NULL));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf,
			      4 * self->psz, &iova, FIXED));
	ASSERT_EQ(0, create_access(self->fd, self->ioas_id, 0, &access_fd));
	check_access_rw_data(_metadata, self, access_fd, iova);
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 4 * self->psz, 1));
	close(access_fd);
}

/*
 * Writes need a writable mapping (EPERM) of writable memory (EFAULT);
 * reads of two areas need them to touch.
 */
TEST_F(ioas, access_rw_permissions_and_gaps)
{
	__u64 iova = MOCK_APERTURE_START, ro_iova = MOCK_APERTURE_START + 0x100000;
	__u64 gap_iova = MOCK_APERTURE_START + 0x200000;
	char tmp[16] = { 0 };
	int access_fd;
	void *ro;

	ro = mmap(NULL, self->psz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		  0);
	ASSERT_NE(MAP_FAILED, ro);
	/* Mapped writable without a domain: nothing checked it yet. */
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, ro, self->psz, &iova,
			      FIXED));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, self->psz,
			      &ro_iova, IOMMU_IOAS_MAP_FIXED_IOVA |
			      IOMMU_IOAS_MAP_READABLE));
	ASSERT_EQ(0, create_access(self->fd, self->ioas_id, 0, &access_fd));
	EXPECT_ERRNO(EFAULT, access_rw(self->fd, access_fd, iova, tmp,
				       sizeof(tmp), MOCK_ACCESS_RW_WRITE));
	EXPECT_EQ(0, access_rw(self->fd, access_fd, iova, tmp, sizeof(tmp), 0));
	EXPECT_ERRNO(EPERM, access_rw(self->fd, access_fd, ro_iova, tmp,
				      sizeof(tmp), MOCK_ACCESS_RW_WRITE));
	EXPECT_EQ(0, access_rw(self->fd, access_fd, ro_iova, tmp, sizeof(tmp),
			       0));
	/* Two areas back to back read as one; a hole between is ENOENT. */
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf + self->psz,
			      self->psz, &gap_iova, FIXED));
	gap_iova += self->psz;
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf + 2 * self->psz,
			      self->psz, &gap_iova, FIXED));
	EXPECT_EQ(0, access_rw(self->fd, access_fd, gap_iova - 8, tmp,
			       sizeof(tmp), 0));
	EXPECT_ERRNO(ENOENT, access_rw(self->fd, access_fd,
				       gap_iova + self->psz - 8, tmp,
				       sizeof(tmp), 0));
	close(access_fd);
	munmap(ro, self->psz);
}

/*
 * REPLACE_IOAS moves an access, dropping its pins on the old IOAS, which
 * can then be destroyed. A pinning access needs page-aligned areas.
 */
TEST_F(ioas, access_replace_ioas)
{
	__u64 iova = MOCK_APERTURE_START, odd_iova = 0;
	size_t len = 4 * self->psz;
	__u32 new_id = 0, odd_id = 0, id = 0;
	int access_fd, other_fd;

	ASSERT_EQ(0, ioas_alloc(self->fd, &new_id));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, len, &iova,
			      FIXED));
	ASSERT_EQ(0, create_access(self->fd, self->ioas_id, PIN, &access_fd));
	ASSERT_EQ(0, access_pages(self->fd, access_fd, iova, len, self->buf, 0,
				  &id));
	EXPECT_ERRNO(ENOENT, access_replace(self->fd, access_fd, 9999));
	EXPECT_EQ(0, access_replace(self->fd, access_fd, self->ioas_id));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 1));
	ASSERT_EQ(0, access_replace(self->fd, access_fd, new_id));
	EXPECT_ERRNO(ENOENT, destroy_access_pages(self->fd, access_fd, id));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 0));
	EXPECT_EQ(0, destroy(self->fd, self->ioas_id));
	EXPECT_ERRNO(EBUSY, destroy(self->fd, new_id));

	/* An area off a page boundary refuses a pinning access. */
	ASSERT_EQ(0, ioas_alloc(self->fd, &odd_id));
	ASSERT_EQ(0, ioas_map(self->fd, odd_id, self->buf + 0x800, 0x800,
			      &odd_iova, RW));
	EXPECT_ERRNO(EADDRINUSE, access_replace(self->fd, access_fd, odd_id));
	EXPECT_ERRNO(EADDRINUSE, create_access(self->fd, odd_id, PIN,
					       &other_fd));
	ASSERT_EQ(0, create_access(self->fd, odd_id, 0, &other_fd));
	close(other_fd);
	/* ... and while it is there, maps must be page aligned. */
	EXPECT_ERRNO(EINVAL, ioas_map(self->fd, new_id, self->buf + 0x800,
				      0x800, NULL, RW));
	close(access_fd);
	EXPECT_EQ(0, ioas_map(self->fd, new_id, self->buf + 0x800, 0x800,
			      &odd_iova, RW));
}

/*
 * The access file holds the iommufd open: its pins last past the close
 * of the iommufd, until the access file goes.
 */
TEST_F(ioas, access_file_holds_the_iommufd)
{
	__u64 iova = MOCK_APERTURE_START;
	size_t len = 2 * self->psz;
	int access_fd;

	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, len, &iova,
			      FIXED));
	ASSERT_EQ(0, create_access(self->fd, self->ioas_id, PIN, &access_fd));
	ASSERT_EQ(0, access_pages(self->fd, access_fd, iova, len, self->buf, 0,
				  NULL));
	ASSERT_EQ(0, close(self->fd));
	self->fd = iommufd_open();
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 1));
	/* Another iommufd still reaches the access. */
	EXPECT_EQ(0, access_rw(self->fd, access_fd, iova, self->buf + len, 8,
			       0));
	ASSERT_EQ(0, close(access_fd));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 0));
}

TEST_HARNESS_MAIN
