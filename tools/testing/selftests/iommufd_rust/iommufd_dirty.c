// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty tracking: IOMMU_HWPT_SET_DIRTY_TRACKING, IOMMU_HWPT_GET_DIRTY_BITMAP
 * and the selftest's IOMMU_TEST_OP_DIRTY, which marks IOVAs dirty in a mock
 * paging domain as device writes would.
 *
 * Expected results follow upstream's iommufd.ko built with
 * CONFIG_IOMMUFD_TEST=y, errno for errno; the suite passes against it too.
 * (Who may attach to a dirty-tracking HWPT, and IOMMU_HW_CAP_DIRTY_TRACKING,
 * are iommufd_mock's.)
 *
 * The fixture's IOAS maps BUF_PAGES pages at MOCK_APERTURE_START with
 * large pages off, so every IOMMU page table entry is one CPU page: a page
 * marked dirty is reported as exactly one bit at page_size() granularity.
 */
#include <stdint.h>

#include "iommufd_ioas_utils.h"

#define BUF_PAGES 128
#define START ((__u64)MOCK_APERTURE_START)

/* u64 words of a bitmap of BUF_PAGES bits, with room for an odd offset. */
#define BITMAP_WORDS (BUF_PAGES / 64 + 2)

static int set_dirty_tracking(int fd, __u32 hwpt_id, __u32 flags)
{
	struct iommu_hwpt_set_dirty_tracking cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.hwpt_id = hwpt_id,
	};

	return ioctl(fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd);
}

static int get_dirty_bitmap(int fd, __u32 hwpt_id, __u32 flags, __u64 iova,
			    __u64 length, __u64 page_size, void *data)
{
	struct iommu_hwpt_get_dirty_bitmap cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt_id,
		.flags = flags,
		.iova = iova,
		.length = length,
		.page_size = page_size,
		.data = PTR_U64(data),
	};

	return ioctl(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd);
}

/*
 * IOMMU_TEST_OP_DIRTY: marks dirty the page at @iova + i * @page_size for
 * every bit i of @bitmap; *count gets how many bits were set.
 */
static int mark_dirty(int fd, __u32 hwpt_id, __u64 iova, __u64 length,
		      __u64 page_size, const void *bitmap, __u64 *count)
{
	struct iommu_test_cmd cmd;
	int ret;

	test_cmd_init(&cmd, IOMMU_TEST_OP_DIRTY, hwpt_id);
	cmd.dirty.iova = iova;
	cmd.dirty.length = length;
	cmd.dirty.page_size = page_size;
	cmd.dirty.uptr = PTR_U64(bitmap);
	ret = test_cmd(fd, &cmd);
	if (!ret && count)
		*count = cmd.dirty.out_nr_dirty;
	return ret;
}

static void set_bit64(__u64 *map, unsigned long bit)
{
	map[bit / 64] |= 1ULL << (bit % 64);
}

static bool test_bit64(const __u64 *map, unsigned long bit)
{
	return map[bit / 64] & (1ULL << (bit % 64));
}

static unsigned long count_bits(const __u64 *map, unsigned long nbits)
{
	unsigned long bit, n = 0;

	for (bit = 0; bit < nbits; bit++)
		n += test_bit64(map, bit);
	return n;
}

/* The pages the tests mark dirty: both ends, word edges, a few inside. */
static const unsigned long dirty_pages[] = { 0, 5, 63, 64, 100, BUF_PAGES - 1 };

FIXTURE(dirty) {
	int fd;
	__u32 ioas_id;
	__u32 idev_id;
	__u32 auto_hwpt;	/* made by the first attach: no dirty ops */
	__u32 hwpt_id;		/* IOMMU_HWPT_ALLOC_DIRTY_TRACKING */
	size_t psz;
	void *buf;
	__u64 marks[BITMAP_WORDS];
	__u64 bitmap[BITMAP_WORDS];
};

FIXTURE_SETUP(dirty)
{
	struct iommu_option option = {
		.size = sizeof(option),
		.option_id = IOMMU_OPTION_HUGE_PAGES,
		.op = IOMMU_OPTION_OP_SET,
		.val64 = 0,
	};
	__u64 iova = START;
	unsigned int i;

	IOMMUFD_OPEN_OR_SKIP(self->fd);
	self->psz = page_size();
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	option.object_id = self->ioas_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_OPTION, &option));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL,
				 &self->auto_hwpt, &self->idev_id));
	self->buf = mmap(NULL, BUF_PAGES * self->psz, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf,
			      BUF_PAGES * self->psz, &iova, FIXED));
	ASSERT_EQ(0, hwpt_alloc(self->fd, self->idev_id, self->ioas_id,
				IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
				&self->hwpt_id));
	memset(self->marks, 0, sizeof(self->marks));
	for (i = 0; i < ARRAY_SIZE(dirty_pages); i++)
		set_bit64(self->marks, dirty_pages[i]);
	memset(self->bitmap, 0, sizeof(self->bitmap));
}

FIXTURE_TEARDOWN(dirty)
{
	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, BUF_PAGES * self->psz);
}

/* Tracking on, then the fixture's pages marked dirty through the mock. */
static int track_and_mark(FIXTURE_DATA(dirty) *self)
{
	__u64 count = 0;

	if (set_dirty_tracking(self->fd, self->hwpt_id,
			       IOMMU_HWPT_DIRTY_TRACKING_ENABLE))
		return -1;
	if (mark_dirty(self->fd, self->hwpt_id, START, BUF_PAGES * self->psz,
		       self->psz, self->marks, &count))
		return -1;
	return count == ARRAY_SIZE(dirty_pages) ? 0 : -1;
}

/* IOMMU_HWPT_SET_DIRTY_TRACKING */

TEST_F(dirty, set_tracking_on_and_off_again)
{
	EXPECT_EQ(0, set_dirty_tracking(self->fd, self->hwpt_id,
					IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	/* Switching it to what it is succeeds too. */
	EXPECT_EQ(0, set_dirty_tracking(self->fd, self->hwpt_id,
					IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	EXPECT_EQ(0, set_dirty_tracking(self->fd, self->hwpt_id, 0));
	EXPECT_EQ(0, set_dirty_tracking(self->fd, self->hwpt_id, 0));
}

TEST_F(dirty, set_tracking_unknown_flag_is_eopnotsupp)
{
	EXPECT_ERRNO(EOPNOTSUPP, set_dirty_tracking(self->fd, self->hwpt_id,
						    1U << 1));
	/* Checked before the id. */
	EXPECT_ERRNO(EOPNOTSUPP, set_dirty_tracking(self->fd, 9999, 1U << 1));
}

TEST_F(dirty, set_tracking_needs_a_paging_hwpt_enoent)
{
	__u32 parent, nested;

	EXPECT_ERRNO(ENOENT, set_dirty_tracking(self->fd, 9999,
						IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	EXPECT_ERRNO(ENOENT, set_dirty_tracking(self->fd, self->ioas_id,
						IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	EXPECT_ERRNO(ENOENT, set_dirty_tracking(self->fd, self->idev_id, 0));
	ASSERT_EQ(0, hwpt_alloc(self->fd, self->idev_id, self->ioas_id,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_EQ(0, hwpt_alloc_nested(self->fd, self->idev_id, parent, 0, 0,
				       &nested));
	EXPECT_ERRNO(ENOENT, set_dirty_tracking(self->fd, nested,
						IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	EXPECT_EQ(0, destroy(self->fd, nested));
	EXPECT_EQ(0, destroy(self->fd, parent));
}

/* A HWPT allocated without IOMMU_HWPT_ALLOC_DIRTY_TRACKING has no dirty ops. */
TEST_F(dirty, set_tracking_on_hwpt_without_dirty_flag_is_eopnotsupp)
{
	EXPECT_ERRNO(EOPNOTSUPP, set_dirty_tracking(self->fd, self->auto_hwpt,
						    IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	EXPECT_ERRNO(EOPNOTSUPP, set_dirty_tracking(self->fd, self->auto_hwpt,
						    0));
}

/* As upstream, the structure's __reserved is not looked at. */
TEST_F(dirty, set_tracking_ignores_reserved)
{
	struct iommu_hwpt_set_dirty_tracking cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
		.hwpt_id = self->hwpt_id,
		.__reserved = 0xffffffff,
	};

	EXPECT_EQ(0, ioctl(self->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd));
}

TEST_F(dirty, set_tracking_size_rules)
{
	struct {
		struct iommu_hwpt_set_dirty_tracking cmd;
		__u32 tail;
	} big = {
		.cmd = {
			.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
			.hwpt_id = self->hwpt_id,
		},
	};

	big.cmd.size = offsetofend(struct iommu_hwpt_set_dirty_tracking,
				   __reserved) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_SET_DIRTY_TRACKING,
				   &big));
	big.cmd.size = sizeof(big);
	big.tail = 1;
	EXPECT_ERRNO(E2BIG, ioctl(self->fd, IOMMU_HWPT_SET_DIRTY_TRACKING,
				  &big));
	big.tail = 0;
	EXPECT_EQ(0, ioctl(self->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &big));
}

/* Switching tracking on clears what the page table recorded before. */
TEST_F(dirty, enable_clears_stale_bits)
{
	ASSERT_EQ(0, track_and_mark(self));
	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt_id, 0));
	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt_id,
					IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0, START,
				      BUF_PAGES * self->psz, self->psz,
				      self->bitmap));
	EXPECT_EQ(0UL, count_bits(self->bitmap, BUF_PAGES));
}

/* Also when it was on already. */
TEST_F(dirty, enable_while_on_clears_too)
{
	ASSERT_EQ(0, track_and_mark(self));
	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt_id,
					IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0, START,
				      BUF_PAGES * self->psz, self->psz,
				      self->bitmap));
	EXPECT_EQ(0UL, count_bits(self->bitmap, BUF_PAGES));
}

/* Switching it off keeps the records: they are still reported. */
TEST_F(dirty, disable_keeps_bits)
{
	ASSERT_EQ(0, track_and_mark(self));
	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt_id, 0));
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0, START,
				      BUF_PAGES * self->psz, self->psz,
				      self->bitmap));
	EXPECT_EQ(0, memcmp(self->marks, self->bitmap, sizeof(self->marks)));
}

/* IOMMU_HWPT_GET_DIRTY_BITMAP */

/* Exactly the marked pages, then nothing: a report clears what it read. */
TEST_F(dirty, bitmap_holds_the_marked_pages_then_clears)
{
	ASSERT_EQ(0, track_and_mark(self));
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0, START,
				      BUF_PAGES * self->psz, self->psz,
				      self->bitmap));
	EXPECT_EQ(0, memcmp(self->marks, self->bitmap, sizeof(self->marks)));
	memset(self->bitmap, 0, sizeof(self->bitmap));
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0, START,
				      BUF_PAGES * self->psz, self->psz,
				      self->bitmap));
	EXPECT_EQ(0UL, count_bits(self->bitmap, BUF_PAGES));
}

TEST_F(dirty, no_clear_keeps_bits)
{
	int round;

	ASSERT_EQ(0, track_and_mark(self));
	for (round = 0; round < 2; round++) {
		memset(self->bitmap, 0, sizeof(self->bitmap));
		ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id,
					      IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR,
					      START, BUF_PAGES * self->psz,
					      self->psz, self->bitmap));
		EXPECT_EQ(0, memcmp(self->marks, self->bitmap,
				    sizeof(self->marks)));
	}
	/* A clearing report still sees them, and clears them. */
	memset(self->bitmap, 0, sizeof(self->bitmap));
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0, START,
				      BUF_PAGES * self->psz, self->psz,
				      self->bitmap));
	EXPECT_EQ(0, memcmp(self->marks, self->bitmap, sizeof(self->marks)));
	memset(self->bitmap, 0, sizeof(self->bitmap));
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0, START,
				      BUF_PAGES * self->psz, self->psz,
				      self->bitmap));
	EXPECT_EQ(0UL, count_bits(self->bitmap, BUF_PAGES));
}

/* The kernel only sets bits: what the caller left set stays set. */
TEST_F(dirty, bitmap_bits_are_only_set)
{
	ASSERT_EQ(0, track_and_mark(self));
	self->bitmap[0] = ~0ULL;
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0, START,
				      BUF_PAGES * self->psz, self->psz,
				      self->bitmap));
	EXPECT_EQ(~0ULL, self->bitmap[0]);
	EXPECT_EQ(self->marks[1], self->bitmap[1]);
}

/* A page larger than the bitmap's granule sets every bit it covers. */
TEST_F(dirty, finer_granule_sets_every_bit_of_a_page)
{
	unsigned long per_page = self->psz / MOCK_PAGE_SIZE, bit;
	__u64 *fine;

	ASSERT_LE(1UL, per_page);
	fine = calloc(BUF_PAGES * per_page / 64 + 1, sizeof(*fine));
	ASSERT_NE(NULL, fine);
	ASSERT_EQ(0, track_and_mark(self));
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0, START,
				      BUF_PAGES * self->psz, MOCK_PAGE_SIZE,
				      fine));
	/* EXPECT_EQ() is two statements: the braces are needed. */
	for (bit = 0; bit < BUF_PAGES * per_page; bit++) {
		EXPECT_EQ(test_bit64(self->marks, bit / per_page),
			  test_bit64(fine, bit));
	}
	free(fine);
}

/* A sub-range: bit 0 is its first page. */
TEST_F(dirty, sub_range_counts_from_its_own_iova)
{
	const unsigned long first = 64;

	ASSERT_EQ(0, track_and_mark(self));
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0,
				      START + first * self->psz,
				      (BUF_PAGES - first) * self->psz,
				      self->psz, self->bitmap));
	EXPECT_TRUE(test_bit64(self->bitmap, 0));		/* page 64 */
	EXPECT_TRUE(test_bit64(self->bitmap, 100 - first));
	EXPECT_TRUE(test_bit64(self->bitmap, BUF_PAGES - 1 - first));
	EXPECT_EQ(3UL, count_bits(self->bitmap, BUF_PAGES - first));
	/* Pages before it were not read, so not cleared either. */
	memset(self->bitmap, 0, sizeof(self->bitmap));
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0, START,
				      BUF_PAGES * self->psz, self->psz,
				      self->bitmap));
	EXPECT_EQ(3UL, count_bits(self->bitmap, BUF_PAGES));
	EXPECT_TRUE(test_bit64(self->bitmap, 0));
	EXPECT_TRUE(test_bit64(self->bitmap, 5));
	EXPECT_TRUE(test_bit64(self->bitmap, 63));
}

/* The bitmap need not be aligned: bits count from the address given. */
TEST_F(dirty, unaligned_bitmap)
{
	const size_t offsets[] = { 1, 7, 0xff1 };
	unsigned long bit;
	unsigned int i;
	__u8 *area;

	area = mmap(NULL, 2 * self->psz, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	for (i = 0; i < ARRAY_SIZE(offsets); i++) {
		/* Straddles the page boundary for the last offset. */
		__u8 *at = area + offsets[i] % self->psz;

		memset(area, 0, 2 * self->psz);
		ASSERT_EQ(0, track_and_mark(self));
		ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0,
					      START, BUF_PAGES * self->psz,
					      self->psz, at));
		for (bit = 0; bit < BUF_PAGES; bit++) {
			EXPECT_EQ(test_bit64(self->marks, bit),
				  !!(at[bit / 8] & (1U << (bit % 8))))
				TH_LOG("offset %#zx bit %lu", offsets[i], bit);
		}
		EXPECT_EQ(0, at[-1]);
		EXPECT_EQ(0, at[BUF_PAGES / 8]);
	}
	munmap(area, 2 * self->psz);
}

TEST_F(dirty, get_bitmap_flags_and_reserved_are_eopnotsupp)
{
	struct iommu_hwpt_get_dirty_bitmap cmd = {
		.size = sizeof(cmd),
		.hwpt_id = self->hwpt_id,
		.iova = START,
		.length = self->psz,
		.page_size = self->psz,
		.data = PTR_U64(self->bitmap),
		.__reserved = 1,
	};

	EXPECT_ERRNO(EOPNOTSUPP, get_dirty_bitmap(self->fd, self->hwpt_id,
						  1U << 1, START, self->psz,
						  self->psz, self->bitmap));
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP,
				       &cmd));
	/* Before the id and the range. */
	EXPECT_ERRNO(EOPNOTSUPP, get_dirty_bitmap(self->fd, 9999, 1U << 1, 0,
						  0, 0, NULL));
}

TEST_F(dirty, get_bitmap_needs_a_paging_hwpt_enoent)
{
	EXPECT_ERRNO(ENOENT, get_dirty_bitmap(self->fd, 9999, 0, START,
					      self->psz, self->psz,
					      self->bitmap));
	EXPECT_ERRNO(ENOENT, get_dirty_bitmap(self->fd, self->ioas_id, 0,
					      START, self->psz, self->psz,
					      self->bitmap));
	/* The id is looked up before the range is checked. */
	EXPECT_ERRNO(ENOENT, get_dirty_bitmap(self->fd, 9999, 0, START, 0, 0,
					      self->bitmap));
}

TEST_F(dirty, get_bitmap_range_errnos)
{
	const __u64 psz = self->psz;
	const struct {
		__u64 iova, length, page_size;
		int err;
	} cases[] = {
		{ START, 0, psz, EINVAL },
		{ ~0ULL - psz + 1, 2 * psz, psz, EOVERFLOW },
		/* Overflow is checked before the page size. */
		{ ~0ULL - psz + 1, 2 * psz, 0, EOVERFLOW },
		/* The IOAS's alignment, then the page size's. */
		{ START + 1, psz, 1, EINVAL },
		{ START, psz + 1, 1, EINVAL },
		{ START, psz, 0, EINVAL },
		{ START + psz, 2 * psz, 2 * psz, EINVAL },
		{ START, 3 * psz, 2 * psz, EINVAL },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		EXPECT_ERRNO_LOG(cases[i].err,
				 get_dirty_bitmap(self->fd, self->hwpt_id, 0,
						  cases[i].iova,
						  cases[i].length,
						  cases[i].page_size,
						  self->bitmap),
				 "case %u", i);
	/* A range running to the very end of the IOVA space is fine. */
	EXPECT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0,
				      ~0ULL - psz + 1, psz, psz,
				      self->bitmap));
}

/* The range is checked before the HWPT's dirty ops are looked for. */
TEST_F(dirty, get_bitmap_without_dirty_flag)
{
	EXPECT_ERRNO(EOPNOTSUPP, get_dirty_bitmap(self->fd, self->auto_hwpt,
						  0, START, self->psz,
						  self->psz, self->bitmap));
	EXPECT_ERRNO(EINVAL, get_dirty_bitmap(self->fd, self->auto_hwpt, 0,
					      START, 0, self->psz,
					      self->bitmap));
}

/* Tracking off: nothing is recorded, and reading works. */
TEST_F(dirty, get_bitmap_with_tracking_off_succeeds)
{
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0, START,
				      BUF_PAGES * self->psz, self->psz,
				      self->bitmap));
	EXPECT_EQ(0UL, count_bits(self->bitmap, BUF_PAGES));
}

/*
 * As upstream: the report runs from the first IOVA through mappings that
 * follow each other without a gap, and stops quietly at the first gap (or
 * if the range starts in one). What lies past the gap is neither reported
 * nor cleared.
 */
TEST_F(dirty, report_stops_at_a_gap)
{
	const __u64 psz = self->psz;
	__u64 iova = START, iova2 = START + 16 * psz, unmapped = 0, count = 0;
	__u64 marks[BITMAP_WORDS] = { 0 };

	/* The buffer again, without pages 8 to 15: 5 before the gap, 63 after. */
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, START, BUF_PAGES * psz,
				&unmapped));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf, 8 * psz,
			      &iova, FIXED));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id,
			      (char *)self->buf + 16 * psz,
			      (BUF_PAGES - 16) * psz, &iova2, FIXED));
	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt_id,
					IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	set_bit64(marks, 5);
	set_bit64(marks, 63);
	ASSERT_EQ(0, mark_dirty(self->fd, self->hwpt_id, START,
				BUF_PAGES * psz, psz, marks, &count));
	EXPECT_EQ(2ULL, count);

	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0, START,
				      BUF_PAGES * psz, psz, self->bitmap));
	EXPECT_TRUE(test_bit64(self->bitmap, 5));
	EXPECT_EQ(1UL, count_bits(self->bitmap, BUF_PAGES));
	/* Starting in the gap reports nothing, and succeeds. */
	memset(self->bitmap, 0, sizeof(self->bitmap));
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0,
				      START + 8 * psz, (BUF_PAGES - 8) * psz,
				      psz, self->bitmap));
	EXPECT_EQ(0UL, count_bits(self->bitmap, BUF_PAGES));
	/* Page 63 is still recorded. */
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0,
				      START + 16 * psz, (BUF_PAGES - 16) * psz,
				      psz, self->bitmap));
	EXPECT_TRUE(test_bit64(self->bitmap, 63 - 16));
	EXPECT_EQ(1UL, count_bits(self->bitmap, BUF_PAGES));
}

/* Unmapping drops the records with the mapping; a remap starts clean. */
TEST_F(dirty, remap_starts_clean)
{
	__u64 iova = START, unmapped = 0;

	ASSERT_EQ(0, track_and_mark(self));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, START,
				BUF_PAGES * self->psz, &unmapped));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, self->buf,
			      BUF_PAGES * self->psz, &iova, FIXED));
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0, START,
				      BUF_PAGES * self->psz, self->psz,
				      self->bitmap));
	EXPECT_EQ(0UL, count_bits(self->bitmap, BUF_PAGES));
}

/*
 * As upstream: a bitmap the kernel cannot write does not fail the call
 * (the bits are lost, and cleared unless NO_CLEAR).
 */
TEST_F(dirty, unwritable_bitmap_is_not_an_error)
{
	void *ro;

	ro = mmap(NULL, self->psz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		  0);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, track_and_mark(self));
	EXPECT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id,
				      IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR,
				      START, BUF_PAGES * self->psz, self->psz,
				      ro));
	EXPECT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id,
				      IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR,
				      START, BUF_PAGES * self->psz, self->psz,
				      NULL));
	/* NO_CLEAR kept them. */
	ASSERT_EQ(0, get_dirty_bitmap(self->fd, self->hwpt_id, 0, START,
				      BUF_PAGES * self->psz, self->psz,
				      self->bitmap));
	EXPECT_EQ(0, memcmp(self->marks, self->bitmap, sizeof(self->marks)));
	munmap(ro, self->psz);
}

TEST_F(dirty, get_bitmap_size_rules)
{
	struct {
		struct iommu_hwpt_get_dirty_bitmap cmd;
		__u64 tail;
	} big = {
		.cmd = {
			.hwpt_id = self->hwpt_id,
			.iova = START,
			.length = self->psz,
			.page_size = self->psz,
			.data = PTR_U64(self->bitmap),
		},
	};

	big.cmd.size = offsetofend(struct iommu_hwpt_get_dirty_bitmap, data) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &big));
	big.cmd.size = sizeof(big);
	big.tail = 1;
	EXPECT_ERRNO(E2BIG, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &big));
	big.tail = 0;
	EXPECT_EQ(0, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &big));
}

/* The HWPT can go while tracking is on. */
TEST_F(dirty, destroy_while_tracking)
{
	ASSERT_EQ(0, track_and_mark(self));
	EXPECT_EQ(0, destroy(self->fd, self->hwpt_id));
	EXPECT_ERRNO(ENOENT, set_dirty_tracking(self->fd, self->hwpt_id, 0));
}

/* IOMMU_TEST_OP_DIRTY */

TEST_F(dirty, mark_counts_set_bits)
{
	__u64 count = 0, none[BITMAP_WORDS] = { 0 };

	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt_id,
					IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	ASSERT_EQ(0, mark_dirty(self->fd, self->hwpt_id, START,
				BUF_PAGES * self->psz, self->psz, none, &count));
	EXPECT_EQ(0ULL, count);
	/* Bits past the length are not read. */
	ASSERT_EQ(0, mark_dirty(self->fd, self->hwpt_id, START,
				64 * self->psz, self->psz, self->marks,
				&count));
	EXPECT_EQ(3ULL, count);
}

/* A marked IOVA with nothing mapped still counts, as upstream. */
TEST_F(dirty, mark_unmapped_iova_counts)
{
	__u64 count = 0, one = 1;

	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt_id,
					IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	ASSERT_EQ(0, mark_dirty(self->fd, self->hwpt_id,
				START + BUF_PAGES * self->psz, self->psz,
				self->psz, &one, &count));
	EXPECT_EQ(1ULL, count);
}

TEST_F(dirty, mark_argument_errnos)
{
	const __u64 psz = self->psz;
	const struct {
		__u64 iova, length, page_size;
		bool null_map;
		int err;
	} cases[] = {
		{ START, psz, 0, false, EINVAL },
		{ START, 0, psz, false, EINVAL },
		{ START + 1, psz, psz, false, EINVAL },
		{ START, psz + 1, psz, false, EINVAL },
		{ START, psz, psz, true, EINVAL },
		/* More than 2^27 bits. */
		{ 0, ((1ULL << 27) + 1) * 2, 2, false, EOVERFLOW },
	};
	unsigned int i;

	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt_id,
					IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		EXPECT_ERRNO_LOG(cases[i].err,
				 mark_dirty(self->fd, self->hwpt_id,
					    cases[i].iova, cases[i].length,
					    cases[i].page_size,
					    cases[i].null_map ? NULL : self->marks,
					    NULL),
				 "case %u", i);
		/* Arguments come before the id. */
		EXPECT_ERRNO_LOG(cases[i].err,
				 mark_dirty(self->fd, 9999, cases[i].iova,
					    cases[i].length,
					    cases[i].page_size,
					    cases[i].null_map ? NULL : self->marks,
					    NULL),
				 "case %u, bad id", i);
	}
	/* Exactly 2^27 bits is allowed (the bitmap is not read past 1). */
	EXPECT_ERRNO(EFAULT, mark_dirty(self->fd, self->hwpt_id, 0,
					(1ULL << 27) * 2, 2, (void *)8, NULL));
}

TEST_F(dirty, mark_needs_a_mock_paging_hwpt)
{
	EXPECT_ERRNO(ENOENT, mark_dirty(self->fd, 9999, START, self->psz,
					self->psz, self->marks, NULL));
	EXPECT_ERRNO(ENOENT, mark_dirty(self->fd, self->ioas_id, START,
					self->psz, self->psz, self->marks,
					NULL));
	/* A mock paging HWPT without dirty tracking. */
	EXPECT_ERRNO(EINVAL, mark_dirty(self->fd, self->auto_hwpt, START,
					self->psz, self->psz, self->marks,
					NULL));
}

TEST_F(dirty, mark_needs_tracking_on)
{
	EXPECT_ERRNO(EINVAL, mark_dirty(self->fd, self->hwpt_id, START,
					self->psz, self->psz, self->marks,
					NULL));
	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt_id,
					IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt_id, 0));
	EXPECT_ERRNO(EINVAL, mark_dirty(self->fd, self->hwpt_id, START,
					self->psz, self->psz, self->marks,
					NULL));
}

TEST_F(dirty, mark_unreadable_bitmap_is_efault)
{
	ASSERT_EQ(0, set_dirty_tracking(self->fd, self->hwpt_id,
					IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	EXPECT_ERRNO(EFAULT, mark_dirty(self->fd, self->hwpt_id, START,
					self->psz, self->psz, (void *)8, NULL));
}

TEST_HARNESS_MAIN
