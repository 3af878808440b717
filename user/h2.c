// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP/2 frames and streams of one connection: see h2.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "h2.h"

/* Frame types and flags (RFC 9113 6). */
enum {
	F_DATA = 0, F_HEADERS = 1, F_PRIORITY = 2, F_RST_STREAM = 3,
	F_SETTINGS = 4, F_PUSH_PROMISE = 5, F_PING = 6, F_GOAWAY = 7,
	F_WINDOW_UPDATE = 8, F_CONTINUATION = 9,
};
#define FL_END_STREAM	0x01
#define FL_ACK		0x01
#define FL_END_HEADERS	0x04
#define FL_PADDED	0x08
#define FL_PRIORITY	0x20

#define SET_HEADER_TABLE_SIZE	1
#define SET_MAX_FRAME_SIZE	5
#define FRAME_SIZE_DEFAULT	16384
#define FRAME_SIZE_MAX		16777215	/* 2^24 - 1 */
#define SETTINGS_KEEP		1024		/* parameters read per frame */

#define STREAM_BUCKETS	64

enum dir_state {
	D_SYNC,			/* mid-stream: looking for a chunk that
				 * starts with a frame */
	D_PREFACE,		/* the client preface (request direction) */
	D_HEAD,			/* a 9-byte frame header */
	D_PAYLOAD,		/* a frame's payload */
};

struct h2_stream {
	struct h2_stream *next;
	uint32_t id;
	void *ud;			/* the sink's */
	bool pending;			/* ud from h2_sink.pending */
	int status;
	bool final_seen;		/* a final (non-1xx) :status came */
	bool has_grpc_status;
	int grpc_status;
	char grpc_message[H2_GRPC_MSG_MAX];
};

/* One direction: frame parsing state and the HPACK decoder of the blocks
 * that travel this way. */
struct h2_dir {
	enum dir_state st;
	uint32_t preface_got;
	uint8_t fh[9];
	uint32_t fh_got;
	uint64_t fh_ns;			/* first byte of the current frame */
	uint32_t fh_seq;
	uint32_t flen, fgot, fstream;
	uint8_t ftype, fflags;
	uint32_t keep;			/* payload bytes wanted */
	bool missing;			/* some of them were not copied */
	uint8_t *pay;
	uint32_t pay_cap;
	/* the header block being assembled */
	bool in_block, blk_broken, blk_push, blk_end_stream;
	uint32_t blk_stream;
	uint64_t blk_ns;
	uint32_t blk_seq;
	uint8_t *blk;
	size_t blk_len, blk_cap;
	uint32_t max_frame;		/* what this direction's receiver takes */
	bool max_frame_known;
	uint32_t next_seq;		/* TCP sequence number the next chunk
					 * should start at (socket bytes only) */
	bool seq_known;
	uint32_t sync_tries;		/* D_SYNC: chunks passed over */
	struct hpack_dec hp;
};

/* Chunks one direction of a mid-stream connection may pass over looking
 * for a frame boundary before the connection is given up. */
#define MID_SYNC_TRIES	16
#define REQ_DIR_UNKNOWN	2

struct h2_conn {
	int req_dir;			/* enum weft_dir, or REQ_DIR_UNKNOWN */
	bool mid;			/* h2_new_midstream */
	bool mid_counted;		/* mid_synced counted */
	struct h2_dir d[2];		/* by enum weft_dir */
	struct h2_stream *tab[STREAM_BUCKETS];
	uint32_t n_streams;
	uint32_t last_req_id;		/* highest stream a request opened */
	bool lost;
};

bool h2_preface_start(const uint8_t *p, size_t n)
{
	if (n < 4)
		return false;
	if (n > H2_PREFACE_LEN)
		n = H2_PREFACE_LEN;
	return memcmp(p, H2_PREFACE, n) == 0;
}

struct h2_conn *h2_new(enum weft_dir req_dir)
{
	struct h2_conn *c = calloc(1, sizeof(*c));

	if (!c)
		abort();
	c->req_dir = req_dir;
	for (int i = 0; i < 2; i++) {
		c->d[i].st = i == (int)req_dir ? D_PREFACE : D_HEAD;
		c->d[i].max_frame = FRAME_SIZE_MAX;
		hpack_init(&c->d[i].hp, HPACK_TABLE_DEFAULT);
	}
	return c;
}

struct h2_conn *h2_new_midstream(void)
{
	struct h2_conn *c = calloc(1, sizeof(*c));

	if (!c)
		abort();
	c->req_dir = REQ_DIR_UNKNOWN;
	c->mid = true;
	for (int i = 0; i < 2; i++) {
		c->d[i].st = D_SYNC;
		c->d[i].max_frame = FRAME_SIZE_MAX;
		hpack_init_partial(&c->d[i].hp);
	}
	return c;
}

int h2_req_dir(const struct h2_conn *c)
{
	return c->req_dir == REQ_DIR_UNKNOWN ? -1 : c->req_dir;
}

bool h2_lost(const struct h2_conn *c)
{
	return c->lost;
}

uint32_t h2_open_streams(const struct h2_conn *c)
{
	return c->n_streams;
}

void h2_free(struct h2_conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < 2; i++) {
		hpack_free(&c->d[i].hp);
		free(c->d[i].pay);
		free(c->d[i].blk);
	}
	/* streams are gone by h2_end_all; any left had no sink to tell */
	for (int b = 0; b < STREAM_BUCKETS; b++)
		while (c->tab[b]) {
			struct h2_stream *s = c->tab[b];

			c->tab[b] = s->next;
			free(s);
		}
	free(c);
}

/* ---- streams ---- */

static struct h2_stream **stream_slot(struct h2_conn *c, uint32_t id)
{
	struct h2_stream **pp = &c->tab[(id >> 1) % STREAM_BUCKETS];

	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

static struct h2_stream *stream_find(struct h2_conn *c, uint32_t id)
{
	return *stream_slot(c, id);
}

/* The stream ends: tell the sink, forget it. */
static void stream_end(struct h2_conn *c, uint32_t id, uint64_t ts,
		       enum h2_end_how how, const struct h2_sink *k)
{
	struct h2_stream **pp = stream_slot(c, id), *s = *pp;
	struct h2_response r;

	if (!s)
		return;
	*pp = s->next;
	c->n_streams--;
	r = (struct h2_response){
		.status = s->status, .has_grpc_status = s->has_grpc_status,
		.grpc_status = s->grpc_status, .grpc_message = s->grpc_message,
		.end_ns = ts, .how = how,
	};
	if (how == H2_END_RESET)
		k->stats->streams_reset++;
	if (s->pending)
		k->pending_end(k->ctx, s->ud, &r);
	else
		k->end(k->ctx, s->ud, &r);
	free(s);
}

void h2_end_all(struct h2_conn *c, uint64_t ts, enum h2_end_how how,
		const struct h2_sink *k)
{
	for (int b = 0; b < STREAM_BUCKETS; b++)
		while (c->tab[b])
			stream_end(c, c->tab[b]->id, ts, how, k);
}

/* Frame boundaries are lost: nothing more on this connection is trusted. */
static void lose_sync(struct h2_conn *c, uint64_t ts, const struct h2_sink *k)
{
	k->stats->sync_lost++;
	k->stats->streams_lost += c->n_streams;
	h2_end_all(c, ts, H2_END_DROP, k);
	c->lost = true;
}

/* ---- header blocks ---- */

/* What one block said, collected field by field from the decoder. */
struct fields {
	bool request;
	bool either;			/* direction not known yet: :status too */
	bool ctx_hidden;		/* a field of unknown name may have been
					 * trace context (mid-stream) */
	uint32_t named;			/* fields decoded with their name */
	bool filled;			/* from the fields the process wrote */
	char known[H2_KNOWN_MAX];	/* struct h2_known */
	size_t known_len;
	unsigned ctx_by_shape;		/* context taken by its value's shape */
	char method[HTTP_METHOD_MAX];
	bool method_bad;
	char path[HTTP_TARGET_MAX + 4];	/* escaped; one past the max is cut */
	size_t path_len;
	bool has_path;
	char authority[HTTP_HOST_MAX];
	int status;
	bool has_grpc_status;
	int grpc_status;
	char grpc_message[H2_GRPC_MSG_MAX];
	char head[H2_HEAD_MAX];		/* regular fields, "name: value\r\n" */
	size_t head_len;
	bool head_cut;
};

/* As new, without clearing its 11 KiB of buffers (twice per stream, the
 * memset was a tenth of a stream's cost): only their first bytes. */
static void fields_init(struct fields *f, bool request)
{
	f->request = request;
	f->either = false;
	f->ctx_hidden = false;
	f->ctx_by_shape = 0;
	f->named = 0;
	f->known_len = 0;
	f->filled = false;
	f->method[0] = '\0';
	f->method_bad = false;
	f->path[0] = '\0';
	f->path_len = 0;
	f->has_path = false;
	f->authority[0] = '\0';
	f->status = 0;
	f->has_grpc_status = false;
	f->grpc_status = 0;
	f->grpc_message[0] = '\0';
	f->head_len = 0;
	f->head_cut = false;
}

static bool name_is(const uint8_t *n, size_t nl, const char *lit)
{
	return nl == strlen(lit) && memcmp(n, lit, nl) == 0;
}

/* Regular request fields the message needs: http.c reads the same names
 * from an HTTP/1 head (user agent, content type, trace context). */
static bool field_wanted(const uint8_t *n, size_t nl)
{
	static const char *const names[] = {
		"host", "user-agent", "content-type", "b3", "traceparent",
		"tracestate", "uber-trace-id",
	};

	if (nl > 5 && memcmp(n, "x-b3-", 5) == 0)
		return true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (name_is(n, nl, names[i]))
			return true;
	return false;
}

/* A value HTTP/1 could carry on one line: no CTLs but HTAB (RFC 9113
 * 8.2.1 forbids NUL, CR, LF in HTTP/2 too). */
static bool value_ok(const uint8_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
			return false;
	return true;
}

static void add_line(struct fields *f, const uint8_t *n, size_t nl,
		     const uint8_t *v, size_t vl)
{
	for (size_t i = 0; i < nl; i++)
		if (n[i] <= ' ' || n[i] == ':' || n[i] >= 0x7f)
			return;
	if (!value_ok(v, vl))
		return;
	if (f->head_len + nl + vl + 4 > sizeof(f->head)) {
		f->head_cut = true;
		return;
	}
	memcpy(f->head + f->head_len, n, nl);
	f->head_len += nl;
	memcpy(f->head + f->head_len, ": ", 2);
	memcpy(f->head + f->head_len + 2, v, vl);
	f->head_len += 2 + vl;
	memcpy(f->head + f->head_len, "\r\n", 2);
	f->head_len += 2;
}

/* :path as an HTTP/1 request target: bytes a request line cannot hold
 * percent-encoded, cut one byte past what http.c keeps (so it says cut). */
static void set_path(struct fields *f, const uint8_t *v, size_t n)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < n && o <= HTTP_TARGET_MAX; i++) {
		if (v[i] <= ' ' || v[i] == 0x7f) {
			f->path[o++] = '%';
			f->path[o++] = hexd[v[i] >> 4];
			f->path[o++] = hexd[v[i] & 15];
		} else {
			f->path[o++] = (char)v[i];
		}
	}
	f->path_len = o;
	f->has_path = n > 0;
}

static int hex_val(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* grpc-message is percent-encoded (gRPC over HTTP/2, "Status-Message"):
 * kept decoded, NULs and other control bytes as '?', cut to fit. */
static void set_grpc_message(struct fields *f, const uint8_t *v, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < sizeof(f->grpc_message); i++) {
		uint8_t c = v[i];
		int hi, lo;

		if (c == '%' && i + 2 < n && (hi = hex_val(v[i + 1])) >= 0 &&
		    (lo = hex_val(v[i + 2])) >= 0) {
			c = (uint8_t)(hi << 4 | lo);
			i += 2;
		}
		f->grpc_message[o++] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
	}
	f->grpc_message[o] = '\0';
}

static int parse_small_int(const uint8_t *v, size_t n)
{
	int x = 0;

	if (n == 0 || n > 6)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

static bool all_hex(const uint8_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hex_val(v[i]) < 0)
			return false;
	return n > 0;
}

/* traceparent's shape (W3C Trace Context 3.2): 2-32-16-2 hex digits. */
static bool traceparent_shape(const uint8_t *v, size_t n)
{
	return n == 55 && v[2] == '-' && v[35] == '-' && v[52] == '-' &&
	       all_hex(v, 2) && all_hex(v + 3, 32) && all_hex(v + 36, 16) &&
	       all_hex(v + 53, 2);
}

/* B3 single's (b3-propagation): {trace 16|32}-{span 16}[-{1|0|d}[-{parent 16}]]. */
static bool b3_single_shape(const uint8_t *v, size_t n)
{
	size_t t = n > 32 && v[32] == '-' ? 32 : 16;

	if (n < t + 17 || v[t] != '-' || !all_hex(v, t) || !all_hex(v + t + 1, 16))
		return false;
	if (n == t + 17)
		return true;
	if (v[t + 17] != '-' || n < t + 19 || !strchr("01d", v[t + 18]))
		return false;
	return n == t + 19 ||
	       (n == t + 36 && v[t + 19] == '-' && all_hex(v + t + 20, 16));
}

/*
 * A request field whose name was a table entry from before weft saw the
 * connection (mid-stream). Go's encoder, like most, names a field by the
 * newest entry of that name, so once a connection carried traceparent,
 * every later traceparent names the one before it: its name stays unknown
 * for the connection's life. Its value is unmistakable, and so is B3's
 * single header: those are taken as what they are (counted). A value that
 * could be one of B3's multiple headers (16 or 32 hex digits) cannot be
 * placed: the request makes no span rather than a span in the wrong trace.
 */
static void unknown_name_field(struct fields *f, const uint8_t *v, size_t vl)
{
	if (traceparent_shape(v, vl)) {
		add_line(f, (const uint8_t *)"traceparent", 11, v, vl);
		f->ctx_by_shape++;
	} else if (b3_single_shape(v, vl)) {
		add_line(f, (const uint8_t *)"b3", 2, v, vl);
		f->ctx_by_shape++;
	} else if ((vl == 16 || vl == 32) && all_hex(v, vl)) {
		f->ctx_hidden = true;
	}
}

static void on_field(void *ctx, const uint8_t *n, size_t nl,
		     const uint8_t *v, size_t vl)
{
	struct fields *f = ctx;

	if (!n) {
		if (f->request)
			unknown_name_field(f, v, vl);
		return;
	}
	f->named++;
	if (nl <= 63 && vl <= 200 && f->known_len + nl + vl + 2 <= sizeof(f->known)) {
		memcpy(f->known + f->known_len, n, nl);
		f->known[f->known_len + nl] = '\0';
		memcpy(f->known + f->known_len + nl + 1, v, vl);
		f->known[f->known_len + nl + 1 + vl] = '\0';
		f->known_len += nl + vl + 2;
	}

	/* a mid-stream block before the direction is known: both kinds */
	if (f->request && f->either && name_is(n, nl, ":status")) {
		int st = parse_small_int(v, vl);

		if (st >= 100 && st <= 999)
			f->status = st;
		return;
	}
	if (f->request) {
		if (name_is(n, nl, ":method")) {
			if (vl == 0 || vl >= sizeof(f->method)) {
				f->method_bad = true;
				return;
			}
			memcpy(f->method, v, vl);
			f->method[vl] = '\0';
			for (size_t i = 0; i < vl; i++)
				if (v[i] <= ' ' || v[i] >= 0x7f || v[i] == ':')
					f->method_bad = true;
		} else if (name_is(n, nl, ":path")) {
			set_path(f, v, vl);
		} else if (name_is(n, nl, ":authority")) {
			if (value_ok(v, vl))
				http_copy_cut(f->authority, sizeof(f->authority), v, vl);
		} else if (nl && n[0] != ':' && field_wanted(n, nl)) {
			add_line(f, n, nl, v, vl);
		}
		return;
	}
	if (name_is(n, nl, ":status")) {
		int st = parse_small_int(v, vl);

		if (st >= 100 && st <= 999)
			f->status = st;
	} else if (name_is(n, nl, "grpc-status")) {
		int gs = parse_small_int(v, vl);

		if (gs >= 0) {
			f->has_grpc_status = true;
			f->grpc_status = gs;
		}
	} else if (name_is(n, nl, "grpc-message")) {
		set_grpc_message(f, v, vl);
	}
}

/* The request's fields as an HTTP/1.1 head, parsed by http.c into the
 * message every later stage reads. NULL when the request is unusable. */
static struct http_msg *request_msg(const struct fields *f)
{
	size_t cap = HTTP_METHOD_MAX + sizeof(f->path) + HTTP_HOST_MAX +
		     sizeof(f->head) + 32, n;
	char *text = malloc(cap);
	struct http_msg *m = http_msg_new();
	const char *target = f->path;
	size_t tlen = f->path_len;

	if (!text)
		abort();
	/* CONNECT names an authority, not a path (RFC 9113 8.5) */
	if (!f->has_path && strcmp(f->method, "CONNECT") == 0) {
		target = f->authority;
		tlen = strlen(f->authority);
	}
	if (f->method_bad || !f->method[0] || tlen == 0)
		goto bad;
	n = (size_t)snprintf(text, cap, "%s %.*s HTTP/1.1\r\n", f->method,
			     (int)tlen, target);
	if (f->authority[0])
		n += (size_t)snprintf(text + n, cap - n, "host: %s\r\n",
				      f->authority);
	memcpy(text + n, f->head, f->head_len);
	n += f->head_len;
	memcpy(text + n, "\r\n", 2);
	n += 2;
	if (http_parse_head((const uint8_t *)text, n, m) != HTTP_OK)
		goto bad;
	free(text);
	return m;
bad:
	free(text);
	http_msg_free(m);
	return NULL;
}

static void request_block(struct h2_conn *c, struct h2_dir *d,
			  const struct fields *f, const struct chunk *ck,
			  const struct h2_sink *k)
{
	uint32_t id = d->blk_stream;
	struct h2_request r = { .stream_id = id, .first_ns = d->blk_ns,
				.first_seq = d->blk_seq, .ck = ck,
				.truncated = f->head_cut };
	struct h2_stream *s;
	bool pending = false;
	void *ud;

	/* trailers of a request (stream ids only grow), or a stream id a
	 * client cannot open */
	if (id <= c->last_req_id || !(id & 1))
		return;
	c->last_req_id = id;
	r.m = f->ctx_hidden ? NULL : request_msg(f);
	if (!r.m && (f->ctx_hidden || (d->hp.unknown && !f->filled))) {
		/* mid-stream, fields from before weft: the server's own
		 * decoding may tell (pairing.c), else no span */
		struct h2_known kn = { .known = f->known, .known_len = f->known_len,
				       .n_fields = f->named + d->hp.unknown,
				       .ctx_hidden = f->ctx_hidden };

		ud = k->pending && c->n_streams < H2_MAX_STREAMS ?
		     k->pending(k->ctx, &r, &kn) : NULL;
		if (!ud) {
			if (f->ctx_hidden)
				k->stats->mid_ctx_hidden++;
			else
				k->stats->mid_requests_unknown++;
			return;
		}
		k->stats->mid_pending++;
		pending = true;
	} else if (!r.m) {
		k->stats->bad_requests++;
		return;
	} else {
		k->stats->mid_ctx_by_shape += f->ctx_by_shape;
		if (c->n_streams >= H2_MAX_STREAMS) {
			k->stats->streams_refused++;
			http_msg_free(r.m);
			return;
		}
		ud = k->request(k->ctx, &r);
		http_msg_free(r.m);
		if (!ud)
			return;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->id = id;
	s->ud = ud;
	s->pending = pending;
	s->next = c->tab[(id >> 1) % STREAM_BUCKETS];
	c->tab[(id >> 1) % STREAM_BUCKETS] = s;
	c->n_streams++;
	k->stats->streams++;
	if (c->mid)
		k->stats->mid_streams++;
}

static void response_block(struct h2_stream *s, const struct fields *f)
{
	if (f->status && !s->final_seen) {
		s->status = f->status;
		s->final_seen = f->status >= 200;	/* 1xx: more to come */
	}
	if (f->has_grpc_status) {
		s->has_grpc_status = true;
		s->grpc_status = f->grpc_status;
	}
	if (f->grpc_message[0])
		http_copy_cut(s->grpc_message, sizeof(s->grpc_message),
			      f->grpc_message, strlen(f->grpc_message));
}

/* The fields of a weft_go_h2_fields_rec through on_field; false when one
 * was cut (its value is not what was sent). */
static bool fields_feed(struct fields *f, const uint8_t *data, size_t len, unsigned n)
{
	bool whole = true;
	size_t o = 0;

	for (unsigned i = 0; i < n && o + 3 <= len; i++) {
		size_t nl = data[o] & 0x3f, vl = (data[o + 1] | data[o + 2] << 8) & 0x1ff;
		bool cut = (data[o] & 0x80) || (data[o + 2] << 8 & WEFT_GO_FIELD_CUT);

		if (o + 3 + nl + vl > len)
			break;
		if (!cut)
			on_field(f, data + o + 3, nl, data + o + 3 + nl, vl);
		else
			whole = false;
		o += 3 + nl + vl;
	}
	return whole;
}

/* A block that named entries from before weft: the fields the process
 * wrote for the stream, if the sink has them, replace what was decoded. */
static void fill_written(struct fields *f, struct h2_dir *d, const struct h2_sink *k)
{
	struct h2_known kn = { .known = f->known, .known_len = f->known_len,
			       .n_fields = f->named + d->hp.unknown };
	const uint8_t *data;
	size_t len;
	unsigned n;
	bool req = f->request, either = f->either;

	if (!k->written(k->ctx, d->blk_stream, &kn, &data, &len, &n))
		return;
	fields_init(f, req);
	f->either = either;
	if (!fields_feed(f, data, len, n))
		f->head_cut = true;
	f->filled = true;
	k->stats->go_written_filled++;
}

/* A complete header block (END_HEADERS): decode it, whatever its stream,
 * since every block changes the decoder's dynamic table. */
static void block_done(struct h2_conn *c, struct h2_dir *d, bool req,
		       const struct chunk *ck, const struct h2_sink *k)
{
	struct fields *f = malloc(sizeof(*f));
	enum hpack_result r = HPACK_POISONED;
	struct h2_stream *s;

	if (!f)
		abort();
	fields_init(f, req || c->req_dir == REQ_DIR_UNKNOWN);
	f->either = c->req_dir == REQ_DIR_UNKNOWN;
	if (d->blk_broken && !d->hp.poisoned) {
		/* a piece of it was never seen: the table is lost from here */
		d->hp.poisoned = true;
		k->stats->hpack_errors++;
	} else if (!d->blk_broken) {
		r = hpack_decode(&d->hp, d->blk, d->blk_len, on_field, f);
		if (r == HPACK_ERROR)
			k->stats->hpack_errors++;
	}
	if (r != HPACK_OK)
		k->stats->blocks_undecoded++;
	k->stats->mid_fields_unknown += d->hp.unknown;
	if (r == HPACK_OK && d->hp.unknown && k->written && !d->blk_push)
		fill_written(f, d, k);
	if (f->either && r == HPACK_OK && (f->method[0] || f->status)) {
		/* the first block that says which way requests go */
		int me = d == &c->d[0] ? 0 : 1;

		c->req_dir = f->method[0] ? me : !me;
		req = c->req_dir == me;
		f->request = req;
		if (!req) {
			/* decoded as a request: keep what a response has */
			int st = f->status;

			fields_init(f, false);
			f->status = st;
		}
	} else if (f->either) {
		/* says nothing of its direction (its pseudo-headers were
		 * entries from before weft, counted as unknown fields):
		 * its stream is not followed */
		r = HPACK_POISONED;
		req = false;
		d->blk_push = true;	/* (nothing below) */
	}
	if (!d->blk_push) {
		if (req && r == HPACK_OK) {
			request_block(c, d, f, ck, k);
		} else if (!req && (s = stream_find(c, d->blk_stream))) {
			if (r == HPACK_OK)
				response_block(s, f);
			if (d->blk_end_stream)
				stream_end(c, s->id, ck->ts_ns, H2_END_DONE, k);
		}
	}
	free(f);
	d->in_block = false;
	d->blk_len = 0;
}

/* Append a fragment to the block being assembled (bounded). */
static void block_append(struct h2_dir *d, const uint8_t *p, size_t n)
{
	if (d->blk_broken)
		return;
	if (d->blk_len + n > H2_BLOCK_MAX) {
		d->blk_broken = true;
		return;
	}
	if (d->blk_len + n > d->blk_cap) {
		size_t cap = d->blk_cap ? d->blk_cap : 1024;

		while (cap < d->blk_len + n)
			cap *= 2;
		d->blk = realloc(d->blk, cap);
		if (!d->blk)
			abort();
		d->blk_cap = cap;
	}
	memcpy(d->blk + d->blk_len, p, n);
	d->blk_len += n;
}

/* ---- frames ---- */

/* HEADERS or PUSH_PROMISE: strip padding, priority, promised id; start a
 * block. False when the frame is malformed. */
static bool block_start(struct h2_dir *d, const struct chunk *ck)
{
	const uint8_t *p = d->pay;
	size_t n = d->flen, skip = 0, pad = 0;

	d->in_block = true;
	d->blk_broken = d->missing || d->flen > d->keep;
	d->blk_push = d->ftype == F_PUSH_PROMISE;
	d->blk_end_stream = d->ftype == F_HEADERS && (d->fflags & FL_END_STREAM);
	d->blk_stream = d->fstream;
	d->blk_ns = d->fh_ns;
	d->blk_seq = d->fh_seq;
	d->blk_len = 0;
	if (d->blk_broken)
		return true;
	if (d->fflags & FL_PADDED) {
		if (n < 1)
			return false;
		pad = p[0];
		skip = 1;
	}
	if (d->ftype == F_HEADERS && (d->fflags & FL_PRIORITY))
		skip += 5;
	if (d->ftype == F_PUSH_PROMISE)
		skip += 4;
	if (skip + pad > n)
		return false;
	if (n > skip + pad)
		block_append(d, p + skip, n - skip - pad);
	return true;
}

static void settings(struct h2_conn *c, struct h2_dir *d)
{
	/* the sender's settings govern what travels towards it */
	struct h2_dir *other = &c->d[d == &c->d[0] ? 1 : 0];
	uint32_t n = d->flen < d->keep ? d->flen : d->keep;

	if ((d->fflags & FL_ACK) || d->missing)
		return;
	/* the sender's first SETTINGS: frames towards it are at most the
	 * default size unless it says more (until then any size is taken,
	 * as weft may not have seen the connection's first SETTINGS) */
	if (!other->max_frame_known) {
		other->max_frame = FRAME_SIZE_DEFAULT;
		other->max_frame_known = true;
	}
	for (uint32_t i = 0; i + 6 <= n; i += 6) {
		const uint8_t *p = d->pay + i;
		uint16_t id = (uint16_t)(p[0] << 8 | p[1]);
		uint32_t v = (uint32_t)p[2] << 24 | (uint32_t)p[3] << 16 |
			     (uint32_t)p[4] << 8 | p[5];

		if (id == SET_HEADER_TABLE_SIZE) {
			hpack_set_limit(&other->hp, v);
		} else if (id == SET_MAX_FRAME_SIZE &&
			   v >= FRAME_SIZE_DEFAULT && v <= FRAME_SIZE_MAX) {
			/* the largest announced: frames sent before the
			 * peer saw a smaller value may still be bigger */
			if (v > other->max_frame)
				other->max_frame = v;
		}
	}
}

static uint32_t be31(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		(uint32_t)p[2] << 8 | p[3]) & 0x7fffffff;
}

/* GOAWAY from the server: streams above its last were never processed. */
static void goaway(struct h2_conn *c, struct h2_dir *d, bool req,
		   const struct chunk *ck, const struct h2_sink *k)
{
	uint32_t last;

	if (req || d->missing || d->flen < 8)
		return;
	last = be31(d->pay);
	for (int b = 0; b < STREAM_BUCKETS; b++) {
		struct h2_stream *s = c->tab[b], *next;

		for (; s; s = next) {
			next = s->next;
			if (s->id > last) {
				k->stats->goaway_dropped++;
				stream_end(c, s->id, ck->ts_ns, H2_END_DROP, k);
			}
		}
	}
}

/* A whole frame has gone by (its payload bytes kept as far as wanted). */
static bool frame_end(struct h2_conn *c, struct h2_dir *d, bool req,
		      const struct chunk *ck, const struct h2_sink *k)
{
	d->st = D_HEAD;
	d->fh_got = 0;
	switch (d->ftype) {
	case F_DATA:
		if (!req && (d->fflags & FL_END_STREAM))
			stream_end(c, d->fstream, ck->ts_ns, H2_END_DONE, k);
		break;
	case F_HEADERS:
	case F_PUSH_PROMISE:
		if (!block_start(d, ck))
			return false;
		if (d->fflags & FL_END_HEADERS)
			block_done(c, d, req, ck, k);
		break;
	case F_CONTINUATION:
		if (d->missing || d->flen > d->keep)
			d->blk_broken = true;
		else if (d->flen)
			block_append(d, d->pay, d->flen);
		if (d->fflags & FL_END_HEADERS)
			block_done(c, d, req, ck, k);
		break;
	case F_RST_STREAM:
		stream_end(c, d->fstream, ck->ts_ns, H2_END_RESET, k);
		break;
	case F_SETTINGS:
		settings(c, d);
		break;
	case F_GOAWAY:
		goaway(c, d, req, ck, k);
		break;
	default:
		break;	/* PRIORITY, PING, WINDOW_UPDATE, extensions */
	}
	return true;
}

/* A frame header is complete: is it one that can come here, and what of
 * its payload is needed? False when it makes no sense (out of step). */
static bool frame_start(struct h2_dir *d)
{
	const uint8_t *h = d->fh;
	uint32_t want = 0;

	d->flen = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
	d->ftype = h[3];
	d->fflags = h[4];
	d->fstream = be31(h + 5);
	d->fgot = 0;
	d->missing = false;
	if (d->flen > d->max_frame)
		return false;
	/* a header block admits nothing but its CONTINUATIONs (RFC 9113 6.10) */
	if (d->in_block != (d->ftype == F_CONTINUATION))
		return false;
	if (d->in_block && d->fstream != d->blk_stream)
		return false;
	switch (d->ftype) {
	case F_DATA:
		return d->fstream != 0;
	case F_HEADERS:
	case F_PUSH_PROMISE:
	case F_CONTINUATION:
		if (d->fstream == 0)
			return false;
		want = d->flen <= H2_BLOCK_MAX ? d->flen : 0;
		break;
	case F_PRIORITY:
		return d->fstream != 0 && d->flen == 5;
	case F_RST_STREAM:
		if (d->fstream == 0 || d->flen != 4)
			return false;
		want = 4;
		break;
	case F_SETTINGS:
		if (d->fstream != 0 || d->flen % 6)
			return false;
		want = d->flen < SETTINGS_KEEP ? d->flen : SETTINGS_KEEP;
		break;
	case F_PING:
		return d->fstream == 0 && d->flen == 8;
	case F_GOAWAY:
		if (d->fstream != 0 || d->flen < 8)
			return false;
		want = 8;
		break;
	case F_WINDOW_UPDATE:
		return d->flen == 4;
	default:
		break;
	}
	d->keep = want;
	if (want > d->pay_cap) {
		d->pay = realloc(d->pay, want);
		if (!d->pay)
			abort();
		d->pay_cap = want;
	}
	return true;
}

/*
 * Every chunk of an HTTP/2 connection is forwarded, so a chunk that does
 * not start where the last one ended means records were lost (the ring
 * buffer was full): the frames are out of step from here, before a byte
 * of them is misread. Only socket bytes carry their own TCP sequence
 * numbers; TLS plaintext carries the ciphertext's.
 */
static bool seq_gap(struct h2_dir *d, const struct chunk *ck)
{
	bool plain = !(ck->flags & (WEFT_F_TLS | WEFT_F_SYSCALL_HOOK));
	bool gap = plain && d->seq_known && ck->seq != d->next_seq;

	d->seq_known = plain;
	d->next_seq = ck->seq + ck->len;
	return gap;
}

/* Could a frame of this header come first in a chunk of a connection
 * seen from the middle? The checks frame_start makes, and none that
 * needs the block or settings state weft does not have. */
static bool sync_header_ok(const uint8_t *h, bool first, bool *in_block,
			   uint32_t *blk_stream)
{
	uint32_t len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
	uint8_t type = h[3];
	uint32_t id = be31(h + 5);

	if (h[5] & 0x80 || len > FRAME_SIZE_MAX)
		return false;
	if (*in_block != (type == F_CONTINUATION))
		return false;	/* also: no chunk starts with CONTINUATION */
	if (*in_block && id != *blk_stream)
		return false;
	switch (type) {
	case F_DATA:
		if (first && len > FRAME_SIZE_DEFAULT)
			return false;
		return id != 0;
	case F_HEADERS:
	case F_CONTINUATION:
		*in_block = !(h[4] & FL_END_HEADERS);
		*blk_stream = id;
		return id != 0;
	case F_PRIORITY:
		return id != 0 && len == 5;
	case F_RST_STREAM:
	case F_WINDOW_UPDATE:
		return len == 4 && (type == F_WINDOW_UPDATE || id != 0);
	case F_SETTINGS:
		return id == 0 && len % 6 == 0 && len <= 6 * 64;
	case F_PING:
		return id == 0 && len == 8;
	case F_GOAWAY:
		return id == 0 && len >= 8;
	default:
		return false;	/* PUSH_PROMISE, extensions: not to start on */
	}
}

/*
 * Mid-stream: does this chunk start with a frame? Its frame headers,
 * walked by their lengths, must all make sense and end exactly where the
 * chunk does (a write of whole frames, or a read of one), or be at least
 * two before the walk leaves the copied bytes, or be a chunk of one frame
 * header alone (a read of it, its payload read next). A chunk that begins inside
 * a frame almost never passes both.
 */
static bool sync_here(const struct chunk *ck)
{
	size_t cap = ck->cap < ck->len ? ck->cap : ck->len, pos = 0;
	unsigned frames = 0;
	bool in_block = false;
	uint32_t blk_stream = 0;

	while (pos + 9 <= cap) {
		const uint8_t *h = ck->data + pos;
		uint32_t len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];

		if (!sync_header_ok(h, frames == 0, &in_block, &blk_stream))
			return false;
		frames++;
		pos += 9 + (size_t)len;
	}
	if (pos == ck->len)
		return frames > 0;
	/* Go's HTTP/2 servers read a frame's header alone, then its payload */
	if (ck->len == 9 && cap == 9)
		return frames == 1;
	return frames >= 2 && pos > cap;
}

void h2_feed(struct h2_conn *c, const struct chunk *ck, const struct h2_sink *k)
{
	struct h2_dir *d = &c->d[ck->dir];
	bool req = (int)ck->dir == c->req_dir;
	size_t pos = 0, len = ck->len, cap = ck->cap < ck->len ? ck->cap : ck->len;

	if (c->lost)
		return;
	if (seq_gap(d, ck) && d->st != D_SYNC) {
		k->stats->seq_gaps++;
		lose_sync(c, ck->ts_ns, k);
		return;
	}
	if (d->st == D_SYNC) {
		if (!sync_here(ck)) {
			k->stats->mid_chunks_skipped++;
			if (++d->sync_tries > MID_SYNC_TRIES) {
				k->stats->mid_unsynced++;
				h2_end_all(c, ck->ts_ns, H2_END_DROP, k);
				c->lost = true;
			}
			return;
		}
		d->st = D_HEAD;
		d->fh_got = 0;
		if (!c->mid_counted && c->d[!ck->dir].st != D_SYNC) {
			c->mid_counted = true;
			k->stats->mid_synced++;
		}
	}

	while (pos < len && !c->lost) {
		size_t n;

		/* (a mid-stream connection learns it from a block) */
		req = (int)ck->dir == c->req_dir;
		switch (d->st) {
		case D_SYNC:
			goto lost;	/* (left above) */
		case D_PREFACE:
			if (pos >= cap)
				goto lost;	/* not even the preface was seen */
			n = H2_PREFACE_LEN - d->preface_got;
			if (n > cap - pos)
				n = cap - pos;
			if (memcmp(ck->data + pos, &H2_PREFACE[d->preface_got], n))
				goto lost;
			d->preface_got += n;
			pos += n;
			if (d->preface_got == H2_PREFACE_LEN)
				d->st = D_HEAD;
			break;
		case D_HEAD:
			if (pos >= cap)
				goto lost;	/* a frame header not copied */
			if (d->fh_got == 0) {
				d->fh_ns = ck->ts_ns;
				d->fh_seq = ck->seq + (uint32_t)pos;
			}
			n = 9 - d->fh_got;
			if (n > cap - pos)
				n = cap - pos;
			memcpy(d->fh + d->fh_got, ck->data + pos, n);
			d->fh_got += n;
			pos += n;
			if (d->fh_got < 9)
				break;
			if (!frame_start(d))
				goto lost;
			d->st = D_PAYLOAD;
			if (d->flen == 0 && !frame_end(c, d, req, ck, k))
				goto lost;
			break;
		case D_PAYLOAD:
			n = d->flen - d->fgot;
			if (n > len - pos)
				n = len - pos;
			if (d->fgot < d->keep) {
				size_t want = d->keep - d->fgot, have;

				if (want > n)
					want = n;
				have = pos < cap ? cap - pos : 0;
				if (have > want)
					have = want;
				if (have)
					memcpy(d->pay + d->fgot, ck->data + pos, have);
				if (have < want)
					d->missing = true;
			}
			pos += n;
			d->fgot += (uint32_t)n;
			if (d->fgot == d->flen && !frame_end(c, d, req, ck, k))
				goto lost;
			break;
		}
	}
	return;
lost:
	lose_sync(c, ck->ts_ns, k);
}

/* ---- requests a Go server decoded for a mid-stream connection ---- */

bool h2_stream_resolve(struct h2_conn *c, uint32_t id, void *ud)
{
	struct h2_stream *s = stream_find(c, id);

	if (!s || !s->pending)
		return false;
	s->ud = ud;
	s->pending = false;
	return true;
}

struct http_msg *h2_request_from_fields(const uint8_t *data, size_t len,
					unsigned n, bool *truncated)
{
	struct fields *f = malloc(sizeof(*f));
	struct http_msg *m;

	if (!f)
		abort();
	fields_init(f, true);
	/* a field cut short is left out: its value is not what was sent */
	if (!fields_feed(f, data, len, n))
		f->head_cut = true;
	m = request_msg(f);
	*truncated = f->head_cut;
	free(f);
	return m;
}
