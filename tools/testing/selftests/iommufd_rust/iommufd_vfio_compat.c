// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO type1 compatibility: IOMMU_VFIO_IOAS (the compatibility IOAS and
 * its lifetime) and the <linux/vfio.h> container ioctls an iommufd file
 * answers: GET_API_VERSION, CHECK_EXTENSION, SET_IOMMU, IOMMU_GET_INFO
 * (its capability chain and argsz truncation), IOMMU_MAP_DMA and
 * IOMMU_UNMAP_DMA (type1 against type1v2 partial unmaps, UNMAP_ALL, the
 * flags refused), and the numbers no longer answered.
 *
 * Expected results are upstream's (7.3) errno for errno; every case runs
 * on both modules.
 */
#include <stdint.h>
#include <sys/mman.h>

#include <linux/vfio.h>

#include "iommufd_ioas_utils.h"

#define NPAGES 8

static int vfio_ioas(int fd, __u16 op, __u32 *ioas_id)
{
	struct iommu_vfio_ioas cmd = {
		.size = sizeof(cmd),
		.op = op,
		.ioas_id = ioas_id ? *ioas_id : 0,
	};
	int ret = ioctl(fd, IOMMU_VFIO_IOAS, &cmd);

	if (!ret && ioas_id)
		*ioas_id = cmd.ioas_id;
	return ret;
}

static int map_dma(int fd, void *va, __u64 iova, __u64 size, __u32 flags)
{
	struct vfio_iommu_type1_dma_map cmd = {
		.argsz = sizeof(cmd),
		.flags = flags,
		.vaddr = PTR_U64(va),
		.iova = iova,
		.size = size,
	};

	return ioctl(fd, VFIO_IOMMU_MAP_DMA, &cmd);
}

#define RW_DMA (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

/* VFIO_IOMMU_UNMAP_DMA; *unmapped gets what came back in size, on failure
 * too (it is preset to a poison value the kernel must overwrite). */
static int unmap_dma(int fd, __u64 iova, __u64 size, __u32 flags,
		     __u64 *unmapped)
{
	struct vfio_iommu_type1_dma_unmap cmd = {
		.argsz = sizeof(cmd),
		.flags = flags,
		.iova = iova,
		.size = size,
	};
	int ret = ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &cmd);

	if (unmapped)
		*unmapped = cmd.size;
	return ret;
}

static int huge_pages(int fd, __u32 ioas_id, __u16 op, __u64 *val)
{
	struct iommu_option cmd = {
		.size = sizeof(cmd),
		.option_id = IOMMU_OPTION_HUGE_PAGES,
		.op = op,
		.object_id = ioas_id,
		.val64 = *val,
	};
	int ret = ioctl(fd, IOMMU_OPTION, &cmd);

	if (!ret)
		*val = cmd.val64;
	return ret;
}

/* IOMMU_TEST_OP_ACCESS_PAGES: the access pins @length bytes at @iova. */
static int access_pin(int fd, int access_fd, __u64 iova, __u64 length,
		      void *uptr, __u32 *pages_id)
{
	struct iommu_test_cmd cmd;
	int ret;

	test_cmd_init(&cmd, IOMMU_TEST_OP_ACCESS_PAGES, access_fd);
	cmd.access_pages.iova = iova;
	cmd.access_pages.length = length;
	cmd.access_pages.uptr = PTR_U64(uptr);
	ret = test_cmd(fd, &cmd);
	if (!ret)
		*pages_id = cmd.access_pages.out_access_pages_id;
	return ret;
}

static int access_unpin(int fd, int access_fd, __u32 pages_id)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, access_fd);
	cmd.destroy_access_pages.access_pages_id = pages_id;
	return test_cmd(fd, &cmd);
}

/* An open file with one IOAS and no compatibility IOAS. */
FIXTURE(nocompat) {
	int fd;
	__u32 ioas_id;
};

FIXTURE_SETUP(nocompat)
{
	IOMMUFD_OPEN_OR_SKIP(self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
}

FIXTURE_TEARDOWN(nocompat)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(nocompat, vfio_ioas_inputs)
{
	struct iommu_vfio_ioas cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_VFIO_IOAS_GET,
	};
	struct {
		struct iommu_vfio_ioas cmd;
		__u64 tail;
	} big = { .cmd = { .size = sizeof(big), .op = IOMMU_VFIO_IOAS_GET } };
	__u32 stdev_id, hwpt_id, idev_id, id;

	EXPECT_ERRNO(ENODEV, ioctl(self->fd, IOMMU_VFIO_IOAS, &cmd));
	/* __reserved is checked before the op, an unknown op after it. */
	cmd.__reserved = 1;
	cmd.op = 7;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_VFIO_IOAS, &cmd));
	cmd.__reserved = 0;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_VFIO_IOAS, &cmd));
	cmd.op = IOMMU_VFIO_IOAS_GET;
	cmd.size = offsetofend(struct iommu_vfio_ioas, __reserved) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_VFIO_IOAS, &cmd));

	/* SET wants an IOAS: not 0, not a device or an HWPT. */
	id = 0;
	EXPECT_ERRNO(ENOENT, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &id));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev_id, &hwpt_id,
				 &idev_id));
	EXPECT_ERRNO(ENOENT,
		     vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &idev_id));
	EXPECT_ERRNO(ENOENT,
		     vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &hwpt_id));
	EXPECT_ERRNO(ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));

	id = self->ioas_id;
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &id));
	id = 0;
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	EXPECT_EQ(self->ioas_id, id);
	/* A larger structure with a zero tail is accepted. */
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_VFIO_IOAS, &big));
	EXPECT_EQ(self->ioas_id, big.cmd.ioas_id);
	big.tail = 1;
	EXPECT_ERRNO(E2BIG, ioctl(self->fd, IOMMU_VFIO_IOAS, &big));
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_CLEAR, NULL));
	EXPECT_ERRNO(ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	/* CLEAR with nothing set succeeds too. */
	EXPECT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_CLEAR, NULL));
}

/* Setting the compatibility IOAS does not hold it: it can be destroyed,
 * which forgets it, even for a later IOAS under the same id. */
TEST_F(nocompat, destroy_forgets_the_compat_ioas)
{
	__u32 id = self->ioas_id, again;

	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &id));
	ASSERT_EQ(0, destroy(self->fd, self->ioas_id));
	EXPECT_ERRNO(ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	EXPECT_ERRNO(ENODEV, ioctl(self->fd, VFIO_SET_IOMMU,
				   VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, ioas_alloc(self->fd, &again));
	ASSERT_EQ(self->ioas_id, again);
	EXPECT_ERRNO(ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
}

/* SET replaces; destroying the one replaced changes nothing; CLEAR leaves
 * the IOAS alive. */
TEST_F(nocompat, set_replaces_and_clear_keeps_the_ioas)
{
	__u32 second, id;

	ASSERT_EQ(0, ioas_alloc(self->fd, &second));
	id = self->ioas_id;
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &id));
	id = second;
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &id));
	ASSERT_EQ(0, destroy(self->fd, self->ioas_id));
	id = 0;
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	EXPECT_EQ(second, id);
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_CLEAR, NULL));
	EXPECT_ERRNO(ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	EXPECT_EQ(0, destroy(self->fd, second));
}

/* Closing the file with a compatibility IOAS that has mappings and a
 * device frees it all (the harness's leak check and the pins tell). */
TEST_F(nocompat, close_with_compat_mappings)
{
	size_t psz = page_size();
	void *buf = mmap(NULL, 2 * psz, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	__u32 id = self->ioas_id;
	int fd;

	ASSERT_NE(MAP_FAILED, buf);
	IOMMUFD_OPEN_OR_SKIP(fd);
	ASSERT_EQ(0, ioas_alloc(fd, &id));
	ASSERT_EQ(0, mock_domain(fd, id, NULL, NULL, NULL));
	ASSERT_EQ(0, vfio_ioas(fd, IOMMU_VFIO_IOAS_SET, &id));
	ASSERT_EQ(0, ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	ASSERT_EQ(0, map_dma(fd, buf, MOCK_APERTURE_START, 2 * psz, RW_DMA));
	/* A cut mapping, to close with two halves pinned. */
	ASSERT_EQ(0, unmap_dma(fd, MOCK_APERTURE_START, psz, 0, NULL));
	EXPECT_EQ(0, check_refs(self->fd, buf, psz, 0));
	EXPECT_EQ(0, check_refs(self->fd, (char *)buf + psz, psz, 1));
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(0, check_refs(self->fd, buf, 2 * psz, 0));
	munmap(buf, 2 * psz);
}

TEST_F(nocompat, api_version_and_extensions)
{
	__u32 id = self->ioas_id;

	EXPECT_EQ(VFIO_API_VERSION, ioctl(self->fd, VFIO_GET_API_VERSION));
	EXPECT_EQ(1, ioctl(self->fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU));
	EXPECT_EQ(1, ioctl(self->fd, VFIO_CHECK_EXTENSION,
			   VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(1, ioctl(self->fd, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL));
	/* The test kernel has no CONFIG_VFIO_NOIOMMU. */
	EXPECT_EQ(0, ioctl(self->fd, VFIO_CHECK_EXTENSION,
			   VFIO_NOIOMMU_IOMMU));
	EXPECT_EQ(0, ioctl(self->fd, VFIO_CHECK_EXTENSION,
			   __VFIO_RESERVED_TYPE1_NESTING_IOMMU));
	EXPECT_EQ(0, ioctl(self->fd, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR));
	EXPECT_EQ(0, ioctl(self->fd, VFIO_CHECK_EXTENSION,
			   VFIO_SPAPR_TCE_IOMMU));
	EXPECT_EQ(0, ioctl(self->fd, VFIO_CHECK_EXTENSION, VFIO_EEH));
	EXPECT_EQ(0, ioctl(self->fd, VFIO_CHECK_EXTENSION, 1000));
	/* The whole unsigned long is compared. */
	EXPECT_EQ(0, ioctl(self->fd, VFIO_CHECK_EXTENSION,
			   (1UL << 32) | VFIO_TYPE1v2_IOMMU));

	/* Cache coherency asks the compatibility IOAS: none, then one
	 * without a domain, then one with a domain that does not enforce. */
	EXPECT_ERRNO(ENODEV, ioctl(self->fd, VFIO_CHECK_EXTENSION,
				   VFIO_DMA_CC_IOMMU));
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &id));
	EXPECT_EQ(1, ioctl(self->fd, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, NULL));
	EXPECT_EQ(0, ioctl(self->fd, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU));
}

/* Without a compatibility IOAS: the argument checks come first, ENODEV
 * after them. */
TEST_F(nocompat, inputs_checked_before_the_compat_ioas)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = RW_DMA,
		.iova = MOCK_APERTURE_START,
		.size = page_size(),
		.vaddr = PTR_U64(&map),
	};
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = MOCK_APERTURE_START,
		.size = page_size(),
	};
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };

	EXPECT_ERRNO(EINVAL, ioctl(self->fd, VFIO_SET_IOMMU,
				   VFIO_SPAPR_TCE_IOMMU));
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, VFIO_SET_IOMMU,
				   VFIO_NOIOMMU_IOMMU));
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, VFIO_SET_IOMMU, 0));
	EXPECT_ERRNO(ENODEV, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	EXPECT_ERRNO(ENODEV, ioctl(self->fd, VFIO_SET_IOMMU,
				   VFIO_TYPE1v2_IOMMU));

	map.argsz = offsetofend(struct vfio_iommu_type1_dma_map, size) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, VFIO_IOMMU_MAP_DMA, &map));
	map.argsz = sizeof(map);
	map.flags = RW_DMA | VFIO_DMA_MAP_FLAG_VADDR;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, VFIO_IOMMU_MAP_DMA, &map));
	map.flags = 1U << 31;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, VFIO_IOMMU_MAP_DMA, &map));
	map.flags = RW_DMA;
	EXPECT_ERRNO(ENODEV, ioctl(self->fd, VFIO_IOMMU_MAP_DMA, &map));
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, VFIO_IOMMU_MAP_DMA, NULL));

	unmap.argsz = offsetofend(struct vfio_iommu_type1_dma_unmap, size) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, VFIO_IOMMU_UNMAP_DMA, &unmap));
	unmap.argsz = sizeof(unmap);
	unmap.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, VFIO_IOMMU_UNMAP_DMA, &unmap));
	unmap.flags = VFIO_DMA_UNMAP_FLAG_VADDR;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, VFIO_IOMMU_UNMAP_DMA, &unmap));
	unmap.flags = 0;
	EXPECT_ERRNO(ENODEV, ioctl(self->fd, VFIO_IOMMU_UNMAP_DMA, &unmap));
	/* ALL's own rule needs the IOAS first. */
	unmap.flags = VFIO_DMA_UNMAP_FLAG_ALL;
	EXPECT_ERRNO(ENODEV, ioctl(self->fd, VFIO_IOMMU_UNMAP_DMA, &unmap));
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, VFIO_IOMMU_UNMAP_DMA, NULL));

	info.argsz = offsetofend(struct vfio_iommu_type1_info, iova_pgsizes) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, VFIO_IOMMU_GET_INFO, &info));
	info.argsz = offsetofend(struct vfio_iommu_type1_info, iova_pgsizes);
	EXPECT_ERRNO(ENODEV, ioctl(self->fd, VFIO_IOMMU_GET_INFO, &info));
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, VFIO_IOMMU_GET_INFO, NULL));
}

/* Only the exact request numbers are answered; the container's SPAPR and
 * dirty-page ioctls are not. */
TEST_F(nocompat, other_vfio_numbers_are_enotty)
{
	__u32 id = self->ioas_id;
	int arg = 0;

	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &id));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, VFIO_IOMMU_ENABLE));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, VFIO_IOMMU_DISABLE));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, VFIO_IOMMU_DIRTY_PAGES, &arg));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(VFIO_TYPE, VFIO_BASE + 3)));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd,
				   _IOR(VFIO_TYPE, VFIO_BASE + 0, int), &arg));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO('V', VFIO_BASE + 0)));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(VFIO_TYPE, 0x7f)));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(VFIO_TYPE, 0xff)));
}

/* SET_IOMMU type1 turns the IOAS's large pages off, which is refused once
 * a domain maps something; type1v2 changes nothing. */
TEST_F(nocompat, set_iommu_type1_needs_an_unmapped_domain)
{
	size_t psz = page_size();
	__u64 iova = MOCK_APERTURE_START, val = 3;
	__u32 id = self->ioas_id;
	void *buf = mmap(NULL, psz, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	ASSERT_NE(MAP_FAILED, buf);
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &id));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, NULL));
	ASSERT_EQ(0, ioas_map(self->fd, self->ioas_id, buf, psz, &iova, FIXED));
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	EXPECT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, huge_pages(self->fd, self->ioas_id, IOMMU_OPTION_OP_GET,
				&val));
	EXPECT_EQ(1ULL, val);
	ASSERT_EQ(0, unmap_dma(self->fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, NULL));
	EXPECT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	ASSERT_EQ(0, huge_pages(self->fd, self->ioas_id, IOMMU_OPTION_OP_GET,
				&val));
	EXPECT_EQ(0ULL, val);
	/* type1v2 after type1 leaves large pages off. */
	EXPECT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, huge_pages(self->fd, self->ioas_id, IOMMU_OPTION_OP_GET,
				&val));
	EXPECT_EQ(0ULL, val);
	munmap(buf, psz);
}

/*
 * A compatibility IOAS with a mock domain (its hwpt_id kept for
 * MD_CHECK_MAP), set to the variant's type, and NPAGES pages of memory.
 */
FIXTURE(compat) {
	int fd;
	__u32 ioas_id;
	__u32 hwpt_id;
	size_t psz;
	char *buf;
};

FIXTURE_VARIANT(compat) {
	unsigned long type;
};

FIXTURE_VARIANT_ADD(compat, type1) {
	.type = VFIO_TYPE1_IOMMU,
};

FIXTURE_VARIANT_ADD(compat, type1v2) {
	.type = VFIO_TYPE1v2_IOMMU,
};

FIXTURE_SETUP(compat)
{
	__u32 id;

	self->psz = page_size();
	self->buf = mmap(NULL, NPAGES * self->psz, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	IOMMUFD_OPEN_OR_SKIP(self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL,
				 &self->hwpt_id, NULL));
	id = self->ioas_id;
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &id));
	ASSERT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, variant->type));
}

FIXTURE_TEARDOWN(compat)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->buf != MAP_FAILED)
		munmap(self->buf, NPAGES * self->psz);
}

#define IOVA(page) (MOCK_APERTURE_START + (__u64)(page) * self->psz)
#define VA(page) (self->buf + (size_t)(page) * self->psz)
#define TYPE1 (variant->type == VFIO_TYPE1_IOMMU)

TEST_F(compat, option_huge_pages_follows_the_type)
{
	__u64 val = 3;

	ASSERT_EQ(0, huge_pages(self->fd, self->ioas_id, IOMMU_OPTION_OP_GET,
				&val));
	EXPECT_EQ(TYPE1 ? 0ULL : 1ULL, val);
}

TEST_F(compat, map_rules)
{
	__u64 iova = 0;

	ASSERT_EQ(0, map_dma(self->fd, VA(0), IOVA(0), 2 * self->psz, RW_DMA));
	EXPECT_EQ(0, check_map(self->fd, self->hwpt_id, IOVA(0),
			       2 * self->psz, VA(0)));
	EXPECT_EQ(0, check_refs(self->fd, VA(0), 2 * self->psz, 1));
	/* Overlaps, the aperture, the alignment, lengths. */
	EXPECT_ERRNO(EEXIST, map_dma(self->fd, VA(4), IOVA(1), self->psz,
				     RW_DMA));
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, VA(4), MOCK_APERTURE_START -
				     self->psz, self->psz, RW_DMA));
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, VA(4), IOVA(4) + 1, self->psz,
				     RW_DMA));
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, VA(4), IOVA(4), 0, RW_DMA));
	/* Large pages off (type1) align mappings to the CPU's pages; the
	 * mock domain's own pages are smaller. */
	if (TYPE1)
		EXPECT_ERRNO(EINVAL, map_dma(self->fd, VA(4), IOVA(4),
					     self->psz / 2, RW_DMA));
	EXPECT_ERRNO(EOVERFLOW, map_dma(self->fd, (void *)UINTPTR_MAX,
					IOVA(4), self->psz, RW_DMA));
	/* Read-only and write-only mappings are made. */
	EXPECT_EQ(0, map_dma(self->fd, VA(4), IOVA(4), self->psz,
			     VFIO_DMA_MAP_FLAG_READ));
	EXPECT_EQ(0, map_dma(self->fd, VA(5), IOVA(5), self->psz,
			     VFIO_DMA_MAP_FLAG_WRITE));
	/* Neither permission is refused by the mock domain only (upstream's
	 * generic page table WARNs too). */
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, VA(6), IOVA(6), self->psz, 0));
	/* An IOAS_MAP of the same IOAS sees them. */
	iova = IOVA(5);
	EXPECT_ERRNO(EEXIST, ioas_map(self->fd, self->ioas_id, VA(6),
				      self->psz, &iova, FIXED));
}

TEST_F(compat, unmap_whole_mappings_and_all)
{
	__u64 unmapped = 1;

	ASSERT_EQ(0, map_dma(self->fd, VA(0), IOVA(0), 2 * self->psz, RW_DMA));
	ASSERT_EQ(0, map_dma(self->fd, VA(2), IOVA(2), self->psz, RW_DMA));
	ASSERT_EQ(0, unmap_dma(self->fd, IOVA(0), 2 * self->psz, 0,
			       &unmapped));
	EXPECT_EQ(2 * self->psz, unmapped);
	EXPECT_EQ(0, check_refs(self->fd, VA(0), 2 * self->psz, 0));
	/* Nothing there: success, nothing unmapped. */
	unmapped = 1;
	ASSERT_EQ(0, unmap_dma(self->fd, IOVA(0), 2 * self->psz, 0,
			       &unmapped));
	EXPECT_EQ(0ULL, unmapped);
	/* A zero size and a range past the end of the IOVA space. */
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, IOVA(0), 0, 0, NULL));
	EXPECT_ERRNO(EOVERFLOW, unmap_dma(self->fd, IOVA(0), UINT64_MAX, 0,
					  NULL));
	/* ALL needs iova and size 0, then takes everything. */
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, IOVA(2), 0,
				       VFIO_DMA_UNMAP_FLAG_ALL, NULL));
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, 0, self->psz,
				       VFIO_DMA_UNMAP_FLAG_ALL, NULL));
	ASSERT_EQ(0, map_dma(self->fd, VA(4), IOVA(6), 2 * self->psz, RW_DMA));
	ASSERT_EQ(0, unmap_dma(self->fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL,
			       &unmapped));
	EXPECT_EQ(3 * self->psz, unmapped);
	EXPECT_EQ(0, check_refs(self->fd, self->buf, NPAGES * self->psz, 0));
	ASSERT_EQ(0, unmap_dma(self->fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL,
			       &unmapped));
	EXPECT_EQ(0ULL, unmapped);
}

/* Part of a mapping: type1 cuts it, type1v2 refuses with ENOENT. */
TEST_F(compat, partial_unmap)
{
	__u64 unmapped;

	ASSERT_EQ(0, map_dma(self->fd, VA(0), IOVA(0), 4 * self->psz, RW_DMA));
	unmapped = 1;
	if (TYPE1) {
		ASSERT_EQ(0, unmap_dma(self->fd, IOVA(1), self->psz, 0,
				       &unmapped));
		EXPECT_EQ(self->psz, unmapped);
		EXPECT_EQ(0, check_refs(self->fd, VA(1), self->psz, 0));
		EXPECT_EQ(0, check_refs(self->fd, VA(0), self->psz, 1));
		EXPECT_EQ(0, check_refs(self->fd, VA(2), 2 * self->psz, 1));
		EXPECT_EQ(0, check_map(self->fd, self->hwpt_id, IOVA(0),
				       self->psz, VA(0)));
		EXPECT_EQ(0, check_map(self->fd, self->hwpt_id, IOVA(2),
				       2 * self->psz, VA(2)));
		EXPECT_NE(0, check_map(self->fd, self->hwpt_id, IOVA(1),
				       self->psz, VA(1)));
		/* A cut is made between pages only. */
		EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, IOVA(2) + 1,
					       self->psz, 0, NULL));
		EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, IOVA(2),
					       self->psz + 1, 0, NULL));
		/* The pieces go one by one, in any order. */
		ASSERT_EQ(0, unmap_dma(self->fd, IOVA(3), self->psz, 0,
				       &unmapped));
		EXPECT_EQ(self->psz, unmapped);
		ASSERT_EQ(0, unmap_dma(self->fd, IOVA(0), self->psz, 0,
				       &unmapped));
		EXPECT_EQ(self->psz, unmapped);
		ASSERT_EQ(0, unmap_dma(self->fd, IOVA(2), self->psz, 0,
				       &unmapped));
		EXPECT_EQ(self->psz, unmapped);
	} else {
		EXPECT_ERRNO(ENOENT, unmap_dma(self->fd, IOVA(1), self->psz, 0,
					       &unmapped));
		EXPECT_EQ(0ULL, unmapped);
		EXPECT_ERRNO(ENOENT, unmap_dma(self->fd, IOVA(0), self->psz, 0,
					       NULL));
		EXPECT_ERRNO(ENOENT, unmap_dma(self->fd, IOVA(3),
					       2 * self->psz, 0, NULL));
		EXPECT_EQ(0, check_refs(self->fd, VA(0), 4 * self->psz, 1));
		ASSERT_EQ(0, unmap_dma(self->fd, IOVA(0), 4 * self->psz, 0,
				       &unmapped));
		EXPECT_EQ(4 * self->psz, unmapped);
	}
	EXPECT_EQ(0, check_refs(self->fd, self->buf, NPAGES * self->psz, 0));
}

/* An unmap that takes a whole mapping and then stops at one it covers in
 * part reports what it did take, with its errno. */
TEST_F(compat, failed_unmap_reports_what_it_took)
{
	__u64 unmapped = 1;

	ASSERT_EQ(0, map_dma(self->fd, VA(0), IOVA(0), self->psz, RW_DMA));
	ASSERT_EQ(0, map_dma(self->fd, VA(1), IOVA(1), 2 * self->psz, RW_DMA));
	if (TYPE1) {
		ASSERT_EQ(0, unmap_dma(self->fd, IOVA(0), 2 * self->psz, 0,
				       &unmapped));
		EXPECT_EQ(2 * self->psz, unmapped);
		EXPECT_EQ(0, check_refs(self->fd, VA(2), self->psz, 1));
	} else {
		EXPECT_ERRNO(ENOENT, unmap_dma(self->fd, IOVA(0),
					       2 * self->psz, 0, &unmapped));
		EXPECT_EQ(self->psz, unmapped);
		EXPECT_EQ(0, check_refs(self->fd, VA(0), self->psz, 0));
		EXPECT_EQ(0, check_refs(self->fd, VA(1), 2 * self->psz, 1));
	}
}

/* Page by page, in a shuffled order, type1 cuts a mapping down to nothing
 * and every pin goes with its page. */
TEST_F(compat, type1_cuts_every_page_out)
{
	static const int order[NPAGES] = { 5, 0, 7, 2, 6, 1, 3, 4 };
	long pin_kb = vm_pin_kb();
	__u64 unmapped;
	int i;

	if (!TYPE1)
		SKIP(return, "type1 only");
	ASSERT_EQ(0, map_dma(self->fd, self->buf, IOVA(0), NPAGES * self->psz,
			     RW_DMA));
	EXPECT_EQ(pin_kb + (long)(NPAGES * self->psz / 1024), vm_pin_kb());
	for (i = 0; i < NPAGES; i++) {
		ASSERT_EQ(0, unmap_dma(self->fd, IOVA(order[i]), self->psz, 0,
				       &unmapped));
		EXPECT_EQ(self->psz, unmapped);
		EXPECT_EQ(0, check_refs(self->fd, VA(order[i]), self->psz, 0));
	}
	EXPECT_EQ(0, check_refs(self->fd, self->buf, NPAGES * self->psz, 0));
	EXPECT_EQ(pin_kb, vm_pin_kb());
	unmapped = 1;
	ASSERT_EQ(0, unmap_dma(self->fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL,
			       &unmapped));
	EXPECT_EQ(0ULL, unmapped);
}

/* The type1 rules follow the IOAS's large-page option, not the type
 * asked for: turning large pages back on gives type1v2's. */
TEST_F(compat, cuts_follow_the_large_page_option)
{
	__u64 val = 1;

	if (!TYPE1)
		SKIP(return, "type1 only");
	ASSERT_EQ(0, huge_pages(self->fd, self->ioas_id, IOMMU_OPTION_OP_SET,
				&val));
	ASSERT_EQ(0, map_dma(self->fd, VA(0), IOVA(0), 2 * self->psz, RW_DMA));
	EXPECT_ERRNO(ENOENT, unmap_dma(self->fd, IOVA(0), self->psz, 0, NULL));
}

/* A mapping an access pins is not cut (EINVAL) until the pin goes;
 * whole mappings are still unmapped (the access is told to let go). */
TEST_F(compat, type1_does_not_cut_what_an_access_pins)
{
	__u32 pages_id;
	__u64 unmapped;
	int access_fd;

	if (!TYPE1)
		SKIP(return, "type1 only");
	ASSERT_EQ(0, map_dma(self->fd, VA(0), IOVA(0), 4 * self->psz, RW_DMA));
	ASSERT_EQ(0, create_access(self->fd, self->ioas_id,
				   MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
				   &access_fd));
	ASSERT_EQ(0, access_pin(self->fd, access_fd, IOVA(0), self->psz, VA(0),
				&pages_id));
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, IOVA(1), self->psz, 0, NULL));
	ASSERT_EQ(0, access_unpin(self->fd, access_fd, pages_id));
	ASSERT_EQ(0, unmap_dma(self->fd, IOVA(1), self->psz, 0, &unmapped));
	EXPECT_EQ(self->psz, unmapped);
	/* A pinned piece goes whole. */
	ASSERT_EQ(0, access_pin(self->fd, access_fd, IOVA(0), self->psz, VA(0),
				&pages_id));
	ASSERT_EQ(0, unmap_dma(self->fd, IOVA(0), self->psz, 0, &unmapped));
	EXPECT_EQ(self->psz, unmapped);
	EXPECT_EQ(0, check_refs(self->fd, VA(0), self->psz, 0));
	close(access_fd);
}

TEST_F(compat, info_fixed_part_and_page_sizes)
{
	struct vfio_iommu_type1_info info;
	size_t min = offsetofend(struct vfio_iommu_type1_info, iova_pgsizes);
	unsigned char *raw = (unsigned char *)&info;
	size_t i;

	/* The pre-capability size: argsz, flags and the page sizes only. */
	memset(&info, 0xaa, sizeof(info));
	info.argsz = min;
	ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_GET_INFO, &info));
	EXPECT_EQ((__u32)(VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS), info.flags);
	/* Pages smaller than the CPU's count as one of its pages. */
	EXPECT_EQ(self->psz, info.iova_pgsizes & -info.iova_pgsizes);
	for (i = min; i < sizeof(info); i++)
		EXPECT_EQ(0xaa, raw[i]);
	/* 24 + DMA avail (12, padded to 16) + one IOVA range (16 + 16). */
	EXPECT_EQ(sizeof(info) + 16 + 32, info.argsz);

	memset(&info, 0xaa, sizeof(info));
	info.argsz = sizeof(info);
	ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_GET_INFO, &info));
	EXPECT_EQ(0U, info.cap_offset);
	EXPECT_EQ(0U, info.pad);
	EXPECT_EQ(sizeof(info) + 16 + 32, info.argsz);
}

/* A buffer of @argsz bytes, the rest of it poisoned, after GET_INFO. */
static int get_info_into(int fd, unsigned char *buf, size_t bufsz,
			 __u32 argsz)
{
	struct vfio_iommu_type1_info *info = (void *)buf;

	memset(buf, 0xaa, bufsz);
	memset(buf, 0, sizeof(*info));
	info->argsz = argsz;
	return ioctl(fd, VFIO_IOMMU_GET_INFO, buf);
}

static bool poisoned(const unsigned char *p, size_t len)
{
	while (len--)
		if (*p++ != 0xaa)
			return false;
	return true;
}

TEST_F(compat, info_capability_chain)
{
	unsigned char buf[256];
	struct vfio_iommu_type1_info *info = (void *)buf;
	struct vfio_iommu_type1_info_dma_avail *avail;
	struct vfio_iommu_type1_info_cap_iova_range *ranges;
	const size_t full = sizeof(*info) + 16 + 32;
	size_t argsz;

	ASSERT_EQ(0, get_info_into(self->fd, buf, sizeof(buf), full));
	EXPECT_EQ(full, info->argsz);
	ASSERT_EQ(sizeof(*info), info->cap_offset);
	avail = (void *)(buf + info->cap_offset);
	EXPECT_EQ(VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, avail->header.id);
	EXPECT_EQ(1, avail->header.version);
	EXPECT_EQ(UINT32_MAX, avail->avail);
	ASSERT_EQ(sizeof(*info) + 16, avail->header.next);
	ranges = (void *)(buf + avail->header.next);
	EXPECT_EQ(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, ranges->header.id);
	EXPECT_EQ(1, ranges->header.version);
	EXPECT_EQ(0U, ranges->header.next);
	ASSERT_EQ(1U, ranges->nr_iovas);
	EXPECT_EQ(0U, ranges->reserved);
	EXPECT_EQ((__u64)MOCK_APERTURE_START, ranges->iova_ranges[0].start);
	EXPECT_EQ((__u64)MOCK_APERTURE_LAST, ranges->iova_ranges[0].end);
	EXPECT_TRUE(poisoned(buf + full, sizeof(buf) - full));

	/* Every shorter buffer: nothing past argsz is written, argsz tells
	 * the full size, and the chain is offered only when it all fits. */
	for (argsz = sizeof(*info); argsz < full; argsz++) {
		ASSERT_EQ(0, get_info_into(self->fd, buf, sizeof(buf), argsz));
		EXPECT_EQ(full, info->argsz);
		EXPECT_EQ(0U, info->cap_offset);
		EXPECT_TRUE(poisoned(buf + argsz, sizeof(buf) - argsz))
			TH_LOG("argsz %zu", argsz);
	}
	/* The DMA-avail capability alone fits: written, not linked. */
	ASSERT_EQ(0, get_info_into(self->fd, buf, sizeof(buf),
				   sizeof(*info) + 12));
	avail = (void *)(buf + sizeof(*info));
	EXPECT_EQ(VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, avail->header.id);
	EXPECT_EQ(0U, avail->header.next);
	/* Room for it and the IOVA header but not the range: it is linked,
	 * the IOVA capability is left out whole. */
	ASSERT_EQ(0, get_info_into(self->fd, buf, sizeof(buf),
				   sizeof(*info) + 16 + 16));
	EXPECT_EQ(sizeof(*info) + 16, avail->header.next);
	EXPECT_TRUE(poisoned(buf + sizeof(*info) + 16, 16));
	/* Room for all but the range's last byte: the range is not written
	 * either. */
	ASSERT_EQ(0, get_info_into(self->fd, buf, sizeof(buf), full - 1));
	EXPECT_TRUE(poisoned(buf + sizeof(*info) + 16, 31));
	/* A larger buffer gets the same chain and the same argsz. */
	ASSERT_EQ(0, get_info_into(self->fd, buf, sizeof(buf), sizeof(buf)));
	EXPECT_EQ(full, info->argsz);
	EXPECT_EQ(sizeof(*info), info->cap_offset);
	EXPECT_TRUE(poisoned(buf + full, sizeof(buf) - full));
}

/* With no domain every page size from the CPU's up is offered, and the
 * IOVA range is the whole space; ALLOW_IOVAS does not change it, a
 * reservation splits it. */
TEST_F(nocompat, info_without_a_domain)
{
	unsigned char buf[256];
	struct vfio_iommu_type1_info *info = (void *)buf;
	struct vfio_iommu_type1_info_dma_avail *avail;
	struct vfio_iommu_type1_info_cap_iova_range *ranges;
	__u32 id = self->ioas_id;
	struct iommu_test_cmd cmd;

	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &id));
	ASSERT_EQ(0, get_info_into(self->fd, buf, sizeof(buf), sizeof(buf)));
	EXPECT_EQ((__u64)-(__s64)page_size(), info->iova_pgsizes);
	avail = (void *)(buf + info->cap_offset);
	ranges = (void *)(buf + avail->header.next);
	ASSERT_EQ(1U, ranges->nr_iovas);
	EXPECT_EQ(0U, ranges->iova_ranges[0].start);
	EXPECT_EQ(UINT64_MAX, ranges->iova_ranges[0].end);

	test_cmd_init(&cmd, IOMMU_TEST_OP_ADD_RESERVED, self->ioas_id);
	cmd.add_reserved.start = 0x10000;
	cmd.add_reserved.length = 0x10000;
	ASSERT_EQ(0, test_cmd(self->fd, &cmd));
	ASSERT_EQ(0, get_info_into(self->fd, buf, sizeof(buf), sizeof(buf)));
	EXPECT_EQ(sizeof(*info) + 16 + 16 + 2 * 16, info->argsz);
	avail = (void *)(buf + info->cap_offset);
	ranges = (void *)(buf + avail->header.next);
	ASSERT_EQ(2U, ranges->nr_iovas);
	EXPECT_EQ(0U, ranges->iova_ranges[0].start);
	EXPECT_EQ((__u64)0xffff, ranges->iova_ranges[0].end);
	EXPECT_EQ((__u64)0x20000, ranges->iova_ranges[1].start);
	EXPECT_EQ(UINT64_MAX, ranges->iova_ranges[1].end);
}

TEST_HARNESS_MAIN
