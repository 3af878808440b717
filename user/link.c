// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Parent links between spans: see link.h for the rules. */
#include <stdlib.h>
#include <string.h>
#include "ids.h"
#include "link.h"
#include "propagation.h"

#define WIRE_BUCKETS	16384
#define WIRE_MAX	65536	/* client requests remembered for rule 2 */
#define WIRE_TTL_NS	(60ULL * 1000000000ULL)
#define CUR_BUCKETS	4096
#define OWN_SLOTS	4096
#define PIDCUR_SLOTS	4096

/* One request as its client end saw it, for the server end to find. */
struct wire {
	struct wire *hnext, *older, *newer;
	uint8_t key[40];
	uint64_t ts;
	uint8_t trace_id[16];
	uint8_t span_id[8];
	bool sampled;
};

/* The server span a thread or goroutine is handling now. */
struct current {
	struct current *hnext;
	struct current *inext;		/* chain of the by-incoming-id index */
	uint32_t pid;
	uint64_t key;
	uint8_t trace_id[16];
	uint8_t span_id[8];
	bool sampled;
	bool has_in;			/* it came with context */
	enum telemetry_kind telemetry;	/* a telemetry request: what it
					 * causes is telemetry too */
	uint8_t in_span_id[8];		/* ... whose span id this is */
	struct exchange *ex;		/* the server exchange (alive while this is) */
	struct conn_info ci;		/* its connection, to retry rule 2 */
};

struct link {
	struct link_opts o;
	struct wire *wtab[WIRE_BUCKETS];
	struct wire *oldest, *newest;
	int n_wire;
	struct current *ctab[CUR_BUCKETS];
	struct current *itab[CUR_BUCKETS];	/* by (pid, incoming span id) */
	uint32_t own[OWN_SLOTS];	/* pids seen making their own spans */
	/* current entries per pid % PIDCUR_SLOTS (pids sharing a slot add
	 * up): 0 says for sure that a process has no server span at work */
	uint32_t pidcur[PIDCUR_SLOTS];
	struct link_stats stats;
};

struct link *link_new(const struct link_opts *o)
{
	struct link *lk = calloc(1, sizeof(*lk));

	if (!lk)
		abort();
	lk->o = *o;
	return lk;
}

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* 16-byte address: IPv4 as v4-mapped IPv6, so both ends agree. */
static void addr16(const struct weft_addr *a, const uint8_t *ip, uint8_t out[16])
{
	if (a->family == 2 /* AF_INET */) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, ip, 4);
	} else {
		memcpy(out, ip, 16);
	}
}

/* client addr | server addr | client port | server port | seq */
static void wire_key(const struct conn_info *ci, uint32_t seq, uint8_t k[40])
{
	bool client = ci->role == WEFT_ROLE_CLIENT;
	uint16_t cport = client ? ci->addr.sport : ci->addr.dport;
	uint16_t sport = client ? ci->addr.dport : ci->addr.sport;

	addr16(&ci->addr, client ? ci->addr.saddr : ci->addr.daddr, k);
	addr16(&ci->addr, client ? ci->addr.daddr : ci->addr.saddr, k + 16);
	memcpy(k + 32, &cport, 2);
	memcpy(k + 34, &sport, 2);
	memcpy(k + 36, &seq, 4);
}

static void wire_unlink(struct link *lk, struct wire *w)
{
	struct wire **pp = &lk->wtab[fnv(w->key, 40) % WIRE_BUCKETS];

	while (*pp && *pp != w)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = w->hnext;
	if (w->older)
		w->older->newer = w->newer;
	else
		lk->oldest = w->newer;
	if (w->newer)
		w->newer->older = w->older;
	else
		lk->newest = w->older;
	lk->n_wire--;
	free(w);
}

static void wire_expire(struct link *lk, uint64_t now)
{
	while (lk->oldest &&
	       (lk->n_wire > WIRE_MAX || now - lk->oldest->ts > WIRE_TTL_NS))
		wire_unlink(lk, lk->oldest);
}

static void wire_put(struct link *lk, const struct conn_info *ci, uint32_t seq,
		     const uint8_t trace_id[16], const uint8_t span_id[8],
		     bool sampled, uint64_t now)
{
	struct wire *w = calloc(1, sizeof(*w));
	unsigned b;

	if (!w)
		abort();
	wire_key(ci, seq, w->key);
	b = fnv(w->key, 40) % WIRE_BUCKETS;
	w->ts = now;
	memcpy(w->trace_id, trace_id, 16);
	memcpy(w->span_id, span_id, 8);
	w->sampled = sampled;
	w->hnext = lk->wtab[b];
	lk->wtab[b] = w;
	w->older = lk->newest;
	if (lk->newest)
		lk->newest->newer = w;
	else
		lk->oldest = w;
	lk->newest = w;
	lk->n_wire++;
	wire_expire(lk, now);
}

static struct wire *wire_find(struct link *lk, const struct conn_info *ci,
			      uint32_t seq)
{
	uint8_t k[40];
	struct wire *w;

	wire_key(ci, seq, k);
	for (w = lk->wtab[fnv(k, 40) % WIRE_BUCKETS]; w; w = w->hnext)
		if (memcmp(w->key, k, 40) == 0)
			return w;
	return NULL;
}

static struct current **cur_slot(struct link *lk, uint32_t pid, uint64_t key)
{
	uint64_t h = (key * 0x9e3779b97f4a7c15ULL) ^ pid;
	struct current **pp = &lk->ctab[(h >> 17) % CUR_BUCKETS];

	while (*pp && ((*pp)->pid != pid || (*pp)->key != key))
		pp = &(*pp)->hnext;
	return pp;
}

static struct current **in_slot(struct link *lk, uint32_t pid,
				const uint8_t span_id[8], const struct current *want)
{
	uint64_t h;
	struct current **pp;

	memcpy(&h, span_id, 8);
	h = (h * 0x9e3779b97f4a7c15ULL) ^ pid;
	pp = &lk->itab[(h >> 19) % CUR_BUCKETS];
	while (*pp && (want ? *pp != want :
		       ((*pp)->pid != pid || memcmp((*pp)->in_span_id, span_id, 8))))
		pp = &(*pp)->inext;
	return pp;
}

static void cur_remove(struct link *lk, struct current **pp)
{
	struct current *c = *pp;

	*pp = c->hnext;
	lk->pidcur[c->pid % PIDCUR_SLOTS]--;
	if (c->has_in) {
		struct current **ip = in_slot(lk, c->pid, c->in_span_id, c);

		if (*ip)
			*ip = c->inext;
	}
	free(c);
}

static bool own_has(const struct link *lk, uint32_t pid)
{
	return lk->own[pid % OWN_SLOTS] == pid;
}

/* Rule 3: pid makes spans of its own. */
static void own_mark(struct link *lk, uint32_t pid)
{
	lk->own[pid % OWN_SLOTS] = pid;
}

/* Telemetry that gets no span, no identity and no wire entry; weft's own
 * exports never get one. */
static bool telemetry_dropped(const struct link *lk, const struct exchange *ex)
{
	return ex->telemetry &&
	       (!lk->o.trace_telemetry || ex->telemetry == TELEMETRY_WEFT);
}

void link_derive_span_id(const uint8_t trace_id[16], const uint8_t span_id[8],
			 uint32_t seq, uint8_t out[8])
{
	uint8_t buf[28];
	uint64_t h;

	memcpy(buf, trace_id, 16);
	memcpy(buf + 16, span_id, 8);
	memcpy(buf + 24, &seq, 4);
	h = fnv(buf, sizeof(buf));
	h ^= h >> 31;
	h *= 0x7fb5d329728ea185ULL;
	h ^= h >> 27;
	if (!h)
		h = 1;
	memcpy(out, &h, 8);
}

/*
 * Rule 2 found late: on two CPUs a server can read a request before the
 * client's send tracepoint has put the client's record in the ring. Retried
 * before the server span lends its identity to a child and when it ends.
 */
static bool late_wire_link(struct link *lk, struct exchange *ex,
			   const struct conn_info *ci)
{
	struct wire *w;

	if (ex->linked || telemetry_dropped(lk, ex))
		return false;
	w = wire_find(lk, ci, ex->req_seq);
	if (!w)
		return false;
	memcpy(ex->trace_id, w->trace_id, 16);
	memcpy(ex->parent_span_id, w->span_id, 8);
	ex->has_parent = true;
	ex->linked = true;
	lk->stats.wire_links++;
	wire_unlink(lk, w);
	return true;
}

/* Rule 1: the thread/goroutine of ex now works for it. */
static void cur_enter(struct link *lk, struct exchange *ex,
		      const struct conn_info *ci, const struct trace_ctx *ctx)
{
	struct current **pp = cur_slot(lk, ex->pid, ex->ctx_key), *c;

	if (*pp)
		cur_remove(lk, pp);	/* its previous request ended unseen */
	c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	c->pid = ex->pid;
	c->key = ex->ctx_key;
	*pp = c;
	lk->pidcur[c->pid % PIDCUR_SLOTS]++;
	memcpy(c->trace_id, ex->trace_id, 16);
	memcpy(c->span_id, ex->span_id, 8);
	c->sampled = ex->sampled;
	c->telemetry = ex->telemetry;
	c->ex = ex;
	c->ci = *ci;
	c->has_in = ctx->valid && !c->telemetry;
	if (c->has_in) {
		struct current **ip;

		memcpy(c->in_span_id, ctx->span_id, 8);
		ip = in_slot(lk, c->pid, c->in_span_id, NULL);
		c->inext = *ip;
		*ip = c;
	}
}

static void link_server(struct link *lk, struct exchange *ex,
			const struct conn_info *ci, const struct trace_ctx *ctx)
{
	struct wire *w;

	/* a collector receiving: what it does for this request is telemetry,
	 * and its context (if any) is nobody's parent */
	if (telemetry_dropped(lk, ex)) {
		cur_enter(lk, ex, ci, ctx);
		return;
	}
	w = wire_find(lk, ci, ex->req_seq);
	ids_new_span(ex->span_id);
	if (w) {
		/* rule 2: the client end is on this node */
		memcpy(ex->trace_id, w->trace_id, 16);
		memcpy(ex->parent_span_id, w->span_id, 8);
		ex->has_parent = true;
		ex->linked = true;
		ex->sampled = w->sampled;
		lk->stats.wire_links++;
		wire_unlink(lk, w);
	} else if (ctx->valid) {
		memcpy(ex->trace_id, ctx->trace_id, 16);
		ex->has_parent = true;
		if (lk->o.mode == LINK_DERIVED)
			link_derive_span_id(ctx->trace_id, ctx->span_id,
					    ex->req_seq, ex->parent_span_id);
		else
			memcpy(ex->parent_span_id, ctx->span_id, 8);
	} else {
		ids_new_trace(ex->trace_id);	/* rule 6 */
	}
	if (ctx->debug)
		ex->sampled = true;
	else if (ctx->sampled >= 0)
		ex->sampled = ctx->sampled;
	else if (!w)
		ex->sampled = true;
	if (ctx->valid && ctx->tracestate[0])
		ex->tracestate = strdup(ctx->tracestate);
	cur_enter(lk, ex, ci, ctx);
}

/*
 * A client request that delivers telemetry: never a child of the request
 * being handled (a sidecar or SDK reporting from inside a user's request
 * would graft the collector onto the user's trace), never rule 3's own
 * span. Without trace_telemetry it has no identity at all; with it, it
 * starts a trace of its own (or continues the context it carries), and
 * the collector's end links to it by rule 2.
 */
static void link_telemetry_client(struct link *lk, struct exchange *ex,
				  const struct conn_info *ci,
				  const struct trace_ctx *ctx, uint64_t now)
{
	if (telemetry_dropped(lk, ex))
		return;
	if (ctx->valid) {
		memcpy(ex->trace_id, ctx->trace_id, 16);
		memcpy(ex->parent_span_id, ctx->span_id, 8);
		ex->has_parent = true;
		ex->sampled = ctx->debug || ctx->sampled != 0;
	} else {
		ids_new_trace(ex->trace_id);
		ex->sampled = true;
	}
	ids_new_span(ex->span_id);
	wire_put(lk, ci, ex->req_seq, ex->trace_id, ex->span_id, ex->sampled, now);
}

/*
 * Rule 1: the server span a client request of ex's process is made for.
 * The thread or goroutine that asked (parent_key), else the goroutine that
 * started it (Go fan-out), else (rule 4) the server span that received the
 * context the request forwards. NULL when none is at work.
 */
static struct current *cur_for_client(struct link *lk, const struct exchange *ex,
				      const struct trace_ctx *ctx,
				      uint64_t parent_key, bool is_go)
{
	struct current *cur = *cur_slot(lk, ex->pid, parent_key);

	/*
	 * A process with no server span at work (a pure client: a load
	 * generator, a job) has nothing to find: no walk, whose every step is
	 * a bpf() call, and no goroutine-creation probes attached for it.
	 */
	if (lk->pidcur[ex->pid % PIDCUR_SLOTS] == 0)
		is_go = false;
	for (int depth = 0; !cur && is_go && lk->o.g_parent && depth < 8; depth++) {
		parent_key = lk->o.g_parent(ex->pid, parent_key);
		if (!parent_key) {
			if (depth == 0 && lk->o.want_g_parents)
				lk->o.want_g_parents(ex->pid);
			break;
		}
		cur = *cur_slot(lk, ex->pid, parent_key);
	}

	/* No thread/goroutine link (a stripped Go binary, a runtime we do not
	 * follow) but the request forwards the context a server span of this
	 * process received: that server span is the parent (rule 4). Without
	 * this, a forwarder would look like rule 3 and lose all its spans. */
	if (ctx->valid && (!cur || !cur->has_in ||
			   memcmp(ctx->span_id, cur->in_span_id, 8))) {
		struct current *f = *in_slot(lk, ex->pid, ctx->span_id, NULL);

		if (f)
			cur = f;
	}
	return cur;
}

static void link_client(struct link *lk, struct exchange *ex,
			const struct conn_info *ci, const struct trace_ctx *ctx,
			uint64_t parent_key, bool is_go, uint64_t now)
{
	struct current *cur = cur_for_client(lk, ex, ctx, parent_key, is_go);
	const uint8_t *wire_span = ex->span_id;

	/* made while a telemetry request was handled: part of the pipeline */
	if (cur && cur->telemetry) {
		ex->telemetry = cur->telemetry == TELEMETRY_WEFT ? TELEMETRY_WEFT :
								   TELEMETRY_OTHER;
		if (telemetry_dropped(lk, ex))
			return;
	}

	if (ctx->valid && !(cur && cur->has_in &&
			    memcmp(ctx->span_id, cur->in_span_id, 8) == 0)) {
		/* rule 3: the process (or its user) made this span id */
		memcpy(ex->trace_id, ctx->trace_id, 16);
		memcpy(ex->span_id, ctx->span_id, 8);
		ex->suppress = true;
		ex->sampled = ctx->debug || ctx->sampled != 0;
		own_mark(lk, ex->pid);
		lk->stats.suppressed_client++;
		wire_put(lk, ci, ex->req_seq, ex->trace_id, ex->span_id,
			 ex->sampled, now);
		return;
	}
	if (cur && cur->ex && late_wire_link(lk, cur->ex, &cur->ci)) {
		memcpy(cur->trace_id, cur->ex->trace_id, 16);
		cur->sampled = cur->ex->sampled;
	}
	if (cur) {
		/* rules 1 and 4: child of the server span at work */
		memcpy(ex->trace_id, cur->trace_id, 16);
		memcpy(ex->parent_span_id, cur->span_id, 8);
		ex->has_parent = true;
		ex->sampled = cur->sampled;
		lk->stats.process_links++;
	} else if (ctx->valid) {
		/* forwarding context we never saw arrive */
		memcpy(ex->trace_id, ctx->trace_id, 16);
		memcpy(ex->parent_span_id, ctx->span_id, 8);
		ex->has_parent = true;
		ex->sampled = ctx->debug || ctx->sampled != 0;
	} else {
		ids_new_trace(ex->trace_id);	/* rule 6: the root */
		ex->sampled = true;
	}
	if (ctx->valid && lk->o.mode == LINK_DERIVED)
		link_derive_span_id(ctx->trace_id, ctx->span_id, ex->req_seq,
				    ex->span_id);
	else
		ids_new_span(ex->span_id);
	if (ctx->valid && ctx->tracestate[0])
		ex->tracestate = strdup(ctx->tracestate);
	if (ctx->valid && ctx->sampled == 0 && !ctx->debug)
		ex->sampled = false;
	wire_put(lk, ci, ex->req_seq, ex->trace_id, wire_span, ex->sampled, now);
}

void link_request(struct link *lk, struct exchange *ex, const struct conn_info *ci,
		  bool is_go, uint64_t now)
{
	struct trace_ctx ctx;

	ctx_from_headers(&ex->req->ctx, &ctx);
	ex->is_server = ci->role != WEFT_ROLE_CLIENT;
	ex->ctx_key = is_go ? ex->g : ex->tid;
	if (ex->is_server) {
		link_server(lk, ex, ci, &ctx);
	} else if (ex->telemetry) {
		/* rule 3: a process that sends spans to a collector makes its
		 * own, whether or not a business call ever carries one */
		if (ex->telemetry == TELEMETRY_SPANS)
			own_mark(lk, ex->pid);
		link_telemetry_client(lk, ex, ci, &ctx, now);
	} else {
		/* Go: the writeLoop goroutine writes for the one that asked */
		uint64_t pk = is_go && ex->origin_g ? ex->origin_g : ex->ctx_key;

		link_client(lk, ex, ci, &ctx, pk, is_go, now);
	}
}

bool link_done(struct link *lk, struct exchange *ex, const struct conn_info *ci)
{
	if (ex->is_server) {
		late_wire_link(lk, ex, ci);
		link_forget(lk, ex);	/* its thread/goroutine is done with it */
	}
	if (ex->suppress)
		return false;
	if (ex->telemetry) {
		lk->stats.telemetry++;
		/* kept: no SDK makes a span of its own exports, so this one
		 * duplicates nothing, whatever rule 3 says of its process */
		return !telemetry_dropped(lk, ex);
	}
	/* rule 3: a process making its own spans gets none from us, its
	 * server spans and its other requests alike */
	if (own_has(lk, ex->pid) && !lk->o.keep_instrumented) {
		lk->stats.suppressed_server++;
		return false;
	}
	return true;
}

void link_forget(struct link *lk, const struct exchange *ex)
{
	struct current **pp;

	if (!ex->is_server)
		return;
	pp = cur_slot(lk, ex->pid, ex->ctx_key);
	if (*pp && (*pp)->ex == ex)
		cur_remove(lk, pp);
}

void link_forget_pid(struct link *lk, uint32_t pid)
{
	if (own_has(lk, pid))
		lk->own[pid % OWN_SLOTS] = 0;
}

void link_get_stats(const struct link *lk, struct link_stats *out)
{
	*out = lk->stats;
}

void link_free(struct link *lk)
{
	if (!lk)
		return;
	while (lk->oldest)
		wire_unlink(lk, lk->oldest);
	for (int b = 0; b < CUR_BUCKETS; b++)
		while (lk->ctab[b])
			cur_remove(lk, &lk->ctab[b]);
	free(lk);
}
