/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Keeps kube_cache filled with this node's pods: a thread lists them from
 * the API server (fieldSelector=spec.nodeName=NODE, in pages), then watches
 * from the list's resourceVersion, relisting when the API answers 410 Gone
 * or the connection fails. The service-account token is read again before
 * every request, so a rotated token is picked up. Owners are resolved on
 * the way in: a ReplicaSet's Deployment and a Job's CronJob.
 */
#ifndef WEFT_KUBE_WATCH_H
#define WEFT_KUBE_WATCH_H

#include <stdbool.h>
#include <stdint.h>

struct kube_watch_config {
	const char *api_url;		/* https://host:port, no trailing / */
	const char *token_file;		/* NULL or missing file: no token */
	const char *ca_file;		/* NULL: the system's CAs */
	const char *node_name;
};

enum kube_watch_state {
	KUBE_WATCH_STARTING,		/* first list not done yet */
	KUBE_WATCH_SYNCED,		/* listed; watching */
	KUBE_WATCH_UNREACHABLE,		/* the last list or watch failed */
};

struct kube_watch_stats {
	uint64_t lists, list_failures, watches, watch_events, gone_410;
	uint64_t owner_lookups, owner_lookup_failures;
	uint64_t oversized_events;	/* lines over the event limit: relisted */
};

/* Starts the thread (the config is copied). 0 or -1 (message printed). */
int kube_watch_start(const struct kube_watch_config *cfg);
/* Waits up to timeout_ms for the first list; returns the state then. */
enum kube_watch_state kube_watch_wait_synced(int timeout_ms);
enum kube_watch_state kube_watch_state(void);
void kube_watch_get_stats(struct kube_watch_stats *st);
void kube_watch_stop(void);

#endif /* WEFT_KUBE_WATCH_H */
