// SPDX-License-Identifier: GPL-2.0
/*
 * File-backed IOAS memory: IOMMU_IOAS_MAP_FILE of a memfd, and
 * IOMMU_IOAS_CHANGE_PROCESS, which moves the charge for the pinned pages
 * of every file mapping to the calling process. Every expected value is
 * upstream 7.3's, so the program passes on iommufd.ko too.
 *
 * As upstream, whether the file is a memfd and whether the range lies in
 * it is only found out when the pages are pinned: at once with a domain,
 * at the first access otherwise. The map_file fixture runs each case
 * without and with a mock domain.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <linux/iommufd_test.h>

#include "iommufd_ioas_utils.h"

#define BUF_PAGES 16

/* A memfd of @size bytes, mapped shared at *buf; -1 on failure. */
static int memfd_buffer(size_t size, char **buf)
{
	int mfd = memfd_create("iommufd_map_file", 0);

	if (mfd < 0)
		return -1;
	if (ftruncate(mfd, size)) {
		close(mfd);
		return -1;
	}
	*buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (*buf == MAP_FAILED) {
		close(mfd);
		return -1;
	}
	return mfd;
}

static long vm_pin(pid_t pid)
{
	return status_kb(pid, "VmPin");
}

static long vm_lck(pid_t pid)
{
	return status_kb(pid, "VmLck");
}

FIXTURE(map_file) {
	int fd;
	__u32 ioas_id, hwpt_id;
	size_t psz, size;
	int mfd;
	char *buf;
};

FIXTURE_VARIANT(map_file) {
	bool domain;
};

FIXTURE_VARIANT_ADD(map_file, no_domain) {
	.domain = false,
};

FIXTURE_VARIANT_ADD(map_file, mock_domain) {
	.domain = true,
};

FIXTURE_SETUP(map_file)
{
	self->mfd = -1;
	self->buf = NULL;
	IOMMUFD_OPEN_OR_SKIP(self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	self->hwpt_id = 0;
	if (variant->domain)
		ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL,
					 &self->hwpt_id, NULL));
	self->psz = page_size();
	self->size = BUF_PAGES * self->psz;
	self->mfd = memfd_buffer(self->size, &self->buf);
	ASSERT_LE(0, self->mfd);
	for (size_t i = 0; i < self->size; i++)
		self->buf[i] = (char)(i * 7 + 1);
}

FIXTURE_TEARDOWN(map_file)
{
	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
	/* Nothing of the file stays pinned once the iommufd is closed. */
	if (self->buf && self->buf != MAP_FAILED) {
		int fd = iommufd_open();

		if (fd >= 0) {
			EXPECT_EQ(0, check_refs(fd, self->buf, self->size, 0));
			close(fd);
		}
		munmap(self->buf, self->size);
	}
	if (self->mfd >= 0)
		close(self->mfd);
}

/* Pins each page of the file mapping carries: one while a domain maps it. */
#define DOMAIN_PINS (variant->domain ? 1 : 0)

/*
 * The argument checks, in upstream's order: flags, ULONG_MAX, no access
 * flag, the IOAS, the range, then the descriptor.
 */
TEST_F(map_file, rejects_bad_arguments)
{
	struct iommu_ioas_map_file cmd = {
		.size = sizeof(cmd),
		.flags = RW,
		.ioas_id = self->ioas_id,
		.fd = self->mfd,
		.length = self->psz,
	};
	__u64 unmapped = 1;
	int closed;

	cmd.size = offsetof(struct iommu_ioas_map_file, iova);
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd));
	cmd.size = sizeof(cmd);
	cmd.flags = RW | (1 << 3);
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd));
	cmd.flags = FIXED;
	cmd.iova = UINT64_MAX;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd));
	cmd.flags = RW;
	cmd.iova = 0;
	cmd.length = UINT64_MAX;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd));
	cmd.length = self->psz;
	cmd.flags = IOMMU_IOAS_MAP_FIXED_IOVA;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd));
	cmd.flags = RW;
	/* The IOAS is looked up before the range and the file. */
	cmd.ioas_id = 12345;
	cmd.fd = -1;
	EXPECT_ERRNO(ENOENT, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd));
	cmd.ioas_id = self->ioas_id;
	cmd.length = 0;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd));
	cmd.length = self->psz;
	cmd.start = UINT64_MAX - self->psz + 2;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd));
	cmd.start = 0;
	EXPECT_ERRNO(EBADF, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd));
	closed = dup(self->mfd);
	ASSERT_LE(0, closed);
	ASSERT_EQ(0, close(closed));
	cmd.fd = closed;
	EXPECT_ERRNO(EBADF, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd));
	/* Nothing was mapped. */
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX,
				&unmapped));
	EXPECT_EQ(0ULL, unmapped);
}

/*
 * A file that is not a memfd (a pipe) can be named, but not pinned:
 * EINVAL at once with a domain; without one, at the first copy and when a
 * domain comes.
 */
TEST_F(map_file, not_a_memfd_fails_when_pinned)
{
	__u64 iova = MOCK_APERTURE_START;
	int pipefd[2], access_fd;
	char c;

	ASSERT_EQ(0, pipe(pipefd));
	if (variant->domain) {
		EXPECT_ERRNO(EINVAL, ioas_map_file(self->fd, self->ioas_id,
						   pipefd[0], 0, self->psz,
						   &iova, FIXED));
	} else {
		ASSERT_EQ(0, ioas_map_file(self->fd, self->ioas_id, pipefd[0],
					   0, self->psz, &iova, FIXED));
		ASSERT_EQ(0, create_access(self->fd, self->ioas_id, 0,
					   &access_fd));
		EXPECT_ERRNO(EINVAL, access_rw(self->fd, access_fd, iova, &c,
					       1, 0));
		close(access_fd);
		EXPECT_ERRNO(EINVAL, mock_domain(self->fd, self->ioas_id, NULL,
						 NULL, NULL));
		EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova,
					self->psz, NULL));
	}
	close(pipefd[0]);
	close(pipefd[1]);
}

/*
 * A range past the end of the file, or past the largest file offset, or
 * of a file truncated to nothing, is EINVAL when pinned.
 */
TEST_F(map_file, range_outside_the_file)
{
	size_t psz = self->psz;
	__u64 iova;
	char *tbuf;
	int tmfd;

	struct {
		__u64 start, length;
	} bad[] = {
		{ 0, self->size + psz },
		{ self->size, psz },
		{ self->size - psz, 2 * psz },
		{ 1ULL << 63, psz },
	};

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		iova = MOCK_APERTURE_START;
		if (variant->domain) {
			EXPECT_ERRNO_LOG(EINVAL,
					 ioas_map_file(self->fd, self->ioas_id,
						       self->mfd, bad[i].start,
						       bad[i].length, &iova,
						       FIXED),
					 "range %u", i);
			continue;
		}
		EXPECT_EQ(0, ioas_map_file(self->fd, self->ioas_id, self->mfd,
					   bad[i].start, bad[i].length, &iova,
					   FIXED));
		EXPECT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova,
					bad[i].length, NULL));
	}
	/* The last page, exactly, is inside. */
	iova = 0;
	EXPECT_EQ(0, ioas_map_file(self->fd, self->ioas_id, self->mfd,
				   self->size - psz, psz, &iova, RW));

	tmfd = memfd_buffer(4 * psz, &tbuf);
	ASSERT_LE(0, tmfd);
	munmap(tbuf, 4 * psz);
	ASSERT_EQ(0, ftruncate(tmfd, 0));
	iova = MOCK_APERTURE_START + self->size;
	if (variant->domain)
		EXPECT_ERRNO(EINVAL, ioas_map_file(self->fd, self->ioas_id,
						   tmfd, 0, 4 * psz, &iova,
						   FIXED));
	close(tmfd);
}

/*
 * With a domain the file's pages are pinned and mapped at once: the mock
 * domain maps each IOVA to the page the memfd's own mapping shows, each
 * page carries one pin, and unmap releases them. Automatic IOVA keeps the
 * file offset's alignment.
 */
TEST_F(map_file, domain_maps_the_file_pages)
{
	size_t psz = self->psz;
	__u64 iova = 0, iova2 = 0, unmapped = 0;
	long pin0 = vm_pin(getpid());

	if (!variant->domain)
		SKIP(return, "needs a domain");
	ASSERT_EQ(0, ioas_map_file(self->fd, self->ioas_id, self->mfd, 0,
				   self->size, &iova, RW));
	EXPECT_EQ(0, check_map(self->fd, self->hwpt_id, iova, self->size,
			       self->buf));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, self->size, 1));
	EXPECT_EQ(pin0 + (long)(self->size / 1024), vm_pin(getpid()));

	/* Half a page in (the mock domain's granule): the offset is kept. */
	ASSERT_EQ(0, ioas_map_file(self->fd, self->ioas_id, self->mfd,
				   psz + psz / 2, 2 * psz, &iova2, RW));
	EXPECT_EQ(psz / 2, iova2 % psz);
	EXPECT_EQ(0, check_map(self->fd, self->hwpt_id, iova2, 2 * psz,
			       self->buf + psz + psz / 2));
	/* Its three pages carry a second pin. */
	EXPECT_EQ(0, check_refs(self->fd, self->buf + psz, 3 * psz, 2));

	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova, self->size,
				&unmapped));
	EXPECT_EQ(self->size, unmapped);
	EXPECT_EQ(0, check_refs(self->fd, self->buf, psz, 0));
	EXPECT_EQ(0, check_refs(self->fd, self->buf + psz, 3 * psz, 1));
	EXPECT_ERRNO(EINVAL, check_map(self->fd, self->hwpt_id, iova, psz,
				       self->buf));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX, NULL));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, self->size, 0));
	EXPECT_EQ(pin0, vm_pin(getpid()));
}

/*
 * An access reads and writes the file's pages (what the memfd's mapping
 * shows, both ways); without a domain they are pinned only for the copy.
 * A read-only mapping refuses writes (EPERM).
 */
TEST_F(map_file, access_rw_sees_the_file)
{
	size_t psz = self->psz, len = 4 * psz;
	__u64 iova = MOCK_APERTURE_START, ro = MOCK_APERTURE_START + len;
	char tmp[64], *big;
	int access_fd;

	ASSERT_EQ(0, ioas_map_file(self->fd, self->ioas_id, self->mfd, 0, len,
				   &iova, FIXED));
	ASSERT_EQ(0, create_access(self->fd, self->ioas_id, 0, &access_fd));
	for (unsigned int i = 0; i < sizeof(tmp); i++)
		tmp[i] = i + 3;
	ASSERT_EQ(0, access_rw(self->fd, access_fd, iova + psz - 10, tmp,
			       sizeof(tmp), MOCK_ACCESS_RW_WRITE));
	EXPECT_EQ(0, memcmp(self->buf + psz - 10, tmp, sizeof(tmp)));
	memset(self->buf + psz - 10, 0x44, sizeof(tmp));
	ASSERT_EQ(0, access_rw(self->fd, access_fd, iova + psz - 10, tmp,
			       sizeof(tmp), 0));
	for (unsigned int i = 0; i < sizeof(tmp); i++)
		EXPECT_EQ(0x44, tmp[i]);
	big = malloc(len);
	ASSERT_NE(NULL, big);
	ASSERT_EQ(0, access_rw(self->fd, access_fd, iova, big, len,
			       MOCK_ACCESS_RW_SLOW_PATH));
	EXPECT_EQ(0, memcmp(self->buf, big, len));
	free(big);
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, DOMAIN_PINS));

	ASSERT_EQ(0, ioas_map_file(self->fd, self->ioas_id, self->mfd, len,
				   psz, &ro,
				   IOMMU_IOAS_MAP_FIXED_IOVA |
					   IOMMU_IOAS_MAP_READABLE));
	EXPECT_ERRNO(EPERM, access_rw(self->fd, access_fd, ro, tmp, 1,
				      MOCK_ACCESS_RW_WRITE));
	EXPECT_EQ(0, access_rw(self->fd, access_fd, ro, tmp, 1, 0));
	EXPECT_EQ(self->buf[len], tmp[0]);
	close(access_fd);
}

/*
 * An access pin of file pages: the pages it gets are the memfd's (the
 * selftest compares them with the mapping's), pinned once with or without
 * a domain, until the access lets go.
 */
TEST_F(map_file, access_pin_of_file_pages)
{
	__u64 iova = MOCK_APERTURE_START;
	size_t len = 4 * self->psz;
	__u32 id = 0;
	int access_fd;

	ASSERT_EQ(0, ioas_map_file(self->fd, self->ioas_id, self->mfd, 0, len,
				   &iova, FIXED));
	ASSERT_EQ(0, create_access(self->fd, self->ioas_id,
				   MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
				   &access_fd));
	ASSERT_EQ(0, access_pages(self->fd, access_fd, iova, len, self->buf,
				  MOCK_FLAGS_ACCESS_WRITE, &id));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, 1));
	EXPECT_EQ(0, destroy_access_pages(self->fd, access_fd, id));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, len, DOMAIN_PINS));
	close(access_fd);
}

/*
 * The mapping holds the file, not the descriptor: after close(), the
 * mapping keeps working, a new domain pins and maps the file's pages, and
 * unmap releases them.
 */
TEST_F(map_file, close_of_the_memfd_keeps_the_mapping)
{
	__u64 iova = MOCK_APERTURE_START;
	__u32 stdev2, hwpt2;
	char tmp[16];
	int access_fd;

	ASSERT_EQ(0, ioas_map_file(self->fd, self->ioas_id, self->mfd, 0,
				   self->size, &iova, FIXED));
	ASSERT_EQ(0, close(self->mfd));
	self->mfd = -1;
	if (variant->domain)
		EXPECT_EQ(0, check_map(self->fd, self->hwpt_id, iova,
				       self->size, self->buf));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev2, &hwpt2,
				 NULL));
	EXPECT_EQ(0, check_map(self->fd, hwpt2, iova, self->size, self->buf));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, self->size, 1));
	ASSERT_EQ(0, create_access(self->fd, self->ioas_id, 0, &access_fd));
	ASSERT_EQ(0, access_rw(self->fd, access_fd, iova + 5, tmp, sizeof(tmp),
			       0));
	EXPECT_EQ(0, memcmp(self->buf + 5, tmp, sizeof(tmp)));
	close(access_fd);
	ASSERT_EQ(0, destroy(self->fd, stdev2));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, self->size, DOMAIN_PINS));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova, self->size,
				NULL));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, self->size, 0));
}

/* IOMMU_IOAS_COPY of a file mapping maps the same file pages. */
TEST_F(map_file, copy_of_a_file_mapping)
{
	__u64 iova = MOCK_APERTURE_START, dst = 0;
	__u32 ioas2, hwpt2;

	ASSERT_EQ(0, ioas_map_file(self->fd, self->ioas_id, self->mfd, 0,
				   self->size, &iova, FIXED));
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, mock_domain(self->fd, ioas2, NULL, &hwpt2, NULL));
	ASSERT_EQ(0, ioas_copy(self->fd, ioas2, self->ioas_id, iova,
			       self->size, &dst, RW));
	EXPECT_EQ(0, check_map(self->fd, hwpt2, dst, self->size, self->buf));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX, NULL));
	EXPECT_EQ(0, check_map(self->fd, hwpt2, dst, self->size, self->buf));
	ASSERT_EQ(0, ioas_unmap(self->fd, ioas2, 0, UINT64_MAX, NULL));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, self->size, 0));
}

/*
 * IOMMU_IOAS_CHANGE_PROCESS. The fixture has one IOAS with a mock domain,
 * so file mappings are pinned (and charged) at once; it drops
 * CAP_IPC_LOCK except in the cap_ipc_lock variant, whose mappings are not
 * charged and so have nothing to move (VmPin stays where it was counted).
 */
FIXTURE(change_process) {
	int fd;
	__u32 ioas_id;
	size_t psz, size;
	long kb;
	int mfd;
	char *buf;
};

FIXTURE_VARIANT(change_process) {
	bool cap_ipc_lock;
	bool mm;	/* IOMMU_OPTION_RLIMIT_MODE 1 */
};

FIXTURE_VARIANT_ADD(change_process, cap_ipc_lock) {
	.cap_ipc_lock = true,
};

FIXTURE_VARIANT_ADD(change_process, user) {
	.mm = false,
};

FIXTURE_VARIANT_ADD(change_process, mm) {
	.mm = true,
};

FIXTURE_SETUP(change_process)
{
	struct iommu_option opt = {
		.size = sizeof(opt),
		.option_id = IOMMU_OPTION_RLIMIT_MODE,
		.op = IOMMU_OPTION_OP_SET,
		.val64 = 1,
	};

	self->mfd = -1;
	self->buf = NULL;
	IOMMUFD_OPEN_OR_SKIP(self->fd);
	if (variant->mm)
		ASSERT_EQ(0, ioctl(self->fd, IOMMU_OPTION, &opt));
	if (!variant->cap_ipc_lock)
		ASSERT_EQ(0, set_cap(CAP_IPC_LOCK, false));
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, NULL));
	self->psz = page_size();
	self->kb = self->psz / 1024;
	self->size = BUF_PAGES * self->psz;
	self->mfd = memfd_buffer(self->size, &self->buf);
	ASSERT_LE(0, self->mfd);
}

FIXTURE_TEARDOWN(change_process)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, self->size);
	if (self->mfd >= 0)
		close(self->mfd);
}

/* Pages moved by a change of process: none when nothing was charged. */
#define MOVED(pages) (variant->cap_ipc_lock ? 0 : (long)(pages) * self->kb)
/* VmLck moves only in mm mode. */
#define LCK(pages) (variant->mm ? (long)(pages) * self->kb : 0)

/*
 * __reserved must be 0 (EOPNOTSUPP, checked first); user memory mapped in
 * any IOAS of the file refuses the move (EINVAL); a file with no mapping,
 * or only file mappings, moves (to itself here).
 */
TEST_F(change_process, rejects_reserved_and_user_memory)
{
	struct iommu_ioas_change_process cmd = {
		.size = sizeof(cmd),
		.__reserved = 1,
	};
	__u64 iova = 0, user_iova = 0;
	long pin0 = vm_pin(getpid());
	__u32 ioas2;
	char *anon;

	EXPECT_EQ(0, change_process(self->fd));
	cmd.size = 4;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd));
	cmd.size = sizeof(cmd);

	anon = mmap(NULL, self->psz, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, anon);
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, ioas_map(self->fd, ioas2, anon, self->psz, &user_iova,
			      RW));
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_IOAS_CHANGE_PROCESS,
				       &cmd));
	EXPECT_ERRNO(EINVAL, change_process(self->fd));
	ASSERT_EQ(0, ioas_map_file(self->fd, self->ioas_id, self->mfd, 0,
				   self->size, &iova, RW));
	EXPECT_ERRNO(EINVAL, change_process(self->fd));
	ASSERT_EQ(0, ioas_unmap(self->fd, ioas2, user_iova, self->psz, NULL));
	EXPECT_EQ(0, change_process(self->fd));
	/* To the same process: nothing changes. */
	EXPECT_EQ(pin0 + (long)(self->size / 1024), vm_pin(getpid()));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, iova, self->size,
				NULL));
	EXPECT_EQ(pin0, vm_pin(getpid()));
	munmap(anon, self->psz);
}

/*
 * A child moves the charge of the parent's file mappings to itself:
 * VmPin (and VmLck in mm mode) leave the parent and come to the child;
 * the areas IOMMU_IOAS_COPY makes of one mapping move once. Unmapping
 * after the child is gone gives nothing back to the parent.
 */
TEST_F(change_process, moves_to_the_calling_process)
{
	pid_t parent = getpid(), child;
	long pin0 = vm_pin(parent), lck0 = vm_lck(parent);
	__u64 iova = 0, dst = 0;
	__u32 ioas2;
	int status;

	ASSERT_EQ(0, ioas_map_file(self->fd, self->ioas_id, self->mfd, 0,
				   4 * self->psz, &iova, RW));
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, mock_domain(self->fd, ioas2, NULL, NULL, NULL));
	ASSERT_EQ(0, ioas_copy(self->fd, ioas2, self->ioas_id, iova,
			       4 * self->psz, &dst, RW));
	EXPECT_EQ(pin0 + 4 * self->kb, vm_pin(parent));
	EXPECT_EQ(lck0 + LCK(4), vm_lck(parent));

	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		if (vm_pin(getpid()) != 0 || vm_lck(getpid()) != 0)
			_exit(1);
		if (change_process(self->fd))
			_exit(2);
		/* (No variant both charges VmLck and keeps CAP_IPC_LOCK.) */
		if (vm_pin(parent) != pin0 + 4 * self->kb - MOVED(4) ||
		    vm_lck(parent) != lck0)
			_exit(3);
		if (vm_pin(getpid()) != MOVED(4) || vm_lck(getpid()) != LCK(4))
			_exit(4);
		/* Again: already the payer, nothing moves. */
		if (change_process(self->fd) || vm_pin(getpid()) != MOVED(4))
			_exit(5);
		_exit(0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(pin0 + 4 * self->kb - MOVED(4), vm_pin(parent));
	ASSERT_EQ(0, ioas_unmap(self->fd, ioas2, 0, UINT64_MAX, NULL));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX, NULL));
	EXPECT_EQ(pin0, vm_pin(parent));
	EXPECT_EQ(lck0, vm_lck(parent));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, self->size, 0));
}

/*
 * All or nothing: with two mappings whose sum passes the caller's
 * RLIMIT_MEMLOCK, the move fails with ENOMEM and nothing has moved; with
 * the limit back, everything moves.
 */
TEST_F(change_process, enomem_moves_nothing)
{
	pid_t parent = getpid(), child;
	long pin0 = vm_pin(parent), lck0 = vm_lck(parent);
	__u64 iova = 0, iova2 = 0;
	__u32 ioas2;
	int status;

	if (variant->cap_ipc_lock)
		SKIP(return, "nothing is charged with CAP_IPC_LOCK");
	ASSERT_EQ(0, ioas_map_file(self->fd, self->ioas_id, self->mfd, 0,
				   4 * self->psz, &iova, RW));
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, mock_domain(self->fd, ioas2, NULL, NULL, NULL));
	ASSERT_EQ(0, ioas_map_file(self->fd, ioas2, self->mfd, 4 * self->psz,
				   4 * self->psz, &iova2, RW));
	EXPECT_EQ(pin0 + 8 * self->kb, vm_pin(parent));

	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		struct rlimit rl, low;

		if (getrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(1);
		/* Room for one mapping, not both. */
		low.rlim_cur = 6 * self->psz;
		low.rlim_max = rl.rlim_max;
		if (setrlimit(RLIMIT_MEMLOCK, &low))
			_exit(2);
		if (!change_process(self->fd) || errno != ENOMEM)
			_exit(3);
		if (vm_pin(parent) != pin0 + 8 * self->kb ||
		    vm_lck(parent) != lck0 + LCK(8) || vm_pin(getpid()) ||
		    vm_lck(getpid()))
			_exit(4);
		if (setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(5);
		if (change_process(self->fd))
			_exit(6);
		if (vm_pin(parent) != pin0 || vm_lck(parent) != lck0 ||
		    vm_pin(getpid()) != 8 * self->kb ||
		    vm_lck(getpid()) != LCK(8))
			_exit(7);
		_exit(0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas_id, 0, UINT64_MAX, NULL));
	ASSERT_EQ(0, ioas_unmap(self->fd, ioas2, 0, UINT64_MAX, NULL));
	EXPECT_EQ(pin0, vm_pin(parent));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, self->size, 0));
}

/*
 * After a move, pins taken later (a new domain) are charged to the new
 * payer, and given back to it.
 */
TEST_F(change_process, later_pins_charge_the_new_payer)
{
	pid_t parent = getpid(), child;
	long pin0 = vm_pin(parent);
	__u64 iova = MOCK_APERTURE_START;
	int go[2], done[2], status;
	__u32 ioas2;
	char c = 0;

	if (variant->cap_ipc_lock)
		SKIP(return, "nothing is charged with CAP_IPC_LOCK");
	/* No domain yet: named, not pinned. */
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, ioas_map_file(self->fd, ioas2, self->mfd, 0,
				   2 * self->psz, &iova, FIXED));
	EXPECT_EQ(pin0, vm_pin(parent));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		if (change_process(self->fd))
			_exit(1);
		if (write(done[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		/* The parent has added a domain: the child pays. */
		if (vm_pin(getpid()) != 2 * self->kb)
			_exit(3);
		if (write(done[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(4);
		/* And the domain's removal gave it back to the child. */
		if (vm_pin(getpid()) != 0)
			_exit(5);
		_exit(0);
	}
	ASSERT_EQ(1, read(done[0], &c, 1));
	ASSERT_EQ(0, mock_domain(self->fd, ioas2, NULL, NULL, NULL));
	EXPECT_EQ(pin0, vm_pin(parent));
	ASSERT_EQ(1, write(go[1], &c, 1));
	ASSERT_EQ(1, read(done[0], &c, 1));
	ASSERT_EQ(0, ioas_unmap(self->fd, ioas2, 0, UINT64_MAX, NULL));
	ASSERT_EQ(1, write(go[1], &c, 1));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(pin0, vm_pin(parent));
}

TEST_HARNESS_MAIN
