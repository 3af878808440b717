/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * This node's pods, as the watch last saw them: written by the watch thread,
 * read by the main thread. Lookups by container id (what a process's cgroup
 * names) and by pod UID. Every change bumps a generation number, so readers
 * know when what they built from the cache may be stale.
 */
#ifndef WEFT_KUBE_CACHE_H
#define WEFT_KUBE_CACHE_H

#include <stdint.h>
#include <stddef.h>
#include "kube_pod.h"

struct kube_cache_stats {
	uint64_t pods;		/* in the cache now */
	uint64_t bytes;		/* what they cost */
	uint64_t events;	/* adds, updates and deletes applied */
	uint64_t relists;	/* full replacements */
};

/* Starts a full replacement (a list): pods added until kube_cache_commit
 * replace all earlier ones. */
void kube_cache_begin(void);
/* Adds or replaces the pod with p's UID (takes the reference). */
void kube_cache_put(struct kube_pod *p);
void kube_cache_delete(const char *uid);
/* Ends a replacement: pods not put since kube_cache_begin are dropped. */
void kube_cache_commit(void);

/* A new reference, or NULL. */
struct kube_pod *kube_cache_by_container(const char *cid);
struct kube_pod *kube_cache_by_uid(const char *uid);
uint64_t kube_cache_generation(void);
void kube_cache_get_stats(struct kube_cache_stats *st);
void kube_cache_clear(void);

#endif /* WEFT_KUBE_CACHE_H */
