// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_chunked: the incremental chunked-body tracker (user/http.c
 * http_chunked_feed / http_chunked_gap), as framing drives it with the
 * pieces of a body that socket calls deliver and the gaps of bytes the
 * kernel side did not copy.
 *
 * Input: byte 0 and 1 = a seed for where the body is cut (and which pieces
 * go as gaps), the rest = the body bytes.
 *
 * Invariants beyond "no crash":
 *  - split independence: fed whole, or cut into pieces anywhere, the
 *    decoder ends in the same state (bytes consumed, done, error,
 *    remaining, tail), since a body arrives split however the sender's
 *    writes and the kernel's reads fell;
 *  - a feed consumes at most what it was given, and less only when the
 *    body ended there; after the end or an error it consumes nothing;
 *  - a gap that lies inside one chunk's data keeps decoding exact and ends
 *    in the same state as feeding those bytes; any other gap sets lost;
 *  - once lost, done is only ever set when the bytes known end with the
 *    last chunk "0\r\n\r\n";
 *  - tail_len <= 16 always.
 */
#include "fuzz.h"
#include "http.h"

struct result {
	long consumed;		/* total, or -1 on error */
	struct http_chunked c;
};

static void feed_checked(struct http_chunked *c, const uint8_t *data, size_t n,
			 struct result *r)
{
	uint8_t *b = fz_memdup(data, n);
	bool was_done = c->done;
	long k = http_chunked_feed(c, b, n);

	free(b);
	FUZZ_ASSERT(c->tail_len <= sizeof(c->tail));
	if (r->consumed < 0) {
		FUZZ_ASSERT(k == -1);
		return;
	}
	if (k < 0) {
		r->consumed = -1;
		return;
	}
	FUZZ_ASSERT((size_t)k <= n);
	if (was_done)
		FUZZ_ASSERT(k == 0);
	if ((size_t)k < n)
		FUZZ_ASSERT(c->done);
	r->consumed += k;
}

static void same(const struct result *a, const struct result *b)
{
	FUZZ_ASSERT(a->consumed == b->consumed);
	if (a->consumed < 0)
		return;
	FUZZ_ASSERT(a->c.done == b->c.done);
	FUZZ_ASSERT(a->c.lost == b->c.lost);
	FUZZ_ASSERT(a->c.state == b->c.state);
	FUZZ_ASSERT(a->c.remaining == b->c.remaining);
	FUZZ_ASSERT(a->c.line_len == b->c.line_len);
	FUZZ_ASSERT(a->c.tail_len == b->c.tail_len);
	FUZZ_ASSERT(memcmp(a->c.tail, b->c.tail, a->c.tail_len) == 0);
}

/* The known bytes (the tail) end with the last chunk? */
static bool ends_with_terminator(const struct http_chunked *c)
{
	static const char t[] = "0\r\n\r\n";

	return c->tail_len >= 5 && memcmp(c->tail + c->tail_len - 5, t, 5) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result whole = { 0 }, split = { 0 }, gaps = { 0 };
	uint32_t seed;
	const uint8_t *body;
	size_t n, off;

	if (size < 2)
		return 0;
	seed = data[0] | data[1] << 8 | 1u << 16;
	body = data + 2;
	n = size - 2;

	http_chunked_init(&whole.c);
	feed_checked(&whole.c, body, n, &whole);
	/* feeding on after the end or an error consumes nothing more */
	if (whole.consumed >= 0 && whole.c.done)
		FUZZ_ASSERT(http_chunked_feed(&whole.c, body, n) == 0);
	if (whole.consumed < 0)
		FUZZ_ASSERT(http_chunked_feed(&whole.c, body, n) == -1);

	/* the same bytes in pieces of 1..64 */
	http_chunked_init(&split.c);
	for (off = 0; off < n;) {
		size_t piece;

		seed = seed * 1103515245u + 12345u;
		piece = 1 + (seed >> 16) % 64;
		if (piece > n - off)
			piece = n - off;
		feed_checked(&split.c, body + off, piece, &split);
		off += piece;
	}
	same(&whole, &split);

	/* and with some pieces as gaps, their last bytes known */
	http_chunked_init(&gaps.c);
	for (off = 0; off < n && gaps.consumed >= 0 && !gaps.c.done;) {
		size_t piece, known;

		seed = seed * 1103515245u + 12345u;
		piece = 1 + (seed >> 16) % 64;
		if (piece > n - off)
			piece = n - off;
		if (seed >> 31) {
			struct http_chunked before = gaps.c;
			struct result fed = { gaps.consumed, gaps.c };
			uint8_t *any;

			known = (seed >> 8) % 17;
			if (known > piece)
				known = piece;
			http_chunked_gap(&gaps.c, piece, body + off + piece - known, known);
			FUZZ_ASSERT(gaps.c.tail_len <= sizeof(gaps.c.tail));
			if (!gaps.c.lost) {
				/* exact: the gap was chunk data, whose bytes do
				 * not matter: as if any piece bytes were fed */
				FUZZ_ASSERT(before.remaining >= piece);
				any = calloc(1, piece);
				if (known == piece)
					memcpy(any, body + off, piece);
				feed_checked(&fed.c, any, piece, &fed);
				free(any);
				gaps.consumed += piece;
				FUZZ_ASSERT(fed.consumed == gaps.consumed);
				FUZZ_ASSERT(gaps.c.state == fed.c.state &&
					    gaps.c.remaining == fed.c.remaining &&
					    gaps.c.line_len == fed.c.line_len &&
					    gaps.c.done == fed.c.done);
				if (known == piece)
					same(&gaps, &fed);
			} else if (gaps.c.done && !before.done) {
				FUZZ_ASSERT(ends_with_terminator(&gaps.c));
			}
		} else {
			bool was_lost = gaps.c.lost, was_done = gaps.c.done;

			feed_checked(&gaps.c, body + off, piece, &gaps);
			if (was_lost && !was_done && gaps.c.done)
				FUZZ_ASSERT(ends_with_terminator(&gaps.c));
		}
		off += piece;
	}
	return 0;
}
