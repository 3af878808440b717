// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP/1.x messages cut out of one direction's byte stream: see framing.h. */
#include <stdlib.h>
#include <string.h>
#include "framing.h"

enum stream_state {
	ST_IDLE,		/* between messages */
	ST_HEAD,		/* collecting a header block */
	ST_BODY_LEN,		/* skipping body_left bytes */
	ST_BODY_CHUNKED,
	ST_BODY_EOF,		/* body runs until the connection closes */
	ST_LOST,		/* out of step: wait for the next message start */
};

static void stream_reset(struct stream *s, enum stream_state st)
{
	s->st = st;
	s->head_len = 0;
	s->body_left = 0;
}

static bool looks_like_start(const uint8_t *p, size_t n)
{
	return http_looks_like_request(p, n) || http_looks_like_response(p, n);
}

/* The response in progress ended (requests end without telling anyone). */
static void end_response(const struct framing_sink *k, const struct stream *s,
			 uint64_t ts)
{
	if (s->is_response)
		k->response_end(k->ctx, ts);
}

/* After a head: set up body framing, or finish a bodiless message. */
static void start_body(struct stream *s, const struct http_msg *m,
		       const char *req_method, uint64_t ts,
		       const struct framing_sink *k)
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
	if (s->st == ST_IDLE && !(m->status >= 100 && m->status < 200))
		end_response(k, s, ts);
}

/*
 * The header block buffer grows with the head, up to the window plus the
 * CRLF handle_head may add, and goes once the head is handled: a
 * window-sized buffer per stream for the connection's life held 32 KiB per
 * connection, 245 MB of RSS with 10 000 connections open (test_hostile).
 */
#define HEAD_BUF_MIN	1024

static void head_reserve(struct stream *s, size_t need)
{
	size_t cap = s->head_cap ? s->head_cap : HEAD_BUF_MIN;

	while (cap < need)
		cap *= 2;
	if (cap == s->head_cap)
		return;
	s->head = realloc(s->head, cap);
	if (!s->head)
		abort();
	s->head_cap = cap;
}

static void head_release(struct stream *s)
{
	free(s->head);
	s->head = NULL;
	s->head_cap = 0;
}

/* Parse a complete (or given-up-on) head and hand it to the sink. Returns
 * true when the connection stopped being HTTP. */
static bool handle_head(struct stream *s, enum weft_dir d, const struct chunk *ck,
			bool truncated, const struct framing_sink *k)
{
	struct framing_head h = { .truncated = truncated, .first_ns = s->first_ns,
				  .first_seq = s->first_seq, .ck = ck };
	char method[HTTP_METHOD_MAX] = "";
	struct http_msg *m = http_msg_new();
	enum framing_verdict v;

	if (truncated) {
		/* Parse the complete lines we have, as if the block ended there. */
		size_t keep = s->head_len;

		head_reserve(s, keep + 2);
		while (keep && s->head[keep - 1] != '\n')
			keep--;
		memcpy(s->head + keep, "\r\n", 2);
		s->head_len = keep + 2;
		k->stats->heads_truncated++;
	}
	h.m = m;
	if (http_parse_head(s->head, s->head_len, m) != HTTP_OK ||
	    (v = k->head(k->ctx, d, &h, method)) == FRAMING_REJECT) {
		k->stats->not_http++;
		if (k->bad_start)
			k->bad_start(k->ctx, d);
		stream_reset(s, ST_LOST);
		head_release(s);
		http_msg_free(h.m);
		return false;
	}
	s->is_response = !m->is_request;
	s->last_ns = ck->ts_ns;
	if (v == FRAMING_UPGRADED) {
		http_msg_free(h.m);
		return true;
	}
	s->head_len = 0;
	head_release(s);
	if (truncated) {
		s->st = ST_LOST; /* the framing headers may be what we lost */
		end_response(k, s, ck->ts_ns);
	} else {
		/* m is alive here even when the sink took it: a request's
		 * exchange waits for its response */
		start_body(s, m, method, ck->ts_ns, k);
	}
	http_msg_free(h.m);		/* NULL when the sink took it */
	return false;
}

static bool head_append(struct stream *s, const uint8_t *p, size_t n,
			uint32_t window)
{
	size_t room = window - s->head_len;

	if (n > room)
		n = room;
	head_reserve(s, s->head_len + n + 2);
	memcpy(s->head + s->head_len, p, n);
	s->head_len += n;
	return n > 0;
}

/* A short chunk between messages may be the first bytes of the next one:
 * kept until the rest arrives. Returns true when it was taken. */
static bool pend_short(struct stream *s, const struct chunk *ck)
{
	if (ck->len >= 8 || ck->cap != ck->len ||
	    (s->st != ST_IDLE && s->st != ST_LOST))
		return false;
	if (s->pend_len + ck->len > sizeof(s->pend) - 1) {
		s->pend_len = 0;
		return true;
	}
	if (!s->pend_len) {
		s->pend_ns = ck->ts_ns;
		s->pend_seq = ck->seq;
	}
	memcpy(s->pend + s->pend_len, ck->data, ck->len);
	s->pend_len += ck->len;
	return true;
}

/* A message start ends what can only be ended by guessing: a lost stream,
 * a body running to close, a chunked body whose framing was lost in a gap,
 * or a head that never ended (binary that began like "GET "). */
static void resync(struct stream *s, const struct chunk *ck,
		   const struct framing_sink *k)
{
	if (!(ck->flags & WEFT_F_MSG_START))
		return;
	if (s->st == ST_HEAD) {
		if (ck->cap < 8 || !looks_like_start(ck->data, ck->cap))
			return;
		k->stats->not_http++;
	} else if (s->st == ST_LOST) {
		/* nothing in progress */
	} else if (s->st == ST_BODY_EOF ||
		   (s->st == ST_BODY_CHUNKED && s->ch.lost)) {
		end_response(k, s, s->last_ns);
	} else {
		return;
	}
	stream_reset(s, ST_IDLE);
}

/* Between messages: does one start at pos (maybe with the pending bytes)?
 * Returns the new position, or -1 when the chunk is not followed further. */
static long feed_idle(struct stream *s, const struct chunk *ck, uint32_t pos,
		      const struct framing_sink *k)
{
	uint32_t avail = pos < ck->cap ? ck->cap - pos : 0;

	if (s->pend_len && pos == 0) {
		uint8_t tmp[24];
		size_t tl = s->pend_len, more = avail < 16 ? avail : 16;

		memcpy(tmp, s->pend, tl);
		memcpy(tmp + tl, ck->data, more);
		if (looks_like_start(tmp, tl + more)) {
			stream_reset(s, ST_HEAD);
			head_append(s, s->pend, s->pend_len, k->hdr_window);
			s->first_ns = s->pend_ns;
			s->first_seq = s->pend_seq;
			s->pend_len = 0;
			return pos;
		}
	}
	s->pend_len = 0;
	if (!avail || !looks_like_start(ck->data + pos, avail)) {
		k->stats->not_http++;
		if (k->bad_start)
			k->bad_start(k->ctx, ck->dir);
		stream_reset(s, ST_LOST);
		return -1;
	}
	stream_reset(s, ST_HEAD);
	s->first_ns = ck->ts_ns;
	s->first_seq = ck->seq + pos;
	return pos;
}

/* Inside a header block: collect it up to its blank line or the window. */
static long feed_head(struct stream *s, enum weft_dir d, const struct chunk *ck,
		      uint32_t pos, const struct framing_sink *k)
{
	uint32_t avail = pos < ck->cap ? ck->cap - pos : 0;
	size_t old = s->head_len, from, end;

	if (!avail || !head_append(s, ck->data + pos, avail, k->hdr_window)) {
		/* bytes we never got: head cut by the window */
		handle_head(s, d, ck, true, k);
		return -1;
	}
	from = old > 3 ? old - 3 : 0;
	end = http_find_head_end(s->head + from, s->head_len - from);
	if (end) {
		end += from;
		s->head_len = end;
		if (handle_head(s, d, ck, false, k))
			return -1;	/* upgraded */
		return pos + (end - old);
	}
	if (s->head_len >= k->hdr_window || (ck->flags & WEFT_F_TRUNCATED)) {
		handle_head(s, d, ck, true, k);
		return -1;
	}
	return pos + (s->head_len - old);
}

/* A chunked body: decoded where bytes were copied, judged by the tail
 * where they were not. */
static long feed_chunked(struct stream *s, const struct chunk *ck, uint32_t pos,
			 const struct framing_sink *k)
{
	s->last_ns = ck->ts_ns;
	if (pos < ck->cap) {
		long n = http_chunked_feed(&s->ch, ck->data + pos, ck->cap - pos);

		if (n < 0) {
			k->stats->not_http++;
			stream_reset(s, ST_LOST);
			/* the head was good: end the span at the last byte
			 * seen, or the next response would take its place */
			end_response(k, s, s->last_ns);
			return -1;
		}
		pos += n;
	} else {
		uint32_t gap = ck->len - pos;
		uint32_t tl = ck->tail_len < gap ? ck->tail_len : gap;

		http_chunked_gap(&s->ch, gap, ck->tail + (ck->tail_len - tl), tl);
		pos = ck->len;
	}
	if (s->ch.done) {
		s->st = ST_IDLE;
		end_response(k, s, ck->ts_ns);
	}
	return pos;
}

void framing_feed(struct stream *s, const struct chunk *ck,
		  const struct framing_sink *k)
{
	long pos = 0;

	if (pend_short(s, ck))
		return;
	resync(s, ck, k);
	while (pos >= 0 && pos < ck->len) {
		switch ((enum stream_state)s->st) {
		case ST_IDLE:
			pos = feed_idle(s, ck, pos, k);
			break;
		case ST_HEAD:
			pos = feed_head(s, ck->dir, ck, pos, k);
			break;
		case ST_BODY_LEN: {
			uint64_t n = ck->len - pos;

			if (n > s->body_left)
				n = s->body_left;
			s->body_left -= n;
			pos += n;
			s->last_ns = ck->ts_ns;
			if (!s->body_left) {
				s->st = ST_IDLE;
				end_response(k, s, ck->ts_ns);
			}
			break;
		}
		case ST_BODY_CHUNKED:
			pos = feed_chunked(s, ck, pos, k);
			break;
		case ST_BODY_EOF:
			s->last_ns = ck->ts_ns;
			return;
		case ST_LOST:
			return;
		}
	}
}

bool framing_between_messages(const struct stream *s)
{
	return (s->st == ST_IDLE || s->st == ST_LOST) && !s->pend_len;
}

bool framing_until_close(const struct stream *s)
{
	return s->st == ST_BODY_EOF;
}

uint64_t framing_last_ns(const struct stream *s)
{
	return s->last_ns;
}

void framing_free(struct stream *s)
{
	head_release(s);
}
