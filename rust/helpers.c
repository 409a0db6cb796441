// SPDX-License-Identifier: GPL-2.0
/*
 * C glue for what Rust cannot express in the 7.3 kernel crate. Keep this
 * file to macros and static inlines; logic lives on the Rust side.
 */
#include <linux/generic_pt/iommu.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/property.h>
#include <linux/sched.h>

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

void rust_iommufd_put_page(struct page *page);
void rust_iommufd_put_page(struct page *page)
{
	put_page(page);
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
 * current->mm, read by C: the 7.3 kernel crate's CurrentTask::mm() reads
 * the field at bindgen's offset, which on the test kernel is not the C
 * compiler's (it returned a pointer into the task itself).
 */
struct mm_struct *rust_iommufd_current_mm(void);
struct mm_struct *rust_iommufd_current_mm(void)
{
	return current->mm;
}
