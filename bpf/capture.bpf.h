/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * How many bytes of a chunk go to userspace. A header block is forwarded in
 * full up to the header window, because the trace-context headers may sit
 * anywhere in it (after a 12 KiB cookie, say) and copying is cheaper than
 * scanning for them here; after its blank line only body_capture bytes
 * follow. Body chunks forward no bytes, only their length and tail.
 * Pipelined messages inside one chunk keep the block open.
 */
#ifndef WEFT_CAPTURE_BPF_H
#define WEFT_CAPTURE_BPF_H

#define CRLFCRLF 0x0d0a0d0aU

/*
 * The loop callbacks below derive every offset from their iteration index
 * (unknown to the verifier) rather than from a counter carried in their
 * context: a counter that grows each round gives the verifier a new precise
 * range per round and it never sees the loop body converge.
 */
struct scan_ctx {
	struct scratch *s;
	__u32 start;		/* first offset of this scan */
	__u32 end;		/* copied bytes available */
	__u32 win;
	__u32 hdr_len;
	__u32 hdr_window;
	__u32 head_end;		/* offset just past the blank line, 0 = none */
	__u32 truncated;
};

static __always_inline __u64 load_word(struct scratch *s, __u32 off)
{
	__u64 w = 0;

	bpf_probe_read_kernel(&w, sizeof(w), &s->data[off & (WEFT_DATA_MAX - 1)]);
	return w;
}

/* One byte of a header block; returns 1 when scanning must stop. */
static __always_inline long scan_one(struct scan_ctx *sc, __u32 pos, __u8 b)
{
	sc->win = (sc->win << 8) | b;
	if (++sc->hdr_len >= sc->hdr_window) {
		sc->truncated = 1;
		return 1;
	}
	if (sc->win != CRLFCRLF && (sc->win & 0xffff) != 0x0a0a)
		return 0;
	/* A blank line. Another message right behind it (pipelining) keeps
	 * the block open; otherwise the body starts here. */
	if (pos + 9 <= sc->end && http_start_word(load_word(sc->s, pos + 1))) {
		sc->win = 0;
		sc->hdr_len = 0;
		return 0;
	}
	sc->head_end = pos + 1;
	return 1;
}

#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL
#define LFS	(ONES * '\n')

/*
 * Eight bytes per round: a blank line ends in '\n', so a word without one
 * only shifts the window and counts; only words holding a line feed (about
 * one per header line) are looked at byte by byte. Eight times fewer
 * rounds than a byte loop over a typical 150-byte head.
 */
static long scan_word(__u64 i, struct scan_ctx *sc)
{
	__u32 pos = sc->start + (__u32)i * 8, n;
	__u64 w, x;

	if (pos >= sc->end)
		return 1;
	n = sc->end - pos;
	w = *(__u64 *)&sc->s->data[pos & (WEFT_DATA_MAX - 1)];
	x = w ^ LFS;
	if (n >= 8 && !((x - ONES) & ~x & HIGHS)) {
		sc->win = (__u32)__builtin_bswap32((__u32)(w >> 32));
		sc->hdr_len += 8;
		if (sc->hdr_len >= sc->hdr_window) {
			sc->truncated = 1;
			return 1;
		}
		return 0;
	}
	for (int k = 0; k < 8; k++) {
		if (k >= n)
			return 1;
		if (scan_one(sc, pos + k, (w >> (k * 8)) & 0xff))
			return 1;
	}
	return 0;
}

struct copy_ctx {
	struct io_src src;
	struct scan_ctx sc;
	__u32 off;		/* bytes copied so far */
	__u32 want;		/* bytes to forward, shrinks once the head ends */
	__u32 limit;
	__u32 body_capture;
	__u32 read_fail;
};

/* One COPY_STEP: copy, then scan what was copied unless the head ended. */
static long copy_step(__u64 i, struct copy_ctx *cc)
{
	__u32 off = (__u32)i * COPY_STEP, n, got;

	if (i >= COPY_STEPS || off >= cc->want)
		return 1;
	n = cc->want - off;
	if (n > COPY_STEP)
		n = COPY_STEP;
	got = io_read(&cc->src, off, cc->sc.s, off, n);
	cc->off = off + got;
	if (got < n) {
		cc->read_fail = 1;
		return 1;
	}
	if (cc->sc.head_end || cc->sc.truncated)
		return 0;	/* only copying the body prefix now */
	cc->sc.start = off;
	cc->sc.end = off + got;
	bpf_loop(COPY_STEP / 8, scan_word, &cc->sc, 0);
	if (cc->sc.head_end) {
		__u32 w = cc->sc.head_end + cc->body_capture;

		cc->want = w < cc->limit ? w : cc->limit;
	} else if (cc->sc.truncated) {
		cc->want = cc->off;
	}
	return 0;
}

/*
 * Copy the header part of this chunk into s->data and find where the header
 * block ends. Returns the number of bytes to forward.
 */
static __always_inline __u32 capture_head(struct scratch *s,
					  const struct io_src *src, __u32 len,
					  struct dir_state *ds, __u32 hdr_window,
					  __u32 body_capture, __u32 *flags)
{
	struct copy_ctx cc = {
		.src = *src,
		.sc = {
			.s = s,
			.win = ds->win,
			.hdr_len = ds->hdr_len,
			.hdr_window = hdr_window,
		},
		.body_capture = body_capture,
	};

	cc.limit = len < WEFT_DATA_MAX ? len : WEFT_DATA_MAX;
	cc.want = cc.limit;
	bpf_loop(COPY_STEPS, copy_step, &cc, 0);

	if (cc.read_fail) {
		*flags |= WEFT_F_READ_FAIL;
		count(WEFT_CNT_READ_FAIL);
	}
	if (cc.sc.head_end) {
		*flags |= WEFT_F_HDR_END;
		ds->hdr_open = 0;
	} else if (cc.sc.truncated) {
		*flags |= WEFT_F_TRUNCATED;
		count(WEFT_CNT_HDR_TRUNC);
		ds->hdr_open = 0;
	}
	ds->win = cc.sc.win;
	ds->hdr_len = cc.sc.hdr_len;
	return cc.off < cc.want ? cc.off : cc.want;
}

#endif /* WEFT_CAPTURE_BPF_H */
