/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command-line options of weft, with their defaults. */
#ifndef WEFT_CLI_H
#define WEFT_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include "loader.h"
#include "output.h"
#include "exporter.h"
#include "link.h"
#include "procfilter.h"
#include "kube_meta.h"
#include "propagation.h"
#include "sampler.h"

struct env {
	struct loader_opts lo;
	enum output_fmt output;
	bool output_set;
	struct procfilter names;	/* --comm, --exe */
	int duration_s;			/* 0 = until interrupted */
	int stats_s;			/* 0 = only at exit */
	bool keep_unsampled;
	enum link_mode link_mode;
	bool keep_instrumented;
	bool trace_telemetry;
	struct exporter_config ex;	/* endpoint NULL = no export */
	char *metrics_addr;		/* --metrics-addr, NULL = no endpoint */
	struct kube_opts k8s;
	struct sampler sampler;		/* --sampler/-arg, else OTEL_TRACES_SAMPLER/_ARG */
	char *sampler_flag, *sampler_arg_flag;	/* as given, NULL = not */
	struct ctx_formats formats;	/* --propagators, else OTEL_PROPAGATORS */
	char *propagators_flag;
};

/* Fills env from defaults, the OTEL_* environment and argv. Returns 0 to
 * run, 1 when the program should exit 0 (--help, --version), -1 on error
 * (the message was printed). */
int cli_parse(struct env *env, int argc, char **argv);
void cli_free(struct env *env);
/* --help, from the option table. */
void cli_usage(FILE *f);
/* The README's OPTIONS table, from the same table (tests/unit/test_cli.c
 * checks that README.md has it). */
void cli_options_markdown(FILE *f);

#endif /* WEFT_CLI_H */
