// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for the agent's stages 1-5 together: user/record.c, framing.c,
 * pairing.c, link.c and spanbuild.c. Byte streams go through the kernel
 * side's own per-chunk code (bpf/chunk.bpf.h compiled in userspace, see
 * kernel_chunk.h: which chunks get MSG_START, how many bytes of each are
 * copied, HDR_END/TRUNCATED, the tail, the pending first bytes) with only
 * the conns map modelled, as exact-size heap records so ASan sees any read
 * past cap_len, and the spans that come out are checked field by field.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include "weft.h"
#include "kernel_chunk.h"
#include "pairing.h"
#include "record.h"
#include "span.h"
#include "ids.h"
#include "procinfo.h"
#include "test.h"

#define T0	1000000000000ULL	/* a monotonic time: 1000 s after boot */
#define MS	1000000ULL
#define MAX_SPANS 1024

/* ---- span collection ---- */

static struct span *spans[MAX_SPANS];
static int nspans;
static struct pairing *cur;
static bool trace_telemetry;	/* --trace-telemetry for the next pairing_fresh */
static bool some_processes;	/* --pid/--comm/--exe for the next pairing_fresh */

static void on_span(struct span *s, void *ctx)
{
	if (nspans < MAX_SPANS)
		spans[nspans++] = s;
	else
		span_free(s);
}

static void spans_reset(void)
{
	for (int i = 0; i < nspans; i++)
		span_free(spans[i]);
	nspans = 0;
}

/* A fresh pairing per test; the previous one (and its spans) is freed here so
 * a test that stops at a failed CHECK leaks nothing. */
static struct pairing *pairing_fresh(uint32_t hdr_window, uint64_t idle_ns)
{
	struct pairing_opts o = { .hdr_window = hdr_window,
				  .resource_of = procinfo_resource,
				 .idle_timeout_ns = idle_ns,
				 .link.trace_telemetry = trace_telemetry,
				 .link.some_processes = some_processes };

	if (cur)
		pairing_free(cur);
	spans_reset();
	cur = pairing_new(&o, on_span, NULL);
	return cur;
}

static struct link_stats lstats(void)
{
	struct link_stats s;

	pairing_get_link_stats(cur, &s);
	return s;
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

/* Fields every span must have: resource of this process, sane times. */
static bool span_sane(const struct span *s)
{
	const struct span_attr *pid;
	uint64_t now = mono_to_unix_ns(T0);

	CHECK(s->name);
	CHECK(s->kind == SPAN_KIND_SERVER || s->kind == SPAN_KIND_CLIENT);
	CHECK(s->end_unix_ns >= s->start_unix_ns);
	/* start is T0-based: within a second of T0 converted */
	CHECK(s->start_unix_ns + 1000 * MS > now && s->start_unix_ns < now + 1000 * MS);
	CHECK(!id_is_zero(s->trace_id, 16));
	CHECK(!id_is_zero(s->span_id, 8));
	CHECK(s->res);
	pid = resource_find_attr(s->res, "process.pid");
	CHECK(pid && pid->type == SPAN_ATTR_INT);
	CHECK_INT(pid->num, getpid());
	return true;
}

/* ---- the kernel side ---- */

/*
 * What the BPF side does with one socket call is its own code, compiled in
 * userspace (kernel_chunk.h: bpf/chunk.bpf.h's chunk_judge, chunk_track,
 * chunk_capture, chunk_tail): only the conns map around it is modelled
 * here, as handle_io keeps it.
 */
#define K_COPY_STEP	1024	/* bpf/maps.bpf.h COPY_STEP */

/* What the BPF conns map holds for one socket, plus its addresses. */
struct kconn {
	uint64_t sk, gen;
	bool exists, http;
	uint8_t role;
	uint32_t pid;		/* process (0: this one) */
	uint32_t tid;		/* thread doing the I/O (link.c rule 1) */
	uint32_t seq[2];	/* next TCP sequence number, by direction */
	bool tx_base_ok;	/* seen from the handshake: tx_base is set */
	uint32_t tx_base;	/* seq[WEFT_DIR_SEND] at the handshake */
	struct kc_dir d[2];
	struct weft_addr addr;
	uint32_t hdr_window, body_capture;
};

static uint32_t last_cap;	/* cap_len of the last record io() built */

/*
 * The connection as the kernel sees it. role 0: established before weft
 * started, so the conns entry is made by the first chunk that starts a
 * message; otherwise inet_sock_set_state made it (with the role).
 */
static void kc_init(struct kconn *k, uint64_t sk, uint8_t role,
		    const char *lip, uint16_t lport, const char *rip,
		    uint16_t rport)
{
	memset(k, 0, sizeof(*k));
	k->sk = sk;
	k->hdr_window = WEFT_HDR_WINDOW_DEFAULT;
	k->body_capture = WEFT_BODY_CAPTURE_DEFAULT;
	k->addr.family = strchr(lip, ':') ? AF_INET6 : AF_INET;
	inet_pton(k->addr.family, lip, k->addr.saddr);
	inet_pton(k->addr.family, rip, k->addr.daddr);
	k->addr.sport = lport;
	k->addr.dport = rport;
	/* distinct threads, so no two test connections link in-process */
	k->tid = getpid() + 1000 + (uint32_t)sk;
	k->seq[WEFT_DIR_SEND] = 1000000 + (uint32_t)sk * 7919;
	k->seq[WEFT_DIR_RECV] = 2000000 + (uint32_t)sk * 104729;
	if (role) {
		k->exists = true;
		k->role = role;
		k->gen = sk * 1000 + 7;
		k->tx_base_ok = true;
		k->tx_base = k->seq[WEFT_DIR_SEND];
	}
}

/* The usual pair: a server on 10.0.0.1:8080, its client on 10.0.0.2:rport. */
static void kc_server(struct kconn *k, uint64_t sk, uint16_t rport)
{
	kc_init(k, sk, WEFT_ROLE_SERVER, "10.0.0.1", 8080, "10.0.0.2", rport);
}

static void kc_client(struct kconn *k, uint64_t sk, uint16_t lport)
{
	kc_init(k, sk, WEFT_ROLE_CLIENT, "10.0.0.2", lport, "10.0.0.1", 8080);
}

/* handle_io() and emit_chunk(): the record the kernel would send for one
 * socket call, or NULL when it sends none. Exactly sizeof + cap_len bytes
 * on the heap. */
static struct weft_data_rec *k_io(struct kconn *k, int dir, const void *p,
				  uint32_t len, uint64_t ts)
{
	struct weft_data_rec *r;
	struct kc_call call;
	const uint8_t *data;
	uint8_t tail[WEFT_TAIL_LEN];
	uint32_t flags, cap, tl, seq = k->seq[dir];
	bool start;

	k->seq[dir] += len;	/* TCP moved the bytes whether we see them or not */
	start = kc_judge(&call, p, len, k->exists && k->http);
	if (!k->exists) {
		if (!start)
			return NULL;
		k->exists = true;
		k->gen = ts;
	}
	if (!k->http) {
		if (!start)
			return NULL;
		k->http = true;
	}
	cap = kc_emit(&call, &k->d[dir], start, k->hdr_window, k->body_capture,
		      &flags, &data, tail, &tl);
	r = calloc(1, sizeof(*r) + cap);
	if (!r)
		abort();
	r->h.type = WEFT_REC_DATA;
	r->h.pid = k->pid ? k->pid : (uint32_t)getpid();
	r->h.tid = k->tid;
	r->h.ts_ns = ts;
	r->h.conn.sk = k->sk;
	r->h.conn.gen = k->gen;
	r->addr = k->addr;
	r->seq = seq;
	r->len = len;
	r->cap_len = cap;
	/* emit_chunk: where the sends had got to, unless known to be none */
	if (dir == WEFT_DIR_RECV &&
	    !(k->tx_base_ok && k->seq[WEFT_DIR_SEND] == k->tx_base)) {
		r->tx_seq = k->seq[WEFT_DIR_SEND];
		flags |= WEFT_F_TX_SEQ;
	}
	r->flags = flags;
	r->dir = dir;
	r->role = k->role;
	memcpy(r->comm, "testpairing", 12);
	memcpy(r->tail, tail, WEFT_TAIL_LEN);
	r->tail_len = tl;
	memcpy(r->data, data, cap);
	last_cap = cap;
	return r;
}

/* What main.c's ring-buffer consumer does with a record, whose size is
 * what the ring buffer reports. */
static void feed_data(const struct weft_data_rec *r)
{
	struct record rec;

	if (record_decode(r, sizeof(*r) + r->cap_len, &rec) == REC_CHUNK)
		pairing_chunk(cur, &rec.chunk);
}

static void feed_close(const struct weft_close_rec *r)
{
	struct record rec;

	if (record_decode(r, sizeof(*r), &rec) == REC_CLOSE)
		pairing_close(cur, &rec.end);
}

/* One socket call on k; returns the record's flags, -1 when none was sent. */
static int io(struct kconn *k, int dir, const void *p, size_t len, uint64_t ts)
{
	struct weft_data_rec *r = k_io(k, dir, p, len, ts);
	int flags;

	if (!r)
		return -1;
	flags = r->flags & ~WEFT_F_TX_SEQ;	/* the tests check capture flags */
	feed_data(r);
	free(r);
	return flags;
}

static int ios(struct kconn *k, int dir, const char *s, uint64_t ts)
{
	return io(k, dir, s, strlen(s), ts);
}

#define RECV(k, s, ts) ios(k, WEFT_DIR_RECV, s, ts)
#define SEND(k, s, ts) ios(k, WEFT_DIR_SEND, s, ts)

/* A body-only chunk of n filler bytes. */
static int fill(struct kconn *k, int dir, size_t n, uint64_t ts)
{
	char *b = malloc(n);
	int f;

	memset(b, 'x', n);
	f = io(k, dir, b, n, ts);
	free(b);
	return f;
}

/* on_set_state() going to TCP_CLOSE: a close record for HTTP conns only. */
static void k_close(struct kconn *k, int oldstate, uint64_t ts)
{
	struct weft_close_rec *r;

	if (!k->exists)
		return;
	if (k->http) {
		r = calloc(1, sizeof(*r));
		r->h.type = WEFT_REC_CLOSE;
		r->h.pid = getpid();
		r->h.tid = getpid();
		r->h.ts_ns = ts;
		r->h.conn.sk = k->sk;
		r->h.conn.gen = k->gen;
		r->oldstate = oldstate;
		feed_close(r);
		free(r);
	}
	k->exists = false;
	k->http = false;
	memset(k->d, 0, sizeof(k->d));
}

#define TCP_ESTABLISHED	1
#define TCP_FIN_WAIT2	5
#define TCP_LAST_ACK	9

/* A string of n copies of c, NUL-terminated, on the heap. */
static char *rep(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ---- the tests ---- */

static bool test_server_keepalive(void)
{
	struct kconn k;
	const struct span *s;

	pairing_fresh(0, 0);
	kc_server(&k, 1, 54321);
	CHECK_INT(RECV(&k, "GET /a?x=1&y=2 HTTP/1.1\r\nHost: api.local:8081\r\n"
		       "User-Agent: curl/8.1\r\n"
		       "X-B3-TraceId: 463ac35c9f6413ad48485a3953bb6124\r\n"
		       "X-B3-SpanId: a2fb4a1d1a96d312\r\n"
		       "X-B3-Sampled: 1\r\n\r\n", T0),
		  WEFT_F_MSG_START | WEFT_F_HDR_END);
	CHECK_INT(nspans, 0);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", T0 + 2 * MS);
	CHECK_INT(nspans, 1);
	RECV(&k, "GET /b HTTP/1.1\r\nHost: api.local\r\n\r\n", T0 + 10 * MS);
	SEND(&k, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", T0 + 13 * MS);
	CHECK_INT(nspans, 2);
	RECV(&k, "GET /c HTTP/1.1\r\n\r\n", T0 + 20 * MS);
	SEND(&k, "HTTP/1.1 503 Busy\r\nContent-Length: 3\r\n\r\nerr", T0 + 24 * MS);
	CHECK_INT(nspans, 3);

	s = spans[0];
	CHECK(span_sane(s));
	CHECK_INT(s->kind, SPAN_KIND_SERVER);
	CHECK_STR(s->name, "GET");
	CHECK_STR(hex(s->trace_id, 16), "463ac35c9f6413ad48485a3953bb6124");
	CHECK(s->has_parent);
	CHECK_STR(hex(s->parent_span_id, 8), "a2fb4a1d1a96d312");
	CHECK(memcmp(s->span_id, s->parent_span_id, 8) != 0);
	CHECK(s->sampled);
	CHECK(s->trace_state == NULL);
	CHECK_STR(astr(s, "http.request.method"), "GET");
	CHECK_STR(astr(s, "url.path"), "/a");
	CHECK_STR(astr(s, "url.query"), "x=1&y=2");
	CHECK_STR(astr(s, "url.scheme"), "http");
	CHECK_INT(aint(s, "http.response.status_code"), 200);
	CHECK_STR(astr(s, "server.address"), "api.local");
	CHECK_INT(aint(s, "server.port"), 8081);
	CHECK_STR(astr(s, "client.address"), "10.0.0.2");
	CHECK_INT(aint(s, "client.port"), 54321);
	CHECK_STR(astr(s, "network.peer.address"), "10.0.0.2");
	CHECK_INT(aint(s, "network.peer.port"), 54321);
	CHECK_STR(astr(s, "network.protocol.version"), "1.1");
	CHECK_STR(astr(s, "user_agent.original"), "curl/8.1");
	CHECK(!span_find_attr(s, "url.full"));
	CHECK(!span_find_attr(s, "error.type"));
	CHECK_INT(s->status, SPAN_STATUS_UNSET);
	CHECK_INT(dur(s), 2 * MS);

	s = spans[1];
	CHECK(span_sane(s));
	CHECK_STR(astr(s, "url.path"), "/b");
	CHECK(!span_find_attr(s, "url.query"));
	CHECK_INT(aint(s, "http.response.status_code"), 404);
	CHECK_STR(astr(s, "server.address"), "api.local");
	CHECK_INT(aint(s, "server.port"), 8080);	/* no port in Host */
	CHECK(!span_find_attr(s, "user_agent.original"));
	CHECK_INT(s->status, SPAN_STATUS_UNSET);	/* 4xx is no server error */
	CHECK(!s->has_parent);
	CHECK(memcmp(s->trace_id, spans[0]->trace_id, 16) != 0);
	CHECK(s->sampled);
	CHECK_INT(dur(s), 3 * MS);
	/* across spans only roughly: each start is converted on its own */
	CHECK(s->start_unix_ns - spans[0]->start_unix_ns - 10 * MS + 100000 < 200000);

	s = spans[2];
	CHECK(span_sane(s));
	CHECK_STR(astr(s, "url.path"), "/c");
	CHECK_INT(aint(s, "http.response.status_code"), 503);
	CHECK_STR(astr(s, "server.address"), "10.0.0.1");	/* no Host */
	CHECK_INT(aint(s, "server.port"), 8080);
	CHECK_INT(s->status, SPAN_STATUS_ERROR);
	CHECK_STR(astr(s, "error.type"), "503");
	CHECK_INT(dur(s), 4 * MS);
	CHECK(memcmp(s->trace_id, spans[1]->trace_id, 16) != 0);

	CHECK_INT(stats().spans, 3);
	CHECK_INT(stats().conns_open, 1);
	CHECK_INT(stats().framing.not_http, 0);
	k_close(&k, TCP_LAST_ACK, T0 + 30 * MS);
	CHECK_INT(nspans, 3);
	CHECK_INT(stats().conns_open, 0);
	CHECK_INT(stats().closed_early, 0);
	return true;
}

static bool test_client_role(void)
{
	struct kconn k;
	const struct span *s;

	pairing_fresh(0, 0);
	kc_client(&k, 2, 40000);
	/* no context on the wire and no server span at work: a new root */
	SEND(&k, "GET /api/v1/items?limit=5 HTTP/1.1\r\nHost: backend:9090\r\n"
	     "User-Agent: Go-http-client/1.1\r\n\r\n", T0);
	RECV(&k, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found",
	     T0 + 7 * MS);
	CHECK_INT(nspans, 1);
	s = spans[0];
	CHECK(span_sane(s));
	CHECK_INT(s->kind, SPAN_KIND_CLIENT);
	CHECK_STR(s->name, "GET");
	CHECK(!s->has_parent);
	CHECK(s->sampled);
	CHECK_STR(astr(s, "url.full"),
		  "http://backend:9090/api/v1/items?limit=5");
	CHECK_STR(astr(s, "url.path"), "/api/v1/items");
	CHECK_STR(astr(s, "url.query"), "limit=5");
	CHECK_STR(astr(s, "server.address"), "backend");
	CHECK_INT(aint(s, "server.port"), 9090);
	CHECK_STR(astr(s, "network.peer.address"), "10.0.0.1");
	CHECK_INT(aint(s, "network.peer.port"), 8080);
	CHECK_STR(astr(s, "network.protocol.version"), "1.1");
	CHECK_STR(astr(s, "user_agent.original"), "Go-http-client/1.1");
	CHECK(!span_find_attr(s, "client.address"));
	CHECK(!span_find_attr(s, "client.port"));
	CHECK(!span_find_attr(s, "url.scheme"));
	CHECK_INT(aint(s, "http.response.status_code"), 404);
	CHECK_INT(s->status, SPAN_STATUS_ERROR);	/* client: 4xx is an error */
	CHECK_STR(astr(s, "error.type"), "404");
	CHECK_INT(dur(s), 7 * MS);

	/* IPv6 peer, no Host: server.* from the peer, url.full built from it */
	kc_init(&k, 3, WEFT_ROLE_CLIENT, "2001:db8::2", 40001, "2001:db8::1", 8443);
	SEND(&k, "POST /v6 HTTP/1.1\r\nContent-Length: 0\r\n\r\n", T0 + 10 * MS);
	RECV(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 11 * MS);
	CHECK_INT(nspans, 2);
	s = spans[1];
	CHECK(span_sane(s));
	CHECK_STR(s->name, "POST");
	CHECK_STR(astr(s, "server.address"), "2001:db8::1");
	CHECK_INT(aint(s, "server.port"), 8443);
	CHECK_STR(astr(s, "network.peer.address"), "2001:db8::1");
	CHECK_INT(s->status, SPAN_STATUS_UNSET);

	/* v4-mapped v6 reads as v4 */
	kc_init(&k, 4, WEFT_ROLE_SERVER, "::ffff:10.0.0.1", 8080, "::ffff:10.0.0.9", 5555);
	RECV(&k, "GET /m HTTP/1.1\r\n\r\n", T0 + 20 * MS);
	SEND(&k, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", T0 + 21 * MS);
	CHECK_INT(nspans, 3);
	s = spans[2];
	CHECK_INT(s->kind, SPAN_KIND_SERVER);
	CHECK_STR(astr(s, "client.address"), "10.0.0.9");
	CHECK_STR(astr(s, "server.address"), "10.0.0.1");
	CHECK_INT(s->status, SPAN_STATUS_ERROR);
	return true;
}

static bool test_role_unknown_inferred(void)
{
	struct kconn k1, k2;

	pairing_fresh(0, 0);
	/* established before weft started: role 0 in every record */
	kc_init(&k1, 5, 0, "10.0.0.1", 8080, "10.0.0.2", 33333);
	kc_init(&k2, 6, 0, "10.0.0.2", 44444, "10.0.0.1", 9000);
	/* a body chunk first: the kernel has no entry yet and sends nothing */
	CHECK_INT(fill(&k1, WEFT_DIR_RECV, 100, T0), -1);
	CHECK_INT(RECV(&k1, "GET /in HTTP/1.1\r\n\r\n", T0 + 1 * MS),
		  WEFT_F_MSG_START | WEFT_F_HDR_END);
	SEND(&k2, "GET /out HTTP/1.1\r\nHost: svc:9000\r\n\r\n", T0 + 2 * MS);
	SEND(&k1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 3 * MS);
	RECV(&k2, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", T0 + 5 * MS);
	CHECK_INT(nspans, 2);
	CHECK(span_sane(spans[0]));
	CHECK_INT(spans[0]->kind, SPAN_KIND_SERVER);
	CHECK_STR(astr(spans[0], "url.path"), "/in");
	CHECK_STR(astr(spans[0], "client.address"), "10.0.0.2");
	CHECK_INT(aint(spans[0], "client.port"), 33333);
	CHECK_INT(dur(spans[0]), 2 * MS);
	CHECK(span_sane(spans[1]));
	CHECK_INT(spans[1]->kind, SPAN_KIND_CLIENT);
	CHECK_STR(astr(spans[1], "url.full"), "http://svc:9000/out");
	CHECK_INT(aint(spans[1], "http.response.status_code"), 201);
	CHECK_INT(dur(spans[1]), 3 * MS);
	CHECK_INT(stats().framing.not_http, 0);
	return true;
}

static bool test_pipelined(void)
{
	struct kconn k;
	const char *reqs =
		"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
		"GET /2?two HTTP/1.1\r\nHost: h\r\n\r\n"
		"POST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
		"HEAD /4 HTTP/1.1\r\nHost: h\r\n\r\n";
	const char *resps =
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
		"3\r\nabc\r\n0\r\n\r\n"
		"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
		"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";

	pairing_fresh(0, 0);
	kc_server(&k, 7, 50000);
	CHECK_INT(RECV(&k, reqs, T0), WEFT_F_MSG_START | WEFT_F_HDR_END);
	CHECK_INT(last_cap, strlen(reqs));
	CHECK_INT(nspans, 0);
	CHECK_INT(SEND(&k, resps, T0 + 5 * MS), WEFT_F_MSG_START | WEFT_F_HDR_END);
	CHECK_INT(last_cap, strlen(resps));
	CHECK_INT(nspans, 4);
	for (int i = 0; i < 4; i++) {
		static const char *const path[] = { "/1", "/2", "/3", "/4" };
		static const char *const meth[] = { "GET", "GET", "POST", "HEAD" };
		static const int code[] = { 200, 201, 202, 200 };

		CHECK(span_sane(spans[i]));
		CHECK_STR(astr(spans[i], "url.path"), path[i]);
		CHECK_STR(spans[i]->name, meth[i]);
		CHECK_INT(aint(spans[i], "http.response.status_code"), code[i]);
		CHECK_INT(dur(spans[i]), 5 * MS);
	}
	CHECK_STR(astr(spans[1], "url.query"), "two");
	/* both streams are in step: one more exchange */
	RECV(&k, "GET /5 HTTP/1.1\r\n\r\n", T0 + 6 * MS);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 8 * MS);
	CHECK_INT(nspans, 5);
	CHECK_STR(astr(spans[4], "url.path"), "/5");
	CHECK_INT(dur(spans[4]), 2 * MS);
	CHECK_INT(stats().framing.not_http, 0);
	CHECK_INT(stats().orphan_responses, 0);
	return true;
}

static bool test_post_body_split(void)
{
	struct kconn k;
	char head[] = "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 10000\r\n\r\n";
	size_t hl = strlen(head);
	char *first = malloc(hl + 1000), *mid;

	pairing_fresh(0, 0);
	kc_server(&k, 8, 50001);
	memcpy(first, head, hl);
	memset(first + hl, 'b', 1000);
	CHECK_INT(io(&k, WEFT_DIR_RECV, first, hl + 1000, T0),
		  WEFT_F_MSG_START | WEFT_F_HDR_END);
	free(first);
	CHECK_INT(last_cap, hl + WEFT_BODY_CAPTURE_DEFAULT);
	CHECK_INT(fill(&k, WEFT_DIR_RECV, 4000, T0 + 1 * MS), 0);
	CHECK_INT(last_cap, 0);
	/* body bytes that look like a request: the kernel marks the chunk as a
	 * message start, framing must still count it as body */
	mid = rep('y', 2000);
	memcpy(mid, "GET /not-a-request HTTP/1.1\r\n\r\n", 31);
	CHECK(io(&k, WEFT_DIR_RECV, mid, 2000, T0 + 2 * MS) & WEFT_F_MSG_START);
	free(mid);
	fill(&k, WEFT_DIR_RECV, 3000, T0 + 3 * MS);	/* body complete */
	CHECK_INT(nspans, 0);
	SEND(&k, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", T0 + 9 * MS);
	CHECK_INT(nspans, 1);
	CHECK(span_sane(spans[0]));
	CHECK_STR(spans[0]->name, "POST");
	CHECK_STR(astr(spans[0], "url.path"), "/upload");
	CHECK_INT(aint(spans[0], "http.response.status_code"), 201);
	CHECK_INT(dur(spans[0]), 9 * MS);
	/* the request stream is at a message boundary again */
	RECV(&k, "GET /next HTTP/1.1\r\n\r\n", T0 + 10 * MS);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 11 * MS);
	CHECK_INT(nspans, 2);
	CHECK_STR(astr(spans[1], "url.path"), "/next");
	CHECK_INT(stats().framing.not_http, 0);
	CHECK_INT(stats().orphan_responses, 0);
	return true;
}

static bool test_response_body_many_chunks(void)
{
	struct kconn k;

	pairing_fresh(0, 0);
	kc_server(&k, 9, 50002);
	RECV(&k, "GET /big HTTP/1.1\r\n\r\n", T0);
	CHECK_INT(SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n",
		       T0 + 1 * MS), WEFT_F_MSG_START | WEFT_F_HDR_END);
	for (int i = 1; i <= 20; i++) {
		CHECK_INT(nspans, 0);
		CHECK_INT(fill(&k, WEFT_DIR_SEND, 5000, T0 + (1 + i) * MS), 0);
		CHECK_INT(last_cap, 0);
	}
	CHECK_INT(nspans, 1);
	CHECK(span_sane(spans[0]));
	CHECK_INT(aint(spans[0], "http.response.status_code"), 200);
	CHECK_INT(dur(spans[0]), 21 * MS);	/* ends with the last chunk */
	/* next exchange in step */
	RECV(&k, "GET /again HTTP/1.1\r\n\r\n", T0 + 30 * MS);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", T0 + 31 * MS);
	CHECK_INT(nspans, 2);
	CHECK_INT(dur(spans[1]), 1 * MS);
	return true;
}

/* Everything in captured bytes: the decoder is exact, so a terminator inside
 * chunk data does not end the body. */
static bool test_chunked_exact(void)
{
	struct kconn k;

	pairing_fresh(0, 0);
	kc_server(&k, 10, 50003);
	RECV(&k, "GET /c HTTP/1.1\r\n\r\n", T0);
	/* chunk of 11 bytes whose data is "0\r\n\r\nabcdef" */
	SEND(&k, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	     "b\r\n0\r\n\r\nabcdef\r\n", T0 + 1 * MS);
	CHECK_INT(nspans, 0);
	SEND(&k, "0\r\n\r\n", T0 + 4 * MS);
	CHECK_INT(nspans, 1);
	CHECK_INT(dur(spans[0]), 4 * MS);

	/* whole body in one write with trailers, then the next exchange */
	RECV(&k, "GET /d HTTP/1.1\r\n\r\n", T0 + 10 * MS);
	SEND(&k, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	     "5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n",
	     T0 + 12 * MS);
	CHECK_INT(nspans, 2);
	CHECK_INT(dur(spans[1]), 2 * MS);
	RECV(&k, "GET /e HTTP/1.1\r\n\r\n", T0 + 20 * MS);
	SEND(&k, "HTTP/1.1 204 No Content\r\n\r\n", T0 + 21 * MS);
	CHECK_INT(nspans, 3);
	CHECK_INT(aint(spans[2], "http.response.status_code"), 204);
	CHECK_INT(stats().framing.not_http, 0);
	return true;
}

/* A chunked body: "400\r\n" + 1 KiB + "\r\n", n times, then "0\r\n\r\n". */
static char *chunked_body(int n, size_t *len)
{
	size_t one = 5 + 1024 + 2, l = one * n + 5;
	char *b = malloc(l), *p = b;

	for (int i = 0; i < n; i++) {
		memcpy(p, "400\r\n", 5);
		memset(p + 5, 'd', 1024);
		memcpy(p + 5 + 1024, "\r\n", 2);
		p += one;
	}
	memcpy(p, "0\r\n\r\n", 5);
	*len = l;
	return b;
}

/* Body bytes beyond the capture: only lengths and 16-byte tails. Chunks of
 * over 1 KiB: smaller ones on an HTTP connection go to the agent whole. */
static bool test_chunked_gaps(void)
{
	const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	size_t hl = strlen(head), bl, off, first_body = 1100, step = 3000;
	char *body = chunked_body(8, &bl), *first = malloc(hl + first_body);
	struct kconn k;
	uint64_t t = T0 + 1 * MS;

	pairing_fresh(0, 0);
	kc_server(&k, 11, 50004);
	RECV(&k, "GET /gaps HTTP/1.1\r\n\r\n", T0);
	memcpy(first, head, hl);
	memcpy(first + hl, body, first_body);
	CHECK_INT(io(&k, WEFT_DIR_SEND, first, hl + first_body, t),
		  WEFT_F_MSG_START | WEFT_F_HDR_END);
	free(first);
	CHECK_INT(last_cap, hl + 256);	/* 844 body bytes already a gap */
	for (off = first_body; off < bl; off += step) {
		size_t n = bl - off < step ? bl - off : step;

		CHECK_INT(nspans, 0);
		t += MS;
		CHECK_INT(io(&k, WEFT_DIR_SEND, body + off, n, t), 0);
	}
	free(body);
	CHECK_INT(nspans, 1);
	CHECK(span_sane(spans[0]));
	CHECK_INT(spans[0]->end_unix_ns - spans[0]->start_unix_ns, t - T0);
	/* in step for the next response */
	RECV(&k, "GET /after HTTP/1.1\r\n\r\n", t + MS);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", t + 2 * MS);
	CHECK_INT(nspans, 2);
	CHECK_INT(stats().framing.not_http, 0);
	return true;
}

/* The terminator split over the tails of two body-only chunks. */
static bool test_chunked_split_terminator(void)
{
	size_t bl;
	char *body = chunked_body(3, &bl);

	/* split points inside the final "\r\n0\r\n\r\n" (7 bytes) */
	for (int k = 1; k <= 6; k++) {
		struct kconn kc;
		size_t cut = bl - k;

		pairing_fresh(0, 0);
		kc_client(&kc, 12, 40000 + k);
		SEND(&kc, "GET /t HTTP/1.1\r\n\r\n", T0);
		RECV(&kc, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		     T0 + 1 * MS);
		CHECK_INT(io(&kc, WEFT_DIR_RECV, body, 2000, T0 + 2 * MS), 0);
		CHECK_INT(io(&kc, WEFT_DIR_RECV, body + 2000, cut - 2000, T0 + 3 * MS), 0);
		if (nspans) {
			fprintf(stderr, "  split %d: ended early\n", k);
			return false;
		}
		CHECK_INT(io(&kc, WEFT_DIR_RECV, body + cut, k, T0 + 4 * MS), 0);
		if (nspans != 1) {
			fprintf(stderr, "  split %d: no span\n", k);
			return false;
		}
		CHECK_INT(spans[0]->kind, SPAN_KIND_CLIENT);
		CHECK_INT(dur(spans[0]), 4 * MS);
	}
	free(body);
	return true;
}

static bool test_head_response(void)
{
	struct kconn k;

	pairing_fresh(0, 0);
	kc_server(&k, 13, 50005);
	RECV(&k, "HEAD /file HTTP/1.1\r\n\r\n", T0);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n", T0 + 1 * MS);
	CHECK_INT(nspans, 1);
	CHECK_STR(spans[0]->name, "HEAD");
	CHECK_INT(aint(spans[0], "http.response.status_code"), 200);
	CHECK_INT(dur(spans[0]), 1 * MS);
	/* the next response head is a head, not body */
	RECV(&k, "GET /file HTTP/1.1\r\n\r\n", T0 + 2 * MS);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", T0 + 3 * MS);
	CHECK_INT(nspans, 2);
	CHECK_STR(spans[1]->name, "GET");
	CHECK_INT(stats().framing.not_http, 0);
	return true;
}

static bool test_204_304(void)
{
	struct kconn k;

	pairing_fresh(0, 0);
	kc_client(&k, 14, 40100);
	SEND(&k, "DELETE /x HTTP/1.1\r\n\r\n", T0);
	RECV(&k, "HTTP/1.1 204 No Content\r\n\r\n", T0 + 1 * MS);
	CHECK_INT(nspans, 1);
	SEND(&k, "GET /x HTTP/1.1\r\nIf-None-Match: \"a\"\r\n\r\n", T0 + 2 * MS);
	/* Content-Length on a 304 describes the entity, not this message */
	RECV(&k, "HTTP/1.1 304 Not Modified\r\nContent-Length: 500\r\n\r\n", T0 + 4 * MS);
	CHECK_INT(nspans, 2);
	SEND(&k, "GET /y HTTP/1.1\r\n\r\n", T0 + 5 * MS);
	RECV(&k, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", T0 + 6 * MS);
	CHECK_INT(nspans, 3);
	CHECK_STR(spans[0]->name, "DELETE");
	CHECK_INT(aint(spans[0], "http.response.status_code"), 204);
	CHECK_INT(aint(spans[1], "http.response.status_code"), 304);
	CHECK_INT(dur(spans[1]), 2 * MS);
	CHECK_INT(spans[1]->status, SPAN_STATUS_UNSET);
	CHECK_STR(astr(spans[2], "url.path"), "/y");
	CHECK_INT(stats().framing.not_http, 0);
	return true;
}

static bool test_100_continue(void)
{
	struct kconn k;

	pairing_fresh(0, 0);
	kc_server(&k, 15, 50006);
	RECV(&k, "PUT /obj HTTP/1.1\r\nHost: s3\r\nExpect: 100-continue\r\n"
	     "Content-Length: 4\r\n\r\n", T0);
	SEND(&k, "HTTP/1.1 100 Continue\r\n\r\n", T0 + 1 * MS);
	CHECK_INT(nspans, 0);
	CHECK_INT(fill(&k, WEFT_DIR_RECV, 4, T0 + 2 * MS), 0);
	CHECK_INT(nspans, 0);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", T0 + 5 * MS);
	CHECK_INT(nspans, 1);
	CHECK_STR(spans[0]->name, "PUT");
	CHECK_INT(aint(spans[0], "http.response.status_code"), 200);
	CHECK_INT(dur(spans[0]), 5 * MS);
	CHECK_INT(stats().orphan_responses, 0);

	/* interim and final in one write */
	RECV(&k, "POST /p HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
	     T0 + 10 * MS);
	SEND(&k, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
	     "Content-Length: 0\r\n\r\n", T0 + 11 * MS);
	CHECK_INT(nspans, 2);
	CHECK_INT(aint(spans[1], "http.response.status_code"), 201);
	CHECK_INT(stats().spans, 2);
	return true;
}

static bool test_101_upgrade(void)
{
	struct kconn k;

	pairing_fresh(0, 0);
	kc_server(&k, 16, 50007);
	RECV(&k, "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
	     "Connection: Upgrade\r\n\r\n", T0);
	SEND(&k, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	     "Connection: Upgrade\r\n\r\n", T0 + 1 * MS);
	CHECK_INT(nspans, 1);
	CHECK_INT(aint(spans[0], "http.response.status_code"), 101);
	CHECK_INT(spans[0]->status, SPAN_STATUS_UNSET);
	CHECK_INT(dur(spans[0]), 1 * MS);
	/* frames, some of which look like HTTP to the kernel */
	RECV(&k, "GET / HTTP/1.1\r\n\r\n", T0 + 2 * MS);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 3 * MS);
	fill(&k, WEFT_DIR_SEND, 300, T0 + 4 * MS);
	fill(&k, WEFT_DIR_RECV, 300, T0 + 5 * MS);
	k_close(&k, TCP_ESTABLISHED, T0 + 6 * MS);
	CHECK_INT(nspans, 1);
	CHECK_INT(stats().closed_early, 0);
	CHECK_INT(stats().orphan_responses, 0);
	CHECK_INT(stats().conns_open, 0);

	/* CONNECT 200 is a tunnel too */
	kc_client(&k, 17, 40200);
	SEND(&k, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", T0);
	RECV(&k, "HTTP/1.1 200 Connection established\r\n\r\n", T0 + 1 * MS);
	CHECK_INT(nspans, 2);
	CHECK_STR(spans[1]->name, "CONNECT");
	RECV(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 2 * MS);
	k_close(&k, TCP_LAST_ACK, T0 + 3 * MS);
	CHECK_INT(nspans, 2);
	CHECK_INT(stats().closed_early, 0);
	return true;
}

static bool test_until_close(void)
{
	struct kconn k;
	char *first;
	const char head[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n";
	size_t hl = strlen(head);

	pairing_fresh(0, 0);
	kc_server(&k, 18, 50008);
	RECV(&k, "GET /old HTTP/1.0\r\n\r\n", T0);
	first = rep('z', hl + 100);
	memcpy(first, head, hl);
	io(&k, WEFT_DIR_SEND, first, hl + 100, T0 + 1 * MS);
	free(first);
	fill(&k, WEFT_DIR_SEND, 2000, T0 + 2 * MS);
	fill(&k, WEFT_DIR_SEND, 2000, T0 + 3 * MS);
	CHECK_INT(nspans, 0);
	k_close(&k, TCP_FIN_WAIT2, T0 + 9 * MS);
	CHECK_INT(nspans, 1);
	CHECK(span_sane(spans[0]));
	CHECK_INT(aint(spans[0], "http.response.status_code"), 200);
	CHECK_STR(astr(spans[0], "network.protocol.version"), "1.0");
	CHECK_INT(spans[0]->status, SPAN_STATUS_UNSET);
	CHECK(!span_find_attr(spans[0], "error.type"));
	/* ends at the last response byte seen (README), not at the close */
	CHECK_INT(dur(spans[0]), 3 * MS);
	CHECK_INT(stats().closed_early, 0);

	/* a new message start on the stream also ends an until-close body */
	kc_server(&k, 67, 50018);
	RECV(&k, "GET /old2 HTTP/1.0\r\n\r\n", T0);
	SEND(&k, "HTTP/1.0 200 OK\r\n\r\nabc", T0 + 1 * MS);
	fill(&k, WEFT_DIR_SEND, 100, T0 + 2 * MS);
	CHECK_INT(nspans, 1);
	CHECK(SEND(&k, "HTTP/1.0 200 OK\r\n\r\n", T0 + 5 * MS) & WEFT_F_MSG_START);
	CHECK_INT(nspans, 2);
	CHECK_STR(astr(spans[1], "url.path"), "/old2");
	CHECK_INT(dur(spans[1]), 2 * MS);
	return true;
}

static bool test_close_before_response(void)
{
	struct kconn k;

	pairing_fresh(0, 0);
	kc_server(&k, 19, 50009);
	RECV(&k, "GET /slow HTTP/1.1\r\n\r\n", T0);
	k_close(&k, TCP_LAST_ACK, T0 + 4 * MS);
	CHECK_INT(nspans, 1);
	CHECK(span_sane(spans[0]));
	CHECK_INT(spans[0]->status, SPAN_STATUS_ERROR);
	CHECK_STR(astr(spans[0], "error.type"), "connection_closed");
	CHECK(!span_find_attr(spans[0], "http.response.status_code"));
	CHECK_INT(dur(spans[0]), 4 * MS);
	CHECK_INT(stats().closed_early, 1);

	kc_client(&k, 20, 40300);
	SEND(&k, "GET /reset HTTP/1.1\r\n\r\n", T0);
	k_close(&k, TCP_ESTABLISHED, T0 + 2 * MS);
	CHECK_INT(nspans, 2);
	CHECK_INT(spans[1]->kind, SPAN_KIND_CLIENT);
	CHECK_INT(spans[1]->status, SPAN_STATUS_ERROR);
	CHECK_STR(astr(spans[1], "error.type"), "connection_reset");
	CHECK_INT(dur(spans[1]), 2 * MS);
	CHECK_INT(stats().closed_early, 2);
	CHECK_INT(stats().conns_open, 0);
	return true;
}

static bool test_close_mid_body(void)
{
	struct kconn k;

	pairing_fresh(0, 0);
	kc_server(&k, 21, 50010);
	RECV(&k, "GET /partial HTTP/1.1\r\n\r\n", T0);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n", T0 + 1 * MS);
	fill(&k, WEFT_DIR_SEND, 3000, T0 + 2 * MS);
	k_close(&k, TCP_ESTABLISHED, T0 + 5 * MS);
	CHECK_INT(nspans, 1);
	CHECK_INT(aint(spans[0], "http.response.status_code"), 200);
	CHECK_INT(spans[0]->status, SPAN_STATUS_ERROR);
	CHECK_STR(astr(spans[0], "error.type"), "connection_reset");
	CHECK_INT(dur(spans[0]), 5 * MS);
	CHECK_INT(stats().closed_early, 1);

	/* chunked, closed before the terminator */
	kc_server(&k, 22, 50011);
	RECV(&k, "GET /partial2 HTTP/1.1\r\n\r\n", T0);
	SEND(&k, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", T0 + 1 * MS);
	k_close(&k, TCP_LAST_ACK, T0 + 3 * MS);
	CHECK_INT(nspans, 2);
	CHECK_STR(astr(spans[1], "error.type"), "connection_closed");
	CHECK_INT(spans[1]->status, SPAN_STATUS_ERROR);
	return true;
}

/* A 12 KiB cookie: the head arrives in four recv calls. */
static bool test_split_head_cookie(void)
{
	struct kconn k;
	char *cookie = rep('c', 12 * 1024), *req;
	size_t n, cuts[5];
	int len;

	pairing_fresh(0, 0);
	kc_server(&k, 23, 50012);
	len = asprintf(&req, "GET /cookie?a=b HTTP/1.1\r\nHost: shop:80\r\nCookie: s=%s\r\n"
		       "User-Agent: split/1\r\n"
		       "X-B3-TraceId: 80f198ee56343ba864fe8b2a57d3eff7\r\n"
		       "X-B3-SpanId: e457b5a2e4d86bd1\r\n"
		       "X-B3-ParentSpanId: 05e3ac9a4f6e3b90\r\n"
		       "X-B3-Sampled: 1\r\n\r\n", cookie);
	free(cookie);
	CHECK(len > 12 * 1024);
	n = len;
	/* the last cut falls inside the final CRLFCRLF */
	cuts[0] = 0, cuts[1] = 4000, cuts[2] = 8000, cuts[3] = n - 3, cuts[4] = n;
	for (int i = 0; i < 4; i++) {
		int f = io(&k, WEFT_DIR_RECV, req + cuts[i], cuts[i + 1] - cuts[i],
			   T0 + i * MS);

		CHECK_INT(last_cap, cuts[i + 1] - cuts[i]);
		CHECK_INT(f, i == 0 ? WEFT_F_MSG_START : i == 3 ? WEFT_F_HDR_END : 0);
	}
	free(req);
	CHECK_INT(nspans, 0);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 10 * MS);
	CHECK_INT(nspans, 1);
	CHECK(span_sane(spans[0]));
	CHECK_STR(hex(spans[0]->trace_id, 16), "80f198ee56343ba864fe8b2a57d3eff7");
	CHECK_STR(hex(spans[0]->parent_span_id, 8), "e457b5a2e4d86bd1");
	CHECK(spans[0]->has_parent);
	CHECK(spans[0]->sampled);
	CHECK_STR(astr(spans[0], "url.path"), "/cookie");
	CHECK_STR(astr(spans[0], "url.query"), "a=b");
	CHECK_STR(astr(spans[0], "server.address"), "shop");
	CHECK_INT(aint(spans[0], "server.port"), 80);
	CHECK_STR(astr(spans[0], "user_agent.original"), "split/1");
	CHECK(!span_find_attr(spans[0], "weft.request.head_truncated"));
	CHECK_INT(dur(spans[0]), 10 * MS);	/* from the first chunk */
	CHECK_INT(stats().framing.heads_truncated, 0);
	return true;
}

/* A head longer than the window: what was captured still gives a span. */
static bool test_truncated_head(void)
{
	struct kconn k;
	char *cookie = rep('c', 20000), *req, *big;
	int len, f;

	pairing_fresh(0, 0);
	kc_server(&k, 24, 50013);
	len = asprintf(&req, "GET /t?q=1 HTTP/1.1\r\nHost: trunc:81\r\n"
		       "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
		       "Cookie: %s\r\nX-Late: 1\r\n\r\n", cookie);
	f = io(&k, WEFT_DIR_RECV, req, len, T0);
	free(req);
	CHECK_INT(f, WEFT_F_MSG_START | WEFT_F_TRUNCATED);
	CHECK_INT(last_cap, WEFT_HDR_WINDOW_DEFAULT);
	CHECK(last_cap < (uint32_t)len);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 3 * MS);
	CHECK_INT(nspans, 1);
	CHECK(span_sane(spans[0]));
	CHECK_STR(hex(spans[0]->trace_id, 16), "4bf92f3577b34da6a3ce929d0e0e4736");
	CHECK_STR(hex(spans[0]->parent_span_id, 8), "00f067aa0ba902b7");
	CHECK_STR(astr(spans[0], "url.path"), "/t");
	CHECK_STR(astr(spans[0], "server.address"), "trunc");
	CHECK_INT(aint(spans[0], "weft.request.head_truncated"), 1);
	CHECK_INT(aint(spans[0], "http.response.status_code"), 200);
	CHECK_INT(dur(spans[0]), 3 * MS);
	CHECK_INT(stats().framing.heads_truncated, 1);

	/* the same stream takes a normal (longer than the kept lines) head */
	big = rep('u', 3000);
	len = asprintf(&req, "GET /after HTTP/1.1\r\nUser-Agent: %s\r\n\r\n", big);
	free(big);
	io(&k, WEFT_DIR_RECV, req, len, T0 + 10 * MS);
	free(req);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 11 * MS);
	CHECK_INT(nspans, 2);
	CHECK_STR(astr(spans[1], "url.path"), "/after");
	CHECK(!span_find_attr(spans[1], "weft.request.head_truncated"));

	/* cut across two chunks: the kernel's count runs over both */
	len = asprintf(&req, "GET /t2 HTTP/1.1\r\nX-B3-TraceId: 0000000000000001000000000000000a\r\n"
		       "X-B3-SpanId: 000000000000000b\r\nCookie: %s\r\n\r\n", cookie);
	free(cookie);
	CHECK_INT(io(&k, WEFT_DIR_RECV, req, 10000, T0 + 20 * MS), WEFT_F_MSG_START);
	CHECK_INT(io(&k, WEFT_DIR_RECV, req + 10000, len - 10000, T0 + 21 * MS),
		  WEFT_F_TRUNCATED);
	CHECK_INT(last_cap, 7 * K_COPY_STEP);	/* window hit in the 7th step */
	free(req);
	SEND(&k, "HTTP/1.1 503 x\r\nContent-Length: 0\r\n\r\n", T0 + 22 * MS);
	CHECK_INT(nspans, 3);
	CHECK_STR(astr(spans[2], "url.path"), "/t2");
	CHECK_STR(hex(spans[2]->trace_id, 16), "0000000000000001000000000000000a");
	CHECK_INT(dur(spans[2]), 2 * MS);
	CHECK_INT(stats().framing.heads_truncated, 2);
	return true;
}

static bool test_orphan_response(void)
{
	struct kconn k;

	pairing_fresh(0, 0);
	kc_server(&k, 25, 50014);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", T0);
	CHECK_INT(nspans, 0);
	CHECK_INT(stats().orphan_responses, 1);
	RECV(&k, "GET /fine HTTP/1.1\r\n\r\n", T0 + 1 * MS);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", T0 + 2 * MS);
	CHECK_INT(nspans, 1);
	CHECK_STR(astr(spans[0], "url.path"), "/fine");
	CHECK_INT(stats().orphan_responses, 1);
	return true;
}

/* The record of a send the kernel made now, to be fed later. */
static struct weft_data_rec *late_send(struct kconn *k, const char *s, uint64_t ts)
{
	return k_io(k, WEFT_DIR_SEND, s, strlen(s), ts);
}

#define RESP0 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

/*
 * A client's response whose record comes before its request's (Go: the
 * reader thread's record first while the writer was preempted after its
 * send): the read says where the sends had got to (tx_seq), so it waits
 * for them and pairs. A send lost to a full ring buffer shows as a later
 * send starting past that point: the read goes on as the orphan it is,
 * never paired with the wrong request.
 */
static bool test_response_before_request(void)
{
	struct weft_data_rec *r;
	struct kconn k;

	pairing_fresh(0, 0);
	kc_client(&k, 26, 40100);
	r = late_send(&k, "POST /late HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n", T0);
	RECV(&k, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", T0 + 5 * MS);
	CHECK_INT(nspans, 0);
	feed_data(r);
	free(r);
	CHECK_INT(nspans, 1);
	CHECK_STR(astr(spans[0], "url.path"), "/late");
	CHECK_INT(aint(spans[0], "http.response.status_code"), 201);
	CHECK_INT(dur(spans[0]), 5 * MS);
	CHECK_INT(stats().orphan_responses, 0);
	CHECK_INT(stats().responses_early, 1);

	/* keep-alive: the next response's body, in a chunk of its own,
	 * waits behind its head */
	r = late_send(&k, "GET /two HTTP/1.1\r\nHost: b\r\n\r\n", T0 + 10 * MS);
	RECV(&k, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", T0 + 12 * MS);
	RECV(&k, "body", T0 + 13 * MS);
	CHECK_INT(nspans, 1);
	feed_data(r);
	free(r);
	CHECK_INT(nspans, 2);
	CHECK_STR(astr(spans[1], "url.path"), "/two");
	CHECK_INT(dur(spans[1]), 3 * MS);

	/* in order, as almost always: nothing waits */
	SEND(&k, "GET /three HTTP/1.1\r\n\r\n", T0 + 20 * MS);
	RECV(&k, RESP0, T0 + 21 * MS);
	CHECK_INT(nspans, 3);
	CHECK_INT(stats().responses_early, 2);

	/* the request's record lost (ring buffer full): the next send
	 * starts past where the read waited, so the read is an orphan and
	 * the next request gets its own response, not that one */
	r = late_send(&k, "GET /lost HTTP/1.1\r\n\r\n", T0 + 30 * MS);
	free(r);
	RECV(&k, "HTTP/1.1 500 Lost\r\nContent-Length: 0\r\n\r\n", T0 + 31 * MS);
	CHECK_INT(stats().orphan_responses, 0);
	SEND(&k, "GET /four HTTP/1.1\r\n\r\n", T0 + 40 * MS);
	CHECK_INT(stats().orphan_responses, 1);
	RECV(&k, RESP0, T0 + 41 * MS);
	CHECK_INT(nspans, 4);
	CHECK_STR(astr(spans[3], "url.path"), "/four");
	CHECK_INT(aint(spans[3], "http.response.status_code"), 200);

	/* lost with nothing after it: an orphan when the wait is over */
	r = late_send(&k, "GET /gone HTTP/1.1\r\n\r\n", T0 + 50 * MS);
	free(r);
	RECV(&k, RESP0, T0 + 51 * MS);
	pairing_tick(cur, T0 + 100 * MS);
	CHECK_INT(stats().orphan_responses, 1);
	pairing_tick(cur, T0 + 300 * MS);
	CHECK_INT(stats().orphan_responses, 2);
	CHECK_INT(nspans, 4);

	/* held when the connection closes: through first, then the close */
	r = late_send(&k, "GET /closed HTTP/1.1\r\n\r\n", T0 + 400 * MS);
	free(r);
	RECV(&k, RESP0, T0 + 401 * MS);
	k_close(&k, TCP_ESTABLISHED, T0 + 402 * MS);
	CHECK_INT(stats().orphan_responses, 3);
	CHECK_INT(stats().closed_early, 0);

	/* a response on a connection that has sent nothing since its
	 * handshake has nothing to wait for */
	kc_client(&k, 27, 40101);
	RECV(&k, RESP0, T0 + 500 * MS);
	CHECK_INT(stats().orphan_responses, 4);

	/* a server's connection never waits: its responses are sends */
	kc_server(&k, 28, 50015);
	SEND(&k, RESP0, T0 + 600 * MS);
	CHECK_INT(stats().orphan_responses, 5);

	/* more than it holds for one connection: through, in their order */
	kc_client(&k, 29, 40102);
	r = late_send(&k, "GET /many HTTP/1.1\r\n\r\n", T0 + 700 * MS);
	for (int i = 0; i < 9; i++)
		RECV(&k, RESP0, T0 + (701 + i) * MS);
	CHECK_INT(stats().responses_early_unheld, 1);
	CHECK_INT(stats().orphan_responses, 14);
	feed_data(r);
	free(r);
	RECV(&k, RESP0, T0 + 720 * MS);
	CHECK_INT(nspans, 5);
	CHECK_STR(astr(spans[4], "url.path"), "/many");
	CHECK_INT(stats().responses_early_unheld, 1);
	return true;
}

/*
 * The kernel side's connection table is an LRU: a socket evicted from it
 * comes back with a new generation at its next message start, and no
 * close record ever ends the old one. The old connection is forgotten
 * then, counted with the request it was waiting on.
 */
static bool test_conn_lost_by_kernel(void)
{
	struct kconn k, again;

	pairing_fresh(0, 0);
	kc_client(&k, 30, 40200);
	SEND(&k, "GET /a HTTP/1.1\r\n\r\n", T0);
	CHECK_INT(stats().conns_open, 1);
	/* evicted; the next request makes a new entry (role unknown) */
	kc_init(&again, 30, 0, "10.0.0.2", 40200, "10.0.0.1", 8080);
	SEND(&again, "GET /b HTTP/1.1\r\n\r\n", T0 + 5 * MS);
	CHECK_INT(stats().conns_lost, 1);
	CHECK_INT(stats().conns_lost_exchanges, 1);
	CHECK_INT(stats().conns_open, 1);
	RECV(&again, RESP0, T0 + 6 * MS);
	CHECK_INT(nspans, 1);
	CHECK_STR(astr(spans[0], "url.path"), "/b");
	/* another socket's address: nothing lost */
	kc_client(&k, 31, 40201);
	SEND(&k, "GET /c HTTP/1.1\r\n\r\n", T0 + 7 * MS);
	CHECK_INT(stats().conns_lost, 1);
	CHECK_INT(stats().conns_open, 2);
	return true;
}

/* on_set_state reaching TCP_CLOSE with unread bytes queued: the close
 * record says how many; the entry stays for their reads. */
static void k_close_unread(struct kconn *k, int oldstate, uint32_t unread, uint64_t ts)
{
	struct weft_close_rec r = {
		.h = { .type = WEFT_REC_CLOSE, .ts_ns = ts,
		       .conn = { .sk = k->sk, .gen = k->gen } },
		.oldstate = oldstate, .unread = unread,
	};

	r.h.pid = r.h.tid = getpid();
	feed_close(&r);
}

/*
 * A server answers and resets (Python's 431 to a head over its limit,
 * with the rest unread): the client's TCP closes at once, the response
 * still in its receive queue, and the application reads it after. The
 * close waits for that read: the client span has its 431, not a reset.
 */
static bool test_response_read_after_reset(void)
{
	const char *resp = "HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\n";
	struct kconn k;

	pairing_fresh(0, 0);
	kc_client(&k, 32, 40300);
	SEND(&k, "GET /big HTTP/1.1\r\nX: 1\r\n\r\n", T0);
	k_close_unread(&k, TCP_ESTABLISHED, (uint32_t)strlen(resp), T0 + 2 * MS);
	CHECK_INT(nspans, 0);
	CHECK_INT(stats().closes_waited, 1);
	RECV(&k, resp, T0 + 3 * MS);
	CHECK_INT(nspans, 1);
	CHECK_INT(aint(spans[0], "http.response.status_code"), 431);
	CHECK_INT(stats().closed_early, 0);
	CHECK_INT(stats().conns_open, 0);

	/* the application never reads them: the close after a second */
	kc_client(&k, 33, 40301);
	SEND(&k, "GET /gone HTTP/1.1\r\n\r\n", T0 + 10 * MS);
	k_close_unread(&k, TCP_ESTABLISHED, 100, T0 + 11 * MS);
	pairing_tick(cur, T0 + 500 * MS);
	CHECK_INT(nspans, 1);
	pairing_tick(cur, T0 + 1100 * MS);
	CHECK_INT(nspans, 2);
	CHECK_INT(stats().closed_early, 1);
	CHECK_INT(stats().conns_open, 0);

	/* read in two pieces: the close after the second */
	kc_client(&k, 34, 40302);
	SEND(&k, "GET /two HTTP/1.1\r\n\r\n", T0 + 20 * MS);
	k_close_unread(&k, TCP_ESTABLISHED, 40, T0 + 21 * MS);
	RECV(&k, "HTTP/1.1 200 OK\r\nContent-Length: 3", T0 + 22 * MS);
	CHECK_INT(stats().conns_open, 1);
	RECV(&k, "\r\n\r\nabc", T0 + 23 * MS);
	CHECK_INT(nspans, 3);
	CHECK_INT(aint(spans[2], "http.response.status_code"), 200);
	CHECK_INT(stats().conns_open, 0);
	return true;
}

static bool test_garbage_then_valid(void)
{
	struct kconn k;
	uint8_t bin[200];
	struct weft_data_rec *r;

	pairing_fresh(0, 0);
	/* "GET " is all the kernel checks: the rest is binary */
	kc_init(&k, 26, 0, "10.0.0.1", 7000, "10.0.0.2", 50015);
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(i * 37 + 11);
	memcpy(bin, "GET \x01\x02\x00\xff", 8);
	CHECK(io(&k, WEFT_DIR_RECV, bin, sizeof(bin), T0) & WEFT_F_MSG_START);
	CHECK_INT(nspans, 0);
	CHECK_INT(stats().framing.not_http, 1);
	/*
	 * No blank line in it, so the kernel still holds that "header block"
	 * open and forwards the next chunks whole; but it judges every chunk,
	 * open block or not, so the first request after the garbage is a
	 * message start and framing resynchronises there.
	 */
	CHECK_INT(fill(&k, WEFT_DIR_RECV, 500, T0 + 1 * MS), 0);
	CHECK_INT(last_cap, 500);
	CHECK_INT(RECV(&k, "GET /first HTTP/1.1\r\n\r\n", T0 + 2 * MS),
		  WEFT_F_MSG_START | WEFT_F_HDR_END);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 3 * MS);
	CHECK_INT(nspans, 1);
	CHECK_STR(astr(spans[0], "url.path"), "/first");
	CHECK_INT(RECV(&k, "GET /valid HTTP/1.1\r\n\r\n", T0 + 4 * MS),
		  WEFT_F_MSG_START | WEFT_F_HDR_END);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 5 * MS);
	CHECK(nspans >= 1);
	CHECK_INT(spans[nspans - 1]->kind, SPAN_KIND_SERVER);
	CHECK_STR(astr(spans[nspans - 1], "url.path"), "/valid");
	CHECK_INT(dur(spans[nspans - 1]), 1 * MS);
	spans_reset();

	/* a start line that the parser rejects at its end */
	{
		uint64_t before = stats().framing.not_http;

		RECV(&k, "GET /x HTTP/9.9\r\n\r\n", T0 + 6 * MS);
		CHECK_INT(stats().framing.not_http, before + 1);
	}
	RECV(&k, "GET /y HTTP/1.1\r\n\r\n", T0 + 7 * MS);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 8 * MS);
	CHECK_INT(nspans, 1);
	CHECK_STR(astr(spans[0], "url.path"), "/y");

	/* not something our BPF sends, but the agent must cope: binary bytes on a
	 * fresh conn with no flags */
	r = calloc(1, sizeof(*r) + sizeof(bin));
	r->h.type = WEFT_REC_DATA;
	r->h.pid = getpid();
	r->h.ts_ns = T0 + 9 * MS;
	r->h.conn.sk = 27;
	r->len = sizeof(bin);
	r->cap_len = sizeof(bin);
	r->dir = WEFT_DIR_RECV;
	r->role = WEFT_ROLE_SERVER;
	memcpy(r->data, bin + 8, sizeof(bin) - 8);
	feed_data(r);
	free(r);
	CHECK_INT(nspans, 1);
	kc_server(&k, 27, 0);
	k.gen = 0;
	k.http = true;
	RECV(&k, "GET /z HTTP/1.1\r\n\r\n", T0 + 10 * MS);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 11 * MS);
	CHECK_INT(nspans, 2);
	CHECK_STR(astr(spans[1], "url.path"), "/z");
	return true;
}

static bool test_b3_sampling(void)
{
	struct kconn k;

	pairing_fresh(0, 0);
	kc_server(&k, 28, 50016);
	RECV(&k, "GET /s0 HTTP/1.1\r\n"
	     "x-b3-traceid: 463ac35c9f6413ad\r\nx-b3-spanid: 0020000000000001\r\n"
	     "x-b3-sampled: 0\r\n\r\n", T0);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 1 * MS);
	RECV(&k, "GET /b3 HTTP/1.1\r\nb3: 0\r\n\r\n", T0 + 2 * MS);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 3 * MS);
	RECV(&k, "GET /dbg HTTP/1.1\r\n"
	     "X-B3-TraceId: 463ac35c9f6413ad48485a3953bb6124\r\n"
	     "X-B3-SpanId: 0020000000000001\r\nX-B3-Sampled: 0\r\nX-B3-Flags: 1\r\n\r\n",
	     T0 + 4 * MS);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 5 * MS);
	CHECK_INT(nspans, 3);
	CHECK(!spans[0]->sampled);
	CHECK_STR(hex(spans[0]->trace_id, 16), "0000000000000000463ac35c9f6413ad");
	CHECK_STR(hex(spans[0]->parent_span_id, 8), "0020000000000001");
	CHECK(!spans[1]->sampled);
	CHECK(!spans[1]->has_parent);
	CHECK(spans[2]->sampled);	/* debug wins */
	CHECK(spans[2]->has_parent);
	return true;
}

static bool test_traceparent(void)
{
	struct kconn k;

	pairing_fresh(0, 0);
	kc_server(&k, 29, 50017);
	RECV(&k, "GET /tp HTTP/1.1\r\n"
	     "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
	     "tracestate: congo=t61rcWkgMzE\r\n\r\n", T0);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
	     "traceparent: 00-11111111111111111111111111111111-2222222222222222-01\r\n\r\n",
	     T0 + 1 * MS);
	RECV(&k, "GET /tp0 HTTP/1.1\r\n"
	     "traceparent: 00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-00\r\n\r\n",
	     T0 + 2 * MS);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 3 * MS);
	CHECK_INT(nspans, 2);
	/* the response's header is never context (which format wins when a
	 * request has several: test_propagation.c, test_sampler.c) */
	CHECK_STR(hex(spans[0]->trace_id, 16), "0af7651916cd43dd8448eb211c80319c");
	CHECK_STR(hex(spans[0]->parent_span_id, 8), "b7ad6b7169203331");
	CHECK(spans[0]->sampled);
	CHECK_STR(spans[0]->trace_state, "congo=t61rcWkgMzE");
	CHECK_STR(hex(spans[1]->trace_id, 16), "0af7651916cd43dd8448eb211c80319c");
	CHECK_STR(hex(spans[1]->parent_span_id, 8), "00f067aa0ba902b7");
	CHECK(!spans[1]->sampled);
	CHECK(spans[1]->trace_state == NULL);
	return true;
}

static bool test_two_conns_interleaved(void)
{
	struct kconn a, b;

	pairing_fresh(0, 0);
	kc_server(&a, 30, 51000);
	kc_server(&b, 31, 51001);
	RECV(&a, "GET /a1 HTTP/1.1\r\n\r\n", T0);
	RECV(&b, "GET /b1 HTTP/1.1\r\n\r\n", T0 + 1 * MS);
	SEND(&b, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234", T0 + 2 * MS);
	SEND(&a, "HTTP/1.1 201 OK\r\nContent-Length: 4\r\n\r\n01", T0 + 3 * MS);
	fill(&b, WEFT_DIR_SEND, 5, T0 + 4 * MS);
	RECV(&b, "GET /b2 HTTP/1.1\r\n\r\n", T0 + 5 * MS);
	fill(&a, WEFT_DIR_SEND, 2, T0 + 6 * MS);
	SEND(&b, "HTTP/1.1 202 OK\r\nContent-Length: 0\r\n\r\n", T0 + 7 * MS);
	CHECK_INT(nspans, 3);
	CHECK_STR(astr(spans[0], "url.path"), "/b1");
	CHECK_INT(aint(spans[0], "client.port"), 51001);
	CHECK_INT(dur(spans[0]), 3 * MS);
	CHECK_STR(astr(spans[1], "url.path"), "/a1");
	CHECK_INT(aint(spans[1], "client.port"), 51000);
	CHECK_INT(aint(spans[1], "http.response.status_code"), 201);
	CHECK_INT(dur(spans[1]), 6 * MS);
	CHECK_STR(astr(spans[2], "url.path"), "/b2");
	CHECK_INT(aint(spans[2], "http.response.status_code"), 202);
	CHECK_INT(stats().conns_open, 2);
	/* same sk, new generation: a different connection */
	k_close(&a, TCP_LAST_ACK, T0 + 8 * MS);
	kc_server(&a, 30, 51002);
	a.gen++;
	RECV(&a, "GET /a2 HTTP/1.1\r\n\r\n", T0 + 9 * MS);
	SEND(&a, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 10 * MS);
	CHECK_INT(nspans, 4);
	CHECK_INT(aint(spans[3], "client.port"), 51002);
	CHECK_INT(stats().conns_open, 2);
	return true;
}

static bool test_flush(void)
{
	struct kconn a, b, c;

	pairing_fresh(0, 0);
	kc_server(&a, 40, 52000);
	kc_server(&b, 41, 52001);
	kc_client(&c, 42, 52002);
	RECV(&a, "GET /p1 HTTP/1.1\r\n\r\nGET /p2 HTTP/1.1\r\n\r\n", T0);
	RECV(&b, "GET /eof HTTP/1.0\r\n\r\n", T0);
	SEND(&b, "HTTP/1.0 200 OK\r\n\r\nbody", T0 + 1 * MS);
	fill(&b, WEFT_DIR_SEND, 100, T0 + 2 * MS);
	SEND(&c, "GET /mid HTTP/1.1\r\n\r\n", T0);
	RECV(&c, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nabc", T0 + 1 * MS);
	CHECK_INT(nspans, 0);
	pairing_flush(cur);
	/* the until-close body is as complete as it gets */
	CHECK_INT(nspans, 1);
	CHECK_STR(astr(spans[0], "url.path"), "/eof");
	CHECK_INT(dur(spans[0]), 2 * MS);
	CHECK_INT(spans[0]->status, SPAN_STATUS_UNSET);
	CHECK_INT(stats().incomplete_at_exit, 3);
	CHECK_INT(stats().conns_open, 0);
	CHECK_INT(stats().closed_early, 0);
	return true;
}

static bool test_sweep(void)
{
	struct kconn a, b;
	const uint64_t idle = 1000 * MS;

	pairing_fresh(0, idle);
	kc_server(&a, 50, 53000);
	kc_server(&b, 51, 53001);
	RECV(&a, "GET /idle HTTP/1.1\r\n\r\n", T0);
	RECV(&b, "GET /busy HTTP/1.1\r\n\r\n", T0 + 500 * MS);
	CHECK_INT(stats().conns_open, 2);
	pairing_sweep(cur, T0 + idle - 1);
	CHECK_INT(stats().conns_open, 2);
	pairing_sweep(cur, T0 + idle);
	CHECK_INT(stats().conns_open, 1);
	CHECK_INT(stats().timed_out, 1);
	CHECK_INT(nspans, 0);
	/* the survivor still works */
	SEND(&b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 1200 * MS);
	CHECK_INT(nspans, 1);
	CHECK_STR(astr(spans[0], "url.path"), "/busy");
	/* records on the swept connection start afresh */
	SEND(&a, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 1300 * MS);
	CHECK_INT(stats().orphan_responses, 1);
	pairing_sweep(cur, T0 + 5000 * MS);
	CHECK_INT(stats().conns_open, 0);
	CHECK_INT(stats().timed_out, 1);	/* nothing pending on either */
	return true;
}

/* link.c rule 4: a client request forwarding the context its thread's server
 * span received is that server span's child. */
static bool test_link_forwarder(void)
{
	struct kconn srv, cli;
	const char *tp = "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n";
	char *req;

	pairing_fresh(0, 0);
	kc_server(&srv, 60, 54000);
	kc_client(&cli, 61, 41000);
	cli.tid = srv.tid;
	CHECK(asprintf(&req, "GET /front HTTP/1.1\r\n%s\r\n", tp) > 0);
	RECV(&srv, req, T0);
	free(req);
	CHECK(asprintf(&req, "GET /back HTTP/1.1\r\nHost: back\r\n%s"
		       "tracestate: k=v\r\n\r\n", tp) > 0);
	SEND(&cli, req, T0 + 1 * MS);
	free(req);
	RECV(&cli, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 2 * MS);
	SEND(&srv, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 3 * MS);
	CHECK_INT(nspans, 2);
	CHECK_INT(spans[0]->kind, SPAN_KIND_CLIENT);
	CHECK_INT(spans[1]->kind, SPAN_KIND_SERVER);
	CHECK_STR(hex(spans[1]->trace_id, 16), "0af7651916cd43dd8448eb211c80319c");
	CHECK_STR(hex(spans[1]->parent_span_id, 8), "b7ad6b7169203331");
	CHECK_STR(hex(spans[0]->trace_id, 16), "0af7651916cd43dd8448eb211c80319c");
	CHECK(spans[0]->has_parent);
	CHECK(memcmp(spans[0]->parent_span_id, spans[1]->span_id, 8) == 0);
	CHECK_STR(spans[0]->trace_state, "k=v");
	CHECK_INT(dur(spans[0]), 1 * MS);
	CHECK_INT(dur(spans[1]), 3 * MS);
	return true;
}

/* link.c rule 2: both ends on this node, matched by 4-tuple and sequence. */
static bool test_link_wire(void)
{
	struct kconn cli, srv;

	pairing_fresh(0, 0);
	kc_client(&cli, 62, 41001);
	kc_server(&srv, 63, 41001);
	srv.seq[WEFT_DIR_RECV] = cli.seq[WEFT_DIR_SEND];
	cli.seq[WEFT_DIR_RECV] = srv.seq[WEFT_DIR_SEND];
	SEND(&cli, "GET /w HTTP/1.1\r\n\r\n", T0);
	RECV(&srv, "GET /w HTTP/1.1\r\n\r\n", T0 + 1 * MS);
	SEND(&srv, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 2 * MS);
	RECV(&cli, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 3 * MS);
	CHECK_INT(nspans, 2);
	CHECK_INT(spans[0]->kind, SPAN_KIND_SERVER);
	CHECK_INT(spans[1]->kind, SPAN_KIND_CLIENT);
	CHECK(memcmp(spans[0]->trace_id, spans[1]->trace_id, 16) == 0);
	CHECK(spans[0]->has_parent);
	CHECK(memcmp(spans[0]->parent_span_id, spans[1]->span_id, 8) == 0);
	CHECK(!spans[1]->has_parent);
	CHECK_INT(dur(spans[0]), 1 * MS);
	CHECK_INT(dur(spans[1]), 3 * MS);
	return true;
}

/*
 * A client span starts no later than its server span (link.c,
 * client_start_clamp): a request in several packets carries the send time
 * of the newest acknowledged one, later than the server's first read.
 * Both orders of the records: the client's first, and the server's first
 * (the server span waits for its client end).
 */
static bool test_link_wire_client_start_clamped(void)
{
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct kconn cli, srv;

	for (int late = 0; late < 2; late++) {
		pairing_fresh(0, 0);
		kc_client(&cli, 62, 41011);
		kc_server(&srv, 63, 41011);
		srv.seq[WEFT_DIR_RECV] = cli.seq[WEFT_DIR_SEND];
		cli.seq[WEFT_DIR_RECV] = srv.seq[WEFT_DIR_SEND];
		if (!late)
			SEND(&cli, "GET /c HTTP/1.1\r\n\r\n", T0 + 2 * MS);
		RECV(&srv, "GET /c HTTP/1.1\r\n\r\n", T0 + 1 * MS);
		if (late)
			SEND(&cli, "GET /c HTTP/1.1\r\n\r\n", T0 + 2 * MS);
		SEND(&srv, ok, T0 + 3 * MS);
		RECV(&cli, ok, T0 + 4 * MS);
		pairing_tick(cur, T0 + 1000 * MS);
		CHECK_INT(nspans, 2);
		CHECK_INT(spans[0]->kind, SPAN_KIND_SERVER);
		CHECK_INT(spans[1]->kind, SPAN_KIND_CLIENT);
		CHECK(memcmp(spans[0]->parent_span_id, spans[1]->span_id, 8) == 0);
		CHECK_INT(spans[1]->start_unix_ns, spans[0]->start_unix_ns);
		CHECK_INT(dur(spans[1]), 3 * MS);
		CHECK_INT(dur(spans[0]), 2 * MS);
		CHECK_INT(lstats().client_starts_moved, 1);
	}
	return true;
}

/*
 * Rule 2 when the records come out of order: on two CPUs the server can
 * read a request, and even answer it, before the client's send tracepoint
 * has put the client's record in the ring. A server span whose client is
 * on this node waits for that record: linked when it comes, with the spans
 * that took its identity meanwhile. A client weft cannot know is local
 * (an address never seen as a local end) makes an unlinked span. A client
 * end that comes after its waiting server span gave up is a miss, counted
 * with how late it came.
 */
static bool test_link_wire_client_late(void)
{
	struct kconn cli, srv, down_c, down_s, cli2, srv2;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct link_stats ls;

	pairing_fresh(0, 0);
	/* the server calls downstream (a child) while its client's record is
	 * still to come; the child's server links to the child (rule 2) */
	kc_init(&cli, 65, WEFT_ROLE_CLIENT, "127.0.0.1", 41005, "127.0.0.1", 8080);
	kc_init(&srv, 66, WEFT_ROLE_SERVER, "127.0.0.1", 8080, "127.0.0.1", 41005);
	kc_init(&down_c, 67, WEFT_ROLE_CLIENT, "127.0.0.1", 41006, "127.0.0.1", 9090);
	kc_init(&down_s, 68, WEFT_ROLE_SERVER, "127.0.0.1", 9090, "127.0.0.1", 41006);
	down_c.tid = srv.tid;
	srv.seq[WEFT_DIR_RECV] = cli.seq[WEFT_DIR_SEND];
	cli.seq[WEFT_DIR_RECV] = srv.seq[WEFT_DIR_SEND];
	down_s.seq[WEFT_DIR_RECV] = down_c.seq[WEFT_DIR_SEND];
	down_c.seq[WEFT_DIR_RECV] = down_s.seq[WEFT_DIR_SEND];
	RECV(&srv, "GET /w HTTP/1.1\r\n\r\n", T0 + 1 * MS);
	SEND(&down_c, "GET /d HTTP/1.1\r\n\r\n", T0 + 2 * MS);
	RECV(&down_s, "GET /d HTTP/1.1\r\n\r\n", T0 + 3 * MS);
	SEND(&down_s, ok, T0 + 4 * MS);
	RECV(&down_c, ok, T0 + 5 * MS);
	SEND(&srv, ok, T0 + 6 * MS);
	CHECK_INT(nspans, 0);		/* all three wait for the client */
	CHECK_INT(lstats().spans_held, 3);
	SEND(&cli, "GET /w HTTP/1.1\r\n\r\n", T0 + 7 * MS);
	CHECK_INT(nspans, 3);		/* out the moment it came */
	RECV(&cli, ok, T0 + 8 * MS);
	CHECK_INT(nspans, 4);
	/* down(server), down(client), server, client: one trace */
	CHECK_STR(astr(spans[3], "url.path"), "/w");
	CHECK_INT(spans[3]->kind, SPAN_KIND_CLIENT);
	for (int i = 0; i < 3; i++)
		CHECK(memcmp(spans[i]->trace_id, spans[3]->trace_id, 16) == 0);
	for (int i = 0; i < 3; i++) {
		const struct span *s = spans[i];

		if (s->kind == SPAN_KIND_SERVER && strcmp(astr(s, "url.path"), "/w") == 0)
			CHECK(memcmp(s->parent_span_id, spans[3]->span_id, 8) == 0);
	}
	ls = lstats();
	CHECK_INT(ls.wire_waited, 1);
	CHECK_INT(ls.wire_misses, 0);

	/* a client address never seen as a local end: no wait, and no count
	 * either (remote callers are most of a node's traffic: recording
	 * each of their spans would cost an allocation apiece) */
	kc_init(&cli2, 69, WEFT_ROLE_CLIENT, "10.9.9.9", 41007, "127.0.0.1", 8080);
	kc_init(&srv2, 70, WEFT_ROLE_SERVER, "127.0.0.1", 8080, "10.9.9.9", 41007);
	srv2.seq[WEFT_DIR_RECV] = cli2.seq[WEFT_DIR_SEND];
	cli2.seq[WEFT_DIR_RECV] = srv2.seq[WEFT_DIR_SEND];
	RECV(&srv2, "GET /x HTTP/1.1\r\n\r\n", T0 + 10 * MS);
	SEND(&srv2, ok, T0 + 11 * MS);
	CHECK_INT(nspans, 5);
	CHECK(!spans[4]->has_parent);
	SEND(&cli2, "GET /x HTTP/1.1\r\n\r\n", T0 + 13 * MS);
	ls = lstats();
	CHECK_INT(ls.wire_misses, 0);
	/* the wait is bounded: a local client that never shows */
	RECV(&srv, "GET /never HTTP/1.1\r\n\r\n", T0 + 20 * MS);
	SEND(&srv, ok, T0 + 21 * MS);
	pairing_tick(cur, T0 + 21 * MS);
	CHECK_INT(nspans, 5);
	pairing_tick(cur, T0 + 20 * MS + PAIRING_LINK_WAIT_MS * MS);
	CHECK_INT(nspans, 6);
	CHECK_STR(astr(spans[5], "url.path"), "/never");
	CHECK(!spans[5]->has_parent);
	/* that connection's client did not show: its next request does not
	 * wait in vain */
	RECV(&srv, "GET /again HTTP/1.1\r\n\r\n", T0 + 200 * MS);
	SEND(&srv, ok, T0 + 201 * MS);
	CHECK_INT(nspans, 7);
	/* the client's record for /never, far too late: a miss, counted */
	SEND(&cli, "GET /never HTTP/1.1\r\n\r\n", T0 + 250 * MS);
	ls = lstats();
	CHECK_INT(ls.wire_misses, 1);
	CHECK_INT(ls.wire_miss_late_max_ns, 230 * MS);
	return true;
}

/*
 * Found by tests/fuzz/fuzz_records.c: a client record whose thread is the
 * one handling the very server span that waits for it (records no kernel
 * side should send: the request handled by the thread that sent it, the
 * client's record late). Linked, the client's identity hung on the wait
 * and the wait on the client: a loop of references never freed (a leak
 * per such request) that the next span held on it walked forever (the
 * agent hung), and two spans each other's parent. Now the server span is
 * not linked to it and goes out at its deadline.
 */
static bool test_link_wire_self_loop(void)
{
	struct kconn cli, srv;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	const struct span *sv = NULL, *cl = NULL;

	pairing_fresh(0, 0);
	kc_init(&cli, 71, WEFT_ROLE_CLIENT, "127.0.0.1", 41008, "127.0.0.1", 8080);
	kc_init(&srv, 72, WEFT_ROLE_SERVER, "127.0.0.1", 8080, "127.0.0.1", 41008);
	srv.seq[WEFT_DIR_RECV] = cli.seq[WEFT_DIR_SEND];
	cli.seq[WEFT_DIR_RECV] = srv.seq[WEFT_DIR_SEND];
	cli.tid = srv.tid;
	RECV(&srv, "GET /loop HTTP/1.1\r\n\r\n", T0 + 1 * MS);	/* waits */
	SEND(&cli, "GET /loop HTTP/1.1\r\n\r\n", T0 + 2 * MS);	/* its own handler */
	SEND(&srv, ok, T0 + 3 * MS);
	RECV(&cli, ok, T0 + 4 * MS);
	pairing_tick(cur, T0 + 1 * MS + PAIRING_LINK_WAIT_MS * MS);
	CHECK_INT(nspans, 2);
	for (int i = 0; i < 2; i++) {
		CHECK(span_sane(spans[i]));
		if (spans[i]->kind == SPAN_KIND_SERVER)
			sv = spans[i];
		else
			cl = spans[i];
	}
	CHECK(sv && cl);
	/* no loop: the client is the server span's child (rule 1), not
	 * its parent too */
	CHECK(!sv->has_parent);
	CHECK(cl->has_parent && memcmp(cl->parent_span_id, sv->span_id, 8) == 0);
	CHECK_INT(lstats().wire_waited, 0);
	return true;	/* pairing_fresh frees it all: LeakSanitizer (make asan) */
}

/* Some processes filtered out (--pid, --comm, --exe): a local client may be
 * one weft does not see, so only connections whose client end was seen
 * before wait. */
static bool test_link_wait_with_process_filters(void)
{
	struct kconn cli, srv, srv2;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	some_processes = true;
	pairing_fresh(0, 0);
	some_processes = false;
	kc_init(&cli, 78, WEFT_ROLE_CLIENT, "127.0.0.1", 41078, "127.0.0.1", 8080);
	kc_init(&srv, 79, WEFT_ROLE_SERVER, "127.0.0.1", 8080, "127.0.0.1", 41078);
	kc_init(&srv2, 80, WEFT_ROLE_SERVER, "127.0.0.1", 8080, "127.0.0.1", 41080);
	srv.seq[WEFT_DIR_RECV] = cli.seq[WEFT_DIR_SEND];
	cli.seq[WEFT_DIR_RECV] = srv.seq[WEFT_DIR_SEND];
	/* an untraced client: no wait */
	RECV(&srv2, "GET /a HTTP/1.1\r\n\r\n", T0);
	SEND(&srv2, ok, T0 + 1 * MS);
	CHECK_INT(nspans, 1);
	/* a traced client, in order: linked; then out of order: waits */
	SEND(&cli, "GET /b HTTP/1.1\r\n\r\n", T0 + 2 * MS);
	RECV(&srv, "GET /b HTTP/1.1\r\n\r\n", T0 + 3 * MS);
	SEND(&srv, ok, T0 + 4 * MS);
	RECV(&cli, ok, T0 + 5 * MS);
	CHECK_INT(nspans, 3);
	RECV(&srv, "GET /c HTTP/1.1\r\n\r\n", T0 + 6 * MS);
	SEND(&srv, ok, T0 + 7 * MS);
	CHECK_INT(nspans, 3);
	SEND(&cli, "GET /c HTTP/1.1\r\n\r\n", T0 + 8 * MS);
	RECV(&cli, ok, T0 + 9 * MS);
	CHECK_INT(nspans, 5);
	CHECK(spans[3]->has_parent);
	CHECK(memcmp(spans[3]->parent_span_id, spans[4]->span_id, 8) == 0);
	CHECK_INT(lstats().wire_misses, 0);
	return true;
}

/* Rule 7 through rule 2: a server whose request carries no sampling flag
 * takes its client's decision (a forwarder that copies only the ids). */
static bool test_link_wire_sampling(void)
{
	struct kconn in, cli, srv;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	pairing_fresh(0, 0);
	kc_server(&in, 81, 50081);
	kc_client(&cli, 82, 41082);
	kc_server(&srv, 83, 41082);
	cli.tid = in.tid;
	srv.seq[WEFT_DIR_RECV] = cli.seq[WEFT_DIR_SEND];
	cli.seq[WEFT_DIR_RECV] = srv.seq[WEFT_DIR_SEND];
	RECV(&in, "GET /a HTTP/1.1\r\nX-B3-TraceId: 463ac35c9f6413ad48485a3953bb6124\r\n"
	     "X-B3-SpanId: a2fb4a1d1a96d312\r\nX-B3-Sampled: 0\r\n\r\n", T0);
	SEND(&cli, "GET /b HTTP/1.1\r\nX-B3-TraceId: 463ac35c9f6413ad48485a3953bb6124\r\n"
	     "X-B3-SpanId: a2fb4a1d1a96d312\r\n\r\n", T0 + 1 * MS);
	RECV(&srv, "GET /b HTTP/1.1\r\nX-B3-TraceId: 463ac35c9f6413ad48485a3953bb6124\r\n"
	     "X-B3-SpanId: a2fb4a1d1a96d312\r\n\r\n", T0 + 2 * MS);
	SEND(&srv, ok, T0 + 3 * MS);
	RECV(&cli, ok, T0 + 4 * MS);
	SEND(&in, ok, T0 + 5 * MS);
	CHECK_INT(nspans, 3);
	for (int i = 0; i < 3; i++)
		CHECK(!spans[i]->sampled);
	return true;
}

/* Records of two CPUs reach the agent slightly out of time order: a client
 * end stamped later than the one after it must not be taken for expired. */
static bool test_link_wire_out_of_order_stamps(void)
{
	struct kconn c1, s1, c2;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	pairing_fresh(0, 0);
	kc_client(&c1, 75, 41075);
	kc_server(&s1, 76, 41075);
	kc_client(&c2, 77, 41077);
	s1.seq[WEFT_DIR_RECV] = c1.seq[WEFT_DIR_SEND];
	c1.seq[WEFT_DIR_RECV] = s1.seq[WEFT_DIR_SEND];
	SEND(&c1, "GET /one HTTP/1.1\r\n\r\n", T0 + 5 * MS);
	SEND(&c2, "GET /two HTTP/1.1\r\n\r\n", T0 + 4 * MS);	/* other CPU */
	RECV(&s1, "GET /one HTTP/1.1\r\n\r\n", T0 + 6 * MS);
	SEND(&s1, ok, T0 + 7 * MS);
	RECV(&c1, ok, T0 + 8 * MS);
	CHECK_INT(nspans, 2);
	CHECK_INT(spans[0]->kind, SPAN_KIND_SERVER);
	CHECK(spans[0]->has_parent);
	CHECK(memcmp(spans[0]->parent_span_id, spans[1]->span_id, 8) == 0);
	return true;
}

/* The server span of path among the spans out so far, or NULL. */
static const struct span *server_span(const char *path)
{
	for (int i = 0; i < nspans; i++)
		if (spans[i]->kind == SPAN_KIND_SERVER &&
		    strcmp(astr(spans[i], "url.path"), path) == 0)
			return spans[i];
	return NULL;
}

static const struct span *client_span(const char *path)
{
	for (int i = 0; i < nspans; i++)
		if (spans[i]->kind == SPAN_KIND_CLIENT &&
		    strcmp(astr(spans[i], "url.path"), path) == 0)
			return spans[i];
	return NULL;
}

/* s is the child of p (rule 2), in p's trace. */
static bool child_of(const struct span *s, const struct span *p)
{
	return s && p && s->has_parent &&
	       memcmp(s->parent_span_id, p->span_id, 8) == 0 &&
	       memcmp(s->trace_id, p->trace_id, 16) == 0;
}

/*
 * Rule 2 through a Kubernetes Service: kube-proxy's DNAT. The client
 * connects to the ClusterIP 10.96.0.10:80, the server pod accepts on
 * 10.244.0.7:8080: the 4-tuples differ, the client's half and the
 * sequence numbers do not. In order, and with the client's record late
 * (the server waits for it, as without NAT).
 */
static bool test_link_wire_dnat(void)
{
	struct kconn cli, srv;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct link_stats ls;

	pairing_fresh(0, 0);
	kc_init(&cli, 90, WEFT_ROLE_CLIENT, "10.244.0.2", 41090, "10.96.0.10", 80);
	kc_init(&srv, 91, WEFT_ROLE_SERVER, "10.244.0.7", 8080, "10.244.0.2", 41090);
	srv.seq[WEFT_DIR_RECV] = cli.seq[WEFT_DIR_SEND];
	cli.seq[WEFT_DIR_RECV] = srv.seq[WEFT_DIR_SEND];
	SEND(&cli, "GET /a HTTP/1.1\r\nHost: svc\r\n\r\n", T0);
	RECV(&srv, "GET /a HTTP/1.1\r\nHost: svc\r\n\r\n", T0 + 1 * MS);
	SEND(&srv, ok, T0 + 2 * MS);
	RECV(&cli, ok, T0 + 3 * MS);
	CHECK_INT(nspans, 2);
	CHECK(child_of(server_span("/a"), client_span("/a")));
	/* the next request's client record comes after the server's whole
	 * exchange: the server span waits, then takes its parent */
	RECV(&srv, "GET /b HTTP/1.1\r\nHost: svc\r\n\r\n", T0 + 10 * MS);
	SEND(&srv, ok, T0 + 11 * MS);
	CHECK_INT(nspans, 2);
	SEND(&cli, "GET /b HTTP/1.1\r\nHost: svc\r\n\r\n", T0 + 12 * MS);
	CHECK_INT(nspans, 3);
	RECV(&cli, ok, T0 + 13 * MS);
	CHECK_INT(nspans, 4);
	CHECK(child_of(server_span("/b"), client_span("/b")));
	ls = lstats();
	CHECK_INT(ls.wire_links, 2);
	CHECK_INT(ls.wire_waited, 1);
	CHECK_INT(ls.wire_misses, 0);
	return true;
}

/*
 * Two Services on the same port (10.96.0.10:80, 10.96.0.11:80) whose
 * endpoints listen on the same port (8080) in two pods, called from one
 * client pod, from one source port (Linux reuses an ephemeral port towards
 * another destination): each server span is the child of the request to
 * its own Service. Then the same again with both requests' first bytes at
 * the same sequence number (a 1 in 2^32 coincidence): the two client ends
 * cannot be told apart, and neither server span takes one.
 */
static bool test_link_wire_dnat_two_services(void)
{
	struct kconn c1, c2, s1, s2;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	for (int same_seq = 0; same_seq <= 1; same_seq++) {
		uint64_t t = T0 + (uint64_t)same_seq * 1000 * MS;

		pairing_fresh(0, 0);
		kc_init(&c1, 92, WEFT_ROLE_CLIENT, "10.244.0.2", 41092, "10.96.0.10", 80);
		kc_init(&c2, 93, WEFT_ROLE_CLIENT, "10.244.0.2", 41092, "10.96.0.11", 80);
		kc_init(&s1, 94, WEFT_ROLE_SERVER, "10.244.0.3", 8080, "10.244.0.2", 41092);
		kc_init(&s2, 95, WEFT_ROLE_SERVER, "10.244.0.4", 8080, "10.244.0.2", 41092);
		if (same_seq)
			c2.seq[WEFT_DIR_SEND] = c1.seq[WEFT_DIR_SEND];
		s1.seq[WEFT_DIR_RECV] = c1.seq[WEFT_DIR_SEND];
		c1.seq[WEFT_DIR_RECV] = s1.seq[WEFT_DIR_SEND];
		s2.seq[WEFT_DIR_RECV] = c2.seq[WEFT_DIR_SEND];
		c2.seq[WEFT_DIR_RECV] = s2.seq[WEFT_DIR_SEND];
		/* both clients' records first, then both servers, crossed */
		SEND(&c1, "GET /one HTTP/1.1\r\n\r\n", t);
		SEND(&c2, "GET /two HTTP/1.1\r\n\r\n", t + 1 * MS);
		RECV(&s2, "GET /two HTTP/1.1\r\n\r\n", t + 2 * MS);
		RECV(&s1, "GET /one HTTP/1.1\r\n\r\n", t + 3 * MS);
		SEND(&s2, ok, t + 4 * MS);
		SEND(&s1, ok, t + 5 * MS);
		RECV(&c1, ok, t + 6 * MS);
		RECV(&c2, ok, t + 7 * MS);
		pairing_tick(cur, t + 10 * MS + PAIRING_LINK_WAIT_MS * MS);
		CHECK_INT(nspans, 4);
		CHECK(server_span("/one") && server_span("/two"));
		if (!same_seq) {
			CHECK(child_of(server_span("/one"), client_span("/one")));
			CHECK(child_of(server_span("/two"), client_span("/two")));
			CHECK_INT(lstats().wire_links, 2);
		} else {
			CHECK(!server_span("/one")->has_parent);
			CHECK(!server_span("/two")->has_parent);
			CHECK_INT(lstats().wire_links, 0);
		}
	}
	return true;
}

/* The same two Services, with the clients' records after the servers'
 * whole exchanges: each waiting server span takes its own client end. */
static bool test_link_wire_dnat_two_services_late(void)
{
	struct kconn c1, c2, s1, s2;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	pairing_fresh(0, 0);
	kc_init(&c1, 100, WEFT_ROLE_CLIENT, "10.244.0.2", 41100, "10.96.0.10", 80);
	kc_init(&c2, 101, WEFT_ROLE_CLIENT, "10.244.0.2", 41100, "10.96.0.11", 80);
	kc_init(&s1, 102, WEFT_ROLE_SERVER, "10.244.0.3", 8080, "10.244.0.2", 41100);
	kc_init(&s2, 103, WEFT_ROLE_SERVER, "10.244.0.4", 8080, "10.244.0.2", 41100);
	s1.seq[WEFT_DIR_RECV] = c1.seq[WEFT_DIR_SEND];
	c1.seq[WEFT_DIR_RECV] = s1.seq[WEFT_DIR_SEND];
	s2.seq[WEFT_DIR_RECV] = c2.seq[WEFT_DIR_SEND];
	c2.seq[WEFT_DIR_RECV] = s2.seq[WEFT_DIR_SEND];
	/* a first request, in order: 10.244.0.2 is known to be on this node */
	SEND(&c1, "GET /first HTTP/1.1\r\n\r\n", T0);
	RECV(&s1, "GET /first HTTP/1.1\r\n\r\n", T0 + 1 * MS);
	SEND(&s1, ok, T0 + 2 * MS);
	RECV(&c1, ok, T0 + 3 * MS);
	CHECK_INT(nspans, 2);
	RECV(&s1, "GET /one HTTP/1.1\r\n\r\n", T0 + 10 * MS);
	RECV(&s2, "GET /two HTTP/1.1\r\n\r\n", T0 + 11 * MS);
	SEND(&s1, ok, T0 + 12 * MS);
	SEND(&s2, ok, T0 + 13 * MS);
	CHECK_INT(nspans, 2);		/* both wait */
	SEND(&c2, "GET /two HTTP/1.1\r\n\r\n", T0 + 14 * MS);
	SEND(&c1, "GET /one HTTP/1.1\r\n\r\n", T0 + 15 * MS);
	CHECK_INT(nspans, 4);
	RECV(&c1, ok, T0 + 16 * MS);
	RECV(&c2, ok, T0 + 17 * MS);
	CHECK_INT(nspans, 6);
	CHECK(child_of(server_span("/one"), client_span("/one")));
	CHECK(child_of(server_span("/two"), client_span("/two")));
	CHECK_INT(lstats().wire_waited, 2);
	CHECK_INT(lstats().wire_misses, 0);
	return true;
}

/*
 * One client port, one sequence number, two destinations: one straight to
 * a server (no NAT) and one through a Service to another. The server whose
 * address the client dialled takes its own client end first, whatever the
 * other one; the NAT'd server then takes the one left. The other order:
 * the NAT'd server, looking first, sees two candidates and takes neither
 * (it waits); the direct one is exact, and once it has taken its own, the
 * one left is the NAT'd server's, found when its span ends.
 */
static bool test_link_wire_exact_before_nat(void)
{
	struct kconn cd, cn, sd, sn;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	for (int nat_first = 0; nat_first <= 1; nat_first++) {
		uint64_t t = T0 + (uint64_t)nat_first * 1000 * MS;

		pairing_fresh(0, 0);
		kc_init(&cd, 96, WEFT_ROLE_CLIENT, "10.244.0.2", 41096, "10.244.0.3", 8080);
		kc_init(&cn, 97, WEFT_ROLE_CLIENT, "10.244.0.2", 41096, "10.96.0.10", 80);
		kc_init(&sd, 98, WEFT_ROLE_SERVER, "10.244.0.3", 8080, "10.244.0.2", 41096);
		kc_init(&sn, 99, WEFT_ROLE_SERVER, "10.244.0.4", 8080, "10.244.0.2", 41096);
		cn.seq[WEFT_DIR_SEND] = cd.seq[WEFT_DIR_SEND];
		sd.seq[WEFT_DIR_RECV] = cd.seq[WEFT_DIR_SEND];
		sn.seq[WEFT_DIR_RECV] = cn.seq[WEFT_DIR_SEND];
		SEND(&cd, "GET /direct HTTP/1.1\r\n\r\n", t);
		SEND(&cn, "GET /nat HTTP/1.1\r\n\r\n", t + 1 * MS);
		if (nat_first) {
			RECV(&sn, "GET /nat HTTP/1.1\r\n\r\n", t + 2 * MS);
			RECV(&sd, "GET /direct HTTP/1.1\r\n\r\n", t + 3 * MS);
		} else {
			RECV(&sd, "GET /direct HTTP/1.1\r\n\r\n", t + 2 * MS);
			RECV(&sn, "GET /nat HTTP/1.1\r\n\r\n", t + 3 * MS);
		}
		SEND(&sd, ok, t + 4 * MS);
		SEND(&sn, ok, t + 5 * MS);
		RECV(&cd, ok, t + 6 * MS);
		RECV(&cn, ok, t + 7 * MS);
		pairing_tick(cur, t + 10 * MS + PAIRING_LINK_WAIT_MS * MS);
		CHECK_INT(nspans, 4);
		CHECK(child_of(server_span("/direct"), client_span("/direct")));
		CHECK(child_of(server_span("/nat"), client_span("/nat")));
		CHECK_INT(lstats().wire_links, 2);
	}
	return true;
}

/* link.c rule 3: a client request with a span id the process made itself is
 * not a span of ours; nothing is emitted for it. */
static bool test_link_own_context(void)
{
	struct kconn cli;

	pairing_fresh(0, 0);
	kc_client(&cli, 64, 41002);
	SEND(&cli, "GET /own HTTP/1.1\r\n"
	     "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n", T0);
	RECV(&cli, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 1 * MS);
	CHECK_INT(nspans, 0);
	CHECK_INT(stats().spans, 0);
	CHECK_INT(stats().orphan_responses, 0);
	/* the stream stays in step, and rule 3 holds for the whole process:
	 * its context-free requests (an exporter's, say) get no span either */
	SEND(&cli, "GET /plain HTTP/1.1\r\n\r\n", T0 + 2 * MS);
	RECV(&cli, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 3 * MS);
	CHECK_INT(nspans, 0);
	CHECK_INT(stats().orphan_responses, 0);
	return true;
}

#define PID_APP		4100001	/* no such process: resources from comm */
#define PID_SIDECAR	4100002
#define PID_COLLECTOR	4100003

/*
 * The mesh demo's sidecar reporting inline: while it handles a user's
 * request (server span on thread T) it POSTs its Zipkin span to a collector
 * on this node from the same thread, then calls upstream. Neither end of the
 * report is a span, the collector's end does not join the user's trace, and
 * the upstream call is still the child of the user's request. Returns the
 * number of spans expected of the app behind the sidecar (1: its server).
 */
static bool telemetry_inline(const char *report_head, bool sidecar_is_own)
{
	struct kconn in, rep_c, rep_s, up_c, up_s;
	const char *ok = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";

	kc_server(&in, 70, 50000);
	in.pid = PID_SIDECAR;
	kc_init(&rep_c, 71, WEFT_ROLE_CLIENT, "127.0.0.1", 41070, "127.0.0.1", 9411);
	kc_init(&rep_s, 72, WEFT_ROLE_SERVER, "127.0.0.1", 9411, "127.0.0.1", 41070);
	rep_c.pid = in.pid;
	rep_c.tid = in.tid;
	rep_s.pid = PID_COLLECTOR;
	rep_s.seq[WEFT_DIR_RECV] = rep_c.seq[WEFT_DIR_SEND];
	rep_c.seq[WEFT_DIR_RECV] = rep_s.seq[WEFT_DIR_SEND];
	kc_init(&up_c, 73, WEFT_ROLE_CLIENT, "127.0.0.1", 41073, "127.0.0.1", 8080);
	kc_init(&up_s, 74, WEFT_ROLE_SERVER, "127.0.0.1", 8080, "127.0.0.1", 41073);
	up_c.pid = in.pid;
	up_c.tid = in.tid;
	up_s.pid = PID_APP;
	up_s.seq[WEFT_DIR_RECV] = up_c.seq[WEFT_DIR_SEND];
	up_c.seq[WEFT_DIR_RECV] = up_s.seq[WEFT_DIR_SEND];

	RECV(&in, "GET /front HTTP/1.1\r\n"
	     "X-B3-TraceId: 463ac35c9f6413ad48485a3953bb6124\r\n"
	     "X-B3-SpanId: a2fb4a1d1a96d312\r\n\r\n", T0);
	SEND(&rep_c, report_head, T0 + 1 * MS);
	fill(&rep_c, WEFT_DIR_SEND, 100, T0 + 1 * MS);
	RECV(&rep_s, report_head, T0 + 2 * MS);
	fill(&rep_s, WEFT_DIR_RECV, 100, T0 + 2 * MS);
	SEND(&rep_s, ok, T0 + 3 * MS);
	RECV(&rep_c, ok, T0 + 4 * MS);
	CHECK_INT(nspans, 0);
	SEND(&up_c, "GET /front HTTP/1.1\r\n"
	     "X-B3-TraceId: 463ac35c9f6413ad48485a3953bb6124\r\n"
	     "X-B3-SpanId: a2fb4a1d1a96d312\r\n\r\n", T0 + 5 * MS);
	RECV(&up_s, "GET /front HTTP/1.1\r\n"
	     "X-B3-TraceId: 463ac35c9f6413ad48485a3953bb6124\r\n"
	     "X-B3-SpanId: a2fb4a1d1a96d312\r\n\r\n", T0 + 6 * MS);
	SEND(&up_s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 7 * MS);
	RECV(&up_c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 8 * MS);
	SEND(&in, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 9 * MS);
	CHECK_INT(stats().orphan_responses, 0);
	CHECK_INT(stats().framing.not_http, 0);
	if (sidecar_is_own) {
		/* rule 3 from its report alone: only the app's server span */
		CHECK_INT(nspans, 1);
		CHECK_INT(spans[0]->kind, SPAN_KIND_SERVER);
		CHECK_INT(lstats().suppressed_server, 2);
	} else {
		/* the report was metrics: the sidecar's spans stay, the app's
		 * server span is the child of the sidecar's client span */
		CHECK_INT(nspans, 3);
		CHECK_INT(spans[0]->kind, SPAN_KIND_SERVER);
		CHECK_INT(spans[1]->kind, SPAN_KIND_CLIENT);
		CHECK_INT(spans[2]->kind, SPAN_KIND_SERVER);
		CHECK(memcmp(spans[0]->parent_span_id, spans[1]->span_id, 8) == 0);
		CHECK(memcmp(spans[1]->parent_span_id, spans[2]->span_id, 8) == 0);
		CHECK_STR(hex(spans[2]->trace_id, 16), "463ac35c9f6413ad48485a3953bb6124");
	}
	CHECK_STR(hex(spans[0]->trace_id, 16), "463ac35c9f6413ad48485a3953bb6124");
	CHECK_INT(lstats().telemetry, 2);	/* one exchange, both ends */
	return true;
}

static bool test_telemetry_inline_report(void)
{
	trace_telemetry = false;
	pairing_fresh(0, 0);
	return telemetry_inline("POST /api/v2/spans HTTP/1.1\r\nHost: collector\r\n"
				"Content-Type: application/json\r\n"
				"Content-Length: 100\r\n\r\n", true);
}

static bool test_telemetry_inline_metrics(void)
{
	trace_telemetry = false;
	pairing_fresh(0, 0);
	return telemetry_inline("POST /otlp/v1/metrics HTTP/1.1\r\nHost: collector\r\n"
				"Content-Type: application/x-protobuf\r\n"
				"Content-Length: 100\r\n\r\n", false);
}

/*
 * A collector on this node: the export it receives is not a span, and a call
 * it makes while handling the export (forwarding to a backend, inline) is
 * part of the pipeline too. Its other requests (a UI, say) are traced.
 * --trace-telemetry: both ends of the export are spans, in a trace of their
 * own (the client's rule-1 parent is never taken), linked by rule 2, and the
 * exporting process's spans are kept although it is rule 3.
 */
static bool collector_round(bool debug)
{
	struct kconn exp_c, exp_s, fwd_c, ui;
	const char *req = "POST /v1/traces HTTP/1.1\r\nHost: c:4318\r\n"
			  "Content-Type: application/x-protobuf\r\n"
			  "Content-Length: 10\r\n\r\n0123456789";
	const char *fwd = "POST /_bulk HTTP/1.1\r\nHost: es\r\n"
			  "Content-Type: application/x-ndjson\r\n"
			  "Content-Length: 0\r\n\r\n";
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct link_stats ls;

	trace_telemetry = debug;
	pairing_fresh(0, 0);
	kc_init(&exp_c, 80, WEFT_ROLE_CLIENT, "127.0.0.1", 41080, "127.0.0.1", 4318);
	kc_init(&exp_s, 81, WEFT_ROLE_SERVER, "127.0.0.1", 4318, "127.0.0.1", 41080);
	exp_c.pid = PID_APP;
	exp_s.pid = PID_COLLECTOR;
	exp_s.seq[WEFT_DIR_RECV] = exp_c.seq[WEFT_DIR_SEND];
	kc_init(&fwd_c, 82, WEFT_ROLE_CLIENT, "127.0.0.1", 41082, "127.0.0.1", 9200);
	fwd_c.pid = PID_COLLECTOR;
	fwd_c.tid = exp_s.tid;
	kc_init(&ui, 83, WEFT_ROLE_SERVER, "127.0.0.1", 16686, "127.0.0.1", 41083);
	ui.pid = PID_COLLECTOR;

	SEND(&exp_c, req, T0);
	RECV(&exp_s, req, T0 + 1 * MS);
	SEND(&fwd_c, fwd, T0 + 2 * MS);
	RECV(&fwd_c, ok, T0 + 3 * MS);
	SEND(&exp_s, ok, T0 + 4 * MS);
	RECV(&exp_c, ok, T0 + 5 * MS);
	RECV(&ui, "GET /api/services HTTP/1.1\r\n\r\n", T0 + 6 * MS);
	SEND(&ui, ok, T0 + 7 * MS);
	/* the UI's client is on loopback but not traced: its span waits for
	 * the client's record until the wait is over */
	pairing_tick(cur, T0 + 7 * MS + PAIRING_LINK_WAIT_MS * MS);
	ls = lstats();
	CHECK_INT(ls.telemetry, 3);
	CHECK_INT(stats().orphan_responses, 0);
	if (!debug) {
		CHECK_INT(nspans, 1);
		CHECK_STR(astr(spans[0], "url.path"), "/api/services");
		CHECK(!spans[0]->has_parent);
		return true;
	}
	/* fwd(client), exp(server), exp(client), ui(server) */
	CHECK_INT(nspans, 4);
	CHECK_INT(spans[0]->kind, SPAN_KIND_CLIENT);
	CHECK_STR(astr(spans[0], "url.path"), "/_bulk");
	CHECK_INT(spans[1]->kind, SPAN_KIND_SERVER);
	CHECK_INT(spans[2]->kind, SPAN_KIND_CLIENT);
	CHECK_STR(astr(spans[2], "url.path"), "/v1/traces");
	CHECK(!spans[2]->has_parent);
	CHECK(memcmp(spans[1]->trace_id, spans[2]->trace_id, 16) == 0);
	CHECK(memcmp(spans[1]->parent_span_id, spans[2]->span_id, 8) == 0);
	CHECK(memcmp(spans[0]->parent_span_id, spans[1]->span_id, 8) == 0);
	CHECK(memcmp(spans[0]->trace_id, spans[1]->trace_id, 16) == 0);
	CHECK(!spans[3]->has_parent);
	return true;
}

static bool test_telemetry_collector(void)
{
	return collector_round(false);
}

static bool test_telemetry_traced_on_request(void)
{
	bool ok = collector_round(true);

	trace_telemetry = false;
	return ok;
}

/* An export of weft's own (its User-Agent: from another node's weft, or
 * this one's through NAT) is never a span, even with --trace-telemetry, nor
 * is what the collector does while handling it. */
static bool test_telemetry_weft_export_never_traced(void)
{
	struct kconn exp_s, fwd_c;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	trace_telemetry = true;
	pairing_fresh(0, 0);
	trace_telemetry = false;
	kc_init(&exp_s, 85, WEFT_ROLE_SERVER, "10.0.0.9", 4318, "10.0.0.2", 41085);
	exp_s.pid = PID_COLLECTOR;
	kc_init(&fwd_c, 86, WEFT_ROLE_CLIENT, "127.0.0.1", 41086, "127.0.0.1", 9200);
	fwd_c.pid = PID_COLLECTOR;
	fwd_c.tid = exp_s.tid;
	RECV(&exp_s, "POST /v1/traces HTTP/1.1\r\nUser-Agent: weft/0.4.0\r\n"
	     "Content-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n", T0);
	SEND(&fwd_c, "POST /_bulk HTTP/1.1\r\nContent-Length: 0\r\n\r\n", T0 + 1 * MS);
	RECV(&fwd_c, ok, T0 + 2 * MS);
	SEND(&exp_s, ok, T0 + 3 * MS);
	CHECK_INT(nspans, 0);
	CHECK_INT(lstats().telemetry, 2);
	return true;
}

/* rule 3 is learnt from a span export and forgotten when the pid runs a new
 * program (exec): a reused pid is not the old process. */
static bool test_telemetry_rule3_forgotten_at_exec(void)
{
	struct kconn exp, srv;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	trace_telemetry = false;
	pairing_fresh(0, 0);
	kc_init(&exp, 90, WEFT_ROLE_CLIENT, "127.0.0.1", 41090, "127.0.0.1", 4318);
	kc_server(&srv, 91, 50091);
	exp.pid = srv.pid = PID_APP;
	SEND(&exp, "POST /v1/traces HTTP/1.1\r\nContent-Length: 0\r\n\r\n", T0);
	RECV(&exp, ok, T0 + 1 * MS);
	RECV(&srv, "GET /a HTTP/1.1\r\n\r\n", T0 + 2 * MS);
	SEND(&srv, ok, T0 + 3 * MS);
	CHECK_INT(nspans, 0);
	CHECK_INT(lstats().suppressed_server, 1);
	pairing_forget_pid(cur, PID_APP);
	RECV(&srv, "GET /b HTTP/1.1\r\n\r\n", T0 + 4 * MS);
	SEND(&srv, ok, T0 + 5 * MS);
	CHECK_INT(nspans, 1);
	CHECK_STR(astr(spans[0], "url.path"), "/b");
	return true;
}

/*
 * Go's server reads the first byte of the next request alone (its
 * background read on a kept-alive connection). The kernel keeps that byte
 * and recognises the rest as a message start; the agent keeps it too and
 * parses the whole request, timed from that first byte.
 */
static bool test_first_byte_alone(void)
{
	struct kconn k;

	pairing_fresh(0, 0);
	kc_server(&k, 95, 50095);
	RECV(&k, "GET /one HTTP/1.1\r\n\r\n", T0);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 1 * MS);
	CHECK_INT(RECV(&k, "G", T0 + 5 * MS), 0);
	CHECK_INT(last_cap, 1);
	CHECK_INT(RECV(&k, "ET /two HTTP/1.1\r\n\r\n", T0 + 6 * MS),
		  WEFT_F_MSG_START | WEFT_F_HDR_END);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 8 * MS);
	CHECK_INT(nspans, 2);
	CHECK_STR(astr(spans[1], "url.path"), "/two");
	CHECK_INT(dur(spans[1]), 3 * MS);
	/* two short reads make the start word only together */
	CHECK_INT(RECV(&k, "P", T0 + 10 * MS), 0);
	CHECK_INT(RECV(&k, "OS", T0 + 11 * MS), 0);
	CHECK_INT(RECV(&k, "T /three HTTP/1.1\r\nContent-Length: 0\r\n\r\n", T0 + 12 * MS),
		  WEFT_F_MSG_START | WEFT_F_HDR_END);
	SEND(&k, "HTTP/1.1 204 No Content\r\n\r\n", T0 + 13 * MS);
	CHECK_INT(nspans, 3);
	CHECK_STR(astr(spans[2], "url.path"), "/three");
	CHECK_STR(spans[2]->name, "POST");
	CHECK_INT(dur(spans[2]), 3 * MS);
	CHECK_INT(stats().framing.not_http, 0);
	return true;
}

/* A malformed chunk-size line: the exchange must not vanish uncounted. */
static bool test_chunked_malformed(void)
{
	struct kconn k;

	pairing_fresh(0, 0);
	kc_server(&k, 65, 54100);
	RECV(&k, "GET /bad HTTP/1.1\r\n\r\n", T0);
	SEND(&k, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", T0 + 1 * MS);
	CHECK_INT(stats().framing.not_http, 1);
	RECV(&k, "GET /next HTTP/1.1\r\n\r\n", T0 + 2 * MS);
	SEND(&k, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", T0 + 3 * MS);
	/* /bad ends at the last byte seen, /next is answered normally */
	CHECK_INT(nspans, 2);
	CHECK_STR(astr(spans[0], "url.path"), "/bad");
	CHECK_INT(aint(spans[0], "http.response.status_code"), 200);
	CHECK_INT(dur(spans[0]), 1 * MS);
	CHECK_STR(astr(spans[1], "url.path"), "/next");
	CHECK_INT(dur(spans[1]), 1 * MS);
	return true;
}

/*
 * chunk_judge on a connection weft does not follow yet (open before it
 * started): a chunk that starts with an HTTP/2 HEADERS frame header is
 * taken (the agent follows it from the middle, h2_new_midstream); the
 * same bytes on a followed connection, and near misses, are not.
 */
static bool test_kernel_h2_mid_start(void)
{
	struct kc_call call;
	/* HEADERS, 4 bytes, END_STREAM|END_HEADERS, stream 41; its block */
	static const uint8_t hdrs[13] = { 0, 0, 4, 1, 0x05, 0, 0, 0, 41,
					  0x82, 0x86, 0xcb, 0xc0 };
	uint8_t b[13];

	CHECK(kc_judge(&call, hdrs, sizeof(hdrs), false));
	CHECK(!kc_judge(&call, hdrs, sizeof(hdrs), true));
	CHECK(!kc_judge(&call, hdrs, 12, false));	/* frame past the chunk */
	CHECK(kc_judge(&call, hdrs, 9, false));		/* ...but its header alone */
	memcpy(b, hdrs, sizeof(b));
	b[4] = 0x01;					/* no END_HEADERS */
	CHECK(!kc_judge(&call, b, sizeof(b), false));
	b[4] = 0x45;					/* an unknown flag */
	CHECK(!kc_judge(&call, b, sizeof(b), false));
	memcpy(b, hdrs, sizeof(b));
	b[3] = 0;					/* DATA */
	CHECK(!kc_judge(&call, b, sizeof(b), false));
	memcpy(b, hdrs, sizeof(b));
	b[5] = 1;					/* stream id >= 2^24 */
	CHECK(!kc_judge(&call, b, sizeof(b), false));
	memcpy(b, hdrs, sizeof(b));
	b[2] = 0;					/* empty block */
	CHECK(!kc_judge(&call, b, sizeof(b), false));
	return true;
}

static bool test_pending_overflow(void)
{
	struct kconn k;
	char reqs[80 * 32] = "", resps[80 * 48] = "", one[64];

	pairing_fresh(0, 0);
	kc_server(&k, 66, 54200);
	for (int i = 0; i < 65; i++) {
		snprintf(one, sizeof(one), "GET /%d HTTP/1.1\r\n\r\n", i);
		strcat(reqs, one);
		strcat(resps, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	}
	RECV(&k, reqs, T0);
	CHECK_INT(last_cap, strlen(reqs));
	CHECK_INT(stats().pending_overflow, 1);
	SEND(&k, resps, T0 + 1 * MS);
	CHECK_INT(nspans, 64);
	CHECK_STR(astr(spans[63], "url.path"), "/63");
	CHECK_INT(stats().orphan_responses, 1);
	return true;
}

/* ---- garbage ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static const char *const frags[] = {
	"GET / HTTP/1.1\r\n", "POST /p HTTP/1.1\r\n", "HEAD /h HTTP/1.0\r\n",
	"CONNECT a:1 HTTP/1.1\r\n", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 100 Continue\r\n",
	"HTTP/1.1 101 Up\r\n", "HTTP/1.0 204 x\r\n", "HTTP/1.1 304 x\r\n",
	"HTTP/1.1 503 x\r\n", "Content-Length: 5\r\n", "Content-Length: 99999999\r\n",
	"Content-Length: 18446744073709551615\r\n", "Transfer-Encoding: chunked\r\n",
	"Expect: 100-continue\r\n", "Upgrade: h2c\r\n", "Host: [::1]:80\r\n",
	"X-B3-Sampled: 0\r\n", "b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1\r\n",
	"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n",
	"\r\n", "\n", "\r\n\r\n", "0\r\n\r\n", "5\r\nhello\r\n", "ffffffffffffffff\r\n",
	"1;x\r\n", "GET ", "HTTP/1.", "\r", ":", " ",
};

/* Random bytes, mostly made of HTTP fragments so the walk goes deep. */
static void rnd_fill(uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (rnd() % 3) {
			const char *f = frags[rnd() % (sizeof(frags) / sizeof(frags[0]))];
			size_t l = strlen(f);

			if (l > n - i)
				l = n - i;
			memcpy(p + i, f, l);
			i += l;
		} else {
			size_t l = 1 + rnd() % 40;

			for (; l && i < n; l--)
				p[i++] = (uint8_t)rnd();
		}
	}
}

static bool fuzz_round(uint32_t hdr_window, uint64_t idle, int records)
{
	uint64_t ts = T0;

	pairing_fresh(hdr_window, idle);
	for (int i = 0; i < records; i++) {
		uint64_t sk = 1 + rnd() % 6, gen = rnd() % 2;

		ts += rnd() % (2 * MS);
		if (rnd() % 20 == 0) {
			struct weft_close_rec *c = calloc(1, sizeof(*c));

			c->h.type = WEFT_REC_CLOSE;
			c->h.pid = getpid();
			c->h.ts_ns = ts;
			c->h.conn.sk = sk;
			c->h.conn.gen = gen;
			c->oldstate = rnd() % 3 ? 1 : 1 + rnd() % 12;
			feed_close(c);
			free(c);
		} else {
			uint32_t len, cap, m = rnd() % 10;
			struct weft_data_rec *r;

			len = m < 6 ? rnd() % 600 : m < 9 ? rnd() % 40000 : (uint32_t)rnd();
			cap = len < WEFT_DATA_MAX ? len : WEFT_DATA_MAX;
			switch (rnd() % 4) {
			case 0:
				cap = 0;
				break;
			case 1:
				cap = cap ? rnd() % (cap + 1) : 0;
				break;
			case 2:	/* more than len: record.c must clamp */
				cap = len < WEFT_DATA_MAX - 64 ? len + rnd() % 64 : cap;
				break;
			}
			r = malloc(sizeof(*r) + cap);
			memset(r, 0, sizeof(*r));
			r->h.type = WEFT_REC_DATA;
			r->h.pid = getpid();
			r->h.tid = getpid();
			r->h.ts_ns = ts;
			r->h.conn.sk = sk;
			r->h.conn.gen = gen;
			r->addr.family = rnd() % 2 ? AF_INET : AF_INET6;
			for (int b = 0; b < 16; b++) {
				r->addr.saddr[b] = (uint8_t)rnd();
				r->addr.daddr[b] = (uint8_t)rnd();
			}
			r->addr.sport = (uint16_t)rnd();
			r->addr.dport = (uint16_t)rnd();
			r->len = len;
			r->cap_len = cap;
			r->flags = rnd() % 32;
			r->dir = rnd() % 2;
			r->role = rnd() % 3;
			r->tail_len = rnd() % (WEFT_TAIL_LEN + 1);
			if (r->tail_len > len)
				r->tail_len = len;
			rnd_fill(r->tail, WEFT_TAIL_LEN);
			if (rnd() % 4 == 0 && r->tail_len >= 5)
				memcpy(r->tail + r->tail_len - 5, "0\r\n\r\n", 5);
			rnd_fill(r->data, cap);
			feed_data(r);
			free(r);
		}
		if (rnd() % 50 == 0)
			pairing_sweep(cur, ts);
		if (rnd() % 300 == 0)
			pairing_flush(cur);
		if (nspans > MAX_SPANS / 2) {
			for (int s = 0; s < nspans; s++)
				CHECK(span_sane(spans[s]));
			spans_reset();
		}
	}
	for (int s = 0; s < nspans; s++)
		CHECK(span_sane(spans[s]));
	pairing_flush(cur);
	CHECK_INT(stats().conns_open, 0);
	return true;
}

static bool test_random_garbage(void)
{
	rng_state = 0x5eed5eed12345678ULL;
	CHECK(fuzz_round(0, 0, 1000));
	CHECK(fuzz_round(64, 20 * MS, 1000));	/* tiny window: truncation paths */
	CHECK(fuzz_round(300, 0, 1000));
	return true;
}

int main(void)
{
	RUN(test_server_keepalive);
	RUN(test_client_role);
	RUN(test_role_unknown_inferred);
	RUN(test_pipelined);
	RUN(test_post_body_split);
	RUN(test_response_body_many_chunks);
	RUN(test_chunked_exact);
	RUN(test_chunked_gaps);
	RUN(test_chunked_split_terminator);
	RUN(test_head_response);
	RUN(test_204_304);
	RUN(test_100_continue);
	RUN(test_101_upgrade);
	RUN(test_until_close);
	RUN(test_close_before_response);
	RUN(test_close_mid_body);
	RUN(test_split_head_cookie);
	RUN(test_truncated_head);
	RUN(test_orphan_response);
	RUN(test_response_before_request);
	RUN(test_conn_lost_by_kernel);
	RUN(test_response_read_after_reset);
	RUN(test_garbage_then_valid);
	RUN(test_b3_sampling);
	RUN(test_traceparent);
	RUN(test_two_conns_interleaved);
	RUN(test_flush);
	RUN(test_sweep);
	RUN(test_chunked_malformed);
	RUN(test_pending_overflow);
	RUN(test_kernel_h2_mid_start);
	RUN(test_first_byte_alone);
	RUN(test_link_forwarder);
	RUN(test_link_wire);
	RUN(test_link_wire_client_start_clamped);
	RUN(test_link_own_context);
	RUN(test_link_wire_client_late);
	RUN(test_link_wire_self_loop);
	RUN(test_link_wire_out_of_order_stamps);
	RUN(test_link_wire_sampling);
	RUN(test_link_wait_with_process_filters);
	RUN(test_link_wire_dnat);
	RUN(test_link_wire_dnat_two_services);
	RUN(test_link_wire_dnat_two_services_late);
	RUN(test_link_wire_exact_before_nat);
	RUN(test_telemetry_inline_report);
	RUN(test_telemetry_inline_metrics);
	RUN(test_telemetry_collector);
	RUN(test_telemetry_traced_on_request);
	RUN(test_telemetry_weft_export_never_traced);
	RUN(test_telemetry_rule3_forgotten_at_exec);
	RUN(test_random_garbage);
	if (cur)
		pairing_free(cur);
	spans_reset();
	procinfo_free_all();
	return TEST_SUMMARY();
}
