// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for HTTP/2 through the agent's stages (user/h2.c, hpack.c,
 * pairing.c, link.c, spanbuild.c): hand-made frame sequences, fed as the
 * chunks the kernel side forwards for a connection that started with the
 * client preface (every socket call, at most WEFT_DATA_MAX bytes of it
 * copied: cap <= len), split and cut in the ways real socket calls are,
 * and the spans that come out checked field by field. Each chunk's bytes
 * are an exact-size heap copy, so ASan sees a read past cap.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "weft.h"
#include "pairing.h"
#include "record.h"
#include "span.h"
#include "ids.h"
#include "procinfo.h"
#include "test.h"

#define T0	1000000000000ULL	/* a monotonic time: 1000 s after boot */
#define MS	1000000ULL
#define MAX_SPANS 2048

/* ---- span collection (as in test_pairing.c) ---- */

static struct span *spans[MAX_SPANS];
static int nspans;
static struct pairing *cur;

static void on_span(struct span *s, void *ctx)
{
	if (nspans < MAX_SPANS)
		spans[nspans++] = s;
	else
		span_free(s);
}

/* What pairing asked the kernel side to stop copying (opts.stop_conn). */
static struct weft_conn_key stops[8];
static int nstops;
static bool stop_table_full;

static struct weft_conn_key stop_done;
static int nstop_done;

static void record_stop_done(const struct weft_conn_key *k)
{
	stop_done = *k;
	nstop_done++;
}

static bool record_stop(const struct weft_conn_key *k)
{
	if (stop_table_full)
		return false;
	if (nstops < 8)
		stops[nstops] = *k;
	nstops++;
	return true;
}

static struct pairing *pairing_fresh(void)
{
	struct pairing_opts o = { .resource_of = procinfo_resource,
				  .stop_conn = record_stop,
				  .stop_conn_done = record_stop_done };

	if (cur)
		pairing_free(cur);
	for (int i = 0; i < nspans; i++)
		span_free(spans[i]);
	nspans = 0;
	cur = pairing_new(&o, on_span, NULL);
	return cur;
}

static struct h2_stats h2stats(void)
{
	struct pairing_stats s;

	pairing_get_stats(cur, &s);
	return s.h2;
}

static struct pairing_stats stats(void)
{
	struct pairing_stats s;

	pairing_get_stats(cur, &s);
	return s;
}

static const char *astr(const struct span *s, const char *k)
{
	const struct span_attr *a = span_find_attr(s, k);

	return a && a->type == SPAN_ATTR_STR ? a->str : NULL;
}

static long long aint(const struct span *s, const char *k)
{
	const struct span_attr *a = span_find_attr(s, k);

	return a && a->type == SPAN_ATTR_INT ? a->num : -1;
}

static const char *hex(const uint8_t *p, size_t n)
{
	static char buf[4][33];
	static int k;
	char *o = buf[k++ & 3];

	hex_encode(p, n, o);
	return o;
}

static uint64_t dur(const struct span *s)
{
	return s->end_unix_ns - s->start_unix_ns;
}

/* The span named by url.path (NULL when none). */
static struct span *span_by_path(const char *path)
{
	for (int i = 0; i < nspans; i++) {
		const char *p = astr(spans[i], "url.path");

		if (p && strcmp(p, path) == 0)
			return spans[i];
	}
	return NULL;
}

/* ---- one side of a connection, as the kernel side reports it ---- */

struct tconn {
	struct weft_conn_key key;
	enum weft_role role;
	struct weft_addr addr;
	uint32_t seq[2];	/* next TCP sequence number, by direction */
	uint32_t tid;
};

static void tc_init(struct tconn *t, uint64_t sk, enum weft_role role,
		    const char *lip, uint16_t lport, const char *rip,
		    uint16_t rport)
{
	memset(t, 0, sizeof(*t));
	t->key.sk = sk;
	t->key.gen = sk * 1000 + 7;
	t->role = role;
	t->addr.family = AF_INET;
	inet_pton(AF_INET, lip, t->addr.saddr);
	inet_pton(AF_INET, rip, t->addr.daddr);
	t->addr.sport = lport;
	t->addr.dport = rport;
	t->tid = getpid() + 1000 + (uint32_t)sk;
	t->seq[WEFT_DIR_SEND] = 1000000 + (uint32_t)sk * 7919;
	t->seq[WEFT_DIR_RECV] = 2000000 + (uint32_t)sk * 104729;
}

static void tc_server(struct tconn *t, uint64_t sk, uint16_t rport)
{
	tc_init(t, sk, WEFT_ROLE_SERVER, "10.0.0.1", 8080, "10.0.0.2", rport);
}

static void tc_client(struct tconn *t, uint64_t sk, uint16_t lport)
{
	tc_init(t, sk, WEFT_ROLE_CLIENT, "10.0.0.2", lport, "10.0.0.1", 8080);
}

static uint32_t io_flags;	/* WEFT_F_* of the chunks io() makes */
static uint64_t io_g;		/* Go: the goroutine making io()'s calls */

/* One socket call of len bytes of which the first cap were copied. */
static void io_cap(struct tconn *t, enum weft_dir dir, const uint8_t *p,
		   uint32_t len, uint32_t cap, uint64_t ts)
{
	struct chunk ck = {
		.conn = t->key, .dir = dir, .role = t->role, .addr = t->addr,
		.pid = (uint32_t)getpid(), .tid = t->tid, .comm = "test_h2",
		.ts_ns = ts, .seq = t->seq[dir], .len = len, .cap = cap,
		.flags = io_flags, .g = io_g,
	};
	uint8_t *copy = malloc(cap ? cap : 1);

	if (!copy)
		abort();
	memcpy(copy, p, cap);
	ck.data = copy;
	t->seq[dir] += len;
	pairing_chunk(cur, &ck);
	free(copy);
}

static void io(struct tconn *t, enum weft_dir dir, const void *p, size_t len,
	       uint64_t ts)
{
	io_cap(t, dir, p, (uint32_t)len, (uint32_t)len, ts);
}

static void conn_close(struct tconn *t, uint64_t ts, bool reset)
{
	struct conn_end e = { .conn = t->key, .ts_ns = ts, .reset = reset };

	pairing_close(cur, &e);
}

/* ---- frames and header blocks ---- */

struct buf {
	uint8_t b[1 << 17];
	size_t n;
};

static void put(struct buf *o, const void *p, size_t n)
{
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void frame(struct buf *o, uint8_t type, uint8_t flags, uint32_t sid,
		  const void *p, size_t n)
{
	uint8_t h[9] = { (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n,
			 type, flags, (uint8_t)(sid >> 24), (uint8_t)(sid >> 16),
			 (uint8_t)(sid >> 8), (uint8_t)sid };

	put(o, h, 9);
	if (n)
		put(o, p, n);
}

enum { DATA = 0, HEADERS = 1, RST = 3, SETTINGS = 4, PUSH = 5, PING = 6,
       GOAWAY = 7, WINUP = 8, CONT = 9 };
#define END_STREAM	0x01
#define END_HEADERS	0x04
#define PADDED		0x08
#define PRIORITY	0x20

/* An HPACK string or integer with a 7-bit prefix, plain (no Huffman). */
static void hp_int(struct buf *o, uint8_t first, int prefix, size_t v)
{
	size_t max = (1u << prefix) - 1;
	uint8_t b;

	if (v < max) {
		b = (uint8_t)(first | v);
		put(o, &b, 1);
		return;
	}
	b = (uint8_t)(first | max);
	put(o, &b, 1);
	v -= max;
	while (v >= 128) {
		b = (uint8_t)(v % 128 + 128);
		put(o, &b, 1);
		v /= 128;
	}
	b = (uint8_t)v;
	put(o, &b, 1);
}

static void hp_str(struct buf *o, const char *s)
{
	hp_int(o, 0, 7, strlen(s));
	put(o, s, strlen(s));
}

/* literal without indexing, new name */
static void lit(struct buf *o, const char *name, const char *value)
{
	hp_int(o, 0x00, 4, 0);
	hp_str(o, name);
	hp_str(o, value);
}

/* literal with incremental indexing, new name */
static void lit_add(struct buf *o, const char *name, const char *value)
{
	hp_int(o, 0x40, 6, 0);
	hp_str(o, name);
	hp_str(o, value);
}

/* indexed field */
static void ix(struct buf *o, size_t i)
{
	hp_int(o, 0x80, 7, i);
}

/* a request block: :method, :scheme http, :path, :authority, then extra */
static void req_block(struct buf *o, const char *method, const char *path)
{
	if (strcmp(method, "GET") == 0)
		ix(o, 2);
	else if (strcmp(method, "POST") == 0)
		ix(o, 3);
	else
		lit(o, ":method", method);
	ix(o, 6);
	lit(o, ":path", path);
	lit(o, ":authority", "svc:8080");
}

static void status_block(struct buf *o, const char *status)
{
	if (strcmp(status, "200") == 0)
		ix(o, 8);
	else
		lit(o, ":status", status);
}

static const uint8_t settings_srv[] = {	/* MAX_CONCURRENT_STREAMS 250 */
	0, 3, 0, 0, 0, 250, 0, 5, 0, 16, 0, 0,	/* MAX_FRAME_SIZE 1 MiB */
};

/* The client's opening: preface, SETTINGS, WINDOW_UPDATE. */
static void client_open(struct buf *o)
{
	static const uint8_t winup[4] = { 0, 0x3f, 0, 1 };

	put(o, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	frame(o, SETTINGS, 0, 0, NULL, 0);
	frame(o, WINUP, 0, 0, winup, 4);
}

/* Headers frame from a block (END_HEADERS), flags added. */
static void headers(struct buf *o, uint32_t sid, uint8_t flags,
		    const struct buf *blk)
{
	frame(o, HEADERS, (uint8_t)(flags | END_HEADERS), sid, blk->b, blk->n);
}

/* ---- tests ---- */

/* h2c from the client's side: one GET and its response. (A client
 * request with a traceparent weft did not make would be suppressed: the
 * process makes its own spans, link.c rule 3.) */
static bool test_h2_client_get(void)
{
	static struct buf o, b;
	struct tconn c;
	struct span *s;

	pairing_fresh();
	tc_client(&c, 1, 40001);
	o.n = 0;
	client_open(&o);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0);
	o.n = 0;
	frame(&o, SETTINGS, 0, 0, settings_srv, sizeof(settings_srv));
	frame(&o, SETTINGS, 1, 0, NULL, 0);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 1 * MS);

	b.n = 0;
	req_block(&b, "GET", "/hello?x=1");
	lit(&b, "user-agent", "Go-http-client/2.0");
	o.n = 0;
	headers(&o, 1, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 2 * MS);
	CHECK_INT(nspans, 0);

	b.n = 0;
	status_block(&b, "200");
	lit(&b, "content-type", "text/plain");
	o.n = 0;
	headers(&o, 1, 0, &b);
	frame(&o, DATA, 0, 1, "hello ", 6);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 3 * MS);
	CHECK_INT(nspans, 0);
	o.n = 0;
	frame(&o, DATA, END_STREAM, 1, "world", 5);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 5 * MS);

	CHECK_INT(nspans, 1);
	s = spans[0];
	CHECK_INT(s->kind, SPAN_KIND_CLIENT);
	CHECK_STR(s->name, "GET");
	CHECK_STR(astr(s, "http.request.method"), "GET");
	CHECK_STR(astr(s, "url.path"), "/hello");
	CHECK_STR(astr(s, "url.query"), "x=1");
	CHECK_STR(astr(s, "url.full"), "http://svc:8080/hello?x=1");
	CHECK_STR(astr(s, "server.address"), "svc");
	CHECK_INT(aint(s, "server.port"), 8080);
	CHECK_INT(aint(s, "http.response.status_code"), 200);
	CHECK_STR(astr(s, "network.protocol.version"), "2");
	CHECK_STR(astr(s, "user_agent.original"), "Go-http-client/2.0");
	CHECK(!s->has_parent);
	CHECK_INT(s->status, SPAN_STATUS_UNSET);
	CHECK_INT(dur(s), 3 * MS);
	CHECK(s->res);
	CHECK_INT(h2stats().conns, 1);
	CHECK_INT(h2stats().streams, 1);
	CHECK_INT(stats().framing.not_http, 0);
	return true;
}

/*
 * The server's side: its SETTINGS go out before the client preface comes
 * in; two streams at once, their responses in the other order; the second
 * request refers to fields the first put in the dynamic table (so both
 * blocks must be decoded in order, whatever happens to the streams).
 */
static bool test_h2_server_concurrent_b3(void)
{
	static struct buf o, b;
	struct tconn c;
	struct span *s1, *s3;

	pairing_fresh();
	tc_server(&c, 2, 50001);
	o.n = 0;
	frame(&o, SETTINGS, 0, 0, settings_srv, sizeof(settings_srv));
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0);
	o.n = 0;
	client_open(&o);
	b.n = 0;
	req_block(&b, "GET", "/one");
	lit_add(&b, "x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124");
	lit(&b, "x-b3-spanid", "a2fb4a1d1a96d312");
	lit_add(&b, "x-b3-sampled", "1");
	headers(&o, 1, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 1 * MS);
	o.n = 0;
	b.n = 0;
	req_block(&b, "GET", "/three");
	ix(&b, 63);		/* x-b3-traceid, one entry back */
	lit(&b, "x-b3-spanid", "0020000000000001");
	ix(&b, 62);		/* x-b3-sampled, the newest */
	headers(&o, 3, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 2 * MS);

	o.n = 0;
	b.n = 0;
	status_block(&b, "404");
	headers(&o, 3, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 4 * MS);
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 1, 0, &b);
	frame(&o, DATA, END_STREAM, 1, "ok", 2);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 7 * MS);

	CHECK_INT(nspans, 2);
	s1 = span_by_path("/one");
	s3 = span_by_path("/three");
	CHECK(s1 && s3);
	CHECK_INT(s1->kind, SPAN_KIND_SERVER);
	CHECK_INT(aint(s1, "http.response.status_code"), 200);
	CHECK_INT(aint(s3, "http.response.status_code"), 404);
	CHECK_STR(astr(s1, "url.scheme"), "http");
	CHECK_STR(astr(s1, "client.address"), "10.0.0.2");
	CHECK_STR(hex(s1->trace_id, 16), "463ac35c9f6413ad48485a3953bb6124");
	CHECK_STR(hex(s1->parent_span_id, 8), "a2fb4a1d1a96d312");
	CHECK_STR(hex(s3->trace_id, 16), "463ac35c9f6413ad48485a3953bb6124");
	CHECK_STR(hex(s3->parent_span_id, 8), "0020000000000001");
	CHECK(s1->sampled && s3->sampled);
	CHECK_INT(dur(s1), 6 * MS);
	CHECK_INT(dur(s3), 2 * MS);
	CHECK_INT(s3->status, SPAN_STATUS_UNSET);	/* 4xx: not a server error */
	CHECK_INT(h2stats().hpack_errors, 0);
	return true;
}

/* gRPC: path /package.Service/Method, status from the trailers. */
static bool grpc_call(struct tconn *c, uint32_t sid, const char *method,
		      const char *grpc_status, bool trailers_only, uint64_t t)
{
	static struct buf o, b;
	static const uint8_t msg[] = { 0, 0, 0, 0, 2, 0x0a, 0x00 };
	enum weft_dir rq = c->role == WEFT_ROLE_CLIENT ? WEFT_DIR_SEND : WEFT_DIR_RECV;
	enum weft_dir rs = rq == WEFT_DIR_SEND ? WEFT_DIR_RECV : WEFT_DIR_SEND;
	char path[128];

	snprintf(path, sizeof(path), "/demo.v1.Greeter/%s", method);
	o.n = 0;
	b.n = 0;
	req_block(&b, "POST", path);
	lit(&b, "content-type", "application/grpc+proto");
	lit(&b, "te", "trailers");
	if (c->role == WEFT_ROLE_SERVER)
		lit(&b, "b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1");
	headers(&o, sid, 0, &b);
	frame(&o, DATA, END_STREAM, sid, msg, sizeof(msg));
	io(c, rq, o.b, o.n, t);
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	lit(&b, "content-type", "application/grpc");
	if (trailers_only) {
		lit(&b, "grpc-status", grpc_status);
		lit(&b, "grpc-message", "no%20such thing%E2%9C%93%0a");
		headers(&o, sid, END_STREAM, &b);
	} else {
		headers(&o, sid, 0, &b);
		frame(&o, DATA, 0, sid, msg, sizeof(msg));
		b.n = 0;
		lit(&b, "grpc-status", grpc_status);
		headers(&o, sid, END_STREAM, &b);
	}
	io(c, rs, o.b, o.n, t + 1 * MS);
	return true;
}

static bool test_h2_grpc(void)
{
	static struct buf o;
	struct tconn srv, cli;
	struct span *s;

	pairing_fresh();
	tc_server(&srv, 3, 50002);
	o.n = 0;
	client_open(&o);
	io(&srv, WEFT_DIR_RECV, o.b, o.n, T0);
	grpc_call(&srv, 1, "SayHello", "0", false, T0 + 1 * MS);
	grpc_call(&srv, 3, "Fail", "13", false, T0 + 3 * MS);
	grpc_call(&srv, 5, "Find", "5", true, T0 + 5 * MS);
	CHECK_INT(nspans, 3);

	s = spans[0];
	CHECK_STR(s->name, "demo.v1.Greeter/SayHello");
	CHECK_STR(astr(s, "rpc.system"), "grpc");
	CHECK_STR(astr(s, "rpc.service"), "demo.v1.Greeter");
	CHECK_STR(astr(s, "rpc.method"), "SayHello");
	CHECK_INT(aint(s, "rpc.grpc.status_code"), 0);
	CHECK_STR(astr(s, "http.request.method"), "POST");
	CHECK_STR(astr(s, "url.path"), "/demo.v1.Greeter/SayHello");
	CHECK_INT(aint(s, "http.response.status_code"), 200);
	CHECK_STR(astr(s, "network.protocol.version"), "2");
	CHECK_STR(hex(s->trace_id, 16), "80f198ee56343ba864fe8b2a57d3eff7");
	CHECK_STR(hex(s->parent_span_id, 8), "e457b5a2e4d86bd1");
	CHECK_INT(s->status, SPAN_STATUS_UNSET);
	CHECK_INT(dur(s), 1 * MS);

	s = spans[1];		/* INTERNAL: the server's error */
	CHECK_INT(aint(s, "rpc.grpc.status_code"), 13);
	CHECK_INT(s->status, SPAN_STATUS_ERROR);
	CHECK_STR(astr(s, "error.type"), "13");

	s = spans[2];		/* NOT_FOUND, trailers-only: not the server's */
	CHECK_INT(aint(s, "rpc.grpc.status_code"), 5);
	CHECK_INT(s->status, SPAN_STATUS_UNSET);
	CHECK(!astr(s, "error.type"));

	/* on the client's side every non-OK code is an error */
	tc_client(&cli, 4, 40004);
	o.n = 0;
	client_open(&o);
	io(&cli, WEFT_DIR_SEND, o.b, o.n, T0 + 10 * MS);
	grpc_call(&cli, 1, "Find", "5", true, T0 + 11 * MS);
	CHECK_INT(nspans, 4);
	s = spans[3];
	CHECK_INT(s->kind, SPAN_KIND_CLIENT);
	CHECK_INT(s->status, SPAN_STATUS_ERROR);
	CHECK_STR(s->status_message, "no such thing\xe2\x9c\x93?");
	CHECK_STR(astr(s, "error.type"), "5");
	return true;
}

/* The whole conversation of test_h2_client_get as one byte stream per
 * direction, fed in pieces of every size from 1 up: same span. */
static bool test_h2_split_chunks(void)
{
	static struct buf up, down, b;

	up.n = down.n = 0;
	client_open(&up);
	b.n = 0;
	req_block(&b, "GET", "/split");
	lit_add(&b, "traceparent",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	headers(&up, 1, END_STREAM, &b);
	b.n = 0;
	req_block(&b, "GET", "/split2");
	ix(&b, 62);
	headers(&up, 3, END_STREAM, &b);
	frame(&down, SETTINGS, 0, 0, settings_srv, sizeof(settings_srv));
	b.n = 0;
	status_block(&b, "200");
	headers(&down, 1, 0, &b);
	frame(&down, DATA, END_STREAM, 1, "0123456789", 10);
	b.n = 0;
	status_block(&b, "201");
	headers(&down, 3, END_STREAM, &b);

	for (size_t step = 1; step <= 40; step++) {
		struct tconn c;
		uint64_t t = T0;

		pairing_fresh();
		tc_server(&c, 5, 40005);
		for (size_t i = 0; i < up.n; i += step)
			io(&c, WEFT_DIR_RECV, up.b + i,
			   i + step <= up.n ? step : up.n - i, t += 1000);
		for (size_t i = 0; i < down.n; i += step)
			io(&c, WEFT_DIR_SEND, down.b + i,
			   i + step <= down.n ? step : down.n - i, t += 1000);
		if (nspans != 2)
			fprintf(stderr, "  step %zu\n", step);
		CHECK_INT(nspans, 2);
		CHECK_STR(astr(spans[0], "url.path"), "/split");
		CHECK_INT(aint(spans[0], "http.response.status_code"), 200);
		CHECK_STR(hex(spans[0]->trace_id, 16), "0af7651916cd43dd8448eb211c80319c");
		CHECK_STR(astr(spans[1], "url.path"), "/split2");
		CHECK_INT(aint(spans[1], "http.response.status_code"), 201);
		CHECK_STR(hex(spans[1]->trace_id, 16), "0af7651916cd43dd8448eb211c80319c");
		CHECK_INT(h2stats().sync_lost, 0);
	}
	return true;
}

/* Padding, priority and CONTINUATION: the block is what is left. */
static bool test_h2_padding_continuation(void)
{
	static struct buf o, b, p;
	struct tconn c;
	size_t half;

	pairing_fresh();
	tc_server(&c, 6, 50006);
	o.n = 0;
	client_open(&o);
	b.n = 0;
	req_block(&b, "DELETE", "/items/7");
	lit(&b, "x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124");
	lit(&b, "x-b3-spanid", "a2fb4a1d1a96d312");
	half = b.n / 2;
	/* HEADERS: pad length 3, priority (5 bytes), half the block, padding */
	p.n = 0;
	put(&p, "\x03", 1);
	put(&p, "\x00\x00\x00\x00\x10", 5);
	put(&p, b.b, half);
	put(&p, "\0\0\0", 3);
	frame(&o, HEADERS, PADDED | PRIORITY | END_STREAM, 1, p.b, p.n);
	frame(&o, CONT, END_HEADERS, 1, b.b + half, b.n - half);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0);
	o.n = 0;
	p.n = 0;
	put(&p, "\x02", 1);
	ix(&p, 9);		/* :status 204 */
	put(&p, "\0\0", 2);
	frame(&o, HEADERS, PADDED | END_HEADERS | END_STREAM, 1, p.b, p.n);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 2 * MS);
	CHECK_INT(nspans, 1);
	CHECK_STR(astr(spans[0], "http.request.method"), "DELETE");
	CHECK_STR(astr(spans[0], "url.path"), "/items/7");
	CHECK_INT(aint(spans[0], "http.response.status_code"), 204);
	CHECK_STR(hex(spans[0]->parent_span_id, 8), "a2fb4a1d1a96d312");
	return true;
}

/* A big DATA write of which only the first 16 KiB were copied: its length
 * is followed through the uncopied bytes, the next frames are read. */
static bool test_h2_uncaptured_data(void)
{
	static struct buf o, b;
	static uint8_t body[40000];
	struct tconn c;

	pairing_fresh();
	tc_server(&c, 7, 50007);
	o.n = 0;
	client_open(&o);
	b.n = 0;
	req_block(&b, "PUT", "/upload");
	headers(&o, 1, 0, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0);
	o.n = 0;
	frame(&o, DATA, END_STREAM, 1, body, 35000);
	/* one read of 35009 bytes, the first WEFT_DATA_MAX copied */
	io_cap(&c, WEFT_DIR_RECV, o.b, (uint32_t)o.n, WEFT_DATA_MAX, T0 + 1 * MS);
	o.n = 0;
	b.n = 0;
	req_block(&b, "GET", "/next");
	headers(&o, 3, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 2 * MS);
	/* a response of two DATA frames in one write, the second's payload
	 * only partly copied; then the other response */
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 3, 0, &b);
	frame(&o, DATA, 0, 3, body, 16000);
	frame(&o, DATA, END_STREAM, 3, body, 4000);
	io_cap(&c, WEFT_DIR_SEND, o.b, (uint32_t)o.n, WEFT_DATA_MAX, T0 + 3 * MS);
	o.n = 0;
	b.n = 0;
	status_block(&b, "201");
	headers(&o, 1, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 4 * MS);
	CHECK_INT(nspans, 2);
	CHECK_STR(astr(spans[0], "url.path"), "/next");
	CHECK_INT(dur(spans[0]), 1 * MS);
	CHECK_STR(astr(spans[1], "url.path"), "/upload");
	CHECK_INT(aint(spans[1], "http.response.status_code"), 201);
	CHECK_INT(h2stats().sync_lost, 0);
	return true;
}

/* A frame header in bytes that were not copied: sync is lost, the open
 * streams are dropped (counted), the rest of the connection ignored. */
static bool test_h2_sync_lost(void)
{
	static struct buf o, b;
	static uint8_t body[20000];
	struct tconn c;

	pairing_fresh();
	tc_server(&c, 8, 50008);
	o.n = 0;
	client_open(&o);
	b.n = 0;
	req_block(&b, "GET", "/a");
	headers(&o, 1, END_STREAM, &b);
	b.n = 0;
	req_block(&b, "GET", "/b");
	headers(&o, 3, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0);
	/* response HEADERS and two DATA frames in one write: the second
	 * frame's header lies past the 16 KiB copied */
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 1, 0, &b);
	frame(&o, DATA, 0, 1, body, 16370);
	frame(&o, DATA, END_STREAM, 1, body, 4000);
	io_cap(&c, WEFT_DIR_SEND, o.b, (uint32_t)o.n, WEFT_DATA_MAX, T0 + 1 * MS);
	CHECK_INT(nspans, 0);
	CHECK_INT(h2stats().sync_lost, 1);
	CHECK_INT(h2stats().streams_lost, 2);
	/* what follows is ignored, the close reports nothing more */
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 3, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 2 * MS);
	conn_close(&c, T0 + 3 * MS, false);
	CHECK_INT(nspans, 0);
	CHECK_INT(stats().conns_open, 0);

	/* a frame longer than the receiver allows is out of step too */
	tc_server(&c, 9, 50009);
	o.n = 0;
	frame(&o, SETTINGS, 0, 0, NULL, 0);	/* server: 16 KiB frames */
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 4 * MS);
	o.n = 0;
	client_open(&o);
	frame(&o, DATA, 0, 1, body, 16385);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 5 * MS);
	CHECK_INT(h2stats().sync_lost, 2);
	return true;
}

/* An idle HTTP/2 connection outlives the idle timeout (its HPACK tables
 * could not be had again), up to twelve of them. */
static bool test_h2_idle(void)
{
	static struct buf o, b;
	struct pairing_opts opts = { .resource_of = procinfo_resource,
				     .idle_timeout_ns = 300000 * MS };
	struct tconn c;

	pairing_fresh();
	pairing_free(cur);
	cur = pairing_new(&opts, on_span, NULL);
	tc_server(&c, 27, 50027);
	o.n = 0;
	client_open(&o);
	b.n = 0;
	req_block(&b, "GET", "/a");
	lit_add(&b, "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	headers(&o, 1, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0);
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 1, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 1 * MS);
	pairing_sweep(cur, T0 + 600000 * MS);		/* ten minutes later */
	CHECK_INT(stats().conns_open, 1);
	o.n = 0;
	b.n = 0;
	req_block(&b, "GET", "/b");
	ix(&b, 62);		/* the traceparent of ten minutes ago */
	headers(&o, 3, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 600001 * MS);
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 3, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 600002 * MS);
	CHECK_INT(nspans, 2);
	CHECK_STR(hex(spans[1]->trace_id, 16), "0af7651916cd43dd8448eb211c80319c");
	pairing_sweep(cur, T0 + 4300000 * MS);		/* over an hour idle */
	CHECK_INT(stats().conns_open, 0);
	return true;
}

/* A chunk missing (records lost to a full ring buffer: the TCP sequence
 * numbers jump) loses sync at once, before its successor is misread. TLS
 * plaintext carries the ciphertext's numbers: no check there. */
static bool test_h2_seq_gap(void)
{
	static struct buf o, b;
	struct tconn c;

	pairing_fresh();
	tc_server(&c, 25, 50025);
	o.n = 0;
	client_open(&o);
	b.n = 0;
	req_block(&b, "POST", "/gap");
	headers(&o, 1, 0, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0);
	c.seq[WEFT_DIR_RECV] += 1000;		/* a record never came */
	o.n = 0;
	frame(&o, DATA, END_STREAM, 1, "x", 1);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 1 * MS);
	CHECK_INT(h2stats().sync_lost, 1);
	CHECK_INT(h2stats().seq_gaps, 1);
	CHECK_INT(h2stats().streams_lost, 1);

	/* TLS plaintext: sequence numbers of the ciphertext, not checked */
	io_flags = WEFT_F_TLS;
	tc_server(&c, 26, 50026);
	o.n = 0;
	client_open(&o);
	b.n = 0;
	req_block(&b, "POST", "/tls");
	headers(&o, 1, 0, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 2 * MS);
	c.seq[WEFT_DIR_RECV] += 29;		/* record overhead, say */
	o.n = 0;
	frame(&o, DATA, END_STREAM, 1, "x", 1);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 3 * MS);
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 1, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 4 * MS);
	io_flags = 0;
	CHECK_INT(h2stats().sync_lost, 1);
	CHECK_INT(nspans, 1);
	CHECK_STR(astr(spans[0], "url.path"), "/tls");
	return true;
}

/* A malformed header block poisons that direction's decoder: counted; the
 * streams it would have opened are not followed. */
static bool test_h2_hpack_error(void)
{
	static struct buf o, b;
	struct tconn c;

	pairing_fresh();
	tc_server(&c, 10, 50010);
	o.n = 0;
	client_open(&o);
	b.n = 0;
	req_block(&b, "GET", "/fine");
	headers(&o, 1, END_STREAM, &b);
	b.n = 0;
	ix(&b, 70);		/* no such entry */
	headers(&o, 3, END_STREAM, &b);
	b.n = 0;
	req_block(&b, "GET", "/after");
	headers(&o, 5, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0);
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 1, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 1 * MS);
	CHECK_INT(nspans, 1);
	CHECK_STR(astr(spans[0], "url.path"), "/fine");
	CHECK_INT(h2stats().hpack_errors, 1);
	CHECK_INT(h2stats().blocks_undecoded, 2);
	CHECK_INT(h2stats().streams, 1);

	/* a response decoder poisoned: the stream still ends, no status */
	tc_server(&c, 11, 50011);
	o.n = 0;
	client_open(&o);
	b.n = 0;
	req_block(&b, "GET", "/blind");
	headers(&o, 1, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 2 * MS);
	o.n = 0;
	frame(&o, HEADERS, END_HEADERS | END_STREAM, 1, "\xff", 1);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 3 * MS);
	CHECK_INT(nspans, 2);
	CHECK_STR(astr(spans[1], "url.path"), "/blind");
	CHECK_INT(aint(spans[1], "http.response.status_code"), -1);
	CHECK_INT(h2stats().hpack_errors, 2);
	return true;
}

/* At most H2_MAX_STREAMS open streams per connection: the rest refused. */
static bool test_h2_stream_limit(void)
{
	static struct buf o, b;
	struct tconn c;

	pairing_fresh();
	tc_server(&c, 12, 50012);
	o.n = 0;
	client_open(&o);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0);
	for (uint32_t i = 0; i < H2_MAX_STREAMS + 5; i++) {
		o.n = 0;
		b.n = 0;
		req_block(&b, "GET", "/many");
		headers(&o, 2 * i + 1, END_STREAM, &b);
		io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + i);
	}
	CHECK_INT(h2stats().streams, H2_MAX_STREAMS);
	CHECK_INT(h2stats().streams_refused, 5);
	/* the first answered, then the connection closes on the rest */
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 1, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 2 * MS);
	CHECK_INT(nspans, 1);
	conn_close(&c, T0 + 3 * MS, true);
	CHECK_INT(nspans, H2_MAX_STREAMS);
	CHECK_INT(spans[1]->status, SPAN_STATUS_ERROR);
	CHECK_STR(astr(spans[1], "error.type"), "connection_reset");
	CHECK_INT(stats().closed_early, H2_MAX_STREAMS - 1);
	return true;
}

/* RST_STREAM ends a stream in error; GOAWAY drops what was never
 * processed; the idle sweep and exit count what is left. */
static bool test_h2_reset_goaway(void)
{
	static struct buf o, b;
	static const uint8_t cancel[4] = { 0, 0, 0, 8 };
	static const uint8_t goaway[8] = { 0, 0, 0, 3, 0, 0, 0, 0 };
	struct tconn c;

	pairing_fresh();
	tc_client(&c, 13, 40013);
	o.n = 0;
	client_open(&o);
	for (uint32_t sid = 1; sid <= 7; sid += 2) {
		b.n = 0;
		req_block(&b, "GET", sid == 1 ? "/cancelled" : "/other");
		headers(&o, sid, END_STREAM, &b);
	}
	frame(&o, RST, 0, 1, cancel, 4);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0);
	CHECK_INT(nspans, 1);
	CHECK_STR(astr(spans[0], "url.path"), "/cancelled");
	CHECK_INT(spans[0]->status, SPAN_STATUS_ERROR);
	CHECK_STR(astr(spans[0], "error.type"), "stream_reset");
	CHECK_INT(h2stats().streams_reset, 1);
	o.n = 0;
	frame(&o, GOAWAY, 0, 0, goaway, 8);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 1 * MS);
	CHECK_INT(h2stats().goaway_dropped, 2);	/* 5 and 7 */
	CHECK_INT(nspans, 1);
	pairing_flush(cur);
	CHECK_INT(stats().incomplete_at_exit, 1);	/* 3 */
	return true;
}

/* Both ends on this node: the server span is the client span's child,
 * matched by the HEADERS frame's sequence number (link.c rule 2). */
static bool test_h2_link_wire(void)
{
	static struct buf o, b;
	struct tconn cli, srv;

	pairing_fresh();
	tc_client(&cli, 14, 40014);
	tc_server(&srv, 15, 40014);
	srv.seq[WEFT_DIR_RECV] = cli.seq[WEFT_DIR_SEND];
	cli.seq[WEFT_DIR_RECV] = srv.seq[WEFT_DIR_SEND];
	o.n = 0;
	client_open(&o);
	b.n = 0;
	req_block(&b, "GET", "/w");
	headers(&o, 1, END_STREAM, &b);
	io(&cli, WEFT_DIR_SEND, o.b, o.n, T0);
	io(&srv, WEFT_DIR_RECV, o.b, o.n, T0 + 1 * MS);
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 1, END_STREAM, &b);
	io(&srv, WEFT_DIR_SEND, o.b, o.n, T0 + 2 * MS);
	io(&cli, WEFT_DIR_RECV, o.b, o.n, T0 + 3 * MS);
	CHECK_INT(nspans, 2);
	CHECK_INT(spans[0]->kind, SPAN_KIND_SERVER);
	CHECK_INT(spans[1]->kind, SPAN_KIND_CLIENT);
	CHECK(memcmp(spans[0]->trace_id, spans[1]->trace_id, 16) == 0);
	CHECK(spans[0]->has_parent);
	CHECK(memcmp(spans[0]->parent_span_id, spans[1]->span_id, 8) == 0);
	return true;
}

/*
 * What changes a decoder's table without making a span must still be
 * decoded in order: a PUSH_PROMISE's block (response direction), a
 * SETTINGS_HEADER_TABLE_SIZE that lets the client's encoder grow its
 * table, request trailers (not a new request), an interim 103.
 */
static bool test_h2_table_changes(void)
{
	static struct buf o, b, p;
	static const uint8_t table_8k[] = { 0, 1, 0, 0, 0x20, 0 };
	struct tconn c;

	pairing_fresh();
	tc_server(&c, 19, 50019);
	o.n = 0;
	frame(&o, SETTINGS, 0, 0, table_8k, sizeof(table_8k));
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0);
	o.n = 0;
	client_open(&o);
	b.n = 0;
	hp_int(&b, 0x20, 5, 8192);	/* the client's encoder takes 8 KiB */
	req_block(&b, "POST", "/up");
	lit_add(&b, "x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124");
	lit(&b, "x-b3-spanid", "a2fb4a1d1a96d312");
	headers(&o, 1, 0, &b);
	frame(&o, DATA, 0, 1, "abc", 3);
	b.n = 0;
	lit(&b, "x-checksum", "1234");
	headers(&o, 1, END_STREAM, &b);		/* request trailers */
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 1 * MS);
	o.n = 0;
	b.n = 0;
	lit(&b, ":status", "103");
	headers(&o, 1, 0, &b);
	/* a push: promised stream 2, its block adds to the server's table */
	p.n = 0;
	put(&p, "\0\0\0\2", 4);
	ix(&p, 2);
	lit_add(&p, ":path", "/style.css");
	frame(&o, PUSH, END_HEADERS, 1, p.b, p.n);
	b.n = 0;
	status_block(&b, "200");
	ix(&b, 62);			/* the pushed :path: decodes only in order */
	headers(&o, 1, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 3 * MS);
	CHECK_INT(nspans, 1);
	CHECK_STR(astr(spans[0], "url.path"), "/up");
	CHECK_INT(aint(spans[0], "http.response.status_code"), 200);
	CHECK_STR(hex(spans[0]->parent_span_id, 8), "a2fb4a1d1a96d312");
	CHECK_INT(h2stats().hpack_errors, 0);
	CHECK_INT(h2stats().bad_requests, 0);
	CHECK_INT(h2stats().streams, 1);

	/* the same 8 KiB update without the server's SETTINGS is malformed */
	tc_server(&c, 20, 50020);
	o.n = 0;
	client_open(&o);
	b.n = 0;
	hp_int(&b, 0x20, 5, 8192);
	req_block(&b, "GET", "/x");
	headers(&o, 1, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 4 * MS);
	CHECK_INT(h2stats().hpack_errors, 1);
	CHECK_INT(h2stats().streams, 1);
	return true;
}

/*
 * Upgrade: h2c. The upgraded request is the 101 span (its response comes
 * on stream 1, which h2.c never saw open); the server's SETTINGS right
 * after the 101 are held until the client's preface; later streams are
 * HTTP/2 spans. A WebSocket upgrade stays what it was.
 */
static bool test_h2_upgrade(void)
{
	static const char up[] = "GET /first HTTP/1.1\r\nHost: svc\r\n"
		"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
		"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n";
	static const char sw[] = "HTTP/1.1 101 Switching Protocols\r\n"
		"Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
	static const char ws[] = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
	static const char ws_ok[] = "HTTP/1.1 101 Switching Protocols\r\n"
		"Upgrade: websocket\r\n\r\n";
	static struct buf o, b;
	struct tconn c;

	pairing_fresh();
	tc_server(&c, 23, 50023);
	io(&c, WEFT_DIR_RECV, up, strlen(up), T0);
	io(&c, WEFT_DIR_SEND, sw, strlen(sw), T0 + 1 * MS);
	CHECK_INT(nspans, 1);
	CHECK_INT(aint(spans[0], "http.response.status_code"), 101);
	o.n = 0;
	frame(&o, SETTINGS, 0, 0, settings_srv, sizeof(settings_srv));
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 2 * MS);
	o.n = 0;
	client_open(&o);
	b.n = 0;
	req_block(&b, "GET", "/second");
	headers(&o, 3, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 3 * MS);
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 1, END_STREAM, &b);		/* the upgraded request's */
	b.n = 0;
	status_block(&b, "404");
	headers(&o, 3, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 5 * MS);
	CHECK_INT(nspans, 2);
	CHECK_STR(astr(spans[1], "url.path"), "/second");
	CHECK_INT(aint(spans[1], "http.response.status_code"), 404);
	CHECK_STR(astr(spans[1], "network.protocol.version"), "2");
	CHECK_INT(dur(spans[1]), 2 * MS);
	CHECK_INT(h2stats().conns, 1);
	CHECK_INT(h2stats().sync_lost, 0);

	/* WebSocket: the bytes after the 101 are no preface */
	tc_server(&c, 24, 50024);
	io(&c, WEFT_DIR_RECV, ws, strlen(ws), T0 + 6 * MS);
	io(&c, WEFT_DIR_SEND, ws_ok, strlen(ws_ok), T0 + 7 * MS);
	io(&c, WEFT_DIR_RECV, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11, T0 + 8 * MS);
	io(&c, WEFT_DIR_RECV, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24, T0 + 9 * MS);
	CHECK_INT(nspans, 3);
	CHECK_INT(h2stats().conns, 1);
	return true;
}

/* Not HTTP/2: an HTTP/1 connection is untouched; a preface that goes
 * wrong after its first bytes loses the connection, counted. */
static bool test_h2_not_h2(void)
{
	static const char get[] = "GET /h1 HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct tconn c;

	pairing_fresh();
	tc_server(&c, 16, 50016);
	io(&c, WEFT_DIR_RECV, get, strlen(get), T0);
	io(&c, WEFT_DIR_SEND, ok, strlen(ok), T0 + 1 * MS);
	CHECK_INT(nspans, 1);
	CHECK_STR(astr(spans[0], "network.protocol.version"), "1.1");
	CHECK_INT(h2stats().conns, 0);

	/* the preface's first read looks right, the next does not */
	tc_server(&c, 17, 50017);
	io(&c, WEFT_DIR_RECV, "PRI * HTTP/2.0\r\n", 16, T0 + 2 * MS);
	io(&c, WEFT_DIR_RECV, "\r\nXX\r\n\r\n", 8, T0 + 3 * MS);
	CHECK_INT(h2stats().conns, 1);
	CHECK_INT(h2stats().sync_lost, 1);
	/* a preface wrong within the first read is not HTTP/2 at all */
	tc_server(&c, 18, 50018);
	io(&c, WEFT_DIR_RECV, "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", 24, T0 + 4 * MS);
	CHECK_INT(h2stats().conns, 1);
	return true;
}

/* Agent CPU time per stream (frames, HPACK, pairing, linking, span), next
 * to an HTTP/1.1 exchange with the same fields: printed, not judged. The
 * thread's CPU clock, so other work on the machine counts less. */
static double ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static bool test_h2_cost_per_stream(void)
{
	static struct buf o, b;
	const int n = getenv("WEFT_H2_COST_N") ? atoi(getenv("WEFT_H2_COST_N")) : 20000;
	struct tconn c;
	double t0, h2ns, h1ns;
	char tp[64], req[512];

	pairing_fresh();
	tc_server(&c, 21, 50021);
	o.n = 0;
	client_open(&o);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0);
	t0 = ns_now();
	for (int i = 0; i < n; i++) {
		uint32_t sid = 2 * (uint32_t)i + 1;

		snprintf(tp, sizeof(tp), "00-0af7651916cd43dd8448eb211c8%05d-b7ad6b7169203331-01", i % 100000);
		o.n = 0;
		b.n = 0;
		req_block(&b, "GET", "/api/items");
		lit(&b, "user-agent", "Go-http-client/2.0");
		lit_add(&b, "traceparent", tp);
		headers(&o, sid, END_STREAM, &b);
		io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + (uint64_t)i * 1000);
		o.n = 0;
		b.n = 0;
		status_block(&b, "200");
		lit(&b, "content-type", "text/plain");
		headers(&o, sid, 0, &b);
		frame(&o, DATA, END_STREAM, sid, "hello", 5);
		io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + (uint64_t)i * 1000 + 500);
	}
	h2ns = (ns_now() - t0) / n;
	CHECK_INT(h2stats().streams, n);

	pairing_fresh();
	tc_server(&c, 22, 50022);
	t0 = ns_now();
	for (int i = 0; i < n; i++) {
		static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
					 "Content-Length: 5\r\n\r\nhello";
		int k = snprintf(req, sizeof(req), "GET /api/items HTTP/1.1\r\nHost: svc:8080\r\n"
				 "User-Agent: Go-http-client/1.1\r\ntraceparent: "
				 "00-0af7651916cd43dd8448eb211c8%05d-b7ad6b7169203331-01\r\n\r\n",
				 i % 100000);

		io(&c, WEFT_DIR_RECV, req, (size_t)k, T0 + (uint64_t)i * 1000);
		io(&c, WEFT_DIR_SEND, ok, sizeof(ok) - 1, T0 + (uint64_t)i * 1000 + 500);
	}
	h1ns = (ns_now() - t0) / n;
	CHECK_INT(stats().spans, n);
	printf("     HTTP/2 stream %.0f ns, HTTP/1.1 exchange %.0f ns (agent, one server span each)\n",
	       h2ns, h1ns);
	return true;
}

/* ---- Go servers: handler goroutines tied to their streams ---- */

static bool all_go(uint32_t pid)
{
	(void)pid;
	return true;
}

static struct span *span_of_kind(const char *path, enum span_kind kind)
{
	for (int i = 0; i < nspans; i++)
		if (spans[i]->kind == kind && astr(spans[i], "url.path") &&
		    strcmp(astr(spans[i], "url.path"), path) == 0)
			return spans[i];
	return NULL;
}

/* An HTTP/1.1 call from goroutine g, answered 200 on client connection c. */
static void h1_call(struct tconn *c, uint64_t g, const char *path, uint64_t ts)
{
	char req[128];
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: down\r\n\r\n", path);
	io_g = g;
	io(c, WEFT_DIR_SEND, req, strlen(req), ts);
	io(c, WEFT_DIR_RECV, resp, strlen(resp), ts + MS / 2);
}

/*
 * A Go HTTP/2 server: the frame reader (goroutine R) reads two streams'
 * HEADERS, the serve loop (S) read the first one along with the preface;
 * each stream's handler runs on a goroutine of its own (H1, H3), which
 * the kernel side names in a record (pairing_go_stream), and calls out
 * from it. Each call is its stream's child (rule 1), whatever order the
 * handlers start in; a handler record of a stream never decoded is
 * counted, and so is nothing else.
 */
static bool test_h2_go_handlers(void)
{
	static struct buf o, b;
	enum { S = 0x5000, R = 0x5100, H1 = 0x6100, H3 = 0x6300, H5 = 0x6500 };
	struct pairing_opts po = { .resource_of = procinfo_resource, .is_go = all_go };
	struct tconn c, d;
	struct go_stream gs = { .pid = (uint32_t)getpid(), .reader_g = R, .serve_g = S };
	struct pairing_stats st;
	struct span *s1, *s3, *c1, *c3, *s5, *c5;

	pairing_fresh();
	pairing_free(cur);
	cur = pairing_new(&po, on_span, NULL);
	tc_server(&c, 40, 50040);
	tc_client(&d, 41, 50041);
	io_g = S;
	o.n = 0;
	frame(&o, SETTINGS, 0, 0, settings_srv, sizeof(settings_srv));
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0);
	o.n = 0;
	client_open(&o);
	b.n = 0;
	req_block(&b, "GET", "/one");
	headers(&o, 1, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 1 * MS);	/* by the serve loop */
	io_g = R;
	o.n = 0;
	b.n = 0;
	req_block(&b, "GET", "/three");
	headers(&o, 3, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 2 * MS);
	o.n = 0;
	b.n = 0;
	req_block(&b, "GET", "/five");
	headers(&o, 5, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 2 * MS);

	/* handlers start in another order than their streams */
	gs.g = H3;
	gs.stream_id = 3;
	pairing_go_stream(cur, &gs);
	gs.g = H1;
	gs.stream_id = 1;
	pairing_go_stream(cur, &gs);
	gs.g = 0x7777;
	gs.stream_id = 7;		/* never decoded: counted */
	pairing_go_stream(cur, &gs);
	h1_call(&d, H1, "/down1", T0 + 3 * MS);
	h1_call(&d, H3, "/down3", T0 + 4 * MS);
	/* stream 5's handler record was lost: its call is nobody's child */
	h1_call(&d, H5, "/down5", T0 + 5 * MS);

	io_g = S;
	o.n = 0;
	for (uint32_t sid = 1; sid <= 5; sid += 2) {
		b.n = 0;
		status_block(&b, "200");
		headers(&o, sid, END_STREAM, &b);
	}
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 8 * MS);
	/* a handler of a stream that ended: counted, links nothing */
	gs.g = 0x8888;
	gs.stream_id = 5;
	pairing_go_stream(cur, &gs);

	s1 = span_of_kind("/one", SPAN_KIND_SERVER);
	s3 = span_of_kind("/three", SPAN_KIND_SERVER);
	s5 = span_of_kind("/five", SPAN_KIND_SERVER);
	c1 = span_of_kind("/down1", SPAN_KIND_CLIENT);
	c3 = span_of_kind("/down3", SPAN_KIND_CLIENT);
	c5 = span_of_kind("/down5", SPAN_KIND_CLIENT);
	CHECK(s1 && s3 && s5 && c1 && c3 && c5);
	CHECK_STR(hex(c1->trace_id, 16), hex(s1->trace_id, 16));
	CHECK_STR(hex(c1->parent_span_id, 8), hex(s1->span_id, 8));
	CHECK_STR(hex(c3->trace_id, 16), hex(s3->trace_id, 16));
	CHECK_STR(hex(c3->parent_span_id, 8), hex(s3->span_id, 8));
	CHECK(memcmp(c5->trace_id, s5->trace_id, 16) != 0);
	CHECK(memcmp(c5->trace_id, s1->trace_id, 16) != 0);
	CHECK(memcmp(c5->trace_id, s3->trace_id, 16) != 0);
	pairing_get_stats(cur, &st);
	CHECK_INT(st.go_handlers, 2);
	CHECK_INT(st.go_handlers_unplaced, 2);
	io_g = 0;
	return true;
}

/*
 * Connections open before weft started (h2_new_midstream): the kernel
 * side follows one from a chunk that starts with a HEADERS frame
 * (WEFT_F_H2_MID), the role unknown. A chunk that starts inside a frame
 * is passed over; a block that names table entries from before weft
 * decodes all it can, and a request whose :path was such an entry makes
 * no span (counted); entries added from then on decode exactly, as do
 * the direction (from :method) and the role.
 */
static bool test_h2_midstream(void)
{
	static struct buf o, b;
	static const uint8_t junk[40] = { 0x7a, 0x33, 0x10, 0xfe, 1, 2, 3 };
	struct tconn c, d;
	struct span *s, *s2 = NULL;
	struct h2_stats st;

	pairing_fresh();
	tc_init(&c, 61, WEFT_ROLE_UNKNOWN, "10.0.0.1", 8080, "10.0.0.2", 51000);
	/* stream 41: GET of a :path the encoder indexed before weft */
	o.n = 0;
	b.n = 0;
	ix(&b, 2);
	ix(&b, 6);
	ix(&b, 75);
	ix(&b, 64);
	headers(&o, 41, END_STREAM, &b);
	io_flags = WEFT_F_H2 | WEFT_F_H2_MID;
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0);
	io_flags = WEFT_F_H2;
	/* the end of a DATA frame begun before: passed over */
	io(&c, WEFT_DIR_SEND, junk, sizeof(junk), T0 + 1 * MS);
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 41, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 2 * MS);
	/* stream 43: everything new */
	o.n = 0;
	b.n = 0;
	ix(&b, 3);
	ix(&b, 6);
	lit_add(&b, ":path", "/mid");
	lit_add(&b, "traceparent",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	headers(&o, 43, 0, &b);
	frame(&o, DATA, END_STREAM, 43, "x", 1);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 3 * MS);
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 43, 0, &b);
	frame(&o, DATA, END_STREAM, 43, "ok", 2);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 5 * MS);
	/* stream 45: /mid from the table weft saw filled, and a literal
	 * whose name is an entry from before (skipped, the rest decoded) */
	o.n = 0;
	b.n = 0;
	ix(&b, 2);
	ix(&b, 6);
	ix(&b, 63);
	hp_int(&b, 0x00, 4, 90);
	hp_str(&b, "whatever");
	headers(&o, 45, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 6 * MS);
	o.n = 0;
	b.n = 0;
	status_block(&b, "503");
	headers(&o, 45, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 9 * MS);

	/* stream 47: a traceparent whose name is an entry from before (Go
	 * names it by the previous traceparent): taken by its shape; stream
	 * 49: 32 hex digits of unknown name, maybe x-b3-traceid: no span */
	o.n = 0;
	b.n = 0;
	ix(&b, 2);
	lit(&b, ":path", "/shape");
	hp_int(&b, 0x40, 6, 95);
	hp_str(&b, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	headers(&o, 47, END_STREAM, &b);
	b.n = 0;
	ix(&b, 2);
	lit(&b, ":path", "/hidden");
	hp_int(&b, 0x40, 6, 97);
	hp_str(&b, "463ac35c9f6413ad48485a3953bb6124");
	headers(&o, 49, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 7 * MS);
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 47, END_STREAM, &b);
	headers(&o, 49, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 8 * MS);
	s = span_by_path("/shape");
	CHECK(s);
	CHECK_STR(hex(s->trace_id, 16), "0af7651916cd43dd8448eb211c80319c");
	CHECK_STR(hex(s->parent_span_id, 8), "b7ad6b7169203331");
	CHECK(!span_by_path("/hidden"));

	CHECK_INT(nspans, 3);
	s = span_by_path("/mid");
	for (int i = 0; i < nspans; i++) {
		const char *p = astr(spans[i], "url.path");

		if (spans[i] != s && p && strcmp(p, "/mid") == 0)
			s2 = spans[i];
	}
	CHECK(s && s2);
	CHECK_INT(s->kind, SPAN_KIND_SERVER);
	CHECK_STR(astr(s, "http.request.method"), "POST");
	CHECK_INT(aint(s, "http.response.status_code"), 200);
	CHECK_STR(hex(s->trace_id, 16), "4bf92f3577b34da6a3ce929d0e0e4736");
	CHECK_STR(hex(s->parent_span_id, 8), "00f067aa0ba902b7");
	CHECK_INT(dur(s), 2 * MS);
	CHECK_STR(astr(s2, "url.path"), "/mid");
	CHECK_STR(astr(s2, "http.request.method"), "GET");
	CHECK_INT(aint(s2, "http.response.status_code"), 503);
	CHECK_INT(dur(s2), 3 * MS);
	st = h2stats();
	CHECK_INT(st.mid_conns, 1);
	CHECK_INT(st.mid_synced, 1);
	CHECK_INT(st.mid_chunks_skipped, 1);
	CHECK_INT(st.mid_streams, 3);
	CHECK_INT(st.mid_requests_unknown, 1);
	CHECK_INT(st.mid_fields_unknown, 5);
	CHECK_INT(st.mid_ctx_by_shape, 1);
	CHECK_INT(st.mid_ctx_hidden, 1);
	CHECK_INT(st.hpack_errors, 0);
	CHECK_INT(st.bad_requests, 0);

	/* the client's side: its request says it is the client */
	tc_init(&d, 62, WEFT_ROLE_UNKNOWN, "10.0.0.2", 51001, "10.0.0.1", 8080);
	o.n = 0;
	b.n = 0;
	ix(&b, 2);
	ix(&b, 6);
	lit(&b, ":path", "/from-client");
	headers(&o, 101, END_STREAM, &b);
	io_flags = WEFT_F_H2 | WEFT_F_H2_MID;
	io(&d, WEFT_DIR_SEND, o.b, o.n, T0 + 10 * MS);
	io_flags = WEFT_F_H2;
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 101, END_STREAM, &b);
	/* a frame header read alone, then its payload (Go reads so) */
	io(&d, WEFT_DIR_RECV, o.b, 9, T0 + 11 * MS);
	io(&d, WEFT_DIR_RECV, o.b + 9, o.n - 9, T0 + 11 * MS);
	s = span_by_path("/from-client");
	CHECK(s);
	CHECK_INT(s->kind, SPAN_KIND_CLIENT);
	CHECK_INT(aint(s, "http.response.status_code"), 200);

	/* not HTTP/2 after all: given up after the chunks it may pass over */
	tc_init(&d, 63, WEFT_ROLE_UNKNOWN, "10.0.0.2", 51002, "10.0.0.1", 9000);
	o.n = 0;
	frame(&o, HEADERS, END_HEADERS, 7, "\x82\x86", 2);
	put(&o, junk, sizeof(junk));	/* no frame where the walk lands */
	io_flags = WEFT_F_H2 | WEFT_F_H2_MID;
	io(&d, WEFT_DIR_SEND, o.b, o.n, T0 + 20 * MS);
	io_flags = WEFT_F_H2;
	nstops = 0;
	for (int i = 0; i < 20; i++)
		io(&d, WEFT_DIR_RECV, junk, sizeof(junk), T0 + (21 + i) * MS);
	st = h2stats();
	CHECK_INT(st.mid_unsynced, 1);
	CHECK_INT(nspans, 4);
	/* and the kernel side is asked, once, to stop copying its bytes */
	CHECK_INT(nstops, 1);
	CHECK(stops[0].sk == d.key.sk && stops[0].gen == d.key.gen);
	CHECK_INT(st.stop_asked, 1);
	for (int i = 0; i < 5; i++)
		io(&d, WEFT_DIR_RECV, junk, sizeof(junk), T0 + (41 + i) * MS);
	CHECK_INT(nstops, 1);
	/* its close takes the question back (it may have come after it) */
	nstop_done = 0;
	conn_close(&d, T0 + 47 * MS, false);
	CHECK_INT(nstop_done, 1);
	CHECK(stop_done.sk == stops[0].sk && stop_done.gen == stops[0].gen);
	/* a full table: counted, the bytes keep coming (and are ignored) */
	stop_table_full = true;
	tc_init(&d, 64, WEFT_ROLE_UNKNOWN, "10.0.0.2", 51004, "10.0.0.1", 9000);
	io_flags = WEFT_F_H2 | WEFT_F_H2_MID;
	io(&d, WEFT_DIR_SEND, o.b, o.n, T0 + 50 * MS);
	io_flags = WEFT_F_H2;
	for (int i = 0; i < 20; i++)
		io(&d, WEFT_DIR_RECV, junk, sizeof(junk), T0 + (51 + i) * MS);
	stop_table_full = false;
	st = h2stats();
	CHECK_INT(st.mid_unsynced, 2);
	CHECK_INT(st.stop_asked, 1);
	CHECK_INT(st.stop_unasked, 1);
	CHECK_INT(nspans, 4);
	io_flags = 0;
	return true;
}

static unsigned fields_wanted;

static void want_fields(uint32_t pid)
{
	(void)pid;
	fields_wanted++;
}

/* A go_h2_fields record's data: "name", "value", ... */
static size_t go_fields(uint8_t *out, const char *const *f, unsigned n)
{
	size_t o = 0;

	for (unsigned i = 0; i < 2 * n; i += 2) {
		size_t nl = strlen(f[i]), vl = strlen(f[i + 1]);

		out[o] = (uint8_t)nl;
		out[o + 1] = (uint8_t)vl;
		out[o + 2] = (uint8_t)(vl >> 8);
		memcpy(out + o + 3, f[i], nl);
		memcpy(out + o + 3 + nl, f[i + 1], vl);
		o += 3 + nl + vl;
	}
	return o;
}

/*
 * A Go server's connection older than weft: a request whose :path (and
 * B3 ids) were table entries from before is kept, and filled in from the
 * fields the server decoded itself (pairing_go_h2_fields), when they fit
 * what weft did decode and the block's field count: before or after the
 * response ended. A record that does not fit fills nothing; a kept
 * request no record fills is given up after 2 s, counted.
 */
static bool test_h2_midstream_go_fields(void)
{
	static struct buf o, b;
	struct pairing_opts po = { .resource_of = procinfo_resource, .is_go = all_go,
				   .want_h2_fields = want_fields };
	static const char *const f41[] = {
		":method", "GET", ":scheme", "http", ":path", "/filled?x=1",
		"x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124",
		"x-b3-spanid", "a2fb4a1d1a96d312",
	};
	static const char *const f43_wrong[] = {
		":method", "POST", ":scheme", "http", ":path", "/other",
		"x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124",
		"x-b3-spanid", "a2fb4a1d1a96d312",
	};
	static const char *const f43[] = {
		":method", "GET", ":scheme", "http", ":path", "/late",
		"x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124",
		"x-b3-spanid", "00000000000000aa",
	};
	static uint8_t data[1024];
	struct go_h2_fields gf = { .pid = (uint32_t)getpid(), .data = data };
	struct tconn c;
	struct span *s;
	struct h2_stats st;

	pairing_fresh();
	pairing_free(cur);
	cur = pairing_new(&po, on_span, NULL);
	fields_wanted = 0;
	tc_init(&c, 70, WEFT_ROLE_UNKNOWN, "10.0.0.1", 8080, "10.0.0.2", 51070);
	/* stream 41: GET, http, :path from before, an unknown-named value
	 * of 32 hex digits (maybe x-b3-traceid), one of 16 */
	o.n = 0;
	b.n = 0;
	ix(&b, 2);
	ix(&b, 6);
	ix(&b, 80);
	hp_int(&b, 0x40, 6, 81);
	hp_str(&b, "463ac35c9f6413ad48485a3953bb6124");
	hp_int(&b, 0x00, 4, 83);
	hp_str(&b, "a2fb4a1d1a96d312");
	headers(&o, 41, END_STREAM, &b);
	io_flags = WEFT_F_H2 | WEFT_F_H2_MID;
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0);
	io_flags = WEFT_F_H2;
	CHECK_INT(fields_wanted, 2);	/* the connection, the kept request */
	CHECK_INT(h2stats().mid_pending, 1);
	/* the server's decoding comes before the response */
	gf.stream_id = 41;
	gf.n_fields = gf.total_fields = 5;
	gf.len = go_fields(data, f41, 5);
	pairing_go_h2_fields(cur, &gf);
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 41, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 3 * MS);
	s = span_by_path("/filled");
	CHECK(s);
	CHECK_INT(s->kind, SPAN_KIND_SERVER);
	CHECK_STR(astr(s, "url.query"), "x=1");
	CHECK_INT(aint(s, "http.response.status_code"), 200);
	CHECK_STR(hex(s->trace_id, 16), "463ac35c9f6413ad48485a3953bb6124");
	CHECK_STR(hex(s->parent_span_id, 8), "a2fb4a1d1a96d312");
	CHECK_INT(dur(s), 3 * MS);

	/* stream 43: its response ends first; a record that does not fit
	 * (another :method, as another connection's stream 43 may be) fills
	 * nothing, the one that fits does */
	o.n = 0;
	b.n = 0;
	ix(&b, 2);
	ix(&b, 6);
	ix(&b, 84);
	hp_int(&b, 0x40, 6, 85);
	hp_str(&b, "463ac35c9f6413ad48485a3953bb6124");
	hp_int(&b, 0x00, 4, 87);
	hp_str(&b, "00000000000000aa");
	headers(&o, 43, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 4 * MS);
	o.n = 0;
	b.n = 0;
	lit(&b, ":status", "503");
	headers(&o, 43, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 6 * MS);
	CHECK_INT(nspans, 1);
	gf.stream_id = 43;
	gf.len = go_fields(data, f43_wrong, 5);
	pairing_go_h2_fields(cur, &gf);
	CHECK_INT(nspans, 1);
	gf.len = go_fields(data, f43, 5);
	pairing_go_h2_fields(cur, &gf);
	s = span_by_path("/late");
	CHECK(s);
	CHECK_INT(aint(s, "http.response.status_code"), 503);
	CHECK_STR(hex(s->parent_span_id, 8), "00000000000000aa");
	CHECK_INT(dur(s), 2 * MS);

	/* stream 45: no record ever: given up after 2 s */
	o.n = 0;
	b.n = 0;
	ix(&b, 2);
	ix(&b, 6);
	ix(&b, 90);
	headers(&o, 45, END_STREAM, &b);
	io(&c, WEFT_DIR_RECV, o.b, o.n, T0 + 7 * MS);
	pairing_tick(cur, T0 + 8 * MS);
	pairing_tick(cur, T0 + 3000 * MS);
	o.n = 0;
	b.n = 0;
	status_block(&b, "200");
	headers(&o, 45, END_STREAM, &b);
	io(&c, WEFT_DIR_SEND, o.b, o.n, T0 + 3001 * MS);
	st = h2stats();
	CHECK_INT(nspans, 2);
	CHECK_INT(st.mid_pending, 3);
	CHECK_INT(st.go_fields_records, 3);
	CHECK_INT(st.go_fields_filled, 2);
	CHECK_INT(st.mid_pending_expired, 1);
	CHECK_INT(st.mid_ctx_hidden, 0);
	CHECK_INT(st.mid_requests_unknown, 0);
	CHECK_INT(fields_wanted, 4);

	/* a gRPC client's connection older than weft: grpc-go records the
	 * fields it writes before their bytes; the request block naming
	 * entries from before is filled in from them */
	{
		static const char *const req[] = {
			":method", "POST", ":scheme", "http", ":path", "/pkg.Svc/Call",
			"content-type", "application/grpc",
		};
		struct tconn d;

		tc_init(&d, 71, WEFT_ROLE_UNKNOWN, "10.0.0.2", 51071, "10.0.0.1", 9090);
		gf.written = true;
		gf.ts_ns = T0 + 4000 * MS;
		gf.stream_id = 7;
		gf.n_fields = gf.total_fields = 4;
		gf.len = go_fields(data, req, 4);
		pairing_go_h2_fields(cur, &gf);
		o.n = 0;
		b.n = 0;
		ix(&b, 3);
		ix(&b, 6);
		ix(&b, 70);
		ix(&b, 71);
		headers(&o, 7, 0, &b);
		io_flags = WEFT_F_H2 | WEFT_F_H2_MID;
		io(&d, WEFT_DIR_SEND, o.b, o.n, T0 + 4000 * MS);
		io_flags = WEFT_F_H2;
		o.n = 0;
		b.n = 0;
		status_block(&b, "200");
		headers(&o, 7, 0, &b);
		io(&d, WEFT_DIR_RECV, o.b, o.n, T0 + 4001 * MS);
		/* trailers naming an entry from before, nothing written for
		 * them by this process (a client): the stream still ends */
		o.n = 0;
		b.n = 0;
		ix(&b, 75);
		headers(&o, 7, END_STREAM, &b);
		io(&d, WEFT_DIR_RECV, o.b, o.n, T0 + 4002 * MS);
		s = span_by_path("/pkg.Svc/Call");
		CHECK(s);
		CHECK_INT(s->kind, SPAN_KIND_CLIENT);
		CHECK_STR(astr(s, "rpc.method"), "Call");
		CHECK_INT(dur(s), 2 * MS);
		CHECK_INT(h2stats().go_written_filled, 1);
		CHECK_INT(h2stats().go_written_records, 1);
		gf.written = false;
	}
	return true;
}

int main(void)
{
	RUN(test_h2_client_get);
	RUN(test_h2_server_concurrent_b3);
	RUN(test_h2_grpc);
	RUN(test_h2_split_chunks);
	RUN(test_h2_padding_continuation);
	RUN(test_h2_uncaptured_data);
	RUN(test_h2_sync_lost);
	RUN(test_h2_idle);
	RUN(test_h2_seq_gap);
	RUN(test_h2_hpack_error);
	RUN(test_h2_stream_limit);
	RUN(test_h2_reset_goaway);
	RUN(test_h2_link_wire);
	RUN(test_h2_table_changes);
	RUN(test_h2_upgrade);
	RUN(test_h2_not_h2);
	RUN(test_h2_cost_per_stream);
	RUN(test_h2_go_handlers);
	RUN(test_h2_midstream);
	RUN(test_h2_midstream_go_fields);
	pairing_free(cur);
	for (int i = 0; i < nspans; i++)
		span_free(spans[i]);
	return TEST_SUMMARY();
}
