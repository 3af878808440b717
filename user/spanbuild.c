// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * An exchange becomes a span: trace context from the request headers,
 * attributes by the stable OpenTelemetry HTTP semantic conventions, status
 * by their rules (server: 5xx is an error; client: 4xx and 5xx), resource
 * of the process that handled it.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "spanbuild.h"
#include "ids.h"
#include "redact.h"
#include "utf8.h"

/* Dotted quad without glibc's inet_ntop, whose sprintf was a twentieth of
 * the agent's time at two addresses per span. out holds 16 bytes. */
static void ipv4_str(const uint8_t *ip, char *out)
{
	for (int i = 0; i < 4; i++) {
		unsigned v = ip[i];

		if (v >= 100)
			*out++ = '0' + v / 100;
		if (v >= 10)
			*out++ = '0' + v / 10 % 10;
		*out++ = '0' + v % 10;
		*out++ = i < 3 ? '.' : '\0';
	}
}

static void addr_str(const struct weft_addr *a, const uint8_t *ip, char *out,
		     size_t size)
{
	if (a->family == AF_INET6) {
		/* v4-mapped addresses read better as plain v4 */
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		if (memcmp(ip, mapped, 12) == 0)
			ipv4_str(ip + 12, out);
		else
			inet_ntop(AF_INET6, ip, out, size);
	} else {
		ipv4_str(ip, out);
	}
}

/* Splits a Host header into name and port; false when there is none. */
static bool split_host(const char *host, char *name, size_t size, int *port)
{
	const char *colon;
	size_t n;

	*port = -1;
	if (!host[0])
		return false;
	if (host[0] == '[') {
		const char *end = strchr(host, ']');

		if (!end)
			return false;
		n = end - host - 1;
		colon = end[1] == ':' ? end + 1 : NULL;
		host++;
	} else {
		colon = strrchr(host, ':');
		n = colon ? (size_t)(colon - host) : strlen(host);
	}
	if (n == 0 || n >= size)
		return false;
	memcpy(name, host, n);
	name[n] = '\0';
	if (colon) {
		char *e;
		long p = strtol(colon + 1, &e, 10);

		if (*e == '\0' && p > 0 && p < 65536)
			*port = (int)p;
	}
	return true;
}


/* Path and query of a request target, origin-form or absolute-form (any
 * scheme: its authority, credentials and all, is no part of the path); the
 * query's sensitive values redacted (redact.h). */
static void split_target(const char *target, char *path, size_t psize,
			 char *query, size_t qsize)
{
	const char *p = redact_path_start(target), *q = strchr(p, '?');
	size_t plen = q ? (size_t)(q - p) : strlen(p);

	if (p != target && p[0] != '/')
		http_copy_cut(path, psize, "/", 1);	/* http://host?x */
	else if (p[0] == '/' || p[0] == '*')
		http_copy_cut(path, psize, p, plen);
	else
		redact_url(path, psize, p, plen);	/* CONNECT's user@host:port */
	query[0] = '\0';
	if (q)
		redact_query(query, qsize, q + 1, strlen(q + 1));
}

/*
 * A string that came off the wire, made valid UTF-8 (utf8.h): OTLP string
 * fields must be, and one bad string can cost a collector's whole batch.
 * Valid strings, nearly all of them, go in without a copy; *owned is the
 * repaired copy to free, NULL when none was needed.
 */
static char *wire_text(const char *val, char **owned)
{
	size_t n = strlen(val), size;

	*owned = NULL;
	if (utf8_valid(val, n))
		return (char *)val;
	size = UTF8_REPAIR_SIZE(n);
	*owned = malloc(size);
	if (!*owned)
		abort();
	utf8_repair(*owned, size, val, n);
	return *owned;
}

static void add_wire_str(struct span *s, const char *key, const char *val)
{
	char *owned;

	span_add_str(s, key, wire_text(val, &owned));
	free(owned);
}

static void set_context(struct span *s, const struct exchange *ex)
{
	memcpy(s->trace_id, ex->trace_id, 16);
	memcpy(s->span_id, ex->span_id, 8);
	memcpy(s->parent_span_id, ex->parent_span_id, 8);
	s->has_parent = ex->has_parent;
	s->sampled = ex->sampled;
	if (ex->tracestate) {
		char *owned, *ts = wire_text(ex->tracestate, &owned);

		s->trace_state = owned ? owned : strdup(ts);
	}
}

/* gRPC codes that make a server span an error (gRPC semantic conventions:
 * the server's own failures; the caller's mistakes are not its errors). */
static bool grpc_server_error(int code)
{
	return code == 2 || code == 4 || code == 12 || code == 13 ||
	       code == 14 || code == 15;
}

/* A gRPC call over HTTP/2: rpc.* attributes, "package.Service/Method" as
 * the name. False when the exchange is not one. */
static bool set_rpc(struct span *s, const struct exchange *ex, const char *path)
{
	const char *slash;

	if (!ex->h2 || strncmp(ex->req->content_type, "application/grpc", 16) != 0)
		return false;
	slash = path[0] == '/' ? strchr(path + 1, '/') : NULL;
	span_add_str(s, "rpc.system", "grpc");
	if (slash && slash[1]) {
		char service[HTTP_TARGET_MAX];

		http_copy_cut(service, sizeof(service), path + 1, slash - path - 1);
		char *owned;

		add_wire_str(s, "rpc.service", service);
		add_wire_str(s, "rpc.method", slash + 1);
		span_set_name(s, wire_text(path + 1, &owned));
		free(owned);
	}
	if (ex->has_grpc_status)
		span_add_int(s, "rpc.grpc.status_code", ex->grpc_status);
	return true;
}

static void set_grpc_status(struct span *s, const struct exchange *ex, bool client)
{
	char buf[16];

	if (ex->how != EXCH_DONE || !ex->has_grpc_status)
		return;		/* ended early: set_status says why */
	if (ex->grpc_status != 0 && (client || grpc_server_error(ex->grpc_status))) {
		snprintf(buf, sizeof(buf), "%d", ex->grpc_status);
		span_add_str(s, "error.type", buf);
		char *owned = NULL;

		span_set_status(s, SPAN_STATUS_ERROR, ex->grpc_message ?
				wire_text(ex->grpc_message, &owned) : NULL);
		free(owned);
	}
}

static void set_status(struct span *s, const struct exchange *ex, bool client)
{
	char buf[16];

	if (ex->how == EXCH_STREAM_RESET) {
		span_add_str(s, "error.type", "stream_reset");
		span_set_status(s, SPAN_STATUS_ERROR,
				"stream reset before the response ended");
		return;
	}
	if (ex->how != EXCH_DONE) {
		const char *why = ex->how == EXCH_RESET ? "connection reset"
							 : "connection closed";

		span_add_str(s, "error.type", ex->how == EXCH_RESET ?
			     "connection_reset" : "connection_closed");
		span_set_status(s, SPAN_STATUS_ERROR, ex->status ?
				"connection ended before the response did" : why);
		return;
	}
	if (ex->status >= 500 || (client && ex->status >= 400)) {
		snprintf(buf, sizeof(buf), "%d", ex->status);	/* errors only */
		span_add_str(s, "error.type", buf);
		span_set_status(s, SPAN_STATUS_ERROR, NULL);
	}
}

struct span *exchange_to_span(const struct exchange *ex,
			      const struct conn_info *ci)
{
	const struct http_msg *m = ex->req;
	bool client = ci->role == WEFT_ROLE_CLIENT;
	struct span *s = span_new();
	char local[INET6_ADDRSTRLEN], peer[INET6_ADDRSTRLEN];
	char path[HTTP_TARGET_MAX], query[HTTP_TARGET_MAX], host[HTTP_HOST_MAX];
	int host_port;
	bool has_host;
	const char *method = http_method_known(m->method) ? m->method : "_OTHER";

	s->kind = client ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER;
	set_context(s, ex);
	/* One conversion: the offset is re-read per call, and converting the
	 * end separately would add its jitter to the duration (even make a
	 * zero-length span end before it starts). */
	s->start_unix_ns = mono_to_unix_ns(ex->start_ns);
	s->end_unix_ns = s->start_unix_ns +
			 (ex->end_ns > ex->start_ns ? ex->end_ns - ex->start_ns : 0);
	span_set_name(s, http_method_known(m->method) ? m->method : "HTTP");
	span_set_resource(s, ex->res);

	addr_str(&ci->addr, ci->addr.saddr, local, sizeof(local));
	addr_str(&ci->addr, ci->addr.daddr, peer, sizeof(peer));
	split_target(m->target, path, sizeof(path), query, sizeof(query));
	has_host = split_host(redact_host(m->host), host, sizeof(host), &host_port);

	span_add_str(s, "http.request.method", method);
	if (strcmp(method, "_OTHER") == 0)
		span_add_str(s, "http.request.method_original", m->method);
	add_wire_str(s, "url.path", path);
	if (query[0])
		add_wire_str(s, "url.query", query);
	if (ex->status > 0)
		span_add_int(s, "http.response.status_code", ex->status);
	span_add_str(s, "network.protocol.version",
		     ex->h2 ? "2" : m->version_minor ? "1.1" : "1.0");
	span_add_str(s, "network.peer.address", peer);
	span_add_int(s, "network.peer.port", ci->addr.dport);
	if (m->user_agent[0])
		add_wire_str(s, "user_agent.original", m->user_agent);

	if (client) {
		char full[HTTP_TARGET_MAX + HTTP_HOST_MAX + 16];
		char peer_auth[INET6_ADDRSTRLEN + 16];
		const char *authority = m->host[0] ? m->host : peer_auth;

		/* no Host (HTTP/1.0, or an HTTP/2 :authority weft could not
		 * decode): the address it was sent to, with its port unless
		 * the scheme's own, an IPv6 address in brackets (RFC 3986) */
		if (!m->host[0]) {
			unsigned dport = ci->addr.dport;
			bool v6 = strchr(peer, ':') != NULL;

			if (dport == (ex->tls ? 443u : 80u))
				snprintf(peer_auth, sizeof(peer_auth), v6 ? "[%s]" : "%s", peer);
			else
				snprintf(peer_auth, sizeof(peer_auth), v6 ? "[%s]:%u" : "%s:%u",
					 peer, dport);
		}

		add_wire_str(s, "server.address", has_host ? host : peer);
		span_add_int(s, "server.port", has_host && host_port > 0 ?
			     host_port : ci->addr.dport);
		if (m->target[0] == '/') {
			const char *scheme = ex->tls ? "https://" : "http://";
			size_t n = http_copy_cut(full, sizeof(full), scheme,
						 strlen(scheme));

			n += http_copy_cut(full + n, sizeof(full) - n, authority,
				    strlen(authority));
			http_copy_cut(full + n, sizeof(full) - n, m->target,
			       strlen(m->target));
		} else {
			http_copy_cut(full, sizeof(full), m->target, strlen(m->target));
		}
		redact_url_inplace(full, sizeof(full));	/* userinfo, query */
		add_wire_str(s, "url.full", full);
	} else {
		span_add_str(s, "url.scheme", ex->tls ? "https" : "http");
		add_wire_str(s, "server.address", has_host ? host : local);
		span_add_int(s, "server.port", has_host && host_port > 0 ?
			     host_port : ci->addr.sport);
		span_add_str(s, "client.address", peer);
		span_add_int(s, "client.port", ci->addr.dport);
	}
	if (ex->head_truncated)
		span_add_int(s, "weft.request.head_truncated", 1);
	if (set_rpc(s, ex, path) && ex->how == EXCH_DONE && ex->status == 200)
		set_grpc_status(s, ex, client);
	else
		set_status(s, ex, client);
	return s;
}
