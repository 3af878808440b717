/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where the bytes of a socket call live in user memory. The sock
 * tracepoints give the socket and the byte count, not the buffer, so the
 * buffer comes from the syscall's own arguments: saved registers at the
 * tracepoint, or the values sys_enter stored in the fallback path. Each
 * call becomes a short list of (pointer, length) segments.
 */
#ifndef WEFT_IO_SRC_BPF_H
#define WEFT_IO_SRC_BPF_H

#include "common.bpf.h"
#include "maps.bpf.h"

#ifndef __TARGET_ARCH_x86
#error "the syscall numbers below are x86-64's"
#endif

#define MAX_SEGS	4	/* iovecs followed per call; the rest is not copied */

/* x86-64 syscall numbers of the socket I/O calls we can decode. */
#define NR_read		0
#define NR_write	1
#define NR_readv	19
#define NR_writev	20
#define NR_sendto	44
#define NR_recvfrom	45
#define NR_sendmsg	46
#define NR_recvmsg	47

struct io_src {
	__u64 ptr[MAX_SEGS];
	__u64 len[MAX_SEGS];
};

struct user_iov {
	__u64 base;
	__u64 len;
};

static __always_inline int iov_fill(struct io_src *src, __u64 iovp, __u64 cnt)
{
	struct user_iov iov;

	for (int i = 0; i < MAX_SEGS; i++) {
		if (i >= cnt)
			break;
		if (bpf_probe_read_user(&iov, sizeof(iov),
					(void *)(iovp + i * sizeof(iov))))
			return i ? 0 : -1;
		src->ptr[i] = iov.base;
		src->len[i] = iov.len;
	}
	return 0;
}

/* Segments from a syscall number and its second and third arguments. */
static __noinline int io_src_from_args(struct io_src *src, __u64 nr,
					    __u64 a1, __u64 a2, __u64 ret)
{
	__builtin_memset(src, 0, sizeof(*src));
	switch (nr) {
	case NR_read:
	case NR_write:
	case NR_sendto:
	case NR_recvfrom:
		src->ptr[0] = a1;
		src->len[0] = ret;
		return 0;
	case NR_readv:
	case NR_writev:
		return iov_fill(src, a1, a2);
	case NR_sendmsg:
	case NR_recvmsg: {
		struct user_msghdr mh;

		if (bpf_probe_read_user(&mh, sizeof(mh), (void *)a1))
			return -1;
		return iov_fill(src, (__u64)mh.msg_iov, mh.msg_iovlen);
	}
	}
	return -1;
}

#define IO_DST_TAIL	0xffffffffU	/* io_read into s->rec.tail */

/*
 * Copy n (<= COPY_STEP) bytes starting at stream offset off into s->data at
 * dst (or into s->rec.tail), walking the segments. Returns bytes copied.
 * A global function: the verifier checks it once, on its own, instead of
 * once per calling state (the segment walk is what made programs too big).
 */
__noinline __u32 io_read(const struct io_src *src, __u32 off,
			 struct scratch *s, __u32 dst, __u32 n)
{
	__u64 seg_start = 0;
	__u32 done = 0;
	__u8 *out;

	if (!src || !s)
		return 0;
	if (n > COPY_STEP)
		n = COPY_STEP;
	if (dst == IO_DST_TAIL) {
		if (n > WEFT_TAIL_LEN)
			n = WEFT_TAIL_LEN;
		out = s->rec.tail;
	} else {
		out = &s->data[dst & (WEFT_DATA_MAX - 1)];
	}
	for (int i = 0; i < MAX_SEGS; i++) {
		__u64 len = src->len[i];
		__u64 want_at = off + done;
		__u64 l;

		if (done >= n)
			break;
		if (want_at >= seg_start + len) {
			seg_start += len;
			continue;
		}
		l = seg_start + len - want_at;
		if (l > n - done)
			l = n - done;
		if (l > COPY_STEP)
			l = COPY_STEP;
		if (done > COPY_STEP)
			break;
		if (bpf_probe_read_user(out + done, l,
					(void *)(src->ptr[i] + (want_at - seg_start))))
			break;
		done += l;
		seg_start += len;
	}
	return done;
}

#endif /* WEFT_IO_SRC_BPF_H */
