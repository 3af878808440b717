// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Kubernetes metadata and pod filters: see kube_meta.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kube_bundle.h"
#include "kube_cache.h"
#include "kube_meta.h"
#include "kube_selector.h"
#include "kube_watch.h"
#include "util.h"

static struct {
	bool enabled, api, filtering;
	const struct kube_opts *o;
	struct kube_selector *sel;
	char node[256];
	char *own_ns, *own_name;	/* POD_NAMESPACE, POD_NAME */
	struct cgroup_ids own;		/* weft's own container */
	const char *root;		/* where the host's /run is seen */
	bool said_node_files;
} m;

static bool in_list(char *const *list, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

/* https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, as client-go's
 * in-cluster config builds it (brackets for an IPv6 host). */
static char *in_cluster_url(void)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char url[512];

	if (!host || !host[0])
		return NULL;
	snprintf(url, sizeof(url), strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s",
		 host, port && port[0] ? port : "443");
	return xstrdup(url);
}

static void pick_node_name(const struct kube_opts *o)
{
	const char *n = o->node_name ? o->node_name : getenv("NODE_NAME");

	if (n && n[0])
		snprintf(m.node, sizeof(m.node), "%s", n);
	else if (gethostname(m.node, sizeof(m.node) - 1))
		snprintf(m.node, sizeof(m.node), "unknown");
}

int kube_meta_start(const struct kube_opts *o)
{
	char err[128];
	char *url = NULL;

	m.o = o;
	m.sel = kube_selector_parse(o->selector ? o->selector : "", err, sizeof(err));
	if (!m.sel) {
		fprintf(stderr, "weft: --pod-selector '%s': %s\n", o->selector, err);
		return -1;
	}
	if (o->mode == KUBE_OFF)
		return 0;
	m.enabled = true;
	/* always: any pod may carry the opt-out annotation, and kube-system
	 * is left out by default */
	m.filtering = true;
	m.own_ns = getenv("POD_NAMESPACE");
	m.own_name = getenv("POD_NAME");
	cgroup_ids_of_pid(getpid(), &m.own);
	/* in a container with the host's pids, the host's /run is /proc/1/root/run */
	m.root = m.own.container_id[0] && access("/proc/1/root/run", R_OK) == 0 ?
		 "/proc/1/root" : "";
	pick_node_name(o);

	url = o->api_url ? xstrdup(o->api_url) : in_cluster_url();
	if (!url) {
		if (o->mode == KUBE_ON) {
			fprintf(stderr, "weft: --k8s on: no API server address: not in a pod "
				"(KUBERNETES_SERVICE_HOST unset) and no --k8s-api\n");
			return -1;
		}
		return 0;	/* the node's files only */
	}
	{
		size_t l = strlen(url);
		struct kube_watch_config wc = {
			.api_url = url,
			.token_file = o->token_file ? o->token_file : KUBE_DEFAULT_TOKEN,
			.node_name = m.node,
		};

		while (l && url[l - 1] == '/')
			url[--l] = '\0';
		if (o->ca_file)
			wc.ca_file = o->ca_file;
		else if (access(KUBE_DEFAULT_CA, R_OK) == 0)
			wc.ca_file = KUBE_DEFAULT_CA;
		fprintf(stderr, "weft: kubernetes: pods of node %s from %s\n", m.node, url);
		if (kube_watch_start(&wc)) {
			free(url);
			return -1;
		}
		m.api = true;
		free(url);
		/* spans of processes that are running now want their pods: a
		 * short wait at start beats a first minute of unnamed spans */
		kube_watch_wait_synced(3000);
	}
	return 0;
}

void kube_meta_stop(void)
{
	if (m.api)
		kube_watch_stop();
	kube_selector_free(m.sel);
	memset(&m, 0, sizeof(m));
}

bool kube_meta_enabled(void)
{
	return m.enabled;
}

bool kube_meta_filtering(void)
{
	return m.enabled && m.filtering;
}

uint64_t kube_meta_generation(void)
{
	return m.api ? kube_cache_generation() : 0;
}

bool kube_meta_host_name(char *out, size_t size)
{
	FILE *f;

	/* In a container the UTS name is the pod's; host.name is the node's. */
	if (!m.enabled || !m.own.container_id[0])
		return false;
	f = fopen("/proc/1/root/etc/hostname", "re");
	if (f) {
		bool ok = fgets(out, (int)size, f) != NULL;

		fclose(f);
		out[strcspn(out, "\r\n")] = '\0';
		if (ok && out[0])
			return true;
	}
	snprintf(out, size, "%s", m.node);
	return out[0] != '\0';
}

const char *kube_meta_node(void)
{
	return m.enabled ? m.node : NULL;
}

struct kube_pod *kube_meta_pod(const struct cgroup_ids *ids)
{
	struct kube_pod *p;

	if (!m.enabled || !ids->container_id[0])
		return NULL;
	if (m.api) {
		p = kube_cache_by_container(ids->container_id);
		/* the kubelet reports a container's id a moment after it
		 * starts: its pod is known by the UID in the cgroup path */
		if (!p)
			p = kube_cache_by_uid(ids->pod_uid);
		if (p || kube_watch_state() == KUBE_WATCH_SYNCED)
			return p;
	}
	p = kube_bundle_pod(m.root, ids->container_id);
	if (p && !m.api && !m.said_node_files) {
		m.said_node_files = true;
		fprintf(stderr, "weft: kubernetes: no API server to ask (not in a pod; "
			"--k8s-api sets one): pod metadata comes from the container "
			"runtime's files on this node (namespace, pod and container "
			"names; no labels, annotations or workloads)\n");
	}
	return p;
}

static bool own_pod(const struct kube_pod *p)
{
	if (m.own_ns && m.own_name && strcmp(p->ns, m.own_ns) == 0 &&
	    strcmp(p->name, m.own_name) == 0)
		return true;
	return m.own.pod_uid[0] && p->uid && strcmp(p->uid, m.own.pod_uid) == 0;
}

bool kube_meta_wanted(const struct kube_pod *p, bool in_container)
{
	const struct kube_opts *o = m.o;

	if (!m.enabled || !m.filtering)
		return true;
	if (!p) {
		/* Not a pod we know of: a process of the node itself, a
		 * container of another kind, or a pod not listed yet. Only
		 * filters that pick pods by what they are leave it out. */
		if (o->pods_only)
			return false;
		if (in_container && (o->n_namespaces || o->selector || o->opt_in))
			return false;
		return true;
	}
	if (own_pod(p))
		return false;
	if (p->trace && strcmp(p->trace, "false") == 0)
		return false;
	if (o->opt_in && !(p->trace && strcmp(p->trace, "true") == 0))
		return false;
	if (o->n_namespaces && !in_list(o->namespaces, o->n_namespaces, p->ns))
		return false;
	if (o->exclude_set ? in_list(o->exclude, o->n_exclude, p->ns) :
			     strcmp(p->ns, "kube-system") == 0)
		return false;
	/* the node-files fallback has no labels: a pod a selector can't
	 * judge is not picked by it */
	if (o->selector && (p->partial || !kube_selector_match(m.sel, p)))
		return false;
	return true;
}

void kube_meta_get_stats(struct kube_meta_stats *st)
{
	struct kube_cache_stats cs;
	struct kube_watch_stats ws;

	memset(st, 0, sizeof(*st));
	st->enabled = m.enabled;
	st->api = m.api;
	if (!m.api)
		return;
	kube_cache_get_stats(&cs);
	kube_watch_get_stats(&ws);
	st->synced = kube_watch_state() == KUBE_WATCH_SYNCED;
	st->pods = cs.pods;
	st->bytes = cs.bytes;
	st->lists = ws.lists;
	st->list_failures = ws.list_failures;
	st->watch_events = ws.watch_events;
	st->gone_410 = ws.gone_410;
	st->owner_lookups = ws.owner_lookups;
	st->owner_lookup_failures = ws.owner_lookup_failures;
}

void kube_meta_print_stats(FILE *f)
{
	struct kube_cache_stats cs;
	struct kube_watch_stats ws;

	if (!m.enabled)
		return;
	if (!m.api) {
		if (m.said_node_files)
			fprintf(f, "weft: kubernetes: no API; pod metadata from the node's files\n");
		return;
	}
	kube_cache_get_stats(&cs);
	kube_watch_get_stats(&ws);
	fprintf(f, "weft: kubernetes: pods of node %s %" PRIu64 " (%" PRIu64 " KiB), %s; "
		"lists %" PRIu64 " (failed %" PRIu64 "), watch events %" PRIu64
		", relists after 410 Gone %" PRIu64 ", owner lookups %" PRIu64
		" (failed %" PRIu64 ")\n", m.node, cs.pods, cs.bytes >> 10,
		kube_watch_state() == KUBE_WATCH_SYNCED ? "in sync" :
		kube_watch_state() == KUBE_WATCH_STARTING ? "listing" : "API unreachable",
		ws.lists, ws.list_failures, ws.watch_events, ws.gone_410,
		ws.owner_lookups, ws.owner_lookup_failures);
}

void kube_opts_free(struct kube_opts *o)
{
	free(o->api_url);
	free(o->token_file);
	free(o->ca_file);
	free(o->node_name);
	free(o->selector);
	for (int i = 0; i < o->n_namespaces; i++)
		free(o->namespaces[i]);
	for (int i = 0; i < o->n_exclude; i++)
		free(o->exclude[i]);
	memset(o, 0, sizeof(*o));
}
