// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HPACK header block decoding (RFC 7541): see hpack.h. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "hpack.h"

#define ENTRY_OVERHEAD	32	/* RFC 7541 4.1 */
#define HUFF_SYMS	257	/* 256 octets and EOS */
#define HUFF_MAX_LEN	30

/* ---- Huffman code (RFC 7541 Appendix B) ---- */

/*
 * Code length of each symbol, in the appendix's order. The code itself is
 * canonical: codes of one length are consecutive in symbol order, and each
 * length starts where the previous one ended, shifted left. That is how
 * the appendix's codes were made, so the lengths say everything, and the
 * decoder walks it with a few small arrays instead of a tree.
 */
static const uint8_t huff_len[HUFF_SYMS] = {
	/*   0 */ 13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
	/*  16 */ 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
	/*  32 */ 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
	/*  48 */ 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
	/*  64 */ 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
	/*  80 */ 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
	/*  96 */ 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
	/* 112 */ 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
	/* 128 */ 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
	/* 144 */ 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
	/* 160 */ 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
	/* 176 */ 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
	/* 192 */ 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
	/* 208 */ 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
	/* 224 */ 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
	/* 240 */ 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
	/* 256 */ 30,
};

/* Per length: the first code, how many codes, where in huff_sorted. */
static uint32_t huff_first[HUFF_MAX_LEN + 1];
static uint32_t huff_count[HUFF_MAX_LEN + 1];
static uint32_t huff_offset[HUFF_MAX_LEN + 1];
static uint16_t huff_sorted[HUFF_SYMS];	/* symbols by (length, symbol) */
static pthread_once_t huff_once = PTHREAD_ONCE_INIT;

static void huff_build(void)
{
	uint32_t code = 0, k = 0;

	for (int s = 0; s < HUFF_SYMS; s++)
		huff_count[huff_len[s]]++;
	for (int len = 1; len <= HUFF_MAX_LEN; len++) {
		huff_first[len] = code;
		huff_offset[len] = k;
		for (int s = 0; s < HUFF_SYMS; s++)
			if (huff_len[s] == len)
				huff_sorted[k++] = (uint16_t)s;
		code = (code + huff_count[len]) << 1;
	}
}

long hpack_huffman_decode(const uint8_t *in, size_t n, uint8_t *out,
			  size_t cap)
{
	uint32_t code = 0, len = 0;
	size_t o = 0;

	pthread_once(&huff_once, huff_build);
	for (size_t i = 0; i < n; i++) {
		for (int b = 7; b >= 0; b--) {
			uint32_t k;

			code = code << 1 | ((in[i] >> b) & 1);
			if (++len > HUFF_MAX_LEN)
				return -1;
			k = code - huff_first[len];
			if (code < huff_first[len] || k >= huff_count[len])
				continue;
			k = huff_sorted[huff_offset[len] + k];
			if (k == 256 || o >= cap)
				return -1;	/* EOS inside a string is an error */
			out[o++] = (uint8_t)k;
			code = 0;
			len = 0;
		}
	}
	/* padding: fewer than 8 bits, the most significant ones of EOS */
	if (len > 7 || code != (1u << len) - 1)
		return -1;
	return (long)o;
}

/* ---- static table (RFC 7541 Appendix A) ---- */

static const struct {
	const char *name, *value;
} static_table[] = {
	{ ":authority", "" }, { ":method", "GET" }, { ":method", "POST" },
	{ ":path", "/" }, { ":path", "/index.html" }, { ":scheme", "http" },
	{ ":scheme", "https" }, { ":status", "200" }, { ":status", "204" },
	{ ":status", "206" }, { ":status", "304" }, { ":status", "400" },
	{ ":status", "404" }, { ":status", "500" }, { "accept-charset", "" },
	{ "accept-encoding", "gzip, deflate" }, { "accept-language", "" },
	{ "accept-ranges", "" }, { "accept", "" },
	{ "access-control-allow-origin", "" }, { "age", "" }, { "allow", "" },
	{ "authorization", "" }, { "cache-control", "" },
	{ "content-disposition", "" }, { "content-encoding", "" },
	{ "content-language", "" }, { "content-length", "" },
	{ "content-location", "" }, { "content-range", "" },
	{ "content-type", "" }, { "cookie", "" }, { "date", "" }, { "etag", "" },
	{ "expect", "" }, { "expires", "" }, { "from", "" }, { "host", "" },
	{ "if-match", "" }, { "if-modified-since", "" }, { "if-none-match", "" },
	{ "if-range", "" }, { "if-unmodified-since", "" },
	{ "last-modified", "" }, { "link", "" }, { "location", "" },
	{ "max-forwards", "" }, { "proxy-authenticate", "" },
	{ "proxy-authorization", "" }, { "range", "" }, { "referer", "" },
	{ "refresh", "" }, { "retry-after", "" }, { "server", "" },
	{ "set-cookie", "" }, { "strict-transport-security", "" },
	{ "transfer-encoding", "" }, { "user-agent", "" }, { "vary", "" },
	{ "via", "" }, { "www-authenticate", "" },
};
#define STATIC_N	(sizeof(static_table) / sizeof(static_table[0]))
_Static_assert(STATIC_N == 61, "RFC 7541 Appendix A has 61 entries");

/* ---- dynamic table ---- */

void hpack_init(struct hpack_dec *d, uint32_t table_size)
{
	memset(d, 0, sizeof(*d));
	if (table_size > HPACK_TABLE_HARD_MAX)
		table_size = HPACK_TABLE_HARD_MAX;
	d->max_size = table_size;
	d->limit = table_size;
}

void hpack_init_partial(struct hpack_dec *d)
{
	hpack_init(d, HPACK_TABLE_HARD_MAX);
	d->partial = true;
}

static void evict_oldest(struct hpack_dec *d)
{
	struct hpack_entry *e = &d->ring[d->head];

	d->size -= e->nlen + e->vlen + ENTRY_OVERHEAD;
	free(e->buf);
	e->buf = NULL;
	d->head = (d->head + 1) % d->ring_cap;
	d->n--;
}

void hpack_free(struct hpack_dec *d)
{
	while (d->n)
		evict_oldest(d);
	free(d->ring);
	free(d->scratch);
	d->ring = NULL;
	d->scratch = NULL;
	d->ring_cap = 0;
	d->scratch_cap = 0;
}

void hpack_set_limit(struct hpack_dec *d, uint32_t settings_size)
{
	if (settings_size > HPACK_TABLE_HARD_MAX)
		settings_size = HPACK_TABLE_HARD_MAX;
	if (settings_size > d->limit)
		d->limit = settings_size;
}

static void evict_to(struct hpack_dec *d, uint32_t max)
{
	while (d->n && d->size > max)
		evict_oldest(d);
}

/* The ring holds at most max_size / 32 entries; it grows by doubling. */
static void ring_grow(struct hpack_dec *d)
{
	uint32_t cap = d->ring_cap ? d->ring_cap * 2 : 16;
	struct hpack_entry *r = calloc(cap, sizeof(*r));

	if (!r)
		abort();
	for (uint32_t i = 0; i < d->n; i++)
		r[i] = d->ring[(d->head + i) % d->ring_cap];
	free(d->ring);
	d->ring = r;
	d->ring_cap = cap;
	d->head = 0;
}

/* RFC 7541 4.4: evict first, then add; an entry bigger than the table
 * empties it and is not added. name/value must not point into the table
 * (they are copied from the decoder's scratch or made a copy first). */
static void table_add(struct hpack_dec *d, const uint8_t *name, size_t nlen,
		      const uint8_t *value, size_t vlen, bool name_unknown)
{
	size_t esize = nlen + vlen + ENTRY_OVERHEAD;
	struct hpack_entry *e;

	if (esize > d->max_size) {
		evict_to(d, 0);
		return;
	}
	evict_to(d, d->max_size - (uint32_t)esize);
	if (d->n == d->ring_cap)
		ring_grow(d);
	e = &d->ring[(d->head + d->n) % d->ring_cap];
	e->buf = malloc(nlen + vlen + 1);
	if (!e->buf)
		abort();
	memcpy(e->buf, name, nlen);
	memcpy(e->buf + nlen, value, vlen);
	e->nlen = (uint32_t)nlen;
	e->vlen = (uint32_t)vlen;
	e->name_unknown = name_unknown;
	d->n++;
	d->size += (uint32_t)esize;
}

enum lookup_res {
	L_BAD = 0,	/* no such index: the block is malformed */
	L_OK = 1,
	L_UNKNOWN = 2,	/* partial decoder: an entry weft never saw, or one
			 * whose name it never saw */
};

/* Index 1..61 static, 62.. dynamic (62 = newest). */
static enum lookup_res lookup(const struct hpack_dec *d, uint64_t idx,
			      const uint8_t **name, size_t *nlen,
			      const uint8_t **value, size_t *vlen)
{
	if (idx == 0)
		return L_BAD;
	if (idx <= STATIC_N) {
		*name = (const uint8_t *)static_table[idx - 1].name;
		*nlen = strlen(static_table[idx - 1].name);
		*value = (const uint8_t *)static_table[idx - 1].value;
		*vlen = strlen(static_table[idx - 1].value);
		return L_OK;
	}
	idx -= STATIC_N + 1;
	if (idx >= d->n)
		return d->partial ? L_UNKNOWN : L_BAD;
	{
		const struct hpack_entry *e =
			&d->ring[(d->head + d->n - 1 - idx) % d->ring_cap];

		*name = e->buf;
		*nlen = e->nlen;
		*value = e->buf + e->nlen;
		*vlen = e->vlen;
		return e->name_unknown ? L_UNKNOWN : L_OK;
	}
}

/* ---- primitives (RFC 7541 5.1, 5.2) ---- */

struct rd {
	const uint8_t *p;
	size_t n, i;
};

/* An integer with an N-bit prefix; values past 2^28 are refused (no
 * length or index weft follows comes near). */
static bool read_int(struct rd *r, int prefix, uint64_t *out)
{
	uint64_t max = (1u << prefix) - 1, v;
	int shift = 0;

	if (r->i >= r->n)
		return false;
	v = r->p[r->i++] & max;
	if (v < max) {
		*out = v;
		return true;
	}
	for (;;) {
		uint8_t b;

		if (r->i >= r->n || shift > 21)
			return false;
		b = r->p[r->i++];
		v += (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	if (v > (1u << 28))
		return false;
	*out = v;
	return true;
}

static bool scratch_reserve(struct hpack_dec *d, size_t need)
{
	size_t cap = d->scratch_cap ? d->scratch_cap : 256;
	uint8_t *s;

	if (d->scratch && need <= d->scratch_cap)
		return true;	/* (empty strings too point somewhere) */
	while (cap < need)
		cap *= 2;
	s = realloc(d->scratch, cap);
	if (!s)
		abort();
	d->scratch = s;
	d->scratch_cap = cap;
	return true;
}

/* A string literal decoded into scratch at *off; *budget is what the block
 * may still decode to. */
static bool read_str(struct hpack_dec *d, struct rd *r, size_t *off,
		     size_t *len, size_t *budget)
{
	bool huff;
	uint64_t n;

	if (r->i >= r->n)
		return false;
	huff = r->p[r->i] & 0x80;
	if (!read_int(r, 7, &n) || n > r->n - r->i)
		return false;
	if (huff) {
		/* 5 bits is the shortest code: 8/5 of the input at most */
		size_t most = n * 8 / 5 + 1;
		long got;

		if (most > *budget)
			most = *budget;
		scratch_reserve(d, *off + most);
		got = hpack_huffman_decode(r->p + r->i, n, d->scratch + *off,
					   most);
		if (got < 0)
			return false;
		*len = (size_t)got;
	} else {
		if (n > *budget)
			return false;
		scratch_reserve(d, *off + n);
		memcpy(d->scratch + *off, r->p + r->i, n);
		*len = n;
	}
	r->i += n;
	*budget -= *len;
	return true;
}

/* ---- blocks (RFC 7541 6) ---- */

/* A literal field: 01 (add to table), 0000 (not), 0001 (never indexed). */
static bool literal(struct hpack_dec *d, struct rd *r, int prefix, bool add,
		    size_t *budget, hpack_field_cb cb, void *ctx)
{
	uint64_t idx;
	size_t noff = 0, nlen, vlen;
	bool unknown = false;

	if (!read_int(r, prefix, &idx))
		return false;
	if (idx) {
		const uint8_t *name, *value;
		size_t vl;
		enum lookup_res lr = lookup(d, idx, &name, &nlen, &value, &vl);

		if (lr == L_BAD)
			return false;
		if (lr == L_UNKNOWN) {
			/* the value still follows, and may be added */
			unknown = true;
			name = (const uint8_t *)"";
			nlen = 0;
		}
		/* the name is copied: adding may evict the entry it names */
		if (nlen > *budget)
			return false;
		scratch_reserve(d, nlen);
		memcpy(d->scratch, name, nlen);
		*budget -= nlen;
	} else if (!read_str(d, r, &noff, &nlen, budget)) {
		return false;
	}
	noff = nlen;
	if (!read_str(d, r, &noff, &vlen, budget))
		return false;
	if (*budget < ENTRY_OVERHEAD)
		return false;
	*budget -= ENTRY_OVERHEAD;
	if (unknown)
		d->unknown++;
	/* (a partial decoder's field of unknown name: NULL, its value) */
	cb(ctx, unknown ? NULL : d->scratch, nlen, d->scratch + nlen, vlen);
	if (add)
		table_add(d, d->scratch, nlen, d->scratch + nlen, vlen, unknown);
	return true;
}

static bool decode(struct hpack_dec *d, struct rd *r, hpack_field_cb cb,
		   void *ctx)
{
	size_t budget = HPACK_HEADER_LIST_MAX;
	bool fields_seen = false;

	while (r->i < r->n) {
		uint8_t b = r->p[r->i];
		uint64_t v;

		if (b & 0x80) {		/* indexed field */
			const uint8_t *name, *value;
			size_t nlen, vlen;
			enum lookup_res lr;

			if (!read_int(r, 7, &v))
				return false;
			lr = lookup(d, v, &name, &nlen, &value, &vlen);
			if (lr == L_BAD)
				return false;
			if (lr == L_UNKNOWN) {
				d->unknown++;
				fields_seen = true;
				continue;
			}
			if (nlen + vlen + ENTRY_OVERHEAD > budget)
				return false;
			budget -= nlen + vlen + ENTRY_OVERHEAD;
			cb(ctx, name, nlen, value, vlen);
		} else if (b & 0x40) {
			if (!literal(d, r, 6, true, &budget, cb, ctx))
				return false;
		} else if (b & 0x20) {	/* dynamic table size update */
			/* only at the start of a block (RFC 7541 4.2) */
			if (fields_seen || !read_int(r, 5, &v) || v > d->limit)
				return false;
			d->max_size = (uint32_t)v;
			evict_to(d, d->max_size);
			continue;
		} else {
			if (!literal(d, r, 4, false, &budget, cb, ctx))
				return false;
		}
		fields_seen = true;
	}
	return true;
}

enum hpack_result hpack_decode(struct hpack_dec *d, const uint8_t *block,
			       size_t len, hpack_field_cb cb, void *ctx)
{
	struct rd r = { .p = block, .n = len };

	d->unknown = 0;
	if (d->poisoned)
		return HPACK_POISONED;
	if (decode(d, &r, cb, ctx))
		return HPACK_OK;
	/* the table may now differ from the encoder's: trust nothing more */
	d->poisoned = true;
	evict_to(d, 0);
	return HPACK_ERROR;
}
