/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which container a process runs in, from the text of /proc/PID/cgroup:
 * the container runtimes name the leaf cgroup after the container id
 * (containerd, CRI-O, Docker, podman; cgroupfs and systemd drivers; cgroup
 * v1 and v2), and the kubelet names the level above after the pod's UID.
 */
#ifndef WEFT_CGROUP_ID_H
#define WEFT_CGROUP_ID_H

#include <stdbool.h>
#include <stddef.h>

#define CONTAINER_ID_LEN 64	/* hex digits of a full container id */
#define POD_UID_LEN 36		/* 8-4-4-4-12 */

struct cgroup_ids {
	char container_id[CONTAINER_ID_LEN + 1];	/* "" when none */
	char pod_uid[POD_UID_LEN + 1];			/* "" when none */
	/* The runtime that named the leaf, as container.runtime says it:
	 * "containerd", "cri-o", "docker", "podman", or "" when the id came
	 * from a plain cgroupfs path that does not say. */
	const char *runtime;
};

/* Parses the text of a /proc/PID/cgroup file (NUL-terminated). Returns
 * true when a container id was found. */
bool cgroup_ids_parse(const char *text, struct cgroup_ids *out);
/* Reads /proc/PID/cgroup and parses it. */
bool cgroup_ids_of_pid(unsigned int pid, struct cgroup_ids *out);

#endif /* WEFT_CGROUP_ID_H */
