// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Processes traced by name: see procfilter.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "procfilter.h"
#include "procinfo.h"
#include "util.h"

static int add(char **list, int *n, const char *what, const char *name)
{
	if (*n >= PROCFILTER_MAX_NAMES) {
		fprintf(stderr, "weft: too many --%s (max %d)\n", what,
			PROCFILTER_MAX_NAMES);
		return -1;
	}
	list[(*n)++] = xstrdup(name);
	return 0;
}

int procfilter_add_comm(struct procfilter *f, const char *name)
{
	return add(f->comms, &f->n_comms, "comm", name);
}

int procfilter_add_exe(struct procfilter *f, const char *name)
{
	return add(f->exes, &f->n_exes, "exe", name);
}

/* Only when --comm alone decides: the kernel filter is exact there. */
static bool in_kernel(const struct procfilter *f)
{
	return f->n_comms && !f->n_exes;
}

void procfilter_to_kernel(const struct procfilter *f, struct loader_opts *lo)
{
	_Static_assert(sizeof(lo->comms) / sizeof(lo->comms[0]) >= PROCFILTER_MAX_NAMES,
		       "the kernel's list holds every --comm");
	lo->n_comms = 0;
	if (!in_kernel(f))
		return;
	for (int i = 0; i < f->n_comms; i++)
		strncpy(lo->comms[i], f->comms[i], sizeof(lo->comms[i]) - 1);
	lo->n_comms = f->n_comms;
}

static bool listed(char *const *list, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

/* A string compare per record is fine here: the agent sees only records of
 * HTTP connections, and these filters are for debugging one service. */
bool procfilter_wanted(const struct procfilter *f, uint32_t pid, const char *comm)
{
	if (in_kernel(f))
		return true;	/* the kernel did */
	return procfilter_match(f, pid, comm);
}

bool procfilter_match(const struct procfilter *f, uint32_t pid, const char *comm)
{
	struct procinfo *pi;

	if (!f->n_comms && !f->n_exes)
		return true;	/* nothing to check */
	for (int i = 0; i < f->n_comms; i++)
		if (strncmp(f->comms[i], comm, 15) == 0)	/* comm: 15 chars */
			return true;
	if (!f->n_exes)
		return false;
	pi = procinfo_get(pid, comm);
	return listed(f->exes, f->n_exes, pi->exe_name) ||
	       listed(f->exes, f->n_exes, pi->exe_path);
}

void procfilter_free(struct procfilter *f)
{
	for (int i = 0; i < f->n_comms; i++)
		free(f->comms[i]);
	for (int i = 0; i < f->n_exes; i++)
		free(f->exes[i]);
	f->n_comms = f->n_exes = 0;
}
