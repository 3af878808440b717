// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_records: arbitrary sequences of ring-buffer records into the agent's
 * stages 1-5 (record.c -> framing.c -> pairing.c -> link.c -> spanbuild.c),
 * as a hostile or buggy kernel side could send them: any flags, roles,
 * directions, sequence numbers, lengths that disagree with the bytes,
 * tails, pids, threads and goroutines, closes of connections never seen,
 * exec records, timestamps that go backwards, malformed records of any
 * size. Time is a fake clock the input advances; pairing_tick and
 * pairing_sweep run when the input says. Everything is freed at the end,
 * so LeakSanitizer sees any exchange, span, stream buffer or link entry
 * left behind.
 *
 * Input: byte 0-1 = options (header window, link mode, sampler, formats,
 * Go processes, goroutine parents, telemetry, filters, resources), then
 * operations, each a byte whose low 3 bits say which:
 *   0-3  a data record on connection end (op >> 3) & 7, built by the
 *        driver the way the kernel side lays out struct weft_data_rec:
 *        flags+role byte, dir/pid/tid/g byte, u16 count of copied bytes
 *        that follow in the input, a byte for bytes moved but not copied
 *        (a length that exceeds the copy), a byte of time advance
 *        (254: also WEFT_F_H2 | WEFT_F_H2_MID, an HTTP/2 connection taken
 *        up from the middle).
 *        Ends 2k and 2k+1 are the client and server of one connection on
 *        this node (same 4-tuple mirrored, same TCP sequence numbers), so
 *        rule-2 links and DNAT-free keys are reached;
 *   4    a close record (FIN or RST) of that end, maybe with a new
 *        generation (the socket address reused);
 *   5    an exec record of one of the pids (pairing_forget_pid); with
 *        bit 7 set, a Go HTTP/2 handler record instead: a byte of
 *        goroutines (handler, reader, serve loop: the data records' g
 *        values) and a byte of stream id (pairing_go_stream);
 *   6    the clock moves (u16 ms) and pairing_tick, or pairing_sweep;
 *   7    a raw record: u16 size, then that many bytes handed to
 *        record_decode as they are (exact-size heap copy): Go decoded-
 *        fields records (pairing_go_h2_fields) come only this way.
 *
 * Invariants beyond "no crash, no leak":
 *  - every span handed out has a name, a kind, end >= start, non-zero
 *    trace and span ids, at most SPAN_MAX_ATTRS attributes with keys, and a
 *    parent id that is not its own span id;
 *  - record_decode never reports a chunk whose copy or tail reaches past
 *    the record (cap <= len, data + cap inside it, tail_len <= 16);
 *  - after pairing_flush no connection is open, and every span pairing
 *    built was handed to the callback (none held, none lost).
 * WEFT_FUZZ_VERBOSE=1 prints each span and the run's counters (to see
 * what a seed reaches: build/fuzz/fuzz_records tests/fuzz/corpus/records/x).
 */
#include <arpa/inet.h>
#include <sys/socket.h>
#include "fuzz.h"
#include "pairing.h"
#include "propagation.h"
#include "record.h"
#include "sampler.h"
#include "span.h"
#include "weft.h"

#define MS		1000000ULL
#define T0		(1000ULL * 1000 * MS)	/* 1000 s after boot */
#define N_ENDS		8
#define TCP_ESTABLISHED	1
#define TCP_LAST_ACK	9

static const uint32_t pids[4] = { 4100, 4101, 4102, 4103 };

static uint64_t n_spans;

static void on_span(struct span *s, void *ctx)
{
	FUZZ_ASSERT(s->name && s->name[0]);
	FUZZ_ASSERT(s->kind == SPAN_KIND_SERVER || s->kind == SPAN_KIND_CLIENT);
	FUZZ_ASSERT(s->end_unix_ns >= s->start_unix_ns);
	FUZZ_ASSERT(!id_is_zero(s->trace_id, 16));
	FUZZ_ASSERT(!id_is_zero(s->span_id, 8));
	if (s->has_parent)
		FUZZ_ASSERT(memcmp(s->parent_span_id, s->span_id, 8) != 0);
	FUZZ_ASSERT(s->n_attrs >= 0 && s->n_attrs <= SPAN_MAX_ATTRS);
	for (int i = 0; i < s->n_attrs; i++) {
		FUZZ_ASSERT(s->attrs[i].key);
		if (s->attrs[i].type == SPAN_ATTR_STR)
			FUZZ_ASSERT(s->attrs[i].str);
	}
	if (getenv("WEFT_FUZZ_VERBOSE")) {
		char t[33], sp[17], pa[17];

		hex_encode(s->trace_id, 16, t);
		hex_encode(s->span_id, 8, sp);
		hex_encode(s->parent_span_id, 8, pa);
		fprintf(stderr, "span %s %s trace %s span %s parent %s\n",
			s->kind == SPAN_KIND_SERVER ? "server" : "client", s->name,
			t, sp, s->has_parent ? pa : "-");
	}
	n_spans++;
	span_free(s);
}

static bool is_go(uint32_t pid)
{
	return pid & 1;
}

/* Goroutine creators: g's parent is g / 2 (a tree), 0 at the root. */
static uint64_t g_parent(uint32_t pid, uint64_t g)
{
	return g / 2;
}

static void want_g_parents(uint32_t pid)
{
}

static void want_h2_fields(uint32_t pid)
{
}

/* The kernel side's stop_conns table: every other question finds it full. */
static bool stop_conn(const struct weft_conn_key *k)
{
	static unsigned n;

	(void)k;
	return n++ & 1;
}

static struct resource *resource_of(uint32_t pid, const char *comm)
{
	struct resource *r = resource_new(pid);

	resource_set_str(r, "service.name", comm);
	resource_set_int(r, "process.pid", pid);
	return r;
}

/* The fake kernel: one end of a connection as the records describe it. */
struct end {
	uint64_t gen;
	struct weft_addr addr;
};

static void ends_init(struct end *e, uint32_t seqs[N_ENDS][2])
{
	for (int i = 0; i < N_ENDS; i++) {
		int pair = i / 2;
		bool v6 = pair == 3;
		uint8_t cli[16] = { 10, 0, 0, 2 }, srv[16] = { 10, 0, 0, 1 };
		struct weft_addr *a = &e[i].addr;

		memset(&e[i], 0, sizeof(e[i]));
		e[i].gen = 7 + i;
		if (v6) {
			memset(cli, 0, 16);
			memset(srv, 0, 16);
			cli[15] = 2;
			srv[15] = 1;
			srv[0] = cli[0] = 0xfd;
		}
		a->family = v6 ? AF_INET6 : AF_INET;
		/* pair 2: the client reaches a Service address (DNAT) */
		if (pair == 2 && !(i & 1))
			srv[3] = 10, srv[1] = 96;
		if (i & 1) {	/* server end */
			memcpy(a->saddr, srv, 16);
			memcpy(a->daddr, cli, 16);
			a->sport = 8080;
			a->dport = 40000 + pair;
			if (pair == 2)
				a->saddr[1] = 0, a->saddr[3] = 1;
		} else {
			memcpy(a->saddr, cli, 16);
			memcpy(a->daddr, srv, 16);
			a->sport = 40000 + pair;
			a->dport = pair == 2 ? 80 : 8080;
		}
		/* the client's sends are the server's receives */
		seqs[i][(i & 1) ^ WEFT_DIR_SEND] = 1000000u * (pair + 1);
		seqs[i][(i & 1) ^ WEFT_DIR_RECV] = 2000000u * (pair + 1);
	}
}

/* A record decoded by record_decode: what it says stays inside it. */
static void check_decoded(const struct record *r, const uint8_t *buf, size_t size)
{
	if (r->kind != REC_CHUNK)
		return;
	FUZZ_ASSERT(r->chunk.cap <= r->chunk.len);
	FUZZ_ASSERT(r->chunk.data >= buf &&
		    r->chunk.data + r->chunk.cap <= buf + size);
	FUZZ_ASSERT(r->chunk.tail_len <= WEFT_TAIL_LEN &&
		    r->chunk.tail_len <= r->chunk.len);
	FUZZ_ASSERT(r->chunk.tail >= buf &&
		    r->chunk.tail + r->chunk.tail_len <= buf + size);
	FUZZ_ASSERT(memchr(r->chunk.comm, '\0', sizeof(r->chunk.comm)));
}

/* The consumer loop of main.c, for one record of exactly size bytes. */
static void consume(struct pairing *p, const void *rec, size_t size)
{
	struct record r;

	switch (record_decode(rec, size, &r)) {
	case REC_CHUNK:
		check_decoded(&r, rec, size);
		pairing_chunk(p, &r.chunk);
		break;
	case REC_CLOSE:
		pairing_close(p, &r.end);
		break;
	case REC_EXEC:
		pairing_forget_pid(p, r.pid);
		break;
	case REC_GO_STREAM:
		pairing_go_stream(p, &r.gs);
		break;
	case REC_GO_H2_FIELDS:
		pairing_go_h2_fields(p, &r.gf);
		break;
	case REC_NONE:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t windows[4] = { 64, 600, 4096, WEFT_HDR_WINDOW_DEFAULT };
	static const enum ctx_format perm[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
		{ 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 },
	};
	struct fuzz_in in = { data, size };
	uint8_t o1 = fz_u8(&in), o2 = fz_u8(&in);
	struct sampler sampler;
	struct ctx_formats formats;
	struct pairing_opts o = { 0 };
	struct pairing_stats st;
	struct pairing *p;
	struct end ends[N_ENDS];
	uint32_t seqs[N_ENDS][2];
	uint64_t now = T0;

	n_spans = 0;
	ends_init(ends, seqs);
	sampler_init(&sampler, (enum sampler_kind)(o2 % 6), 0.5);
	formats.n = (o2 >> 3) % 4;
	memcpy(formats.first, perm[(o2 >> 5) % 6], sizeof(formats.first));
	o.hdr_window = windows[o1 & 3];
	o.is_go = o1 & 4 ? is_go : NULL;
	o.want_h2_fields = want_h2_fields;
	o.stop_conn = o1 & 32 ? stop_conn : NULL;	/* with some_processes */
	o.resource_of = o1 & 8 ? resource_of : NULL;
	o.link.mode = o1 & 16 ? LINK_DERIVED : LINK_HEADERS;
	o.link.some_processes = o1 & 32;
	o.link.keep_instrumented = o1 & 64;
	o.link.trace_telemetry = o1 & 128;
	o.link.g_parent = o2 & 1 ? g_parent : NULL;
	o.link.want_g_parents = want_g_parents;
	o.link.sampler = o2 & 2 ? &sampler : NULL;
	o.link.formats = o2 & 4 ? &formats : NULL;
	o.idle_timeout_ns = (uint64_t)(1 + (o2 & 7)) * 1000 * MS;
	p = pairing_new(&o, on_span, NULL);

	while (!fz_empty(&in)) {
		uint8_t op = fz_u8(&in);
		int e = (op >> 3) & 7, kind = op & 7;

		if (kind <= 3) {
			uint8_t b1 = fz_u8(&in), b2 = fz_u8(&in);
			size_t cap;
			const uint8_t *bytes = fz_bytes(&in, fz_u16(&in), &cap);
			uint8_t ex = fz_u8(&in), dt = fz_u8(&in);
			uint32_t extra = (uint32_t)(ex & 31) << ((ex >> 5) * 3);
			int dir = b2 & 1;
			uint32_t *seq = &seqs[e][dir];
			struct weft_data_rec *r = calloc(1, sizeof(*r) + cap);
			uint32_t len = (uint32_t)cap + extra;
			int pid_i = (b2 >> 1) & 3;

			FUZZ_ASSERT(r);
			if (b1 & 0x80)
				*seq += 0x10000u * dt;	/* bytes the kernel never saw */
			now += (uint64_t)dt * 50000;	/* 50 us steps */
			r->h.type = WEFT_REC_DATA;
			r->h.pid = pids[pid_i];
			r->h.tid = pids[pid_i] * 10 + ((b2 >> 3) & 3);
			r->h.cpu = 0;
			/* ring buffers of two CPUs interleave: a little back */
			r->h.ts_ns = dt == 255 ? now - 3 * MS : now;
			r->h.conn.sk = 0xffff880000001000ULL + e * 64;
			r->h.conn.gen = ends[e].gen;
			r->addr = ends[e].addr;
			r->g = (b2 >> 5) & 3 ? 0xc000000000ULL + ((b2 >> 5) & 3) * 0x100 : 0;
			r->origin_g = b2 & 0x80 ? 0xc000000100ULL : 0;
			r->seq = *seq;
			r->len = len;
			r->cap_len = (uint32_t)cap;
			r->flags = b1 & 31;
			/* dt 254: a connection taken up from the middle */
			if (dt == 254)
				r->flags |= WEFT_F_H2 | WEFT_F_H2_MID;
			r->dir = dir;
			r->role = (b1 >> 5) & 3;	/* 3: no such role */
			r->tail_len = len < WEFT_TAIL_LEN ? len : WEFT_TAIL_LEN;
			snprintf(r->comm, sizeof(r->comm), "fz%d", pid_i);
			/* the tail: the copy's last bytes when it is all there */
			if (!extra && cap)
				memcpy(r->tail + WEFT_TAIL_LEN - r->tail_len,
				       bytes + cap - r->tail_len, r->tail_len);
			if (r->tail_len < WEFT_TAIL_LEN)	/* tail[0..tail_len) */
				memmove(r->tail, r->tail + WEFT_TAIL_LEN - r->tail_len,
					r->tail_len);
			if (cap)
				memcpy(r->data, bytes, cap);
			*seq += len;
			consume(p, r, sizeof(*r) + cap);
			free(r);
		} else if (kind == 4) {
			struct weft_close_rec *r = calloc(1, sizeof(*r));
			uint8_t b = fz_u8(&in);

			FUZZ_ASSERT(r);
			now += (uint64_t)(b & 15) * MS;
			r->h.type = WEFT_REC_CLOSE;
			r->h.pid = pids[b >> 6];
			r->h.ts_ns = now;
			r->h.conn.sk = 0xffff880000001000ULL + e * 64;
			r->h.conn.gen = ends[e].gen;
			r->oldstate = b & 16 ? TCP_ESTABLISHED : TCP_LAST_ACK;
			consume(p, r, sizeof(*r));
			free(r);
			if (b & 32)	/* the socket address is used again */
				ends[e].gen += 100;
		} else if (kind == 5 && (op & 0x80)) {
			struct weft_go_stream_rec *r = calloc(1, sizeof(*r));
			uint8_t gb = fz_u8(&in), sid = fz_u8(&in);

			FUZZ_ASSERT(r);
			r->h.type = WEFT_REC_GO_STREAM;
			r->h.pid = pids[e & 3];
			r->h.ts_ns = now;
			r->g = 0xc000000000ULL + (gb & 7) * 0x100;
			r->reader_g = (gb >> 3) & 3 ? 0xc000000000ULL + ((gb >> 3) & 3) * 0x100 : 0;
			r->serve_g = (gb >> 5) & 3 ? 0xc000000000ULL + ((gb >> 5) & 3) * 0x100 : 0;
			r->stream_id = sid;
			consume(p, r, sizeof(*r));
			free(r);
		} else if (kind == 5) {
			struct weft_rec_head *r = calloc(1, sizeof(*r));

			FUZZ_ASSERT(r);
			r->type = WEFT_REC_EXEC;
			r->pid = pids[e & 3];
			r->ts_ns = now;
			consume(p, r, sizeof(*r));
			free(r);
		} else if (kind == 6) {
			uint16_t ms = fz_u16(&in);

			now += ms * MS;
			if (op & 0x80)
				pairing_sweep(p, now);
			else
				pairing_tick(p, now);
		} else {
			size_t n;
			const uint8_t *raw = fz_bytes(&in, fz_u16(&in) % 512, &n);
			uint8_t *copy = fz_memdup(raw, n);

			consume(p, copy, n);
			free(copy);
		}
	}
	pairing_tick(p, now + 1000 * MS);
	pairing_flush(p);
	pairing_get_stats(p, &st);
	FUZZ_ASSERT(st.conns_open == 0);
	FUZZ_ASSERT(st.spans == n_spans);
	if (getenv("WEFT_FUZZ_VERBOSE")) {
		struct link_stats ls;

		pairing_get_link_stats(p, &ls);
		fprintf(stderr, "records: %llu spans, %llu not HTTP, %llu orphan "
			"responses, %llu closed early, %llu wire links, %llu "
			"process links, %llu held\n",
			(unsigned long long)n_spans,
			(unsigned long long)st.framing.not_http,
			(unsigned long long)st.orphan_responses,
			(unsigned long long)st.closed_early,
			(unsigned long long)ls.wire_links,
			(unsigned long long)ls.process_links,
			(unsigned long long)ls.spans_held);
	}
	pairing_free(p);
	return 0;
}
