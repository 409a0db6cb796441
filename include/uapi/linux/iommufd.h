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

/**
 * struct iommu_iova_range - one range of IOVA, both ends inclusive
 * @start: first IOVA
 * @last: last IOVA
 */
struct iommu_iova_range {
	__aligned_u64 start;
	__aligned_u64 last;
};

/**
 * struct iommu_ioas_iova_ranges - ioctl(IOMMU_IOAS_IOVA_RANGES)
 * @size: sizeof(struct iommu_ioas_iova_ranges)
 * @ioas_id: the IOAS to query
 * @num_iovas: in: room in @allowed_iovas; out: how many ranges there are
 *             (EMSGSIZE if more than the room, after filling it)
 * @__reserved: must be 0
 * @allowed_iovas: user pointer to an array of struct iommu_iova_range
 * @out_iova_alignment: the alignment every mapping must have
 *
 * Reports the IOVA ranges that no reservation covers (the domains'
 * apertures and reserved regions are reservations).
 */
struct iommu_ioas_iova_ranges {
	__u32 size;
	__u32 ioas_id;
	__u32 num_iovas;
	__u32 __reserved;
	__aligned_u64 allowed_iovas;
	__aligned_u64 out_iova_alignment;
};
#define IOMMU_IOAS_IOVA_RANGES _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_IOVA_RANGES)

/**
 * struct iommu_ioas_allow_iovas - ioctl(IOMMU_IOAS_ALLOW_IOVAS)
 * @size: sizeof(struct iommu_ioas_allow_iovas)
 * @ioas_id: the IOAS to change
 * @num_iovas: entries in @allowed_iovas (0 allows everything again)
 * @__reserved: must be 0
 * @allowed_iovas: user pointer to an array of struct iommu_iova_range
 *
 * Restricts automatic IOVA allocation to the given ranges, which must not
 * overlap each other (EINVAL) nor any reservation (EADDRINUSE).
 */
struct iommu_ioas_allow_iovas {
	__u32 size;
	__u32 ioas_id;
	__u32 num_iovas;
	__u32 __reserved;
	__aligned_u64 allowed_iovas;
};
#define IOMMU_IOAS_ALLOW_IOVAS _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOW_IOVAS)

/**
 * enum iommufd_ioas_map_flags - flags of IOMMU_IOAS_MAP and IOMMU_IOAS_COPY
 * @IOMMU_IOAS_MAP_FIXED_IOVA: map at the given IOVA instead of choosing one
 * @IOMMU_IOAS_MAP_WRITEABLE: devices may write the memory
 * @IOMMU_IOAS_MAP_READABLE: devices may read the memory
 */
enum iommufd_ioas_map_flags {
	IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0,
	IOMMU_IOAS_MAP_WRITEABLE = 1 << 1,
	IOMMU_IOAS_MAP_READABLE = 1 << 2,
};

/**
 * struct iommu_ioas_map - ioctl(IOMMU_IOAS_MAP)
 * @size: sizeof(struct iommu_ioas_map)
 * @flags: enum iommufd_ioas_map_flags
 * @ioas_id: the IOAS to map into
 * @__reserved: must be 0
 * @user_va: the user memory to map
 * @length: bytes to map
 * @iova: in with IOMMU_IOAS_MAP_FIXED_IOVA, the IOVA to map at; out
 *        otherwise, the IOVA chosen
 */
struct iommu_ioas_map {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__u32 __reserved;
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova;
};
#define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP)

/**
 * struct iommu_ioas_map_file - ioctl(IOMMU_IOAS_MAP_FILE)
 * @size: sizeof(struct iommu_ioas_map_file)
 * @flags: enum iommufd_ioas_map_flags
 * @ioas_id: the IOAS to map into
 * @fd: a memfd (shmem or hugetlbfs file) open in the caller
 * @start: byte offset in the file of the first byte to map
 * @length: bytes to map
 * @iova: in with IOMMU_IOAS_MAP_FIXED_IOVA, the IOVA to map at; out
 *        otherwise, the IOVA chosen
 *
 * IOMMU_IOAS_MAP of file pages instead of user memory: the mapping holds
 * the file, not the descriptor, and its pins do not go through the
 * caller's address space. Whether @fd is a memfd and whether the range
 * lies inside it is checked when the pages are pinned (EINVAL): at once
 * if a HWPT is built on the IOAS, otherwise at the first access.
 */
struct iommu_ioas_map_file {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__s32 fd;
	__aligned_u64 start;
	__aligned_u64 length;
	__aligned_u64 iova;
};
#define IOMMU_IOAS_MAP_FILE _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP_FILE)

/**
 * struct iommu_ioas_change_process - ioctl(IOMMU_IOAS_CHANGE_PROCESS)
 * @size: sizeof(struct iommu_ioas_change_process)
 * @__reserved: must be 0
 *
 * Charges the pinned pages of every mapping of every IOAS of this file to
 * the calling process and its user, and gives them back to where they
 * were charged before. Only IOMMU_IOAS_MAP_FILE mappings can move: EINVAL
 * if any IOAS maps user memory. On failure nothing has moved.
 */
struct iommu_ioas_change_process {
	__u32 size;
	__u32 __reserved;
};
#define IOMMU_IOAS_CHANGE_PROCESS \
	_IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_CHANGE_PROCESS)

/**
 * struct iommu_ioas_copy - ioctl(IOMMU_IOAS_COPY)
 * @size: sizeof(struct iommu_ioas_copy)
 * @flags: enum iommufd_ioas_map_flags
 * @dst_ioas_id: the IOAS to map into
 * @src_ioas_id: the IOAS whose mappings name the memory
 * @length: bytes to copy
 * @dst_iova: in with IOMMU_IOAS_MAP_FIXED_IOVA, the IOVA to map at; out
 *            otherwise, the IOVA chosen
 * @src_iova: where the memory is mapped in the source IOAS
 *
 * Maps into @dst_ioas_id the memory that @src_ioas_id maps at
 * [@src_iova, @src_iova + @length), as IOMMU_IOAS_MAP of the same memory
 * would.
 */
struct iommu_ioas_copy {
	__u32 size;
	__u32 flags;
	__u32 dst_ioas_id;
	__u32 src_ioas_id;
	__aligned_u64 length;
	__aligned_u64 dst_iova;
	__aligned_u64 src_iova;
};
#define IOMMU_IOAS_COPY _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_COPY)

/**
 * struct iommu_ioas_unmap - ioctl(IOMMU_IOAS_UNMAP)
 * @size: sizeof(struct iommu_ioas_unmap)
 * @ioas_id: the IOAS to unmap from
 * @iova: first IOVA of the range (0 with @length U64_MAX: everything)
 * @length: in, bytes of the range; out, bytes unmapped
 *
 * Unmaps every mapping inside the range; a mapping that the range covers
 * only in part is not split (ENOENT).
 */
struct iommu_ioas_unmap {
	__u32 size;
	__u32 ioas_id;
	__aligned_u64 iova;
	__aligned_u64 length;
};
#define IOMMU_IOAS_UNMAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP)

/**
 * enum iommufd_option - the options of IOMMU_OPTION
 * @IOMMU_OPTION_RLIMIT_MODE: 0 charges pinned pages to the user's
 *                            locked_vm, 1 to the process's pinned_vm (as
 *                            VFIO); set only with CAP_SYS_RESOURCE, on a
 *                            file with no objects; @object_id must be 0
 * @IOMMU_OPTION_HUGE_PAGES: 1 (the default) lets the IOAS @object_id map
 *                           with pages larger than PAGE_SIZE, 0 does not
 */
enum iommufd_option {
	IOMMU_OPTION_RLIMIT_MODE = 0,
	IOMMU_OPTION_HUGE_PAGES = 1,
};

/**
 * enum iommufd_option_ops - what IOMMU_OPTION does
 * @IOMMU_OPTION_OP_SET: set the option to @val64
 * @IOMMU_OPTION_OP_GET: read the option into @val64
 */
enum iommufd_option_ops {
	IOMMU_OPTION_OP_SET = 0,
	IOMMU_OPTION_OP_GET = 1,
};

/**
 * struct iommu_option - ioctl(IOMMU_OPTION)
 * @size: sizeof(struct iommu_option)
 * @option_id: enum iommufd_option
 * @op: enum iommufd_option_ops
 * @__reserved: must be 0
 * @object_id: the object the option applies to (0 for the file's)
 * @val64: the value set, or the value read
 */
struct iommu_option {
	__u32 size;
	__u32 option_id;
	__u16 op;
	__u16 __reserved;
	__u32 object_id;
	__aligned_u64 val64;
};
#define IOMMU_OPTION _IO(IOMMUFD_TYPE, IOMMUFD_CMD_OPTION)

/**
 * enum iommufd_vfio_ioas_op - what IOMMU_VFIO_IOAS does
 * @IOMMU_VFIO_IOAS_GET: report the compatibility IOAS in @ioas_id (ENODEV
 *                       if there is none)
 * @IOMMU_VFIO_IOAS_SET: make the IOAS @ioas_id the compatibility IOAS
 * @IOMMU_VFIO_IOAS_CLEAR: forget the compatibility IOAS (it stays an IOAS)
 */
enum iommufd_vfio_ioas_op {
	IOMMU_VFIO_IOAS_GET = 0,
	IOMMU_VFIO_IOAS_SET = 1,
	IOMMU_VFIO_IOAS_CLEAR = 2,
};

/**
 * struct iommu_vfio_ioas - ioctl(IOMMU_VFIO_IOAS)
 * @size: sizeof(struct iommu_vfio_ioas)
 * @ioas_id: in for SET, out for GET
 * @op: enum iommufd_vfio_ioas_op
 * @__reserved: must be 0
 *
 * The VFIO type1 ioctls of <linux/vfio.h> name no IOAS: on this file they
 * act on its one compatibility IOAS, chosen here. Destroying that IOAS
 * forgets it as CLEAR does.
 */
struct iommu_vfio_ioas {
	__u32 size;
	__u32 ioas_id;
	__u16 op;
	__u16 __reserved;
};
#define IOMMU_VFIO_IOAS _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VFIO_IOAS)

/**
 * enum iommufd_hwpt_alloc_flags - flags of struct iommu_hwpt_alloc
 * @IOMMU_HWPT_ALLOC_NEST_PARENT: the new paging HWPT may later serve as the
 *                                stage-2 parent of nested HWPTs and vIOMMUs
 * @IOMMU_HWPT_ALLOC_DIRTY_TRACKING: the HWPT must be able to track dirty
 *                                   IOVAs; refused (EOPNOTSUPP) when the
 *                                   device's IOMMU cannot do it
 * @IOMMU_HWPT_FAULT_ID_VALID: @fault_id of struct iommu_hwpt_alloc names a
 *                             fault queue that receives this HWPT's faults
 * @IOMMU_HWPT_ALLOC_PASID: the HWPT may be attached to PASIDs of the device;
 *                          once a PASID is in use, whatever is attached to
 *                          the device's main (non-PASID) translation must
 *                          carry this flag too. EOPNOTSUPP when the IOMMU has
 *                          no PASID support.
 */
enum iommufd_hwpt_alloc_flags {
	IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0,
	IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1,
	IOMMU_HWPT_FAULT_ID_VALID = 1 << 2,
	IOMMU_HWPT_ALLOC_PASID = 1 << 3,
};

/**
 * enum iommu_hwpt_data_type - format of the driver data given to HWPT_ALLOC
 * @IOMMU_HWPT_DATA_NONE: no driver data; used for paging HWPTs
 * @IOMMU_HWPT_DATA_VTD_S1: Intel VT-d first-stage page table description
 * @IOMMU_HWPT_DATA_ARM_SMMUV3: ARM SMMUv3 nested stream table entry
 * @IOMMU_HWPT_DATA_AMD_GUEST: AMD IOMMU guest device table entry
 *
 * The vendor structures themselves are not declared in this header.
 */
enum iommu_hwpt_data_type {
	IOMMU_HWPT_DATA_NONE = 0,
	IOMMU_HWPT_DATA_VTD_S1 = 1,
	IOMMU_HWPT_DATA_ARM_SMMUV3 = 2,
	IOMMU_HWPT_DATA_AMD_GUEST = 3,
};

/**
 * struct iommu_hwpt_alloc - ioctl(IOMMU_HWPT_ALLOC)
 * @size: sizeof(struct iommu_hwpt_alloc)
 * @flags: bitwise OR of enum iommufd_hwpt_alloc_flags; other bits fail
 *         with EOPNOTSUPP
 * @dev_id: id of a bound device; the HWPT is made to suit its IOMMU
 * @pt_id: what the new HWPT is built on: an IOAS (gives a paging HWPT), a
 *         nesting-parent paging HWPT or a vIOMMU (both give a nested HWPT)
 * @out_hwpt_id: id of the new HWPT
 * @__reserved: must be 0
 * @data_type: one of enum iommu_hwpt_data_type, or a driver-defined type
 * @data_len: byte length of the buffer at @data_uptr
 * @data_uptr: user address of the driver data of type @data_type
 * @fault_id: id of a fault queue object; only read when
 *            IOMMU_HWPT_FAULT_ID_VALID is set in @flags
 * @__reserved2: not checked (as upstream); set it to 0. Pads the structure
 *               to a multiple of 8 bytes
 *
 * Creates a hardware page table object, i.e. an IOMMU domain the caller can
 * attach devices to.
 *
 * With an IOAS in @pt_id the kernel owns the page table and mirrors the
 * IOAS's mappings into it; @data_type is then normally IOMMU_HWPT_DATA_NONE.
 * Passing IOMMU_HWPT_ALLOC_NEST_PARENT makes it usable as a nesting parent.
 *
 * With a nesting-parent HWPT or a vIOMMU in @pt_id, user space owns the
 * stage-1 table; @data_type and the data at @data_uptr describe it in the
 * IOMMU's own format. The device and the vIOMMU must sit behind the same
 * physical IOMMU.
 *
 * For IOMMU_HWPT_DATA_NONE both @data_len and @data_uptr should be 0; for
 * any other type both must be set.
 */
struct iommu_hwpt_alloc {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 pt_id;
	__u32 out_hwpt_id;
	__u32 __reserved;
	__u32 data_type;
	__u32 data_len;
	__aligned_u64 data_uptr;
	__u32 fault_id;
	__u32 __reserved2;
};
#define IOMMU_HWPT_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_ALLOC)

/**
 * enum iommu_hw_info_type - format of the data returned by IOMMU_GET_HW_INFO
 * @IOMMU_HW_INFO_TYPE_NONE: (output) the driver reports no hardware data
 * @IOMMU_HW_INFO_TYPE_DEFAULT: (input) let the driver pick its own format
 * @IOMMU_HW_INFO_TYPE_INTEL_VTD: Intel VT-d registers
 * @IOMMU_HW_INFO_TYPE_ARM_SMMUV3: ARM SMMUv3 ID registers
 * @IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV: NVIDIA Tegra241 CMDQV, an extension of
 *                                     ARM SMMUv3
 * @IOMMU_HW_INFO_TYPE_AMD: AMD IOMMU registers
 */
enum iommu_hw_info_type {
	IOMMU_HW_INFO_TYPE_NONE = 0,
	IOMMU_HW_INFO_TYPE_DEFAULT = 0,
	IOMMU_HW_INFO_TYPE_INTEL_VTD = 1,
	IOMMU_HW_INFO_TYPE_ARM_SMMUV3 = 2,
	IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV = 3,
	IOMMU_HW_INFO_TYPE_AMD = 4,
};

/**
 * enum iommufd_hw_capabilities - bits of iommu_hw_info::out_capabilities
 * @IOMMU_HW_CAP_DIRTY_TRACKING: the IOMMU can track dirty IOVAs, so
 *                               IOMMU_HWPT_SET_DIRTY_TRACKING and
 *                               IOMMU_HWPT_GET_DIRTY_BITMAP are usable
 * @IOMMU_HW_CAP_PCI_PASID_EXEC: the PCI PASID capability advertises
 *                               execute permission; meaningless when
 *                               out_max_pasid_log2 is 0
 * @IOMMU_HW_CAP_PCI_PASID_PRIV: the PCI PASID capability advertises
 *                               privileged mode; meaningless when
 *                               out_max_pasid_log2 is 0
 * @IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED: ATS is unavailable for this device
 *                                      (when clear, ATS may be in use)
 */
enum iommufd_hw_capabilities {
	IOMMU_HW_CAP_DIRTY_TRACKING = 1 << 0,
	IOMMU_HW_CAP_PCI_PASID_EXEC = 1 << 1,
	IOMMU_HW_CAP_PCI_PASID_PRIV = 1 << 2,
	IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED = 1 << 3,
};

/**
 * enum iommufd_hw_info_flags - flags of struct iommu_hw_info
 * @IOMMU_HW_INFO_FLAG_INPUT_TYPE: @in_data_type names the format the caller
 *                                 wants; without this flag whatever is in
 *                                 that field is treated as
 *                                 IOMMU_HW_INFO_TYPE_DEFAULT
 */
enum iommufd_hw_info_flags {
	IOMMU_HW_INFO_FLAG_INPUT_TYPE = 1 << 0,
};

/**
 * struct iommu_hw_info - ioctl(IOMMU_GET_HW_INFO)
 * @size: sizeof(struct iommu_hw_info)
 * @flags: bitwise OR of enum iommufd_hw_info_flags
 * @dev_id: id of a bound device whose IOMMU is queried
 * @data_len: in: byte length of the buffer at @data_uptr (0 is allowed);
 *            out: byte length of the data the driver has
 * @data_uptr: user address of the buffer receiving the driver data
 * @in_data_type: requested format (enum iommu_hw_info_type or a driver
 *                type), only read with IOMMU_HW_INFO_FLAG_INPUT_TYPE
 * @out_data_type: format of the data written to @data_uptr; shares its
 *                 storage with @in_data_type
 * @out_max_pasid_log2: number of PASID bits the device supports, 0 when it
 *                      has no PASID support
 * @__reserved: must be 0
 * @out_capabilities: bitwise OR of enum iommufd_hw_capabilities
 *
 * Reports the IOMMU behind a bound device, so that a VMM can present a
 * compatible virtual IOMMU (for example one whose stage-1 page table format
 * the hardware can walk when nesting).
 *
 * The driver data is copied to @data_uptr, cut to @data_len when the buffer
 * is smaller; when the buffer is larger, the bytes past the driver data are
 * zeroed. On success @data_len tells how much data the driver has and
 * @out_data_type how to decode it.
 */
struct iommu_hw_info {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 data_len;
	__aligned_u64 data_uptr;
	union {
		__u32 in_data_type;
		__u32 out_data_type;
	};
	__u8 out_max_pasid_log2;
	__u8 __reserved[3];
	__aligned_u64 out_capabilities;
};
#define IOMMU_GET_HW_INFO _IO(IOMMUFD_TYPE, IOMMUFD_CMD_GET_HW_INFO)

/**
 * enum iommufd_hwpt_set_dirty_tracking_flags - flags of
 *                                             IOMMU_HWPT_SET_DIRTY_TRACKING
 * @IOMMU_HWPT_DIRTY_TRACKING_ENABLE: switch tracking on (clear: off)
 */
enum iommufd_hwpt_set_dirty_tracking_flags {
	IOMMU_HWPT_DIRTY_TRACKING_ENABLE = 1,
};

/**
 * struct iommu_hwpt_set_dirty_tracking - ioctl(IOMMU_HWPT_SET_DIRTY_TRACKING)
 * @size: sizeof(struct iommu_hwpt_set_dirty_tracking)
 * @flags: bitwise OR of enum iommufd_hwpt_set_dirty_tracking_flags; other
 *         bits fail with EOPNOTSUPP
 * @hwpt_id: id of a paging HWPT (ENOENT for anything else)
 * @__reserved: not checked (as upstream); set it to 0
 *
 * Switches the IOMMU's recording of DMA writes on or off for a paging HWPT
 * allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING (EOPNOTSUPP for one
 * allocated without). Switching it on first clears whatever the page table
 * had recorded, so that the next IOMMU_HWPT_GET_DIRTY_BITMAP reports only
 * writes made since.
 */
struct iommu_hwpt_set_dirty_tracking {
	__u32 size;
	__u32 flags;
	__u32 hwpt_id;
	__u32 __reserved;
};
#define IOMMU_HWPT_SET_DIRTY_TRACKING \
	_IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING)

/**
 * enum iommufd_hwpt_get_dirty_bitmap_flags - flags of
 *                                           IOMMU_HWPT_GET_DIRTY_BITMAP
 * @IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR: report without clearing the
 *                                        page table's records (for instance
 *                                        right before unmapping the range)
 */
enum iommufd_hwpt_get_dirty_bitmap_flags {
	IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR = 1,
};

/**
 * struct iommu_hwpt_get_dirty_bitmap - ioctl(IOMMU_HWPT_GET_DIRTY_BITMAP)
 * @size: sizeof(struct iommu_hwpt_get_dirty_bitmap)
 * @hwpt_id: id of a paging HWPT (ENOENT for anything else)
 * @flags: bitwise OR of enum iommufd_hwpt_get_dirty_bitmap_flags; other
 *         bits fail with EOPNOTSUPP
 * @__reserved: must be 0, otherwise EOPNOTSUPP
 * @iova: first IOVA the bitmap covers
 * @length: bytes of IOVA the bitmap covers
 * @page_size: bytes of IOVA each bit stands for
 * @data: user address of the bitmap, an array of __u64
 *
 * Reports which pages of [@iova, @iova + @length) devices wrote since the
 * last report (or since tracking was switched on), and clears that record
 * unless IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR is given. The page at IOVA x
 * is bit (x - @iova) / @page_size of the bitmap, counting from the lowest
 * bit of its first __u64; bits are only ever set, never cleared, so the
 * caller zeroes the bitmap first. A dirty IOMMU page larger than @page_size sets the bits of
 * all of it.
 *
 * @length must not be 0; @iova and @iova + @length must be multiples of
 * the IOAS's IOVA alignment and of @page_size, which must not be 0 (all
 * EINVAL); @iova + @length - 1 must not overflow (EOVERFLOW). The HWPT must
 * have been allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING (EOPNOTSUPP).
 * The range is read from its first IOVA through the mappings that follow
 * each other without a gap; the report stops quietly where they stop.
 */
struct iommu_hwpt_get_dirty_bitmap {
	__u32 size;
	__u32 hwpt_id;
	__u32 flags;
	__u32 __reserved;
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 page_size;
	__aligned_u64 data;
};
#define IOMMU_HWPT_GET_DIRTY_BITMAP \
	_IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP)

/**
 * enum iommu_hwpt_invalidate_data_type - format of invalidation entries
 * @IOMMU_HWPT_INVALIDATE_DATA_VTD_S1: Intel VT-d first-stage invalidation
 * @IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3: ARM SMMUv3 command, given to a
 *                                           vIOMMU
 */
enum iommu_hwpt_invalidate_data_type {
	IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 = 0,
	IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 = 1,
};

/**
 * struct iommu_hwpt_invalidate - ioctl(IOMMU_HWPT_INVALIDATE)
 * @size: sizeof(struct iommu_hwpt_invalidate)
 * @hwpt_id: id of a nested HWPT or of a vIOMMU whose caches are flushed
 * @data_uptr: user address of an array of invalidation entries
 * @data_type: format of every entry of the array (enum
 *             iommu_hwpt_invalidate_data_type or a driver type); must be one
 *             the object named by @hwpt_id understands
 * @entry_len: byte size of one entry as the caller laid it out
 * @entry_num: in: number of entries in the array; out: number of entries the
 *             driver completed, also when the ioctl fails part way
 * @__reserved: must be 0
 *
 * Flushes caches that depend on a user-owned page table (nested HWPT) or on
 * state owned by a vIOMMU (device caches, descriptor caches, ...). User
 * space issues this after changing such a table.
 *
 * The array spans @entry_len * @entry_num bytes. With @entry_num == 0 nothing
 * is read and @data_uptr and @entry_len are ignored, which lets a caller
 * probe whether @data_type is supported.
 */
struct iommu_hwpt_invalidate {
	__u32 size;
	__u32 hwpt_id;
	__aligned_u64 data_uptr;
	__u32 data_type;
	__u32 entry_len;
	__u32 entry_num;
	__u32 __reserved;
};
#define IOMMU_HWPT_INVALIDATE _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_INVALIDATE)

/**
 * enum iommu_hwpt_pgfault_flags - flags of struct iommu_hwpt_pgfault
 * @IOMMU_PGFAULT_FLAGS_PASID_VALID: the request carried a PASID; @pasid is
 *                                   meaningful
 * @IOMMU_PGFAULT_FLAGS_LAST_PAGE: this record is the last of its group; only
 *                                 the group as a whole is answered
 */
enum iommu_hwpt_pgfault_flags {
	IOMMU_PGFAULT_FLAGS_PASID_VALID = (1 << 0),
	IOMMU_PGFAULT_FLAGS_LAST_PAGE = (1 << 1),
};

/**
 * enum iommu_hwpt_pgfault_perm - access a page request asks for
 * @IOMMU_PGFAULT_PERM_READ: read
 * @IOMMU_PGFAULT_PERM_WRITE: write
 * @IOMMU_PGFAULT_PERM_EXEC: execute (the PASID prefix's Execute Requested
 *                           bit, PCIe 10.4.1)
 * @IOMMU_PGFAULT_PERM_PRIV: privileged mode (the PASID prefix's Privileged
 *                           Mode Requested bit, PCIe 10.4.1)
 */
enum iommu_hwpt_pgfault_perm {
	IOMMU_PGFAULT_PERM_READ = (1 << 0),
	IOMMU_PGFAULT_PERM_WRITE = (1 << 1),
	IOMMU_PGFAULT_PERM_EXEC = (1 << 2),
	IOMMU_PGFAULT_PERM_PRIV = (1 << 3),
};

/**
 * struct iommu_hwpt_pgfault - one page request, as read() from a fault fd
 * @flags: bitwise OR of enum iommu_hwpt_pgfault_flags
 * @dev_id: id of the bound device that faulted
 * @pasid: the request's PASID, when IOMMU_PGFAULT_FLAGS_PASID_VALID is set
 * @grpid: the device's page request group index
 * @perm: bitwise OR of enum iommu_hwpt_pgfault_perm
 * @__reserved: always 0
 * @addr: the faulting address
 * @length: how much the device expects to access from @addr, as a hint for
 *          faulting in more than one page; 0 when it gave no hint
 * @cookie: names the group this record belongs to until it is answered;
 *          every record of a group carries the same value, which the
 *          response (struct iommu_hwpt_page_response) echoes
 *
 * read() returns whole groups: the records of one group are consecutive and
 * only the last has IOMMU_PGFAULT_FLAGS_LAST_PAGE.
 */
struct iommu_hwpt_pgfault {
	__u32 flags;
	__u32 dev_id;
	__u32 pasid;
	__u32 grpid;
	__u32 perm;
	__u32 __reserved;
	__aligned_u64 addr;
	__u32 length;
	__u32 cookie;
};

/**
 * enum iommufd_page_response_code - how a fault group was handled
 * @IOMMUFD_PAGE_RESP_SUCCESS: the mapping is in place; the device retries
 *                             the access (PCIe 10.4.2.1 "Success")
 * @IOMMUFD_PAGE_RESP_INVALID: the fault could not be resolved; the device
 *                             must not retry (PCIe 10.4.2.1 "Invalid
 *                             Request")
 */
enum iommufd_page_response_code {
	IOMMUFD_PAGE_RESP_SUCCESS = 0,
	IOMMUFD_PAGE_RESP_INVALID = 1,
};

/**
 * struct iommu_hwpt_page_response - the answer to a fault group, as
 *                                   write() to a fault fd
 * @cookie: the @cookie of the group's records
 * @code: one of enum iommufd_page_response_code
 */
struct iommu_hwpt_page_response {
	__u32 cookie;
	__u32 code;
};

/**
 * struct iommu_fault_alloc - ioctl(IOMMU_FAULT_QUEUE_ALLOC)
 * @size: sizeof(struct iommu_fault_alloc)
 * @flags: must be 0
 * @out_fault_id: id of the new fault queue object, for
 *                struct iommu_hwpt_alloc's @fault_id
 * @out_fault_fd: a new file descriptor (close-on-exec) of the queue
 *
 * Creates a fault queue: HWPTs allocated with IOMMU_HWPT_FAULT_ID_VALID and
 * its id deliver their devices' page requests to it, and user space reads
 * them from @out_fault_fd, answers them by writing to it, and polls it for
 * new ones. The object cannot be destroyed while the fd is open or a HWPT
 * uses it.
 */
struct iommu_fault_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_fault_id;
	__u32 out_fault_fd;
};
#define IOMMU_FAULT_QUEUE_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_FAULT_QUEUE_ALLOC)

/**
 * enum iommu_viommu_type - kind of virtual IOMMU
 * @IOMMU_VIOMMU_TYPE_DEFAULT: reserved
 * @IOMMU_VIOMMU_TYPE_ARM_SMMUV3: ARM SMMUv3
 * @IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV: ARM SMMUv3 with the NVIDIA Tegra241
 *                                    CMDQV extension; the guest must program
 *                                    the VINTF's HYP_OWN bit as 0
 */
enum iommu_viommu_type {
	IOMMU_VIOMMU_TYPE_DEFAULT = 0,
	IOMMU_VIOMMU_TYPE_ARM_SMMUV3 = 1,
	IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV = 2,
};

/**
 * struct iommu_viommu_alloc - ioctl(IOMMU_VIOMMU_ALLOC)
 * @size: sizeof(struct iommu_viommu_alloc)
 * @flags: must be 0
 * @type: one of enum iommu_viommu_type, or a driver-defined type
 * @dev_id: id of a bound device; its physical IOMMU backs the vIOMMU
 * @hwpt_id: id of a nesting-parent paging HWPT the vIOMMU is tied to
 * @out_viommu_id: id of the new vIOMMU
 * @data_len: byte length of the driver data at @data_uptr
 * @__reserved: not checked (as upstream); set it to 0
 * @data_uptr: user address of type-specific data; the driver may also write
 *             results back into it
 *
 * Creates a virtual IOMMU: the share of a physical IOMMU's virtualization
 * features handed to one VM. It groups what is global to the guest's IOMMU
 * rather than to one device: guest-chosen cache tags, the nesting parent it
 * may share across physical IOMMUs, virtual device ids, events that belong
 * to no device, paravirtual invalidation, and hardware queues or interrupts
 * assigned to the guest.
 */
struct iommu_viommu_alloc {
	__u32 size;
	__u32 flags;
	__u32 type;
	__u32 dev_id;
	__u32 hwpt_id;
	__u32 out_viommu_id;
	__u32 data_len;
	__u32 __reserved;
	__aligned_u64 data_uptr;
};
#define IOMMU_VIOMMU_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VIOMMU_ALLOC)

/**
 * struct iommu_vdevice_alloc - ioctl(IOMMU_VDEVICE_ALLOC)
 * @size: sizeof(struct iommu_vdevice_alloc)
 * @viommu_id: id of the vIOMMU the device is presented on
 * @dev_id: id of a bound device behind that vIOMMU's physical IOMMU
 * @out_vdevice_id: id of the new virtual device object
 * @virt_id: the guest's id for the device on that vIOMMU (for instance a
 *           virtual stream id on SMMUv3); at most ULONG_MAX
 *
 * Gives a device its identity on a vIOMMU. A device must have one before
 * it can be attached to a nested HWPT of that vIOMMU, and the vIOMMU's
 * invalidation requests name devices by @virt_id. A device has at most
 * one virtual device, and a @virt_id names one device per vIOMMU (EEXIST
 * otherwise). The virtual device goes away with its device; the vIOMMU
 * cannot be destroyed while it has any.
 */
struct iommu_vdevice_alloc {
	__u32 size;
	__u32 viommu_id;
	__u32 dev_id;
	__u32 out_vdevice_id;
	__aligned_u64 virt_id;
};
#define IOMMU_VDEVICE_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VDEVICE_ALLOC)

/**
 * enum iommu_veventq_flag - flags of struct iommufd_vevent_header
 * @IOMMU_VEVENTQ_FLAG_LOST_EVENTS: events were dropped after the one before
 *                                  this header; no data follows it
 */
enum iommu_veventq_flag {
	IOMMU_VEVENTQ_FLAG_LOST_EVENTS = (1U << 0),
};

/**
 * struct iommufd_vevent_header - what precedes each event read() from a
 *                                vEVENTQ fd
 * @flags: 0, or IOMMU_VEVENTQ_FLAG_LOST_EVENTS
 * @sequence: the event's number in its queue, from 0 to INT_MAX and then 0
 *            again
 *
 * A normal header is followed by the event's type-specific data. Numbers go
 * up by one from one event to the next, so a jump of N means N - 1 events
 * were lost on the way. When events are lost after the last one queued, the
 * queue ends with a header flagged IOMMU_VEVENTQ_FLAG_LOST_EVENTS, carrying
 * the number the next event would have had, and no data; the next event
 * queued takes its place.
 */
struct iommufd_vevent_header {
	__u32 flags;
	__u32 sequence;
};

/**
 * enum iommu_veventq_type - kind of virtual event queue
 * @IOMMU_VEVENTQ_TYPE_DEFAULT: reserved
 * @IOMMU_VEVENTQ_TYPE_ARM_SMMUV3: ARM SMMUv3 event records
 * @IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV: NVIDIA Tegra241 CMDQV error interrupts
 */
enum iommu_veventq_type {
	IOMMU_VEVENTQ_TYPE_DEFAULT = 0,
	IOMMU_VEVENTQ_TYPE_ARM_SMMUV3 = 1,
	IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV = 2,
};

/**
 * struct iommu_veventq_alloc - ioctl(IOMMU_VEVENTQ_ALLOC)
 * @size: sizeof(struct iommu_veventq_alloc)
 * @flags: must be 0, otherwise EOPNOTSUPP
 * @viommu_id: id of the vIOMMU whose events the queue receives
 * @type: one of enum iommu_veventq_type, or a driver-defined type; not
 *        IOMMU_VEVENTQ_TYPE_DEFAULT (EOPNOTSUPP)
 * @veventq_depth: how many events the queue holds before it loses them;
 *                 from 1 to 2^19, otherwise EINVAL
 * @out_veventq_id: id of the new vEVENTQ
 * @out_veventq_fd: a new file descriptor (close-on-exec) of the queue
 * @__reserved: must be 0, otherwise EOPNOTSUPP
 *
 * Creates a queue of the vIOMMU's events of one @type; a vIOMMU has at most
 * one per type (EEXIST). User space read()s events from @out_veventq_fd,
 * each a struct iommufd_vevent_header and the type's data, and polls it for
 * new ones; the fd cannot be written. A read() returns whole events only
 * (EINVAL if the first does not fit). The queue cannot be destroyed while
 * the fd is open, nor the vIOMMU while the queue exists.
 */
struct iommu_veventq_alloc {
	__u32 size;
	__u32 flags;
	__u32 viommu_id;
	__u32 type;
	__u32 veventq_depth;
	__u32 out_veventq_id;
	__u32 out_veventq_fd;
	__u32 __reserved;
};
#define IOMMU_VEVENTQ_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VEVENTQ_ALLOC)

/**
 * enum iommu_hw_queue_type - kind of vIOMMU hardware queue
 * @IOMMU_HW_QUEUE_TYPE_DEFAULT: reserved
 * @IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV: a command queue of an NVIDIA
 *                                      Tegra241 CMDQV VINTF; its memory
 *                                      must be physically contiguous
 */
enum iommu_hw_queue_type {
	IOMMU_HW_QUEUE_TYPE_DEFAULT = 0,
	IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV = 1,
};

/**
 * struct iommu_hw_queue_alloc - ioctl(IOMMU_HW_QUEUE_ALLOC)
 * @size: sizeof(struct iommu_hw_queue_alloc)
 * @flags: must be 0, otherwise EOPNOTSUPP
 * @viommu_id: id of the vIOMMU the queue belongs to
 * @type: one of enum iommu_hw_queue_type, or a driver-defined type; not
 *        IOMMU_HW_QUEUE_TYPE_DEFAULT (EOPNOTSUPP)
 * @index: the queue's number on its vIOMMU, for drivers with several
 * @out_hw_queue_id: id of the new hardware queue object
 * @nesting_parent_iova: where the guest put the queue, as an IOVA of the
 *                       vIOMMU's nesting parent (a guest physical address)
 * @length: bytes of queue memory from @nesting_parent_iova; not 0 (EINVAL)
 *
 * Hands a guest queue in memory to the hardware, which reads it by
 * physical address. The range must be mapped in the nesting parent's IOAS;
 * it is pinned for as long as the queue exists, and unmapping any part of
 * it fails with EBUSY until the queue is destroyed. The vIOMMU cannot be
 * destroyed while it has queues; the driver may also make a queue depend
 * on another, which then cannot be destroyed first.
 */
struct iommu_hw_queue_alloc {
	__u32 size;
	__u32 flags;
	__u32 viommu_id;
	__u32 type;
	__u32 index;
	__u32 out_hw_queue_id;
	__aligned_u64 nesting_parent_iova;
	__aligned_u64 length;
};
#define IOMMU_HW_QUEUE_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HW_QUEUE_ALLOC)

#endif /* _UAPI_IOMMUFD_H */
