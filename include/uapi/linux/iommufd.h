/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * rust-iommufd user-space API.
 *
 * ABI-identical to the upstream kernel's <linux/iommufd.h> for every ioctl
 * and structure declared here: same ioctl numbers, same structure sizes and
 * field offsets. Programs written against upstream's header work unchanged.
 * The module's Rust structures are generated from this file at build time.
 *
 * Conventions shared by every ioctl below:
 *  - The argument is a pointer to a structure whose first __u32 is @size,
 *    set by the caller to sizeof() the structure it was compiled with.
 *  - @size smaller than the structure's first release: EINVAL.
 *  - @size larger than the kernel's structure: accepted only if every byte
 *    beyond what the kernel knows is zero, otherwise E2BIG.
 *  - Fields named __reserved and undefined flag bits must be zero.
 *  - Objects are named by a __u32 id, unique within one open file.
 *  - An unknown ioctl number fails with ENOTTY.
 */
#ifndef _UAPI_IOMMUFD_H
#define _UAPI_IOMMUFD_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define IOMMUFD_TYPE (';')

/* ioctl numbers, _IOC_NR() of each IOMMU_* request below. */
enum {
	IOMMUFD_CMD_BASE = 0x80,
	IOMMUFD_CMD_DESTROY = 0x80,
	IOMMUFD_CMD_IOAS_ALLOC = 0x81,
	IOMMUFD_CMD_IOAS_ALLOW_IOVAS = 0x82,
	IOMMUFD_CMD_IOAS_COPY = 0x83,
	IOMMUFD_CMD_IOAS_IOVA_RANGES = 0x84,
	IOMMUFD_CMD_IOAS_MAP = 0x85,
	IOMMUFD_CMD_IOAS_UNMAP = 0x86,
	IOMMUFD_CMD_OPTION = 0x87,
	IOMMUFD_CMD_VFIO_IOAS = 0x88,
	IOMMUFD_CMD_HWPT_ALLOC = 0x89,
	IOMMUFD_CMD_GET_HW_INFO = 0x8a,
	IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING = 0x8b,
	IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP = 0x8c,
	IOMMUFD_CMD_HWPT_INVALIDATE = 0x8d,
	IOMMUFD_CMD_FAULT_QUEUE_ALLOC = 0x8e,
	IOMMUFD_CMD_IOAS_MAP_FILE = 0x8f,
	IOMMUFD_CMD_VIOMMU_ALLOC = 0x90,
	IOMMUFD_CMD_VDEVICE_ALLOC = 0x91,
	IOMMUFD_CMD_IOAS_CHANGE_PROCESS = 0x92,
	IOMMUFD_CMD_VEVENTQ_ALLOC = 0x93,
	IOMMUFD_CMD_HW_QUEUE_ALLOC = 0x94,
	IOMMUFD_CMD_IOAS_NOIOMMU_GET_PA = 0x95,
};

/**
 * struct iommu_destroy - ioctl(IOMMU_DESTROY)
 * @size: sizeof(struct iommu_destroy)
 * @id: the object to destroy
 *
 * Destroys any object by id. Fails with ENOENT if no object has that id and
 * with EBUSY while another object depends on it (a HWPT built on an IOAS, a
 * device attached to a HWPT, ...): destroy the dependents first.
 */
struct iommu_destroy {
	__u32 size;
	__u32 id;
};
#define IOMMU_DESTROY _IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY)

/**
 * struct iommu_ioas_alloc - ioctl(IOMMU_IOAS_ALLOC)
 * @size: sizeof(struct iommu_ioas_alloc)
 * @flags: must be 0, otherwise EOPNOTSUPP
 * @out_ioas_id: the new IOAS's id
 *
 * Allocates an I/O address space (IOAS): the container of IOVA mappings that
 * paging HWPTs are built on.
 */
struct iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};
#define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC)

#endif /* _UAPI_IOMMUFD_H */
