/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which processes are traced by name: --comm (the kernel's 15-character
 * command name) and --exe (executable basename or path). The one place
 * that decides where each is checked: --comm alone in the kernel (cheap,
 * and nothing else reaches the ring buffer), --exe, or --comm with --exe
 * (either may match), in the agent per record. --pid and --port are
 * kernel-only and live in the loader's options.
 */
#ifndef WEFT_PROCFILTER_H
#define WEFT_PROCFILTER_H

#include <stdbool.h>
#include <stdint.h>
#include "loader.h"

#define PROCFILTER_MAX_NAMES 64

struct procfilter {
	char *comms[PROCFILTER_MAX_NAMES];
	int n_comms;
	char *exes[PROCFILTER_MAX_NAMES];
	int n_exes;
};

/* Returns -1 (after saying why) when the list is full. */
int procfilter_add_comm(struct procfilter *f, const char *name);
int procfilter_add_exe(struct procfilter *f, const char *name);
/* What the kernel filters (--comm alone) goes into lo. */
void procfilter_to_kernel(const struct procfilter *f, struct loader_opts *lo);
/* The agent's check of a record's process (comm as the kernel gave it). */
bool procfilter_wanted(const struct procfilter *f, uint32_t pid, const char *comm);
/* The names checked here whoever else checks them: for processes that
 * were running before weft started (no record says the kernel let them
 * through). */
bool procfilter_match(const struct procfilter *f, uint32_t pid, const char *comm);
void procfilter_free(struct procfilter *f);

#endif /* WEFT_PROCFILTER_H */
