// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Option parsing: one struct env with defaults, strict number parsing. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"

#ifndef WEFT_VERSION
#define WEFT_VERSION "dev"
#endif

static const char usage[] =
"Usage: weft [OPTIONS]\n"
"Trace the HTTP/1.x traffic of every process on this node as OpenTelemetry\n"
"spans, with no change to the applications. Runs as root.\n"
"\n"
"Selection:\n"
"  -p, --pid PID            only this process (repeatable)\n"
"  -c, --comm NAME          only processes whose command name is NAME (repeatable)\n"
"  -e, --exe NAME           only processes whose executable is NAME (basename\n"
"                           or full path; repeatable)\n"
"  -P, --port PORT          only connections with this local or remote port\n"
"                           (repeatable)\n"
"      --netns PATH         only sockets of this network namespace (a file such\n"
"                           as /var/run/netns/NAME or /proc/PID/ns/net)\n"
"      --keep-unsampled     also output spans of traces marked not sampled\n"
"      --keep-instrumented  keep spans of processes that make their own spans\n"
"                           (an SDK or sidecar; dropped by default as duplicates)\n"
"      --trace-telemetry    also trace requests that deliver telemetry (OTLP,\n"
"                           Zipkin, Jaeger exports), each in a trace of its own:\n"
"                           for debugging a collector (never traced by default)\n"
"      --link-mode MODE     headers (default): a server span whose caller is on\n"
"                           another node is parented to the header span id;\n"
"                           derived: ids derived so weft instances on every node\n"
"                           agree (see README, Linking)\n"
"Output:\n"
"  -o, --output FMT         text (default), json (one object per line), none\n"
"      --otlp-endpoint URL  export over OTLP/HTTP to URL (base; /v1/traces is\n"
"                           appended; OTEL_EXPORTER_OTLP_ENDPOINT)\n"
"      --otlp-traces-endpoint URL  full traces URL, used as is\n"
"      --otlp-header K=V    extra export header, e.g. an auth token (repeatable;\n"
"                           OTEL_EXPORTER_OTLP_HEADERS)\n"
"      --otlp-compression gzip|none   (default gzip)\n"
"      --otlp-timeout MS    per-request timeout (default 10000)\n"
"      --otlp-ca FILE       CA bundle for https endpoints\n"
"      --otlp-cert FILE, --otlp-key FILE   client certificate and key\n"
"      --otlp-insecure      do not verify the collector's certificate\n"
"      --batch-size N       spans per export request (default 512)\n"
"      --batch-timeout MS   longest a span waits for its batch (default 1000)\n"
"      --queue-batches N    batches held while the collector lags (default 64)\n"
"      --service-name NAME  service.name for every process (OTEL_SERVICE_NAME)\n"
"Capture:\n"
"      --capture-bytes N    body bytes kept after a header block (default 256)\n"
"      --header-window N    header-block bytes read for context (default 16384,\n"
"                           max 16384)\n"
"      --ringbuf-mb N       kernel-to-agent ring buffer size (default 16)\n"
"      --hooks MODE         auto (default), sock (sock_send/recv_length\n"
"                           tracepoints), syscalls (fallback for old kernels)\n"
"Control:\n"
"  -d, --duration SEC       stop after SEC seconds\n"
"      --stats SEC          print counters to stderr every SEC seconds\n"
"  -v, --verbose            show libbpf's log\n"
"  -V, --version\n"
"  -h, --help\n"
"\n"
"Examples:\n"
"  sudo weft                          # every HTTP exchange on the node\n"
"  sudo weft -P 8080 -o json          # one port, JSON lines\n"
"  sudo weft -e myservice --otlp-endpoint http://collector:4318\n"
"  sudo weft -p 1234 -d 30 -o none --stats 5\n";

enum {
	OPT_CAPTURE = 256, OPT_WINDOW, OPT_RINGBUF, OPT_HOOKS, OPT_STATS,
	OPT_UNSAMPLED, OPT_ENDPOINT, OPT_TRACES_ENDPOINT, OPT_HEADER,
	OPT_COMPRESSION, OPT_TIMEOUT, OPT_CA, OPT_CERT, OPT_KEY, OPT_INSECURE,
	OPT_BATCH, OPT_BATCH_TIMEOUT, OPT_QUEUE, OPT_SERVICE, OPT_LINK_MODE,
	OPT_KEEP_INSTR, OPT_NETNS, OPT_TRACE_TELEMETRY,
};

static const struct option longopts[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "comm", required_argument, NULL, 'c' },
	{ "exe", required_argument, NULL, 'e' },
	{ "port", required_argument, NULL, 'P' },
	{ "duration", required_argument, NULL, 'd' },
	{ "output", required_argument, NULL, 'o' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ "capture-bytes", required_argument, NULL, OPT_CAPTURE },
	{ "header-window", required_argument, NULL, OPT_WINDOW },
	{ "ringbuf-mb", required_argument, NULL, OPT_RINGBUF },
	{ "hooks", required_argument, NULL, OPT_HOOKS },
	{ "stats", required_argument, NULL, OPT_STATS },
	{ "keep-unsampled", no_argument, NULL, OPT_UNSAMPLED },
	{ "otlp-endpoint", required_argument, NULL, OPT_ENDPOINT },
	{ "otlp-traces-endpoint", required_argument, NULL, OPT_TRACES_ENDPOINT },
	{ "otlp-header", required_argument, NULL, OPT_HEADER },
	{ "otlp-compression", required_argument, NULL, OPT_COMPRESSION },
	{ "otlp-timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "otlp-ca", required_argument, NULL, OPT_CA },
	{ "otlp-cert", required_argument, NULL, OPT_CERT },
	{ "otlp-key", required_argument, NULL, OPT_KEY },
	{ "otlp-insecure", no_argument, NULL, OPT_INSECURE },
	{ "batch-size", required_argument, NULL, OPT_BATCH },
	{ "batch-timeout", required_argument, NULL, OPT_BATCH_TIMEOUT },
	{ "queue-batches", required_argument, NULL, OPT_QUEUE },
	{ "service-name", required_argument, NULL, OPT_SERVICE },
	{ "link-mode", required_argument, NULL, OPT_LINK_MODE },
	{ "keep-instrumented", no_argument, NULL, OPT_KEEP_INSTR },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "trace-telemetry", no_argument, NULL, OPT_TRACE_TELEMETRY },
	{ NULL, 0, NULL, 0 },
};

static int parse_long(const char *opt, const char *s, long min, long max,
		      long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "weft: invalid value for --%s: '%s' (want %ld..%ld)\n",
			opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static void replace(char **dst, const char *s)
{
	free(*dst);
	*dst = strdup(s);
}

static int add_header_kv(struct env *env, const char *kv)
{
	/* K=V as on the command line; the env list syntax parses the same */
	return exporter_parse_headers(&env->ex, kv) ? -1 : 0;
}

int cli_parse(struct env *env, int argc, char **argv)
{
	long v;
	int opt;

	memset(env, 0, sizeof(*env));
	env->lo.hooks = HOOKS_AUTO;
	env->lo.hdr_window = WEFT_HDR_WINDOW_DEFAULT;
	env->lo.body_capture = WEFT_BODY_CAPTURE_DEFAULT;
	env->lo.ringbuf_mb = 16;
	env->output = OUTPUT_TEXT;
	if (exporter_config_init(&env->ex))
		return -1;

	while ((opt = getopt_long(argc, argv, "p:c:e:P:d:o:vVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (parse_long("pid", optarg, 1, INT_MAX, &v))
				return -1;
			if (env->lo.n_pids >= LOADER_MAX_PIDS) {
				fprintf(stderr, "weft: too many --pid (max %d)\n", LOADER_MAX_PIDS);
				return -1;
			}
			env->lo.pids[env->lo.n_pids++] = v;
			break;
		case 'c':
		case 'e': {
			char **list = opt == 'c' ? env->comms : env->exes;
			int *n = opt == 'c' ? &env->n_comms : &env->n_exes;

			if (*n >= CLI_MAX_NAMES) {
				fprintf(stderr, "weft: too many --%s (max %d)\n",
					opt == 'c' ? "comm" : "exe", CLI_MAX_NAMES);
				return -1;
			}
			list[(*n)++] = strdup(optarg);
			break;
		}
		case 'P':
			if (parse_long("port", optarg, 1, 65535, &v))
				return -1;
			if (env->lo.n_ports >= LOADER_MAX_PORTS) {
				fprintf(stderr, "weft: too many --port (max %d)\n", LOADER_MAX_PORTS);
				return -1;
			}
			env->lo.ports[env->lo.n_ports++] = v;
			break;
		case 'd':
			if (parse_long("duration", optarg, 1, INT_MAX, &v))
				return -1;
			env->duration_s = v;
			break;
		case 'o':
			env->output_set = true;
			if (strcmp(optarg, "text") == 0)
				env->output = OUTPUT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				env->output = OUTPUT_JSON;
			else if (strcmp(optarg, "none") == 0)
				env->output = OUTPUT_NONE;
			else {
				fprintf(stderr, "weft: --output must be text, json or none, not '%s'\n",
					optarg);
				return -1;
			}
			break;
		case 'v':
			env->lo.verbose = true;
			break;
		case 'V':
			printf("weft %s\n", WEFT_VERSION);
			return 1;
		case 'h':
			fputs(usage, stdout);
			return 1;
		case OPT_CAPTURE:
			if (parse_long("capture-bytes", optarg, 0, 4096, &v))
				return -1;
			env->lo.body_capture = v;
			break;
		case OPT_WINDOW:
			if (parse_long("header-window", optarg, 256, WEFT_DATA_MAX, &v))
				return -1;
			env->lo.hdr_window = v;
			break;
		case OPT_RINGBUF:
			if (parse_long("ringbuf-mb", optarg, 1, 1024, &v))
				return -1;
			if (v & (v - 1)) {
				fprintf(stderr, "weft: --ringbuf-mb must be a power of two\n");
				return -1;
			}
			env->lo.ringbuf_mb = v;
			break;
		case OPT_HOOKS:
			if (strcmp(optarg, "auto") == 0)
				env->lo.hooks = HOOKS_AUTO;
			else if (strcmp(optarg, "sock") == 0)
				env->lo.hooks = HOOKS_SOCK;
			else if (strcmp(optarg, "syscalls") == 0)
				env->lo.hooks = HOOKS_SYSCALLS;
			else {
				fprintf(stderr, "weft: --hooks must be auto, sock or syscalls\n");
				return -1;
			}
			break;
		case OPT_STATS:
			if (parse_long("stats", optarg, 1, 86400, &v))
				return -1;
			env->stats_s = v;
			break;
		case OPT_UNSAMPLED:
			env->keep_unsampled = true;
			break;
		case OPT_ENDPOINT:
			free(env->ex.endpoint);
			env->ex.endpoint = exporter_join_endpoint(optarg);
			break;
		case OPT_TRACES_ENDPOINT:
			replace(&env->ex.endpoint, optarg);
			break;
		case OPT_HEADER:
			if (add_header_kv(env, optarg))
				return -1;
			break;
		case OPT_COMPRESSION:
			if (strcmp(optarg, "gzip") && strcmp(optarg, "none")) {
				fprintf(stderr, "weft: --otlp-compression must be gzip or none\n");
				return -1;
			}
			env->ex.gzip = strcmp(optarg, "gzip") == 0;
			break;
		case OPT_TIMEOUT:
			if (parse_long("otlp-timeout", optarg, 1, 600000, &v))
				return -1;
			env->ex.timeout_ms = v;
			break;
		case OPT_CA:
			replace(&env->ex.ca_file, optarg);
			break;
		case OPT_CERT:
			replace(&env->ex.cert_file, optarg);
			break;
		case OPT_KEY:
			replace(&env->ex.key_file, optarg);
			break;
		case OPT_INSECURE:
			env->ex.insecure = true;
			break;
		case OPT_BATCH:
			if (parse_long("batch-size", optarg, 1, 65536, &v))
				return -1;
			env->ex.batch_size = v;
			break;
		case OPT_BATCH_TIMEOUT:
			if (parse_long("batch-timeout", optarg, 1, 600000, &v))
				return -1;
			env->ex.batch_timeout_ms = v;
			break;
		case OPT_QUEUE:
			if (parse_long("queue-batches", optarg, 1, 65536, &v))
				return -1;
			env->ex.queue_batches = v;
			break;
		case OPT_SERVICE:
			replace(&env->ex.service_name, optarg);
			break;
		case OPT_LINK_MODE:
			if (strcmp(optarg, "headers") == 0)
				env->link_mode = LINK_HEADERS;
			else if (strcmp(optarg, "derived") == 0)
				env->link_mode = LINK_DERIVED;
			else {
				fprintf(stderr, "weft: --link-mode must be headers or derived\n");
				return -1;
			}
			break;
		case OPT_KEEP_INSTR:
			env->keep_instrumented = true;
			break;
		case OPT_TRACE_TELEMETRY:
			env->trace_telemetry = true;
			break;
		case OPT_NETNS: {
			struct stat st;

			/* a path (/var/run/netns/X, /proc/PID/ns/net) or an inode */
			if (stat(optarg, &st) == 0) {
				env->lo.netns_inum = st.st_ino;
			} else if (parse_long("netns", optarg, 1, UINT32_MAX, &v) == 0) {
				env->lo.netns_inum = v;
			} else {
				fprintf(stderr, "weft: --netns wants a namespace file or inode number\n");
				return -1;
			}
			break;
		}
		default:
			fprintf(stderr, "Try 'weft --help' for more information.\n");
			return -1;
		}
	}
	/* --comm alone is filtered in the kernel (cheap, and nothing else
	 * reaches the ring buffer); with --exe too, either may match, so the
	 * agent decides */
	if (env->n_comms && !env->n_exes) {
		if (env->n_comms > 64) {
			fprintf(stderr, "weft: too many --comm (max 64)\n");
			return -1;
		}
		for (int i = 0; i < env->n_comms; i++)
			strncpy(env->lo.comms[i], env->comms[i], 15);
		env->lo.n_comms = env->n_comms;
	}
	if (optind < argc) {
		fprintf(stderr, "weft: unexpected argument '%s'\n"
			"Try 'weft --help' for more information.\n", argv[optind]);
		return -1;
	}
	return 0;
}

void cli_free(struct env *env)
{
	for (int i = 0; i < env->n_comms; i++)
		free(env->comms[i]);
	for (int i = 0; i < env->n_exes; i++)
		free(env->exes[i]);
	exporter_config_free(&env->ex);
}
