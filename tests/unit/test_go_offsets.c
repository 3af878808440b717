// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for user/go_offsets.c: version parsing, the table's coverage,
 * and the table against the DWARF of the Go test apps built here
 * (build/apps/go1.19/goserver, build/apps/go1.26/goserver, from
 * tests/apps/build.sh), read by scripts/go-offsets (debug/dwarf), which
 * this test builds with Go 1.26 ($GO126, default /usr/local/go/bin/go).
 * Fails, saying why, when a binary or the toolchain is missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "go_h2_offsets.h"
#include "go_offsets.h"
#include "test.h"

static const char *const go_apps[] = {
	"build/apps/go1.19/goserver",
	"build/apps/go1.26/goserver",
};

static bool test_version_minor(void)
{
	CHECK_INT(go_version_minor("go1.26.8"), 26);
	CHECK_INT(go_version_minor("go1.19"), 19);
	CHECK_INT(go_version_minor("go1.22rc1"), 22);
	CHECK_INT(go_version_minor("go1.21beta2"), 21);
	CHECK_INT(go_version_minor("go1.21.0 X:boringcrypto"), 21);
	CHECK_INT(go_version_minor("devel go1.27-abcdef Tue"), -1);
	CHECK_INT(go_version_minor("go2.0"), -1);
	CHECK_INT(go_version_minor("go1."), -1);
	CHECK_INT(go_version_minor("go1.2x"), -1);
	CHECK_INT(go_version_minor("go1.123456"), -1);
	CHECK_INT(go_version_minor(""), -1);
	CHECK_INT(go_version_minor(NULL), -1);
	return true;
}

static bool test_table_coverage(void)
{
	struct go_offsets o;
	int lo, hi;
	char v[32];

	go_offsets_covered(&lo, &hi);
	CHECK(lo <= 19 && hi >= 26);
	for (int m = lo; m <= hi; m++) {	/* no gaps */
		snprintf(v, sizeof(v), "go1.%d.3", m);
		CHECK_INT(go_offsets_for(v, &o), 0);
		CHECK(go_offsets_source(v) != NULL);
	}
	snprintf(v, sizeof(v), "go1.%d.0", lo - 1);
	CHECK_INT(go_offsets_for(v, &o), -1);
	CHECK(go_offsets_source(v) == NULL);
	snprintf(v, sizeof(v), "go1.%d.0", hi + 1);
	CHECK_INT(go_offsets_for(v, &o), -1);
	CHECK_INT(go_offsets_for("devel go1.27-abc", &o), -1);
	CHECK_INT(go_offsets_for("go1.26.8", NULL), -1);
	CHECK_INT(go_offsets_for("go1.26.8", &o), 0);
	CHECK_INT(o.pfd_sysfd, 16);
	CHECK_INT(o.iface_data, 8);
	return true;
}

/* Build scripts/go-offsets into build/go-offsets/go-offsets. */
static bool build_reader(char *reader, size_t size)
{
	const char *go = getenv("GO126") ? getenv("GO126") : "/usr/local/go/bin/go";
	char cwd[512], cmd[2048];
	int rc;

	if (!getcwd(cwd, sizeof(cwd)))
		return false;
	if (access(go, X_OK) != 0) {
		fprintf(stderr, "  Go toolchain %s missing (set GO126): cannot read DWARF\n", go);
		return false;
	}
	snprintf(reader, size, "%s/build/go-offsets/go-offsets", cwd);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s/build/gocache' && cd scripts/go-offsets && "
		 "GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 "
		 "GOCACHE='%s/build/gocache' '%s' build -o '%s' . 2>&1",
		 cwd, cwd, go, reader);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "  building scripts/go-offsets failed (%d)\n", rc);
	return rc == 0;
}

/* "go1.26.8 tls_conn_conn=0 ..." for one binary, compared with the table. */
static bool check_binary(const char *reader, const char *bin)
{
	char cmd[1024], line[512], ver[64], *tok, *save = NULL;
	struct go_offsets o;
	FILE *f;
	int n = 0;

	if (access(bin, R_OK) != 0) {
		fprintf(stderr, "  %s missing: run tests/apps/build.sh first\n", bin);
		return false;
	}
	snprintf(cmd, sizeof(cmd), "'%s' '%s'", reader, bin);
	f = popen(cmd, "r");
	CHECK(f);
	line[0] = '\0';
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	CHECK_INT(pclose(f), 0);
	printf("  %s: %s", bin, line);
	tok = strtok_r(line, " \n", &save);
	CHECK(tok);
	snprintf(ver, sizeof(ver), "%s", tok);
	CHECK_INT(go_offsets_for(ver, &o), 0);
	while ((tok = strtok_r(NULL, " \n", &save))) {
		char key[32];
		long val;

		CHECK(sscanf(tok, "%31[a-z_]=%ld", key, &val) == 2);
		if (strcmp(key, "tls_conn_conn") == 0)
			CHECK_INT(o.tls_conn_conn, val);
		else if (strcmp(key, "iface_data") == 0)
			CHECK_INT(o.iface_data, val);
		else if (strcmp(key, "tcpconn_fd") == 0)
			CHECK_INT(o.tcpconn_fd, val);
		else if (strcmp(key, "netfd_pfd") == 0)
			CHECK_INT(o.netfd_pfd, val);
		else if (strcmp(key, "pfd_sysfd") == 0)
			CHECK_INT(o.pfd_sysfd, val);
		else
			CHECK(!"unknown key from go-offsets");
		n++;
	}
	CHECK_INT(n, 5);	/* every field of struct go_offsets compared */
	printf("  %s: table row for %s agrees (%s)\n", bin, ver, go_offsets_source(ver));
	return true;
}

static bool test_table_matches_dwarf(void)
{
	char reader[600];
	bool ok = true;

	CHECK(build_reader(reader, sizeof(reader)));
	for (size_t i = 0; i < sizeof(go_apps) / sizeof(go_apps[0]); i++)
		ok &= check_binary(reader, go_apps[i]);
	CHECK(ok);
	return true;
}

/* ---- HTTP/2 stream ids (go_h2_offsets.h) ---- */

static bool test_h2_release_minor(void)
{
	int ma, mi;

	CHECK_INT(go_release_minor("v1.58.3", &ma, &mi), 0);
	CHECK_INT(ma, 1);
	CHECK_INT(mi, 58);
	CHECK_INT(go_release_minor("go1.26.8", &ma, &mi), 0);
	CHECK_INT(mi, 26);
	CHECK_INT(go_release_minor("go1.22rc1", &ma, &mi), 0);
	CHECK_INT(mi, 22);
	CHECK_INT(go_release_minor("v0.17.0", &ma, &mi), 0);
	CHECK_INT(ma, 0);
	CHECK_INT(mi, 17);
	/* pseudo-versions, local replacements, nothing: no release */
	CHECK_INT(go_release_minor("v0.0.0-20231010175209-2bde1b2e3c88", &ma, &mi), -1);
	/* a pre-release may differ from its release: none either */
	CHECK_INT(go_release_minor("v1.59.0-pre1", &ma, &mi), -1);
	CHECK_INT(go_release_minor("(devel)", &ma, &mi), -1);
	CHECK_INT(go_release_minor("", &ma, &mi), -1);
	CHECK_INT(go_release_minor(NULL, &ma, &mi), -1);
	CHECK_INT(go_release_minor("v1", &ma, &mi), -1);
	return true;
}

static bool path_is(enum go_h2_kind k, const char *rel, int n, int o0, int o1, int o2)
{
	struct go_h2_path p;

	CHECK_INT(go_h2_path_for(k, rel, &p), 0);
	CHECK_INT(p.n, n);
	CHECK_INT(p.off[0], o0);
	CHECK_INT(p.off[1], o1);
	CHECK_INT(p.off[2], o2);
	CHECK(p.source && p.source[0]);
	return true;
}

static bool test_h2_table(void)
{
	struct go_h2_path p;

	/* net/http by Go release, every one weft's TLS table covers too */
	for (int m = 19; m <= 26; m++) {
		char v[32];

		snprintf(v, sizeof(v), "go1.%d.3", m);
		CHECK(path_is(GO_H2_NETHTTP, v, 3, 0, 0, 8));
	}
	CHECK_INT(go_h2_path_for(GO_H2_NETHTTP, "go1.18.10", &p), -1);
	CHECK_INT(go_h2_path_for(GO_H2_NETHTTP, "go1.27.0", &p), -1);
	CHECK(path_is(GO_H2_XNET, "v0.17.0", 3, 0, 0, 8));
	CHECK(path_is(GO_H2_XNET, "v0.63.1", 3, 0, 0, 8));
	CHECK_INT(go_h2_path_for(GO_H2_XNET, "v0.9.0", &p), -1);
	/* grpc-go: *Stream; *ServerStream embedding *Stream; then by value */
	CHECK(path_is(GO_H2_GRPC, "v1.58.3", 1, 0, 0, 0));
	CHECK(path_is(GO_H2_GRPC, "v1.70.2", 2, 0, 0, 0));
	CHECK(path_is(GO_H2_GRPC, "v1.83.2", 1, 108, 0, 0));
	CHECK_INT(go_h2_path_for(GO_H2_GRPC, "v1.74.0", &p), -1);	/* never served */
	CHECK_INT(go_h2_path_for(GO_H2_GRPC, "v1.49.0", &p), -1);
	CHECK_INT(go_h2_path_for(GO_H2_GRPC, "v2.0.0", &p), -1);
	CHECK_INT(go_h2_path_for(GO_H2_GRPC, "", &p), -1);
	/* a kind's row is never another's */
	CHECK_INT(go_h2_path_for(GO_H2_XNET, "v1.58.3", &p), -1);
	return true;
}

/* The apps built here: every HTTP/2 server go-offsets -h2 finds in their
 * DWARF has the table's path for its release. */
static const char *const h2_apps[] = {
	"build/apps/go1.19/gotls",
	"build/apps/go1.26/gotls",
	"build/apps/go1.19/gogrpc",
	"build/apps/go1.26/gogrpc",
	"build/apps/go1.26/goh2",
	"build/apps/go1.26/sdkgo",
};

static bool check_h2_binary(const char *reader, const char *bin, int *lines)
{
	char cmd[1024], line[256];
	FILE *f;

	if (access(bin, R_OK) != 0) {
		fprintf(stderr, "  %s missing: run tests/apps/build.sh first\n", bin);
		return false;
	}
	snprintf(cmd, sizeof(cmd), "'%s' -h2 '%s'", reader, bin);
	f = popen(cmd, "r");
	CHECK(f);
	while (fgets(line, sizeof(line), f)) {
		char kind[16], rel[64];
		int o[3] = { 0 }, n;
		enum go_h2_kind k;

		printf("  %s: %s", bin, line);
		CHECK(sscanf(line, "%15s %63s %d,%d,%d", kind, rel, &o[0], &o[1], &o[2]) >= 3);
		n = (int)(strchr(line, ',') ? (strchr(strchr(line, ',') + 1, ',') ? 3 : 2) : 1);
		k = strcmp(kind, "nethttp") == 0 ? GO_H2_NETHTTP :
		    strcmp(kind, "xnet") == 0 ? GO_H2_XNET : GO_H2_GRPC;
		CHECK(path_is(k, rel, n, o[0], n > 1 ? o[1] : 0, n > 2 ? o[2] : 0));
		(*lines)++;
	}
	CHECK_INT(pclose(f), 0);
	return true;
}

static bool test_h2_table_matches_dwarf(void)
{
	char reader[600];
	bool ok = true;
	int lines = 0;

	CHECK(build_reader(reader, sizeof(reader)));
	for (size_t i = 0; i < sizeof(h2_apps) / sizeof(h2_apps[0]); i++)
		ok &= check_h2_binary(reader, h2_apps[i], &lines);
	CHECK(ok);
	CHECK(lines >= 8);	/* nethttp x3, xnet x3, grpc x3 (v1.58 and v1.83) */
	return true;
}

int main(void)
{
	RUN(test_version_minor);
	RUN(test_table_coverage);
	RUN(test_table_matches_dwarf);
	RUN(test_h2_release_minor);
	RUN(test_h2_table);
	RUN(test_h2_table_matches_dwarf);
	return TEST_SUMMARY();
}
