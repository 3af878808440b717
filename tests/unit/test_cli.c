// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for user/cli.c: the option table parses as documented, and the
 * README's OPTIONS table is the one the option table produces. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"
#include "test.h"

static struct env env;

/* cli_parse on a NULL-terminated list of words after "weft". */
static int parse(const char *const *words)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = "weft";
	for (; *words && argc < 31; words++)
		argv[argc++] = (char *)*words;
	argv[argc] = NULL;
	optind = 0;		/* getopt starts over */
	cli_free(&env);
	return cli_parse(&env, argc, argv);
}

#define PARSE(...) parse((const char *const[]){ __VA_ARGS__, NULL })

static bool test_defaults_and_values(void)
{
	CHECK_INT(PARSE("-o", "json"), 0);
	CHECK_INT(env.output, OUTPUT_JSON);
	CHECK(env.output_set);
	CHECK_INT(env.lo.hooks, HOOKS_AUTO);
	CHECK_INT(env.lo.hdr_window, WEFT_HDR_WINDOW_DEFAULT);
	CHECK_INT(env.lo.body_capture, WEFT_BODY_CAPTURE_DEFAULT);
	CHECK_INT(env.lo.ringbuf_mb, 16);
	CHECK_INT(PARSE("-p", "42", "--pid", "43", "-P", "8080", "--capture-bytes", "0",
			"--header-window", "256", "--hooks", "syscalls", "--link-mode", "derived",
			"--trace-telemetry", "--keep-instrumented", "--batch-timeout", "500",
			"-d", "3", "--stats", "1", "--ringbuf-mb", "64", "-v"), 0);
	CHECK_INT(env.lo.n_pids, 2);
	CHECK_INT(env.lo.pids[1], 43);
	CHECK_INT(env.lo.n_ports, 1);
	CHECK_INT(env.lo.ports[0], 8080);
	CHECK_INT(env.lo.body_capture, 0);
	CHECK_INT(env.lo.hdr_window, 256);
	CHECK_INT(env.lo.hooks, HOOKS_SYSCALLS);
	CHECK_INT(env.link_mode, LINK_DERIVED);
	CHECK(env.trace_telemetry);
	CHECK(env.keep_instrumented);
	CHECK(!env.keep_unsampled);
	CHECK_INT(env.ex.batch_timeout_ms, 500);
	CHECK_INT(env.duration_s, 3);
	CHECK_INT(env.stats_s, 1);
	CHECK_INT(env.lo.ringbuf_mb, 64);
	CHECK(env.lo.verbose);
	return true;
}

static bool test_strings_and_endpoint(void)
{
	CHECK_INT(PARSE("--otlp-endpoint", "http://c:4318/", "--otlp-ca", "/x/ca.pem",
			"--otlp-header", "authorization=Bearer%20T", "--otlp-compression", "none",
			"--service-name", "svc"), 0);
	CHECK_STR(env.ex.endpoint, "http://c:4318/v1/traces");
	CHECK_STR(env.ex.ca_file, "/x/ca.pem");
	CHECK_INT(env.ex.n_headers, 1);
	CHECK(!env.ex.gzip);
	CHECK_STR(env.ex.service_name, "svc");
	CHECK_INT(PARSE("--otlp-traces-endpoint", "http://c/t"), 0);
	CHECK_STR(env.ex.endpoint, "http://c/t");
	return true;
}

/* --comm alone goes to the kernel; with --exe the agent decides. */
static bool test_comm_filter_placement(void)
{
	CHECK_INT(PARSE("-c", "a-very-long-command-name", "-c", "b"), 0);
	CHECK_INT(env.lo.n_comms, 2);
	CHECK_STR(env.lo.comms[0], "a-very-long-com");	/* the kernel's 15 */
	CHECK_INT(PARSE("-c", "a", "-e", "b"), 0);
	CHECK_INT(env.lo.n_comms, 0);
	CHECK_INT(env.names.n_comms, 1);
	CHECK_INT(env.names.n_exes, 1);
	return true;
}

static bool test_bad_input(void)
{
	CHECK_INT(PARSE("-o", "yaml"), -1);
	CHECK_INT(PARSE("--hooks", "kprobe"), -1);
	CHECK_INT(PARSE("-P", "0"), -1);
	CHECK_INT(PARSE("-P", "65536"), -1);
	CHECK_INT(PARSE("-p", "12x"), -1);
	CHECK_INT(PARSE("--ringbuf-mb", "3"), -1);
	CHECK_INT(PARSE("--header-window", "255"), -1);
	CHECK_INT(PARSE("--capture-bytes", "4097"), -1);
	CHECK_INT(PARSE("--otlp-compression", "zstd"), -1);
	CHECK_INT(PARSE("--no-such-option"), -1);
	CHECK_INT(PARSE("stray"), -1);
	CHECK_INT(PARSE("--netns", "/no/such/netns"), -1);
	return true;
}

/* README.md's OPTIONS table is exactly cli_options_markdown(): a new option
 * is documented or this fails, printing the table to paste. */
static bool test_readme_table(void)
{
	char *want = NULL, *readme = NULL, *start, *end;
	size_t wl = 0, rl = 0;
	FILE *f = open_memstream(&want, &wl);
	bool ok;

	cli_options_markdown(f);
	fclose(f);
	f = fopen("README.md", "r");
	if (!f)
		f = fopen("../../README.md", "r");
	CHECK(f != NULL);
	CHECK(getdelim(&readme, &rl, '\0', f) > 0);
	fclose(f);
	start = strstr(readme, "### OPTIONS\n");
	CHECK(start != NULL);
	start = strstr(start, "| option | meaning |");
	CHECK(start != NULL);
	end = strstr(start, "\n\n");
	CHECK(end != NULL);
	ok = (size_t)(end + 1 - start) == wl && memcmp(start, want, wl) == 0;
	if (!ok)
		fprintf(stderr, "  README.md's OPTIONS table differs from user/cli.c's "
			"options[]; it should read:\n%s", want);
	free(want);
	free(readme);
	CHECK(ok);
	return true;
}

int main(void)
{
	RUN(test_defaults_and_values);
	RUN(test_strings_and_endpoint);
	RUN(test_comm_filter_placement);
	RUN(test_bad_input);
	RUN(test_readme_table);
	cli_free(&env);
	return TEST_SUMMARY();
}
