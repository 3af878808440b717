// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for user/hpack.c: the examples of RFC 7541 Appendix C (C.2
 * single fields, C.3/C.4 requests and C.5/C.6 responses, without and with
 * Huffman coding, each series on one decoder so the dynamic table carries
 * over), checked field by field and with the table's entries and size
 * after each block; then the malformations that must poison a decoder.
 */
#include <stdint.h>
#include <stdlib.h>
#include "hpack.h"
#include "test.h"

#define MAX_FIELDS 16

struct got {
	int n;
	char name[MAX_FIELDS][128];
	char value[MAX_FIELDS][128];
};

static void collect(void *ctx, const uint8_t *name, size_t nlen,
		    const uint8_t *value, size_t vlen)
{
	struct got *g = ctx;

	if (g->n >= MAX_FIELDS || nlen >= 128 || vlen >= 128)
		return;
	memcpy(g->name[g->n], name, nlen);
	g->name[g->n][nlen] = '\0';
	memcpy(g->value[g->n], value, vlen);
	g->value[g->n][vlen] = '\0';
	g->n++;
}

/* "8286 8441 ..." -> bytes (exact-size heap copy: ASan sees overreads). */
static uint8_t *unhex(const char *s, size_t *len)
{
	uint8_t *b = malloc(strlen(s) / 2 + 1);
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v;

		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			b[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	*len = n;
	return b;
}

static enum hpack_result decode_hex(struct hpack_dec *d, const char *hex,
				    struct got *g)
{
	size_t n;
	uint8_t *b = unhex(hex, &n), *exact = malloc(n ? n : 1);
	enum hpack_result r;

	memcpy(exact, b, n);
	memset(g, 0, sizeof(*g));
	r = hpack_decode(d, exact, n, collect, g);
	free(exact);
	free(b);
	return r;
}

/* Fields expected: "name", "value", ... NULL. */
static bool fields_are(const struct got *g, const char *const *want)
{
	int i = 0;

	for (; want[2 * i]; i++) {
		CHECK(i < g->n);
		CHECK_STR(g->name[i], want[2 * i]);
		CHECK_STR(g->value[i], want[2 * i + 1]);
	}
	CHECK_INT(g->n, i);
	return true;
}

/* Dynamic table, newest first: "name", "value", ... NULL; and its size. */
static bool table_is(const struct hpack_dec *d, const char *const *want,
		     uint32_t size)
{
	uint32_t i = 0;

	for (; want[2 * i]; i++) {
		const struct hpack_entry *e;

		CHECK(i < d->n);
		e = &d->ring[(d->head + d->n - 1 - i) % d->ring_cap];
		CHECK_INT(e->nlen, strlen(want[2 * i]));
		CHECK(memcmp(e->buf, want[2 * i], e->nlen) == 0);
		CHECK_INT(e->vlen, strlen(want[2 * i + 1]));
		CHECK(memcmp(e->buf + e->nlen, want[2 * i + 1], e->vlen) == 0);
	}
	CHECK_INT(d->n, i);
	CHECK_INT(d->size, size);
	return true;
}

/* C.2: one field each, on a fresh decoder. */
static bool test_c2_single_fields(void)
{
	static const struct {
		const char *hex, *name, *value;
		bool indexed;
	} c[] = {
		{ "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
		  "custom-key", "custom-header", true },
		{ "040c 2f73 616d 706c 652f 7061 7468", ":path", "/sample/path", false },
		{ "1008 7061 7373 776f 7264 0673 6563 7265 74", "password", "secret", false },
		{ "82", ":method", "GET", false },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct hpack_dec d;
		struct got g;
		const char *want[] = { c[i].name, c[i].value, NULL };
		const char *none[] = { NULL };
		bool ok;

		hpack_init(&d, HPACK_TABLE_DEFAULT);
		ok = decode_hex(&d, c[i].hex, &g) == HPACK_OK && fields_are(&g, want) &&
		     (c[i].indexed ? table_is(&d, want, 55) : table_is(&d, none, 0));
		hpack_free(&d);
		CHECK(ok);
	}
	return true;
}

/* C.3 (plain) and C.4 (Huffman): three requests on one connection. */
static bool request_series(const char *const hex[3])
{
	static const char *const f1[] = { ":method", "GET", ":scheme", "http",
		":path", "/", ":authority", "www.example.com", NULL };
	static const char *const t1[] = { ":authority", "www.example.com", NULL };
	static const char *const f2[] = { ":method", "GET", ":scheme", "http",
		":path", "/", ":authority", "www.example.com",
		"cache-control", "no-cache", NULL };
	static const char *const t2[] = { "cache-control", "no-cache",
		":authority", "www.example.com", NULL };
	static const char *const f3[] = { ":method", "GET", ":scheme", "https",
		":path", "/index.html", ":authority", "www.example.com",
		"custom-key", "custom-value", NULL };
	static const char *const t3[] = { "custom-key", "custom-value",
		"cache-control", "no-cache", ":authority", "www.example.com", NULL };
	struct hpack_dec d;
	struct got g;
	bool ok;

	hpack_init(&d, HPACK_TABLE_DEFAULT);
	ok = decode_hex(&d, hex[0], &g) == HPACK_OK && fields_are(&g, f1) &&
	     table_is(&d, t1, 57) &&
	     decode_hex(&d, hex[1], &g) == HPACK_OK && fields_are(&g, f2) &&
	     table_is(&d, t2, 110) &&
	     decode_hex(&d, hex[2], &g) == HPACK_OK && fields_are(&g, f3) &&
	     table_is(&d, t3, 164);
	hpack_free(&d);
	return ok;
}

static bool test_c3_requests_plain(void)
{
	static const char *const hex[3] = {
		"8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
		"8286 84be 5808 6e6f 2d63 6163 6865",
		"8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
	};

	return request_series(hex);
}

static bool test_c4_requests_huffman(void)
{
	static const char *const hex[3] = {
		"8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
		"8286 84be 5886 a8eb 1064 9cbf",
		"8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
	};

	return request_series(hex);
}

/* C.5 (plain) and C.6 (Huffman): three responses, a 256-byte table, so
 * entries are evicted. */
static bool response_series(const char *const hex[3])
{
#define DATE1 "Mon, 21 Oct 2013 20:13:21 GMT"
#define DATE2 "Mon, 21 Oct 2013 20:13:22 GMT"
#define LOC "https://www.example.com"
#define COOKIE "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
	static const char *const f1[] = { ":status", "302", "cache-control",
		"private", "date", DATE1, "location", LOC, NULL };
	static const char *const t1[] = { "location", LOC, "date", DATE1,
		"cache-control", "private", ":status", "302", NULL };
	static const char *const f2[] = { ":status", "307", "cache-control",
		"private", "date", DATE1, "location", LOC, NULL };
	static const char *const t2[] = { ":status", "307", "location", LOC,
		"date", DATE1, "cache-control", "private", NULL };
	static const char *const f3[] = { ":status", "200", "cache-control",
		"private", "date", DATE2, "location", LOC, "content-encoding",
		"gzip", "set-cookie", COOKIE, NULL };
	static const char *const t3[] = { "set-cookie", COOKIE,
		"content-encoding", "gzip", "date", DATE2, NULL };
	struct hpack_dec d;
	struct got g;
	bool ok;

	hpack_init(&d, 256);
	ok = decode_hex(&d, hex[0], &g) == HPACK_OK && fields_are(&g, f1) &&
	     table_is(&d, t1, 222) &&
	     decode_hex(&d, hex[1], &g) == HPACK_OK && fields_are(&g, f2) &&
	     table_is(&d, t2, 222) &&
	     decode_hex(&d, hex[2], &g) == HPACK_OK && fields_are(&g, f3) &&
	     table_is(&d, t3, 215);
	hpack_free(&d);
	return ok;
}

static bool test_c5_responses_plain(void)
{
	static const char *const hex[3] = {
		"4803 3330 3258 0770 7269 7661 7465 611d"
		"4d6f 6e2c 2032 3120 4f63 7420 3230 3133"
		"2032 303a 3133 3a32 3120 474d 546e 1768"
		"7474 7073 3a2f 2f77 7777 2e65 7861 6d70"
		"6c65 2e63 6f6d",
		"4803 3330 37c1 c0bf",
		"88c1 611d 4d6f 6e2c 2032 3120 4f63 7420"
		"3230 3133 2032 303a 3133 3a32 3220 474d"
		"54c0 5a04 677a 6970 7738 666f 6f3d 4153"
		"444a 4b48 514b 425a 584f 5157 454f 5049"
		"5541 5851 5745 4f49 553b 206d 6178 2d61"
		"6765 3d33 3630 303b 2076 6572 7369 6f6e"
		"3d31",
	};

	return response_series(hex);
}

static bool test_c6_responses_huffman(void)
{
	static const char *const hex[3] = {
		"4882 6402 5885 aec3 771a 4b61 96d0 7abe"
		"9410 54d4 44a8 2005 9504 0b81 66e0 82a6"
		"2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8"
		"e9ae 82ae 43d3",
		"4883 640e ffc1 c0bf",
		"88c1 6196 d07a be94 1054 d444 a820 0595"
		"040b 8166 e084 a62d 1bff c05a 839b d9ab"
		"77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b"
		"3960 d5af 2708 7f36 72c1 ab27 0fb5 291f"
		"9587 3160 65c0 03ed 4ee5 b106 3d50 07",
	};

	return response_series(hex);
}

/* Codes of the appendix seen through C.4.1 ("www.example.com"), and the
 * padding rules of RFC 7541 5.2: at most 7 bits, all ones, never EOS. */
static bool test_huffman_edges(void)
{
	static const uint8_t www[] = { 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a,
		0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff };
	/* '0' is 00000 (5 bits): padded with 111 is one byte 0x07 */
	static const uint8_t zero[] = { 0x07 };
	static const uint8_t zero_bad_pad[] = { 0x06 };	/* pad 110 */
	/* eight 1 bits after a full symbol: padding of 8 bits */
	static const uint8_t long_pad[] = { 0x07, 0xff };
	/* thirty 1 bits: EOS itself, forbidden in a string */
	static const uint8_t eos[] = { 0xff, 0xff, 0xff, 0xfc };
	uint8_t out[64];

	CHECK_INT(hpack_huffman_decode(www, sizeof(www), out, sizeof(out)), 15);
	CHECK(memcmp(out, "www.example.com", 15) == 0);
	CHECK_INT(hpack_huffman_decode(www, sizeof(www), out, 14), -1);
	CHECK_INT(hpack_huffman_decode(zero, 1, out, sizeof(out)), 1);
	CHECK_INT(out[0], '0');
	CHECK_INT(hpack_huffman_decode(zero_bad_pad, 1, out, sizeof(out)), -1);
	CHECK_INT(hpack_huffman_decode(long_pad, 2, out, sizeof(out)), -1);
	CHECK_INT(hpack_huffman_decode(eos, 4, out, sizeof(out)), -1);
	CHECK_INT(hpack_huffman_decode(NULL, 0, out, sizeof(out)), 0);
	return true;
}

/* Size updates: at the start only, never over the limit, evicting. */
static bool test_size_update(void)
{
	struct hpack_dec d;
	struct got g;
	bool ok;

	hpack_init(&d, HPACK_TABLE_DEFAULT);
	/* C.2.1's entry (55 bytes), then an update to 0 empties the table */
	ok = decode_hex(&d, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d"
			"6865 6164 6572", &g) == HPACK_OK && d.n == 1 &&
	     decode_hex(&d, "20 82", &g) == HPACK_OK && d.n == 0 &&
	     d.size == 0 && d.max_size == 0 && g.n == 1 &&
	     /* back to 4096 (3f e1 1f = 31 + 4065), then add */
	     decode_hex(&d, "3fe11f 400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f"
			"6d2d 6865 6164 6572", &g) == HPACK_OK &&
	     d.max_size == 4096 && d.n == 1;
	CHECK(ok);
	/* over the limit the peer announced: poisoned */
	CHECK_INT(decode_hex(&d, "3fe13f", &g), HPACK_ERROR);
	CHECK(d.poisoned && d.n == 0);
	CHECK_INT(decode_hex(&d, "82", &g), HPACK_POISONED);
	CHECK_INT(g.n, 0);
	hpack_free(&d);

	/* a larger SETTINGS value lets the encoder grow its table */
	hpack_init(&d, HPACK_TABLE_DEFAULT);
	hpack_set_limit(&d, 8192);
	CHECK_INT(decode_hex(&d, "3fe13f 82", &g), HPACK_OK);
	CHECK_INT(d.max_size, 8192);
	/* an update after a field is malformed */
	CHECK_INT(decode_hex(&d, "82 20", &g), HPACK_ERROR);
	hpack_free(&d);

	/* announced sizes over the hard maximum are held to it */
	hpack_init(&d, HPACK_TABLE_DEFAULT);
	hpack_set_limit(&d, 1u << 30);
	CHECK_INT(d.limit, HPACK_TABLE_HARD_MAX);
	hpack_free(&d);
	return true;
}

/* Malformed blocks poison the decoder; none reads past its input. */
static bool test_malformed(void)
{
	static const char *const bad[] = {
		"80",			/* index 0 */
		"be",			/* index 62, empty dynamic table */
		"ff80",			/* integer cut short */
		"ffffffffffffff7f",	/* integer far too large */
		"400a 6375",		/* name longer than the block */
		"4085 ffff ffff ff 00",	/* Huffman: EOS inside the name */
		"0f",			/* literal index cut short */
		"41",			/* literal: value missing */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hpack_dec d;
		struct got g;
		enum hpack_result r;

		hpack_init(&d, HPACK_TABLE_DEFAULT);
		r = decode_hex(&d, bad[i], &g);
		hpack_free(&d);
		if (r != HPACK_ERROR)
			fprintf(stderr, "  block %zu: %s\n", i, bad[i]);
		CHECK_INT(r, HPACK_ERROR);
	}
	return true;
}

/* A block decoding to more than HPACK_HEADER_LIST_MAX is refused. */
static bool test_header_list_limit(void)
{
	struct hpack_dec d;
	struct got g;
	size_t vlen = 4000, n = 0, fields = HPACK_HEADER_LIST_MAX / (vlen + 33) + 1;
	uint8_t *b = malloc(fields * (vlen + 8));
	enum hpack_result r;

	/* "x: <4000 a>" literal without indexing, new name, repeated */
	for (size_t f = 0; f < fields; f++) {
		b[n++] = 0x00;
		b[n++] = 0x01;
		b[n++] = 'x';
		b[n++] = 0x7f;			/* 127 + 3873 = 4000 */
		b[n++] = 0xa1;
		b[n++] = 0x1e;
		memset(b + n, 'a', vlen);
		n += vlen;
	}
	hpack_init(&d, HPACK_TABLE_DEFAULT);
	memset(&g, 0, sizeof(g));
	r = hpack_decode(&d, b, n, collect, &g);
	hpack_free(&d);
	free(b);
	CHECK_INT(r, HPACK_ERROR);
	return true;
}

/* The table holds at most its size: many additions, bounded entries. */
static bool test_eviction_bound(void)
{
	struct hpack_dec d;
	uint8_t blk[3 + 40];
	bool ok = true;

	hpack_init(&d, HPACK_TABLE_DEFAULT);
	for (int i = 0; i < 1000 && ok; i++) {
		struct got g;

		blk[0] = 0x40;			/* with indexing, new name */
		blk[1] = 0x01;
		blk[2] = (uint8_t)('a' + i % 26);
		blk[3] = 38;
		memset(blk + 4, 'v', 38);
		blk[4] = (uint8_t)i;
		memset(&g, 0, sizeof(g));
		ok = hpack_decode(&d, blk, 42, collect, &g) == HPACK_OK &&
		     d.size <= d.max_size && g.n == 1;
	}
	CHECK(ok);
	CHECK_INT(d.n, 4096 / (1 + 38 + 32));
	hpack_free(&d);
	return true;
}

int main(void)
{
	RUN(test_c2_single_fields);
	RUN(test_c3_requests_plain);
	RUN(test_c4_requests_huffman);
	RUN(test_c5_responses_plain);
	RUN(test_c6_responses_huffman);
	RUN(test_huffman_edges);
	RUN(test_size_update);
	RUN(test_malformed);
	RUN(test_header_list_limit);
	RUN(test_eviction_bound);
	return TEST_SUMMARY();
}
