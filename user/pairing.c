// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Requests paired with responses, per connection: see pairing.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pairing.h"
#include "exchange.h"
#include "spanbuild.h"
#include "telemetry.h"
#include "h2.h"

#define CONN_BUCKETS	16384
#define MAX_PENDING	64	/* pipelined requests waiting per connection */
/*
 * An HTTP/2 connection is forgotten only after this many idle timeouts:
 * its HPACK tables cannot be had again once dropped, and gRPC channels
 * idle for minutes between calls (no keepalive pings by default).
 */
#define H2_IDLE_MULT	12
/* An HTTP/2 server's SETTINGS may come before the client preface: kept
 * (up to this much) until the preface says the connection is HTTP/2. */
#define H2_EARLY_MAX	1024
/*
 * A client's response can reach us before the request it answers. The
 * kernel side sends a write's record when the socket call returns; a
 * client that writes on one thread and reads on another (Go: writeLoop
 * and readLoop) has the reader's record first when the writer is
 * preempted in between (seen under load: a client span lost, its response
 * an orphan). A read's record says where the socket's sends had got to
 * (tx_seq): when sends up to there have not come yet, the read waits for
 * them, a few chunks and briefly, and goes when they come, when a later
 * send shows they were lost (a full ring buffer), or when time is up.
 */
#define HOLD_MAX	8			/* chunks per connection */
#define HOLD_BYTES_MAX	(4u << 20)		/* all connections */
#define HOLD_NS		(200ULL * 1000000ULL)
/*
 * A connection closed (reset, mostly) with bytes the application has not
 * read yet: their records come after the close's, so the close waits for
 * them, at most this long.
 */
#define CLOSE_WAIT_NS	(1000ULL * 1000000ULL)

struct held {
	struct held *next;
	struct chunk ck;	/* data and tail point into bytes[] */
	uint8_t bytes[];
};

struct conn {
	struct conn *hnext;
	struct weft_conn_key key;
	struct conn_info ci;
	struct stream s[2];	/* by enum weft_dir */
	struct exchange *q_head, *q_tail;
	int q_len;
	struct exchange *resp;	/* exchange whose response is in progress */
	uint64_t last_ns;
	bool upgraded;		/* 101 / CONNECT: not HTTP any more */
	bool http1;		/* an HTTP/1 head was seen: never HTTP/2 */
	struct h2_conn *h2;	/* started with the preface: HTTP/2 */
	bool stop_asked;	/* h2 given up: the kernel side asked to stop
				 * copying it (or its table was full) */
	uint32_t pid;		/* of its last chunk */
	uint8_t *early;		/* frames that came before the preface */
	uint32_t early_len;
	enum weft_dir early_dir;
	struct chunk early_ck;	/* the first of them, for its metadata */
	/* the first bytes of the request direction while they could still
	 * be the preface read in pieces (framing sees them too) */
	uint8_t lead[H2_PREFACE_LEN];
	uint32_t lead_len;
	bool lead_done;
	enum weft_dir lead_dir;
	uint64_t lead_ns;
	uint32_t lead_seq;
	/* where the socket's own sends seen so far ended (HOLD_*) */
	bool tx_known;
	uint32_t tx_end;
	/* reads waiting for sends up to wait_seq */
	struct held *held, *held_tail;
	int n_held;
	uint32_t wait_seq;
	uint64_t held_since;
	struct conn *held_next;	/* pairing's list of connections holding */
	/* closed with unread bytes: the close, once they are read */
	bool closing;
	struct conn_end close;	/* close.unread counts down */
	uint64_t closing_since;
	struct conn *closing_next;
};

/* The sink framing (and h2) hand heads and response ends to. */
struct feed {
	struct pairing *p;
	struct conn *c;
};

#define H2IDX_BUCKETS 4096

struct pairing {
	struct pairing_opts o;
	span_cb cb;
	void *cb_ctx;
	struct conn *tab[CONN_BUCKETS];
	struct pairing_stats stats;
	struct link *link;
	struct conn *holding;	/* connections with held reads */
	struct conn *closing;	/* connections closed with bytes unread */
	/* HTTP/2 server streams at work, by (pid, reading goroutine, id) */
	struct exchange *h2idx[H2IDX_BUCKETS];
	/* requests of connections older than weft, waiting for the fields
	 * their Go server decoded (h2_on_pending) */
	struct h2_pend *pends;
	uint32_t n_pends;
	/* the fields grpc-go wrote lately (a ring, WRITTEN_MAX) */
	struct written *written;
	uint32_t written_next;
	size_t held_bytes;
	uint64_t now;		/* the last pairing_tick's */
};

/*
 * A request of a connection older than weft that h2.c could not decode
 * (HPACK entries from before), in a Go process: kept, with what h2.c did
 * decode, until the fields the server decoded itself come
 * (pairing_go_h2_fields: go_h2_fields, attached now if it was not).
 * Never longer than PEND_NS; at most PEND_MAX at once.
 */
#define PEND_NS		(2ULL * 1000000000ULL)
#define PEND_MAX	4096

/*
 * The fields grpc-go's writer recorded (WEFT_GO_FIELDS_WRITTEN) before it
 * encoded and sent them: the last WRITTEN_MAX, each usable for WRITTEN_NS,
 * for the blocks of connections older than weft that name entries from
 * before (h2_on_written). Allocated at the first such record.
 */
#define WRITTEN_MAX	256
#define WRITTEN_NS	(2ULL * 1000000000ULL)

struct written {
	uint32_t pid, stream_id;
	uint64_t ts_ns;
	unsigned n, total;
	uint8_t used;		/* 1: by the writer's block, 2: its peer's */
	uint16_t len;
	uint8_t data[WEFT_GO_FIELDS_MAX];
};

struct h2_pend {
	struct h2_pend *next;
	struct conn *c;
	uint32_t pid, stream_id;
	uint64_t first_ns;
	uint32_t first_seq;
	struct chunk ck;		/* the block's last chunk, no bytes */
	uint64_t born;
	bool ended, dead;
	struct h2_response resp;
	char grpc_message[H2_GRPC_MSG_MAX];
	uint32_t n_fields;
	size_t known_len;
	char known[H2_KNOWN_MAX];
};

static void pend_unlink(struct pairing *p, struct h2_pend *pd)
{
	struct h2_pend **pp = &p->pends;

	while (*pp && *pp != pd)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = pd->next;
		p->n_pends--;
	}
	free(pd);
}

struct pairing *pairing_new(const struct pairing_opts *o, span_cb cb, void *ctx)
{
	struct pairing *p = calloc(1, sizeof(*p));

	if (!p)
		abort();
	p->o = *o;
	if (!p->o.hdr_window)
		p->o.hdr_window = WEFT_HDR_WINDOW_DEFAULT;
	if (!p->o.idle_timeout_ns)
		p->o.idle_timeout_ns = 300ULL * 1000000000ULL;
	p->cb = cb;
	p->cb_ctx = ctx;
	p->o.link.emit = cb;
	p->o.link.emit_ctx = ctx;
	if (!p->o.link.wait_ns)
		p->o.link.wait_ns = PAIRING_LINK_WAIT_MS * 1000000ULL;
	p->link = link_new(&p->o.link);
	return p;
}

/* By socket address alone: a socket's earlier generation shares its
 * bucket (conn_get finds it there). */
static unsigned bucket(const struct weft_conn_key *k)
{
	uint64_t h = k->sk * 0x9e3779b97f4a7c15ULL;

	h ^= h >> 29;
	return (unsigned)(h % CONN_BUCKETS);
}

static void conn_free(struct pairing *p, struct conn *c);
static void close_now(struct pairing *p, struct conn *c, const struct conn_end *e);

/*
 * A socket address seen with a new generation while an older one is open
 * here, with no close record between: the kernel side lost that socket's
 * state (its LRU table was full and evicted it; a later message start
 * made a new entry) or the close record was lost (ring buffer full, and
 * the address reused). Either way the old connection will hear nothing
 * more: forgotten, counted, its requests with it.
 */
static void conn_lost(struct pairing *p, struct conn *c)
{
	p->stats.conns_lost++;
	p->stats.conns_lost_exchanges += c->q_len + (c->resp ? 1 : 0) +
					 (c->h2 ? h2_open_streams(c->h2) : 0);
	conn_free(p, c);
}

static struct conn *conn_get(struct pairing *p, const struct weft_conn_key *k,
			     bool create)
{
	struct conn **head = &p->tab[bucket(k)], *c, *old = NULL;

	for (c = *head; c; c = c->hnext) {
		if (c->key.sk != k->sk)
			continue;
		if (c->key.gen == k->gen)
			return c;
		if (c->key.gen < k->gen)
			old = c;
	}
	if (!create)
		return NULL;
	if (old && old->closing) {
		struct conn_end e = old->close;

		close_now(p, old, &e);	/* its unread bytes never came */
	} else if (old) {
		conn_lost(p, old);
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	c->key = *k;
	c->ci.conn = *k;
	c->hnext = *head;
	*head = c;
	if (++p->stats.conns_open > p->stats.conns_open_peak)
		p->stats.conns_open_peak = p->stats.conns_open;
	return c;
}

static unsigned h2idx_bucket(uint32_t pid, uint64_t g, uint32_t id)
{
	uint64_t h = (g ^ ((uint64_t)pid << 32 | id)) * 0x9e3779b97f4a7c15ULL;

	return (unsigned)(h >> 40) % H2IDX_BUCKETS;
}

static void h2idx_del(struct pairing *p, struct exchange *ex)
{
	struct exchange **pp = &p->h2idx[h2idx_bucket(ex->pid, ex->g, ex->h2_stream_id)];

	for (; *pp; pp = &(*pp)->h2_next)
		if (*pp == ex) {
			*pp = ex->h2_next;
			break;
		}
	ex->h2_indexed = false;
}

static struct exchange *h2idx_find(struct pairing *p, uint32_t pid, uint64_t g,
				   uint32_t id)
{
	struct exchange *ex = p->h2idx[h2idx_bucket(pid, g, id)];

	for (; ex; ex = ex->h2_next)
		if (ex->pid == pid && ex->g == g && ex->h2_stream_id == id)
			return ex;
	return NULL;
}

static void exchange_free(struct pairing *p, struct exchange *ex)
{
	if (!ex)
		return;
	if (ex->h2_indexed)
		h2idx_del(p, ex);
	/* linking may hold a pointer to a server exchange at work */
	link_forget(p->link, ex);
	resource_unref(ex->res);
	free(ex->tracestate);
	free(ex->grpc_message);
	http_msg_free(ex->req);
	free(ex);
}

static void h2_sink_of(struct pairing *p, struct conn *c, struct feed *f,
		       struct h2_sink *k);

/* Take c off the list of connections holding reads; its held chunks are
 * the caller's. */
static struct held *unhold(struct pairing *p, struct conn *c)
{
	struct conn **pp = &p->holding;
	struct held *h = c->held;

	if (!c->n_held)
		return NULL;
	while (*pp && *pp != c)
		pp = &(*pp)->held_next;
	if (*pp)
		*pp = c->held_next;
	c->held_next = NULL;
	c->held = c->held_tail = NULL;
	c->n_held = 0;
	return h;
}

static void held_free(struct pairing *p, struct held *h)
{
	p->held_bytes -= sizeof(*h) + h->ck.cap + h->ck.tail_len;
	free(h);
}

static void conn_free(struct pairing *p, struct conn *c)
{
	struct conn **pp = &p->tab[bucket(&c->key)];

	/* requests kept past their stream's end still name c */
	for (struct h2_pend *pd = p->pends, *n; pd; pd = n) {
		n = pd->next;
		if (pd->c == c && pd->ended) {
			p->stats.h2.mid_pending_lost++;
			pend_unlink(p, pd);
		}
	}

	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	if (c->h2) {
		struct feed f;
		struct h2_sink k;

		/* streams still open were counted by the caller */
		h2_sink_of(p, c, &f, &k);
		h2_end_all(c->h2, 0, H2_END_DROP, &k);
		h2_free(c->h2);
	}
	if (c->closing) {
		struct conn **cp = &p->closing;

		while (*cp && *cp != c)
			cp = &(*cp)->closing_next;
		if (*cp)
			*cp = c->closing_next;
	}
	free(c->early);
	for (struct held *h = unhold(p, c), *n; h; h = n) {
		n = h->next;
		held_free(p, h);
	}
	for (int d = 0; d < 2; d++)
		framing_free(&c->s[d]);
	while (c->q_head) {
		struct exchange *ex = c->q_head;

		c->q_head = ex->next;
		exchange_free(p, ex);
	}
	exchange_free(p, c->resp);
	free(c);
	p->stats.conns_open--;
}

static enum weft_dir req_dir(const struct conn *c)
{
	return c->ci.role == WEFT_ROLE_CLIENT ? WEFT_DIR_SEND : WEFT_DIR_RECV;
}

static void emit(struct pairing *p, struct conn *c, struct exchange *ex)
{
	enum link_verdict v = link_done(p->link, ex, &c->ci);
	struct span *s;

	if (v == LINK_DROP)
		return;
	s = exchange_to_span(ex, &c->ci);
	p->stats.spans++;
	if (v == LINK_HOLD)
		link_hold(p->link, ex, s);	/* out through cb, later */
	else
		p->cb(s, p->cb_ctx);
}

/* A response ended (by framing or by the close): its exchange is a span. */
static void response_done(struct pairing *p, struct conn *c, uint64_t end_ns,
			  enum exch_end how)
{
	struct exchange *ex = c->resp;

	if (!ex)
		return;
	c->resp = NULL;
	ex->end_ns = end_ns;
	ex->how = how;
	emit(p, c, ex);
	exchange_free(p, ex);
}

/* A request (its head m, taken) becomes an exchange whose identity linking
 * decides now. ck is the chunk in which the head ended. */
static struct exchange *exchange_new(struct pairing *p, struct conn *c,
				     struct http_msg *m, uint64_t first_ns,
				     uint32_t first_seq, bool truncated,
				     const struct chunk *ck)
{
	struct exchange *ex = calloc(1, sizeof(*ex));

	if (!ex)
		abort();
	ex->req = m;
	ex->pid = ck->pid;
	ex->tid = ck->tid;
	ex->g = ck->g;
	ex->origin_g = ck->origin_g;
	memcpy(ex->comm, ck->comm, sizeof(ex->comm));
	ex->req_seq = first_seq;
	if (p->o.resource_of)
		ex->res = p->o.resource_of(ck->pid, ex->comm);
	ex->start_ns = first_ns;
	ex->head_truncated = truncated;
	ex->tls = ck->flags & WEFT_F_TLS;
	ex->telemetry = telemetry_classify(ex->req);
	link_request(p->link, ex, &c->ci, p->o.is_go && p->o.is_go(ck->pid),
		     ck->ts_ns);
	return ex;
}

/* Queues the request as an exchange, which takes h->m (left alone when the
 * request was dropped). */
static void on_request(struct pairing *p, struct conn *c,
		       struct framing_head *h)
{
	struct exchange *ex;

	if (c->q_len >= MAX_PENDING) {
		p->stats.pending_overflow++;
		return;
	}
	ex = exchange_new(p, c, h->m, h->first_ns, h->first_seq, h->truncated,
			  h->ck);
	h->m = NULL;
	if (c->q_tail)
		c->q_tail->next = ex;
	else
		c->q_head = ex;
	c->q_tail = ex;
	c->q_len++;
}

/* A response head arrived: pair it with the oldest waiting request. */
static struct exchange *on_response(struct pairing *p, struct conn *c,
				    const struct http_msg *m)
{
	struct exchange *ex = c->q_head;

	if (!ex) {
		p->stats.orphan_responses++;
		return NULL;
	}
	if (m->status >= 100 && m->status < 200 && m->status != 101)
		return ex;	/* interim (100 Continue): the final one follows */
	c->q_head = ex->next;
	if (!c->q_head)
		c->q_tail = NULL;
	c->q_len--;
	ex->next = NULL;
	ex->status = m->status;
	/* a previous response still open (until-close framing) cannot be */
	exchange_free(p, c->resp);
	c->resp = ex;
	return ex;
}


static enum framing_verdict on_head(void *ctx, enum weft_dir d,
				    struct framing_head *h,
				    char method[HTTP_METHOD_MAX])
{
	struct feed *f = ctx;
	struct conn *c = f->c;
	const struct http_msg *m = h->m;
	struct exchange *ex;

	if (c->ci.role == WEFT_ROLE_UNKNOWN)
		c->ci.role = (m->is_request == (d == WEFT_DIR_SEND)) ?
			     WEFT_ROLE_CLIENT : WEFT_ROLE_SERVER;
	/* a request where responses flow: not an HTTP peer we follow */
	if (m->is_request != (d == req_dir(c)))
		return FRAMING_REJECT;
	c->http1 = true;
	if (m->is_request) {
		on_request(f->p, c, h);
		return FRAMING_BODY;
	}
	ex = on_response(f->p, c, m);
	if (ex)
		memcpy(method, ex->req->method, HTTP_METHOD_MAX);
	if (m->status == 101 ||
	    (strcmp(method, "CONNECT") == 0 && m->status / 100 == 2)) {
		response_done(f->p, c, h->ck->ts_ns, EXCH_DONE);
		c->upgraded = true;
		/* HTTP/2 may follow (Upgrade: h2c; prior knowledge inside a
		 * tunnel): its preface is looked for again */
		c->lead_done = false;
		c->lead_len = 0;
		return FRAMING_UPGRADED;
	}
	return FRAMING_BODY;
}

static void on_response_end(void *ctx, uint64_t end_ns)
{
	struct feed *f = ctx;

	response_done(f->p, f->c, end_ns, EXCH_DONE);
}

/*
 * Where a response had to start, the peer sent bytes that are no HTTP
 * response: the requests waiting on this connection were HTTP-looking bytes
 * of some other protocol (a binary frame whose payload begins "GET / HTTP/1.1"
 * in a write of its own). Dropped, each counted as not HTTP: kept, they
 * ended at the close as error spans of requests no server ever answered.
 */
static void on_bad_start(void *ctx, enum weft_dir d)
{
	struct feed *f = ctx;
	struct conn *c = f->c;

	if (d == req_dir(c))
		return;
	while (c->q_head) {
		struct exchange *ex = c->q_head;

		c->q_head = ex->next;
		c->q_len--;
		f->p->stats.framing.not_http++;
		exchange_free(f->p, ex);
	}
	c->q_tail = NULL;
}

/* ---- HTTP/2 (h2.h): one stream, one exchange ---- */

/*
 * What rule 2 keys an HTTP/2 request by, in place of the TCP sequence
 * number of its first byte: its stream id, which both ends of a
 * connection agree on exactly, with the top bit set (stream ids have 31
 * bits; a socket's sequence numbers are random, and an HTTP/1 request on
 * the same client port at the same time would need a second connection
 * from it). The sequence number of a stream's HEADERS is exact on a plain
 * socket, but over TLS a server's first stream often arrives in records an
 * earlier read (the handshake's) took off the socket, where only an
 * estimate of it exists.
 */
#define H2_WIRE_ID(stream_id)	(0x80000000u | (stream_id))

/* A connection followed from the middle says who asks by its first
 * block (h2_req_dir): the role the kernel side could not see. */
static void mid_role(struct conn *c)
{
	if (c->ci.role == WEFT_ROLE_UNKNOWN && c->h2 && h2_req_dir(c->h2) >= 0)
		c->ci.role = h2_req_dir(c->h2) == WEFT_DIR_SEND ?
			     WEFT_ROLE_CLIENT : WEFT_ROLE_SERVER;
}

static void *h2_on_request(void *ctx, struct h2_request *r)
{
	struct feed *f = ctx;
	const struct chunk *ck = r->ck;
	struct chunk own;
	struct exchange *ex;

	/* The asker a write names (origin_g) is for the HEADERS written
	 * since the writer's previous write: a block begun in an earlier
	 * write (a buffer flushed in the middle of it) is not surely its. */
	if (ck->origin_g && r->first_ns != ck->ts_ns) {
		own = *ck;
		own.origin_g = 0;
		ck = &own;
	}
	mid_role(f->c);
	ex = exchange_new(f->p, f->c, r->m, r->first_ns, H2_WIRE_ID(r->stream_id),
			  r->truncated, ck);

	r->m = NULL;
	ex->h2 = true;
	ex->h2_stream_id = r->stream_id;
	/* a Go server's handler goroutine will say which stream it serves
	 * (pairing_go_stream): findable by the goroutine that read it */
	if (ex->is_server && ex->g && f->p->o.is_go && f->p->o.is_go(ex->pid)) {
		unsigned b = h2idx_bucket(ex->pid, ex->g, ex->h2_stream_id);

		ex->h2_next = f->p->h2idx[b];
		f->p->h2idx[b] = ex;
		ex->h2_indexed = true;
		ex->h2_ci = &f->c->ci;	/* the conn outlives the index entry */
	}
	return ex;
}

static void h2_on_end(void *ctx, void *stream, const struct h2_response *r)
{
	struct feed *f = ctx;
	struct exchange *ex = stream;

	if (r->how == H2_END_DROP) {
		exchange_free(f->p, ex);	/* counted where it was dropped */
		return;
	}
	ex->status = r->status;
	ex->has_grpc_status = r->has_grpc_status;
	ex->grpc_status = r->grpc_status;
	if (r->grpc_message[0]) {
		ex->grpc_message = strdup(r->grpc_message);
		if (!ex->grpc_message)
			abort();
	}
	ex->end_ns = r->end_ns;
	switch (r->how) {
	case H2_END_RESET:
		ex->how = EXCH_STREAM_RESET;
		break;
	case H2_END_CONN_CLOSED:
	case H2_END_CONN_RESET:
		f->p->stats.closed_early++;
		ex->how = r->how == H2_END_CONN_RESET ? EXCH_RESET : EXCH_CLOSED;
		break;
	default:
		ex->how = EXCH_DONE;
	}
	emit(f->p, f->c, ex);
	exchange_free(f->p, ex);
}

static void *h2_on_pending(void *ctx, struct h2_request *r, const struct h2_known *kn)
{
	struct feed *f = ctx;
	struct pairing *p = f->p;
	struct h2_pend *pd;

	mid_role(f->c);
	/* only servers' decoding is read (a client's request is its own) */
	if (f->c->ci.role != WEFT_ROLE_SERVER || !p->o.is_go(r->ck->pid) ||
	    p->n_pends >= PEND_MAX)
		return NULL;
	p->o.want_h2_fields(r->ck->pid);
	pd = calloc(1, sizeof(*pd));
	if (!pd)
		abort();
	pd->c = f->c;
	pd->pid = r->ck->pid;
	pd->stream_id = r->stream_id;
	pd->first_ns = r->first_ns;
	pd->first_seq = r->first_seq;
	pd->ck = *r->ck;
	pd->ck.data = NULL;
	pd->ck.cap = 0;
	pd->ck.tail = NULL;
	pd->ck.tail_len = 0;
	pd->born = p->now > r->ck->ts_ns ? p->now : r->ck->ts_ns;
	pd->n_fields = kn->n_fields;
	pd->known_len = kn->known_len < sizeof(pd->known) ? kn->known_len : sizeof(pd->known);
	memcpy(pd->known, kn->known, pd->known_len);
	pd->next = p->pends;
	p->pends = pd;
	p->n_pends++;
	return pd;
}

static void h2_on_pending_end(void *ctx, void *stream, const struct h2_response *r)
{
	struct feed *f = ctx;
	struct h2_pend *pd = stream;

	if (pd->dead || r->how == H2_END_DROP || r->how == H2_END_CONN_CLOSED ||
	    r->how == H2_END_CONN_RESET) {
		/* its connection goes: no span without the request */
		if (!pd->dead && r->how != H2_END_DROP)
			f->p->stats.h2.mid_pending_lost++;
		pend_unlink(f->p, pd);
		return;
	}
	pd->ended = true;
	pd->resp = *r;
	snprintf(pd->grpc_message, sizeof(pd->grpc_message), "%s", r->grpc_message);
	pd->resp.grpc_message = pd->grpc_message;
}

static bool h2_on_written(void *ctx, uint32_t stream_id, const struct h2_known *kn,
			  const uint8_t **data, size_t *len, unsigned *n);

static void h2_sink_of(struct pairing *p, struct conn *c, struct feed *f,
		       struct h2_sink *k)
{
	f->p = p;
	f->c = c;
	*k = (struct h2_sink){ .ctx = f, .request = h2_on_request,
			       .end = h2_on_end, .stats = &p->stats.h2 };
	if (p->o.is_go && p->o.want_h2_fields) {
		k->pending = h2_on_pending;
		k->pending_end = h2_on_pending_end;
		k->written = h2_on_written;
	}
}

/* A first frame the way a server starts: SETTINGS on stream 0. */
static bool looks_like_settings(const uint8_t *d, size_t n)
{
	static const uint8_t zero[4];
	uint32_t flen;

	if (n < 9)
		return false;
	flen = (uint32_t)d[0] << 16 | (uint32_t)d[1] << 8 | d[2];
	return d[3] == 4 && d[4] == 0 && memcmp(d + 5, zero, 4) == 0 &&
	       flen % 6 == 0 && flen <= 6 * 16;
}

/*
 * Does the preface start with this chunk, or with the small pieces before
 * it (a reader may take the first bytes alone)? Those pieces went to
 * framing too; lead keeps them until the question is settled.
 */
static bool preface_here(struct conn *c, const struct chunk *ck, size_t n)
{
	uint8_t cand[H2_PREFACE_LEN];
	size_t k = c->lead_len, add = n;

	if (c->lead_done)
		return false;
	if (c->ci.role != WEFT_ROLE_UNKNOWN && ck->dir != req_dir(c))
		return false;
	if (k && ck->dir != c->lead_dir)
		return false;
	memcpy(cand, c->lead, k);
	if (add > sizeof(cand) - k)
		add = sizeof(cand) - k;
	memcpy(cand + k, ck->data, add);
	if (memcmp(cand, H2_PREFACE, k + add) != 0 || (n < ck->len && k + add < 4)) {
		c->lead_done = true;
		return false;
	}
	if (k + add >= 4)
		return true;
	/* too few bytes to say: keep them */
	if (!k) {
		c->lead_ns = ck->ts_ns;
		c->lead_seq = ck->seq;
		c->lead_dir = ck->dir;
	}
	memcpy(c->lead + k, ck->data, add);
	c->lead_len += (uint32_t)add;
	return false;
}

/*
 * An HTTP/2 connection given up for good (frames out of step after a lost
 * record, or never found on one taken up from the middle, as a binary
 * protocol whose first bytes looked like a HEADERS frame would be): the
 * kernel side would go on copying all of its bytes for nothing, for as
 * long as it lives. Asked once to stop.
 */
static void h2_check_lost(struct pairing *p, struct conn *c)
{
	if (c->stop_asked || !c->h2 || !h2_lost(c->h2))
		return;
	c->stop_asked = true;
	if (!p->o.stop_conn)
		return;
	if (p->o.stop_conn(&c->key))
		p->stats.h2.stop_asked++;
	else
		p->stats.h2.stop_unasked++;
}

/* A chunk of a connection already known to be HTTP/2. */
static void h2_feed_chunk(struct pairing *p, struct conn *c, const struct chunk *ck)
{
	struct feed hf;
	struct h2_sink k;

	h2_sink_of(p, c, &hf, &k);
	h2_feed(c->h2, ck, &k);
	h2_check_lost(p, c);
}

/* Does this chunk start HTTP/2 on a fresh connection (or come before its
 * preface)? True when it was taken. */
static bool h2_begin(struct pairing *p, struct conn *c, const struct chunk *ck)
{
	size_t n = ck->cap < ck->len ? ck->cap : ck->len;
	struct feed f;
	struct h2_sink k;

	if (preface_here(c, ck, n)) {
		if (c->ci.role == WEFT_ROLE_UNKNOWN)
			c->ci.role = ck->dir == WEFT_DIR_SEND ?
				     WEFT_ROLE_CLIENT : WEFT_ROLE_SERVER;
		c->h2 = h2_new(ck->dir);
		p->stats.h2.conns++;
		h2_sink_of(p, c, &f, &k);
		if (c->early && c->early_dir != ck->dir) {
			struct chunk e = c->early_ck;

			e.data = c->early;
			e.cap = e.len = c->early_len;
			h2_feed(c->h2, &e, &k);
		}
		free(c->early);
		c->early = NULL;
		if (c->lead_len) {
			struct chunk l = *ck;

			l.data = c->lead;
			l.cap = l.len = c->lead_len;
			l.ts_ns = c->lead_ns;
			l.seq = c->lead_seq;
			h2_feed(c->h2, &l, &k);
		}
		h2_feed_chunk(p, c, ck);
		return true;
	}
	if (!c->lead_done && n == ck->len && looks_like_settings(ck->data, n) &&
	    (c->ci.role == WEFT_ROLE_UNKNOWN || ck->dir != req_dir(c)) &&
	    (!c->early || c->early_dir == ck->dir) &&
	    c->early_len + n <= H2_EARLY_MAX) {
		uint8_t *e = realloc(c->early, c->early_len + n);

		if (!e)
			abort();
		if (!c->early) {
			c->early_ck = *ck;
			c->early_dir = ck->dir;
		}
		memcpy(e + c->early_len, ck->data, n);
		c->early = e;
		c->early_len += (uint32_t)n;
		return true;
	}
	return false;
}

/* Is sequence number a after b (mod 2^32)? */
static bool seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static void feed_chunk(struct pairing *p, struct conn *c, const struct chunk *ck);

/* The held reads go through, in their order. */
static void release(struct pairing *p, struct conn *c)
{
	for (struct held *h = unhold(p, c), *n; h; h = n) {
		n = h->next;
		feed_chunk(p, c, &h->ck);
		held_free(p, h);
	}
}

/*
 * Should ck, a read on a client connection, wait for sends whose records
 * have not come? Only a read that starts a response while no request is
 * waiting for one, or one behind such a read.
 */
static bool wants_hold(const struct conn *c, const struct chunk *ck)
{
	if (ck->dir != WEFT_DIR_RECV || !(ck->flags & WEFT_F_TX_SEQ) ||
	    c->ci.role != WEFT_ROLE_CLIENT || c->upgraded || c->h2 ||
	    (ck->flags & WEFT_F_H2))
		return false;
	if (c->n_held)
		return true;
	if (c->q_len || c->resp || !(ck->flags & WEFT_F_MSG_START) ||
	    !framing_between_messages(&c->s[WEFT_DIR_RECV]))
		return false;
	/* no send seen yet on this connection: its request may be coming */
	return !c->tx_known || seq_after(ck->tx_seq, c->tx_end);
}

/* Keep a copy of ck until the sends it follows came; false when over
 * the bounds (it goes through now, as it is). */
static bool hold(struct pairing *p, struct conn *c, const struct chunk *ck)
{
	size_t sz = sizeof(struct held) + ck->cap + ck->tail_len;
	struct held *h;

	if (c->n_held >= HOLD_MAX || p->held_bytes + sz > HOLD_BYTES_MAX) {
		p->stats.responses_early_unheld++;
		return false;
	}
	h = malloc(sz);
	if (!h)
		abort();
	h->next = NULL;
	h->ck = *ck;
	if (ck->cap)
		memcpy(h->bytes, ck->data, ck->cap);
	h->ck.data = h->bytes;
	if (ck->tail_len)
		memcpy(h->bytes + ck->cap, ck->tail, ck->tail_len);
	h->ck.tail = h->bytes + ck->cap;
	p->held_bytes += sz;
	if (c->held_tail)
		c->held_tail->next = h;
	else
		c->held = h;
	c->held_tail = h;
	if (!c->n_held++) {
		p->stats.responses_early++;
		c->wait_seq = ck->tx_seq;
		c->held_since = p->now > ck->ts_ns ? p->now : ck->ts_ns;
		c->held_next = p->holding;
		p->holding = c;
	} else if (seq_after(ck->tx_seq, c->wait_seq)) {
		c->wait_seq = ck->tx_seq;
	}
	return true;
}

void pairing_chunk(struct pairing *p, const struct chunk *ck)
{
	struct conn *c = conn_get(p, &ck->conn, true);
	bool own_send = ck->dir == WEFT_DIR_SEND && !(ck->flags & WEFT_F_TLS);

	if (c->ci.role == WEFT_ROLE_UNKNOWN && ck->role != WEFT_ROLE_UNKNOWN)
		c->ci.role = ck->role;
	if (wants_hold(c, ck)) {
		if (hold(p, c, ck))
			return;
		release(p, c);	/* over the bounds: as they are, in order */
	}
	/* a send that starts at or after where the held reads wait: the
	 * sends they waited for are lost (ring buffer full) */
	if (c->n_held && own_send && !seq_after(c->wait_seq, ck->seq))
		release(p, c);
	feed_chunk(p, c, ck);
	if (own_send) {
		c->tx_end = ck->seq + ck->len;
		c->tx_known = true;
		if (c->n_held && !seq_after(c->wait_seq, c->tx_end))
			release(p, c);	/* the request came: now its response */
	}
	if (c->closing && ck->dir == WEFT_DIR_RECV) {
		if (ck->len < c->close.unread) {
			c->close.unread -= ck->len;
		} else {
			struct conn_end e = c->close;

			close_now(p, c, &e);	/* all read: now the close */
		}
	}
}

static void feed_chunk(struct pairing *p, struct conn *c, const struct chunk *ck)
{
	struct feed f = { .p = p, .c = c };
	const struct framing_sink sink = {
		.ctx = &f, .head = on_head, .response_end = on_response_end,
		.bad_start = on_bad_start,
		.hdr_window = p->o.hdr_window, .stats = &p->stats.framing,
	};

	c->ci.addr = ck->addr;
	c->last_ns = ck->ts_ns;
	c->pid = ck->pid;
	if (c->upgraded) {
		/* after Upgrade: h2c the client's preface makes it HTTP/2 (the
		 * upgraded request itself stays the 101 span: its HTTP/2
		 * response on stream 1 answers no stream h2.c saw open) */
		if (!c->lead_done && h2_begin(p, c, ck) && c->h2)
			c->upgraded = false;
		return;
	}
	if (c->h2) {
		h2_feed_chunk(p, c, ck);
		return;
	}
	if (!c->http1 && h2_begin(p, c, ck))
		return;
	if ((ck->flags & WEFT_F_H2_MID) && !c->http1) {
		/* open before weft started: frames from the middle */
		c->h2 = h2_new_midstream();
		p->stats.h2.conns++;
		p->stats.h2.mid_conns++;
		c->pid = ck->pid;
		/* grpc-go records what it writes: from its next block on */
		if (p->o.is_go && p->o.want_h2_fields && p->o.is_go(ck->pid))
			p->o.want_h2_fields(ck->pid);
		h2_feed_chunk(p, c, ck);
		return;
	}
	framing_feed(&c->s[ck->dir], ck, &sink);
}

/* The stream responses flow on. */
static struct stream *resp_stream(struct conn *c)
{
	return &c->s[req_dir(c) == WEFT_DIR_SEND ? WEFT_DIR_RECV : WEFT_DIR_SEND];
}

/* The connection is gone: finish what it was doing. */
static void conn_end(struct pairing *p, struct conn *c, uint64_t ts,
		     enum exch_end how)
{
	struct stream *rs = resp_stream(c);

	if (c->h2) {
		struct feed f;
		struct h2_sink k;

		h2_sink_of(p, c, &f, &k);
		h2_end_all(c->h2, ts, how == EXCH_RESET ? H2_END_CONN_RESET :
			   H2_END_CONN_CLOSED, &k);
	}

	if (c->resp) {
		if (framing_until_close(rs)) {
			response_done(p, c, framing_last_ns(rs), EXCH_DONE);
		} else {
			p->stats.closed_early++;
			response_done(p, c, ts, how);
		}
	}
	while (c->q_head) {
		struct exchange *ex = c->q_head;

		c->q_head = ex->next;
		c->q_len--;
		ex->end_ns = ts;
		ex->how = how;
		p->stats.closed_early++;
		emit(p, c, ex);
		exchange_free(p, ex);
	}
	c->q_tail = NULL;
}

static void close_now(struct pairing *p, struct conn *c, const struct conn_end *e)
{
	if (c->stop_asked && p->o.stop_conn_done)
		p->o.stop_conn_done(&c->key);
	release(p, c);	/* no request came: they are what they are */
	conn_end(p, c, e->ts_ns, e->reset ? EXCH_RESET : EXCH_CLOSED);
	conn_free(p, c);
}

void pairing_close(struct pairing *p, const struct conn_end *e)
{
	struct conn *c = conn_get(p, &e->conn, false);

	if (!c || c->closing)
		return;
	if (e->unread && !c->h2 && !c->upgraded) {
		/* the reads of what was queued come next (a response a reset
		 * overtook): the close after them */
		c->closing = true;
		c->close = *e;
		c->closing_since = p->now > e->ts_ns ? p->now : e->ts_ns;
		c->closing_next = p->closing;
		p->closing = c;
		p->stats.closes_waited++;
		return;
	}
	close_now(p, c, e);
}

void pairing_go_stream(struct pairing *p, const struct go_stream *gs)
{
	struct exchange *ex = NULL;

	/* the stream's HEADERS were read by the frame reader, or (a
	 * connection's first request, read along with the preface) by the
	 * serve loop */
	if (gs->reader_g)
		ex = h2idx_find(p, gs->pid, gs->reader_g, gs->stream_id);
	if (!ex && gs->serve_g && gs->serve_g != gs->reader_g)
		ex = h2idx_find(p, gs->pid, gs->serve_g, gs->stream_id);
	if (!ex) {
		p->stats.go_handlers_unplaced++;
		return;
	}
	h2idx_del(p, ex);	/* one handler per stream */
	link_rekey(p->link, ex, ex->h2_ci, gs->g);
	p->stats.go_handlers++;
}

/* Does a Go process's field list (n of total fields in len bytes) hold
 * every field h2.c decoded (known: "name\0value\0"...), and as many
 * fields as the block had? */
static bool fields_fit(uint32_t n_fields, const char *known, size_t known_len,
		       const uint8_t *data, size_t len, unsigned n, unsigned total)
{
	if (total != n_fields)
		return false;
	for (size_t o = 0; o < known_len;) {
		const char *nm = known + o, *v = nm + strlen(nm) + 1;
		size_t nl = strlen(nm), vl = strlen(v), q = 0;
		bool found = false;

		for (unsigned i = 0; i < n && q + 3 <= len && !found; i++) {
			const uint8_t *d = data + q;
			size_t fnl = d[0] & 0x3f, fvl = (d[1] | d[2] << 8) & 0x1ff;

			if (q + 3 + fnl + fvl > len)
				break;
			found = fnl == nl && fvl == vl && memcmp(d + 3, nm, nl) == 0 &&
				memcmp(d + 3 + fnl, v, vl) == 0;
			q += 3 + fnl + fvl;
		}
		/* (a field past what the record holds is not held against it) */
		if (!found && n == total)
			return false;
		o += nl + vl + 2;
	}
	return true;
}

static bool pend_fits(const struct h2_pend *pd, const struct go_h2_fields *gf)
{
	return fields_fit(pd->n_fields, pd->known, pd->known_len, gf->data, gf->len,
			  gf->n_fields, gf->total_fields);
}

/* The process at the other end of c, when that end is on this node and
 * followed too (its 4-tuple mirrors c's): 0 when none. A scan of every
 * connection, done only for a block a written record of another process
 * may fill. */
static uint32_t peer_pid(struct pairing *p, const struct conn *c)
{
	const struct weft_addr *a = &c->ci.addr;

	for (int b = 0; b < CONN_BUCKETS; b++)
		for (const struct conn *o = p->tab[b]; o; o = o->hnext) {
			const struct weft_addr *x = &o->ci.addr;

			if (o != c && x->family == a->family && x->sport == a->dport &&
			    x->dport == a->sport && !memcmp(x->saddr, a->daddr, 16) &&
			    !memcmp(x->daddr, a->saddr, 16))
				return o->pid;
		}
	return 0;
}

static bool h2_on_written(void *ctx, uint32_t stream_id, const struct h2_known *kn,
			  const uint8_t **data, size_t *len, unsigned *n)
{
	struct feed *f = ctx;
	struct pairing *p = f->p;
	struct written *hit = NULL;
	unsigned fits = 0, others = 0;
	uint32_t peer = 0;
	int hit_pass = 0;

	if (!p->written)
		return false;
	/* what this process wrote (a block it sent), else what the process
	 * at the other end of this connection on this node wrote (a block
	 * it received): never another process's */
	for (int pass = 0; pass < 2 && !fits; pass++) {
		uint32_t pid = pass ? peer : f->c->pid;

		if (pass && (!others || !(peer = peer_pid(p, f->c))))
			break;
		if (pass)
			pid = peer;
		for (unsigned i = 0; i < WRITTEN_MAX; i++) {
			struct written *w = &p->written[i];

			if (!w->len || w->stream_id != stream_id ||
			    p->now > w->ts_ns + WRITTEN_NS)
				continue;
			if (w->pid != pid) {
				/* (maybe the peer's: looked at in pass 1) */
				others += !pass && !(w->used & 2);
				continue;
			}
			if ((w->used & (1u << pass)) ||
			    !fields_fit(kn->n_fields, kn->known, kn->known_len, w->data,
					w->len, w->n, w->total))
				continue;
			hit = w;
			hit_pass = pass;
			fits++;
		}
	}
	if (fits != 1) {
		p->stats.h2.go_fields_ambiguous += fits > 1;
		return false;
	}
	hit->used |= 1u << hit_pass;
	*data = hit->data;
	*len = hit->len;
	*n = hit->n;
	return true;
}

void pairing_go_h2_fields(struct pairing *p, const struct go_h2_fields *gf)
{
	struct h2_pend *match = NULL;
	unsigned fits = 0;
	struct h2_request r;
	struct exchange *ex;
	struct feed f;
	bool cut = false;

	p->stats.h2.go_fields_records++;
	if (gf->written) {
		/* before its bytes: kept for the blocks that will need it */
		struct written *w;

		if (!p->written) {
			p->written = calloc(WRITTEN_MAX, sizeof(*p->written));
			if (!p->written)
				abort();
		}
		w = &p->written[p->written_next++ % WRITTEN_MAX];
		w->pid = gf->pid;
		w->stream_id = gf->stream_id;
		w->ts_ns = gf->ts_ns;
		w->n = gf->n_fields;
		w->total = gf->total_fields;
		w->used = 0;
		w->len = (uint16_t)(gf->len < sizeof(w->data) ? gf->len : sizeof(w->data));
		memcpy(w->data, gf->data, w->len);
		p->stats.h2.go_written_records++;
		return;
	}
	for (struct h2_pend *pd = p->pends; pd; pd = pd->next)
		if (!pd->dead && pd->pid == gf->pid && pd->stream_id == gf->stream_id &&
		    pend_fits(pd, gf)) {
			match = pd;
			fits++;
		}
	if (fits > 1) {
		/* two connections' requests alike: neither is surely this */
		p->stats.h2.go_fields_ambiguous++;
		return;
	}
	if (!match)
		return;		/* a request h2.c decoded itself */
	r = (struct h2_request){ .stream_id = match->stream_id, .first_ns = match->first_ns,
				 .first_seq = match->first_seq, .ck = &match->ck };
	r.m = h2_request_from_fields(gf->data, gf->len, gf->n_fields, &cut);
	r.truncated = cut;
	if (!r.m) {
		p->stats.h2.go_fields_unusable++;
		if (match->ended)
			pend_unlink(p, match);
		else
			match->dead = true;
		return;
	}
	f = (struct feed){ .p = p, .c = match->c };
	ex = h2_on_request(&f, &r);
	http_msg_free(r.m);
	p->stats.h2.go_fields_filled++;
	if (match->ended) {
		h2_on_end(&f, ex, &match->resp);
		pend_unlink(p, match);
		return;
	}
	if (!match->c->h2 || !h2_stream_resolve(match->c->h2, match->stream_id, ex)) {
		exchange_free(p, ex);	/* (cannot be: its stream holds it) */
		match->dead = true;
		return;
	}
	pend_unlink(p, match);
}

void pairing_sweep(struct pairing *p, uint64_t now)
{
	for (int b = 0; b < CONN_BUCKETS; b++) {
		struct conn *c = p->tab[b], *next;

		for (; c; c = next) {
			next = c->hnext;
			if (now - c->last_ns < p->o.idle_timeout_ns *
			    (c->h2 ? H2_IDLE_MULT : 1))
				continue;
			p->stats.timed_out += c->q_len + (c->resp ? 1 : 0) +
					      (c->h2 ? h2_open_streams(c->h2) : 0);
			conn_free(p, c);
		}
	}
}

void pairing_tick(struct pairing *p, uint64_t now)
{
	p->now = now;
	for (struct conn *c = p->holding, *next; c; c = next) {
		next = c->held_next;
		if (now - c->held_since >= HOLD_NS)
			release(p, c);
	}
	for (struct conn *c = p->closing, *next; c; c = next) {
		next = c->closing_next;
		if (now - c->closing_since >= CLOSE_WAIT_NS) {
			struct conn_end e = c->close;

			close_now(p, c, &e);	/* the bytes were never read */
		}
	}
	for (struct h2_pend *pd = p->pends, *n; pd; pd = n) {
		n = pd->next;
		if (pd->dead || now < pd->born || now - pd->born < PEND_NS)
			continue;
		p->stats.h2.mid_pending_expired++;
		if (pd->ended)
			pend_unlink(p, pd);
		else
			pd->dead = true;	/* freed when its stream ends */
	}
	link_tick(p->link, now);
}

void pairing_flush(struct pairing *p)
{
	for (int b = 0; b < CONN_BUCKETS; b++) {
		while (p->tab[b]) {
			struct conn *c = p->tab[b];
			struct stream *rs;

			if (c->closing) {
				struct conn_end e = c->close;

				close_now(p, c, &e);
				continue;
			}
			release(p, c);
			rs = resp_stream(c);
			/* until-close bodies are as complete as they will get */
			if (c->resp && framing_until_close(rs))
				response_done(p, c, framing_last_ns(rs), EXCH_DONE);
			p->stats.incomplete_at_exit += c->q_len + (c->resp ? 1 : 0) +
				(c->h2 ? h2_open_streams(c->h2) : 0);
			conn_free(p, c);
		}
	}
	link_release_all(p->link);
}

void pairing_free(struct pairing *p)
{
	if (!p)
		return;
	pairing_flush(p);
	while (p->pends)
		pend_unlink(p, p->pends);
	free(p->written);
	link_free(p->link);
	free(p);
}

void pairing_forget_pid(struct pairing *p, uint32_t pid)
{
	link_forget_pid(p->link, pid);
}

void pairing_get_stats(const struct pairing *p, struct pairing_stats *out)
{
	*out = p->stats;
}

void pairing_get_link_stats(const struct pairing *p, struct link_stats *out)
{
	link_get_stats(p->link, out);
}
