// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The pod list + watch thread: see kube_watch.h. */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include "kube_cache.h"
#include "kube_watch.h"
#include "util.h"

/* Pods per list request: a page's JSON and json-c's objects for it are the
 * agent's peak memory while listing. Measured with 1500 pods of 2.5 KiB
 * JSON (scripts/k8s-pod-scale.py): 500 per page and no malloc_trim left
 * RSS 58 MiB over the baseline; 100 per page and a trim, 17 MiB after the
 * list and 7.5 MiB at 3000 pods (docs/kubernetes.md). */
#define LIST_PAGE		100
#define WATCH_TIMEOUT_S		290		/* server ends a watch after this */
#define MAX_BODY		(64u << 20)	/* a list page of 500 big pods */
#define MAX_EVENT		(8u << 20)	/* one watch event line */
#define BACKOFF_MAX_MS		30000
#define OWNER_CACHE_MAX		4096

struct buf {
	char *data;
	size_t len, cap, limit;
	bool overflow;
};

static struct {
	struct kube_watch_config cfg;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;				/* under lock; read racily by curl */
	enum kube_watch_state state;		/* under lock */
	struct kube_watch_stats st;		/* under lock */
	CURL *curl;			/* lists and the watch */
	/* Owner lookups: a pod's watch event asks for its ReplicaSet from
	 * inside the watch's write callback, where the watch's own handle is
	 * busy (libcurl forbids a perform on it there: weft crashed). */
	CURL *owner_curl;
	char *rv;				/* resourceVersion to watch from */
	bool said_unreachable, said_owner_forbidden;
	char last_error[256];
} w = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

/* Owner lookups (namespace/kind/name -> workload kind/name), so that the
 * ReplicaSet of fifty pods is asked about once. */
struct owner_entry {
	char *key;
	char *kind, *name;	/* NULL: it has no controller */
	struct owner_entry *next;
};
static struct owner_entry *owners;
static int n_owners;

static void free_owners(void)
{
	while (owners) {
		struct owner_entry *x = owners;

		owners = x->next;
		free(x->key);
		free(x->kind);
		free(x->name);
		free(x);
	}
	n_owners = 0;
}

static bool stopping(void)
{
	return __atomic_load_n(&w.stop, __ATOMIC_RELAXED);
}

static void stat_add(uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&w.lock);
	*field += n;
	pthread_mutex_unlock(&w.lock);
}

static void set_state(enum kube_watch_state s)
{
	pthread_mutex_lock(&w.lock);
	w.state = s;
	pthread_cond_broadcast(&w.cond);
	pthread_mutex_unlock(&w.lock);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct buf *b = ctx;
	size_t n = size * nmemb;

	if (b->len + n + 1 > b->limit) {
		b->overflow = true;
		return 0;	/* ends the transfer */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = realloc(b->data, cap);
		if (!b->data)
			abort();
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static int on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	return stopping();	/* non-zero aborts the transfer */
}

/* The token as the file holds it now (projected tokens rotate). */
static struct curl_slist *auth_headers(void)
{
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
	char tok[8192], line[8300];
	FILE *f;
	size_t n;

	if (!w.cfg.token_file || !(f = fopen(w.cfg.token_file, "re")))
		return h;
	n = fread(tok, 1, sizeof(tok) - 1, f);
	fclose(f);
	while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
		n--;
	tok[n] = '\0';
	if (n) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", tok);
		h = curl_slist_append(h, line);
	}
	return h;
}

/* One request; the body (or what came of it) in b. Returns the HTTP status,
 * or -1 when there was none (w.last_error says why). write_cb NULL: the
 * body is collected in b. */
static long request(CURL *c, const char *url, struct buf *b,
		    size_t (*write_cb)(char *, size_t, size_t, void *), long timeout_s)
{
	struct curl_slist *h = auth_headers();
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = -1;
	CURLcode rc;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb ? write_cb : on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "weft/" WEFT_VERSION " (kubernetes metadata)");
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");	/* gzip lists */
	if (w.cfg.ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, w.cfg.ca_file);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && status > 0)) {
		snprintf(w.last_error, sizeof(w.last_error), "%s",
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return status > 0 && rc == CURLE_OPERATION_TIMEDOUT ? status : -1;
	}
	if (status == 0)
		status = -1;
	return status;
}

static char *escape(const char *s)
{
	char *e = curl_easy_escape(w.curl, s, 0);
	char *r = xstrdup(e ? e : "");

	curl_free(e);
	return r;
}

static const char *status_reason(long status, const struct buf *b)
{
	static char msg[320];
	struct json_object *o = b->data ? json_tokener_parse(b->data) : NULL, *m;

	if (o && json_object_object_get_ex(o, "message", &m))
		snprintf(msg, sizeof(msg), "HTTP %ld: %s", status, json_object_get_string(m));
	else
		snprintf(msg, sizeof(msg), "HTTP %ld", status);
	json_object_put(o);
	return msg;
}

/* The controller of namespace/kind/name by asking the API (cached). */
static void ask_owner(const char *ns, const char *kind, const char *name,
		      const char **out_kind, const char **out_name, bool *known)
{
	const char *path = strcmp(kind, "ReplicaSet") == 0 ? "apis/apps/v1" : "apis/batch/v1";
	const char *res = strcmp(kind, "ReplicaSet") == 0 ? "replicasets" : "jobs";
	char key[600], url[1200];
	struct owner_entry *e;
	struct buf b = { .limit = MAX_EVENT };
	long status;

	snprintf(key, sizeof(key), "%s/%s/%s", ns, kind, name);
	for (e = owners; e; e = e->next)
		if (strcmp(e->key, key) == 0) {
			*out_kind = e->kind;
			*out_name = e->name;
			*known = true;
			return;
		}
	*known = false;
	{
		char *ens = escape(ns), *ename = escape(name);

		snprintf(url, sizeof(url), "%s/%s/namespaces/%s/%s/%s",
			 w.cfg.api_url, path, ens, res, ename);
		free(ens);
		free(ename);
	}
	stat_add(&w.st.owner_lookups, 1);
	status = request(w.owner_curl, url, &b, NULL, 10);
	if (status != 200) {
		stat_add(&w.st.owner_lookup_failures, 1);
		if ((status == 401 || status == 403) && !w.said_owner_forbidden) {
			w.said_owner_forbidden = true;
			fprintf(stderr, "weft: kubernetes: may not read %s (%s): workload "
				"names are guessed from pod-template-hash; grant get on "
				"replicasets and jobs (the chart's ClusterRole does)\n",
				res, status_reason(status, &b));
		}
		free(b.data);
		if (status != 404)
			return;	/* ask again next time */
		/* gone: the pod's owner is all there is */
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		abort();
	e->key = xstrdup(key);
	if (status == 200) {
		struct json_object *o = json_tokener_parse(b.data), *md, *refs;

		if (o && json_object_object_get_ex(o, "metadata", &md) &&
		    json_object_object_get_ex(md, "ownerReferences", &refs) &&
		    json_object_is_type(refs, json_type_array)) {
			for (size_t i = 0; i < json_object_array_length(refs); i++) {
				struct json_object *r = json_object_array_get_idx(refs, i), *c, *k, *n;

				if (json_object_object_get_ex(r, "controller", &c) &&
				    json_object_get_boolean(c) &&
				    json_object_object_get_ex(r, "kind", &k) &&
				    json_object_object_get_ex(r, "name", &n)) {
					e->kind = xstrdup(json_object_get_string(k));
					e->name = xstrdup(json_object_get_string(n));
					break;
				}
			}
		}
		json_object_put(o);
	}
	free(b.data);
	if (n_owners >= OWNER_CACHE_MAX) {
		free_owners();
	}
	e->next = owners;
	owners = e;
	n_owners++;
	*out_kind = e->kind;
	*out_name = e->name;
	*known = true;
}

/* A ReplicaSet's Deployment, a Job's CronJob: the pod's workload. */
static void resolve_top(struct kube_pod *p)
{
	const char *kind = NULL, *name = NULL;
	bool known = false;
	char guess[256];

	if (!p->owner.kind || (strcmp(p->owner.kind, "ReplicaSet") != 0 &&
			       strcmp(p->owner.kind, "Job") != 0))
		return;
	ask_owner(p->ns, p->owner.kind, p->owner.name, &kind, &name, &known);
	if (known) {
		kube_pod_set_top(p, kind, name);
		return;
	}
	if (kube_pod_guess_deployment(p, guess, sizeof(guess)))
		kube_pod_set_top(p, "Deployment", guess);
}

static void put_pod(struct json_object *obj)
{
	struct kube_pod *p = kube_pod_from_json(obj);

	if (!p)
		return;
	resolve_top(p);
	kube_cache_put(p);
}

static const char *rv_of(struct json_object *obj)
{
	struct json_object *md, *rv;

	if (json_object_object_get_ex(obj, "metadata", &md) &&
	    json_object_object_get_ex(md, "resourceVersion", &rv) &&
	    json_object_is_type(rv, json_type_string))
		return json_object_get_string(rv);
	return NULL;
}

static void set_rv(const char *rv)
{
	if (!rv)
		return;
	free(w.rv);
	w.rv = xstrdup(rv);
}

/* The node's pods, page by page, replacing the cache. 0 or -1. */
static int list_pods(void)
{
	char *node = escape(w.cfg.node_name), *cont = NULL;
	int err = -1, pods = 0;

	stat_add(&w.st.lists, 1);
	kube_cache_begin();
	for (;;) {
		struct buf b = { .limit = MAX_BODY };
		struct json_object *o, *items, *md, *c;
		char url[4096];
		long status;

		snprintf(url, sizeof(url), "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s&limit=%d%s%s",
			 w.cfg.api_url, node, LIST_PAGE, cont ? "&continue=" : "", cont ? cont : "");
		status = request(w.curl, url, &b, NULL, 60);
		free(cont);
		cont = NULL;
		if (status != 200) {
			if (status > 0)
				snprintf(w.last_error, sizeof(w.last_error), "%s",
					 status_reason(status, &b));
			else if (b.overflow)
				snprintf(w.last_error, sizeof(w.last_error),
					 "a page of the pod list is over %u MiB", MAX_BODY >> 20);
			free(b.data);
			break;
		}
		o = json_tokener_parse(b.data);
		free(b.data);
		if (!o || !json_object_object_get_ex(o, "items", &items) ||
		    !json_object_is_type(items, json_type_array)) {
			snprintf(w.last_error, sizeof(w.last_error), "the pod list is not a PodList");
			json_object_put(o);
			break;
		}
		for (size_t i = 0; i < json_object_array_length(items); i++, pods++)
			put_pod(json_object_array_get_idx(items, i));
		set_rv(rv_of(o));
		if (json_object_object_get_ex(o, "metadata", &md) &&
		    json_object_object_get_ex(md, "continue", &c) &&
		    json_object_get_string_len(c) > 0)
			cont = escape(json_object_get_string(c));
		json_object_put(o);
		if (!cont) {
			kube_cache_commit();
			err = 0;
			break;
		}
	}
	free(node);
	return err;
}

/* Watch events, a JSON object per line. */
struct watch_ctx {
	struct buf line;
	bool gone;		/* 410: the resourceVersion is too old */
	uint64_t events;
};

static void on_event(struct watch_ctx *x, const char *text)
{
	struct json_object *ev = json_tokener_parse(text), *type, *obj;
	const char *t;

	if (!ev)
		return;
	if (!json_object_object_get_ex(ev, "type", &type) ||
	    !json_object_object_get_ex(ev, "object", &obj)) {
		json_object_put(ev);
		return;
	}
	t = json_object_get_string(type);
	x->events++;
	stat_add(&w.st.watch_events, 1);
	if (strcmp(t, "ADDED") == 0 || strcmp(t, "MODIFIED") == 0) {
		put_pod(obj);
		set_rv(rv_of(obj));
	} else if (strcmp(t, "DELETED") == 0) {
		struct json_object *md, *uid;

		if (json_object_object_get_ex(obj, "metadata", &md) &&
		    json_object_object_get_ex(md, "uid", &uid))
			kube_cache_delete(json_object_get_string(uid));
		set_rv(rv_of(obj));
	} else if (strcmp(t, "BOOKMARK") == 0) {
		set_rv(rv_of(obj));
	} else if (strcmp(t, "ERROR") == 0) {
		struct json_object *code;

		if (json_object_object_get_ex(obj, "code", &code) &&
		    json_object_get_int(code) == 410)
			x->gone = true;
		snprintf(w.last_error, sizeof(w.last_error), "watch: %s",
			 json_object_to_json_string(obj));
	}
	json_object_put(ev);
}

static size_t on_watch_data(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct watch_ctx *x = ctx;
	size_t n = size * nmemb;
	char *nl;

	if (on_body(ptr, 1, n, &x->line) != n)
		return 0;	/* one event over MAX_EVENT: relist */
	while ((nl = memchr(x->line.data, '\n', x->line.len))) {
		size_t used = nl - x->line.data + 1;

		*nl = '\0';
		on_event(x, x->line.data);
		if (x->events % 256 == 0)
			malloc_trim(0);	/* a burst of pod events (a rollout) */
		memmove(x->line.data, nl + 1, x->line.len - used);
		x->line.len -= used;
		x->line.data[x->line.len] = '\0';
		if (x->gone)
			return 0;
	}
	return n;
}

/* One watch request from w.rv. 0: it ended normally (watch again);
 * -1: relist. */
static int watch_pods(void)
{
	struct watch_ctx x = { .line = { .limit = MAX_EVENT } };
	char *node = escape(w.cfg.node_name), *rv = escape(w.rv ? w.rv : "0");
	char url[4096];
	long status;

	snprintf(url, sizeof(url), "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s"
		 "&watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%d",
		 w.cfg.api_url, node, rv, WATCH_TIMEOUT_S);
	free(node);
	free(rv);
	stat_add(&w.st.watches, 1);
	status = request(w.curl, url, &x.line, on_watch_data, WATCH_TIMEOUT_S + 30);
	free(x.line.data);
	if (x.gone) {
		stat_add(&w.st.gone_410, 1);
		return -1;
	}
	if (x.line.overflow) {
		stat_add(&w.st.oversized_events, 1);
		return -1;
	}
	if (status == 410) {
		stat_add(&w.st.gone_410, 1);
		return -1;
	}
	return status == 200 ? 0 : -1;
}

/* Sleeps ms unless stopped first. */
static void nap(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w.lock);
	while (!w.stop && pthread_cond_timedwait(&w.cond, &w.lock, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&w.lock);
}

static void *run(void *arg)
{
	int backoff = 500;

	while (!stopping()) {
		int listed = list_pods();

		/* the pages' JSON was freed in this thread's malloc arena, which
		 * keeps it: give it back (glibc trims every arena) */
		malloc_trim(0);
		if (listed == 0) {
			struct kube_cache_stats cs;

			kube_cache_get_stats(&cs);
			if (w.said_unreachable)
				fprintf(stderr, "weft: kubernetes: the API answers again: %" PRIu64
					" pods on node %s\n", cs.pods, w.cfg.node_name);
			w.said_unreachable = false;
			set_state(KUBE_WATCH_SYNCED);
			backoff = 500;
			while (!stopping() && watch_pods() == 0)
				malloc_trim(0);	/* a watch ends every ~5 min */
			if (stopping())
				break;
			continue;	/* relist at once after 410 */
		}
		if (stopping())
			break;
		stat_add(&w.st.list_failures, 1);
		set_state(KUBE_WATCH_UNREACHABLE);
		if (!w.said_unreachable) {
			w.said_unreachable = true;
			fprintf(stderr, "weft: kubernetes: cannot list the pods of node %s at %s: %s; "
				"until it answers, pod metadata comes from the container runtime's "
				"files on this node (namespace, pod and container names only)\n",
				w.cfg.node_name, w.cfg.api_url, w.last_error);
		}
		nap(backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}

int kube_watch_start(const struct kube_watch_config *cfg)
{
	w.cfg.api_url = xstrdup(cfg->api_url);
	w.cfg.token_file = cfg->token_file ? xstrdup(cfg->token_file) : NULL;
	w.cfg.ca_file = cfg->ca_file ? xstrdup(cfg->ca_file) : NULL;
	w.cfg.node_name = xstrdup(cfg->node_name);
	w.curl = curl_easy_init();
	w.owner_curl = curl_easy_init();
	if (!w.curl || !w.owner_curl) {
		fprintf(stderr, "weft: kubernetes: libcurl could not start\n");
		return -1;
	}
	w.state = KUBE_WATCH_STARTING;
	if (pthread_create(&w.thread, NULL, run, NULL)) {
		fprintf(stderr, "weft: kubernetes: cannot start the watch thread\n");
		curl_easy_cleanup(w.curl);
		curl_easy_cleanup(w.owner_curl);
		w.curl = w.owner_curl = NULL;
		return -1;
	}
	w.started = true;
	return 0;
}

enum kube_watch_state kube_watch_wait_synced(int timeout_ms)
{
	struct timespec ts;
	enum kube_watch_state s;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w.lock);
	while (w.started && w.state == KUBE_WATCH_STARTING &&
	       pthread_cond_timedwait(&w.cond, &w.lock, &ts) != ETIMEDOUT)
		;
	s = w.state;
	pthread_mutex_unlock(&w.lock);
	return s;
}

enum kube_watch_state kube_watch_state(void)
{
	enum kube_watch_state s;

	pthread_mutex_lock(&w.lock);
	s = w.state;
	pthread_mutex_unlock(&w.lock);
	return s;
}

void kube_watch_get_stats(struct kube_watch_stats *st)
{
	pthread_mutex_lock(&w.lock);
	*st = w.st;
	pthread_mutex_unlock(&w.lock);
}

void kube_watch_stop(void)
{
	if (!w.started)
		return;
	pthread_mutex_lock(&w.lock);
	w.stop = true;
	pthread_cond_broadcast(&w.cond);
	pthread_mutex_unlock(&w.lock);
	pthread_join(w.thread, NULL);
	w.started = false;
	curl_easy_cleanup(w.curl);
	curl_easy_cleanup(w.owner_curl);
	w.curl = w.owner_curl = NULL;
	free_owners();
	free(w.rv);
	w.rv = NULL;
	free((char *)w.cfg.api_url);
	free((char *)w.cfg.token_file);
	free((char *)w.cfg.ca_file);
	free((char *)w.cfg.node_name);
	kube_cache_clear();
}
