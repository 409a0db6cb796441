// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile input, table driven: one TAP case per row. Each row runs in a
 * fresh file with a known set of objects (struct env) and does one bad
 * thing to an ioctl or to a fault fd; it must fail with the errno
 * upstream's iommufd gives, and leave no trace:
 * - the next object id is the same as before the row (no id was taken),
 * - no file descriptor was left installed,
 * - with rust_iommufd, its debugfs counters (objects, queued and delivered
 *   fault groups) are the same as before the row.
 *
 * Every row uses upstream's uAPI only, except those marked RUST (this
 * module's multi-fault trigger), so the table can be checked against the
 * C iommufd.ko (IOMMUFD_DEV, see Documentation/testing.rst).
 */
#include <stdio.h>

#include "kselftest.h"

#include "iommufd_counters.h"
/*
 * The helpers come with kselftest_harness.h; this program prints its own
 * TAP (one case per row or check) and leaves the harness's runner unused.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "iommufd_fault_utils.h"
#pragma GCC diagnostic pop

/* The objects every row starts with. */
struct env {
	int fd;
	__u32 ioas, stdev, idev, hwpt, plain, parent, viommu, fault_id;
	int fault_fd;
	/* Ids that name nothing any more. */
	__u32 dead_ioas, dead_fault;
	/* A delivered group's cookie, and one already answered. */
	__u32 cookie_live, cookie_answered;
	/* A page that is not mapped, and one that is read-only. */
	void *unmapped, *rdonly;
};

static int env_setup(struct env *e)
{
	struct iommu_hwpt_pgfault rec[2];
	void *unmapped = e->unmapped, *rdonly = e->rdonly;
	int dff;

	memset(e, 0, sizeof(*e));
	e->unmapped = unmapped;
	e->rdonly = rdonly;
	e->fault_fd = -1;
	e->fd = iommufd_open();
	if (e->fd < 0)
		return -1;
	if (ioas_alloc(e->fd, &e->ioas) ||
	    mock_domain_flags(e->fd, e->ioas, MOCK_FLAGS_DEVICE_PASID,
			      &e->stdev, NULL, &e->idev) ||
	    fault_alloc(e->fd, &e->fault_id, &e->fault_fd) ||
	    hwpt_alloc_fault(e->fd, e->idev, e->ioas, IOMMU_HWPT_ALLOC_PASID,
			     e->fault_id, &e->hwpt) ||
	    hwpt_alloc(e->fd, e->idev, e->ioas, 0, &e->plain) ||
	    hwpt_alloc(e->fd, e->idev, e->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
		       &e->parent) ||
	    viommu_alloc(e->fd, e->idev, e->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
			 0, NULL, 0, &e->viommu) ||
	    mock_domain_replace(e->fd, e->stdev, e->hwpt, NULL))
		return -1;
	/* Two groups delivered; the second answered. */
	if (trigger_fault(e->fd, e->idev, 0, 1) ||
	    trigger_fault(e->fd, e->idev, 0, 2) ||
	    read(e->fault_fd, rec, sizeof(rec)) != sizeof(rec) ||
	    respond(e->fault_fd, rec[1].cookie, IOMMUFD_PAGE_RESP_SUCCESS) !=
		    RESPONSE_SIZE)
		return -1;
	e->cookie_live = rec[0].cookie;
	e->cookie_answered = rec[1].cookie;
	/* Dead ids last: nothing may take them again. */
	if (fault_alloc(e->fd, &e->dead_fault, &dff) || close(dff) ||
	    destroy(e->fd, e->dead_fault) ||
	    ioas_alloc(e->fd, &e->dead_ioas) || destroy(e->fd, e->dead_ioas))
		return -1;
	return 0;
}

static void env_teardown(struct env *e)
{
	if (e->fault_fd >= 0)
		close(e->fault_fd);
	if (e->fd >= 0)
		close(e->fd);
}

/* A structure at the end of a page whose next page is unmapped. */
static void *at_page_end(struct env *e, size_t len)
{
	return (char *)e->unmapped - len;
}

/* @cmd copied to the read-only page: outputs cannot be written back. */
static void *rdonly_cmd(struct env *e, const void *cmd, size_t len)
{
	size_t psz = page_size();

	mprotect(e->rdonly, psz, PROT_READ | PROT_WRITE);
	memset(e->rdonly, 0, psz);
	memcpy(e->rdonly, cmd, len);
	mprotect(e->rdonly, psz, PROT_READ);
	return e->rdonly;
}

#define CASE(fn) static int fn(struct env *e)

/* IOMMU_DESTROY */
CASE(destroy_size_zero)
{
	struct iommu_destroy cmd = { .size = 0, .id = e->ioas };

	return ioctl(e->fd, IOMMU_DESTROY, &cmd);
}

CASE(destroy_size_short)
{
	struct iommu_destroy cmd = { .size = 4, .id = e->ioas };

	return ioctl(e->fd, IOMMU_DESTROY, &cmd);
}

CASE(destroy_nonzero_tail)
{
	struct { struct iommu_destroy cmd; __u64 tail; } big = {
		.cmd = { .size = sizeof(big), .id = e->ioas }, .tail = 1,
	};

	return ioctl(e->fd, IOMMU_DESTROY, &big);
}

CASE(destroy_unmapped_arg)
{
	return ioctl(e->fd, IOMMU_DESTROY, e->unmapped);
}

CASE(destroy_size_past_mapping)
{
	struct iommu_destroy *cmd = at_page_end(e, sizeof(*cmd));

	cmd->size = sizeof(*cmd) + 8;
	cmd->id = e->ioas;
	return ioctl(e->fd, IOMMU_DESTROY, cmd);
}

CASE(destroy_id_zero) { return destroy(e->fd, 0); }
CASE(destroy_id_never_used) { return destroy(e->fd, 100000); }
CASE(destroy_id_destroyed) { return destroy(e->fd, e->dead_ioas); }
CASE(destroy_id_huge) { return destroy(e->fd, 0xffffffff); }
CASE(destroy_in_use) { return destroy(e->fd, e->ioas); }
CASE(destroy_fault_with_fd_open) { return destroy(e->fd, e->fault_id); }

/* IOMMU_IOAS_ALLOC */
CASE(ioas_alloc_flags)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd), .flags = 1 };

	return ioctl(e->fd, IOMMU_IOAS_ALLOC, &cmd);
}

CASE(ioas_alloc_rdonly_output)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };

	return ioctl(e->fd, IOMMU_IOAS_ALLOC, rdonly_cmd(e, &cmd, sizeof(cmd)));
}

/* IOMMU_HWPT_ALLOC */
static int hwpt_alloc_raw(struct env *e, struct iommu_hwpt_alloc *cmd)
{
	cmd->size = sizeof(*cmd);
	if (!cmd->dev_id)
		cmd->dev_id = e->idev;
	if (!cmd->pt_id)
		cmd->pt_id = e->ioas;
	return ioctl(e->fd, IOMMU_HWPT_ALLOC, cmd);
}

CASE(hwpt_alloc_unknown_flag)
{
	struct iommu_hwpt_alloc cmd = { .flags = 1u << 31 };

	return hwpt_alloc_raw(e, &cmd);
}

CASE(hwpt_alloc_reserved)
{
	struct iommu_hwpt_alloc cmd = { .__reserved = 1 };

	return hwpt_alloc_raw(e, &cmd);
}

CASE(hwpt_alloc_dev_is_ioas)
{
	struct iommu_hwpt_alloc cmd = { .dev_id = 0 };

	cmd.dev_id = e->ioas;
	return hwpt_alloc_raw(e, &cmd);
}

CASE(hwpt_alloc_pt_is_fault)
{
	struct iommu_hwpt_alloc cmd = {};

	cmd.pt_id = e->fault_id;
	return hwpt_alloc_raw(e, &cmd);
}

CASE(hwpt_alloc_pt_destroyed)
{
	struct iommu_hwpt_alloc cmd = {};

	cmd.pt_id = e->dead_ioas;
	return hwpt_alloc_raw(e, &cmd);
}

CASE(hwpt_alloc_fault_id_is_ioas)
{
	struct iommu_hwpt_alloc cmd = { .flags = IOMMU_HWPT_FAULT_ID_VALID };

	cmd.fault_id = e->ioas;
	return hwpt_alloc_raw(e, &cmd);
}

CASE(hwpt_alloc_fault_id_destroyed)
{
	struct iommu_hwpt_alloc cmd = { .flags = IOMMU_HWPT_FAULT_ID_VALID };

	cmd.fault_id = e->dead_fault;
	return hwpt_alloc_raw(e, &cmd);
}

CASE(hwpt_alloc_nested_unmapped_data)
{
	struct iommu_hwpt_alloc cmd = {
		.data_type = IOMMU_HWPT_DATA_SELFTEST,
		.data_len = sizeof(struct iommu_hwpt_selftest),
	};

	cmd.pt_id = e->parent;
	cmd.data_uptr = PTR_U64(e->unmapped);
	return hwpt_alloc_raw(e, &cmd);
}

CASE(hwpt_alloc_nested_unknown_type)
{
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_alloc cmd = {
		/* IOMMU_HWPT_DATA_SELFTEST is 0xdead. */
		.data_type = 0xbeef,
		.data_len = sizeof(data),
		.data_uptr = PTR_U64(&data),
	};

	cmd.pt_id = e->parent;
	return hwpt_alloc_raw(e, &cmd);
}

CASE(hwpt_alloc_rdonly_output)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_HWPT_FAULT_ID_VALID,
	};

	cmd.dev_id = e->idev;
	cmd.pt_id = e->ioas;
	cmd.fault_id = e->fault_id;
	return ioctl(e->fd, IOMMU_HWPT_ALLOC, rdonly_cmd(e, &cmd, sizeof(cmd)));
}

/* IOMMU_GET_HW_INFO */
CASE(hw_info_dev_is_ioas)
{
	return get_hw_info(e->fd, e->ioas, 0, 0, NULL, 0, NULL);
}

CASE(hw_info_unknown_flag)
{
	return get_hw_info(e->fd, e->idev, 1u << 31, 0, NULL, 0, NULL);
}

CASE(hw_info_unmapped_data)
{
	return get_hw_info(e->fd, e->idev, 0, 0, e->unmapped, 64, NULL);
}

CASE(hw_info_reserved)
{
	struct iommu_hw_info cmd = { .size = sizeof(cmd), .__reserved = { 1 } };

	cmd.dev_id = e->idev;
	return ioctl(e->fd, IOMMU_GET_HW_INFO, &cmd);
}

/* IOMMU_HWPT_INVALIDATE */
static int invalidate_raw(struct env *e, __u32 hwpt_id, void *data,
			  __u32 len, __u32 num, __u32 reserved)
{
	struct iommu_hwpt_invalidate cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt_id,
		.data_uptr = PTR_U64(data),
		.data_type = IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
		.entry_len = len,
		.entry_num = num,
		.__reserved = reserved,
	};

	return ioctl(e->fd, IOMMU_HWPT_INVALIDATE, &cmd);
}

CASE(invalidate_paging_hwpt)
{
	struct iommu_hwpt_invalidate_selftest inv = {};

	return invalidate_raw(e, e->hwpt, &inv, sizeof(inv), 1, 0);
}

CASE(invalidate_reserved)
{
	struct iommu_hwpt_invalidate_selftest inv = {};

	return invalidate_raw(e, e->viommu, &inv, sizeof(inv), 1, 1);
}

CASE(invalidate_entry_len_zero)
{
	struct iommu_hwpt_invalidate_selftest inv = {};

	return invalidate_raw(e, e->viommu, &inv, 0, 1, 0);
}

CASE(invalidate_null_data)
{
	return invalidate_raw(e, e->viommu, NULL, 8, 1, 0);
}

CASE(invalidate_id_is_fault)
{
	struct iommu_hwpt_invalidate_selftest inv = {};

	return invalidate_raw(e, e->fault_id, &inv, sizeof(inv), 1, 0);
}

/* IOMMU_FAULT_QUEUE_ALLOC */
CASE(fault_alloc_flags)
{
	struct iommu_fault_alloc cmd = { .size = sizeof(cmd), .flags = 1 };

	return ioctl(e->fd, IOMMU_FAULT_QUEUE_ALLOC, &cmd);
}

CASE(fault_alloc_rdonly_output)
{
	struct iommu_fault_alloc cmd = { .size = sizeof(cmd) };

	return ioctl(e->fd, IOMMU_FAULT_QUEUE_ALLOC,
		     rdonly_cmd(e, &cmd, sizeof(cmd)));
}

/* IOMMU_VIOMMU_ALLOC */
CASE(viommu_alloc_flags)
{
	return viommu_alloc(e->fd, e->idev, e->parent,
			    IOMMU_VIOMMU_TYPE_SELFTEST, 1, NULL, 0, NULL);
}

CASE(viommu_alloc_unknown_type)
{
	return viommu_alloc(e->fd, e->idev, e->parent, 0xdead, 0, NULL, 0,
			    NULL);
}

CASE(viommu_alloc_not_a_parent)
{
	return viommu_alloc(e->fd, e->idev, e->plain,
			    IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0, NULL);
}

CASE(viommu_alloc_hwpt_is_fault)
{
	return viommu_alloc(e->fd, e->idev, e->fault_id,
			    IOMMU_VIOMMU_TYPE_SELFTEST, 0, NULL, 0, NULL);
}

/* IOMMU_VDEVICE_ALLOC */
CASE(vdevice_alloc_viommu_is_ioas)
{
	return vdevice_alloc(e->fd, e->ioas, e->idev, 1, NULL);
}

CASE(vdevice_alloc_dev_destroyed)
{
	return vdevice_alloc(e->fd, e->viommu, e->dead_ioas, 1, NULL);
}

/* IOMMU_TEST_CMD and unknown numbers */
CASE(test_cmd_unknown_op)
{
	struct iommu_test_cmd cmd;

	test_cmd_init(&cmd, 0xffff, 0);
	return test_cmd(e->fd, &cmd);
}

CASE(test_cmd_trigger_dev_is_ioas)
{
	return trigger_fault(e->fd, e->ioas, 0, 1);
}

CASE(test_cmd_replace_to_fault)
{
	return mock_domain_replace(e->fd, e->stdev, e->fault_id, NULL);
}

CASE(ioctl_unassigned_number)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd) };

	return ioctl(e->fd, _IO(IOMMUFD_TYPE, 0x9f), &cmd);
}

CASE(ioctl_wrong_type)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd) };

	return ioctl(e->fd, _IO('x', IOMMUFD_CMD_DESTROY), &cmd);
}

/* The fault fd */
CASE(read_at_offset)
{
	struct iommu_hwpt_pgfault rec;

	return pread(e->fault_fd, &rec, sizeof(rec), sizeof(rec));
}

CASE(read_unaligned_count)
{
	struct iommu_hwpt_pgfault rec[2];

	return read(e->fault_fd, rec, RECORD_SIZE + 1);
}

CASE(read_unmapped_buffer)
{
	return read(e->fault_fd, e->unmapped, RECORD_SIZE);
}

CASE(read_rdonly_buffer)
{
	struct iommu_hwpt_pgfault rec = {};

	return read(e->fault_fd, rdonly_cmd(e, &rec, sizeof(rec)),
		    RECORD_SIZE);
}

CASE(read_smaller_than_group)
{
	struct iommu_hwpt_pgfault rec[2];

	return read(e->fault_fd, rec, sizeof(rec));
}

static ssize_t write_response(struct env *e, __u32 cookie, __u32 code)
{
	return respond(e->fault_fd, cookie, code);
}

CASE(write_at_offset)
{
	struct iommu_hwpt_page_response r = { .cookie = e->cookie_live };

	return pwrite(e->fault_fd, &r, sizeof(r), sizeof(r));
}

CASE(write_unaligned_count)
{
	struct iommu_hwpt_page_response r[2] = { { .cookie = e->cookie_live } };

	return write(e->fault_fd, r, RESPONSE_SIZE + 1);
}

CASE(write_cookie_never_issued)
{
	return write_response(e, 12345, IOMMUFD_PAGE_RESP_SUCCESS);
}

CASE(write_cookie_zero)
{
	return write_response(e, 0, IOMMUFD_PAGE_RESP_SUCCESS);
}

CASE(write_cookie_answered)
{
	return write_response(e, e->cookie_answered,
			      IOMMUFD_PAGE_RESP_SUCCESS);
}

CASE(write_code_out_of_range)
{
	return write_response(e, e->cookie_live, 2);
}

CASE(write_code_huge)
{
	return write_response(e, e->cookie_live, 0xffffffff);
}

CASE(write_unmapped_buffer)
{
	return write(e->fault_fd, e->unmapped, RESPONSE_SIZE);
}

CASE(write_huge_count_of_zeros)
{
	/* 64 KiB of responses to cookie 0, never issued: stops at the first. */
	static struct iommu_hwpt_page_response zeros[8192];

	return write(e->fault_fd, zeros, sizeof(zeros));
}

/* Row preparation, before the "before" snapshot: a fault to read. */
static int queue_fault(struct env *e)
{
	return trigger_fault(e->fd, e->idev, 0, 3);
}

static int queue_group_of_3(struct env *e)
{
	return trigger_group(e->fd, e->idev, 0, 3, 3);
}

struct row {
	const char *name;
	int (*fn)(struct env *e);
	int errnum;
	bool rust_only;
	int (*prep)(struct env *e);
};

#define ROW(fn, errnum) { #fn, fn, errnum, false, NULL }
#define RUST_ROW(fn, errnum, prep) { #fn, fn, errnum, true, prep }
#define READ_ROW(fn, errnum) { #fn, fn, errnum, false, queue_fault }

static const struct row rows[] = {
	ROW(destroy_size_zero, EINVAL),
	ROW(destroy_size_short, EINVAL),
	ROW(destroy_nonzero_tail, E2BIG),
	ROW(destroy_unmapped_arg, EFAULT),
	ROW(destroy_size_past_mapping, EFAULT),
	ROW(destroy_id_zero, ENOENT),
	ROW(destroy_id_never_used, ENOENT),
	ROW(destroy_id_destroyed, ENOENT),
	ROW(destroy_id_huge, ENOENT),
	ROW(destroy_in_use, EBUSY),
	ROW(destroy_fault_with_fd_open, EBUSY),
	ROW(ioas_alloc_flags, EOPNOTSUPP),
	ROW(ioas_alloc_rdonly_output, EFAULT),
	ROW(hwpt_alloc_unknown_flag, EOPNOTSUPP),
	ROW(hwpt_alloc_reserved, EOPNOTSUPP),
	ROW(hwpt_alloc_dev_is_ioas, ENOENT),
	ROW(hwpt_alloc_pt_is_fault, EINVAL),
	ROW(hwpt_alloc_pt_destroyed, EINVAL),
	ROW(hwpt_alloc_fault_id_is_ioas, ENOENT),
	ROW(hwpt_alloc_fault_id_destroyed, ENOENT),
	ROW(hwpt_alloc_nested_unmapped_data, EFAULT),
	ROW(hwpt_alloc_nested_unknown_type, EOPNOTSUPP),
	ROW(hwpt_alloc_rdonly_output, EFAULT),
	ROW(hw_info_dev_is_ioas, ENOENT),
	ROW(hw_info_unknown_flag, EOPNOTSUPP),
	ROW(hw_info_unmapped_data, EFAULT),
	ROW(hw_info_reserved, EOPNOTSUPP),
	ROW(invalidate_paging_hwpt, EINVAL),
	ROW(invalidate_reserved, EOPNOTSUPP),
	ROW(invalidate_entry_len_zero, EINVAL),
	ROW(invalidate_null_data, EINVAL),
	ROW(invalidate_id_is_fault, EINVAL),
	ROW(fault_alloc_flags, EOPNOTSUPP),
	ROW(fault_alloc_rdonly_output, EFAULT),
	ROW(viommu_alloc_flags, EOPNOTSUPP),
	ROW(viommu_alloc_unknown_type, EOPNOTSUPP),
	ROW(viommu_alloc_not_a_parent, EINVAL),
	ROW(viommu_alloc_hwpt_is_fault, ENOENT),
	ROW(vdevice_alloc_viommu_is_ioas, ENOENT),
	ROW(vdevice_alloc_dev_destroyed, ENOENT),
	ROW(test_cmd_unknown_op, EOPNOTSUPP),
	ROW(test_cmd_trigger_dev_is_ioas, ENOENT),
	ROW(test_cmd_replace_to_fault, EINVAL),
	ROW(ioctl_unassigned_number, ENOTTY),
	ROW(ioctl_wrong_type, ENOTTY),
	READ_ROW(read_at_offset, ESPIPE),
	READ_ROW(read_unaligned_count, ESPIPE),
	READ_ROW(read_unmapped_buffer, EFAULT),
	READ_ROW(read_rdonly_buffer, EFAULT),
	RUST_ROW(read_smaller_than_group, EINVAL, queue_group_of_3),
	ROW(write_at_offset, ESPIPE),
	ROW(write_unaligned_count, ESPIPE),
	ROW(write_cookie_never_issued, EINVAL),
	ROW(write_cookie_zero, EINVAL),
	ROW(write_cookie_answered, EINVAL),
	ROW(write_code_out_of_range, EINVAL),
	ROW(write_code_huge, EINVAL),
	ROW(write_unmapped_buffer, EFAULT),
	ROW(write_huge_count_of_zeros, EINVAL),
};

/* The lowest free fd: a new fd left installed would take it. */
static int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

/* The id the next object would get. */
static int next_id(struct env *e, __u32 *id)
{
	if (ioas_alloc(e->fd, id))
		return -1;
	return destroy(e->fd, *id);
}

/* Runs one row; returns a reason it failed, or NULL. */
static const char *run_row(const struct row *row, struct env *e,
			   bool counters, char *why, size_t len)
{
	struct counters before = {}, after = {};
	__u32 id_before, id_after;
	int fd_before, ret, err;

	if (env_setup(e))
		return "setup failed";
	if (row->prep && row->prep(e))
		return "the row's preparation failed";
	if (next_id(e, &id_before))
		return "next id probe failed";
	fd_before = lowest_free_fd();
	if (counters && !counters_read(&before))
		return "cannot read the counters";

	errno = 0;
	ret = row->fn(e);
	err = errno;
	if (ret != -1 || err != row->errnum) {
		snprintf(why, len, "returned %d, errno %d (%s), expected %s",
			 ret, err, strerror(err), strerror(row->errnum));
		return why;
	}
	if (next_id(e, &id_after) || id_after != id_before) {
		snprintf(why, len, "next id %u, was %u", id_after, id_before);
		return why;
	}
	if (lowest_free_fd() != fd_before)
		return "a file descriptor was left installed";
	if (counters) {
		if (!counters_read(&after))
			return "cannot read the counters";
		if (after.objects != before.objects ||
		    after.groups_queued != before.groups_queued ||
		    after.groups_delivered != before.groups_delivered) {
			snprintf(why, len, "counters changed: before " COUNTERS_FMT
				 ", after " COUNTERS_FMT, COUNTERS_ARGS(before),
				 COUNTERS_ARGS(after));
			return why;
		}
	}
	return NULL;
}

int main(void)
{
	size_t n = sizeof(rows) / sizeof(rows[0]);
	bool rust = testing_rust_iommufd();
	bool counters = rust && counters_available();
	size_t psz = page_size();
	struct counters c;
	char *pages;
	int fd;

	ksft_print_header();
	ksft_set_plan(n + 1);
	fd = iommufd_open();
	if (fd < 0) {
		ksft_print_msg("%s: %s\n", iommufd_dev_path(), strerror(errno));
		ksft_exit_skip("no device to test\n");
	}
	close(fd);

	/*
	 * Page 0: writable, ends where page 1 (unmapped) starts. Page 2:
	 * made read-only by the rows that use it (rdonly_cmd()).
	 */
	pages = mmap(NULL, 3 * psz, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	munmap(pages + psz, psz);

	for (size_t i = 0; i < n; i++) {
		struct env e = {};
		const char *failed;
		char why[256];

		if (rows[i].rust_only && !rust) {
			ksft_test_result_skip("%s (needs rust_iommufd's test ops)\n",
					      rows[i].name);
			continue;
		}
		e.unmapped = pages + psz;
		e.rdonly = pages + 2 * psz;
		failed = run_row(&rows[i], &e, counters, why, sizeof(why));
		env_teardown(&e);
		ksft_test_result(!failed, "%s: %s%s%s\n", rows[i].name,
				 strerror(rows[i].errnum),
				 failed ? ": " : "", failed ? failed : "");
	}
	if (counters)
		ksft_test_result(counters_settle_to_zero(&c),
				 "counters back to zero after the table: "
				 COUNTERS_FMT "\n", COUNTERS_ARGS(c));
	else
		ksft_test_result_skip("counters (rust_iommufd only)\n");
	ksft_finished();
}
