// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * agent_replay: the agent's stages 1-5 (record.c -> framing.c ->
 * pairing.c -> link.c -> spanbuild.c) and the JSON writer, fed a record
 * stream laid out the way the kernel side writes it for a saturated
 * `/hello` benchmark: keep-alive connections, one request and one response
 * head each way, a Go server (goroutine per connection), and either only
 * the server traced (bench row h) or both ends on this node (row a: the
 * client's records too, linked by rule 2).
 *
 * Why: issue 14 budgets the agent's CPU per span, and the end-to-end
 * benchmark measures it with a load generator, a server and the kernel
 * side on the same two CPUs; there a run's agent CPU per span moves by
 * 10-15 % between runs, more than most changes to the agent are worth.
 * Here nothing else runs in the process and the input is the same every
 * round: what is left to move the figure is the machine (other load on
 * it), so two builds are compared by alternating them and by the minimum
 * over rounds. It measures the agent alone: no ring buffer, no kernel, no
 * /proc; the resource of each process is made once.
 *
 * Every round must produce the spans weft makes for the traffic: one per
 * request and end, but none for a client that sends its own context (else the
 * exit status is 1): the replay is also a check that the stream is still
 * what the agent takes for this traffic.
 *
 * Usage: agent_replay [-n requests] [-c connections] [-e 1|2] [-x none|b3|w3c]
 *                     [-o json|none] [-r rounds]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "output.h"
#include "pairing.h"
#include "record.h"
#include "span.h"
#include "weft.h"

#define SRV_PID		5000	/* the Go server */
#define CLI_PID		5001	/* the load generator (not Go) */
#define SRV_PORT	8080
#define STEP_NS		2500	/* fake time between records */
#define TICK_NS		(10ULL * 1000000)	/* the agent's poll period */

struct opts {
	long requests, conns, rounds;
	int ends;		/* 1: server only, 2: client and server */
	const char *ctx;	/* none, b3, w3c */
	enum output_fmt out;
};

/* One end of one connection, as the kernel side describes it. */
struct end {
	struct weft_conn_key key;
	struct weft_addr addr;
	uint32_t tx_seq, rx_seq;	/* next byte each way */
	uint64_t g;
};

struct replay {
	struct opts o;
	struct end *srv, *cli;
	uint8_t *rec;			/* one record, rebuilt for each chunk */
	size_t rec_cap;
	uint64_t now;			/* fake CLOCK_MONOTONIC */
	uint64_t spans;
	FILE *sink;
	struct resource *res_srv, *res_cli;
	char req[512], resp[256];
	size_t req_len, resp_len;
};

static struct replay *R;

static void on_span(struct span *s, void *ctx)
{
	struct replay *r = ctx;

	r->spans++;
	output_span(r->sink, r->o.out, s);
	span_free(s);
}

static bool is_go(uint32_t pid)
{
	return pid == SRV_PID;
}

static uint64_t g_parent(uint32_t pid, uint64_t g)
{
	return 0;	/* the walk a real agent makes through the kernel map */
}

static struct resource *resource_of(uint32_t pid, const char *comm)
{
	struct resource *res = pid == SRV_PID ? R->res_srv : R->res_cli;

	resource_ref(res);
	return res;
}

static struct resource *make_resource(uint32_t pid, const char *name)
{
	struct resource *res = resource_new(pid);

	resource_set_str(res, "service.name", name);
	resource_set_str(res, "host.name", "bench-node");
	resource_set_int(res, "process.pid", pid);
	resource_set_str(res, "process.executable.name", name);
	resource_set_str(res, "telemetry.sdk.name", "weft");
	return res;
}

/* The bytes of the benchmark: wrk's request, Go's response to /hello. */
static void make_messages(struct replay *r)
{
	char ctx[160] = "";

	if (strcmp(r->o.ctx, "b3") == 0)
		snprintf(ctx, sizeof(ctx),
			 "X-B3-TraceId: 463ac35c9f6413ad48485a3953bb6124\r\n"
			 "X-B3-SpanId: a2fb4a1d1a96d312\r\nX-B3-Sampled: 1\r\n");
	else if (strcmp(r->o.ctx, "w3c") == 0)
		snprintf(ctx, sizeof(ctx),
			 "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n");
	r->req_len = snprintf(r->req, sizeof(r->req),
			      "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n",
			      SRV_PORT, ctx);
	r->resp_len = snprintf(r->resp, sizeof(r->resp),
			       "HTTP/1.1 200 OK\r\nDate: Thu, 03 Dec 2026 18:00:00 GMT\r\n"
			       "Content-Length: 5\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello");
}

static void ends_init(struct replay *r)
{
	for (long k = 0; k < r->o.conns; k++) {
		struct end *s = &r->srv[k], *c = &r->cli[k];
		uint16_t cport = 40000 + k;

		memset(s, 0, sizeof(*s));
		memset(c, 0, sizeof(*c));
		s->key.sk = 0xffff888100000000ULL + k * 0x1000;
		c->key.sk = 0xffff888200000000ULL + k * 0x1000;
		s->key.gen = c->key.gen = 1;
		s->addr.family = c->addr.family = AF_INET;
		memcpy(s->addr.saddr, "\x7f\0\0\x01", 4);
		memcpy(s->addr.daddr, "\x7f\0\0\x01", 4);
		c->addr = s->addr;
		s->addr.sport = SRV_PORT;
		s->addr.dport = cport;
		c->addr.sport = cport;
		c->addr.dport = SRV_PORT;
		/* one byte stream each way: the client's sends are the
		 * server's reads, with the same sequence numbers */
		c->tx_seq = s->rx_seq = 1000 + 77 * k;
		s->tx_seq = c->rx_seq = 5000 + 91 * k;
		s->g = 0xc000100000ULL + k * 0x1a0;
		c->g = 0;
	}
}

static void chunk(struct replay *r, struct pairing *p, struct end *e, uint32_t pid,
		  uint8_t role, uint8_t dir, const char *bytes, size_t len)
{
	struct weft_data_rec *d = (struct weft_data_rec *)r->rec;
	size_t tail = len < WEFT_TAIL_LEN ? len : WEFT_TAIL_LEN;
	struct record rec;

	memset(d, 0, sizeof(*d));
	d->h.type = WEFT_REC_DATA;
	d->h.pid = pid;
	d->h.tid = pid;
	d->h.ts_ns = r->now;
	d->h.conn = e->key;
	d->addr = e->addr;
	d->g = e->g;
	d->seq = dir == WEFT_DIR_SEND ? e->tx_seq : e->rx_seq;
	d->len = len;
	d->cap_len = len;
	d->flags = WEFT_F_MSG_START | WEFT_F_HDR_END;
	d->dir = dir;
	d->role = role;
	d->tail_len = tail;
	memcpy(d->comm, pid == SRV_PID ? "goserver" : "wrk", pid == SRV_PID ? 9 : 4);
	memcpy(d->tail, bytes + len - tail, tail);
	memcpy(d->data, bytes, len);
	if (dir == WEFT_DIR_SEND)
		e->tx_seq += len;
	else
		e->rx_seq += len;
	r->now += STEP_NS;
	if (record_decode(d, sizeof(*d) + len, &rec) != REC_CHUNK) {
		fprintf(stderr, "agent_replay: record not decoded as a chunk\n");
		exit(2);
	}
	pairing_chunk(p, &rec.chunk);
}

/* One round: a fresh agent pipeline, every request once; CPU ns per span. */
static double round_ns(struct replay *r)
{
	struct pairing_opts po = {
		.hdr_window = 1024,
		.is_go = is_go,
		.resource_of = resource_of,
		/* row h runs weft with --pid: the client end is not waited for */
		.link = { .g_parent = g_parent, .some_processes = r->o.ends == 1 },
		.idle_timeout_ns = 60ULL * 1000000000,
	};
	struct timespec t0, t1;
	/* a client that sends its own context is taken for an instrumented
	 * process: its spans are its SDK's to make, not weft's (rule 3) */
	uint64_t next_tick, want = r->o.requests *
		(r->o.ends == 2 && strcmp(r->o.ctx, "none") == 0 ? 2 : 1);
	struct pairing *p;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r->now = t0.tv_sec * 1000000000ULL + t0.tv_nsec;
	next_tick = r->now + TICK_NS;
	r->spans = 0;
	ends_init(r);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	p = pairing_new(&po, on_span, r);
	for (long i = 0; i < r->o.requests; i++) {
		long k = i % r->o.conns;
		struct end *s = &r->srv[k], *c = &r->cli[k];

		if (r->o.ends == 2)
			chunk(r, p, c, CLI_PID, WEFT_ROLE_CLIENT, WEFT_DIR_SEND, r->req, r->req_len);
		chunk(r, p, s, SRV_PID, WEFT_ROLE_SERVER, WEFT_DIR_RECV, r->req, r->req_len);
		chunk(r, p, s, SRV_PID, WEFT_ROLE_SERVER, WEFT_DIR_SEND, r->resp, r->resp_len);
		if (r->o.ends == 2)
			chunk(r, p, c, CLI_PID, WEFT_ROLE_CLIENT, WEFT_DIR_RECV, r->resp, r->resp_len);
		if (r->now >= next_tick) {
			pairing_tick(p, r->now);
			next_tick = r->now + TICK_NS;
		}
	}
	pairing_free(p);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	if (r->spans != want) {
		fprintf(stderr, "agent_replay: %llu spans for %llu expected: the stream is "
			"no longer what the agent takes for this traffic\n",
			(unsigned long long)r->spans, (unsigned long long)want);
		exit(1);
	}
	return ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / r->spans;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr, "usage: agent_replay [-n requests] [-c connections] [-e 1|2] "
		"[-x none|b3|w3c] [-o json|none] [-r rounds]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct replay r = { .o = { .requests = 200000, .conns = 64, .rounds = 5,
				   .ends = 1, .ctx = "none", .out = OUTPUT_JSON } };
	double *ns;
	int c;

	while ((c = getopt(argc, argv, "n:c:e:x:o:r:")) != -1) {
		switch (c) {
		case 'n': r.o.requests = atol(optarg); break;
		case 'c': r.o.conns = atol(optarg); break;
		case 'e': r.o.ends = atoi(optarg); break;
		case 'x': r.o.ctx = optarg; break;
		case 'r': r.o.rounds = atol(optarg); break;
		case 'o':
			if (strcmp(optarg, "json") == 0)
				r.o.out = OUTPUT_JSON;
			else if (strcmp(optarg, "none") == 0)
				r.o.out = OUTPUT_NONE;
			else
				usage();
			break;
		default:
			usage();
		}
	}
	if (r.o.requests < 1 || r.o.conns < 1 || r.o.conns > 20000 || r.o.rounds < 1 ||
	    r.o.rounds > 100 || (r.o.ends != 1 && r.o.ends != 2) ||
	    (strcmp(r.o.ctx, "none") && strcmp(r.o.ctx, "b3") && strcmp(r.o.ctx, "w3c")))
		usage();
	R = &r;
	r.sink = fopen("/dev/null", "we");
	r.srv = calloc(r.o.conns, sizeof(*r.srv));
	r.cli = calloc(r.o.conns, sizeof(*r.cli));
	r.rec_cap = sizeof(struct weft_data_rec) + sizeof(r.req);
	r.rec = calloc(1, r.rec_cap);
	ns = calloc(r.o.rounds, sizeof(*ns));
	if (!r.sink || !r.srv || !r.cli || !r.rec || !ns) {
		perror("agent_replay");
		return 2;
	}
	setvbuf(r.sink, NULL, _IOFBF, 256 << 10);	/* as weft does for a file */
	r.res_srv = make_resource(SRV_PID, "goserver");
	r.res_cli = make_resource(CLI_PID, "wrk");
	make_messages(&r);
	printf("agent_replay: %ld requests on %ld connections, %s traced, context %s, "
	       "output %s\n", r.o.requests, r.o.conns,
	       r.o.ends == 2 ? "both ends" : "the server only", r.o.ctx,
	       r.o.out == OUTPUT_JSON ? "json" : "none");
	for (long i = 0; i < r.o.rounds; i++) {
		ns[i] = round_ns(&r);
		printf("  round %ld: %.0f ns/span (%llu spans)\n", i + 1, ns[i],
		       (unsigned long long)r.spans);
	}
	qsort(ns, r.o.rounds, sizeof(*ns), cmp_double);
	printf("agent CPU per span: median %.0f ns, min %.0f, max %.0f\n",
	       ns[r.o.rounds / 2], ns[0], ns[r.o.rounds - 1]);
	resource_unref(r.res_srv);
	resource_unref(r.res_cli);
	fclose(r.sink);
	free(r.srv);
	free(r.cli);
	free(r.rec);
	free(ns);
	return 0;
}
