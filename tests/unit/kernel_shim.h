/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What bpf/common.bpf.h gets in the unit tests instead of vmlinux.h and
 * libbpf's helpers, so the BPF side's per-chunk code (bpf/chunk.bpf.h and
 * what it includes) compiles and runs in userspace: user memory is this
 * process's memory, bpf_loop a loop, the per-CPU scratch area one static
 * buffer, and the counters a static array the tests can read.
 */
#ifndef WEFT_KERNEL_SHIM_H
#define WEFT_KERNEL_SHIM_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/types.h>

#if defined(__x86_64__) && !defined(__TARGET_ARCH_x86)
#define __TARGET_ARCH_x86	/* the BPF side's target: this machine's */
#endif
#define SEC(name)
#define __uint(name, val) int (*name)[val]
#define __type(name, val) __typeof__(val) *name
#ifndef __always_inline		/* glibc's sys/cdefs.h has one */
#define __always_inline inline __attribute__((always_inline))
#endif
#define __noinline __attribute__((noinline))

/* include/uapi/linux/socket.h: what io_src.bpf.h reads of a msghdr */
struct user_msghdr {
	void *msg_name;
	int msg_namelen;
	void *msg_iov;
	__kernel_size_t msg_iovlen;
	void *msg_control;
	__kernel_size_t msg_controllen;
	unsigned int msg_flags;
};

/* Defined by tests/unit/kernel_chunk.c. */
void *shim_map_lookup(void *map, const void *key);
extern __u64 shim_counters[];

static inline void *bpf_map_lookup_elem(void *map, const void *key)
{
	return shim_map_lookup(map, key);
}

/* NULL is the one pointer a test hands in that cannot be read. */
static inline long bpf_probe_read_user(void *dst, __u32 size, const void *src)
{
	if (!src)
		return -EFAULT;
	memcpy(dst, src, size);
	return 0;
}

static inline long bpf_loop(__u32 n, void *fn, void *ctx, __u64 flags)
{
	long (*cb)(__u64, void *) = (long (*)(__u64, void *))fn;
	__u32 i;

	for (i = 0; i < n; i++)
		if (cb(i, ctx))
			return i + 1;
	return i;
}

static inline __u64 bpf_ringbuf_query(void *ringbuf, __u64 flags)
{
	return 0;
}

static inline __u32 bpf_get_smp_processor_id(void)
{
	return 0;
}

static inline __u64 bpf_ktime_get_ns(void)
{
	return 0;
}

#endif /* WEFT_KERNEL_SHIM_H */
