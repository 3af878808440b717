/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Who a pid is: the resource its spans carry (process.*, host.name,
 * container.id, k8s.* of its pod, service.name) and whether it is traced
 * (pod filters). Looked up once per pid from /proc and cached; a pid whose
 * start time changed is a new process. The pod part is looked at again
 * when the pod cache changed (kube_meta_generation).
 *
 * service.name, first found wins: --service-name / weft's own
 * OTEL_SERVICE_NAME; the process's OTEL_SERVICE_NAME; service.name in its
 * OTEL_RESOURCE_ATTRIBUTES; then the pod (kube_pod_service_name: the
 * resource.opentelemetry.io/service.name annotation, app.kubernetes.io/name,
 * the workload, the pod's name); then the executable's name.
 */
#ifndef WEFT_PROCINFO_H
#define WEFT_PROCINFO_H

#include <stdint.h>
#include "cgroup_id.h"
#include "span.h"

struct procinfo {
	uint32_t pid;
	uint64_t start_time;		/* /proc/PID/stat field 22 */
	char comm[16];
	char exe_name[256];
	char exe_path[4096];
	char env_service[256];		/* from its environment, "" if none */
	char env_service_ns[256];	/* service.namespace, the same way */
	struct cgroup_ids cg;		/* its container, if any */
	uint64_t kube_gen;		/* kube_meta_generation() when pod_ver was */
	uint64_t pod_ver;		/* which pod version res was built from */
	bool wanted;			/* the pod filters keep it */
	struct resource *res;
};

/* The cached entry for pid (created on first use; never NULL). comm is
 * the kernel's name for it, used when /proc is already gone. */
struct procinfo *procinfo_get(uint32_t pid, const char *comm);
/* A new reference to the resource of pid (procinfo_get's). */
struct resource *procinfo_resource(uint32_t pid, const char *comm);
/* Extra resource attributes applied to every new resource. */
void procinfo_set_extra(const char *key, const char *val);
/* exec replaced pid's image: what we knew is stale. */
void procinfo_forget(uint32_t pid);
/* Read every running process now, so that spans of a process that exits
 * before its span completes still name it right; also(pid) is called for
 * each (NULL: nothing else). */
void procinfo_scan_all(void (*also)(uint32_t pid));
/* Drop entries of processes that exited. */
void procinfo_sweep(void);
void procinfo_free_all(void);

#endif /* WEFT_PROCINFO_H */
