// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Ring-buffer records into chunks and connection ends: see record.h. */
#include <string.h>
#include "record.h"

#define TCP_ESTABLISHED 1

static enum record_kind decode_data(const struct weft_data_rec *r, size_t size,
				    struct chunk *c)
{
	if (size < sizeof(*r) || size < sizeof(*r) + r->cap_len)
		return REC_NONE;
	c->conn = r->h.conn;
	c->dir = r->dir ? WEFT_DIR_RECV : WEFT_DIR_SEND;
	c->role = r->role <= WEFT_ROLE_SERVER ? r->role : WEFT_ROLE_UNKNOWN;
	c->addr = r->addr;
	c->pid = r->h.pid;
	c->tid = r->h.tid;
	memcpy(c->comm, r->comm, sizeof(c->comm));
	c->comm[sizeof(c->comm) - 1] = '\0';
	c->ts_ns = r->h.ts_ns;
	c->seq = r->seq;
	c->tx_seq = r->tx_seq;
	c->len = r->len;
	c->data = r->data;
	c->cap = r->cap_len < r->len ? r->cap_len : r->len;
	c->tail_len = r->tail_len < WEFT_TAIL_LEN ? r->tail_len : WEFT_TAIL_LEN;
	if (c->tail_len > r->len)
		c->tail_len = r->len;
	c->tail = r->tail;	/* tail[0..tail_len): the chunk's last bytes */
	c->flags = r->flags;
	c->g = r->g;
	c->origin_g = r->origin_g;
	return REC_CHUNK;
}

enum record_kind record_decode(const void *data, size_t size, struct record *out)
{
	const struct weft_rec_head *h = data;

	out->kind = REC_NONE;
	if (size < sizeof(*h))
		return REC_NONE;
	out->pid = h->pid;
	switch (h->type) {
	case WEFT_REC_DATA:
		out->kind = decode_data(data, size, &out->chunk);
		break;
	case WEFT_REC_CLOSE: {
		const struct weft_close_rec *r = data;

		if (size < sizeof(*r))
			break;
		out->end.conn = h->conn;
		out->end.ts_ns = h->ts_ns;
		/* straight from ESTABLISHED to CLOSE is an abort, not a FIN */
		out->end.reset = r->oldstate == TCP_ESTABLISHED;
		out->end.unread = r->unread;
		out->kind = REC_CLOSE;
		break;
	}
	case WEFT_REC_EXEC:
		out->kind = REC_EXEC;
		break;
	case WEFT_REC_GO_STREAM: {
		const struct weft_go_stream_rec *r = data;

		if (size < sizeof(*r))
			break;
		out->gs.pid = h->pid;
		out->gs.ts_ns = h->ts_ns;
		out->gs.g = r->g;
		out->gs.reader_g = r->reader_g;
		out->gs.serve_g = r->serve_g;
		out->gs.stream_id = r->stream_id;
		out->kind = REC_GO_STREAM;
		break;
	}
	case WEFT_REC_GO_H2_FIELDS: {
		const struct weft_go_h2_fields_rec *r = data;

		if (size < offsetof(struct weft_go_h2_fields_rec, data) ||
		    r->len > WEFT_GO_FIELDS_MAX ||
		    size < offsetof(struct weft_go_h2_fields_rec, data) + r->len)
			break;
		out->gf.pid = h->pid;
		out->gf.ts_ns = h->ts_ns;
		out->gf.g = r->g;
		out->gf.stream_id = r->stream_id;
		out->gf.n_fields = r->n_fields;
		out->gf.total_fields = r->total_fields;
		out->gf.written = r->kind == WEFT_GO_FIELDS_WRITTEN;
		out->gf.data = r->data;
		out->gf.len = r->len;
		out->kind = REC_GO_H2_FIELDS;
		break;
	}
	}
	return out->kind;
}
