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

#include "common.bpf.h"
#include "maps.bpf.h"
#include "http_detect.bpf.h"
#include "io_src.bpf.h"

#define CRLFCRLF 0x0d0a0d0aU

/*
 * The loop callbacks below derive every offset from their iteration index
 * (unknown to the verifier) rather than from a counter carried in their
 * context: a counter that grows each round gives the verifier a new precise
 * range per round and it never sees the loop body converge.
 */

/* Where the search for a header block's end stands. No pointers in here:
 * scan_bytes, a global function, may overwrite all of it as far as the
 * verifier knows. */
struct scan_state {
	__u32 end;		/* copied bytes available */
	__u32 win;		/* last 4 bytes, the newest in the low byte */
	__u32 hdr_len;
	__u32 hdr_window;
	__u32 head_end;		/* offset just past the blank line, 0 = none */
	__u32 truncated;
	__u32 pad[2];
	__u64 prev;		/* the 8 bytes before the next word */
};

struct scan_ctx {
	struct scratch *s;
	__u32 start;		/* first offset of this scan */
	__u32 pad;
	struct scan_state st;
};

#define ONES	0x0101010101010101ULL
#define LOWS	0x7f7f7f7f7f7f7f7fULL
#define CRS	(ONES * '\r')
#define LFS	(ONES * '\n')
#define SCAN_BLOCK	32	/* bytes per scan round: 4 words */

/* The 4-byte window as the word before the next one, and back. */
static __always_inline __u64 win_word(__u32 win)
{
	return (__u64)__builtin_bswap32(win) << 32;
}

static __always_inline __u32 word_win(__u64 w)
{
	return __builtin_bswap32((__u32)(w >> 32));
}

/* One byte of a header block; returns 1 when scanning must stop. */
static __always_inline long scan_one(struct scratch *s, struct scan_state *st,
				     __u32 pos, __u8 b)
{

	st->win = (st->win << 8) | b;
	if (++st->hdr_len >= st->hdr_window) {
		st->truncated = 1;
		return 1;
	}
	if (st->win != CRLFCRLF && (st->win & 0xffff) != 0x0a0a)
		return 0;
	/* A blank line. Another message right behind it (pipelining) keeps
	 * the block open; otherwise the body starts here. */
	if (pos + 9 <= st->end &&
	    weft_http_start_word(*(__u64 *)&s->data[(pos + 1) & (WEFT_DATA_MAX - 1)])) {
		st->win = 0;
		st->hdr_len = 0;
		return 0;
	}
	st->head_end = pos + 1;
	return 1;
}

/*
 * One word of a header block byte by byte: the rare word that may end the
 * block, is short, or reaches the window. Global, so the verifier checks it
 * once on its own instead of at every call. Returns 1 when scanning must
 * stop, and leaves st->prev as the window for the next word.
 */
__noinline __u32 scan_bytes(struct scratch *s, struct scan_state *st,
			    __u32 pos, __u64 w, __u32 n)
{
	__u32 stop = 0;

	if (!s || !st)
		return 1;
	st->win = word_win(st->prev);
	for (int k = 0; k < 8; k++) {
		if (k >= n || scan_one(s, st, pos + k, (w >> (k * 8)) & 0xff)) {
			stop = 1;
			break;
		}
	}
	st->prev = win_word(st->win);
	return stop;
}

/* High bit of each byte of w that equals the byte in pat (exact: no false
 * positives from borrows, unlike the usual has-zero test). */
static __always_inline __u64 bytes_eq(__u64 w, __u64 pat)
{
	__u64 x = w ^ pat;

	return ~(((x & LOWS) + LOWS) | x | LOWS);
}

/*
 * Could a blank line end in word w, given the word before it? A blank line
 * is "\r\n\r\n" or "\n\n" ending at some byte: masks of the CR and LF
 * bytes of both words, shifted against each other, find it with a handful
 * of ALU operations and no byte loop.
 */
static __always_inline __u64 blank_line_in(__u64 w, __u64 prev)
{
	__u64 lf = bytes_eq(w, LFS), cr = bytes_eq(w, CRS);
	__u64 plf = bytes_eq(prev, LFS), pcr = bytes_eq(prev, CRS);

	return lf & (((lf << 8) | (plf >> 56)) |
		     (((cr << 8) | (pcr >> 56)) &
		      ((lf << 16) | (plf >> 48)) &
		      ((cr << 24) | (pcr >> 40))));
}

/*
 * SCAN_BLOCK bytes per round. A block that is whole, stays inside the
 * window and has no blank line (almost every one) is passed after a few
 * ALU operations per word; any other goes word by word, and a word that
 * may end the block goes to scan_bytes. A 150-byte head takes five rounds
 * instead of the twenty of a word loop.
 */
static long scan_block(__u64 i, struct scan_ctx *sc)
{
	struct scan_state *st = &sc->st;
	__u32 base = sc->start + (__u32)i * SCAN_BLOCK;
	__u64 prev = st->prev, hit = 0, w;

	if (base >= st->end)
		return 1;
	if (base + SCAN_BLOCK <= st->end &&
	    st->hdr_len + SCAN_BLOCK < st->hdr_window) {
		for (int j = 0; j < SCAN_BLOCK / 8; j++) {
			w = *(__u64 *)&sc->s->data[(base + j * 8) &
						   (WEFT_DATA_MAX - 1)];
			hit |= blank_line_in(w, prev);
			prev = w;
		}
		if (!hit) {
			st->hdr_len += SCAN_BLOCK;
			st->prev = prev;
			return 0;
		}
	}
	for (int j = 0; j < SCAN_BLOCK / 8; j++) {
		__u32 pos = base + j * 8, n;

		if (pos >= st->end)
			return 1;
		n = st->end - pos;
		w = *(__u64 *)&sc->s->data[pos & (WEFT_DATA_MAX - 1)];
		if (n >= 8 && st->hdr_len + 8 < st->hdr_window &&
		    !blank_line_in(w, st->prev)) {
			st->hdr_len += 8;
			st->prev = w;
			continue;
		}
		if (scan_bytes(sc->s, st, pos, w, n))
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
static __noinline long copy_step_at(__u64 i, struct copy_ctx *cc)
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
	if (cc->sc.st.head_end || cc->sc.st.truncated)
		return 0;	/* only copying the body prefix now */
	cc->sc.start = off;
	cc->sc.st.end = off + got;
	bpf_loop((got + SCAN_BLOCK - 1) / SCAN_BLOCK, scan_block, &cc->sc, 0);
	cc->sc.st.win = word_win(cc->sc.st.prev);
	if (cc->sc.st.head_end) {
		__u32 w = cc->sc.st.head_end + cc->body_capture;

		cc->want = w < cc->limit ? w : cc->limit;
	} else if (cc->sc.st.truncated) {
		cc->want = cc->off;
	}
	return 0;
}

/* The bpf_loop callback; capture_head also calls copy_step_at directly. */
static long copy_step(__u64 i, struct copy_ctx *cc)
{
	return copy_step_at(i, cc);
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
			.st = {
				.win = ds->win,
				.hdr_len = ds->hdr_len,
				.hdr_window = hdr_window,
			},
		},
		.body_capture = body_capture,
	};

	cc.sc.st.prev = win_word(ds->win);
	cc.limit = len < WEFT_DATA_MAX ? len : WEFT_DATA_MAX;
	cc.want = cc.limit;
	/* nearly every head fits one step: no loop, no indirect call */
	if (cc.want <= COPY_STEP)
		copy_step_at(0, &cc);
	else
		bpf_loop((cc.want + COPY_STEP - 1) / COPY_STEP, copy_step, &cc, 0);

	if (cc.read_fail) {
		*flags |= WEFT_F_READ_FAIL;
		count(WEFT_CNT_READ_FAIL);
	}
	if (cc.sc.st.head_end) {
		*flags |= WEFT_F_HDR_END;
		ds->hdr_open = 0;
	} else if (cc.sc.st.truncated) {
		*flags |= WEFT_F_TRUNCATED;
		count(WEFT_CNT_HDR_TRUNC);
		ds->hdr_open = 0;
	}
	ds->win = cc.sc.st.win;
	ds->hdr_len = cc.sc.st.hdr_len;
	return cc.off < cc.want ? cc.off : cc.want;
}

/*
 * An HTTP/2 connection's chunk: its first WEFT_DATA_MAX bytes, unscanned.
 * Frames, not header blocks, are the agent's to find; a DATA frame it was
 * not given the bytes of is skipped by its length. A state that says the
 * window is used up makes copy_step copy without scanning.
 */
static __always_inline __u32 capture_raw(struct scratch *s,
					 const struct io_src *src, __u32 len,
					 __u32 *flags)
{
	struct copy_ctx cc = {
		.src = *src,
		.sc = { .s = s, .st = { .truncated = 1 } },
	};

	cc.limit = len < WEFT_DATA_MAX ? len : WEFT_DATA_MAX;
	cc.want = cc.limit;
	bpf_loop((cc.want + COPY_STEP - 1) / COPY_STEP, copy_step, &cc, 0);
	if (cc.read_fail) {
		*flags |= WEFT_F_READ_FAIL;
		count(WEFT_CNT_READ_FAIL);
	}
	return cc.off < cc.want ? cc.off : cc.want;
}

/*
 * Chunks of up to one COPY_STEP (nearly every head) go to userspace whole,
 * so only the state after the chunk matters here, not where inside it a
 * head ended: that is decided by the chunk's last blank line. Past it, a
 * message start (pipelining) leaves a head open; anything else means the
 * heads ended. The search is the word-mask test of blank_line_in over the
 * whole chunk, SMALL_BLOCK bytes per round, with no byte loop at all.
 */
#define SMALL_BLOCK	128

struct last_blank_ctx {
	struct scratch *s;
	__u32 end;
	__u32 pad;
	__u64 hit_pos;		/* word holding the last blank line's end */
	__u64 hit_mask;		/* where in it: high bit per byte; 0 = none */
	__u64 prev;		/* the 8 bytes before the next word */
};

/*
 * No branch on what the bytes are: a branch per word would give the
 * verifier two paths per word to walk (2^16 per round). Selection is done
 * with masks instead, kept opaque so the compiler does not turn it back
 * into a branch.
 */
static long last_blank(__u64 i, struct last_blank_ctx *lc)
{
	__u32 base = (__u32)i * SMALL_BLOCK;
	__u64 prev = lc->prev, hit_mask = lc->hit_mask, hit_pos = lc->hit_pos;

	for (int j = 0; j < SMALL_BLOCK / 8; j++) {
		__u32 pos = base + j * 8;
		__u64 w, m, sel;

		if (pos >= lc->end)
			break;
		w = *(__u64 *)&lc->s->data[pos & (WEFT_DATA_MAX - 1)];
		m = blank_line_in(w, prev);
		sel = 0 - ((m | (0 - m)) >> 63);	/* all ones when m != 0 */
		asm volatile("" : "+r"(sel));
		hit_mask = (m & sel) | (hit_mask & ~sel);
		hit_pos = (pos & sel) | (hit_pos & ~sel);
		prev = w;
	}
	lc->prev = prev;
	lc->hit_mask = hit_mask;
	lc->hit_pos = hit_pos;
	return 0;
}

/* Offset just past the last blank line marked in mask, a word at pos.
 * Global: its result is a fresh value to the verifier, which then does not
 * chase the precision of an offset back through every round of last_blank
 * (that made the rounds never converge). */
__noinline __u32 last_hit(__u32 pos, __u64 mask)
{
	__u32 k = 0;

	for (int b = 1; b < 8; b++)
		if (mask >> (b * 8 + 7) & 1)
			k = b;
	return pos + k + 1;
}

/* The last four bytes up to end, newest in the low byte, after win. */
static __always_inline __u32 tail_win(struct scratch *s, __u32 end, __u32 win)
{
	__u32 w = 0;

	if (end >= 4) {
		w = *(__u32 *)&s->data[(end - 4) & (WEFT_DATA_MAX - 1)];
		return __builtin_bswap32(w);
	}
	for (int k = 0; k < 3; k++)
		if (k < end)
			win = (win << 8) | s->data[k & (WEFT_DATA_MAX - 1)];
	return win;
}

/*
 * Global, so the verifier checks it once on its own: the few data-dependent
 * branches at its end would otherwise multiply the paths through all of
 * emit_chunk after it. The chunk (len bytes) is already in s->data, got of
 * them read. Returns the bytes to forward; updates *ds.
 */
__noinline __u32 capture_small(struct scratch *s, __u32 got, __u32 len,
			       struct dir_state *ds, __u32 *flags)
{
	struct last_blank_ctx lc = {};
	__u32 p, z;

	if (!s || !ds || !flags)
		return 0;
	lc.s = s;
	if (got > COPY_STEP)
		got = COPY_STEP;
	if (got < len) {
		*flags |= WEFT_F_READ_FAIL;
		count(WEFT_CNT_READ_FAIL);
	}
	/* the last word may run past the chunk: stale bytes there must not
	 * look like a line end (SCRATCH_DATA leaves room for the store) */
	z = got;
	asm volatile("" : "+r"(z));	/* keep the mask: the verifier needs it */
	*(__u64 *)&s->data[z & (WEFT_DATA_MAX - 1)] = 0;
	lc.end = got;
	lc.prev = win_word(ds->win);
	bpf_loop((got + SMALL_BLOCK - 1) / SMALL_BLOCK, last_blank, &lc, 0);
	if (!lc.hit_mask) {
		ds->hdr_len += got;
		ds->win = tail_win(s, got, ds->win);
		return got;
	}
	p = last_hit((__u32)lc.hit_pos, lc.hit_mask);
	if (p + 8 <= got &&
	    weft_http_start_word(*(__u64 *)&s->data[p & (WEFT_DATA_MAX - 1)])) {
		/* a pipelined head begins after the last blank line */
		ds->hdr_len = got - p;
		ds->win = tail_win(s, got, 0);
		return got;
	}
	*flags |= WEFT_F_HDR_END;
	ds->hdr_open = 0;
	ds->win = 0;
	ds->hdr_len = 0;
	return got;
}

#endif /* WEFT_CAPTURE_BPF_H */
