// SPDX-License-Identifier: GPL-2.0
/*
 * Core rules of the rust-iommufd uAPI: ioctl dispatch, the extensible
 * structure size rules, copy-back, and the object id table as seen through
 * IOMMU_IOAS_ALLOC and IOMMU_DESTROY.
 *
 * Every test gets a freshly opened device (see FIXTURE_SETUP), so object ids
 * are predictable: they are per open file, lowest free first, from 1.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <linux/iommufd_test.h>

#include "iommufd_counters.h"
#include "iommufd_utils.h"

/*
 * Highest ioctl number of the iommufd range, implemented or not: the range
 * ends with IOMMU_TEST_CMD (IOMMUFD_CMD_BASE + 32), as in upstream built with
 * CONFIG_IOMMUFD_TEST, so 0x96..0x9f are holes inside it.
 */
#define IOMMUFD_CMD_LAST _IOC_NR(IOMMU_TEST_CMD)

/* The unused numbers between the last real command and the test one. */
#define IOMMUFD_CMD_HOLE_FIRST (IOMMUFD_CMD_IOAS_NOIOMMU_GET_PA + 1)
#define IOMMUFD_CMD_HOLE_LAST (IOMMUFD_CMD_LAST - 1)

/*
 * A number in range that the module does not implement yet. Move this to
 * another unimplemented command when IOMMU_IOAS_NOIOMMU_GET_PA lands.
 */
#define UNIMPLEMENTED_NR IOMMUFD_CMD_IOAS_NOIOMMU_GET_PA

FIXTURE(iommufd) {
	int fd;
};

FIXTURE_SETUP(iommufd)
{
	IOMMUFD_OPEN_OR_SKIP(self->fd);
}

FIXTURE_TEARDOWN(iommufd)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* ioctl dispatch */

/* Out-of-range numbers fail before the argument is touched: NULL is fine. */
TEST_F(iommufd, ioctl_nr_out_of_range_is_enotty_without_reading_arg)
{
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd,
				   _IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE - 1),
				   NULL));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd,
				   _IO(IOMMUFD_TYPE, IOMMUFD_CMD_LAST + 1),
				   NULL));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(IOMMUFD_TYPE, 0), NULL));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(IOMMUFD_TYPE, 0xff), NULL));
}

/*
 * In range, the size field is read before anything else is decided, so a bad
 * pointer faults even for unimplemented numbers and for request numbers whose
 * direction, size or type bits are wrong.
 */
TEST_F(iommufd, ioctl_nr_in_range_reads_size_first_efault)
{
	size_t psz = page_size();
	unsigned int nr;
	void *none;

	for (nr = IOMMUFD_CMD_BASE; nr <= IOMMUFD_CMD_LAST; nr++)
		EXPECT_ERRNO(EFAULT, ioctl(self->fd, _IO(IOMMUFD_TYPE, nr),
					   NULL));
	EXPECT_ERRNO(EFAULT, ioctl(self->fd,
				   _IOW(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY,
					__u32),
				   NULL));
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, _IO('x', IOMMUFD_CMD_DESTROY),
				   NULL));

	/* Mapped but inaccessible memory faults like NULL. */
	none = mmap(NULL, psz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, none);
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_DESTROY, none));
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_IOAS_ALLOC, none));
	munmap(none, psz);
}

/* The full request number must be _IO(IOMMUFD_TYPE, nr); nothing else acts. */
TEST_F(iommufd, ioctl_full_number_mismatch_is_enotty)
{
	struct iommu_destroy destroy_cmd = { .size = sizeof(destroy_cmd) };
	struct iommu_ioas_alloc alloc_cmd = { .size = sizeof(alloc_cmd) };
	__u32 id, next;

	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	destroy_cmd.id = id;

	EXPECT_ERRNO(ENOTTY, ioctl(self->fd,
				   _IOW(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY,
					__u32),
				   &destroy_cmd));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd,
				   _IOWR(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY,
					 struct iommu_destroy),
				   &destroy_cmd));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO('x', IOMMUFD_CMD_DESTROY),
				   &destroy_cmd));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd,
				   _IOWR(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC,
					 struct iommu_ioas_alloc),
				   &alloc_cmd));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd,
				   _IO('x', IOMMUFD_CMD_IOAS_ALLOC),
				   &alloc_cmd));

	/* No IOAS was made (the next id is 2) and the first one survived. */
	ASSERT_EQ(0, ioas_alloc(self->fd, &next));
	EXPECT_EQ(id + 1, next);
	EXPECT_EQ(0, destroy(self->fd, id));
}

TEST_F(iommufd, ioctl_unimplemented_nr_in_range_is_enotty)
{
	union {
		__u32 size;
		__u8 raw[64];
	} buf = { .size = sizeof(buf) };

	EXPECT_ERRNO(ENOTTY, ioctl(self->fd,
				   _IO(IOMMUFD_TYPE, UNIMPLEMENTED_NR), &buf));
}

/*
 * The numbers between the last real command and IOMMU_TEST_CMD belong to no
 * command: in range, so the size is read first (EFAULT on a bad pointer),
 * then ENOTTY.
 */
TEST_F(iommufd, ioctl_unused_nr_before_test_cmd_reads_size_then_enotty)
{
	union {
		__u32 size;
		__u8 raw[64];
	} buf = { .size = sizeof(buf) };
	unsigned int nr;

	ASSERT_EQ(0x96, IOMMUFD_CMD_HOLE_FIRST);
	ASSERT_EQ(0x9fU, IOMMUFD_CMD_HOLE_LAST);
	for (nr = IOMMUFD_CMD_HOLE_FIRST; nr <= IOMMUFD_CMD_HOLE_LAST; nr++) {
		EXPECT_ERRNO_LOG(ENOTTY, ioctl(self->fd, _IO(IOMMUFD_TYPE, nr),
					   &buf),
			  "nr %#x", nr);
		EXPECT_ERRNO_LOG(EFAULT, ioctl(self->fd, _IO(IOMMUFD_TYPE, nr),
					   NULL),
			  "nr %#x", nr);
	}
}

/* IOMMU_TEST_CMD closes the range: the number after it is out of range. */
TEST_F(iommufd, ioctl_range_ends_at_test_cmd)
{
	EXPECT_EQ(0xa0U, IOMMUFD_CMD_LAST);
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_TEST_CMD, NULL));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd,
				   _IO(IOMMUFD_TYPE, IOMMUFD_CMD_LAST + 1),
				   NULL));
}

/* Structure size rules: IOMMU_DESTROY */

TEST_F(iommufd, destroy_size_below_min_is_einval)
{
	const __u32 sizes[] = {
		0, sizeof(__u32), offsetofend(struct iommu_destroy, id) - 1,
	};
	struct iommu_destroy cmd = {};
	unsigned int i;
	__u32 id;

	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	cmd.id = id;
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		cmd.size = sizes[i];
		EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_DESTROY, &cmd));
	}
	/* Rejected before acting: the IOAS is still there. */
	EXPECT_EQ(0, destroy(self->fd, id));
}

/* With size == sizeof, whatever follows the structure is not looked at. */
TEST_F(iommufd, destroy_exact_size_ignores_bytes_past_size)
{
	union {
		struct iommu_destroy cmd;
		__u8 raw[64];
	} buf;
	__u32 id;

	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	memset(&buf, 0xa5, sizeof(buf));
	buf.cmd.size = sizeof(buf.cmd);
	buf.cmd.id = id;
	EXPECT_EQ(0, ioctl(self->fd, IOMMU_DESTROY, &buf));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, id));
}

/* A longer structure whose extra bytes are all zero acts as size == sizeof. */
TEST_F(iommufd, destroy_zero_tail_treated_as_exact_size)
{
	const __u32 sizes[] = {
		sizeof(struct iommu_destroy) + 1,
		sizeof(struct iommu_destroy) + 64,
		sizeof(struct iommu_destroy) + 65,
		256,
	};
	union {
		struct iommu_destroy cmd;
		__u8 raw[256];
	} buf;
	unsigned int i;
	__u32 id;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		ASSERT_EQ(0, ioas_alloc(self->fd, &id));
		memset(&buf, 0, sizeof(buf));
		buf.cmd.size = sizes[i];
		buf.cmd.id = id;
		EXPECT_EQ(0, ioctl(self->fd, IOMMU_DESTROY, &buf))
			TH_LOG("size %u", sizes[i]);
		EXPECT_ERRNO(ENOENT, destroy(self->fd, id));
	}
}

/* Any nonzero byte the kernel does not know about is refused, near or far. */
TEST_F(iommufd, destroy_nonzero_tail_is_e2big)
{
	const size_t offsets[] = { sizeof(struct iommu_destroy), 200, 255 };
	union {
		struct iommu_destroy cmd;
		__u8 raw[256];
	} buf;
	unsigned int i;
	__u32 id;

	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	for (i = 0; i < ARRAY_SIZE(offsets); i++) {
		memset(&buf, 0, sizeof(buf));
		buf.cmd.size = sizeof(buf);
		buf.cmd.id = id;
		buf.raw[offsets[i]] = 1;
		EXPECT_ERRNO(E2BIG, ioctl(self->fd, IOMMU_DESTROY, &buf));
	}
	/* Rejected before acting: the IOAS is still there. */
	EXPECT_EQ(0, destroy(self->fd, id));
}

/* A size reaching past readable memory faults, and nothing is destroyed. */
TEST_F(iommufd, destroy_size_past_mapping_is_efault)
{
	size_t psz = page_size();
	struct iommu_destroy *cmd;
	void *pages;
	__u32 id;

	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	pages = map_two_pages(PROT_NONE);
	ASSERT_NE(MAP_FAILED, pages);
	cmd = (void *)((char *)pages + psz - sizeof(*cmd));
	cmd->id = id;

	cmd->size = sizeof(*cmd) + 1;
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_DESTROY, cmd));
	cmd->size = psz;
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_DESTROY, cmd));

	unmap_two_pages(pages);
	EXPECT_EQ(0, destroy(self->fd, id));
}

/* Structure size rules and copy-back: IOMMU_IOAS_ALLOC */

TEST_F(iommufd, ioas_alloc_size_below_min_is_einval)
{
	const __u32 sizes[] = {
		0, sizeof(__u32),
		offsetofend(struct iommu_ioas_alloc, flags),
		offsetofend(struct iommu_ioas_alloc, out_ioas_id) - 1,
	};
	struct iommu_ioas_alloc cmd = {};
	unsigned int i;
	__u32 id;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		cmd.size = sizes[i];
		EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_IOAS_ALLOC, &cmd));
	}
	/* Nothing was allocated: the first id is still free. */
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(1U, id);
}

/*
 * With size == sizeof, bytes after the structure are neither read (they are
 * not zero, yet the call succeeds) nor written.
 */
TEST_F(iommufd, ioas_alloc_exact_size_ignores_bytes_past_size)
{
	union {
		struct iommu_ioas_alloc cmd;
		__u8 raw[64];
	} buf;
	size_t i;

	memset(&buf, 0xa5, sizeof(buf));
	buf.cmd.size = sizeof(buf.cmd);
	buf.cmd.flags = 0;
	buf.cmd.out_ioas_id = 0;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_ALLOC, &buf));
	EXPECT_EQ(1U, buf.cmd.out_ioas_id);
	for (i = sizeof(buf.cmd); i < sizeof(buf); i++)
		ASSERT_EQ(0xa5, buf.raw[i]) TH_LOG("byte %zu overwritten", i);
}

/*
 * A longer structure with a zero tail acts as size == sizeof: it allocates,
 * and the copy-back leaves the tail alone.
 */
TEST_F(iommufd, ioas_alloc_zero_tail_treated_as_exact_size)
{
	const __u32 sizes[] = {
		sizeof(struct iommu_ioas_alloc) + 1,
		sizeof(struct iommu_ioas_alloc) + 16,
		sizeof(struct iommu_ioas_alloc) + 64,
		sizeof(struct iommu_ioas_alloc) + 65,
		256,
	};
	union {
		struct iommu_ioas_alloc cmd;
		__u8 raw[256];
	} buf;
	unsigned int i;
	size_t j;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		memset(&buf, 0, sizeof(buf));
		buf.cmd.size = sizes[i];
		ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_ALLOC, &buf))
			TH_LOG("size %u", sizes[i]);
		/* Fresh file, nothing destroyed: ids go 1, 2, 3, ... */
		EXPECT_EQ(i + 1, buf.cmd.out_ioas_id);
		EXPECT_EQ(sizes[i], buf.cmd.size);
		EXPECT_EQ(0U, buf.cmd.flags);
		for (j = sizeof(buf.cmd); j < sizeof(buf); j++)
			ASSERT_EQ(0, buf.raw[j])
				TH_LOG("size %u: byte %zu written", sizes[i], j);
	}
}

TEST_F(iommufd, ioas_alloc_nonzero_tail_is_e2big)
{
	const size_t offsets[] = { sizeof(struct iommu_ioas_alloc), 200, 255 };
	union {
		struct iommu_ioas_alloc cmd;
		__u8 raw[256];
	} buf;
	unsigned int i;
	__u32 id;

	for (i = 0; i < ARRAY_SIZE(offsets); i++) {
		memset(&buf, 0, sizeof(buf));
		buf.cmd.size = sizeof(buf);
		buf.raw[offsets[i]] = 1;
		EXPECT_ERRNO(E2BIG, ioctl(self->fd, IOMMU_IOAS_ALLOC, &buf));
	}
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(1U, id);
}

TEST_F(iommufd, ioas_alloc_size_past_mapping_is_efault)
{
	size_t psz = page_size();
	struct iommu_ioas_alloc *cmd;
	void *pages;
	__u32 id;

	pages = map_two_pages(PROT_NONE);
	ASSERT_NE(MAP_FAILED, pages);
	cmd = (void *)((char *)pages + psz - sizeof(*cmd));

	cmd->size = sizeof(*cmd) + 1;
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_IOAS_ALLOC, cmd));
	cmd->size = psz;
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_IOAS_ALLOC, cmd));

	unmap_two_pages(pages);
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(1U, id);
}

/*
 * Only min(size, sizeof) bytes are copied back: the zero tail sits on a
 * read-only page, so copying back any of it would fault.
 */
TEST_F(iommufd, ioas_alloc_copy_back_stops_at_struct_end)
{
	size_t psz = page_size();
	struct iommu_ioas_alloc *cmd;
	void *pages;

	pages = map_two_pages(PROT_READ);
	ASSERT_NE(MAP_FAILED, pages);
	cmd = (void *)((char *)pages + psz - sizeof(*cmd));
	cmd->size = sizeof(*cmd) + 16;
	cmd->flags = 0;
	cmd->out_ioas_id = 0;

	EXPECT_EQ(0, ioctl(self->fd, IOMMU_IOAS_ALLOC, cmd));
	EXPECT_EQ(1U, cmd->out_ioas_id);
	unmap_two_pages(pages);
}

/*
 * If the id cannot be written back the call fails with EFAULT and leaves no
 * object: the id it reserved is free again for the next allocation. Tried
 * with out_ioas_id alone on the read-only page, and with the whole structure
 * there.
 */
TEST_F(iommufd, ioas_alloc_unwritable_result_is_efault_and_leaves_nothing)
{
	const size_t out_start = offsetof(struct iommu_ioas_alloc, out_ioas_id);
	size_t psz = page_size();
	struct iommu_ioas_alloc *cmd;
	unsigned int i;
	void *pages;
	__u32 first, id;

	/* An existing object, so the id given back is not simply 1. */
	ASSERT_EQ(0, ioas_alloc(self->fd, &first));
	ASSERT_EQ(1U, first);

	for (i = 0; i < 2; i++) {
		size_t offset = i == 0 ? psz - out_start : psz;
		char *base;

		pages = map_two_pages(PROT_READ | PROT_WRITE);
		ASSERT_NE(MAP_FAILED, pages);
		base = pages;
		cmd = (void *)(base + offset);
		cmd->size = sizeof(*cmd);
		cmd->flags = 0;
		cmd->out_ioas_id = 0;
		ASSERT_EQ(0, mprotect(base + psz, psz, PROT_READ));

		EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_IOAS_ALLOC, cmd));
		unmap_two_pages(pages);

		/* Not visible to destroy, and its id is the next one handed out. */
		EXPECT_ERRNO(ENOENT, destroy(self->fd, first + 1));
		ASSERT_EQ(0, ioas_alloc(self->fd, &id));
		EXPECT_EQ(first + 1, id);
		ASSERT_EQ(0, destroy(self->fd, id));
	}
}

/* IOMMU_IOAS_ALLOC and the object id table */

TEST_F(iommufd, ioas_alloc_nonzero_flags_is_eopnotsupp)
{
	const __u32 flags[] = { 1, 2, 1U << 31, ~0U };
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };
	unsigned int i;
	__u32 id;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		cmd.flags = flags[i];
		EXPECT_ERRNO(EOPNOTSUPP,
			     ioctl(self->fd, IOMMU_IOAS_ALLOC, &cmd));
	}
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(1U, id);
}

TEST_F(iommufd, ioas_alloc_ids_start_at_one_and_count_up)
{
	__u32 id;

	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(1U, id);
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(2U, id);
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(3U, id);
}

/* Freed ids are reused lowest first, not most recently freed first. */
TEST_F(iommufd, ioas_alloc_reuses_lowest_free_id)
{
	unsigned int i;
	__u32 id;

	for (i = 1; i <= 4; i++) {
		ASSERT_EQ(0, ioas_alloc(self->fd, &id));
		ASSERT_EQ(i, id);
	}

	ASSERT_EQ(0, destroy(self->fd, 1));
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(1U, id);

	ASSERT_EQ(0, destroy(self->fd, 2));
	ASSERT_EQ(0, destroy(self->fd, 3));
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(2U, id);
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(3U, id);
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(5U, id);
}

/* Each open file numbers its objects on its own. */
TEST_F(iommufd, ioas_ids_are_numbered_per_file)
{
	int other;
	__u32 id;

	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	ASSERT_EQ(2U, id);

	other = iommufd_open();
	ASSERT_LE(0, other);
	ASSERT_EQ(0, ioas_alloc(other, &id));
	EXPECT_EQ(1U, id);
	EXPECT_EQ(0, close(other));
}

/* IOMMU_DESTROY */

TEST_F(iommufd, destroy_unknown_id_is_enoent)
{
	const __u32 ids[] = { 0, 1, 2, 12345, 0x7fffffff, 0x80000000,
			      0xffffffff };
	unsigned int i;
	__u32 id;

	/* On an empty file ... */
	for (i = 0; i < ARRAY_SIZE(ids); i++)
		EXPECT_ERRNO(ENOENT, destroy(self->fd, ids[i]));

	/* ... and next to a live object, which stays. */
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	ASSERT_EQ(1U, id);
	for (i = 0; i < ARRAY_SIZE(ids); i++)
		if (ids[i] != id)
			EXPECT_ERRNO(ENOENT, destroy(self->fd, ids[i]));
	EXPECT_EQ(0, destroy(self->fd, id));
}

TEST_F(iommufd, destroy_twice_is_enoent)
{
	__u32 id;

	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(0, destroy(self->fd, id));
	EXPECT_ERRNO(ENOENT, destroy(self->fd, id));
}

/* Ids name objects of one open file only. */
TEST_F(iommufd, destroy_other_files_id_is_enoent)
{
	int other;
	__u32 id;

	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	other = iommufd_open();
	ASSERT_LE(0, other);
	EXPECT_ERRNO(ENOENT, destroy(other, id));
	EXPECT_EQ(0, close(other));
	EXPECT_EQ(0, destroy(self->fd, id));
}

/* Closing the device */

/*
 * Release must tear down every live object; the ids also have to stay dense
 * while the id table grows. Leaks are for kmemleak/dmesg to report.
 */
TEST_F(iommufd, close_with_1000_live_ioas)
{
	unsigned int i;
	int other;
	__u32 id;

	other = iommufd_open();
	ASSERT_LE(0, other);
	for (i = 1; i <= 1000; i++) {
		ASSERT_EQ(0, ioas_alloc(other, &id));
		ASSERT_EQ(i, id);
	}
	EXPECT_EQ(0, close(other));
}

/* Every open is a new, empty file, whatever the previous one left behind. */
TEST_F(iommufd, open_close_100_times_with_live_objects)
{
	unsigned int i, j;
	int other;
	__u32 id;

	for (i = 0; i < 100; i++) {
		other = iommufd_open();
		ASSERT_LE(0, other);
		for (j = 1; j <= 4; j++) {
			ASSERT_EQ(0, ioas_alloc(other, &id));
			ASSERT_EQ(j, id);
		}
		/* Leave a hole, so release sees a sparse table. */
		ASSERT_EQ(0, destroy(other, 2));
		ASSERT_EQ(0, close(other));
	}
}

/* The file */

/* The misc device has no read method, so the VFS refuses reads. */
/* A cgroup v2 hierarchy with the memory controller on for its children. */
static int cgroup2_root(char *root, size_t len)
{
	char dev[64], dir[256], type[64], path[512];
	FILE *mounts = fopen("/proc/mounts", "r");
	FILE *ctl;
	int found = 0;

	if (mounts) {
		while (fscanf(mounts, "%63s %255s %63s %*[^\n]", dev, dir,
			      type) == 3) {
			if (!strcmp(type, "cgroup2")) {
				snprintf(root, len, "%s", dir);
				found = 1;
				break;
			}
		}
		fclose(mounts);
	}
	if (!found) {
		snprintf(root, len, "/tmp/iommufd_rust_cgroup2");
		mkdir(root, 0755);
		if (mount("none", root, "cgroup2", 0, NULL))
			return -1;
	}
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", root);
	ctl = fopen(path, "w");
	if (!ctl)
		return -1;
	fputs("+memory", ctl);
	return fclose(ctl);
}

static int write_file(const char *dir, const char *name, const char *value)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(value, f);
	return fclose(f);
}

static long long read_number(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return file_number(path);
}

#define ACCOUNTED_OBJECTS 20000

/*
 * Objects and their ids are charged to the memory cgroup of the task
 * that creates them (GFP_KERNEL_ACCOUNT, as upstream), so a memcg limit
 * holds. Each IOAS costs well over 64 bytes of kernel memory; before
 * objects were accounted, the cgroup saw none of it.
 */
TEST_F(iommufd, objects_are_charged_to_the_callers_memcg)
{
	char root[256], cg[300], pid[32];
	long long before, after;
	__u32 id;
	int i;

	if (cgroup2_root(root, sizeof(root)))
		SKIP(return, "no cgroup v2 with the memory controller");
	snprintf(cg, sizeof(cg), "%s/iommufd_rust_%d", root, getpid());
	ASSERT_EQ(0, mkdir(cg, 0755));
	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, write_file(cg, "cgroup.procs", pid));

	before = read_number(cg, "memory.current");
	ASSERT_LE(0, before);
	for (i = 0; i < ACCOUNTED_OBJECTS; i++)
		ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	after = read_number(cg, "memory.current");
	EXPECT_LE(before + ACCOUNTED_OBJECTS * 64LL, after)
		TH_LOG("memory.current %lld before, %lld after %d IOASes",
		       before, after, ACCOUNTED_OBJECTS);

	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(0, write_file(root, "cgroup.procs", pid));
	EXPECT_EQ(0, rmdir(cg));
}

TEST_F(iommufd, read_is_einval)
{
	char buf[16];

	EXPECT_ERRNO(EINVAL, read(self->fd, buf, sizeof(buf)));
}

TEST_HARNESS_MAIN
