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

int main(void)
{
	RUN(test_version_minor);
	RUN(test_table_coverage);
	RUN(test_table_matches_dwarf);
	return TEST_SUMMARY();
}
