// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_cgroup: the /proc/PID/cgroup parser (user/cgroup_id.c
 * cgroup_ids_parse), which reads text a container's processes shape (their
 * cgroup names). Input: the file's text (a NUL in it ends it, as read()
 * into a C string would).
 *
 * Invariants beyond "no crash":
 *  - true exactly when a container id was found; the id is "" or 64
 *    lower-case hex digits that occur in the text; the runtime is one of
 *    "containerd", "cri-o", "docker", "podman", "" (never NULL); the pod
 *    UID is "" or 8-4-4-4-12 lower-case hex, and "" whenever no container
 *    id was found;
 *  - lines are independent: the result is that of the first line which,
 *    parsed alone, names a container (none: false);
 *  - idempotence: the canonical cgroupfs path built from a result,
 *    "0::/kubepods/pod<uid>/<id>" (or "0::/<id>"), parses to the same id
 *    and UID.
 */
#include <ctype.h>
#include "fuzz.h"
#include "cgroup_id.h"

static void check_ids(const struct cgroup_ids *c, bool found, const char *text)
{
	static const char *const runtimes[] = {
		"containerd", "cri-o", "docker", "podman", "",
	};
	bool known = false;
	size_t n = strlen(c->container_id);

	FUZZ_ASSERT(c->runtime);
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++)
		known |= strcmp(c->runtime, runtimes[i]) == 0;
	FUZZ_ASSERT(known);
	FUZZ_ASSERT(found == (n != 0));
	FUZZ_ASSERT(n == 0 || n == CONTAINER_ID_LEN);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(isdigit((unsigned char)c->container_id[i]) ||
			    (c->container_id[i] >= 'a' && c->container_id[i] <= 'f'));
	if (n)
		FUZZ_ASSERT(strstr(text, c->container_id));
	n = strlen(c->pod_uid);
	FUZZ_ASSERT(n == 0 || n == POD_UID_LEN);
	if (!found)
		FUZZ_ASSERT(n == 0 && c->runtime[0] == '\0');
	for (size_t i = 0; i < n; i++) {
		char ch = c->pod_uid[i];

		if (i == 8 || i == 13 || i == 18 || i == 23)
			FUZZ_ASSERT(ch == '-');
		else
			FUZZ_ASSERT(isdigit((unsigned char)ch) || (ch >= 'a' && ch <= 'f'));
	}
}

static void same_ids(const struct cgroup_ids *a, const struct cgroup_ids *b)
{
	FUZZ_ASSERT(strcmp(a->container_id, b->container_id) == 0);
	FUZZ_ASSERT(strcmp(a->pod_uid, b->pod_uid) == 0);
	FUZZ_ASSERT(strcmp(a->runtime, b->runtime) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fz_strndup(data, size), *line;
	struct cgroup_ids all, one, again;
	bool found = cgroup_ids_parse(text, &all), line_found = false;
	const char *p = text;
	char canon[160];

	check_ids(&all, found, text);

	/* the first line that names a container, alone, says the same */
	while (*p && !line_found) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		line = fz_strndup((const uint8_t *)p, n);
		line_found = cgroup_ids_parse(line, &one);
		check_ids(&one, line_found, line);
		free(line);
		p = nl ? nl + 1 : p + n;
	}
	FUZZ_ASSERT(line_found == found);
	if (found)
		same_ids(&all, &one);

	if (found) {
		if (all.pod_uid[0])
			snprintf(canon, sizeof(canon), "0::/kubepods/pod%s/%s",
				 all.pod_uid, all.container_id);
		else
			snprintf(canon, sizeof(canon), "0::/%s", all.container_id);
		FUZZ_ASSERT(cgroup_ids_parse(canon, &again));
		FUZZ_ASSERT(strcmp(again.container_id, all.container_id) == 0);
		FUZZ_ASSERT(strcmp(again.pod_uid, all.pod_uid) == 0);
	}
	free(text);
	return 0;
}
