/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kubernetes for the rest of weft: where pod metadata comes from (the API's
 * watch, else the container runtime's files on this node), which pods are
 * traced (namespaces, a label selector, the weft.dev/trace annotation,
 * weft's own pod), and the options that say so.
 */
#ifndef WEFT_KUBE_META_H
#define WEFT_KUBE_META_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "cgroup_id.h"
#include "kube_pod.h"

#define KUBE_MAX_NAMESPACES 64

enum kube_mode {
	KUBE_AUTO,	/* the API when in a pod or --k8s-api is given */
	KUBE_ON,	/* the API, or an error when its address is unknown */
	KUBE_OFF,	/* no pod metadata at all */
};

struct kube_opts {
	enum kube_mode mode;
	char *api_url, *token_file, *ca_file, *node_name;
	char *namespaces[KUBE_MAX_NAMESPACES];
	int n_namespaces;
	char *exclude[KUBE_MAX_NAMESPACES];
	int n_exclude;
	bool exclude_set;		/* else: kube-system */
	char *selector;
	bool opt_in;
	bool pods_only;
};

#define KUBE_DEFAULT_TOKEN "/var/run/secrets/kubernetes.io/serviceaccount/token"
#define KUBE_DEFAULT_CA "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

/* Checks the options (selector syntax, --k8s on without an API) and starts
 * the watch when there is an API to ask. 0 or -1 (message printed). */
int kube_meta_start(const struct kube_opts *o);
void kube_meta_stop(void);
/* Pod metadata of any kind is looked up (mode is not off). */
bool kube_meta_enabled(void);
/* Some processes may be left out by pod: callers must ask kube_meta_wanted. */
bool kube_meta_filtering(void);
/* Changes whenever a pod may have changed (0 when there is no API). */
uint64_t kube_meta_generation(void);

/* The pod of a process with these cgroup ids: a new reference, or NULL. */
struct kube_pod *kube_meta_pod(const struct cgroup_ids *ids);
/* Whether a process is traced: in pod p (NULL: not known), in a container
 * or not. */
bool kube_meta_wanted(const struct kube_pod *p, bool in_container);
/* host.name when weft runs in a container (its own UTS name is the pod's):
 * the host's /etc/hostname through /proc/1/root, else the node's name.
 * false: not in a container, use gethostname(). */
bool kube_meta_host_name(char *out, size_t size);
/* The node weft runs on (k8s.node.name), or NULL when not on Kubernetes. */
const char *kube_meta_node(void);

struct kube_meta_stats {
	bool enabled;			/* pod metadata looked up at all */
	bool api;			/* from an API server */
	bool synced;			/* the API's list is done and watched */
	uint64_t pods, bytes;		/* in the cache, and what they cost */
	uint64_t lists, list_failures, watch_events, gone_410;
	uint64_t owner_lookups, owner_lookup_failures;
};

/* Thread-safe (the metrics endpoint's thread calls it). */
void kube_meta_get_stats(struct kube_meta_stats *st);
/* One stats line (nothing when off). */
void kube_meta_print_stats(FILE *f);
void kube_opts_free(struct kube_opts *o);

#endif /* WEFT_KUBE_META_H */
