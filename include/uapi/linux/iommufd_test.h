/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * rust-iommufd self-test user-space API: IOMMU_TEST_CMD and the data
 * formats of the mock IOMMU driver.
 *
 * Layout and values are identical to the upstream kernel's
 * drivers/iommu/iommufd/iommufd_test.h (CONFIG_IOMMUFD_TEST), so test
 * programs written for upstream build against this header unchanged.
 *
 * Of the IOMMU_TEST_OP_* operations this module implements:
 *   ADD_RESERVED, MOCK_DOMAIN, MOCK_DOMAIN_FLAGS, MOCK_DOMAIN_REPLACE,
 *   MD_CHECK_MAP, MD_CHECK_REFS, CREATE_ACCESS, DESTROY_ACCESS_PAGES,
 *   ACCESS_PAGES, ACCESS_RW, ACCESS_REPLACE_IOAS, SET_TEMP_MEMORY_LIMIT,
 *   MD_CHECK_IOTLB, TRIGGER_IOPF, DEV_CHECK_CACHE, TRIGGER_VEVENT,
 *   PASID_ATTACH, PASID_REPLACE, PASID_DETACH, PASID_CHECK_HWPT, DIRTY,
 * and three of its own, which upstream lacks (see IOMMU_TEST_OP_RUST_*).
 * Every other op value, defined below or not, fails with EOPNOTSUPP.
 */
#ifndef _UAPI_IOMMUFD_TEST_H
#define _UAPI_IOMMUFD_TEST_H

#include <linux/iommufd.h>
#include <linux/types.h>

/* Values of iommu_test_cmd::op. The numbering must not change. */
enum {
	IOMMU_TEST_OP_ADD_RESERVED = 1,
	IOMMU_TEST_OP_MOCK_DOMAIN = 2,
	IOMMU_TEST_OP_MD_CHECK_MAP = 3,
	IOMMU_TEST_OP_MD_CHECK_REFS = 4,
	IOMMU_TEST_OP_CREATE_ACCESS = 5,
	IOMMU_TEST_OP_DESTROY_ACCESS_PAGES = 6,
	IOMMU_TEST_OP_ACCESS_PAGES = 7,
	IOMMU_TEST_OP_ACCESS_RW = 8,
	IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT = 9,
	IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE = 10,
	IOMMU_TEST_OP_ACCESS_REPLACE_IOAS = 11,
	IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS = 12,
	IOMMU_TEST_OP_DIRTY = 13,
	IOMMU_TEST_OP_MD_CHECK_IOTLB = 14,
	IOMMU_TEST_OP_TRIGGER_IOPF = 15,
	IOMMU_TEST_OP_DEV_CHECK_CACHE = 16,
	IOMMU_TEST_OP_TRIGGER_VEVENT = 17,
	IOMMU_TEST_OP_PASID_ATTACH = 18,
	IOMMU_TEST_OP_PASID_REPLACE = 19,
	IOMMU_TEST_OP_PASID_DETACH = 20,
	IOMMU_TEST_OP_PASID_CHECK_HWPT = 21,
	IOMMU_TEST_OP_DMABUF_GET = 22,
	IOMMU_TEST_OP_DMABUF_REVOKE = 23,
};

/*
 * rust_iommufd's own ops: what upstream's selftest cannot do with its mock
 * device (report a group of several faults, tell which page responses the
 * device received). Numbered from 0x1000, far from any op upstream adds.
 */
enum {
	IOMMU_TEST_OP_RUST_TRIGGER_IOPF_GROUP = 0x1000,
	IOMMU_TEST_OP_RUST_IOPF_RESPONSE = 0x1001,
	IOMMU_TEST_OP_RUST_DMA = 0x1002,
};

/* trigger_iopf_group.count: faults in one group, 1 to MOCK_IOPF_GROUP_MAX */
#define MOCK_IOPF_GROUP_MAX 64
/* Group indexes with a response record: PCIe's 9-bit page request group */
#define MOCK_IOPF_GRPID_NUM 512
/*
 * iopf_response.out_code of the IOMMU core's own answer when a fault
 * handler fails (the kernel's IOMMU_PAGE_RESP_FAILURE); user space can
 * only send IOMMUFD_PAGE_RESP_SUCCESS and IOMMUFD_PAGE_RESP_INVALID.
 */
#define MOCK_IOPF_RESP_FAILURE 2

/*
 * IOMMU_TEST_OP_RUST_DMA: the mock device's DMA (see the union member).
 * dma.flags: MOCK_DMA_WRITE for a DMA write (device to memory: the bytes
 * at @uptr land at @iova); without it a DMA read (memory at @iova to
 * @uptr). MOCK_DMA_MAX_LENGTH bounds @length. A page that faults again
 * after MOCK_DMA_MAX_RETRIES SUCCESS answers fails the DMA. Page requests
 * of a DMA use group indexes from MOCK_DMA_GRPID_BASE up (below
 * MOCK_IOPF_GRPID_NUM); the trigger ops should use lower ones. The wait
 * for a page response is @timeout_ms, or MOCK_DMA_TIMEOUT_DEFAULT_MS for
 * 0, at most MOCK_DMA_TIMEOUT_MAX_MS.
 */
#define MOCK_DMA_WRITE (1 << 0)
#define MOCK_DMA_MAX_LENGTH (1 << 22)
#define MOCK_DMA_MAX_RETRIES 3
#define MOCK_DMA_GRPID_BASE 256
#define MOCK_DMA_TIMEOUT_DEFAULT_MS 10000
#define MOCK_DMA_TIMEOUT_MAX_MS 60000

/* Page table formats of the mock paging domain. */
enum {
	MOCK_IOMMUPT_DEFAULT = 0,
	MOCK_IOMMUPT_HUGE = 1,
};

/* Geometry of a MOCK_IOMMUPT_DEFAULT mock domain. */
enum {
	MOCK_APERTURE_START = 1UL << 24,
	MOCK_APERTURE_LAST = (1UL << 31) - 1,
	MOCK_PAGE_SIZE = 2048,
	MOCK_HUGE_PAGE_SIZE = 512 * 2048,
};

/* create_access.flags */
enum {
	MOCK_FLAGS_ACCESS_WRITE = 1 << 0,
	MOCK_FLAGS_ACCESS_SYZ = 1 << 16,
};

/* access_rw.flags */
enum {
	MOCK_ACCESS_RW_WRITE = 1 << 0,
	MOCK_ACCESS_RW_SLOW_PATH = 1 << 2,
};

/* create_access.flags, second namespace */
enum {
	MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES = 1 << 0,
};

/*
 * mock_domain_flags.dev_flags: NO_DIRTY makes the mock device's IOMMU lack
 * dirty tracking, PASID gives the device MOCK_PASID_WIDTH bits of PASID.
 * Any other bit fails with EINVAL.
 */
enum {
	MOCK_FLAGS_DEVICE_NO_DIRTY = 1 << 0,
	MOCK_FLAGS_DEVICE_PASID = 1 << 2,
};

/* A mock nested HWPT has MOCK_NESTED_DOMAIN_IOTLB_NUM IOTLB slots. */
enum {
	MOCK_NESTED_DOMAIN_IOTLB_ID_MAX = 3,
	MOCK_NESTED_DOMAIN_IOTLB_NUM = 4,
};

/* A mock device has MOCK_DEV_CACHE_NUM device cache slots. */
enum {
	MOCK_DEV_CACHE_ID_MAX = 3,
	MOCK_DEV_CACHE_NUM = 4,
};

/*
 * On this PASID the mock driver fails every second attempt to set a
 * domain (the first one after an attach: a replace), so tests can exercise
 * the failure path of a PASID replace. Blocking the PASID restarts the
 * cycle.
 */
#define IOMMU_TEST_PASID_RESERVED 1024

/**
 * struct iommu_test_cmd - ioctl(IOMMU_TEST_CMD)
 * @size: sizeof(struct iommu_test_cmd); at least offsetofend(..., last)
 * @op: one of IOMMU_TEST_OP_*
 * @id: object the op works on (IOAS, HWPT, selftest device, ... per op)
 * @__reserved: not checked (as upstream); set it to 0
 * @last: end marker, never read; fixes the structure's minimum size
 *
 * The union holds the op-specific arguments and results, one member per op.
 */
struct iommu_test_cmd {
	__u32 size;
	__u32 op;
	__u32 id;
	__u32 __reserved;
	union {
		/* IOMMU_TEST_OP_ADD_RESERVED */
		struct {
			__aligned_u64 start;
			__aligned_u64 length;
		} add_reserved;
		/*
		 * IOMMU_TEST_OP_MOCK_DOMAIN: @id is the IOAS or HWPT to attach
		 * the new mock device to. Returns the selftest device object,
		 * the HWPT it ended up on and its bound device (idev) object.
		 */
		struct {
			__u32 out_stdev_id;
			__u32 out_hwpt_id;
			__u32 out_idev_id;
		} mock_domain;
		/* IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS: as above plus dev_flags */
		struct {
			__u32 out_stdev_id;
			__u32 out_hwpt_id;
			__u32 out_idev_id;
			__u32 dev_flags;
		} mock_domain_flags;
		/*
		 * IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: @id is a selftest device;
		 * moves it to the IOAS or HWPT @pt_id and returns, in @pt_id,
		 * the HWPT it is now attached to.
		 */
		struct {
			__u32 pt_id;
		} mock_domain_replace;
		/* IOMMU_TEST_OP_MD_CHECK_MAP */
		struct {
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 uptr;
		} check_map;
		/* IOMMU_TEST_OP_MD_CHECK_REFS */
		struct {
			__aligned_u64 length;
			__aligned_u64 uptr;
			__u32 refs;
		} check_refs;
		/* IOMMU_TEST_OP_CREATE_ACCESS */
		struct {
			__u32 out_access_fd;
			__u32 flags;
		} create_access;
		/* IOMMU_TEST_OP_DESTROY_ACCESS_PAGES */
		struct {
			__u32 access_pages_id;
		} destroy_access_pages;
		/* IOMMU_TEST_OP_ACCESS_PAGES */
		struct {
			__u32 flags;
			__u32 out_access_pages_id;
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 uptr;
		} access_pages;
		/* IOMMU_TEST_OP_ACCESS_RW */
		struct {
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 uptr;
			__u32 flags;
		} access_rw;
		/*
		 * IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT: bytes of temporary
		 * memory the page-pinning code may use in one go; global to
		 * the module. At least 12, EINVAL below that.
		 */
		struct {
			__u32 limit;
		} memory_limit;
		/* IOMMU_TEST_OP_ACCESS_REPLACE_IOAS */
		struct {
			__u32 ioas_id;
		} access_replace_ioas;
		/*
		 * IOMMU_TEST_OP_DIRTY: @id is a mock paging HWPT with dirty
		 * tracking on (EINVAL otherwise). Marks dirty, as a device
		 * write would, the page at @iova + i * @page_size for every
		 * bit i set in the bitmap at @uptr, which covers @length bytes
		 * of IOVA; returns how many bits were set. @page_size and
		 * @length must not be 0, @iova and @length must be multiples
		 * of @page_size and @uptr must not be 0 (EINVAL); at most
		 * 2^27 bits (EOVERFLOW). @flags is not read.
		 */
		struct {
			__u32 flags;
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 page_size;
			__aligned_u64 uptr;
			__aligned_u64 out_nr_dirty;
		} dirty;
		/*
		 * IOMMU_TEST_OP_MD_CHECK_IOTLB: outer @id is a nested mock
		 * HWPT; EINVAL unless its IOTLB slot @id (here) holds @iotlb.
		 */
		struct {
			__u32 id;
			__u32 iotlb;
		} check_iotlb;
		/* IOMMU_TEST_OP_TRIGGER_IOPF: @dev_id is a bound device */
		struct {
			__u32 dev_id;
			__u32 pasid;
			__u32 grpid;
			__u32 perm;
			__u64 addr;
		} trigger_iopf;
		/*
		 * IOMMU_TEST_OP_DEV_CHECK_CACHE: @id (outer) is a bound
		 * device; EINVAL unless its cache slot @id holds @cache.
		 */
		struct {
			__u32 id;
			__u32 cache;
		} check_dev_cache;
		/* IOMMU_TEST_OP_TRIGGER_VEVENT */
		struct {
			__u32 dev_id;
		} trigger_vevent;
		/* IOMMU_TEST_OP_PASID_ATTACH: outer @id is a selftest dev. */
		struct {
			__u32 pasid;
			__u32 pt_id;
		} pasid_attach;
		/* IOMMU_TEST_OP_PASID_REPLACE: outer @id is a selftest dev. */
		struct {
			__u32 pasid;
			__u32 pt_id;
		} pasid_replace;
		/* IOMMU_TEST_OP_PASID_DETACH: outer @id is a selftest device */
		struct {
			__u32 pasid;
		} pasid_detach;
		/*
		 * IOMMU_TEST_OP_PASID_CHECK_HWPT: outer @id is a selftest
		 * device; EINVAL unless @pasid is attached to @hwpt_id, where
		 * @hwpt_id 0 stands for "nothing attached".
		 */
		struct {
			__u32 pasid;
			__u32 hwpt_id;
		} pasid_check;
		/* IOMMU_TEST_OP_DMABUF_GET */
		struct {
			__u32 length;
			__u32 open_flags;
		} dmabuf_get;
		/* IOMMU_TEST_OP_DMABUF_REVOKE */
		struct {
			__s32 dmabuf_fd;
			__u32 revoked;
		} dmabuf_revoke;
		/*
		 * IOMMU_TEST_OP_RUST_TRIGGER_IOPF_GROUP: as trigger_iopf, but
		 * a group of @count faults, the i-th at @addr + i * 0x1000;
		 * only the last is flagged as the last of its group.
		 */
		struct {
			__u32 dev_id;
			__u32 pasid;
			__u32 grpid;
			__u32 perm;
			__aligned_u64 addr;
			__u32 count;
		} trigger_iopf_group;
		/*
		 * IOMMU_TEST_OP_RUST_IOPF_RESPONSE: @dev_id is a bound mock
		 * device. Returns, and forgets, what the device received as
		 * page responses for group @grpid (below MOCK_IOPF_GRPID_NUM,
		 * else EINVAL) since the last such call: @out_count responses,
		 * the last of them with code @out_code for PASID @out_pasid.
		 * @out_total counts every response the device received, for
		 * any group, since it was created; @out_dma_groups the page
		 * request groups its DMAs (IOMMU_TEST_OP_RUST_DMA) sent.
		 */
		struct {
			__u32 dev_id;
			__u32 grpid;
			__u32 out_count;
			__u32 out_code;
			__u32 out_pasid;
			__u32 out_total;
			__u32 out_dma_groups;
		} iopf_response;
		/*
		 * IOMMU_TEST_OP_RUST_DMA: bound mock device @dev_id does a DMA
		 * of @length bytes at @iova on @pasid (IOMMU_NO_PASID for its
		 * RID), through the page table of the domain attached there.
		 * A page that is not mapped with the permission the DMA needs
		 * makes the device, if that domain takes IO page faults, send
		 * one page request group per run of such pages (at most
		 * MOCK_IOPF_GROUP_MAX, one request per 4 KiB page, the last
		 * flagged LAST_PAGE) and stall until the group is answered;
		 * SUCCESS retries the translation. Errors: ENXIO nothing is
		 * attached; EFAULT the page is not mapped and the domain takes
		 * no faults, or still not mapped after MOCK_DMA_MAX_RETRIES
		 * answers, or @uptr is bad; EIO answered INVALID or FAILURE;
		 * ETIMEDOUT no answer in time; EINTR a signal. On error the
		 * bytes before the faulting page were transferred, none after,
		 * and the out fields are not written.
		 * @out_faults: groups sent; @out_requests: page requests sent.
		 */
		struct {
			__u32 dev_id;
			__u32 pasid;
			__aligned_u64 iova;
			__aligned_u64 uptr;
			__u32 length;
			__u32 flags;
			__u32 timeout_ms;
			__u32 out_faults;
			__u32 out_requests;
		} dma;
	};
	__u32 last;
};
#define IOMMU_TEST_CMD _IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE + 32)

/* Number of PASID bits of a mock device created with MOCK_FLAGS_DEVICE_PASID */
#define MOCK_PASID_WIDTH 20

/* IOMMU_GET_HW_INFO of a mock device: type and contents of the data. */
#define IOMMU_HW_INFO_TYPE_SELFTEST	0xfeedbeef
#define IOMMU_HW_INFO_SELFTEST_REGVAL	0xdeadbeef

/**
 * struct iommu_test_hw_info - hardware data reported for a mock device
 * @flags: always 0
 * @test_reg: always IOMMU_HW_INFO_SELFTEST_REGVAL
 */
struct iommu_test_hw_info {
	__u32 flags;
	__u32 test_reg;
};

/* Mock HWPT data type; deliberately outside enum iommu_hwpt_data_type. */
#define IOMMU_HWPT_DATA_SELFTEST 0xdead
/* Conventional initial IOTLB value of a mock nested HWPT */
#define IOMMU_TEST_IOTLB_DEFAULT 0xbadbeef
/* Initial value of every device cache slot of a mock device */
#define IOMMU_TEST_DEV_CACHE_DEFAULT 0xbaddad

/**
 * struct iommu_hwpt_selftest - HWPT_ALLOC data for IOMMU_HWPT_DATA_SELFTEST
 * @iotlb: value every IOTLB slot of a new nested HWPT starts with
 * @pagetable_type: MOCK_IOMMUPT_* format, for paging HWPTs
 */
struct iommu_hwpt_selftest {
	__u32 iotlb;
	__u32 pagetable_type;
};

/*
 * Mock invalidation data types for a nested HWPT; neither collides with
 * enum iommu_hwpt_invalidate_data_type. The _INVALID one is never accepted.
 */
#define IOMMU_HWPT_INVALIDATE_DATA_SELFTEST 0xdeadbeef
#define IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID 0xdadbeef

/*
 * Clear every slot. The entry's slot index is then not used, but it must
 * still be in range.
 */
#define IOMMU_TEST_INVALIDATE_FLAG_ALL (1 << 0)

/**
 * struct iommu_hwpt_invalidate_selftest - IOMMU_HWPT_INVALIDATE entry of the
 *                                         mock driver's nested HWPT
 * @flags: 0 or IOMMU_TEST_INVALIDATE_FLAG_ALL; other bits: EOPNOTSUPP
 * @iotlb_id: IOTLB slot to clear, at most MOCK_NESTED_DOMAIN_IOTLB_ID_MAX
 */
struct iommu_hwpt_invalidate_selftest {
	__u32 flags;
	__u32 iotlb_id;
};

/* Mock vIOMMU type; outside enum iommu_viommu_type. */
#define IOMMU_VIOMMU_TYPE_SELFTEST 0xdeadbeef

/**
 * struct iommu_viommu_selftest - IOMMU_VIOMMU_ALLOC data of the mock vIOMMU
 * @in_data: any value chosen by the caller
 * @out_data: set to @in_data by the driver
 * @out_mmap_offset: mmap() offset of the mock vIOMMU's MMIO-like pages
 * @out_mmap_length: mmap() length of those pages
 */
struct iommu_viommu_selftest {
	__u32 in_data;
	__u32 out_data;
	__aligned_u64 out_mmap_offset;
	__aligned_u64 out_mmap_length;
};

/* Mock invalidation data types for a vIOMMU; the _INVALID one is refused. */
#define IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST 0xdeadbeef
#define IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID 0xdadbeef

/**
 * struct iommu_viommu_invalidate_selftest - IOMMU_HWPT_INVALIDATE entry of
 *                                           the mock driver's vIOMMU
 * @flags: 0 or IOMMU_TEST_INVALIDATE_FLAG_ALL
 * @vdev_id: virtual device id whose cache is flushed
 * @cache_id: device cache slot, ignored with IOMMU_TEST_INVALIDATE_FLAG_ALL
 */
struct iommu_viommu_invalidate_selftest {
	__u32 flags;
	__u32 vdev_id;
	__u32 cache_id;
};

/* Mock vEVENTQ type and the event record it delivers */
#define IOMMU_VEVENTQ_TYPE_SELFTEST 0xbeefbeef

/**
 * struct iommu_viommu_event_selftest - event record of the mock vEVENTQ
 * @virt_id: virtual id of the device the event is about
 */
struct iommu_viommu_event_selftest {
	__u32 virt_id;
};

/* Mock hardware queue type and the number of queues a mock vIOMMU has */
#define IOMMU_HW_QUEUE_TYPE_SELFTEST 0xdeadbeef
#define IOMMU_TEST_HW_QUEUE_MAX 2

#endif /* _UAPI_IOMMUFD_TEST_H */
