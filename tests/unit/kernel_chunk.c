// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The kernel's per-chunk code run in userspace: see kernel_chunk.h. */
#define WEFT_KERNEL_SHIM "kernel_shim.h"
#include "chunk.bpf.h"
#include "kernel_chunk.h"

_Static_assert(sizeof(struct kc_dir) == sizeof(struct dir_state), "kc_dir");
_Static_assert(sizeof(struct kc_call) >= sizeof(struct io_ctx), "kc_call");

__u64 shim_counters[WEFT_CNT_MAX];
static struct scratch scratch;

void *shim_map_lookup(void *map, const void *key)
{
	__u32 k = *(const __u32 *)key;

	if (map == &scratch_map)
		return &scratch;
	if (map == &counters && k < WEFT_CNT_MAX)
		return &shim_counters[k];
	return NULL;
}

bool kc_judge(struct kc_call *call, const void *buf, uint32_t len, bool http)
{
	struct io_ctx *ic = (struct io_ctx *)call->ctx;

	memset(ic, 0, sizeof(*ic));
	ic->src.ptr[0] = (__u64)(unsigned long)buf;
	ic->src.len[0] = len;
	ic->len = len;
	return chunk_judge(ic, http);
}

uint32_t kc_emit(struct kc_call *call, struct kc_dir *d, bool start,
		 uint32_t hdr_window, uint32_t body_capture, uint32_t *flags,
		 const uint8_t **data, uint8_t tail[16], uint32_t *tail_len)
{
	struct io_ctx *ic = (struct io_ctx *)call->ctx;
	struct dir_state *ds = (struct dir_state *)d;
	__u32 cap;

	chunk_track(ic, ds, start);
	*flags = ic->flags;
	cap = chunk_capture(&scratch, ic, ds, hdr_window, body_capture, flags);
	chunk_tail(&scratch, &ic->src, ic->len, cap);
	if (cap > WEFT_DATA_MAX)
		cap = WEFT_DATA_MAX;
	*data = scratch.data;
	memcpy(tail, scratch.rec.tail, WEFT_TAIL_LEN);
	*tail_len = scratch.rec.tail_len;
	return cap;
}

bool kc_hdr_open(const struct kc_dir *d)
{
	return ((const struct dir_state *)d)->hdr_open;
}
