/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the kernel makes of one socket call on a connection it may follow:
 * does the chunk start an HTTP message (alone, or with the few bytes of a
 * short chunk before it), what state its direction is in afterwards, and
 * how many of its bytes go to the agent. weft.bpf.c's handle_io and
 * emit_chunk call these around the connection map; the unit tests call the
 * very same functions, compiled in userspace (tests/unit/kernel_chunk.c),
 * as their model of the kernel.
 */
#ifndef WEFT_CHUNK_BPF_H
#define WEFT_CHUNK_BPF_H

#include "common.bpf.h"
#include "maps.bpf.h"
#include "http_detect.bpf.h"
#include "io_src.bpf.h"
#include "capture.bpf.h"

/* What the first 8 bytes of a chunk start. */
enum chunk_start {
	START_NONE = 0,
	START_HTTP1 = 1,	/* a request or status line */
	START_H2 = 2,		/* the HTTP/2 connection preface */
	START_H2_MID = 3,	/* an HTTP/2 HEADERS frame: a connection open
				 * before weft started, seen from the middle */
};

/*
 * Does the chunk begin with the header of an HTTP/2 HEADERS frame (RFC
 * 9113 4.1, 6.2)? Read from its first 8 bytes: a length of 1 to 16384
 * (the default SETTINGS_MAX_FRAME_SIZE) that fits in the chunk (or a
 * chunk of the 9 header bytes alone: Go's HTTP/2 servers read a frame's
 * header and its payload in two calls), type 1,
 * flags among END_STREAM, END_HEADERS, PADDED and PRIORITY with
 * END_HEADERS set (a whole block: what Go, grpc-go and nghttp2 write for
 * any block under 16 KiB), and a stream id below 2^24 (the 9th byte, its
 * low byte, is not read). Only asked of connections weft does not follow
 * yet: requests and responses on them start so, and random bytes match
 * about once in 2^37. The agent checks the frames further (user/h2.c,
 * sync_here) before it decodes anything.
 */
static __always_inline bool h2_headers_word(__u64 w, __u32 len)
{
	__u32 flen = (__u32)(w & 0xff) << 16 | (__u32)(w >> 8 & 0xff) << 8 |
		     (__u32)(w >> 16 & 0xff);
	__u8 type = w >> 24, flags = w >> 32, id_hi = w >> 40;

	return type == 1 && !(flags & ~0x2d) && (flags & 0x04) && !id_hi &&
	       flen >= 1 && flen <= 16384 && (flen + 9 <= len || len == 9);
}

static __always_inline __u32 start_kind(__u64 w)
{
	if (weft_http_start_word(w))
		return START_HTTP1;
	return weft_h2_preface_word(w) ? START_H2 : START_NONE;
}

/* The first 8 bytes decide; a first segment shorter than that (a writev
 * with a tiny first iovec) is not recognised. */
static __noinline __u32 chunk_starts_message(const struct io_src *src,
					     __u32 len)
{
	__u64 w = 0;

	__u32 k;

	if (len < 8 || src->len[0] < 8 ||
	    bpf_probe_read_user(&w, sizeof(w), (void *)src->ptr[0]))
		return START_NONE;
	k = start_kind(w);
	if (k == START_NONE && h2_headers_word(w, len))
		k = START_H2_MID;
	return k;
}

/* Does pend + the start of this chunk make a message start? */
static __noinline bool pend_starts_message(struct dir_state *ds,
					   const struct io_src *src, __u32 len)
{
	__u32 have = ds->pend_len & 7, need = 8 - have;
	__u64 w = 0;

	if (!have || len < need || src->len[0] < need)
		return false;
	if (bpf_probe_read_user(&w, need & 7, (void *)src->ptr[0]))
		return false;
	return weft_http_start_word(ds->pend | (w << (have * 8)));
}

/* Remember a short chunk that may be the first bytes of a message. */
static __noinline void pend_update(struct dir_state *ds, const struct io_src *src,
				   __u32 len)
{
	__u32 have = ds->pend_len & 7;
	__u64 w = 0;

	if (len >= 8 || have + len > 7 || src->len[0] < len ||
	    bpf_probe_read_user(&w, len & 7, (void *)src->ptr[0])) {
		ds->pend_len = 0;
		ds->pend = 0;
		return;
	}
	ds->pend |= w << (have * 8);
	ds->pend_len = have + len;
}

/* One socket call, as the hooks found it. */
struct io_ctx {
	struct io_src src;
	__u64 sk;
	__u64 pid_tgid;
	__u64 g;
	__u32 len;
	__u32 flags;
	__u32 got;		/* bytes already in the scratch area (small) */
	__u8 dir;
	__u8 small;		/* len <= COPY_STEP, copied whole up front */
	__u8 raw;		/* HTTP/2: forward the bytes, no head tracking */
	__u8 preface;		/* chunk_judge: it starts with the h2 preface
				 * (START_H2) or, on a connection not
				 * followed yet, a HEADERS frame (START_H2_MID) */
	__u8 tls;		/* src is TLS plaintext (a uprobe's buffer) */
	__u8 has_seq;		/* seq is set: the socket's counters have moved
				 * on by ciphertext, not by len */
	__u8 pad[2];
	__u32 seq;
};

/* Copy a small chunk whole into this CPU's scratch area (ic->got bytes)
 * and judge its first 8 bytes there. */
static __noinline __u32 small_starts_message(struct io_ctx *ic)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);

	ic->got = 0;
	if (!s)
		return START_NONE;
	ic->got = io_read(&ic->src, 0, s, 0, ic->len);
	if (ic->got < 8)
		return START_NONE;
	return start_kind(*(__u64 *)s->data);
}

/*
 * Does the chunk start a message? A chunk on an HTTP connection of at most
 * COPY_STEP bytes is copied whole now (ic->small, ic->got) and judged from
 * the copy: it goes to the agent whole anyway.
 */
static __always_inline bool chunk_judge(struct io_ctx *ic, bool http)
{
	__u32 k;

	ic->small = http && ic->len <= COPY_STEP;
	if (ic->small)
		k = small_starts_message(ic);
	else
		k = chunk_starts_message(&ic->src, ic->len);
	/* frames are looked for on connections not followed yet only */
	if (k == START_H2_MID && http)
		k = START_NONE;
	ic->preface = k == START_H2 || k == START_H2_MID ? k : 0;
	return k != START_NONE;
}

/*
 * The direction's state after the chunk (start: chunk_judge's answer). A
 * chunk shorter than 8 bytes between messages is kept (pend): Go's server
 * reads the next request's first byte alone, and the agent keeps the same
 * bytes (user/framing.c, pend_short) to parse the message they start.
 */
static __always_inline void chunk_track(struct io_ctx *ic, struct dir_state *ds,
					bool start)
{
	if (!start && !ds->hdr_open)
		start = pend_starts_message(ds, &ic->src, ic->len);
	if (!ds->hdr_open && ic->len < 8 && !start) {
		pend_update(ds, &ic->src, ic->len);
	} else {
		/* both: pend_update ORs new bytes into pend */
		ds->pend_len = 0;
		ds->pend = 0;
	}
	if (start) {
		ic->flags |= WEFT_F_MSG_START;
		ds->hdr_open = 1;
		ds->hdr_len = 0;
		ds->win = 0;
	}
}

/* How many bytes of the chunk go to the agent (copied into s->data). */
static __always_inline __u32 chunk_capture(struct scratch *s, struct io_ctx *ic,
					   struct dir_state *ds, __u32 hdr_window,
					   __u32 body_capture, __u32 *flags)
{
	__u32 len = ic->len;

	if (ic->raw)
		return ic->small ? ic->got : capture_raw(s, &ic->src, len, flags);
	if (ic->small && ds->hdr_open && ds->hdr_len + len < hdr_window)
		return capture_small(s, ic->got, len, ds, flags);
	if (ds->hdr_open)
		return capture_head(s, &ic->src, len, ds, hdr_window, body_capture,
				    flags);
	/* Small chunks go whole: the end of one body and the head of the
	 * next message often arrive in one read (pipelining, heads and bodies
	 * written separately), and a chunk under 8 bytes may be the start of
	 * a request (see pend). */
	return ic->small ? ic->got : 0;
}

/* The tail serves chunked framing where bytes were not copied. */
static __always_inline void chunk_tail(struct scratch *s, const struct io_src *src,
				       __u32 len, __u32 cap)
{
	__u32 n = len < WEFT_TAIL_LEN ? len : WEFT_TAIL_LEN;

	if (cap >= len) {
		s->rec.tail_len = 0;
		return;
	}
	s->rec.tail_len = io_read(src, len - n, s, IO_DST_TAIL, n);
}

#endif /* WEFT_CHUNK_BPF_H */
