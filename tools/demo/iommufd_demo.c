// SPDX-License-Identifier: GPL-2.0
/*
 * A short tour of the module through its uAPI: open the device, create and
 * destroy objects, and show how it answers bad requests. Run by `make run`.
 *
 *   iommufd_demo [/dev/iommu]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>

static int fd;

/* Run one ioctl and say what happened, as a newcomer would want to see it. */
static int show(const char *what, unsigned long req, void *arg)
{
	int rc = ioctl(fd, req, arg);

	if (rc)
		printf("  %-52s -> %s (errno %d)\n", what, strerror(errno), errno);
	else
		printf("  %-52s -> ok\n", what);
	return rc;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/iommu";
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_destroy destroy = { .size = sizeof(destroy) };
	__u32 ids[3];
	int i;

	fd = open(path, O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "open %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("opened %s\n\n", path);

	printf("objects are named by ids, lowest free first:\n");
	for (i = 0; i < 3; i++) {
		if (show("IOMMU_IOAS_ALLOC", IOMMU_IOAS_ALLOC, &alloc))
			return 1;
		ids[i] = alloc.out_ioas_id;
		printf("  %-52s    out_ioas_id = %u\n", "", ids[i]);
	}
	destroy.id = ids[1];
	show("IOMMU_DESTROY of the second IOAS", IOMMU_DESTROY, &destroy);
	show("IOMMU_IOAS_ALLOC (reuses the freed id)", IOMMU_IOAS_ALLOC, &alloc);
	printf("  %-52s    out_ioas_id = %u\n", "", alloc.out_ioas_id);

	printf("\nbad requests get the errno upstream iommufd gives:\n");
	destroy.id = 4242;
	show("IOMMU_DESTROY of an id that does not exist", IOMMU_DESTROY, &destroy);
	alloc.flags = 1;
	show("IOMMU_IOAS_ALLOC with an unknown flag", IOMMU_IOAS_ALLOC, &alloc);
	alloc.flags = 0;
	alloc.size = 4;
	show("IOMMU_IOAS_ALLOC with size too small", IOMMU_IOAS_ALLOC, &alloc);
	show("an ioctl number the module does not know",
	     _IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE - 1), &alloc);

	printf("\nclosing the file destroys every object left in it\n");
	close(fd);
	return 0;
}
