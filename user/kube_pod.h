/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A pod as weft keeps it: only the fields its spans and filters use, so that
 * thousands of pods on a node cost little (the API's objects are 5-20 KiB of
 * JSON each; this keeps a few hundred bytes). Immutable once built and
 * refcounted: the watch thread replaces a pod while the main thread may
 * still be building a resource from the old one.
 */
#ifndef WEFT_KUBE_POD_H
#define WEFT_KUBE_POD_H

#include <stdbool.h>
#include <stddef.h>
#include "cgroup_id.h"

struct json_object;

#define KUBE_MAX_CONTAINERS	32	/* init + app + ephemeral, per pod */
#define KUBE_MAX_LABELS		32	/* more are not kept (counted) */
#define KUBE_MAX_RES_ANNOTS	16	/* resource.opentelemetry.io/... */

/* The pod annotation that opts a pod in ("true") or out ("false"). */
#define KUBE_TRACE_ANNOTATION	"weft.dev/trace"
/* OpenTelemetry's convention: resource.opentelemetry.io/<attribute>. */
#define KUBE_RES_ANNOTATION	"resource.opentelemetry.io/"

struct kube_kv {
	char *key;
	char *val;
};

struct kube_container {
	char *name;
	char id[CONTAINER_ID_LEN + 1];	/* "" until the kubelet reports it */
};

/* What owns a pod, by kind: the direct controller and, through it, the
 * workload (a ReplicaSet's Deployment, a Job's CronJob). */
struct kube_owner {
	char *kind;			/* NULL when none */
	char *name;
};

struct kube_pod {
	int refcnt;			/* atomic */
	char *ns, *name, *uid, *node, *rv;
	struct kube_owner owner;	/* metadata.ownerReferences[controller] */
	struct kube_owner top;		/* the workload; = owner until resolved */
	char *pod_template_hash;	/* label, for a ReplicaSet's Deployment
					 * when the API may not be asked */
	char *trace;			/* KUBE_TRACE_ANNOTATION's value or NULL */
	/* arrays sized to what the pod has: most pods have a few labels and
	 * one or two containers */
	int n_labels;
	struct kube_kv *labels;
	int n_res;			/* resource attributes from annotations */
	struct kube_kv *res;
	int n_containers;
	struct kube_container *containers;
	bool partial;			/* from the node's files, not the API */
	size_t bytes;			/* what this pod costs, for the stats */
};

/* From a Pod object of the API (list item or watch event object). NULL
 * when it lacks metadata.uid/name/namespace. */
struct kube_pod *kube_pod_from_json(struct json_object *obj);
/* An empty pod for the caller to fill (the node-files fallback), with room
 * for n_containers containers. */
struct kube_pod *kube_pod_new(int n_containers);
struct kube_pod *kube_pod_ref(struct kube_pod *p);
void kube_pod_unref(struct kube_pod *p);

const char *kube_pod_label(const struct kube_pod *p, const char *key);
/* The container's name in this pod, or NULL. */
const char *kube_pod_container_name(const struct kube_pod *p, const char *cid);

/* Sets top from the workload found by asking about the owner (kind and
 * name of a ReplicaSet or Job). kind/name NULL: the owner has none. */
void kube_pod_set_top(struct kube_pod *p, const char *kind, const char *name);
/* The Deployment of a ReplicaSet named "<deployment>-<pod-template-hash>",
 * for when the ReplicaSet cannot be read: the name, or false. */
bool kube_pod_guess_deployment(const struct kube_pod *p, char *out, size_t size);

/*
 * service.name from Kubernetes, in the order the OpenTelemetry conventions
 * give (after the process's own OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES,
 * which the caller checks first): the annotation
 * resource.opentelemetry.io/service.name, the label app.kubernetes.io/name,
 * the owning workload's name (Deployment, StatefulSet, DaemonSet, CronJob,
 * Job), the pod's name. Never NULL.
 */
const char *kube_pod_service_name(const struct kube_pod *p);

/* Calls put for each resource attribute of a process in container cid of
 * this pod: k8s.namespace.name, k8s.pod.name, k8s.pod.uid,
 * k8s.container.name, k8s.<workload>.name, and the pod's
 * resource.opentelemetry.io/ annotations. */
void kube_pod_attrs(const struct kube_pod *p, const char *cid,
		    void (*put)(void *ctx, const char *key, const char *val),
		    void *ctx);

#endif /* WEFT_KUBE_POD_H */
