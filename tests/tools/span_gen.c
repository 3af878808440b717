// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * span_gen: drives the OTLP exporter with synthetic spans, no BPF needed.
 * The fault-injection tests (tests/export) run it against a fake collector;
 * --bench measures encode + gzip + HTTP throughput against a built-in sink.
 * At exit it prints the exporter's counters as one JSON line on stdout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "exporter.h"

static struct env {
	long count;
	double rate;		/* spans per second, 0 = as fast as possible */
	int resources;
	bool bench;
	double duration;	/* --bench: seconds of load */
} env = {
	.count = 1000,
	.rate = 0,
	.resources = 2,
	.duration = 5,
};

static const char usage[] =
"usage: span_gen [options]\n"
"Generates synthetic HTTP spans into the OTLP exporter (configured from the\n"
"OTEL_* environment, then these flags) and prints its counters as JSON.\n"
"\n"
"  --count N             spans to generate (default 1000)\n"
"  --rate R              spans per second, 0 = unlimited (default 0)\n"
"  --resources K         distinct resources (processes) (default 2)\n"
"  --endpoint URL        traces URL (overrides the environment)\n"
"  --batch-size N        --batch-timeout-ms MS   --queue-batches N\n"
"  --timeout-ms MS       --shutdown-ms MS        --retry-max-ms MS\n"
"  --no-gzip             send uncompressed protobuf\n"
"  --zipkin              send Zipkin v2 JSON instead of OTLP\n"
"  --bench               throughput against a built-in HTTP sink\n"
"                        (or --endpoint), printing spans_per_sec\n"
"  --duration S          --bench: seconds of load (default 5)\n"
"\n"
"EXAMPLES\n"
"  span_gen --endpoint http://127.0.0.1:4318/v1/traces --count 5000 --rate 1000\n"
"  span_gen --bench --duration 10\n";

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static long parse_long(const char *name, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "span_gen: %s: expected an integer in [%ld, %ld], got \"%s\"\n",
			name, min, max, s);
		exit(2);
	}
	return v;
}

/* Span i: ids derived from i so a collector can check exactly-once. */
static struct span *gen_span(long i, struct resource **res)
{
	static const char *paths[] = { "/", "/orders", "/items/42", "/health" };
	struct span *s = span_new();
	char buf[64];
	uint64_t id = (uint64_t)i + 1, t;

	for (int b = 0; b < 8; b++) {
		s->span_id[7 - b] = id >> (8 * b);
		s->trace_id[15 - b] = id >> (8 * b);
	}
	s->trace_id[0] = 0x77;
	s->has_parent = i % 3 != 0;
	if (s->has_parent)
		s->parent_span_id[0] = 0x99;
	s->kind = i % 2 ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER;
	t = (uint64_t)time(NULL) * 1000000000ULL + (uint64_t)i * 1000;
	s->start_unix_ns = t;
	s->end_unix_ns = t + 250000;
	snprintf(buf, sizeof(buf), "GET %s", paths[i % 4]);
	span_set_name(s, i % 2 ? "GET" : buf);
	span_add_str(s, "http.request.method", "GET");
	span_add_str(s, "url.path", paths[i % 4]);
	span_add_str(s, "url.scheme", "http");
	span_add_int(s, "http.response.status_code", i % 17 ? 200 : 503);
	span_add_str(s, "server.address", "service-b.default.svc");
	span_add_int(s, "server.port", 8080);
	span_add_str(s, "network.peer.address", "10.1.2.3");
	span_add_str(s, "user_agent.original", "Go-http-client/1.1");
	if (i % 17 == 0)
		span_set_status(s, SPAN_STATUS_ERROR, NULL);
	span_set_resource(s, res[i % env.resources]);
	return s;
}

/* --- a minimal keep-alive HTTP sink for --bench ----------------------- */

static void *sink_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static const char ok[] = "HTTP/1.1 200 OK\r\n"
		"Content-Type: application/x-protobuf\r\n"
		"Content-Length: 0\r\n\r\n";
	char *buf = malloc(1 << 16);
	size_t have = 0;

	while (buf) {
		char *hdr_end, *cl;
		long body;
		ssize_t n;

		buf[have] = '\0';
		hdr_end = strstr(buf, "\r\n\r\n");
		if (!hdr_end) {
			if (have >= (1 << 16) - 1)
				break;
			n = read(fd, buf + have, (1 << 16) - 1 - have);
			if (n <= 0)
				break;
			have += n;
			continue;
		}
		*hdr_end = '\0';
		cl = strcasestr(buf, "\r\ncontent-length:");
		body = cl ? strtol(cl + 17, NULL, 10) : 0;
		hdr_end += 4;
		have -= hdr_end - buf;
		memmove(buf, hdr_end, have);
		/* Discard the body, reading what is still missing. */
		while ((long)have < body) {
			char junk[65536];

			n = read(fd, junk, sizeof(junk) < (size_t)(body - have) ?
					   sizeof(junk) : (size_t)(body - have));
			if (n <= 0)
				goto out;
			body -= n;
		}
		have -= body;
		memmove(buf, buf + body, have);
		if (write(fd, ok, sizeof(ok) - 1) != sizeof(ok) - 1)
			break;
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

static void *sink_accept(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			return NULL;
		if (pthread_create(&t, NULL, sink_conn, (void *)(intptr_t)fd))
			close(fd);
		else
			pthread_detach(t);
	}
}

/* Starts the sink on a free loopback port and returns its URL. */
static char *sink_start(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	pthread_t t;
	char *url;
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, 16) || getsockname(fd, (struct sockaddr *)&sa, &len)) {
		perror("span_gen: failed to start the sink");
		exit(1);
	}
	if (pthread_create(&t, NULL, sink_accept, (void *)(intptr_t)fd)) {
		fprintf(stderr, "span_gen: failed to start the sink thread\n");
		exit(1);
	}
	pthread_detach(t);
	if (asprintf(&url, "http://127.0.0.1:%d/v1/traces", ntohs(sa.sin_port)) < 0)
		exit(1);
	return url;
}

/* Spans handed over but not yet accounted for in any counter. */
static uint64_t backlog(const struct exporter_stats *st)
{
	return st->spans_in - st->spans_exported - st->spans_rejected -
	       st->spans_dropped_queue - st->spans_dropped_error -
	       st->spans_dropped_shutdown;
}

/*
 * This process's own peak RSS: VmHWM belongs to its address space, which
 * exec replaced. getrusage's ru_maxrss also keeps the image before exec,
 * that is the forking parent's RSS (a test runner grown to hundreds of MiB),
 * which made the memory bound of the collector-down test fail at random.
 */
static long vm_hwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	enum { O_COUNT = 256, O_RATE, O_RES, O_ENDPOINT, O_BATCH, O_BATCH_MS,
	       O_QUEUE, O_TIMEOUT, O_SHUTDOWN, O_RETRY_MAX, O_NOGZIP, O_BENCH,
	       O_DURATION, O_ZIPKIN };
	static const struct option opts[] = {
		{ "count", required_argument, NULL, O_COUNT },
		{ "rate", required_argument, NULL, O_RATE },
		{ "resources", required_argument, NULL, O_RES },
		{ "endpoint", required_argument, NULL, O_ENDPOINT },
		{ "batch-size", required_argument, NULL, O_BATCH },
		{ "batch-timeout-ms", required_argument, NULL, O_BATCH_MS },
		{ "queue-batches", required_argument, NULL, O_QUEUE },
		{ "timeout-ms", required_argument, NULL, O_TIMEOUT },
		{ "shutdown-ms", required_argument, NULL, O_SHUTDOWN },
		{ "retry-max-ms", required_argument, NULL, O_RETRY_MAX },
		{ "no-gzip", no_argument, NULL, O_NOGZIP },
		{ "bench", no_argument, NULL, O_BENCH },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "zipkin", no_argument, NULL, O_ZIPKIN },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct exporter_config cfg;
	struct exporter_stats st;
	struct resource **res;
	struct exporter *e;
	long peak_rss_kb;
	uint64_t t0, t_stop, t_end;
	long produced = 0;
	int opt;

	if (exporter_config_init(&cfg))
		return 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case O_COUNT:
			env.count = parse_long("--count", optarg, 0, LONG_MAX);
			break;
		case O_RATE:
			env.rate = parse_long("--rate", optarg, 0, 100000000);
			break;
		case O_RES:
			env.resources = parse_long("--resources", optarg, 1, 1000);
			break;
		case O_ENDPOINT:
			free(cfg.endpoint);
			cfg.endpoint = strdup(optarg);
			break;
		case O_BATCH:
			cfg.batch_size = parse_long("--batch-size", optarg, 1, 1 << 20);
			break;
		case O_BATCH_MS:
			cfg.batch_timeout_ms = parse_long("--batch-timeout-ms", optarg, 0, INT_MAX);
			break;
		case O_QUEUE:
			cfg.queue_batches = parse_long("--queue-batches", optarg, 1, 1 << 20);
			break;
		case O_TIMEOUT:
			cfg.timeout_ms = parse_long("--timeout-ms", optarg, 1, INT_MAX);
			break;
		case O_SHUTDOWN:
			cfg.shutdown_ms = parse_long("--shutdown-ms", optarg, 0, INT_MAX);
			break;
		case O_RETRY_MAX:
			cfg.retry_max_ms = parse_long("--retry-max-ms", optarg, 0, INT_MAX);
			break;
		case O_NOGZIP:
			cfg.gzip = false;
			break;
		case O_BENCH:
			env.bench = true;
			break;
		case O_ZIPKIN:
			cfg.format = EXPORTER_ZIPKIN;
			break;
		case O_DURATION:
			env.duration = parse_long("--duration", optarg, 1, 3600);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (env.bench && !cfg.endpoint)
		cfg.endpoint = sink_start();
	if (!cfg.endpoint) {
		fprintf(stderr, "span_gen: no endpoint: set --endpoint or OTEL_EXPORTER_OTLP_ENDPOINT\n");
		return 2;
	}

	res = calloc(env.resources, sizeof(*res));
	for (int i = 0; i < env.resources; i++) {
		char name[32];

		res[i] = resource_new(1000 + i);
		snprintf(name, sizeof(name), "span-gen-%d", i);
		resource_set_str(res[i], "service.name", name);
		resource_set_int(res[i], "process.pid", 1000 + i);
	}
	e = exporter_start(&cfg);
	if (!e)
		return 1;

	t0 = now_ns();
	for (long i = 0; env.bench || i < env.count; i++) {
		uint64_t now = now_ns();

		if (env.bench) {
			if (now - t0 >= env.duration * 1e9)
				break;
			/* Measure the exporter, not the drop path: keep
			 * the backlog under half the queue. */
			if ((i & 63) == 0) {
				for (;;) {
					exporter_get_stats(e, &st);
					if (backlog(&st) < (uint64_t)cfg.batch_size *
							   (cfg.queue_batches / 2 + 1))
						break;
					usleep(200);
				}
			}
		} else if (env.rate > 0) {
			uint64_t due = t0 + (uint64_t)(i / env.rate * 1e9);

			if (due > now)
				usleep((due - now) / 1000);
		}
		exporter_submit(e, gen_span(i, res));
		produced++;
	}
	t_stop = now_ns();
	exporter_stop_stats(e, &st);
	t_end = now_ns();
	peak_rss_kb = vm_hwm_kb();

	printf("{\"produced\": %ld, \"spans_in\": %llu, \"spans_exported\": %llu, "
	       "\"spans_rejected\": %llu, \"spans_dropped_queue\": %llu, "
	       "\"spans_dropped_error\": %llu, \"spans_dropped_shutdown\": %llu, "
	       "\"requests\": %llu, \"retries\": %llu, \"export_errors\": %llu, "
	       "\"produce_ms\": %.1f, \"stop_ms\": %.1f, \"peak_rss_kb\": %ld",
	       produced, (unsigned long long)st.spans_in,
	       (unsigned long long)st.spans_exported,
	       (unsigned long long)st.spans_rejected,
	       (unsigned long long)st.spans_dropped_queue,
	       (unsigned long long)st.spans_dropped_error,
	       (unsigned long long)st.spans_dropped_shutdown,
	       (unsigned long long)st.requests, (unsigned long long)st.retries,
	       (unsigned long long)st.export_errors, (t_stop - t0) / 1e6,
	       (t_end - t_stop) / 1e6, peak_rss_kb);
	if (env.bench)
		printf(", \"spans_per_sec\": %.0f",
		       st.spans_exported / ((t_end - t0) / 1e9));
	printf("}\n");

	for (int i = 0; i < env.resources; i++)
		resource_unref(res[i]);
	free(res);
	exporter_config_free(&cfg);
	return 0;
}
