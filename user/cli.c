// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Option parsing, driven by one table (options[] below): getopt_long's
 * option list, --help and the README's OPTIONS table all come from it, so a
 * new flag is one row (tests/unit/test_cli.c fails until the README shows
 * it). Values are range-checked (errno = 0; strtol), defaults are set first,
 * then the OTEL_* environment, then the flags.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "util.h"
#include "cli.h"
#include "opsserver.h"
#include "redact.h"
#include "zipkin.h"

#ifndef WEFT_VERSION
#define WEFT_VERSION "dev"
#endif

enum opt_kind {
	K_FLAG,		/* bool at off = true */
	K_INT,		/* int at off, in [min, max] */
	K_U32,		/* uint32_t at off, in [min, max] */
	K_STR,		/* char * at off, replaced */
	K_CHOICE,	/* int (an enum) at off, one of choices[] */
	K_FN,		/* fn decides */
};

struct choice {
	const char *name;
	int value;
};

struct cli_opt {
	const char *name;	/* long name */
	char key;		/* short letter, 0 = none */
	const char *arg;	/* metavar, NULL = takes no argument */
	const char *section;	/* --help heading, where a new one starts */
	const char *help;	/* --help text; "\n" continues it on a new line */
	const char *md;		/* README text (markdown) */
	enum opt_kind kind;
	size_t off;
	long min, max;
	const struct choice *choices;
	/* returns 0, -1 after printing why, or 1 to exit 0 (--help) */
	int (*fn)(struct env *env, const char *arg);
};

#define AT(field)	.off = offsetof(struct env, field)

static const struct choice output_fmts[] = {
	{ "text", OUTPUT_TEXT }, { "json", OUTPUT_JSON }, { "none", OUTPUT_NONE }, { 0 },
};
static const struct choice hook_modes[] = {
	{ "auto", HOOKS_AUTO }, { "sock", HOOKS_SOCK }, { "syscalls", HOOKS_SYSCALLS }, { 0 },
};
static const struct choice k8s_modes[] = {
	{ "auto", KUBE_AUTO }, { "on", KUBE_ON }, { "off", KUBE_OFF }, { 0 },
};
static const struct choice link_modes[] = {
	{ "headers", LINK_HEADERS }, { "derived", LINK_DERIVED }, { 0 },
};

static int set_pid(struct env *env, const char *arg);
static int set_comm(struct env *env, const char *arg);
static int set_exe(struct env *env, const char *arg);
static int set_port(struct env *env, const char *arg);
static int set_netns(struct env *env, const char *arg);
static int set_output(struct env *env, const char *arg);
static int set_endpoint(struct env *env, const char *arg);
static int set_exporter(struct env *env, const char *arg);
static int set_header(struct env *env, const char *arg);
static int set_compression(struct env *env, const char *arg);
static int set_ringbuf(struct env *env, const char *arg);
static int set_redact(struct env *env, const char *arg);
static int set_metrics_addr(struct env *env, const char *arg);
static int set_namespace(struct env *env, const char *arg);
static int set_exclude_namespace(struct env *env, const char *arg);
static int show_version(struct env *env, const char *arg);
static int show_help(struct env *env, const char *arg);

static const struct cli_opt options[] = {
	{ "pid", 'p', "PID", "Selection", "only this process (repeatable)",
	  "only this process (repeatable; filtered in the kernel)", K_FN, .fn = set_pid },
	{ "comm", 'c', "NAME", NULL,
	  "only processes whose command name is NAME (repeatable)",
	  "only processes whose command name is NAME (repeatable; filtered in the kernel unless `--exe` is also given)",
	  K_FN, .fn = set_comm },
	{ "exe", 'e', "NAME", NULL,
	  "only processes whose executable is NAME (basename\nor full path; repeatable)",
	  "only processes whose executable basename or path is NAME (repeatable)",
	  K_FN, .fn = set_exe },
	{ "port", 'P', "PORT", NULL,
	  "only connections with this local or remote port\n(repeatable)",
	  "only connections whose local or remote port is PORT (repeatable; filtered in the kernel)",
	  K_FN, .fn = set_port },
	{ "netns", 0, "PATH", NULL,
	  "only sockets of this network namespace (a file such\nas /var/run/netns/NAME or /proc/PID/ns/net)",
	  "only sockets of this network namespace (`/var/run/netns/NAME`, `/proc/PID/ns/net`)",
	  K_FN, .fn = set_netns },
	{ "keep-unsampled", 0, NULL, NULL, "also output spans of traces marked not sampled",
	  "also output spans of traces marked not sampled", K_FLAG, AT(keep_unsampled) },
	{ "keep-instrumented", 0, NULL, NULL,
	  "keep spans of processes that make their own spans\n(an SDK or sidecar; dropped by default as duplicates)",
	  "keep spans of processes that make their own (see Linking, rule 3)",
	  K_FLAG, AT(keep_instrumented) },
	{ "trace-telemetry", 0, NULL, NULL,
	  "also trace requests that deliver telemetry (OTLP,\nZipkin, Jaeger exports), each in a trace of its own:\nfor debugging a collector (never traced by default)",
	  "also trace requests that deliver telemetry, each in a trace of its own, for debugging a collector (see Linking, what is never traced)",
	  K_FLAG, AT(trace_telemetry) },
	{ "link-mode", 0, "MODE", NULL,
	  "headers (default): a server span whose caller is on\nanother node is parented to the header span id;\nderived: ids derived so weft instances on every node\nagree (see README, Linking)",
	  "`headers` (default) or `derived`: how server spans link to callers on other nodes (Linking, rule 5)",
	  K_CHOICE, AT(link_mode), .choices = link_modes },
	{ "sampler", 0, "NAME", NULL,
	  "which traces are output: parentbased_always_on\n(default), parentbased_always_off,\nparentbased_traceidratio, always_on, always_off,\ntraceidratio (OTEL_TRACES_SAMPLER)",
	  "`parentbased_always_on` (default), `parentbased_always_off`, `parentbased_traceidratio`, `always_on`, `always_off`, `traceidratio`: which traces are output (Linking, rule 7; `OTEL_TRACES_SAMPLER`)",
	  K_STR, AT(sampler_flag) },
	{ "sampler-arg", 0, "RATIO", NULL,
	  "the traceidratio samplers' fraction, 0 to 1,\ndecided from the trace id as the SDKs do\n(default 1; OTEL_TRACES_SAMPLER_ARG)",
	  "the `traceidratio` samplers' fraction of traces, 0 to 1, decided from the trace id as the SDKs do (default 1; `OTEL_TRACES_SAMPLER_ARG`)",
	  K_STR, AT(sampler_arg_flag) },
	{ "propagators", 0, "LIST", NULL,
	  "context formats read: tracecontext, b3, b3multi,\njaeger, baggage (no context), none; when two\ndisagree the last listed wins (default: all, B3\nfirst; OTEL_PROPAGATORS)",
	  "context formats read, comma-separated: `tracecontext`, `b3` and `b3multi` (each reads `b3` and `X-B3-*`), `jaeger`, `baggage` (no context), `none`; when two disagree the last listed wins (default: all, B3 first; `OTEL_PROPAGATORS`; see DESCRIPTION)",
	  K_STR, AT(propagators_flag) },

	{ "output", 'o', "FMT", "Output", "text (default), json (one object per line), none",
	  "`text` (default), `json` (one object per line), `none`", K_FN, .fn = set_output },
	{ "exporter", 0, "otlp|zipkin|none", NULL,
	  "export format (default: otlp with an OTLP endpoint,\nzipkin with a Zipkin one; OTEL_TRACES_EXPORTER)",
	  "`otlp` (default when an OTLP endpoint is set), `zipkin` (Zipkin v2 JSON; default when only a Zipkin endpoint is set), `none`; the `--otlp-header`, `-compression`, `-timeout` and TLS flags apply to either (`OTEL_TRACES_EXPORTER`; see Exporting to a collector)",
	  K_FN, .fn = set_exporter },
	{ "otlp-endpoint", 0, "URL", NULL,
	  "export over OTLP/HTTP to URL (base; /v1/traces is\nappended; OTEL_EXPORTER_OTLP_ENDPOINT)",
	  "export to `URL/v1/traces` over OTLP/HTTP", K_FN, .fn = set_endpoint },
	{ "otlp-traces-endpoint", 0, "URL", NULL, "full traces URL, used as is",
	  "export to URL as is", K_STR, AT(ex.endpoint) },
	{ "zipkin-endpoint", 0, "URL", NULL,
	  "export Zipkin v2 JSON to URL, used as is (default\nhttp://localhost:9411/api/v2/spans;\nOTEL_EXPORTER_ZIPKIN_ENDPOINT)",
	  "export Zipkin v2 JSON to URL as is (default `" ZIPKIN_DEFAULT_ENDPOINT "`; implies `--exporter zipkin` unless an OTLP endpoint flag is given)",
	  K_STR, AT(ex.zipkin_endpoint) },
	{ "otlp-header", 0, "K=V", NULL,
	  "extra export header, e.g. an auth token (repeatable;\nOTEL_EXPORTER_OTLP_HEADERS)",
	  "extra export header (repeatable)", K_FN, .fn = set_header },
	{ "otlp-compression", 0, "gzip|none", NULL, "(default gzip)", "default gzip",
	  K_FN, .fn = set_compression },
	{ "otlp-timeout", 0, "MS", NULL, "per-request timeout (default 10000)",
	  "per-request timeout (default 10000)", K_INT, AT(ex.timeout_ms), 1, 600000 },
	{ "otlp-ca", 0, "FILE", NULL, "CA bundle for https endpoints", "TLS: CA bundle",
	  K_STR, AT(ex.ca_file) },
	{ "otlp-cert", 0, "FILE", NULL, "client certificate (https)", "TLS: client certificate",
	  K_STR, AT(ex.cert_file) },
	{ "otlp-key", 0, "FILE", NULL, "client key (https)", "TLS: client key",
	  K_STR, AT(ex.key_file) },
	{ "otlp-insecure", 0, NULL, NULL, "do not verify the collector's certificate",
	  "TLS: do not verify the collector's certificate", K_FLAG, AT(ex.insecure) },
	{ "batch-size", 0, "N", NULL, "spans per export request (default 512)",
	  "spans per export request (default 512)", K_INT, AT(ex.batch_size), 1, 65536 },
	{ "batch-timeout", 0, "MS", NULL, "longest a span waits for its batch (default 1000)",
	  "longest a span waits for its batch (default 1000)", K_INT, AT(ex.batch_timeout_ms),
	  1, 600000 },
	{ "queue-batches", 0, "N", NULL, "batches held while the collector lags (default 64)",
	  "batches held while the collector lags (default 64)", K_INT, AT(ex.queue_batches),
	  1, 65536 },
	{ "service-name", 0, "NAME", NULL, "service.name for every process (OTEL_SERVICE_NAME)",
	  "one service.name for every process", K_STR, AT(ex.service_name) },

	{ "k8s", 0, "MODE", "Kubernetes",
	  "pod metadata: auto (default: from the API server\nwhen in a pod or --k8s-api is given, else from the\ncontainer runtime's files), on (the API, required), off",
	  "`auto` (default): pod metadata from the API server when in a pod or `--k8s-api` is given, else from the container runtime's files on the node; `on`: the API, required; `off`: none",
	  K_CHOICE, AT(k8s.mode), .choices = k8s_modes },
	{ "k8s-api", 0, "URL", NULL, "API server (default: in-cluster, from\nKUBERNETES_SERVICE_HOST/PORT)",
	  "API server URL (default: in-cluster, `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`)",
	  K_STR, AT(k8s.api_url) },
	{ "k8s-token-file", 0, "FILE", NULL, "bearer token, read again before each request\n(default: the service account's)",
	  "bearer token file, read again before every request (default `" KUBE_DEFAULT_TOKEN "`)",
	  K_STR, AT(k8s.token_file) },
	{ "k8s-ca-file", 0, "FILE", NULL, "CA of the API server (default: the service\naccount's ca.crt)",
	  "CA bundle of the API server (default `" KUBE_DEFAULT_CA "`)",
	  K_STR, AT(k8s.ca_file) },
	{ "node-name", 0, "NAME", NULL, "this node's name (default: $NODE_NAME, else the\nhostname)",
	  "this node's name, whose pods are watched (default `$NODE_NAME`, else the hostname)",
	  K_STR, AT(k8s.node_name) },
	{ "namespace", 0, "NS", NULL, "only pods in this namespace (repeatable)",
	  "only pods in namespace NS (repeatable)", K_FN, .fn = set_namespace },
	{ "exclude-namespace", 0, "NS", NULL,
	  "not pods in this namespace (repeatable; default\nkube-system; '' excludes none)",
	  "not pods in namespace NS (repeatable; replaces the default, `kube-system`; `''` excludes none)",
	  K_FN, .fn = set_exclude_namespace },
	{ "pod-selector", 0, "SEL", NULL, "only pods whose labels match (kubectl -l syntax)",
	  "only pods whose labels match SEL (`kubectl -l` syntax: `a=b,c!=d,e in (f,g),!h`)",
	  K_STR, AT(k8s.selector) },
	{ "pod-opt-in", 0, NULL, NULL,
	  "only pods annotated " KUBE_TRACE_ANNOTATION ": \"true\" (\"false\"\nalways opts a pod out)",
	  "only pods annotated `" KUBE_TRACE_ANNOTATION ": \"true\"` (`\"false\"` always opts a pod out)",
	  K_FLAG, AT(k8s.opt_in) },
	{ "k8s-pods-only", 0, NULL, NULL, "not processes outside pods (the node's own)",
	  "not processes outside pods (the node's own daemons)", K_FLAG, AT(k8s.pods_only) },
	{ "capture-bytes", 0, "N", "Capture", "body bytes kept after a header block (default 256)",
	  "body bytes forwarded after a header block (default 256, max 4096)",
	  K_U32, AT(lo.body_capture), 0, 4096 },
	{ "header-window", 0, "N", NULL,
	  "header-block bytes read for context (default 16384,\nmax 16384)",
	  "bytes of a header block forwarded and parsed (default and max 16384)",
	  K_U32, AT(lo.hdr_window), 256, WEFT_DATA_MAX },
	{ "redact-query-param", 0, "NAME", NULL,
	  "also redact this query parameter's values in\nurl.query and url.full (repeatable; always:\nAWSAccessKeyId, Signature, sig, X-Goog-Signature;\n" REDACT_ENV ")",
	  "also replace the values of query parameter NAME (case-sensitive, matched percent-decoded) by `REDACTED` in `url.query` and `url.full` (repeatable; always redacted: `AWSAccessKeyId`, `Signature`, `sig`, `X-Goog-Signature`; `" REDACT_ENV "`, comma-separated, adds to them; see Privilege)",
	  K_FN, .fn = set_redact },
	{ "ringbuf-mb", 0, "N", NULL, "kernel-to-agent ring buffer size (default 16)",
	  "kernel-to-agent ring buffer, power of two (default 16)", K_FN, .fn = set_ringbuf },
	{ "max-connections", 0, "N", NULL,
	  "sockets the kernel side follows at once (default\n65536; the least recently used go first, counted)",
	  "sockets the kernel side follows at once (default 65536, 64 to 4194304): an LRU table, about 200 bytes a socket; one pushed out is counted (`connections lost by the kernel side`) and its next request starts afresh",
	  K_U32, AT(lo.max_conns), 64, 4194304 },
	{ "hooks", 0, "MODE", NULL,
	  "auto (default), sock (sock_send/recv_length\ntracepoints), syscalls (fallback for old kernels)",
	  "`auto` (default), `sock`, `syscalls` (see HOOKS)",
	  K_CHOICE, AT(lo.hooks), .choices = hook_modes },

	{ "metrics-addr", 0, "[HOST:]PORT", "Operations",
	  "serve /healthz, /readyz and Prometheus /metrics\n(e.g. :9464 on every address, 127.0.0.1:9464,\n[::1]:9464)",
	  "serve `/healthz`, `/readyz` and Prometheus `/metrics` on this address (`:9464` = every address; see Health and metrics)",
	  K_FN, .fn = set_metrics_addr },

	{ "duration", 'd', "SEC", "Control", "stop after SEC seconds", "stop after SEC seconds",
	  K_INT, AT(duration_s), 1, INT_MAX },
	{ "stats", 0, "SEC", NULL, "print counters to stderr every SEC seconds",
	  "print counters to stderr every SEC seconds", K_INT, AT(stats_s), 1, 86400 },
	{ "verbose", 'v', NULL, NULL, "show libbpf's log",
	  "show libbpf's log (verifier output on load failures)", K_FLAG, AT(lo.verbose) },
	{ "version", 'V', NULL, NULL, "print the version and exit", "print the version and exit",
	  K_FN, .fn = show_version },
	{ "help", 'h', NULL, NULL, "this text", "the options and examples", K_FN, .fn = show_help },
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static const char usage_head[] =
"Usage: weft [OPTIONS]\n"
"Trace the HTTP/1.x traffic of every process on this node as OpenTelemetry\n"
"spans, with no change to the applications. Runs as root.\n";

static const char usage_examples[] =
"\n"
"Examples:\n"
"  sudo weft                          # every HTTP exchange on the node\n"
"  sudo weft -P 8080 -o json          # one port, JSON lines\n"
"  sudo weft -e myservice --otlp-endpoint http://collector:4318\n"
"  sudo weft -p 1234 -d 30 -o none --stats 5\n";

/* "-p, --pid PID" or "    --netns PATH": the option as --help shows it. */
static void opt_synopsis(const struct cli_opt *o, char *buf, size_t size)
{
	snprintf(buf, size, "%s%c%s--%s%s%s", o->key ? "-" : " ", o->key ? o->key : ' ',
		 o->key ? ", " : "  ", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

void cli_usage(FILE *f)
{
	fputs(usage_head, f);
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct cli_opt *o = &options[i];
		const char *h = o->help, *nl;
		char syn[64];

		if (o->section)
			fprintf(f, "%s:\n", o->section);
		opt_synopsis(o, syn, sizeof(syn));
		fprintf(f, "  %-24s", syn);
		if (strlen(syn) > 24)
			fprintf(f, "\n  %-24s", "");
		while ((nl = strchr(h, '\n'))) {
			fprintf(f, " %.*s\n  %-24s", (int)(nl - h), h, "");
			h = nl + 1;
		}
		fprintf(f, " %s\n", h);
	}
	fputs(usage_examples, f);
}

/* The option as the README's table names it: `-p, --pid PID`. */
static void opt_md(const struct cli_opt *o, FILE *f)
{
	fputc('`', f);
	if (o->key)
		fprintf(f, "-%c, ", o->key);
	fprintf(f, "--%s", o->name);
	if (o->arg) {
		fputc(' ', f);
		for (const char *a = o->arg; *a; a++)
			fputs(*a == '|' ? "\\|" : (char[2]){ *a, 0 }, f);
	}
	fputc('`', f);
}

void cli_options_markdown(FILE *f)
{
	fputs("| option | meaning |\n|---|---|\n", f);
	for (size_t i = 0; i < N_OPTIONS; i++) {
		fputs("| ", f);
		opt_md(&options[i], f);
		fprintf(f, " | %s |\n", options[i].md);
	}
}

static int parse_long(const char *opt, const char *s, long min, long max,
		      long *out)
{
	if (parse_decimal(s, min, max, false, out))
		return 0;
	fprintf(stderr, "weft: invalid value for --%s: '%s' (want %ld..%ld)\n",
		opt, s, min, max);
	return -1;
}

static int parse_choice(const char *opt, const struct choice *c, const char *s,
			int *out)
{
	for (int i = 0; c[i].name; i++)
		if (strcmp(s, c[i].name) == 0) {
			*out = c[i].value;
			return 0;
		}
	fprintf(stderr, "weft: --%s must be", opt);
	for (int i = 0; c[i].name; i++)
		fprintf(stderr, "%s %s", i == 0 ? "" : c[i + 1].name ? "," : " or", c[i].name);
	fprintf(stderr, ", not '%s'\n", s);
	return -1;
}

static void replace(char **dst, const char *s)
{
	free(*dst);
	*dst = strdup(s);
}

static int set_pid(struct env *env, const char *arg)
{
	long v;

	if (parse_long("pid", arg, 1, INT_MAX, &v))
		return -1;
	if (env->lo.n_pids >= LOADER_MAX_PIDS) {
		fprintf(stderr, "weft: too many --pid (max %d)\n", LOADER_MAX_PIDS);
		return -1;
	}
	env->lo.pids[env->lo.n_pids++] = v;
	return 0;
}

static int set_comm(struct env *env, const char *arg)
{
	return procfilter_add_comm(&env->names, arg);
}

static int set_exe(struct env *env, const char *arg)
{
	return procfilter_add_exe(&env->names, arg);
}

static int set_port(struct env *env, const char *arg)
{
	long v;

	if (parse_long("port", arg, 1, 65535, &v))
		return -1;
	if (env->lo.n_ports >= LOADER_MAX_PORTS) {
		fprintf(stderr, "weft: too many --port (max %d)\n", LOADER_MAX_PORTS);
		return -1;
	}
	env->lo.ports[env->lo.n_ports++] = v;
	return 0;
}

static int set_netns(struct env *env, const char *arg)
{
	struct stat st;
	long v;

	/* a path (/var/run/netns/X, /proc/PID/ns/net) or an inode number */
	if (stat(arg, &st) == 0) {
		env->lo.netns_inum = st.st_ino;
		return 0;
	}
	if (arg[0] < '0' || arg[0] > '9') {
		fprintf(stderr, "weft: --netns %s: %s (want a namespace file or inode "
			"number)\n", arg, strerror(errno));
		return -1;
	}
	if (parse_long("netns", arg, 1, UINT32_MAX, &v))
		return -1;
	env->lo.netns_inum = v;
	return 0;
}

static int set_output(struct env *env, const char *arg)
{
	int v;

	if (parse_choice("output", output_fmts, arg, &v))
		return -1;
	env->output = v;
	env->output_set = true;
	return 0;
}

static int set_endpoint(struct env *env, const char *arg)
{
	free(env->ex.endpoint);
	env->ex.endpoint = exporter_join_endpoint(arg);
	return 0;
}

static int set_exporter(struct env *env, const char *arg)
{
	enum exporter_format f;

	/* the environment was read for it already (exporter_prescan) */
	if (exporter_parse_format(arg, false, &f))
		return -1;
	env->ex.format = f;
	return 0;
}

/*
 * --exporter and the endpoint flags, before the environment is read: which
 * format's variables apply depends on them (exporter_config_init_sel).
 * Errors are left to the real pass.
 */
static void exporter_prescan(int argc, char **argv, const char *shortopts,
			     const struct option *longopts,
			     struct exporter_select *sel)
{
	int opt, saved = opterr;

	memset(sel, 0, sizeof(*sel));
	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const char *name;

		if (opt < 256 || opt - 256 >= (int)N_OPTIONS)
			continue;
		name = options[opt - 256].name;
		if (strcmp(name, "exporter") == 0)
			sel->format = !strcasecmp(optarg, "otlp") ? EXPORTER_OTLP :
				      !strcasecmp(optarg, "zipkin") ? EXPORTER_ZIPKIN :
				      !strcasecmp(optarg, "none") ? EXPORTER_NONE :
								    sel->format;
		else if (strcmp(name, "otlp-endpoint") == 0 ||
			 strcmp(name, "otlp-traces-endpoint") == 0)
			sel->otlp_endpoint = true;
		else if (strcmp(name, "zipkin-endpoint") == 0)
			sel->zipkin_endpoint = true;
	}
	opterr = saved;
	optind = 0;	/* glibc: the real pass starts over */
}

static int set_header(struct env *env, const char *arg)
{
	/* K=V as on the command line; the env list syntax parses the same */
	return exporter_parse_headers(&env->ex, arg) ? -1 : 0;
}

static int set_compression(struct env *env, const char *arg)
{
	if (strcmp(arg, "gzip") && strcmp(arg, "none")) {
		fprintf(stderr, "weft: --otlp-compression must be gzip or none\n");
		return -1;
	}
	env->ex.gzip = strcmp(arg, "gzip") == 0;
	return 0;
}

static int set_ringbuf(struct env *env, const char *arg)
{
	long v;

	if (parse_long("ringbuf-mb", arg, 1, 1024, &v))
		return -1;
	if (v & (v - 1)) {
		fprintf(stderr, "weft: --ringbuf-mb must be a power of two\n");
		return -1;
	}
	env->lo.ringbuf_mb = v;
	return 0;
}

static int set_redact(struct env *env, const char *arg)
{
	return redact_add_param(arg);
}

static int set_metrics_addr(struct env *env, const char *arg)
{
	char host[256];
	unsigned port;

	/* a typo is a usage error now, not a failure after the BPF load */
	if (ops_parse_addr(arg, host, sizeof(host), &port))
		return -1;
	replace(&env->metrics_addr, arg);
	return 0;
}

static int add_ns(char **list, int *n, const char *opt, const char *arg)
{
	if (*n >= KUBE_MAX_NAMESPACES) {
		fprintf(stderr, "weft: too many --%s (max %d)\n", opt, KUBE_MAX_NAMESPACES);
		return -1;
	}
	list[(*n)++] = xstrdup(arg);
	return 0;
}

static int set_namespace(struct env *env, const char *arg)
{
	return add_ns(env->k8s.namespaces, &env->k8s.n_namespaces, "namespace", arg);
}

static int set_exclude_namespace(struct env *env, const char *arg)
{
	env->k8s.exclude_set = true;
	if (!arg[0])
		return 0;	/* '': the default's replacement is nothing */
	return add_ns(env->k8s.exclude, &env->k8s.n_exclude, "exclude-namespace", arg);
}

static int show_version(struct env *env, const char *arg)
{
	printf("weft %s\n", WEFT_VERSION);
	return 1;
}

static int show_help(struct env *env, const char *arg)
{
	cli_usage(stdout);
	return 1;
}

/* One option with its argument, by its row's kind. */
static int apply(struct env *env, const struct cli_opt *o, const char *arg)
{
	char *p = (char *)env + o->off;
	long v;

	switch (o->kind) {
	case K_FLAG:
		*(bool *)p = true;
		return 0;
	case K_INT:
	case K_U32:
		if (parse_long(o->name, arg, o->min, o->max, &v))
			return -1;
		if (o->kind == K_INT)
			*(int *)p = v;
		else
			*(uint32_t *)p = v;
		return 0;
	case K_STR:
		replace((char **)p, arg);
		return 0;
	case K_CHOICE:
		return parse_choice(o->name, o->choices, arg, (int *)p);
	case K_FN:
		return o->fn(env, arg);
	}
	return -1;
}

static void defaults(struct env *env)
{
	memset(env, 0, sizeof(*env));
	env->lo.hooks = HOOKS_AUTO;
	env->lo.hdr_window = WEFT_HDR_WINDOW_DEFAULT;
	env->lo.body_capture = WEFT_BODY_CAPTURE_DEFAULT;
	env->lo.ringbuf_mb = 16;
	env->lo.max_conns = WEFT_MAX_CONNS;
	env->output = OUTPUT_TEXT;
	redact_reset();		/* the conventions' four names */
}

int cli_parse(struct env *env, int argc, char **argv)
{
	struct option longopts[N_OPTIONS + 1];
	char shortopts[2 * N_OPTIONS + 1], *sp = shortopts;
	struct exporter_select sel;
	int opt, rc;

	defaults(env);
	for (size_t i = 0; i < N_OPTIONS; i++) {
		longopts[i] = (struct option){ options[i].name,
			options[i].arg ? required_argument : no_argument, NULL, 256 + (int)i };
		if (options[i].key) {
			*sp++ = options[i].key;
			if (options[i].arg)
				*sp++ = ':';
		}
	}
	longopts[N_OPTIONS] = (struct option){ 0 };
	*sp = '\0';
	exporter_prescan(argc, argv, shortopts, longopts, &sel);
	if (exporter_config_init_sel(&env->ex, &sel) || redact_add_env())
		return -1;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		size_t i = 0;

		if (opt >= 256)
			i = opt - 256;
		else
			while (i < N_OPTIONS && options[i].key != opt)
				i++;
		if (i >= N_OPTIONS) {
			fprintf(stderr, "Try 'weft --help' for more information.\n");
			return -1;
		}
		rc = apply(env, &options[i], optarg);
		if (rc)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "weft: unexpected argument '%s'\n"
			"Try 'weft --help' for more information.\n", argv[optind]);
		return -1;
	}
	/* each flag wins over its variable, read only now */
	if (sampler_configure(&env->sampler, env->sampler_flag, env->sampler_arg_flag) ||
	    ctx_formats_configure(&env->formats, env->propagators_flag))
		return -1;
	exporter_config_finish(&env->ex);
	procfilter_to_kernel(&env->names, &env->lo);
	return 0;
}

void cli_free(struct env *env)
{
	procfilter_free(&env->names);
	exporter_config_free(&env->ex);
	free(env->metrics_addr);
	kube_opts_free(&env->k8s);
	free(env->sampler_flag);
	free(env->sampler_arg_flag);
	free(env->propagators_flag);
}
