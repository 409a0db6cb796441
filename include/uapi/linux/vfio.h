/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * rust-iommufd: the VFIO type1 container part of the VFIO user-space API,
 * the part an iommufd file answers (see IOMMU_VFIO_IOAS in
 * <linux/iommufd.h>).
 *
 * ABI-identical to the upstream kernel's <linux/vfio.h> for everything
 * declared here; the device, group and SPAPR parts are left out. Every
 * structure starts with @argsz, the bytes the caller passes (and, for
 * VFIO_IOMMU_GET_INFO, the bytes it would need).
 */
#ifndef _UAPIVFIO_H
#define _UAPIVFIO_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define VFIO_API_VERSION	0

/* Arguments of VFIO_CHECK_EXTENSION; VFIO_SET_IOMMU takes the IOMMU ones. */
#define VFIO_TYPE1_IOMMU		1
#define VFIO_SPAPR_TCE_IOMMU		2
/* type1 whose unmaps must cover whole mappings */
#define VFIO_TYPE1v2_IOMMU		3
/* DMA of every device of the container is cache coherent */
#define VFIO_DMA_CC_IOMMU		4
#define VFIO_EEH			5
#define __VFIO_RESERVED_TYPE1_NESTING_IOMMU	6
#define VFIO_SPAPR_TCE_v2_IOMMU		7
#define VFIO_NOIOMMU_IOMMU		8
/* VFIO_DMA_UNMAP_FLAG_ALL is known */
#define VFIO_UNMAP_ALL			9
#define VFIO_UPDATE_VADDR		10

#define VFIO_TYPE	(';')
#define VFIO_BASE	100

/**
 * struct vfio_info_cap_header - the head of one capability of an INFO reply
 * @id: what the capability is (VFIO_IOMMU_TYPE1_INFO_*)
 * @version: the version of that capability's layout
 * @next: offset of the next capability from the start of the reply, 0 for
 *        the last
 */
struct vfio_info_cap_header {
	__u16	id;
	__u16	version;
	__u32	next;
};

/* Returns VFIO_API_VERSION. */
#define VFIO_GET_API_VERSION		_IO(VFIO_TYPE, VFIO_BASE + 0)
/* The argument is an extension number; returns 1 if it is supported, else 0. */
#define VFIO_CHECK_EXTENSION		_IO(VFIO_TYPE, VFIO_BASE + 1)
/* The argument is VFIO_TYPE1_IOMMU or VFIO_TYPE1v2_IOMMU. */
#define VFIO_SET_IOMMU			_IO(VFIO_TYPE, VFIO_BASE + 2)

/**
 * struct vfio_iommu_type1_info - ioctl(VFIO_IOMMU_GET_INFO)
 * @argsz: in, the bytes of the buffer; out, the bytes the whole reply
 *         (with every capability) needs
 * @flags: out, VFIO_IOMMU_INFO_*
 * @iova_pgsizes: out, the page sizes mappings may be made of
 * @cap_offset: out, offset of the first capability, 0 if the buffer could
 *              not hold them all
 * @pad: reserved
 */
struct vfio_iommu_type1_info {
	__u32	argsz;
	__u32	flags;
#define VFIO_IOMMU_INFO_PGSIZES (1 << 0)
#define VFIO_IOMMU_INFO_CAPS	(1 << 1)
	__aligned_u64	iova_pgsizes;
	__u32   cap_offset;
	__u32   pad;
};

/* Capability: the IOVA ranges mappings may use. */
#define VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE  1

/**
 * struct vfio_iova_range - one usable IOVA range
 * @start: first IOVA
 * @end: last IOVA (inclusive)
 */
struct vfio_iova_range {
	__u64	start;
	__u64	end;
};

/**
 * struct vfio_iommu_type1_info_cap_iova_range - the IOVA range capability
 * @header: id VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, version 1
 * @nr_iovas: entries of @iova_ranges
 * @reserved: reserved
 * @iova_ranges: the ranges, lowest first
 */
struct vfio_iommu_type1_info_cap_iova_range {
	struct	vfio_info_cap_header header;
	__u32	nr_iovas;
	__u32	reserved;
	struct	vfio_iova_range iova_ranges[];
};

/* Capability of dirty tracking; an iommufd file never reports it. */
#define VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION  2

/* Capability: how many more mappings may be made. */
#define VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL 3

/**
 * struct vfio_iommu_type1_info_dma_avail - the DMA-available capability
 * @header: id VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version 1
 * @avail: how many more mappings may be made
 */
struct vfio_iommu_type1_info_dma_avail {
	struct	vfio_info_cap_header header;
	__u32	avail;
};

#define VFIO_IOMMU_GET_INFO _IO(VFIO_TYPE, VFIO_BASE + 12)

/**
 * struct vfio_iommu_type1_dma_map - ioctl(VFIO_IOMMU_MAP_DMA)
 * @argsz: bytes passed, at least up to @size
 * @flags: VFIO_DMA_MAP_FLAG_READ and _WRITE (_VADDR is refused)
 * @vaddr: first byte of the process memory to map
 * @iova: the IOVA to map it at
 * @size: bytes to map
 */
struct vfio_iommu_type1_dma_map {
	__u32	argsz;
	__u32	flags;
#define VFIO_DMA_MAP_FLAG_READ (1 << 0)
#define VFIO_DMA_MAP_FLAG_WRITE (1 << 1)
#define VFIO_DMA_MAP_FLAG_VADDR (1 << 2)
	__u64	vaddr;
	__u64	iova;
	__u64	size;
};

#define VFIO_IOMMU_MAP_DMA _IO(VFIO_TYPE, VFIO_BASE + 13)

/**
 * struct vfio_iommu_type1_dma_unmap - ioctl(VFIO_IOMMU_UNMAP_DMA)
 * @argsz: bytes passed, at least up to @size
 * @flags: VFIO_DMA_UNMAP_FLAG_ALL (the others are refused)
 * @iova: first IOVA of the range (0 with _ALL)
 * @size: in, bytes of the range (0 with _ALL); out, bytes unmapped
 * @data: flag-specific data (none for the flags accepted)
 */
struct vfio_iommu_type1_dma_unmap {
	__u32	argsz;
	__u32	flags;
#define VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP (1 << 0)
#define VFIO_DMA_UNMAP_FLAG_ALL		     (1 << 1)
#define VFIO_DMA_UNMAP_FLAG_VADDR	     (1 << 2)
	__u64	iova;
	__u64	size;
	__u8    data[];
};

#define VFIO_IOMMU_UNMAP_DMA _IO(VFIO_TYPE, VFIO_BASE + 14)

/* Container ioctls an iommufd file does not answer (ENOTTY). */
#define VFIO_IOMMU_ENABLE	_IO(VFIO_TYPE, VFIO_BASE + 15)
#define VFIO_IOMMU_DISABLE	_IO(VFIO_TYPE, VFIO_BASE + 16)
#define VFIO_IOMMU_DIRTY_PAGES             _IO(VFIO_TYPE, VFIO_BASE + 17)

#endif /* _UAPIVFIO_H */
