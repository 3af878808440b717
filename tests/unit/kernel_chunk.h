/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel's per-chunk code (bpf/chunk.bpf.h: chunk_judge, chunk_track,
 * chunk_capture, chunk_tail, and capture.bpf.h under them), compiled in
 * userspace by kernel_chunk.c, for the unit tests' model of handle_io and
 * emit_chunk. Only the connection map's part is left to the model.
 */
#ifndef WEFT_KERNEL_CHUNK_H
#define WEFT_KERNEL_CHUNK_H

#include <stdbool.h>
#include <stdint.h>

/* A direction's state in the kernel (struct dir_state), zeroed = fresh. */
struct kc_dir {
	uint64_t state[3];
};

/* One socket call moving len bytes from buf. */
struct kc_call {
	uint64_t ctx[16];	/* struct io_ctx */
};

/* chunk_judge: does the call start a message? http: the connection
 * already carried HTTP (the kernel's conns entry says so). */
bool kc_judge(struct kc_call *call, const void *buf, uint32_t len, bool http);
/* chunk_track, chunk_capture and chunk_tail on direction d: the record's
 * flags, bytes forwarded (at *data) and tail. */
uint32_t kc_emit(struct kc_call *call, struct kc_dir *d, bool start,
		 uint32_t hdr_window, uint32_t body_capture, uint32_t *flags,
		 const uint8_t **data, uint8_t tail[16], uint32_t *tail_len);
bool kc_hdr_open(const struct kc_dir *d);

#endif /* WEFT_KERNEL_CHUNK_H */
