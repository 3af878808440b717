// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The operations endpoint: /healthz, /readyz, /metrics. See opsserver.h. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <microhttpd.h>
#include "util.h"
#include "goprobes.h"
#include "loader.h"
#include "ownconn.h"
#include "opsserver.h"

#ifndef WEFT_VERSION
#define WEFT_VERSION "dev"
#endif

#define PUBLISH_EVERY_NS	1000000000ULL
#define MAX_CLIENTS		32	/* scrapers and probes at once */
#define CLIENT_TIMEOUT_S	10	/* an idle or slow client is dropped */

/*
 * The kernel ring buffer's two positions, each on a page of its own at the
 * start of the map (consumer, then producer). libbpf 1.1 (Debian 12) has no
 * ring__avail_data_size() (1.3 added it); mapping the two pages read-only
 * here works with every libbpf, and from any thread: the kernel and the
 * main loop's consumer move them, nothing here writes.
 */
struct ring_view {
	void *pages;
	size_t len;
	const unsigned long *consumer, *producer;
	uint64_t size;
};

struct ops_server {
	struct MHD_Daemon *mhd;
	int fd;
	unsigned port;
	_Atomic int state;		/* enum ops_state */
	_Atomic uint64_t heartbeat_ns;
	struct ring_view ring;		/* set before state leaves STARTING */
	/* the main loop's own */
	uint64_t last_publish_ns;
	bool published;
	uint64_t ring_used_max;
	/* what the main loop last published */
	pthread_mutex_t lock;
	struct ops_snapshot snap;
};

/* ---- --metrics-addr ---- */

static int bad_addr(const char *spec, const char *why)
{
	fprintf(stderr, "weft: --metrics-addr '%s': %s (want [HOST:]PORT, "
		"e.g. :9464, 127.0.0.1:9464, [::1]:9464)\n", spec, why);
	return -1;
}

int ops_parse_addr(const char *spec, char *host, size_t host_size, unsigned *port)
{
	const char *colon, *p = spec;
	size_t n = 0;
	long v;

	if (*p == '[') {
		const char *end = strchr(p, ']');

		if (!end || end[1] != ':')
			return bad_addr(spec, "an IPv6 address in brackets needs ]:PORT");
		n = end - p - 1;
		if (n == 0)
			return bad_addr(spec, "empty address in brackets");
		p++;
		colon = end + 1;
	} else {
		colon = strrchr(p, ':');
		if (colon && memchr(p, ':', colon - p))
			return bad_addr(spec, "an IPv6 address goes in brackets");
		n = colon ? (size_t)(colon - p) : 0;
	}
	if (n >= host_size)
		return bad_addr(spec, "host name too long");
	memcpy(host, p, n);
	host[n] = '\0';
	if (!parse_decimal(colon ? colon + 1 : spec, 0, 65535, false, &v))
		return bad_addr(spec, "the port is not a number in 0..65535");
	*port = v;
	return 0;
}

/* ---- the listening socket ---- */

static const char *listen_hint(int err)
{
	switch (err) {
	case EADDRINUSE:
		return " (another process listens on this port: choose another "
		       "with --metrics-addr)";
	case EADDRNOTAVAIL:
		return " (not an address of this host)";
	case EACCES:
		return " (not permitted)";
	default:
		return "";
	}
}

/* Bound and listening, or -errno. A dual-stack wildcard socket takes IPv4
 * clients too (as ::ffff:a.b.c.d). */
static int listen_one(int family, const struct sockaddr *sa, socklen_t len)
{
	int fd, one = 1, zero = 0;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a restart must not wait for the old connections' TIME_WAIT */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, sa, len) || listen(fd, 64)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int listen_any(unsigned port)
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				    .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	int fd = listen_one(AF_INET6, (struct sockaddr *)&in6, sizeof(in6));

	/* a kernel or namespace without IPv6 */
	if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL)
		fd = listen_one(AF_INET, (struct sockaddr *)&in, sizeof(in));
	return fd;
}

static int listen_host(const char *spec, const char *host, unsigned port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG };
	struct addrinfo *res, *ai;
	char ps[8];
	int fd = -1, first_err = 0, rc;

	snprintf(ps, sizeof(ps), "%u", port);
	rc = getaddrinfo(host, ps, &hints, &res);
	if (rc) {
		fprintf(stderr, "weft: --metrics-addr '%s': %s\n", spec, gai_strerror(rc));
		return -1;
	}
	/* the first address that binds; the first failure is the one told */
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = listen_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen);
		if (fd < 0 && !first_err)
			first_err = -fd;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		fprintf(stderr, "weft: --metrics-addr '%s': cannot listen: %s%s\n",
			spec, strerror(first_err), listen_hint(first_err));
		return -1;
	}
	return fd;
}

/* The port the socket got (port 0 asks for any), and "HOST:PORT" or
 * "[HOST]:PORT" to tell the user. */
static unsigned bound_addr(int fd, char *text, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port;

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET6) {
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
		snprintf(text, size, "[%s]:%u", host, port);
	} else {
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
		snprintf(text, size, "%s:%u", host, port);
	}
	return port;
}

/* ---- probes ---- */

int ops_probe(bool live, enum ops_state st, uint64_t age_ns, char *msg, size_t size)
{
	uint64_t limit = st == OPS_STARTING || st == OPS_ATTACHED ? OPS_STARTUP_STALL_NS
								    : OPS_STALL_NS;

	/* a stuck main loop is neither alive nor worth sending traffic to */
	if (age_ns > limit) {
		snprintf(msg, size, "main loop stalled: no drain pass for %" PRIu64 " s\n",
			 (uint64_t)(age_ns / 1000000000ULL));
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	if (live) {
		snprintf(msg, size, "ok\n");
		return MHD_HTTP_OK;
	}
	switch (st) {
	case OPS_STARTING:
		snprintf(msg, size, "not ready: loading and attaching the BPF programs\n");
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	case OPS_ATTACHED:
		snprintf(msg, size, "not ready: attached, the ring buffer not yet polled\n");
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	case OPS_STOPPING:
		snprintf(msg, size, "not ready: shutting down\n");
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	case OPS_RUNNING:
		break;
	}
	snprintf(msg, size, "ready\n");
	return MHD_HTTP_OK;
}

/* ---- the Prometheus text exposition ---- */

/* The BPF counters map, by enum weft_counter: one stable label value each.
 * NULL: kept in the map but never counted by the BPF programs. */
static const char *const kernel_event_names[WEFT_CNT_MAX] = {
	[WEFT_CNT_DATA_EVENTS] = "data_records",
	[WEFT_CNT_CLOSE_EVENTS] = "close_records",
	[WEFT_CNT_RB_FULL] = "ringbuf_full",
	[WEFT_CNT_READ_FAIL] = "user_memory_unreadable",
	[WEFT_CNT_HDR_TRUNC] = "header_over_window",
	[WEFT_CNT_NOT_HTTP] = "not_http",
	[WEFT_CNT_UNKNOWN_SYSCALL] = "undecodable_socket_call",
	[WEFT_CNT_OWN_CONN] = "own_export_connection",
	[WEFT_CNT_OWN_ENDPOINT] = "own_endpoint_connection",
	[WEFT_CNT_TLS_NO_SOCK] = "tls_plaintext_without_socket",
	[WEFT_CNT_GO_STREAM_UNPLACED] = "go_h2_handler_unplaced",
	[WEFT_CNT_CONN_STOPPED] = "h2_connection_given_up",
};
/* a new counter must be named here (or NULLed on purpose) */
_Static_assert(WEFT_CNT_CONN_STOPPED + 1 == WEFT_CNT_MAX, "name every kernel counter");

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the format asks (\\, \", \n). */
static void label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*v, f);
	}
}

static void sample(FILE *f, const char *name, const char *label, const char *value,
		   uint64_t v)
{
	fputs(name, f);
	if (label) {
		fprintf(f, "{%s=\"", label);
		label_value(f, value);
		fputs("\"}", f);
	}
	fprintf(f, " %" PRIu64 "\n", v);
}

/* A family of one unlabelled sample. */
static void single(FILE *f, const char *name, const char *type, const char *help,
		   uint64_t v)
{
	family(f, name, type, help);
	sample(f, name, NULL, NULL, v);
}

static void single_double(FILE *f, const char *name, const char *type,
			  const char *help, double v)
{
	family(f, name, type, help);
	fprintf(f, "%s %.9g\n", name, v);
}

static void process_metrics(FILE *f, const struct ops_snapshot *s)
{
	family(f, "weft_build_info", "gauge", "weft's version and the libbpf it runs with");
	fprintf(f, "weft_build_info{version=\"");
	label_value(f, s->version ? s->version : "");
	fprintf(f, "\",libbpf=\"");
	label_value(f, s->libbpf_version ? s->libbpf_version : "");
	fprintf(f, "\"} 1\n");
	single(f, "weft_ready", "gauge",
	       "1 once the BPF programs are attached and the ring buffer was polled", s->ready);
	single(f, "weft_process_resident_memory_bytes", "gauge",
	       "resident set size of the weft process", s->rss_bytes);
	single_double(f, "weft_process_cpu_seconds_total", "counter",
		      "user and system CPU time of the weft process", s->cpu_seconds);
}

static void ring_metrics(FILE *f, const struct ops_snapshot *s)
{
	single(f, "weft_ringbuf_size_bytes", "gauge",
	       "size of the kernel-to-agent ring buffer (--ringbuf-mb)", s->ring_size);
	single(f, "weft_ringbuf_used_bytes", "gauge",
	       "bytes in the ring buffer not yet read by the agent", s->ring_used);
	single(f, "weft_ringbuf_used_max_bytes", "gauge",
	       "most bytes seen waiting in the ring buffer at a drain pass since start",
	       s->ring_used_max);
}

static void kernel_metrics(FILE *f, const struct ops_snapshot *s)
{
	family(f, "weft_kernel_events_total", "counter",
	       "the BPF programs' counters: records sent, and every drop or skip by reason");
	for (int i = 0; i < WEFT_CNT_MAX; i++)
		if (kernel_event_names[i])
			sample(f, "weft_kernel_events_total", "event", kernel_event_names[i],
			       s->kernel[i]);
}

static void pipeline_metrics(FILE *f, const struct ops_snapshot *s)
{
	const struct pairing_stats *p = &s->pairing;
	const struct link_stats *l = &s->links;

	single(f, "weft_records_total", "counter",
	       "records read from the ring buffer", s->agent.records);
	single(f, "weft_records_filtered_total", "counter",
	       "data records dropped by the agent's process filters (--exe, pods)",
	       s->agent.records_filtered);
	single(f, "weft_spans_total", "counter", "spans built from HTTP exchanges", p->spans);
	single(f, "weft_spans_output_total", "counter",
	       "spans printed and/or handed to the exporter", s->agent.spans_output);
	single(f, "weft_spans_unsampled_total", "counter",
	       "spans not output: their trace is marked not sampled", s->agent.spans_unsampled);
	single(f, "weft_connections_open", "gauge",
	       "connections the agent follows now", p->conns_open);
	single(f, "weft_connections_open_peak", "gauge",
	       "the most connections the agent followed at once since it started",
	       p->conns_open_peak);
	family(f, "weft_agent_events_total", "counter",
	       "exchanges and chunks the agent could not make a whole span of, by reason");
	sample(f, "weft_agent_events_total", "event", "not_http", p->framing.not_http);
	sample(f, "weft_agent_events_total", "event", "header_over_window",
	       p->framing.heads_truncated);
	sample(f, "weft_agent_events_total", "event", "closed_before_response", p->closed_early);
	sample(f, "weft_agent_events_total", "event", "orphan_response", p->orphan_responses);
	sample(f, "weft_agent_events_total", "event", "timed_out", p->timed_out);
	sample(f, "weft_agent_events_total", "event", "too_many_pipelined", p->pending_overflow);
	sample(f, "weft_agent_events_total", "event", "incomplete_at_exit",
	       p->incomplete_at_exit);
	sample(f, "weft_agent_events_total", "event", "connection_lost", p->conns_lost);
	sample(f, "weft_agent_events_total", "event", "lost_with_connection",
	       p->conns_lost_exchanges);
	single(f, "weft_closes_waited_total", "counter",
	       "closes (resets, mostly) that came with bytes still unread and waited for their reads",
	       p->closes_waited);
	single(f, "weft_responses_before_request_total", "counter",
	       "client reads whose record came before their request's, and waited for it",
	       p->responses_early);
	single(f, "weft_responses_before_request_unheld_total", "counter",
	       "such reads that could not wait (over the bounds): likely orphans",
	       p->responses_early_unheld);
	family(f, "weft_go_h2_handlers_total", "counter",
	       "Go HTTP/2 and gRPC handler goroutines: tied to their stream, or their stream not found");
	sample(f, "weft_go_h2_handlers_total", "result", "tied", p->go_handlers);
	sample(f, "weft_go_h2_handlers_total", "result", "stream_not_found",
	       p->go_handlers_unplaced);

	family(f, "weft_links_total", "counter",
	       "spans parented by weft: to a client span on this node, or in the process");
	sample(f, "weft_links_total", "scope", "node", l->wire_links);
	sample(f, "weft_links_total", "scope", "process", l->process_links);
	single(f, "weft_links_waited_total", "counter",
	       "node links made by waiting for a late client end", l->wire_waited);
	single(f, "weft_spans_held_total", "counter",
	       "spans held back for a late client end", l->spans_held);
	single(f, "weft_link_misses_total", "counter",
	       "server spans sent unlinked whose client end on this node came later",
	       l->wire_misses);
	single_double(f, "weft_link_miss_late_max_seconds", "gauge",
		      "how late the latest such client end came", l->wire_miss_late_max_ns / 1e9);
	family(f, "weft_spans_suppressed_total", "counter",
	       "spans not made because the process makes its own (Linking, rule 3)");
	sample(f, "weft_spans_suppressed_total", "reason", "instrumented_client",
	       l->suppressed_client);
	sample(f, "weft_spans_suppressed_total", "reason", "instrumented_other",
	       l->suppressed_server);
	single(f, "weft_telemetry_exchanges_total", "counter",
	       "exchanges that delivered telemetry (not traced unless --trace-telemetry)",
	       l->telemetry);
	single(f, "weft_own_connection_errors_total", "counter",
	       "weft's own connections the kernel could not be told of", s->own_conn_errors);
	single(f, "weft_go_binaries_total", "counter", "Go executables found", s->go_binaries);
	single(f, "weft_go_binaries_probed_total", "counter",
	       "Go executables given uprobes", s->go_probed);
	single(f, "weft_go_binaries_stripped_total", "counter",
	       "Go executables without symbols given uprobes from .gopclntab", s->go_stripped);
}

static void k8s_metrics(FILE *f, const struct ops_snapshot *s)
{
	const struct kube_meta_stats *k = &s->k8s;

	if (!k->api)
		return;
	single(f, "weft_k8s_synced", "gauge",
	       "1 while this node's pods are listed and watched", k->synced);
	single(f, "weft_k8s_pods", "gauge", "pods of this node in weft's cache", k->pods);
	single(f, "weft_k8s_pod_cache_bytes", "gauge", "what those pods cost weft", k->bytes);
	single(f, "weft_k8s_lists_total", "counter", "pod lists requested", k->lists);
	single(f, "weft_k8s_list_failures_total", "counter",
	       "pod lists that failed (API unreachable, forbidden, malformed)", k->list_failures);
	single(f, "weft_k8s_watch_events_total", "counter", "pod watch events applied",
	       k->watch_events);
	single(f, "weft_k8s_relists_gone_total", "counter",
	       "relists because the API answered 410 Gone", k->gone_410);
	single(f, "weft_k8s_owner_lookups_total", "counter",
	       "ReplicaSet and Job lookups for the workload's name", k->owner_lookups);
	single(f, "weft_k8s_owner_lookup_failures_total", "counter",
	       "owner lookups that failed (e.g. forbidden)", k->owner_lookup_failures);
}

static void export_metrics(FILE *f, const struct ops_snapshot *s)
{
	const struct exporter_stats *e = &s->exporter;
	static const char *const classes[6] = { "none", "1xx", "2xx", "3xx", "4xx", "5xx" };

	single(f, "weft_export_enabled", "gauge", "1 when exporting over OTLP", s->exporting);
	single(f, "weft_export_spans_in_total", "counter",
	       "spans handed to the exporter", e->spans_in);
	single(f, "weft_export_spans_exported_total", "counter",
	       "spans the collector accepted", e->spans_exported);
	single(f, "weft_export_spans_rejected_total", "counter",
	       "spans the collector rejected (partial success)", e->spans_rejected);
	family(f, "weft_export_spans_dropped_total", "counter",
	       "spans given up by the exporter, by reason");
	sample(f, "weft_export_spans_dropped_total", "reason", "queue_full",
	       e->spans_dropped_queue);
	sample(f, "weft_export_spans_dropped_total", "reason", "error", e->spans_dropped_error);
	sample(f, "weft_export_spans_dropped_total", "reason", "shutdown",
	       e->spans_dropped_shutdown);
	/* every failed request is either retried or the end of its batch */
	family(f, "weft_export_requests_total", "counter",
	       "export requests by result: ok, failed and retried, failed for good");
	sample(f, "weft_export_requests_total", "result", "ok", e->requests - e->export_errors);
	sample(f, "weft_export_requests_total", "result", "retry", e->retries);
	sample(f, "weft_export_requests_total", "result", "failed", e->export_errors - e->retries);
	family(f, "weft_export_responses_total", "counter",
	       "export requests by HTTP status class; none: no response came");
	for (int i = 0; i < 6; i++)
		sample(f, "weft_export_responses_total", "status_class", classes[i],
		       e->status_class[i]);
}

char *ops_metrics_text(const struct ops_snapshot *s, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		return NULL;
	process_metrics(f, s);
	ring_metrics(f, s);
	kernel_metrics(f, s);
	pipeline_metrics(f, s);
	k8s_metrics(f, s);
	export_metrics(f, s);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* ---- what is read when scraped ---- */

static uint64_t ring_used(const struct ring_view *r)
{
	unsigned long cons, prod;

	if (!r->pages)
		return 0;
	cons = __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE);
	prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	return prod - cons;
}

static uint64_t rss_bytes(void)
{
	unsigned long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	return n == 2 ? (uint64_t)resident * sysconf(_SC_PAGESIZE) : 0;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void scrape(struct ops_server *s, struct ops_snapshot *out)
{
	int st = atomic_load_explicit(&s->state, memory_order_acquire);

	pthread_mutex_lock(&s->lock);
	*out = s->snap;
	pthread_mutex_unlock(&s->lock);
	out->ready = st == OPS_RUNNING;
	/* the ring view is set before the state leaves OPS_STARTING */
	if (st != OPS_STARTING) {
		out->ring_size = s->ring.size;
		out->ring_used = ring_used(&s->ring);
	}
	out->rss_bytes = rss_bytes();
	out->cpu_seconds = cpu_seconds();
	out->version = WEFT_VERSION;
	out->libbpf_version = libbpf_version_string();
	kube_meta_get_stats(&out->k8s);
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *type, char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	/* probes and scrapes must see the state now, not a cache's */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status,
				  const char *text)
{
	char *body = strdup(text);

	if (!body)
		return MHD_NO;
	return reply(c, status, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **con_cls)
{
	struct ops_server *s = cls;
	char msg[160];
	int st;

	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (!strcmp(url, "/healthz") || !strcmp(url, "/readyz")) {
		uint64_t now = now_mono_ns(),
			 hb = atomic_load_explicit(&s->heartbeat_ns, memory_order_relaxed);

		st = atomic_load_explicit(&s->state, memory_order_acquire);
		return reply_text(c, ops_probe(url[1] == 'h', st, now > hb ? now - hb : 0,
					       msg, sizeof(msg)), msg);
	}
	if (!strcmp(url, "/metrics")) {
		struct ops_snapshot snap;
		size_t len;
		char *body;

		scrape(s, &snap);
		body = ops_metrics_text(&snap, &len);
		if (!body)
			return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
		return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
			     body, len);
	}
	return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: try /healthz, /readyz, /metrics\n");
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	fprintf(stderr, "weft: metrics endpoint: ");
	vfprintf(stderr, fmt, ap);
}

/* The server thread is created with SIGINT and SIGTERM blocked: they are
 * the main loop's to take (its poll wakes with EINTR). */
static struct MHD_Daemon *start_daemon(struct ops_server *s)
{
	sigset_t block, old;
	struct MHD_Daemon *d;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0,
			     NULL, NULL, on_request, s,
			     MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
			     MHD_OPTION_LISTEN_SOCKET, s->fd,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CLIENTS,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CLIENT_TIMEOUT_S,
			     MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return d;
}

struct ops_server *ops_start(const char *spec)
{
	struct ops_server *s;
	char host[256], where[INET6_ADDRSTRLEN + 16] = "";
	unsigned port;

	if (ops_parse_addr(spec, host, sizeof(host), &port))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->fd = host[0] ? listen_host(spec, host, port) : listen_any(port);
	if (s->fd < 0) {
		if (!host[0])
			fprintf(stderr, "weft: --metrics-addr '%s': cannot listen: %s%s\n",
				spec, strerror(-s->fd), listen_hint(-s->fd));
		free(s);
		return NULL;
	}
	s->port = bound_addr(s->fd, where, sizeof(where));
	pthread_mutex_init(&s->lock, NULL);
	atomic_store(&s->state, OPS_STARTING);
	atomic_store(&s->heartbeat_ns, now_mono_ns());
	s->mhd = start_daemon(s);
	if (!s->mhd) {
		fprintf(stderr, "weft: --metrics-addr '%s': could not start the HTTP "
			"server (libmicrohttpd)\n", spec);
		close(s->fd);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return NULL;
	}
	fprintf(stderr, "weft: health and metrics on %s (port %u): /healthz, /readyz, /metrics\n",
		where, s->port);
	return s;
}

unsigned ops_port(const struct ops_server *s)
{
	return s ? s->port : 0;
}

/* ---- what the main loop does ---- */

static void ring_map(struct ring_view *r, int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	size_t page = sysconf(_SC_PAGESIZE);
	void *p;

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return;
	p = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return;
	r->pages = p;
	r->len = 2 * page;
	r->consumer = p;
	r->producer = (const unsigned long *)((char *)p + page);
	r->size = info.max_entries;
}

/* The endpoint's socket, told to the kernel: its clients are not traced. */
static void tell_kernel(struct ops_server *s, int map_fd)
{
	struct weft_listener wl = { 0 };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct stat st;
	__u16 port = s->port;

	if (getsockname(s->fd, (struct sockaddr *)&ss, &len) || stat("/proc/self/ns/net", &st))
		goto fail;
	wl.netns_inum = st.st_ino;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		if (in->sin_addr.s_addr != htonl(INADDR_ANY)) {
			wl.addr[10] = wl.addr[11] = 0xff;
			memcpy(&wl.addr[12], &in->sin_addr, 4);
		}
	} else {
		memcpy(wl.addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	}
	if (bpf_map_update_elem(map_fd, &port, &wl, BPF_ANY) == 0)
		return;
fail:
	fprintf(stderr, "weft: metrics endpoint: could not tell the kernel of its "
		"socket (%s): scrapes may show as spans of the scraper\n", strerror(errno));
}

void ops_attached(struct ops_server *s, struct loader *l)
{
	if (!s)
		return;
	if (l) {
		ring_map(&s->ring, loader_ringbuf_fd(l));
		tell_kernel(s, loader_own_listeners_fd(l));
	}
	atomic_store_explicit(&s->state, OPS_ATTACHED, memory_order_release);
}

void ops_note_ring(struct ops_server *s)
{
	uint64_t used;

	if (!s)
		return;
	used = ring_used(&s->ring);
	if (used > s->ring_used_max)
		s->ring_used_max = used;
}

static void collect(struct ops_server *s, struct ops_snapshot *o,
		    const struct ops_agent_counts *c, struct loader *l,
		    const struct pairing *p, struct exporter *e)
{
	memset(o, 0, sizeof(*o));
	if (c)
		o->agent = *c;
	if (l && l->skel && loader_counters(l, o->kernel))
		memset(o->kernel, 0, sizeof(o->kernel));
	if (p) {
		pairing_get_stats(p, &o->pairing);
		pairing_get_link_stats(p, &o->links);
	}
	goprobes_stats(&o->go_binaries, &o->go_probed, &o->go_stripped);
	o->own_conn_errors = ownconn_errors();
	o->exporting = e != NULL;
	exporter_get_stats(e, &o->exporter);
	o->ring_used_max = s->ring_used_max;
}

void ops_tick(struct ops_server *s, uint64_t now_ns, const struct ops_agent_counts *c,
	      struct loader *l, const struct pairing *p, struct exporter *e)
{
	struct ops_snapshot snap;
	bool first_pass;

	if (!s)
		return;
	atomic_store_explicit(&s->heartbeat_ns, now_ns, memory_order_relaxed);
	first_pass = atomic_load_explicit(&s->state, memory_order_relaxed) == OPS_ATTACHED;
	if (!first_pass && s->published && now_ns - s->last_publish_ns < PUBLISH_EVERY_NS)
		return;
	collect(s, &snap, c, l, p, e);
	pthread_mutex_lock(&s->lock);
	s->snap = snap;
	pthread_mutex_unlock(&s->lock);
	s->published = true;
	s->last_publish_ns = now_ns;
	/* ready once the first drain pass is over and its counters are out */
	if (first_pass)
		atomic_store_explicit(&s->state, OPS_RUNNING, memory_order_release);
}

void ops_stop(struct ops_server *s)
{
	if (!s)
		return;
	atomic_store_explicit(&s->state, OPS_STOPPING, memory_order_release);
	/* joins the server thread and closes the listening socket */
	MHD_stop_daemon(s->mhd);
	if (s->ring.pages)
		munmap(s->ring.pages, s->ring.len);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
