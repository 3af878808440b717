// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Per connection, each direction is a byte stream of which the kernel sent
 * every byte count and a prefix of the bytes: header blocks whole, bodies
 * only as lengths and tails. That is enough to cut the stream into
 * messages: a head is parsed when its blank line arrives, a body is skipped
 * by Content-Length, decoded when chunked (tail heuristic when bytes are
 * missing), or runs to the close. Requests queue in order; each response
 * answers the oldest one (HTTP/1.1 pipelining is strictly in order).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stitch.h"
#include "exchange.h"
#include "http.h"
#include "procinfo.h"
#include "telemetry.h"

#define CONN_BUCKETS	16384
#define MAX_PENDING	64	/* pipelined requests waiting per connection */

enum stream_state {
	ST_IDLE,		/* between messages */
	ST_HEAD,		/* collecting a header block */
	ST_BODY_LEN,		/* skipping body_left bytes */
	ST_BODY_CHUNKED,
	ST_BODY_EOF,		/* body runs until the connection closes */
	ST_LOST,		/* out of step: wait for the next message start */
};

struct stream {
	enum stream_state st;
	uint8_t *head;		/* header block so far (up to the window) */
	size_t head_len;
	uint64_t body_left;
	struct http_chunked ch;
	uint64_t first_ns, last_ns;
	uint32_t first_seq;	/* TCP sequence number of the message's first byte */
	bool is_response;	/* what the current message is */
	/* A chunk shorter than a request line's first word, between
	 * messages: Go's server reads the next request's first byte alone. */
	uint8_t pend[8];
	uint32_t pend_len;
	uint64_t pend_ns;
	uint32_t pend_seq;
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
};

struct stitch {
	struct stitch_opts o;
	span_cb cb;
	void *cb_ctx;
	struct conn *tab[CONN_BUCKETS];
	struct stitch_stats stats;
	struct link *link;
};

struct stitch *stitch_new(const struct stitch_opts *o, span_cb cb, void *ctx)
{
	struct stitch *st = calloc(1, sizeof(*st));

	if (!st)
		abort();
	st->o = *o;
	if (!st->o.hdr_window)
		st->o.hdr_window = WEFT_HDR_WINDOW_DEFAULT;
	if (!st->o.idle_timeout_ns)
		st->o.idle_timeout_ns = 300ULL * 1000000000ULL;
	st->cb = cb;
	st->cb_ctx = ctx;
	st->link = link_new(&o->link);
	return st;
}

static unsigned bucket(const struct weft_conn_key *k)
{
	uint64_t h = k->sk ^ (k->gen * 0x9e3779b97f4a7c15ULL);

	h ^= h >> 29;
	return (unsigned)(h % CONN_BUCKETS);
}

static struct conn *conn_get(struct stitch *st, const struct weft_conn_key *k,
			     bool create)
{
	struct conn **head = &st->tab[bucket(k)], *c;

	for (c = *head; c; c = c->hnext)
		if (c->key.sk == k->sk && c->key.gen == k->gen)
			return c;
	if (!create)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	c->key = *k;
	c->hnext = *head;
	*head = c;
	st->stats.conns_open++;
	return c;
}

static void exchange_free(struct stitch *st, struct exchange *ex)
{
	if (!ex)
		return;
	link_forget(st->link, ex);
	resource_unref(ex->res);
	free(ex->tracestate);
	free(ex->req);
	free(ex);
}

static void conn_free(struct stitch *st, struct conn *c)
{
	struct conn **pp = &st->tab[bucket(&c->key)];

	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	for (int d = 0; d < 2; d++)
		free(c->s[d].head);
	while (c->q_head) {
		struct exchange *ex = c->q_head;

		c->q_head = ex->next;
		exchange_free(st, ex);
	}
	exchange_free(st, c->resp);
	free(c);
	st->stats.conns_open--;
}

static enum weft_dir req_dir(const struct conn *c)
{
	return c->ci.role == WEFT_ROLE_CLIENT ? WEFT_DIR_SEND : WEFT_DIR_RECV;
}

static void emit(struct stitch *st, struct conn *c, struct exchange *ex)
{
	struct span *s;

	if (!link_done(st->link, ex, &c->ci))
		return;
	s = exchange_to_span(ex, &c->ci);
	st->stats.spans++;
	st->cb(s, st->cb_ctx);
}

static void stream_reset(struct stream *s, enum stream_state st)
{
	s->st = st;
	s->head_len = 0;
	s->body_left = 0;
}

/* A response ended (by framing or by the close): its exchange is a span. */
static void response_done(struct stitch *st, struct conn *c, uint64_t end_ns,
			  enum exch_end how)
{
	struct exchange *ex = c->resp;

	if (!ex)
		return;
	c->resp = NULL;
	ex->end_ns = end_ns;
	ex->how = how;
	emit(st, c, ex);
	exchange_free(st, ex);
}

/* Queues the request; the exchange takes m (returns false when the
 * request was dropped and m is still the caller's). */
static bool on_request(struct stitch *st, struct conn *c, struct stream *s,
		       struct http_msg *m, const struct weft_data_rec *r,
		       bool truncated)
{
	struct exchange *ex;

	if (c->q_len >= MAX_PENDING) {
		st->stats.pending_overflow++;
		return false;
	}
	ex = calloc(1, sizeof(*ex));
	if (!ex)
		abort();
	ex->req = m;
	ex->pid = r->h.pid;
	ex->tid = r->h.tid;
	memcpy(ex->comm, r->comm, sizeof(ex->comm));
	ex->comm[sizeof(ex->comm) - 1] = '\0';
	ex->req_seq = s->first_seq;
	/* read /proc while the process is alive: the span may outlive it */
	ex->res = resource_ref(procinfo_get(r->h.pid, ex->comm)->res);
	ex->start_ns = s->first_ns;
	ex->head_truncated = truncated;
	ex->telemetry = telemetry_classify(m);
	link_request(st->link, ex, &c->ci, r, st->o.is_go && st->o.is_go(r->h.pid));
	if (c->q_tail)
		c->q_tail->next = ex;
	else
		c->q_head = ex;
	c->q_tail = ex;
	c->q_len++;
	return true;
}

/* A response head arrived: pair it with the oldest waiting request. */
static struct exchange *on_response(struct stitch *st, struct conn *c,
				    const struct http_msg *m)
{
	struct exchange *ex = c->q_head;

	if (!ex) {
		st->stats.orphan_responses++;
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
	exchange_free(st, c->resp);
	c->resp = ex;
	return ex;
}

/* After a head: set up body framing, or finish a bodiless message. */
static void start_body(struct stitch *st, struct conn *c, struct stream *s,
		       const struct http_msg *m, const char *req_method,
		       uint64_t ts)
{
	int64_t blen;

	if (http_body_length(m, req_method, &blen)) {
		s->body_left = blen;
		s->st = blen ? ST_BODY_LEN : ST_IDLE;
	} else if (m->chunked) {
		http_chunked_init(&s->ch);
		s->st = ST_BODY_CHUNKED;
	} else {
		s->st = ST_BODY_EOF;
	}
	/* an interim 1xx answers nothing: the final response follows */
	if (s->st == ST_IDLE && s->is_response &&
	    !(m->status >= 100 && m->status < 200))
		response_done(st, c, ts, EXCH_DONE);
}

/* Parse a complete (or given-up-on) head and act on it. */
static void handle_head(struct stitch *st, struct conn *c, enum weft_dir d,
			const struct weft_data_rec *r, bool truncated)
{
	struct stream *s = &c->s[d];
	struct http_msg *m = malloc(sizeof(*m));
	enum http_parse_result pr;
	char method[HTTP_METHOD_MAX] = "";
	bool taken = false;

	if (!m)
		abort();
	if (truncated) {
		/* Parse the complete lines we have, as if the block ended there. */
		size_t keep = s->head_len;

		while (keep && s->head[keep - 1] != '\n')
			keep--;
		/* head_append made s->head hdr_window + 2 bytes and keep is at
		 * most hdr_window: room for the CRLF. Never shrink it, since
		 * head_append only allocates when s->head is NULL. */
		memcpy(s->head + keep, "\r\n", 2);
		s->head_len = keep + 2;
		st->stats.heads_truncated++;
	}
	pr = http_parse_head(s->head, s->head_len, m);
	if (pr != HTTP_OK) {
		st->stats.not_http++;
		stream_reset(s, ST_LOST);
		free(m);
		return;
	}
	if (c->ci.role == WEFT_ROLE_UNKNOWN)
		c->ci.role = (m->is_request == (d == WEFT_DIR_SEND)) ?
			     WEFT_ROLE_CLIENT : WEFT_ROLE_SERVER;
	if (m->is_request != (d == req_dir(c))) {
		/* a request where responses flow: not an HTTP peer we follow */
		st->stats.not_http++;
		stream_reset(s, ST_LOST);
		free(m);
		return;
	}
	s->is_response = !m->is_request;
	s->last_ns = r->h.ts_ns;
	if (m->is_request) {
		/* the queued exchange owns m from here; it outlives this call */
		taken = on_request(st, c, s, m, r, truncated);
	} else {
		struct exchange *ex = on_response(st, c, m);

		if (ex)
			memcpy(method, ex->req->method, sizeof(method));
		if (m->status == 101 ||
		    (strcmp(method, "CONNECT") == 0 && m->status / 100 == 2)) {
			response_done(st, c, r->h.ts_ns, EXCH_DONE);
			c->upgraded = true;
			free(m);
			return;
		}
	}
	s->head_len = 0;
	if (truncated)
		s->st = ST_LOST; /* the framing headers may be what we lost */
	else
		start_body(st, c, s, m, method, r->h.ts_ns);
	if (truncated && s->is_response)
		response_done(st, c, r->h.ts_ns, EXCH_DONE);
	if (!taken)
		free(m);
}

static bool head_append(struct stitch *st, struct stream *s, const uint8_t *p,
			size_t n)
{
	size_t room = st->o.hdr_window - s->head_len;

	if (n > room)
		n = room;
	if (!s->head) {
		s->head = malloc(st->o.hdr_window + 2);
		if (!s->head)
			abort();
	}
	memcpy(s->head + s->head_len, p, n);
	s->head_len += n;
	return n > 0;
}

/* Walk one chunk of a direction's stream. */
static void feed(struct stitch *st, struct conn *c, enum weft_dir d,
		 const struct weft_data_rec *r)
{
	struct stream *s = &c->s[d];
	const uint8_t *data = r->data;
	uint32_t len = r->len, cap = r->cap_len < len ? r->cap_len : len;
	uint32_t pos = 0;

	/* A short chunk between messages may be the first bytes of the next
	 * one: keep it until the rest arrives. */
	if (len < 8 && cap == len && (s->st == ST_IDLE || s->st == ST_LOST)) {
		if (s->pend_len + len > sizeof(s->pend) - 1) {
			s->pend_len = 0;
			return;
		}
		if (!s->pend_len) {
			s->pend_ns = r->h.ts_ns;
			s->pend_seq = r->seq;
		}
		memcpy(s->pend + s->pend_len, data, len);
		s->pend_len += len;
		return;
	}

	/* A message start ends what can only be ended by guessing: a lost
	 * stream, a body running to close, a chunked body whose framing was
	 * lost in a gap, or a head that never ended (binary that began like
	 * "GET "). */
	if ((r->flags & WEFT_F_MSG_START) &&
	    (s->st == ST_LOST || s->st == ST_BODY_EOF ||
	     (s->st == ST_BODY_CHUNKED && s->ch.lost) ||
	     (s->st == ST_HEAD && cap >= 8 &&
	      (http_looks_like_request(data, cap) ||
	       http_looks_like_response(data, cap))))) {
		if (s->st != ST_HEAD && s->st != ST_LOST && s->is_response)
			response_done(st, c, s->last_ns, EXCH_DONE);
		if (s->st == ST_HEAD)
			st->stats.not_http++;
		stream_reset(s, ST_IDLE);
	}

	while (pos < len) {
		switch (s->st) {
		case ST_IDLE: {
			uint32_t avail = pos < cap ? cap - pos : 0;
			uint8_t tmp[24];
			size_t tl = 0;

			if (s->pend_len && pos == 0) {
				/* pend + this chunk: a message start? */
				tl = s->pend_len;
				memcpy(tmp, s->pend, tl);
				memcpy(tmp + tl, data, avail < 16 ? avail : 16);
				tl += avail < 16 ? avail : 16;
			}
			if (tl && (http_looks_like_request(tmp, tl) ||
				   http_looks_like_response(tmp, tl))) {
				stream_reset(s, ST_HEAD);
				head_append(st, s, s->pend, s->pend_len);
				s->first_ns = s->pend_ns;
				s->first_seq = s->pend_seq;
				s->pend_len = 0;
				break;
			}
			s->pend_len = 0;
			if (!avail ||
			    !(http_looks_like_request(data + pos, avail) ||
			      http_looks_like_response(data + pos, avail))) {
				st->stats.not_http++;
				stream_reset(s, ST_LOST);
				return;
			}
			stream_reset(s, ST_HEAD);
			s->first_ns = r->h.ts_ns;
			s->first_seq = r->seq + pos;
			break;
		}
		case ST_HEAD: {
			uint32_t avail = pos < cap ? cap - pos : 0;
			size_t old = s->head_len, from, end;

			if (!avail || !head_append(st, s, data + pos, avail)) {
				/* bytes we never got: head cut by the window */
				handle_head(st, c, d, r, true);
				return;
			}
			from = old > 3 ? old - 3 : 0;
			end = http_find_head_end(s->head + from, s->head_len - from);
			if (end) {
				end += from;
				pos += end - old;
				s->head_len = end;
				handle_head(st, c, d, r, false);
				if (c->upgraded)
					return;
			} else {
				pos += s->head_len - old;
				if (s->head_len >= st->o.hdr_window ||
				    (r->flags & WEFT_F_TRUNCATED)) {
					handle_head(st, c, d, r, true);
					return;
				}
			}
			break;
		}
		case ST_BODY_LEN: {
			uint64_t k = len - pos;

			if (k > s->body_left)
				k = s->body_left;
			s->body_left -= k;
			pos += k;
			s->last_ns = r->h.ts_ns;
			if (!s->body_left) {
				s->st = ST_IDLE;
				if (s->is_response)
					response_done(st, c, r->h.ts_ns, EXCH_DONE);
			}
			break;
		}
		case ST_BODY_CHUNKED: {
			s->last_ns = r->h.ts_ns;
			if (pos < cap) {
				long n = http_chunked_feed(&s->ch, data + pos, cap - pos);

				if (n < 0) {
					st->stats.not_http++;
					stream_reset(s, ST_LOST);
					/* the head was good: end the span at the last
					 * byte seen, or the next response would free
					 * the exchange unseen (on_response) */
					if (s->is_response)
						response_done(st, c, s->last_ns, EXCH_DONE);
					return;
				}
				pos += n;
			} else {
				uint32_t gap = len - pos;
				uint32_t tl = r->tail_len < gap ? r->tail_len : gap;

				http_chunked_gap(&s->ch, gap,
						 r->tail + (r->tail_len - tl), tl);
				pos = len;
			}
			if (s->ch.done) {
				s->st = ST_IDLE;
				if (s->is_response)
					response_done(st, c, r->h.ts_ns, EXCH_DONE);
			}
			break;
		}
		case ST_BODY_EOF:
			s->last_ns = r->h.ts_ns;
			return;
		case ST_LOST:
			return;
		}
	}
}

void stitch_data(struct stitch *st, const struct weft_data_rec *r)
{
	struct conn *c = conn_get(st, &r->h.conn, true);
	enum weft_dir d = r->dir ? WEFT_DIR_RECV : WEFT_DIR_SEND;

	if (c->ci.role == WEFT_ROLE_UNKNOWN && r->role != WEFT_ROLE_UNKNOWN)
		c->ci.role = r->role;
	c->ci.addr = r->addr;
	c->last_ns = r->h.ts_ns;
	if (c->upgraded)
		return;
	feed(st, c, d, r);
}

/* The connection is gone: finish what it was doing. */
static void conn_end(struct stitch *st, struct conn *c, uint64_t ts,
		     enum exch_end how)
{
	enum weft_dir rd = req_dir(c) == WEFT_DIR_SEND ? WEFT_DIR_RECV : WEFT_DIR_SEND;
	struct stream *rs = &c->s[rd];

	if (c->resp) {
		if (rs->st == ST_BODY_EOF)
			response_done(st, c, rs->last_ns, EXCH_DONE);
		else {
			st->stats.closed_early++;
			response_done(st, c, ts, how);
		}
	}
	while (c->q_head) {
		struct exchange *ex = c->q_head;

		c->q_head = ex->next;
		c->q_len--;
		ex->end_ns = ts;
		ex->how = how;
		st->stats.closed_early++;
		emit(st, c, ex);
		exchange_free(st, ex);
	}
	c->q_tail = NULL;
}

void stitch_close(struct stitch *st, const struct weft_close_rec *r)
{
	struct conn *c = conn_get(st, &r->h.conn, false);

	if (!c)
		return;
	/* straight from ESTABLISHED to CLOSE is an abort (RST), not a FIN */
	conn_end(st, c, r->h.ts_ns,
		 r->oldstate == 1 /* TCP_ESTABLISHED */ ? EXCH_RESET : EXCH_CLOSED);
	conn_free(st, c);
}

void stitch_sweep(struct stitch *st, uint64_t now)
{
	for (int b = 0; b < CONN_BUCKETS; b++) {
		struct conn *c = st->tab[b], *next;

		for (; c; c = next) {
			next = c->hnext;
			if (now - c->last_ns < st->o.idle_timeout_ns)
				continue;
			st->stats.timed_out += c->q_len + (c->resp ? 1 : 0);
			conn_free(st, c);
		}
	}
}

void stitch_flush(struct stitch *st)
{
	for (int b = 0; b < CONN_BUCKETS; b++) {
		while (st->tab[b]) {
			struct conn *c = st->tab[b];
			enum weft_dir rd = req_dir(c) == WEFT_DIR_SEND ?
					   WEFT_DIR_RECV : WEFT_DIR_SEND;

			/* until-close bodies are as complete as they will get */
			if (c->resp && c->s[rd].st == ST_BODY_EOF)
				response_done(st, c, c->s[rd].last_ns, EXCH_DONE);
			st->stats.incomplete_at_exit += c->q_len + (c->resp ? 1 : 0);
			conn_free(st, c);
		}
	}
}

void stitch_free(struct stitch *st)
{
	if (!st)
		return;
	stitch_flush(st);
	link_free(st->link);
	free(st);
}

void stitch_forget_pid(struct stitch *st, uint32_t pid)
{
	link_forget_pid(st->link, pid);
}

void stitch_get_stats(const struct stitch *st, struct stitch_stats *out)
{
	*out = st->stats;
}

void stitch_get_link_stats(const struct stitch *st, struct link_stats *out)
{
	link_get_stats(st->link, out);
}
