// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Per-process resource attributes, from /proc, cached by pid. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kube_meta.h"
#include "procinfo.h"

#define BUCKETS 4096
#define MAX_EXTRA 32

struct entry {
	struct procinfo pi;
	struct entry *next;
};

static struct entry *table[BUCKETS];
static char hostname[256];
static char *extra_keys[MAX_EXTRA], *extra_vals[MAX_EXTRA];
static int n_extra;
static char *service_override;

void procinfo_set_extra(const char *key, const char *val)
{
	if (strcmp(key, "service.name") == 0) {
		free(service_override);
		service_override = strdup(val);
		return;
	}
	if (n_extra >= MAX_EXTRA)
		return;
	extra_keys[n_extra] = strdup(key);
	extra_vals[n_extra] = strdup(val);
	n_extra++;
}

/* Reads a small /proc file whole; returns bytes read or -1. */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
	ssize_t n, total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((size_t)total < size - 1 &&
	       (n = read(fd, buf + total, size - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = '\0';
	return total;
}

static uint64_t proc_start_time(uint32_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return 0;
	/* comm may hold spaces and parentheses: fields restart after the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* after ") " come fields 3..; starttime is field 22 */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
		   "%*d %*d %*d %*d %*d %*d %llu", &st) != 1)
		return 0;
	return st;
}

/* key's value in an OTEL_RESOURCE_ATTRIBUTES list ("k=v,k2=v2"). */
static bool res_attr(const char *list, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);

	for (const char *s = list; s && *s; s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL) {
		while (*s == ' ')
			s++;
		if (strncmp(s, key, kl) == 0 && s[kl] == '=') {
			size_t l = strcspn(s + kl + 1, ",");

			while (l && s[kl + l] == ' ')
				l--;
			if (l && l < size) {
				memcpy(out, s + kl + 1, l);
				out[l] = '\0';
				return true;
			}
		}
	}
	return false;
}

/* service.name and service.namespace as the process's own environment
 * sets them for its SDK: OTEL_SERVICE_NAME, then OTEL_RESOURCE_ATTRIBUTES. */
static void proc_env_service(uint32_t pid, struct procinfo *pi)
{
	static char env[65536];
	char path[64];
	const char *ra = NULL, *sn = NULL;
	ssize_t n;

	pi->env_service[0] = pi->env_service_ns[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%u/environ", pid);
	n = read_file(path, env, sizeof(env));
	if (n <= 0)
		return;
	for (char *p = env; p < env + n; p += strlen(p) + 1) {
		if (strncmp(p, "OTEL_SERVICE_NAME=", 18) == 0 && p[18])
			sn = p + 18;
		else if (strncmp(p, "OTEL_RESOURCE_ATTRIBUTES=", 25) == 0)
			ra = p + 25;
	}
	if (sn)
		snprintf(pi->env_service, sizeof(pi->env_service), "%s", sn);
	else if (ra)
		res_attr(ra, "service.name", pi->env_service, sizeof(pi->env_service));
	if (ra)
		res_attr(ra, "service.namespace", pi->env_service_ns, sizeof(pi->env_service_ns));
}

static void put_attr(void *ctx, const char *key, const char *val)
{
	resource_set_str(ctx, key, val);
}

/* Identity of a pod version: which one a resource was built from. */
static uint64_t pod_version(const struct kube_pod *p)
{
	uint64_t h = 1469598103934665603ull;

	if (!p)
		return 0;
	for (const char *s = p->uid ? p->uid : ""; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	for (const char *s = p->rv ? p->rv : "-"; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (h ^ p->partial) | 1;
}

/* The resource from what fill() found and the pod as it is now. */
static void build_resource(struct procinfo *pi)
{
	struct kube_pod *pod = kube_meta_pod(&pi->cg);
	struct resource *r = resource_new(pi->pid);

	pi->kube_gen = kube_meta_generation();
	pi->pod_ver = pod_version(pod);
	pi->wanted = kube_meta_wanted(pod, pi->cg.container_id[0] != '\0');

	resource_set_int(r, "process.pid", pi->pid);
	resource_set_str(r, "process.executable.name",
			 pi->exe_name[0] ? pi->exe_name : pi->comm);
	if (pi->exe_path[0])
		resource_set_str(r, "process.executable.path", pi->exe_path);
	resource_set_str(r, "host.name", hostname);
	resource_set_str(r, "telemetry.sdk.name", "weft");
	resource_set_str(r, "telemetry.sdk.language", "ebpf");
	if (pi->cg.container_id[0]) {
		resource_set_str(r, "container.id", pi->cg.container_id);
		if (pi->cg.runtime && pi->cg.runtime[0])
			resource_set_str(r, "container.runtime", pi->cg.runtime);
	}
	if (pod) {
		const char *node = pod->node && pod->node[0] ? pod->node : kube_meta_node();

		kube_pod_attrs(pod, pi->cg.container_id, put_attr, r);
		if (node)
			resource_set_str(r, "k8s.node.name", node);
		if (!resource_find_attr(r, "service.namespace"))
			resource_set_str(r, "service.namespace", pod->ns);
	}
	if (pi->env_service_ns[0])
		resource_set_str(r, "service.namespace", pi->env_service_ns);
	if (service_override)
		resource_set_str(r, "service.name", service_override);
	else if (pi->env_service[0])
		resource_set_str(r, "service.name", pi->env_service);
	else if (pod)
		resource_set_str(r, "service.name", kube_pod_service_name(pod));
	else
		resource_set_str(r, "service.name",
				 pi->exe_name[0] ? pi->exe_name : "unknown_service");
	for (int i = 0; i < n_extra; i++)
		resource_set_str(r, extra_keys[i], extra_vals[i]);
	kube_pod_unref(pod);
	resource_unref(pi->res);
	pi->res = r;
}

static void fill(struct procinfo *pi, uint32_t pid, const char *comm)
{
	char path[64];
	ssize_t n;

	pi->pid = pid;
	pi->start_time = proc_start_time(pid);
	snprintf(pi->comm, sizeof(pi->comm), "%s", comm ? comm : "");
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, pi->exe_path, sizeof(pi->exe_path) - 1);
	if (n > 0) {
		const char *base;

		pi->exe_path[n] = '\0';
		/* an executable replaced on disk reads "path (deleted)" */
		if (n > 10 && strcmp(pi->exe_path + n - 10, " (deleted)") == 0)
			pi->exe_path[n - 10] = '\0';
		base = strrchr(pi->exe_path, '/');
		snprintf(pi->exe_name, sizeof(pi->exe_name), "%.255s",
			 base ? base + 1 : pi->exe_path);
	} else {
		pi->exe_path[0] = '\0';
		snprintf(pi->exe_name, sizeof(pi->exe_name), "%.255s", pi->comm);
	}

	if (!hostname[0] && !kube_meta_host_name(hostname, sizeof(hostname)) &&
	    gethostname(hostname, sizeof(hostname) - 1))
		snprintf(hostname, sizeof(hostname), "unknown");
	proc_env_service(pid, pi);
	cgroup_ids_of_pid(pid, &pi->cg);
	build_resource(pi);
}

/* The pod cache changed since pi's resource was built: build it again if
 * its pod did (new labels, the container id reported, a relist). */
static void refresh(struct procinfo *pi)
{
	uint64_t gen = kube_meta_generation();
	struct kube_pod *pod;

	if (pi->kube_gen == gen)
		return;
	pi->kube_gen = gen;
	if (!pi->cg.container_id[0])
		return;
	pod = kube_meta_pod(&pi->cg);
	if (pod_version(pod) != pi->pod_ver)
		build_resource(pi);
	kube_pod_unref(pod);
}

struct procinfo *procinfo_get(uint32_t pid, const char *comm)
{
	struct entry **head = &table[pid % BUCKETS], *e;

	for (e = *head; e; e = e->next)
		if (e->pi.pid == pid) {
			/* Read at exec with no name, from a process already
			 * gone (curl is often done before weft gets to its
			 * exec record): the kernel's name is better than none. */
			if (!e->pi.exe_path[0] && !e->pi.comm[0] && comm && comm[0]) {
				snprintf(e->pi.comm, sizeof(e->pi.comm), "%s", comm);
				snprintf(e->pi.exe_name, sizeof(e->pi.exe_name), "%s", comm);
				build_resource(&e->pi);
			}
			refresh(&e->pi);
			return &e->pi;
		}
	e = calloc(1, sizeof(*e));
	if (!e)
		abort();
	fill(&e->pi, pid, comm);
	e->next = *head;
	*head = e;
	return &e->pi;
}

void procinfo_forget(uint32_t pid)
{
	struct entry **pp = &table[pid % BUCKETS];

	while (*pp && (*pp)->pi.pid != pid)
		pp = &(*pp)->next;
	if (*pp) {
		struct entry *e = *pp;

		*pp = e->next;
		resource_unref(e->pi.res);
		free(e);
	}
}

void procinfo_scan_all(void (*also)(uint32_t pid))
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || !pid)
			continue;
		procinfo_get(pid, "");
		if (also)
			also(pid);
	}
	closedir(d);
}

void procinfo_sweep(void)
{
	for (int b = 0; b < BUCKETS; b++) {
		struct entry **pp = &table[b];

		while (*pp) {
			struct entry *e = *pp;
			uint64_t st = proc_start_time(e->pi.pid);

			if (st == e->pi.start_time && st != 0) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			resource_unref(e->pi.res);
			free(e);
		}
	}
}

void procinfo_free_all(void)
{
	for (int b = 0; b < BUCKETS; b++) {
		while (table[b]) {
			struct entry *e = table[b];

			table[b] = e->next;
			resource_unref(e->pi.res);
			free(e);
		}
	}
	for (int i = 0; i < n_extra; i++) {
		free(extra_keys[i]);
		free(extra_vals[i]);
	}
	n_extra = 0;
	free(service_override);
	service_override = NULL;
}

struct resource *procinfo_resource(uint32_t pid, const char *comm)
{
	return resource_ref(procinfo_get(pid, comm)->res);
}
