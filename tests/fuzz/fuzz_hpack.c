// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_hpack: the HPACK decoder (user/hpack.c) over arbitrary header
 * blocks, and the HTTP/2 framing that feeds it (user/h2.c through
 * pairing.c to spans) over arbitrary frames, as other processes' bytes
 * could be.
 *
 * Input: byte 0, low bit 0 = HPACK mode: byte 1 the starting table size
 * (x 64), then operations: a byte whose low bit says either "a block":
 * u16 length and that many bytes (exact-size heap copy) decoded on the
 * one decoder, or "a SETTINGS_HEADER_TABLE_SIZE": u16 (x 4). Also every
 * block's bytes through hpack_huffman_decode. Bit 2: a partial decoder
 * (hpack_init_partial: a connection seen from the middle).
 * Low bit 1 = HTTP/2 mode: one connection (bit 1: the client's side or
 * the server's), the client preface put in front of the first request
 * bytes so the fuzzer starts inside HTTP/2; then chunks: a byte (bit 0
 * direction, bit 1 copy cut short, bit 2 close with FIN or RST and stop,
 * bit 4 bytes missing before it (a record lost), bit 5 TLS plaintext),
 * u16 length, that many bytes; a cut chunk says it moved more (u8 * 64
 * extra) than was copied. Bit 2 of byte 0: a connection older than weft
 * instead (no preface, role unknown, the first chunk WEFT_F_H2_MID, a Go
 * process): op bit 6 is then a Go decoded-fields record (bit 3: one
 * grpc-go's writer made, before its bytes) (u8
 * stream id, u8 fields, u8 fields the frame had, u16 length and that many
 * bytes: pairing_go_h2_fields), op bit 7 the clock 3 s on (pairing_tick:
 * kept requests give up).
 *
 * Invariants beyond "no crash, no leak":
 *  - the table never holds more than its size, its size never exceeds
 *    the limit nor HPACK_TABLE_HARD_MAX, its entries add up to its size;
 *  - one block's fields add up (name + value + 32 each) to at most
 *    HPACK_HEADER_LIST_MAX; a poisoned decoder decodes nothing again;
 *  - Huffman output fits 8/5 of the input;
 *  - spans are whole (name, kind, ids, end >= start), and after the close
 *    no stream and no connection is left.
 */
#include <arpa/inet.h>
#include <sys/socket.h>
#include "fuzz.h"
#include "hpack.h"
#include "h2.h"
#include "ids.h"
#include "pairing.h"
#include "record.h"
#include "span.h"

#define MS	1000000ULL
#define T0	(1000ULL * 1000 * MS)

/* ---- HPACK mode ---- */

struct block_sum {
	size_t bytes;
	int fields;
};

static void on_field(void *ctx, const uint8_t *name, size_t nlen,
		     const uint8_t *value, size_t vlen)
{
	struct block_sum *b = ctx;

	FUZZ_ASSERT(name || nlen == 0);
	FUZZ_ASSERT(value || vlen == 0);
	b->bytes += nlen + vlen + 32;
	b->fields++;
}

static void check_table(const struct hpack_dec *d)
{
	uint32_t sum = 0;

	FUZZ_ASSERT(d->size <= d->max_size);
	FUZZ_ASSERT(d->max_size <= d->limit);
	FUZZ_ASSERT(d->limit <= HPACK_TABLE_HARD_MAX);
	FUZZ_ASSERT(d->n <= d->ring_cap);
	for (uint32_t i = 0; i < d->n; i++) {
		const struct hpack_entry *e = &d->ring[(d->head + i) % d->ring_cap];

		FUZZ_ASSERT(e->buf);
		sum += e->nlen + e->vlen + 32;
	}
	FUZZ_ASSERT(sum == d->size);
}

static void hpack_mode(struct fuzz_in *in, bool partial)
{
	struct hpack_dec d;

	hpack_init(&d, (uint32_t)fz_u8(in) * 64);
	if (partial)
		hpack_init_partial(&d);
	check_table(&d);
	while (!fz_empty(in)) {
		uint8_t op = fz_u8(in);

		if (op & 1) {
			hpack_set_limit(&d, (uint32_t)fz_u16(in) * 4);
		} else {
			size_t n;
			const uint8_t *p = fz_bytes(in, fz_u16(in), &n);
			uint8_t *blk = fz_memdup(p, n), *out = malloc(n * 8 / 5 + 1);
			struct block_sum b = { 0 };
			bool was_poisoned = d.poisoned;
			enum hpack_result r = hpack_decode(&d, blk, n, on_field, &b);
			long h;

			FUZZ_ASSERT(r == HPACK_OK || r == HPACK_ERROR ||
				    r == HPACK_POISONED);
			FUZZ_ASSERT(b.bytes <= HPACK_HEADER_LIST_MAX);
			if (was_poisoned)
				FUZZ_ASSERT(r == HPACK_POISONED && b.fields == 0);
			if (r != HPACK_OK)
				FUZZ_ASSERT(d.poisoned);
			h = hpack_huffman_decode(blk, n, out, n * 8 / 5 + 1);
			FUZZ_ASSERT(h >= -1 && h <= (long)(n * 8 / 5 + 1));
			free(out);
			free(blk);
		}
		check_table(&d);
	}
	hpack_free(&d);
}

/* ---- HTTP/2 mode ---- */

static void on_span(struct span *s, void *ctx)
{
	FUZZ_ASSERT(s->name && s->name[0]);
	FUZZ_ASSERT(s->kind == SPAN_KIND_SERVER || s->kind == SPAN_KIND_CLIENT);
	FUZZ_ASSERT(s->end_unix_ns >= s->start_unix_ns);
	FUZZ_ASSERT(!id_is_zero(s->trace_id, 16));
	FUZZ_ASSERT(!id_is_zero(s->span_id, 8));
	FUZZ_ASSERT(s->n_attrs >= 0 && s->n_attrs <= SPAN_MAX_ATTRS);
	if (getenv("WEFT_FUZZ_VERBOSE"))
		fprintf(stderr, "span %s %s\n",
			s->kind == SPAN_KIND_SERVER ? "server" : "client", s->name);
	span_free(s);
}

static bool all_go(uint32_t pid)
{
	(void)pid;
	return true;
}

static void want_fields(uint32_t pid)
{
	(void)pid;
}

static void h2_mode(struct fuzz_in *in, bool client, bool mid)
{
	struct pairing_opts o = { .is_go = mid ? all_go : NULL,
				  .want_h2_fields = mid ? want_fields : NULL };
	struct pairing *p = pairing_new(&o, on_span, NULL);
	enum weft_dir rq = client ? WEFT_DIR_SEND : WEFT_DIR_RECV;
	uint32_t seq[2] = { 1000, 5000 };
	uint64_t t = T0;
	bool first = true, closed = false;
	struct pairing_stats st;
	struct chunk ck = {
		.conn = { .sk = 0xffff8880deadbeefULL, .gen = 1 },
		.role = mid ? WEFT_ROLE_UNKNOWN : client ? WEFT_ROLE_CLIENT : WEFT_ROLE_SERVER,
		.pid = 4100, .tid = 4100, .comm = "fuzz",
	};

	ck.addr.family = AF_INET;
	inet_pton(AF_INET, "10.0.0.1", ck.addr.saddr);
	inet_pton(AF_INET, "10.0.0.2", ck.addr.daddr);
	ck.addr.sport = 8080;
	ck.addr.dport = 40000;
	while (!fz_empty(in) && !closed) {
		uint8_t op = fz_u8(in);
		size_t n, extra = 0, lead;
		const uint8_t *b;
		uint8_t *copy;

		if (op & 4) {
			struct conn_end e = { .conn = ck.conn, .ts_ns = t,
					      .reset = op & 8 };

			pairing_close(p, &e);
			closed = true;
			break;
		}
		if (mid && (op & 0x80))
			pairing_tick(p, t += 3000 * MS);
		if (mid && (op & 0x40)) {
			struct go_h2_fields gf = { .pid = ck.pid, .ts_ns = t };
			size_t n;
			const uint8_t *b;

			gf.written = op & 8;
			gf.stream_id = fz_u8(in);
			gf.n_fields = fz_u8(in);
			gf.total_fields = fz_u8(in);
			b = fz_bytes(in, fz_u16(in) % (WEFT_GO_FIELDS_MAX + 1), &n);
			gf.data = copy = fz_memdup(b, n);
			gf.len = n;
			pairing_go_h2_fields(p, &gf);
			free(copy);
			continue;
		}
		ck.dir = (op & 1) ? WEFT_DIR_RECV : WEFT_DIR_SEND;
		ck.flags = WEFT_F_H2 | ((op & 0x20) ? WEFT_F_TLS : 0) |
			   (mid && first ? WEFT_F_H2_MID : 0);
		if (op & 0x10)
			seq[ck.dir] += 1 + fz_u8(in);
		if (op & 2)
			extra = (size_t)fz_u8(in) * 64;
		b = fz_bytes(in, fz_u16(in), &n);
		lead = first && ck.dir == rq && !mid ? H2_PREFACE_LEN : 0;
		copy = malloc(lead + n ? lead + n : 1);
		memcpy(copy, H2_PREFACE, lead);
		memcpy(copy + lead, b, n);
		if (lead || mid)
			first = false;
		ck.data = copy;
		ck.cap = (uint32_t)(lead + n);
		ck.len = (uint32_t)(lead + n + extra);
		ck.seq = seq[ck.dir];
		seq[ck.dir] += ck.len;
		ck.ts_ns = t += 100000;
		pairing_chunk(p, &ck);
		free(copy);
	}
	pairing_get_stats(p, &st);
	FUZZ_ASSERT(st.h2.streams_lost <= st.h2.streams);
	if (closed)
		FUZZ_ASSERT(st.conns_open == 0);
	pairing_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t mode = fz_u8(&in);

	if (mode & 1)
		h2_mode(&in, mode & 2, mode & 4);
	else
		hpack_mode(&in, mode & 4);
	return 0;
}
