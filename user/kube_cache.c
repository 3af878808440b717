// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* This node's pods: see kube_cache.h. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "kube_cache.h"

/* Two chained hash tables over the same pods. A node runs at most a few
 * hundred pods (the kubelet's default limit is 110): 1024 buckets keep
 * chains short even at thousands. */
#define BUCKETS 1024

struct by_uid {
	struct kube_pod *pod;
	uint64_t mark;		/* list generation that last put it */
	struct by_uid *next;
};

struct by_cid {
	const char *cid;	/* in pod->containers */
	struct kube_pod *pod;	/* borrowed from the by_uid entry */
	struct by_cid *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct by_uid *uids[BUCKETS];
static struct by_cid *cids[BUCKETS];
/* generation is read without the lock (once per span by procinfo) */
static uint64_t generation, list_mark;
static struct kube_cache_stats stats;

static unsigned int hash(const char *s)
{
	unsigned int h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % BUCKETS;
}

static void unindex_containers(struct kube_pod *p)
{
	for (int i = 0; i < p->n_containers; i++) {
		struct by_cid **pp;

		if (!p->containers[i].id[0])
			continue;
		pp = &cids[hash(p->containers[i].id)];
		while (*pp) {
			if ((*pp)->pod == p) {
				struct by_cid *e = *pp;

				*pp = e->next;
				free(e);
			} else {
				pp = &(*pp)->next;
			}
		}
	}
}

static void index_containers(struct kube_pod *p)
{
	for (int i = 0; i < p->n_containers; i++) {
		struct by_cid *e;
		unsigned int b;

		if (!p->containers[i].id[0])
			continue;
		e = calloc(1, sizeof(*e));
		if (!e)
			abort();
		b = hash(p->containers[i].id);
		e->cid = p->containers[i].id;
		e->pod = p;
		e->next = cids[b];
		cids[b] = e;
	}
}

static void drop(struct by_uid *e)
{
	unindex_containers(e->pod);
	stats.pods--;
	stats.bytes -= e->pod->bytes;
	kube_pod_unref(e->pod);
	free(e);
}

void kube_cache_begin(void)
{
	pthread_mutex_lock(&lock);
	list_mark++;
	pthread_mutex_unlock(&lock);
}

void kube_cache_put(struct kube_pod *p)
{
	struct by_uid **pp, *e;

	pthread_mutex_lock(&lock);
	pp = &uids[hash(p->uid)];
	while (*pp && strcmp((*pp)->pod->uid, p->uid) != 0)
		pp = &(*pp)->next;
	if (*pp) {
		e = *pp;
		unindex_containers(e->pod);
		stats.bytes -= e->pod->bytes;
		kube_pod_unref(e->pod);
	} else {
		e = calloc(1, sizeof(*e));
		if (!e)
			abort();
		e->next = uids[hash(p->uid)];
		uids[hash(p->uid)] = e;
		stats.pods++;
	}
	e->pod = p;
	e->mark = list_mark;
	stats.bytes += p->bytes;
	index_containers(p);
	stats.events++;
	__atomic_add_fetch(&generation, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&lock);
}

void kube_cache_delete(const char *uid)
{
	struct by_uid **pp;

	pthread_mutex_lock(&lock);
	pp = &uids[hash(uid)];
	while (*pp && strcmp((*pp)->pod->uid, uid) != 0)
		pp = &(*pp)->next;
	if (*pp) {
		struct by_uid *e = *pp;

		*pp = e->next;
		drop(e);
		stats.events++;
		__atomic_add_fetch(&generation, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&lock);
}

void kube_cache_commit(void)
{
	pthread_mutex_lock(&lock);
	for (int b = 0; b < BUCKETS; b++) {
		struct by_uid **pp = &uids[b];

		while (*pp) {
			if ((*pp)->mark != list_mark) {
				struct by_uid *e = *pp;

				*pp = e->next;
				drop(e);
			} else {
				pp = &(*pp)->next;
			}
		}
	}
	stats.relists++;
	__atomic_add_fetch(&generation, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&lock);
}

struct kube_pod *kube_cache_by_container(const char *cid)
{
	struct kube_pod *p = NULL;

	if (!cid || !cid[0])
		return NULL;
	pthread_mutex_lock(&lock);
	for (struct by_cid *e = cids[hash(cid)]; e; e = e->next)
		if (strcmp(e->cid, cid) == 0) {
			p = kube_pod_ref(e->pod);
			break;
		}
	pthread_mutex_unlock(&lock);
	return p;
}

struct kube_pod *kube_cache_by_uid(const char *uid)
{
	struct kube_pod *p = NULL;

	if (!uid || !uid[0])
		return NULL;
	pthread_mutex_lock(&lock);
	for (struct by_uid *e = uids[hash(uid)]; e; e = e->next)
		if (strcmp(e->pod->uid, uid) == 0) {
			p = kube_pod_ref(e->pod);
			break;
		}
	pthread_mutex_unlock(&lock);
	return p;
}

uint64_t kube_cache_generation(void)
{
	return __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
}

void kube_cache_get_stats(struct kube_cache_stats *st)
{
	pthread_mutex_lock(&lock);
	*st = stats;
	pthread_mutex_unlock(&lock);
}

void kube_cache_clear(void)
{
	pthread_mutex_lock(&lock);
	for (int b = 0; b < BUCKETS; b++)
		while (uids[b]) {
			struct by_uid *e = uids[b];

			uids[b] = e->next;
			drop(e);
		}
	__atomic_add_fetch(&generation, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&lock);
}
