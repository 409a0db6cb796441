// SPDX-License-Identifier: GPL-2.0
/*
 * C glue for what Rust cannot express in the 7.3 kernel crate. Keep this
 * file to macros and static inlines; logic lives on the Rust side.
 */
#include <linux/cred.h>
#include <linux/debugfs.h>
#include <linux/fault-inject.h>
#include <linux/generic_pt/iommu.h>
#include <linux/iommu.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/property.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>

/*
 * The Rust module! macro has no string parameters. The buffer is filled by
 * the module loader before init and is read-only afterwards (0444).
 */
static char devname[32] = "iommu";
module_param_string(devname, devname, sizeof(devname), 0444);
MODULE_PARM_DESC(devname,
		 "misc device name (default \"iommu\", i.e. /dev/iommu); pick another to load beside iommufd.ko");

const char *rust_iommufd_devname(void);
const char *rust_iommufd_devname(void)
{
	return devname;
}

/*
 * The fault queue's depth is writable at run time (0644), which the Rust
 * module! macro's parameters are not; each fault queue reads it once, when
 * it is allocated, with READ_ONCE() since sysfs may write it meanwhile.
 */
static unsigned int fault_queue_depth = 4096;
module_param(fault_queue_depth, uint, 0644);
MODULE_PARM_DESC(fault_queue_depth,
		 "fault groups a fault queue holds unanswered before it answers new ones at once (IOMMUFD_PAGE_RESP_INVALID); 0: no limit, as upstream (default 4096)");

unsigned int rust_iommufd_fault_queue_depth(void);
unsigned int rust_iommufd_fault_queue_depth(void)
{
	return READ_ONCE(fault_queue_depth);
}

/*
 * How many unbound mock devices the mock IOMMU keeps for the next selftest
 * object (rust/mock/dev.rs, MockDevLease); writable at run time like
 * fault_queue_depth, so tests of device creation can turn reuse off.
 */
static unsigned int mock_idle_devices;
module_param(mock_idle_devices, uint, 0644);
MODULE_PARM_DESC(mock_idle_devices,
		 "unbound mock devices kept for reuse by IOMMU_TEST_OP_MOCK_DOMAIN, at most 4; each holds a reference on the module; 0: a new device every time, as upstream (default 0)");

unsigned int rust_iommufd_mock_idle_devices(void);
unsigned int rust_iommufd_mock_idle_devices(void)
{
	return READ_ONCE(mock_idle_devices);
}

/*
 * PROPERTY_ENTRY_U32() builds a tagged union that Rust cannot spell: the
 * IOMMU core reads "pasid-num-bits" to size a non-PCI device's PASID space.
 */
int rust_iommufd_set_pasid_bits(struct device *dev, u32 bits);
int rust_iommufd_set_pasid_bits(struct device *dev, u32 bits)
{
	const struct property_entry props[] = {
		PROPERTY_ENTRY_U32("pasid-num-bits", bits),
		{}
	};

	return device_create_managed_software_node(dev, props, NULL);
}

/*
 * list_add() and list_del_init() are static inlines the kernel crate has no
 * helpers for; rust/sys/iopf.rs queues fault groups on their list nodes.
 */
void rust_iommufd_list_add(struct list_head *new, struct list_head *head);
void rust_iommufd_list_add(struct list_head *new, struct list_head *head)
{
	list_add(new, head);
}

void rust_iommufd_list_del_init(struct list_head *entry);
void rust_iommufd_list_del_init(struct list_head *entry)
{
	list_del_init(entry);
}

/*
 * Page reference counts and compound pages are static inlines too;
 * IOMMU_TEST_OP_MD_CHECK_REFS reads the pin count of user pages.
 */
int rust_iommufd_page_ref_count(const struct page *page);
int rust_iommufd_page_ref_count(const struct page *page)
{
	return page_ref_count(page);
}

bool rust_iommufd_page_compound(const struct page *page);
bool rust_iommufd_page_compound(const struct page *page)
{
	return PageCompound(page);
}

phys_addr_t rust_iommufd_page_to_phys(const struct page *page);
phys_addr_t rust_iommufd_page_to_phys(const struct page *page)
{
	return page_to_phys(page);
}

/*
 * Locked-memory accounting of pinned pages (rust/sys/account.rs):
 * get_uid(), current_user(), task_rlimit() and the mmap write lock are
 * static inlines or macros.
 */
struct user_struct *rust_iommufd_get_current_user(void);
struct user_struct *rust_iommufd_get_current_user(void)
{
	return get_uid(current_user());
}

unsigned long rust_iommufd_memlock_limit(const struct task_struct *task);
unsigned long rust_iommufd_memlock_limit(const struct task_struct *task)
{
	return task_rlimit(task, RLIMIT_MEMLOCK);
}

void rust_iommufd_mmap_write_lock(struct mm_struct *mm);
void rust_iommufd_mmap_write_lock(struct mm_struct *mm)
{
	mmap_write_lock(mm);
}

void rust_iommufd_mmap_write_unlock(struct mm_struct *mm);
void rust_iommufd_mmap_write_unlock(struct mm_struct *mm)
{
	mmap_write_unlock(mm);
}

void rust_iommufd_put_page(struct page *page);
void rust_iommufd_put_page(struct page *page)
{
	put_page(page);
}

/* Folios of a memfd pinned by memfd_pin_folios() (sys/pages/memfd.rs). */
unsigned long rust_iommufd_folio_nr_pages(const struct folio *folio);
unsigned long rust_iommufd_folio_nr_pages(const struct folio *folio)
{
	return folio_nr_pages(folio);
}

struct page *rust_iommufd_folio_page(struct folio *folio, unsigned long n);
struct page *rust_iommufd_folio_page(struct folio *folio, unsigned long n)
{
	return folio_page(folio, n);
}

/*
 * The mock device's DMA (rust/sys/pages.rs, PageRef) reaches the page a
 * domain translates an IOVA to: pfn_valid(), pfn_to_page() and get_page()
 * are macros and static inlines. NULL if no struct page backs @phys.
 */
struct page *rust_iommufd_phys_get_page(phys_addr_t phys);
struct page *rust_iommufd_phys_get_page(phys_addr_t phys)
{
	struct page *page;

	if (!pfn_valid(PHYS_PFN(phys)))
		return NULL;
	page = pfn_to_page(PHYS_PFN(phys));
	get_page(page);
	return page;
}

/*
 * The generic page table's structures are not in the kernel crate's
 * bindings; rust/sys/pt.rs declares them and checks their size against
 * this. pt_iommu_deinit() is a static inline.
 */
static_assert(offsetof(struct pt_iommu_amdv1, iommu.domain) == 0);

size_t rust_iommufd_pt_amdv1_size(void);
size_t rust_iommufd_pt_amdv1_size(void)
{
	return sizeof(struct pt_iommu_amdv1);
}

void rust_iommufd_pt_iommu_deinit(struct pt_iommu_amdv1 *table);
void rust_iommufd_pt_iommu_deinit(struct pt_iommu_amdv1 *table)
{
	pt_iommu_deinit(&table->iommu);
}

/*
 * Dirty tracking (rust/sys/dirty.rs): setting up the report of a driver's
 * read_and_clear_dirty and flushing what it cleared are static inlines;
 * the gather they share points to itself, so it is set up in place.
 */
void rust_iommufd_dirty_bitmap_init(struct iommu_dirty_bitmap *dirty,
				    struct iova_bitmap *bitmap,
				    struct iommu_iotlb_gather *gather);
void rust_iommufd_dirty_bitmap_init(struct iommu_dirty_bitmap *dirty,
				    struct iova_bitmap *bitmap,
				    struct iommu_iotlb_gather *gather)
{
	iommu_dirty_bitmap_init(dirty, bitmap, gather);
}

void rust_iommufd_iotlb_sync(struct iommu_domain *domain,
			     struct iommu_iotlb_gather *gather);
void rust_iommufd_iotlb_sync(struct iommu_domain *domain,
			     struct iommu_iotlb_gather *gather)
{
	iommu_iotlb_sync(domain, gather);
}

/*
 * rust/sys/pt.rs reads struct pt_iommu_ops up to set_dirty, the op the
 * selftest's IOMMU_TEST_OP_DIRTY calls, as two pointers and that op.
 */
static_assert(offsetof(struct pt_iommu_ops, set_dirty) ==
	      2 * sizeof(void *));

/*
 * Rust's struct task_struct against C's (rust/sys/layout.rs): the module
 * refuses to load where bindgen laid it out differently.
 */
size_t rust_iommufd_task_struct_size(void);
size_t rust_iommufd_task_struct_size(void)
{
	return sizeof(struct task_struct);
}

size_t rust_iommufd_task_struct_mm_offset(void);
size_t rust_iommufd_task_struct_mm_offset(void)
{
	return offsetof(struct task_struct, mm);
}

size_t rust_iommufd_task_struct_pid_offset(void);
size_t rust_iommufd_task_struct_pid_offset(void)
{
	return offsetof(struct task_struct, pid);
}

size_t rust_iommufd_task_struct_group_leader_offset(void);
size_t rust_iommufd_task_struct_group_leader_offset(void)
{
	return offsetof(struct task_struct, group_leader);
}

/*
 * iommu_mock_device_add() (drivers/iommu/iommu-priv.h) gives the device
 * its IOMMU data (struct dev_iommu, then the fwspec) and frees both if
 * device_add() fails, but not when the fwspec's allocation fails after
 * struct dev_iommu's succeeded: iommu_fwspec_init() returns the error with
 * dev->iommu still set. Only the IOMMU core's bus notifier frees that data
 * (on removal from the bus), and a device that never went on the bus is
 * released without it, so every such failure leaked a struct dev_iommu.
 * This wrapper frees what a failed add left on the device, which nothing
 * else can see yet (it is on no bus).
 */
int iommu_mock_device_add(struct device *dev, struct iommu_device *iommu);

int rust_iommufd_mock_device_add(struct device *dev, struct iommu_device *iommu);
int rust_iommufd_mock_device_add(struct device *dev, struct iommu_device *iommu)
{
	int rc = iommu_mock_device_add(dev, iommu);
	struct dev_iommu *param = dev->iommu;

	if (!rc || !param)
		return rc;
	dev->iommu = NULL;
	if (param->fwspec) {
		fwnode_handle_put(param->fwspec->iommu_fwnode);
		kfree(param->fwspec);
	}
	mutex_destroy(&param->lock);
	kfree(param);
	return rc;
}

/*
 * The module's own fault attribute, /sys/kernel/debug/fail_rust_iommufd/,
 * checked where upstream calls iommufd_should_fail() and we have the same
 * step (rust/sys/fault_inject.rs lists them). DECLARE_FAULT_ATTR() is a
 * static initialiser Rust cannot spell. The name starts with "fail":
 * upstream's iommufd_fail_nth writes 0 to the verbose file of every
 * debugfs directory whose name does.
 * Without CONFIG_FAULT_INJECTION_DEBUG_FS the directory is an ERR_PTR,
 * which debugfs_remove_recursive() ignores; without
 * CONFIG_FAULT_INJECTION should_fail() is always false.
 */
static DECLARE_FAULT_ATTR(fail_rust_iommufd);
static struct dentry *fail_rust_iommufd_dir;

void rust_iommufd_fault_attr_create(void);
void rust_iommufd_fault_attr_create(void)
{
	fail_rust_iommufd_dir = fault_create_debugfs_attr("fail_rust_iommufd",
							  NULL,
							  &fail_rust_iommufd);
}

void rust_iommufd_fault_attr_remove(void);
void rust_iommufd_fault_attr_remove(void)
{
	debugfs_remove_recursive(fail_rust_iommufd_dir);
	fail_rust_iommufd_dir = NULL;
}

bool rust_iommufd_should_fail(void);
bool rust_iommufd_should_fail(void)
{
	return should_fail(&fail_rust_iommufd, 1);
}
