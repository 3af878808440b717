// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The pod model: see kube_pod.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "kube_pod.h"
#include "util.h"

static void *zalloc(struct kube_pod *p, size_t n, size_t size)
{
	void *v;

	if (!n)
		return NULL;
	v = calloc(n, size);
	if (!v)
		abort();
	if (p)
		p->bytes += n * size;
	return v;
}

struct kube_pod *kube_pod_new(int n_containers)
{
	struct kube_pod *p = zalloc(NULL, 1, sizeof(*p));

	p->refcnt = 1;
	p->bytes = sizeof(*p);
	p->containers = zalloc(p, n_containers, sizeof(*p->containers));
	return p;
}

struct kube_pod *kube_pod_ref(struct kube_pod *p)
{
	if (p)
		__atomic_add_fetch(&p->refcnt, 1, __ATOMIC_RELAXED);
	return p;
}

void kube_pod_unref(struct kube_pod *p)
{
	if (!p || __atomic_sub_fetch(&p->refcnt, 1, __ATOMIC_ACQ_REL))
		return;
	free(p->ns);
	free(p->name);
	free(p->uid);
	free(p->node);
	free(p->rv);
	free(p->owner.kind);
	free(p->owner.name);
	free(p->top.kind);
	free(p->top.name);
	free(p->pod_template_hash);
	free(p->trace);
	for (int i = 0; i < p->n_labels; i++) {
		free(p->labels[i].key);
		free(p->labels[i].val);
	}
	for (int i = 0; i < p->n_res; i++) {
		free(p->res[i].key);
		free(p->res[i].val);
	}
	for (int i = 0; i < p->n_containers; i++)
		free(p->containers[i].name);
	free(p->labels);
	free(p->res);
	free(p->containers);
	free(p);
}

/* A copy of s counted in the pod's bytes; NULL stays NULL. */
static char *keep(struct kube_pod *p, const char *s)
{
	if (!s)
		return NULL;
	p->bytes += strlen(s) + 1;
	return xstrdup(s);
}

/* obj.a.b... as a string, or NULL (missing or not a string). */
static const char *str_at(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static struct json_object *obj_at(struct json_object *obj, const char *key,
				  enum json_type type)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, type))
		return NULL;
	return v;
}

static void read_owner(struct kube_pod *p, struct json_object *md)
{
	struct json_object *refs = obj_at(md, "ownerReferences", json_type_array);
	size_t n = refs ? json_object_array_length(refs) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(refs, i), *c;

		if (!obj_at(r, "controller", json_type_boolean) ||
		    !json_object_object_get_ex(r, "controller", &c) ||
		    !json_object_get_boolean(c))
			continue;
		if (!str_at(r, "kind") || !str_at(r, "name"))
			continue;
		p->owner.kind = keep(p, str_at(r, "kind"));
		p->owner.name = keep(p, str_at(r, "name"));
		p->top.kind = keep(p, p->owner.kind);
		p->top.name = keep(p, p->owner.name);
		return;
	}
}

static void read_labels(struct kube_pod *p, struct json_object *md)
{
	struct json_object *labels = obj_at(md, "labels", json_type_object);

	if (!labels)
		return;
	p->labels = zalloc(p, json_object_object_length(labels) < KUBE_MAX_LABELS ?
			      json_object_object_length(labels) : KUBE_MAX_LABELS,
			   sizeof(*p->labels));
	json_object_object_foreach(labels, key, val) {
		const char *v = json_object_is_type(val, json_type_string) ?
				json_object_get_string(val) : NULL;

		if (!v)
			continue;
		if (strcmp(key, "pod-template-hash") == 0 && !p->pod_template_hash)
			p->pod_template_hash = keep(p, v);
		if (p->n_labels == KUBE_MAX_LABELS || !p->labels)
			continue;	/* a selector on the 33rd label won't match */
		p->labels[p->n_labels].key = keep(p, key);
		p->labels[p->n_labels].val = keep(p, v);
		p->n_labels++;
	}
}

/* Only the annotations weft uses: most bytes of a pod's annotations are
 * other tools' (kubectl's last-applied-configuration, checksums). */
static void read_annotations(struct kube_pod *p, struct json_object *md)
{
	struct json_object *ann = obj_at(md, "annotations", json_type_object);
	size_t plen = strlen(KUBE_RES_ANNOTATION);

	int want = 0;

	if (!ann)
		return;
	json_object_object_foreach(ann, k0, v0) {
		if (strncmp(k0, KUBE_RES_ANNOTATION, plen) == 0 && k0[plen] &&
		    json_object_is_type(v0, json_type_string))
			want++;
	}
	p->res = zalloc(p, want < KUBE_MAX_RES_ANNOTS ? want : KUBE_MAX_RES_ANNOTS,
			sizeof(*p->res));
	json_object_object_foreach(ann, key, val) {
		const char *v = json_object_is_type(val, json_type_string) ?
				json_object_get_string(val) : NULL;

		if (!v)
			continue;
		if (strcmp(key, KUBE_TRACE_ANNOTATION) == 0) {
			free(p->trace);
			p->trace = keep(p, v);
		} else if (strncmp(key, KUBE_RES_ANNOTATION, plen) == 0 &&
			   key[plen] && p->n_res < KUBE_MAX_RES_ANNOTS) {
			p->res[p->n_res].key = keep(p, key + plen);
			p->res[p->n_res].val = keep(p, v);
			p->n_res++;
		}
	}
}

/* "containerd://<64 hex>", "cri-o://...", "docker://...": the id. */
static void container_id(const char *s, char out[CONTAINER_ID_LEN + 1])
{
	const char *sep = s ? strstr(s, "://") : NULL;
	const char *id = sep ? sep + 3 : s;

	out[0] = '\0';
	if (!id || strlen(id) != CONTAINER_ID_LEN)
		return;
	for (int i = 0; i < CONTAINER_ID_LEN; i++)
		out[i] = (char)tolower((unsigned char)id[i]);
	out[CONTAINER_ID_LEN] = '\0';
}

static const char *const status_fields[] = {
	"initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses",
};

static void read_statuses(struct kube_pod *p, struct json_object *status,
			  const char *field, int room)
{
	struct json_object *arr = obj_at(status, field, json_type_array);
	size_t n = arr ? json_object_array_length(arr) : 0;

	for (size_t i = 0; i < n && p->n_containers < room; i++) {
		struct json_object *cs = json_object_array_get_idx(arr, i);
		const char *name = str_at(cs, "name");
		struct kube_container *c;

		if (!name)
			continue;
		c = &p->containers[p->n_containers++];
		c->name = keep(p, name);
		container_id(str_at(cs, "containerID"), c->id);
	}
}

struct kube_pod *kube_pod_from_json(struct json_object *obj)
{
	struct json_object *md = obj_at(obj, "metadata", json_type_object);
	struct json_object *spec = obj_at(obj, "spec", json_type_object);
	struct json_object *status = obj_at(obj, "status", json_type_object);
	struct kube_pod *p;

	size_t room = 0;

	if (!str_at(md, "uid") || !str_at(md, "name") || !str_at(md, "namespace"))
		return NULL;
	for (size_t i = 0; i < sizeof(status_fields) / sizeof(status_fields[0]); i++) {
		struct json_object *arr = obj_at(status, status_fields[i], json_type_array);

		room += arr ? json_object_array_length(arr) : 0;
	}
	if (room > KUBE_MAX_CONTAINERS)
		room = KUBE_MAX_CONTAINERS;
	p = kube_pod_new(room);
	p->ns = keep(p, str_at(md, "namespace"));
	p->name = keep(p, str_at(md, "name"));
	p->uid = keep(p, str_at(md, "uid"));
	p->rv = keep(p, str_at(md, "resourceVersion"));
	p->node = keep(p, str_at(spec, "nodeName"));
	read_owner(p, md);
	read_labels(p, md);
	read_annotations(p, md);
	for (size_t i = 0; i < sizeof(status_fields) / sizeof(status_fields[0]); i++)
		read_statuses(p, status, status_fields[i], (int)room);
	return p;
}

const char *kube_pod_label(const struct kube_pod *p, const char *key)
{
	for (int i = 0; i < p->n_labels; i++)
		if (strcmp(p->labels[i].key, key) == 0)
			return p->labels[i].val;
	return NULL;
}

const char *kube_pod_container_name(const struct kube_pod *p, const char *cid)
{
	if (!cid || !cid[0])
		return NULL;
	for (int i = 0; i < p->n_containers; i++)
		if (strcmp(p->containers[i].id, cid) == 0)
			return p->containers[i].name;
	return NULL;
}

void kube_pod_set_top(struct kube_pod *p, const char *kind, const char *name)
{
	if (!kind || !name)
		return;
	free(p->top.kind);
	free(p->top.name);
	p->top.kind = keep(p, kind);
	p->top.name = keep(p, name);
}

bool kube_pod_guess_deployment(const struct kube_pod *p, char *out, size_t size)
{
	size_t nl, hl;

	if (!p->owner.kind || strcmp(p->owner.kind, "ReplicaSet") != 0 ||
	    !p->pod_template_hash)
		return false;
	nl = strlen(p->owner.name);
	hl = strlen(p->pod_template_hash);
	if (nl <= hl + 1 || p->owner.name[nl - hl - 1] != '-' ||
	    strcmp(p->owner.name + nl - hl, p->pod_template_hash) != 0 ||
	    nl - hl - 1 >= size)
		return false;
	memcpy(out, p->owner.name, nl - hl - 1);
	out[nl - hl - 1] = '\0';
	return true;
}

static const char *const workload_kinds[] = {
	"Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job",
};

static bool is_workload(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof(workload_kinds) / sizeof(workload_kinds[0]); i++)
		if (strcmp(kind, workload_kinds[i]) == 0)
			return true;
	return false;
}

const char *kube_pod_service_name(const struct kube_pod *p)
{
	const char *v;

	for (int i = 0; i < p->n_res; i++)
		if (strcmp(p->res[i].key, "service.name") == 0 && p->res[i].val[0])
			return p->res[i].val;
	v = kube_pod_label(p, "app.kubernetes.io/name");
	if (v && v[0])
		return v;
	if (is_workload(p->top.kind))
		return p->top.name;
	return p->name;
}

/* "k8s.deployment.name" for kind Deployment, for the kinds the
 * conventions name; NULL for others. */
static const char *kind_attr(const char *kind)
{
	static const char *const map[][2] = {
		{ "ReplicaSet", "k8s.replicaset.name" },
		{ "Deployment", "k8s.deployment.name" },
		{ "StatefulSet", "k8s.statefulset.name" },
		{ "DaemonSet", "k8s.daemonset.name" },
		{ "Job", "k8s.job.name" },
		{ "CronJob", "k8s.cronjob.name" },
	};

	for (size_t i = 0; kind && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(kind, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

void kube_pod_attrs(const struct kube_pod *p, const char *cid,
		    void (*put)(void *ctx, const char *key, const char *val),
		    void *ctx)
{
	const char *cname = kube_pod_container_name(p, cid);
	const char *ka;

	/* annotations first: the facts below win over a pod that claims
	 * another pod's name */
	for (int i = 0; i < p->n_res; i++)
		put(ctx, p->res[i].key, p->res[i].val);
	put(ctx, "k8s.namespace.name", p->ns);
	put(ctx, "k8s.pod.name", p->name);
	if (p->uid && p->uid[0])
		put(ctx, "k8s.pod.uid", p->uid);
	if (cname)
		put(ctx, "k8s.container.name", cname);
	if ((ka = kind_attr(p->owner.kind)))
		put(ctx, ka, p->owner.name);
	if (p->top.kind && (!p->owner.kind || strcmp(p->top.kind, p->owner.kind)) &&
	    (ka = kind_attr(p->top.kind)))
		put(ctx, ka, p->top.name);
}
