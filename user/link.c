// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Parent links between spans: see link.h for the rules. */
#include <stdlib.h>
#include <string.h>
#include "ids.h"
#include "link.h"
#include "propagation.h"
#include "sampler.h"
#include "span.h"

#define WIRE_BUCKETS	16384
#define WIRE_MAX	65536	/* client requests remembered for rule 2 */
#define WIRE_TTL_NS	(60ULL * 1000000000ULL)
#define LOCAL_SLOTS	4096	/* addresses seen as a local end */
#define CUR_BUCKETS	4096
#define OWN_SLOTS	4096
#define PIDCUR_SLOTS	4096

/*
 * A request on the wire, as both of its ends can name it (rule 2): the
 * client's address and port and the TCP sequence number of the request's
 * first byte (k, hashed), and the server's address and port as this end
 * saw it (srv, compared but not hashed).
 *
 * Why not the whole 4-tuple: pods call each other through Kubernetes
 * Services, which are DNAT (kube-proxy's iptables, nftables or IPVS rules,
 * a CNI's eBPF): the client connects to 10.96.0.10:80, the server accepts
 * on 10.244.0.7:8080, and the two ends never agree on the server's half.
 * NAT of the destination leaves the client's address and port alone, and
 * sequence numbers too (Linux rewrites them only for helpers that change
 * a payload's length, FTP or SIP, never for HTTP): those are the key.
 * The server's half keeps it exact: an entry whose server half is the
 * same at both ends (no NAT) is taken first, one whose server half
 * differs (NAT) only when it is the only entry with that key. Two entries
 * with one key and different server halves need one client port used
 * towards two destinations at once (Linux allows it) and both requests'
 * first bytes at the same sequence number (initial sequence numbers are
 * random, 32 bits): neither is taken then, rather than a wrong one.
 * Translating the client's destination through conntrack instead would
 * cost a netlink round trip from the agent per connection (the kernel
 * side cannot ask: no kprobes, no fentry), see only netfilter's NAT in
 * weft's own network namespace (not a CNI's eBPF NAT), and race the
 * entry's expiry; this costs nothing (a shorter key than the 4-tuple's).
 * Not covered: SNAT and masquerade (kube-proxy's hairpin, a pod calling a
 * Service it backs itself), which rewrite the client's half, port
 * included with --random-fully: the ends share no more than a 32-bit
 * sequence number, too little to be exact. Rule 5 links those, as if
 * the client were on another node.
 */
#define WKEY_LEN	24	/* client address | client port | 0 0 | seq */
#define WSRV_LEN	18	/* server address | server port */

struct wkey {
	uint8_t k[WKEY_LEN];
	uint8_t srv[WSRV_LEN];
};

/* One request on the wire (struct wkey): as its client end saw it, for the
 * server end to find (rule 2), or a server span that went out unlinked,
 * for a late client end to count. Other tables reuse the entry with keys
 * of their own (conn_key, server_conn_key). */
struct wire {
	struct wire *hnext, *older, *newer;
	struct wkey key;
	uint64_t ts;
	uint8_t trace_id[16];
	uint8_t span_id[8];
	bool sampled;
	struct link_pending *dep;		/* the client span's identity may change */
};

/* Wire entries by key, oldest first, bounded in number and age. */
struct wire_tab {
	struct wire *tab[WIRE_BUCKETS];
	struct wire *oldest, *newest;
	int n;
};

/* A span held back until the pending it depends on is done. */
struct held {
	struct held *next;
	struct span *s;
};

/*
 * Rule 2 found late. On two CPUs a server can read a request (and answer
 * it) before the client's send tracepoint has put the client's record in
 * the ring: the tracepoint fires after loopback delivery. A server span
 * whose client is on this node then waits for that record: until it comes
 * (done, changed: the span takes the client's trace and parent) or
 * WAIT_NS passes (done, unchanged). Everything that took the server
 * span's identity meanwhile (its children by rule 1, their servers by
 * rule 2) depends on it too: spans held until it is done, exchanges
 * rewritten before they become spans.
 */
struct link_pending {
	struct link_pending *next;		/* lk->waiting, oldest first, until done */
	struct wkey key;		/* the wire key awaited */
	uint64_t deadline;		/* CLOCK_MONOTONIC ns */
	uint64_t start_ns;		/* the server span's first byte */
	int refs;			/* dependents, and the waiting list */
	bool done;
	bool changed;			/* the client end came */
	bool new_sampled;
	uint8_t old_trace[16];		/* what dependents carry */
	uint8_t new_trace[16];		/* what they carry once changed */
	uint8_t server_span[8];		/* the waiting server span */
	uint8_t client_span[8];		/* its parent, once changed */
	struct wkey server_conn;	/* server_conn_key() of its connection */
	struct link_pending *up;		/* the client span's own pending */
	struct exchange *ex;		/* the server exchange, while alive */
	struct held *held;
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
	struct link_pending *dep;		/* its identity may still change */
};

struct link {
	struct link_opts o;
	struct wire_tab wires;		/* client requests (rule 2) */
	struct wire_tab unlinked;	/* server spans emitted without rule 2 */
	struct wire_tab awaited;	/* wire keys of pending server spans */
	/* server connections whose client end did not come when waited for
	 * (server_conn_key), and, when some processes are filtered out, the
	 * connections (wire keys with seq 0) whose client end did come */
	struct wire_tab absent, present;
	/* when the server end of a client's request began reading it, by the
	 * client's span id (rule 2): see client_start_clamp */
	struct wire_tab starts;
	struct link_pending *waiting, *waiting_tail;	/* not done yet, oldest first */
	uint8_t local[LOCAL_SLOTS][16];	/* addresses of this node's sockets */
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

/* Table index of a key of n bytes (a multiple of 8), a word at a time:
 * FNV's byte loop over the 40-byte wire keys of the time (the 4-tuple
 * and seq), four lookups per request, was
 * the agent's second-hottest function. (fnv stays for derived span ids,
 * which every weft must compute alike.) */
static uint64_t key_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL, w;

	for (size_t i = 0; i < n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
	}
	return h ^ (h >> 29);
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

/* The wire key of the request at seq on ci, from either end. */
static void wire_key(const struct conn_info *ci, uint32_t seq, struct wkey *out)
{
	bool client = ci->role == WEFT_ROLE_CLIENT;
	uint16_t cport = client ? ci->addr.sport : ci->addr.dport;
	uint16_t sport = client ? ci->addr.dport : ci->addr.sport;

	memset(out, 0, sizeof(*out));
	addr16(&ci->addr, client ? ci->addr.saddr : ci->addr.daddr, out->k);
	memcpy(out->k + 16, &cport, 2);
	memcpy(out->k + 20, &seq, 4);
	addr16(&ci->addr, client ? ci->addr.daddr : ci->addr.saddr, out->srv);
	memcpy(out->srv + 16, &sport, 2);
}

/* The client's end of a connection, from a wire key: the client's half
 * only (seq 0, no server half). It tells whether the client of a
 * connection is traced at all (the present table), where two connections
 * from one client port (to two destinations, one of them through NAT)
 * may as well count as one. */
static void conn_key(const struct wkey *key, struct wkey *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->k, key->k, 20);
}

/* A table key for one server connection itself: its kernel socket and
 * generation, which a later connection on the same 4-tuple (ports are
 * reused within seconds under load) does not share. */
static void server_conn_key(const struct conn_info *ci, struct wkey *out)
{
	_Static_assert(sizeof(ci->conn) <= WKEY_LEN, "conn key fits a wire key");
	memset(out, 0, sizeof(*out));
	memcpy(out->k, &ci->conn, sizeof(ci->conn));
}

static void cur_forget(struct link *lk, const struct exchange *ex);

static struct link_pending *dep_get(struct link_pending *p)
{
	if (p)
		p->refs++;
	return p;
}

static void dep_put(struct link_pending *p)
{
	while (p && --p->refs == 0) {
		struct link_pending *up = p->up;

		free(p);
		p = up;
	}
}

static void wire_unlink(struct wire_tab *wt, struct wire *w)
{
	struct wire **pp = &wt->tab[key_hash(w->key.k, WKEY_LEN) % WIRE_BUCKETS];

	while (*pp && *pp != w)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = w->hnext;
	if (w->older)
		w->older->newer = w->newer;
	else
		wt->oldest = w->newer;
	if (w->newer)
		w->newer->older = w->older;
	else
		wt->newest = w->older;
	wt->n--;
	dep_put(w->dep);
	free(w);
}

/*
 * Signed: records of two CPUs reach the agent a little out of time order,
 * so an entry may be newer than the record being handled. Unsigned, that
 * difference wrapped to "older than the TTL" and threw away client ends
 * put an instant before: a cause of rule-2 misses at load.
 */
static void wire_expire(struct wire_tab *wt, uint64_t now)
{
	while (wt->oldest &&
	       (wt->n > WIRE_MAX || (int64_t)(now - wt->oldest->ts) > (int64_t)WIRE_TTL_NS))
		wire_unlink(wt, wt->oldest);
}

/* A new entry for key, the newest; the caller fills the rest. */
static struct wire *wire_add(struct wire_tab *wt, const struct wkey *key,
			     uint64_t now)
{
	struct wire *w = calloc(1, sizeof(*w));
	unsigned b;

	if (!w)
		abort();
	w->key = *key;
	b = key_hash(w->key.k, WKEY_LEN) % WIRE_BUCKETS;
	w->ts = now;
	w->hnext = wt->tab[b];
	wt->tab[b] = w;
	w->older = wt->newest;
	if (wt->newest)
		wt->newest->newer = w;
	else
		wt->oldest = w;
	wt->newest = w;
	wt->n++;
	wire_expire(wt, now);
	return w;
}

/* The entry for key (struct wkey): the one whose server half is key's
 * too, else the only one whose server half differs (NAT), else none. */
static struct wire *wire_lookup(struct wire_tab *wt, const struct wkey *key)
{
	struct wire *w, *nat = NULL;
	int n_nat = 0;

	if (!wt->n)
		return NULL;	/* most of these tables are empty most of the time */
	for (w = wt->tab[key_hash(key->k, WKEY_LEN) % WIRE_BUCKETS]; w; w = w->hnext) {
		if (memcmp(w->key.k, key->k, WKEY_LEN) != 0)
			continue;
		if (memcmp(w->key.srv, key->srv, WSRV_LEN) == 0)
			return w;
		nat = w;
		n_nat++;
	}
	return n_nat == 1 ? nat : NULL;
}

/* Rule 2: the server exchange is the child of its client end. */
static void adopt_client(struct link *lk, struct exchange *ex,
			 const uint8_t trace_id[16], const uint8_t span_id[8],
			 bool sampled)
{
	memcpy(ex->trace_id, trace_id, 16);
	memcpy(ex->parent_span_id, span_id, 8);
	ex->has_parent = true;
	ex->linked = true;
	ex->sampled = sampled;
	lk->stats.wire_links++;
}

/* ---- waiting for a late client end (struct link_pending) ---- */

/* The first pending in p's chain that is not done, if any. */
static struct link_pending *dep_blocking(struct link_pending *p)
{
	while (p && p->done)
		p = p->up;
	return p;
}

/* What a done chain changed, applied to an identity that came from it. */
static void dep_rewrite(struct link_pending *p, uint8_t trace_id[16], bool *sampled)
{
	for (; p && p->done; p = p->up) {
		if (!p->changed || memcmp(trace_id, p->old_trace, 16) != 0)
			continue;
		memcpy(trace_id, p->new_trace, 16);
		*sampled = p->new_sampled;
	}
}

static void emit_span(struct link *lk, struct span *s)
{
	lk->o.emit(s, lk->o.emit_ctx);
}

/* s waits for b to be done. */
static void hold_on(struct link_pending *b, struct span *s)
{
	struct held *h = malloc(sizeof(*h));

	if (!h)
		abort();
	h->s = s;
	h->next = b->held;
	b->held = h;
}

/* A held span goes on: to the next pending of its chain, or out. */
static void held_release(struct link *lk, struct link_pending *p, struct span *s)
{
	struct link_pending *b;

	if (p->changed && memcmp(s->span_id, p->server_span, 8) == 0) {
		/* the waiting server span itself: its parent came */
		memcpy(s->parent_span_id, p->client_span, 8);
		s->has_parent = true;
	}
	dep_rewrite(p, s->trace_id, &s->sampled);
	b = dep_blocking(p->up);
	if (b)
		hold_on(b, s);
	else
		emit_span(lk, s);
}

/* p is done: off the waiting list, its held spans go on. */
static void pending_done(struct link *lk, struct link_pending *p)
{
	struct link_pending **pp = &lk->waiting, *prev = NULL;
	struct held *h = p->held;
	struct wire *w = wire_lookup(&lk->awaited, &p->key);

	p->done = true;
	if (w && w->dep == p)
		wire_unlink(&lk->awaited, w);
	if (!p->changed) {
		/* out unlinked: a client end after this is a miss; and the
		 * next request on this connection does not wait in vain */
		wire_add(&lk->unlinked, &p->key, p->start_ns);
		if (!wire_lookup(&lk->absent, &p->server_conn))
			wire_add(&lk->absent, &p->server_conn, p->start_ns);
	}
	while (*pp && *pp != p) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp) {
		*pp = p->next;
		if (lk->waiting_tail == p)
			lk->waiting_tail = prev;
	}
	p->held = NULL;
	while (h) {
		struct held *next = h->next;

		held_release(lk, p, h->s);
		free(h);
		h = next;
	}
	dep_put(p);		/* the waiting list's reference */
}

/*
 * Does p's chain (p, p->up, ...) hold q? Chains never loop: a wait is only
 * ever hung below a chain that does not hold it (wire_put).
 */
static bool dep_chain_has(const struct link_pending *p,
			  const struct link_pending *q)
{
	for (; p; p = p->up)
		if (p == q)
			return true;
	return false;
}

/* The client end came: the waiting server span is its child (rule 2). */
static void pending_resolve(struct link *lk, struct link_pending *p,
			    const uint8_t trace_id[16], const uint8_t span_id[8],
			    bool sampled, struct link_pending *client_dep)
{
	struct exchange *ex = p->ex;

	p->changed = true;
	memcpy(p->new_trace, trace_id, 16);
	memcpy(p->client_span, span_id, 8);
	p->new_sampled = sampled;
	p->up = dep_get(client_dep);
	lk->stats.wire_waited++;
	if (ex)
		adopt_client(lk, ex, trace_id, span_id, sampled);
	else
		lk->stats.wire_links++;	/* its span is held: rewritten there */
	pending_done(lk, p);
}

/* A server span with no client end yet, whose client is on this node. */
static struct link_pending *link_pending_new(struct link *lk, struct exchange *ex,
				   const struct conn_info *ci, uint64_t now)
{
	struct link_pending *p = calloc(1, sizeof(*p));
	struct wire *w;

	if (!p)
		abort();
	wire_key(ci, ex->req_seq, &p->key);
	server_conn_key(ci, &p->server_conn);
	p->deadline = now + lk->o.wait_ns;
	p->start_ns = ex->start_ns;
	memcpy(p->old_trace, ex->trace_id, 16);
	memcpy(p->server_span, ex->span_id, 8);
	p->ex = ex;
	p->refs = 2;		/* the waiting list's and ex's */
	if (lk->waiting_tail)
		lk->waiting_tail->next = p;
	else
		lk->waiting = p;
	lk->waiting_tail = p;
	w = wire_add(&lk->awaited, &p->key, now);
	w->dep = dep_get(p);
	return p;
}

/* Addresses of this node: the local end of every connection seen (in any
 * network namespace), and loopback. A peer there is a process weft may see. */
static void local_note(struct link *lk, const struct conn_info *ci)
{
	uint8_t a[16];
	uint64_t h;

	addr16(&ci->addr, ci->addr.saddr, a);
	h = key_hash(a, 16) % LOCAL_SLOTS;
	memcpy(lk->local[h], a, 16);	/* a collision forgets the other */
}

static bool peer_local(const struct link *lk, const struct conn_info *ci)
{
	static const uint8_t v6_loop[16] = { [15] = 1 };
	uint8_t a[16];

	addr16(&ci->addr, ci->addr.daddr, a);
	if ((a[10] == 0xff && a[11] == 0xff && a[12] == 127) ||
	    memcmp(a, v6_loop, 16) == 0)
		return true;
	return memcmp(lk->local[key_hash(a, 16) % LOCAL_SLOTS], a, 16) == 0;
}

/* Is the client of this connection one whose record weft can expect? */
static bool client_expected(struct link *lk, const struct conn_info *ci,
			    uint32_t seq)
{
	struct wkey key, ck;

	if (!peer_local(lk, ci))
		return false;
	wire_key(ci, seq, &key);
	conn_key(&key, &ck);
	if (lk->o.some_processes)	/* --pid, --comm, --exe: maybe not it */
		return wire_lookup(&lk->present, &ck) != NULL;
	server_conn_key(ci, &ck);
	return wire_lookup(&lk->absent, &ck) == NULL;
}

void link_hold(struct link *lk, const struct exchange *ex, struct span *s)
{
	struct link_pending *b = dep_blocking(ex->dep);

	if (!b) {
		emit_span(lk, s);
		return;
	}
	hold_on(b, s);
	lk->stats.spans_held++;
}

void link_tick(struct link *lk, uint64_t now)
{
	while (lk->waiting && (int64_t)(now - lk->waiting->deadline) >= 0)
		pending_done(lk, lk->waiting);
}

void link_release_all(struct link *lk)
{
	while (lk->waiting)
		pending_done(lk, lk->waiting);
}

/* A client end on this connection came: with some processes filtered
 * out, its server end may wait for the next one. */
static void client_seen(struct link *lk, const struct wkey *key, uint64_t now)
{
	struct wkey ck;

	if (!lk->o.some_processes)
		return;
	conn_key(key, &ck);
	if (!wire_lookup(&lk->present, &ck))
		wire_add(&lk->present, &ck, now);
}

static void note_server_start(struct link *lk, const uint8_t client_span[8],
			      uint64_t server_start_ns);

/* The client end of a request, for its server end (rule 2). A server span
 * that already went out without it was a miss: counted, and how late. */
static void wire_put(struct link *lk, const struct conn_info *ci, uint32_t seq,
		     const uint8_t trace_id[16], const uint8_t span_id[8],
		     bool sampled, struct link_pending *dep, uint64_t now)
{
	struct wkey key;
	struct wire *w;

	wire_key(ci, seq, &key);
	client_seen(lk, &key, now);
	w = wire_lookup(&lk->awaited, &key);
	if (w) {
		/* its server span is waiting for exactly this; unless this
		 * client's own identity hangs on that wait (the thread or
		 * goroutine handling that request sent it: records no kernel
		 * side should send). Linked, the chain would be a loop, never
		 * freed and walked forever by dep_blocking(), and the two
		 * spans each other's parent; the server span goes out at its
		 * deadline instead (found by tests/fuzz/fuzz_records.c) */
		if (!dep_chain_has(dep, w->dep)) {
			note_server_start(lk, span_id, w->dep->start_ns);
			pending_resolve(lk, w->dep, trace_id, span_id, sampled, dep);
		}
		return;
	}
	w = wire_lookup(&lk->unlinked, &key);
	if (w) {
		uint64_t late = now > w->ts ? now - w->ts : 0;

		lk->stats.wire_misses++;
		if (late > lk->stats.wire_miss_late_max_ns)
			lk->stats.wire_miss_late_max_ns = late;
		wire_unlink(&lk->unlinked, w);
		return;
	}
	w = wire_add(&lk->wires, &key, now);
	memcpy(w->trace_id, trace_id, 16);
	memcpy(w->span_id, span_id, 8);
	w->sampled = sampled;
	w->dep = dep_get(dep);
}

static struct wire *wire_find(struct link *lk, const struct conn_info *ci,
			      uint32_t seq)
{
	struct wkey k;

	wire_key(ci, seq, &k);
	return wire_lookup(&lk->wires, &k);
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
	dep_put(c->dep);
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
 * A request cannot be read before it was sent: a client span starts no
 * later than its server span on this node. The kernel side stamps a send
 * with when TCP transmitted it (send_ts in bpf/weft.bpf.c), but for a
 * request sent in several packets that is the newest acknowledged one's
 * time by the time the tracepoint reads it, and the server (woken by the
 * first packet) may have begun reading earlier. The server's first read
 * is noted under the client's span id when rule 2 links them, and the
 * client span starts there if it would start later.
 */
static void start_key(const uint8_t span_id[8], struct wkey *key)
{
	memset(key, 0, sizeof(*key));
	memcpy(key->k, span_id, 8);
}

static void note_server_start(struct link *lk, const uint8_t client_span[8],
			      uint64_t server_start_ns)
{
	struct wkey key;

	start_key(client_span, &key);
	if (!wire_lookup(&lk->starts, &key))
		wire_add(&lk->starts, &key, server_start_ns);
}

static void client_start_clamp(struct link *lk, struct exchange *ex)
{
	struct wkey key;
	struct wire *w;

	if (!lk->starts.n)
		return;
	start_key(ex->span_id, &key);
	w = wire_lookup(&lk->starts, &key);
	if (!w)
		return;
	if (w->ts < ex->start_ns) {
		ex->start_ns = w->ts;
		lk->stats.client_starts_moved++;
	}
	wire_unlink(&lk->starts, w);
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
	/* the client's sampling decision too (rule 7), as on time */
	adopt_client(lk, ex, w->trace_id, w->span_id, w->sampled);
	note_server_start(lk, w->span_id, ex->start_ns);
	wire_unlink(&lk->wires, w);
	return true;
}

/* Rule 7: keep a span of trace_id whose request carries ctx? */
static bool sample(struct link *lk, const uint8_t trace_id[16],
		   const struct trace_ctx *ctx)
{
	return sampler_decide(lk->o.sampler, trace_id, sampler_parent_of(ctx));
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
	c->dep = dep_get(ex->dep);
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
			const struct conn_info *ci, const struct trace_ctx *ctx,
			uint64_t now)
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
		adopt_client(lk, ex, w->trace_id, w->span_id, w->sampled);
		ex->dep = dep_get(w->dep);
		note_server_start(lk, w->span_id, ex->start_ns);
		wire_unlink(&lk->wires, w);
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
	/* linked with no flag of its own: the client's decision (rule 7) */
	if (!ex->linked || ctx->debug || ctx->sampled >= 0)
		ex->sampled = sample(lk, ex->trace_id, ctx);
	if (ctx->valid && ctx->tracestate[0])
		ex->tracestate = strdup(ctx->tracestate);
	if (!ex->linked && client_expected(lk, ci, ex->req_seq))
		ex->dep = link_pending_new(lk, ex, ci, now);
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
	} else {
		ids_new_trace(ex->trace_id);
	}
	ex->sampled = sample(lk, ex->trace_id, ctx);
	ids_new_span(ex->span_id);
	wire_put(lk, ci, ex->req_seq, ex->trace_id, ex->span_id, ex->sampled,
		 NULL, now);
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
		ex->sampled = sample(lk, ex->trace_id, ctx);
		own_mark(lk, ex->pid);
		lk->stats.suppressed_client++;
		wire_put(lk, ci, ex->req_seq, ex->trace_id, ex->span_id,
			 ex->sampled, NULL, now);
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
		ex->dep = dep_get(cur->dep);	/* its identity is the server's */
		lk->stats.process_links++;
	} else if (ctx->valid) {
		/* forwarding context we never saw arrive */
		memcpy(ex->trace_id, ctx->trace_id, 16);
		memcpy(ex->parent_span_id, ctx->span_id, 8);
		ex->has_parent = true;
		ex->sampled = sample(lk, ex->trace_id, ctx);
	} else {
		ids_new_trace(ex->trace_id);	/* rule 6: the root */
		ex->sampled = sample(lk, ex->trace_id, ctx);
	}
	if (ctx->valid && lk->o.mode == LINK_DERIVED)
		link_derive_span_id(ctx->trace_id, ctx->span_id, ex->req_seq,
				    ex->span_id);
	else
		ids_new_span(ex->span_id);
	if (ctx->valid && ctx->tracestate[0])
		ex->tracestate = strdup(ctx->tracestate);
	/* the request says not sampled: under parentbased_*, so be it */
	if (cur && ctx->valid && ctx->sampled == 0 && !ctx->debug)
		ex->sampled = sample(lk, ex->trace_id, ctx);
	wire_put(lk, ci, ex->req_seq, ex->trace_id, wire_span, ex->sampled,
		 ex->dep, now);
}

void link_request(struct link *lk, struct exchange *ex, const struct conn_info *ci,
		  bool is_go, uint64_t now)
{
	struct trace_ctx ctx;

	ctx_from_headers_in(&ex->req->ctx, lk->o.formats, &ctx);
	local_note(lk, ci);
	ex->is_server = ci->role != WEFT_ROLE_CLIENT;
	ex->ctx_key = is_go ? ex->g : ex->tid;
	if (ex->is_server) {
		link_server(lk, ex, ci, &ctx, now);
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

enum link_verdict link_done(struct link *lk, struct exchange *ex,
			    const struct conn_info *ci)
{
	if (ex->is_server) {
		late_wire_link(lk, ex, ci);
		cur_forget(lk, ex);	/* its thread/goroutine is done with it */
	} else {
		client_start_clamp(lk, ex);
	}
	if (ex->suppress)
		return LINK_DROP;
	if (ex->telemetry) {
		lk->stats.telemetry++;
		/* kept: no SDK makes a span of its own exports, so this one
		 * duplicates nothing, whatever rule 3 says of its process */
		return telemetry_dropped(lk, ex) ? LINK_DROP : LINK_EMIT;
	}
	/* rule 3: a process making its own spans gets none from us, its
	 * server spans and its other requests alike */
	if (own_has(lk, ex->pid) && !lk->o.keep_instrumented) {
		lk->stats.suppressed_server++;
		return LINK_DROP;
	}
	/* what a late client end changed meanwhile */
	dep_rewrite(ex->dep, ex->trace_id, &ex->sampled);
	if (dep_blocking(ex->dep))
		return LINK_HOLD;
	if (ex->is_server && !ex->linked && !ex->dep &&
	    client_expected(lk, ci, ex->req_seq)) {
		/* a client weft should see, learnt to be local only after this
		 * span began: if its client end shows up after all, that was a
		 * miss. Not for every unlinked span: remote callers (most of a
		 * node's traffic) and untraced ones would fill the table for
		 * nothing, at an allocation each. */
		struct wkey key;

		wire_key(ci, ex->req_seq, &key);
		wire_add(&lk->unlinked, &key, ex->start_ns);
	}
	return LINK_EMIT;
}

/* The current entry of a server exchange: its thread/goroutine is done. */
static void cur_forget(struct link *lk, const struct exchange *ex)
{
	struct current **pp;

	if (!ex->is_server)
		return;
	pp = cur_slot(lk, ex->pid, ex->ctx_key);
	if (*pp && (*pp)->ex == ex)
		cur_remove(lk, pp);
}

void link_rekey(struct link *lk, struct exchange *ex, const struct conn_info *ci,
		uint64_t key)
{
	struct current **pp;
	struct trace_ctx ctx;

	if (!ex->is_server || ex->ctx_key == key || !ex->req)
		return;
	/* the reading goroutine's entry is this stream's only until the
	 * connection's next stream began: leave that one alone */
	pp = cur_slot(lk, ex->pid, ex->ctx_key);
	if (*pp && (*pp)->ex == ex)
		cur_remove(lk, pp);
	ex->ctx_key = key;
	ctx_from_headers_in(&ex->req->ctx, lk->o.formats, &ctx);
	cur_enter(lk, ex, ci, &ctx);
}

void link_forget(struct link *lk, struct exchange *ex)
{
	cur_forget(lk, ex);
	if (ex->dep && ex->dep->ex == ex)
		ex->dep->ex = NULL;
	dep_put(ex->dep);
	ex->dep = NULL;
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
	link_release_all(lk);
	while (lk->wires.oldest)
		wire_unlink(&lk->wires, lk->wires.oldest);
	while (lk->awaited.oldest)
		wire_unlink(&lk->awaited, lk->awaited.oldest);
	while (lk->absent.oldest)
		wire_unlink(&lk->absent, lk->absent.oldest);
	while (lk->present.oldest)
		wire_unlink(&lk->present, lk->present.oldest);
	while (lk->unlinked.oldest)
		wire_unlink(&lk->unlinked, lk->unlinked.oldest);
	while (lk->starts.oldest)
		wire_unlink(&lk->starts, lk->starts.oldest);
	for (int b = 0; b < CUR_BUCKETS; b++)
		while (lk->ctab[b])
			cur_remove(lk, &lk->ctab[b]);
	free(lk);
}
