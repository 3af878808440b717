// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Container id and pod UID from /proc/PID/cgroup: see cgroup_id.h. */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cgroup_id.h"

/*
 * The leaf cgroup's name, by runtime and cgroup driver (the id is 64 hex):
 *   containerd, cgroupfs:  .../pod<uid>/<id>
 *   containerd, systemd:   .../kubepods-<qos>-pod<uid_>.slice/cri-containerd-<id>.scope
 *   CRI-O, cgroupfs:       .../pod<uid>/crio-<id>
 *   CRI-O, systemd:        .../crio-<id>.scope   (crio-conmon-<id>.scope is its monitor)
 *   Docker:                /docker/<id>, /system.slice/docker-<id>.scope
 *   podman:                .../libpod-<id>.scope, /machine.slice/libpod-<id>.scope/container
 * A prefix names the runtime; a bare id under pod<uid> is the cgroupfs
 * driver, which containerd and CRI-O both use.
 */
static const struct {
	const char *prefix;
	const char *runtime;
} prefixes[] = {
	{ "cri-containerd-", "containerd" },
	{ "crio-", "cri-o" },
	{ "docker-", "docker" },
	{ "libpod-", "podman" },
	{ "", "" },
};

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

/* One path component [s, s+n): a container id, possibly with a runtime's
 * prefix and a systemd ".scope" suffix? */
static bool leaf_id(const char *s, size_t n, struct cgroup_ids *out)
{
	if (n > 6 && memcmp(s + n - 6, ".scope", 6) == 0)
		n -= 6;
	if (n > 12 && memcmp(s, "crio-conmon-", 12) == 0)
		return false;	/* CRI-O's monitor process, not the container */
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t pl = strlen(prefixes[i].prefix);

		if (n != pl + CONTAINER_ID_LEN || memcmp(s, prefixes[i].prefix, pl))
			continue;
		if (!all_hex(s + pl, CONTAINER_ID_LEN))
			continue;
		memcpy(out->container_id, s + pl, CONTAINER_ID_LEN);
		out->container_id[CONTAINER_ID_LEN] = '\0';
		out->runtime = prefixes[i].runtime;
		return true;
	}
	return false;
}

/* "pod<uid>" (cgroupfs) or "kubepods[-<qos>]-pod<uid with _>.slice"
 * (systemd): the pod's UID with dashes. */
static bool pod_uid(const char *s, size_t n, struct cgroup_ids *out)
{
	const char *p = NULL;
	char uid[POD_UID_LEN + 1];

	if (n > 6 && memcmp(s + n - 6, ".slice", 6) == 0)
		n -= 6;
	if (n == 3 + POD_UID_LEN && memcmp(s, "pod", 3) == 0)
		p = s + 3;
	else if (n > 4 + POD_UID_LEN && memcmp(s + n - POD_UID_LEN - 4, "-pod", 4) == 0)
		p = s + n - POD_UID_LEN;
	if (!p)
		return false;
	for (int i = 0; i < POD_UID_LEN; i++) {
		char c = p[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? (c != '-' && c != '_') : !isxdigit((unsigned char)c))
			return false;
		uid[i] = dash ? '-' : (char)tolower((unsigned char)c);
	}
	/* Copied only once all 36 are good: a component that failed half
	 * way ("pod" + 35 good characters + junk) left its first characters
	 * in out->pod_uid, reported as the pod's UID when a container id
	 * came below it (found by tests/fuzz/fuzz_cgroup.c). */
	uid[POD_UID_LEN] = '\0';
	memcpy(out->pod_uid, uid, sizeof(uid));
	return true;
}

/* One line's path [s, s+n): the deepest component that is a container id,
 * and the pod UID at any level above it. */
static bool parse_path(const char *s, size_t n, struct cgroup_ids *out)
{
	const char *end = s + n, *c = s;
	bool found = false;

	out->pod_uid[0] = '\0';
	while (c < end) {
		const char *slash = memchr(c, '/', end - c);
		size_t len = (slash ? slash : end) - c;

		if (len) {
			struct cgroup_ids tmp = *out;

			if (leaf_id(c, len, &tmp)) {
				*out = tmp;
				found = true;
			} else if (!found) {
				pod_uid(c, len, out);
			}
		}
		c += len + 1;
	}
	if (!found)
		out->pod_uid[0] = '\0';
	return found;
}

bool cgroup_ids_parse(const char *text, struct cgroup_ids *out)
{
	const char *line = text;

	memset(out, 0, sizeof(*out));
	out->runtime = "";
	/* Every hierarchy names the same container; the first line that
	 * names one is taken (v2's "0::" line comes last on hybrid hosts,
	 * but v1's controllers carry the same path). */
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *c1 = memchr(line, ':', len), *c2;

		if (c1 && (c2 = memchr(c1 + 1, ':', len - (c1 + 1 - line)))) {
			const char *path = c2 + 1;

			if (parse_path(path, line + len - path, out))
				return true;
		}
		line = nl ? nl + 1 : NULL;
	}
	memset(out, 0, sizeof(*out));
	out->runtime = "";
	return false;
}

bool cgroup_ids_of_pid(unsigned int pid, struct cgroup_ids *out)
{
	char path[48], buf[8192];
	ssize_t n, total = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		memset(out, 0, sizeof(*out));
		out->runtime = "";
		return false;
	}
	while ((size_t)total < sizeof(buf) - 1 &&
	       (n = read(fd, buf + total, sizeof(buf) - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = '\0';
	return cgroup_ids_parse(buf, out);
}
