// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for user/opsserver.c: --metrics-addr parsing, the probes'
 * answers, the Prometheus text (checked line by line against the
 * exposition grammar) and the HTTP server itself on a loopback port. No BPF. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "opsserver.h"
#include "util.h"
#include "test.h"

/* ---- --metrics-addr ---- */

static bool parses(const char *spec, const char *host, unsigned port)
{
	char h[64];
	unsigned p = 99999;

	if (ops_parse_addr(spec, h, sizeof(h), &p))
		return false;
	return strcmp(h, host) == 0 && p == port;
}

static bool test_parse_addr(void)
{
	char h[64];
	unsigned p;

	CHECK(parses(":9464", "", 9464));
	CHECK(parses("9464", "", 9464));
	CHECK(parses("127.0.0.1:9464", "127.0.0.1", 9464));
	CHECK(parses("[::1]:9464", "::1", 9464));
	CHECK(parses("[::]:1", "::", 1));
	CHECK(parses("localhost:0", "localhost", 0));
	CHECK(parses(":65535", "", 65535));
	fprintf(stderr, "  (the messages below are expected)\n");
	CHECK(ops_parse_addr("::1:9464", h, sizeof(h), &p) == -1);
	CHECK(ops_parse_addr("[::1]", h, sizeof(h), &p) == -1);
	CHECK(ops_parse_addr("[::1]9464", h, sizeof(h), &p) == -1);
	CHECK(ops_parse_addr("[]:9464", h, sizeof(h), &p) == -1);
	CHECK(ops_parse_addr("x", h, sizeof(h), &p) == -1);
	CHECK(ops_parse_addr(":", h, sizeof(h), &p) == -1);
	CHECK(ops_parse_addr(":65536", h, sizeof(h), &p) == -1);
	CHECK(ops_parse_addr("host:-1", h, sizeof(h), &p) == -1);
	CHECK(ops_parse_addr("a-very-long-host-name-that-does-not-fit-in-the-buffer-given:1",
			     h, 16, &p) == -1);
	return true;
}

/* ---- probes ---- */

#define S(n) ((uint64_t)(n) * 1000000000ULL)

static bool test_probes(void)
{
	char m[160];

	CHECK_INT(ops_probe(true, OPS_RUNNING, 0, m, sizeof(m)), 200);
	CHECK_STR(m, "ok\n");
	CHECK_INT(ops_probe(true, OPS_RUNNING, S(9), m, sizeof(m)), 200);
	CHECK_INT(ops_probe(true, OPS_RUNNING, S(11), m, sizeof(m)), 503);
	CHECK(strstr(m, "stalled") && strstr(m, "11 s"));
	/* the BPF load and the first /proc scan may take a while */
	CHECK_INT(ops_probe(true, OPS_STARTING, S(30), m, sizeof(m)), 200);
	CHECK_INT(ops_probe(true, OPS_STARTING, S(61), m, sizeof(m)), 503);

	CHECK_INT(ops_probe(false, OPS_STARTING, 0, m, sizeof(m)), 503);
	CHECK(strncmp(m, "not ready: ", 11) == 0 && strstr(m, "BPF"));
	CHECK_INT(ops_probe(false, OPS_ATTACHED, 0, m, sizeof(m)), 503);
	CHECK(strstr(m, "ring buffer"));
	CHECK_INT(ops_probe(false, OPS_STOPPING, 0, m, sizeof(m)), 503);
	CHECK(strstr(m, "shutting down"));
	CHECK_INT(ops_probe(false, OPS_RUNNING, 0, m, sizeof(m)), 200);
	CHECK_STR(m, "ready\n");
	/* a stuck loop is not ready either */
	CHECK_INT(ops_probe(false, OPS_RUNNING, S(20), m, sizeof(m)), 503);
	/* every reason is one line */
	for (int live = 0; live < 2; live++)
		for (int st = OPS_STARTING; st <= OPS_STOPPING; st++) {
			ops_probe(live, st, S(100), m, sizeof(m));
			CHECK(strchr(m, '\n') == m + strlen(m) - 1);
		}
	return true;
}

/* ---- the exposition format ---- */

#define MAX_FAMILIES 128

struct families {
	char name[MAX_FAMILIES][96];
	char type[MAX_FAMILIES][16];
	bool help[MAX_FAMILIES];
	int n;
};

static int family_of(struct families *f, const char *name, size_t len)
{
	for (int i = 0; i < f->n; i++)
		if (strlen(f->name[i]) == len && !memcmp(f->name[i], name, len))
			return i;
	return -1;
}

static size_t name_len(const char *p)
{
	size_t n = 0;

	if (!isalpha((unsigned char)p[0]) && p[0] != '_' && p[0] != ':')
		return 0;
	while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == ':')
		n++;
	return n;
}

/* {name="value",...}: returns the characters taken, 0 when malformed. */
static size_t labels_len(const char *p)
{
	const char *q = p + 1;

	if (*p != '{')
		return 0;
	while (*q != '}') {
		size_t n = name_len(q);

		if (!n || q[n] != '=' || q[n + 1] != '"')
			return 0;
		for (q += n + 2; *q != '"'; q++) {
			if (!*q || *q == '\n')
				return 0;
			if (*q == '\\') {
				q++;
				if (*q != '\\' && *q != '"' && *q != 'n')
					return 0;
			}
		}
		q++;
		if (*q == ',')
			q++;
		else if (*q != '}')
			return 0;
	}
	return q + 1 - p;
}

static bool is_number(const char *s)
{
	char *end;

	if (!*s)
		return false;
	errno = 0;
	strtod(s, &end);
	return *end == '\0' && errno == 0;
}

/* One "# HELP" / "# TYPE" line; the family must be new or just helped. */
static bool comment_line(struct families *f, const char *l)
{
	bool help = !strncmp(l, "# HELP ", 7);
	const char *name = l + 7;
	size_t n;
	int i;

	if (!help && strncmp(l, "# TYPE ", 7))
		return false;
	n = name_len(name);
	if (!n || name[n] != ' ' || !name[n + 1])
		return false;
	i = family_of(f, name, n);
	if (help) {
		if (i >= 0 || f->n == MAX_FAMILIES)
			return false;	/* one HELP per family, before its TYPE */
		i = f->n++;
		memcpy(f->name[i], name, n);
		f->name[i][n] = '\0';
		f->help[i] = true;
		return true;
	}
	if (i < 0 || f->type[i][0])
		return false;
	if (strcmp(name + n + 1, "counter") && strcmp(name + n + 1, "gauge"))
		return false;
	snprintf(f->type[i], sizeof(f->type[i]), "%s", name + n + 1);
	return true;
}

/* One sample: its family has HELP and TYPE already. */
static bool sample_line(struct families *f, const char *l)
{
	size_t n = name_len(l), ln = 0;
	int i;

	if (!n)
		return false;
	i = family_of(f, l, n);
	if (i < 0 || !f->help[i] || !f->type[i][0])
		return false;
	if (l[n] == '{') {
		ln = labels_len(l + n);
		if (!ln)
			return false;
	}
	return l[n + ln] == ' ' && is_number(l + n + ln + 1);
}

/* Every line of text is a comment or a sample of a declared family;
 * names are weft_*, counters end in _total. */
static bool exposition_ok(char *text, struct families *f)
{
	char *line, *save = NULL;

	memset(f, 0, sizeof(*f));
	if (!*text || text[strlen(text) - 1] != '\n')
		return false;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		bool ok = line[0] == '#' ? comment_line(f, line) : sample_line(f, line);

		if (!ok) {
			fprintf(stderr, "  bad line: %s\n", line);
			return false;
		}
	}
	for (int i = 0; i < f->n; i++) {
		size_t len = strlen(f->name[i]);
		bool total = len > 6 && !strcmp(f->name[i] + len - 6, "_total");

		if (strncmp(f->name[i], "weft_", 5) || !f->type[i][0] ||
		    total != !strcmp(f->type[i], "counter")) {
			fprintf(stderr, "  bad family: %s (%s)\n", f->name[i], f->type[i]);
			return false;
		}
	}
	return true;
}

static void fill(struct ops_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < WEFT_CNT_MAX; i++)
		s->kernel[i] = 100 + i;
	s->agent = (struct ops_agent_counts){ 11, 12, 13, 14 };
	s->pairing.spans = 21;
	s->pairing.conns_open = 22;
	s->pairing.conns_open_peak = 40;
	s->pairing.framing.not_http = 23;
	s->pairing.timed_out = 24;
	s->pairing.go_handlers = 41;
	s->pairing.go_handlers_unplaced = 42;
	s->links.wire_links = 31;
	s->links.wire_miss_late_max_ns = 1500000;
	s->exporting = true;
	s->exporter.requests = 10;
	s->exporter.export_errors = 4;
	s->exporter.retries = 3;
	s->exporter.spans_dropped_queue = 41;
	s->exporter.status_class[0] = 2;
	s->exporter.status_class[2] = 6;
	s->exporter.status_class[5] = 2;
	s->ready = true;
	s->ring_size = 16 << 20;
	s->ring_used = 4096;
	s->ring_used_max = 65536;
	s->rss_bytes = 12345678;
	s->cpu_seconds = 1.25;
	s->version = "1.2 \"odd\" \\ver\nsion";
	s->libbpf_version = "v1.1";
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = strstr(text, line); p; p = strstr(p + 1, line))
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	fprintf(stderr, "  missing line: %s\n", line);
	return false;
}

static bool test_metrics_text(void)
{
	struct ops_snapshot s;
	struct families *f = calloc(1, sizeof(*f));
	size_t len;
	char *text, *copy;
	bool ok;

	CHECK(f);
	fill(&s);
	text = ops_metrics_text(&s, &len);
	CHECK(text && len == strlen(text));
	copy = strdup(text);
	ok = copy && exposition_ok(copy, f);
	free(copy);
	if (ok) {
		ok = has_line(text, "weft_build_info{version=\"1.2 \\\"odd\\\" \\\\ver\\nsion\","
				    "libbpf=\"v1.1\"} 1") &&
		     has_line(text, "weft_ready 1") &&
		     has_line(text, "weft_kernel_events_total{event=\"ringbuf_full\"} 102") &&
		     has_line(text, "weft_kernel_events_total{event=\"own_endpoint_connection\"} 108") &&
		     has_line(text, "weft_records_total 11") &&
		     has_line(text, "weft_records_filtered_total 12") &&
		     has_line(text, "weft_spans_output_total 13") &&
		     has_line(text, "weft_spans_unsampled_total 14") &&
		     has_line(text, "weft_spans_total 21") &&
		     has_line(text, "weft_connections_open 22") &&
		     has_line(text, "weft_connections_open_peak 40") &&
		     has_line(text, "weft_agent_events_total{event=\"not_http\"} 23") &&
		     has_line(text, "weft_agent_events_total{event=\"timed_out\"} 24") &&
		     has_line(text, "weft_go_h2_handlers_total{result=\"tied\"} 41") &&
		     has_line(text, "weft_go_h2_handlers_total{result=\"stream_not_found\"} 42") &&
		     has_line(text, "weft_links_total{scope=\"node\"} 31") &&
		     has_line(text, "weft_link_miss_late_max_seconds 0.0015") &&
		     has_line(text, "weft_export_spans_dropped_total{reason=\"queue_full\"} 41") &&
		     has_line(text, "weft_export_requests_total{result=\"ok\"} 6") &&
		     has_line(text, "weft_export_requests_total{result=\"retry\"} 3") &&
		     has_line(text, "weft_export_requests_total{result=\"failed\"} 1") &&
		     has_line(text, "weft_export_responses_total{status_class=\"none\"} 2") &&
		     has_line(text, "weft_export_responses_total{status_class=\"5xx\"} 2") &&
		     has_line(text, "weft_ringbuf_size_bytes 16777216") &&
		     has_line(text, "weft_ringbuf_used_bytes 4096") &&
		     has_line(text, "weft_ringbuf_used_max_bytes 65536") &&
		     has_line(text, "weft_process_resident_memory_bytes 12345678") &&
		     has_line(text, "weft_process_cpu_seconds_total 1.25");
	}
	/* the counter the BPF side never counts is not shown */
	ok = ok && !strstr(text, "evict");
	free(text);
	free(f);
	CHECK(ok);
	return true;
}

/* The checker itself rejects what the format does not allow. */
static bool rejects(const char *text)
{
	struct families *f = calloc(1, sizeof(*f));
	char *copy = strdup(text);
	bool ok = f && copy && !exposition_ok(copy, f);

	free(copy);
	free(f);
	return ok;
}

static bool test_checker(void)
{
	fprintf(stderr, "  (the bad lines below are expected)\n");
	CHECK(rejects("weft_x_total 1\n"));			/* no HELP/TYPE */
	CHECK(rejects("# HELP weft_x_total h\n# TYPE weft_x_total counter\nweft_x_total\n"));
	CHECK(rejects("# HELP weft_x h\n# TYPE weft_x counter\nweft_x 1\n"));	/* no _total */
	CHECK(rejects("# HELP weft_x_total h\n# TYPE weft_x_total gauge\nweft_x_total 1\n"));
	CHECK(rejects("# HELP x_total h\n# TYPE x_total counter\nx_total 1\n"));	/* prefix */
	CHECK(rejects("# HELP weft_x h\n# TYPE weft_x gauge\nweft_x{a=\"b\\q\"} 1\n"));
	CHECK(rejects("# HELP weft_x h\n# TYPE weft_x gauge\nweft_x{a=b} 1\n"));
	CHECK(rejects("# HELP weft_x h\n# TYPE weft_x gauge\nweft_x 1x\n"));
	CHECK(rejects("# HELP weft_x h\n# TYPE weft_x gauge\nweft_x 1"));	/* no newline */
	CHECK(!rejects("# HELP weft_x h\n# TYPE weft_x gauge\nweft_x{a=\"\\\"\",b=\"\"} 1.5\n"));
	return true;
}

/* ---- the server, on a loopback port ---- */

struct resp {
	int status;
	char raw[65536];
	const char *body;
};

static bool http(unsigned port, const char *method, const char *path, struct resp *r)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char req[256];
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return false;
	}
	/* HTTP/1.0: the server closes when done, the reply ends at EOF */
	snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: t\r\n\r\n", method, path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return false;
	}
	while (got < sizeof(r->raw) - 1 && (n = read(fd, r->raw + got, sizeof(r->raw) - 1 - got)) > 0)
		got += n;
	close(fd);
	r->raw[got] = '\0';
	r->body = strstr(r->raw, "\r\n\r\n");
	if (!r->body || sscanf(r->raw, "HTTP/1.%*d %d", &r->status) != 1)
		return false;
	r->body += 4;
	return true;
}

static bool test_server(void)
{
	static struct resp r;
	struct ops_agent_counts c = { .records = 5, .spans_output = 2 };
	struct ops_server *s, *again;
	struct families *f;
	char spec[32], *copy;
	unsigned port;
	bool ok;

	s = ops_start("127.0.0.1:0");
	CHECK(s);
	port = ops_port(s);
	CHECK(port > 0);
	CHECK(http(port, "GET", "/healthz", &r) && r.status == 200);
	CHECK_STR(r.body, "ok\n");
	CHECK(http(port, "GET", "/readyz", &r) && r.status == 503);
	CHECK(strstr(r.body, "not ready: "));
	/* attached (no BPF here), then the first drain pass: ready */
	ops_attached(s, NULL);
	CHECK(http(port, "GET", "/readyz", &r) && r.status == 503);
	ops_tick(s, now_mono_ns(), &c, NULL, NULL, NULL);
	CHECK(http(port, "GET", "/readyz", &r) && r.status == 200);
	CHECK(http(port, "GET", "/metrics", &r) && r.status == 200);
	CHECK(strstr(r.raw, "Content-Type: text/plain; version=0.0.4"));
	CHECK(has_line(r.body, "weft_records_total 5"));
	CHECK(has_line(r.body, "weft_spans_output_total 2"));
	CHECK(has_line(r.body, "weft_ready 1"));
	CHECK(has_line(r.body, "weft_export_enabled 0"));
	f = calloc(1, sizeof(*f));
	copy = strdup(r.body);
	ok = f && copy && exposition_ok(copy, f);
	free(copy);
	free(f);
	CHECK(ok);
	CHECK(http(port, "HEAD", "/metrics", &r) && r.status == 200);
	CHECK_STR(r.body, "");
	CHECK(http(port, "GET", "/", &r) && r.status == 404);
	CHECK(http(port, "GET", "/metrics/x", &r) && r.status == 404);
	CHECK(http(port, "POST", "/metrics", &r) && r.status == 405);
	CHECK(strstr(r.raw, "Allow: GET, HEAD"));
	CHECK(http(port, "DELETE", "/healthz", &r) && r.status == 405);

	/* the port is taken: a clear failure, no second server */
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", port);
	fprintf(stderr, "  (the message below is expected)\n");
	again = ops_start(spec);
	CHECK(!again);

	ops_stop(s);
	/* stopped: the listening socket is closed */
	CHECK(!http(port, "GET", "/healthz", &r));
	return true;
}

int main(void)
{
	RUN(test_parse_addr);
	RUN(test_probes);
	RUN(test_metrics_text);
	RUN(test_checker);
	RUN(test_server);
	return TEST_SUMMARY();
}
