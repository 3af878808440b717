// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Per-process resource attributes, from /proc, cached by pid. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* Value of NAME in the process's environment, or of key in its own
 * OTEL_RESOURCE_ATTRIBUTES, copied to out. */
static bool proc_env_service(uint32_t pid, char *out, size_t size)
{
	static char env[65536];
	char path[64];
	ssize_t n;
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%u/environ", pid);
	n = read_file(path, env, sizeof(env));
	if (n <= 0)
		return false;
	for (char *p = env; p < env + n; p += strlen(p) + 1) {
		if (strncmp(p, "OTEL_SERVICE_NAME=", 18) == 0 && p[18]) {
			snprintf(out, size, "%s", p + 18);
			return true;
		}
		if (!found && strncmp(p, "OTEL_RESOURCE_ATTRIBUTES=", 25) == 0) {
			const char *s = strstr(p + 25, "service.name=");

			if (s && (s == p + 25 || s[-1] == ',')) {
				size_t l = strcspn(s + 13, ",");

				if (l && l < size) {
					memcpy(out, s + 13, l);
					out[l] = '\0';
					found = true;
				}
			}
		}
	}
	return found;
}

static void fill(struct procinfo *pi, uint32_t pid, const char *comm)
{
	char path[64], svc[256];
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

	if (!hostname[0] && gethostname(hostname, sizeof(hostname) - 1))
		snprintf(hostname, sizeof(hostname), "unknown");

	pi->res = resource_new(pid);
	if (service_override)
		resource_set_str(pi->res, "service.name", service_override);
	else if (proc_env_service(pid, svc, sizeof(svc)))
		resource_set_str(pi->res, "service.name", svc);
	else
		resource_set_str(pi->res, "service.name",
				 pi->exe_name[0] ? pi->exe_name : "unknown_service");
	resource_set_int(pi->res, "process.pid", pid);
	resource_set_str(pi->res, "process.executable.name",
			 pi->exe_name[0] ? pi->exe_name : pi->comm);
	if (pi->exe_path[0])
		resource_set_str(pi->res, "process.executable.path", pi->exe_path);
	resource_set_str(pi->res, "host.name", hostname);
	resource_set_str(pi->res, "telemetry.sdk.name", "weft");
	resource_set_str(pi->res, "telemetry.sdk.language", "ebpf");
	for (int i = 0; i < n_extra; i++)
		resource_set_str(pi->res, extra_keys[i], extra_vals[i]);
}

struct procinfo *procinfo_get(uint32_t pid, const char *comm)
{
	struct entry **head = &table[pid % BUCKETS], *e;

	for (e = *head; e; e = e->next)
		if (e->pi.pid == pid)
			return &e->pi;
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
