// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for user/privdrop.c: the rule for files weft opens as root by
 * a given name (in temporary directories: world-writable, sticky, other
 * owners, groups, symbolic links, missing files), and the capability drop
 * in a forked child with a second thread already running (every thread
 * must end with the kept set). Checks that need root (chown, capsets) say
 * so and pass without it.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/capability.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cli.h"
#include "privdrop.h"
#include "test.h"

#define NOBODY 65534

static char top[256];	/* a 0755 root directory for the test files */
static bool root;

static const char *P(const char *rel)
{
	static char buf[4][PATH_MAX];
	static int k;
	char *o = buf[k++ & 3];

	snprintf(o, PATH_MAX, "%s/%s", top, rel);
	return o;
}

static void mkfile(const char *path, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs("x\n", f);
		fclose(f);
	}
	chmod(path, mode);
}

static void mkdirm(const char *path, mode_t mode)
{
	mkdir(path, 0700);
	chmod(path, mode);
}

static enum priv_path_result check(const char *path)
{
	return priv_check_path("--test", path);
}

static bool test_modes(void)
{
	mkfile(P("ok.pem"), 0644);
	CHECK_INT(check(P("ok.pem")), PRIV_PATH_OK);
	mkfile(P("ww.pem"), 0666);
	CHECK_INT(check(P("ww.pem")), PRIV_PATH_UNSAFE);
	mkfile(P("key.pem"), 0600);
	CHECK_INT(check(P("key.pem")), PRIV_PATH_OK);

	/* a world-writable directory without the sticky bit: anyone renames */
	mkdirm(P("open"), 0777);
	mkfile(P("open/ca.pem"), 0644);
	CHECK_INT(check(P("open/ca.pem")), PRIV_PATH_UNSAFE);
	/* with it (/tmp): only the entry's owner can */
	mkdirm(P("sticky"), 01777);
	mkfile(P("sticky/ca.pem"), 0644);
	CHECK_INT(check(P("sticky/ca.pem")), PRIV_PATH_OK);
	/* a deeper good directory does not make up for a bad one above */
	mkdirm(P("open/sub"), 0755);
	mkfile(P("open/sub/ca.pem"), 0644);
	CHECK_INT(check(P("open/sub/ca.pem")), PRIV_PATH_UNSAFE);

	/* not a regular file */
	CHECK_INT(check(P("sticky")), PRIV_PATH_UNSAFE);
	CHECK_INT(check(P("sticky/")), PRIV_PATH_UNSAFE);
	CHECK_INT(mkfifo(P("fifo"), 0600), 0);
	CHECK_INT(check(P("fifo")), PRIV_PATH_UNSAFE);
	CHECK_INT(check(P("ok.pem/x")), PRIV_PATH_UNSAFE);
	CHECK_INT(check(""), PRIV_PATH_UNSAFE);
	return true;
}

static bool test_missing(void)
{
	/* where no one else can create it: weft says nothing (it fails later
	 * as it always did) */
	CHECK_INT(check(P("nothere.pem")), PRIV_PATH_MISSING);
	CHECK_INT(check(P("no/such/dir/x.pem")), PRIV_PATH_MISSING);
	/* where anyone can, sticky or not */
	CHECK_INT(check(P("sticky/nothere.pem")), PRIV_PATH_UNSAFE);
	CHECK_INT(check(P("open/nothere.pem")), PRIV_PATH_UNSAFE);
	CHECK_INT(check(P("sticky/nodir/x.pem")), PRIV_PATH_UNSAFE);
	return true;
}

static bool test_owners(void)
{
	if (!root) {
		printf("     (not root: owner checks skipped)\n");
		return true;
	}
	mkfile(P("theirs.pem"), 0644);
	CHECK_INT(chown(P("theirs.pem"), NOBODY, NOBODY), 0);
	CHECK_INT(check(P("theirs.pem")), PRIV_PATH_UNSAFE);
	/* in /tmp-like directories the owner of an entry may replace it */
	mkfile(P("sticky/theirs.pem"), 0644);
	CHECK_INT(chown(P("sticky/theirs.pem"), NOBODY, NOBODY), 0);
	CHECK_INT(check(P("sticky/theirs.pem")), PRIV_PATH_UNSAFE);
	/* a directory of theirs: they rename what is in it */
	mkdirm(P("theirdir"), 0755);
	mkfile(P("theirdir/ca.pem"), 0644);
	CHECK_INT(chown(P("theirdir"), NOBODY, NOBODY), 0);
	CHECK_INT(check(P("theirdir/ca.pem")), PRIV_PATH_UNSAFE);
	/* group-writable: refused for any group but root's */
	mkfile(P("grp.pem"), 0664);
	CHECK_INT(chown(P("grp.pem"), 0, NOBODY), 0);
	CHECK_INT(check(P("grp.pem")), PRIV_PATH_UNSAFE);
	CHECK_INT(chown(P("grp.pem"), 0, 0), 0);
	CHECK_INT(check(P("grp.pem")), PRIV_PATH_OK);
	mkdirm(P("grpdir"), 0775);
	mkfile(P("grpdir/ca.pem"), 0644);
	CHECK_INT(chown(P("grpdir"), 0, NOBODY), 0);
	CHECK_INT(check(P("grpdir/ca.pem")), PRIV_PATH_UNSAFE);
	/* readable by others is not the rule's business */
	mkfile(P("readable.pem"), 0644);
	CHECK_INT(chown(P("readable.pem"), 0, NOBODY), 0);
	CHECK_INT(check(P("readable.pem")), PRIV_PATH_OK);
	return true;
}

static bool test_links(void)
{
	char cwd[PATH_MAX];

	/* a root link in a good place to a good file */
	CHECK_INT(symlink("ok.pem", P("link.pem")), 0);
	CHECK_INT(check(P("link.pem")), PRIV_PATH_OK);
	CHECK_INT(symlink(P("ok.pem"), P("sticky/abs.pem")), 0);
	CHECK_INT(check(P("sticky/abs.pem")), PRIV_PATH_OK);
	/* whatever the link's own place, its target's is checked */
	CHECK_INT(symlink("open/ca.pem", P("tobad.pem")), 0);
	CHECK_INT(check(P("tobad.pem")), PRIV_PATH_UNSAFE);
	/* a link in a bad place, to a good file: the link can be swapped */
	CHECK_INT(symlink("../ok.pem", P("open/evil.pem")), 0);
	CHECK_INT(check(P("open/evil.pem")), PRIV_PATH_UNSAFE);
	CHECK_INT(symlink("sticky", P("dirlink")), 0);
	CHECK_INT(check(P("dirlink/ca.pem")), PRIV_PATH_OK);
	CHECK_INT(check(P("dirlink/../ok.pem")), PRIV_PATH_OK);	/* .. of sticky */
	/* loops end */
	CHECK_INT(symlink("loop2", P("loop1")), 0);
	CHECK_INT(symlink("loop1", P("loop2")), 0);
	CHECK_INT(check(P("loop1")), PRIV_PATH_UNSAFE);
	/* dangling, where no one else could create the target */
	CHECK_INT(symlink("gone.pem", P("dangling.pem")), 0);
	CHECK_INT(check(P("dangling.pem")), PRIV_PATH_MISSING);
	/* a relative path is walked from the working directory's own */
	CHECK(getcwd(cwd, sizeof(cwd)));
	CHECK_INT(chdir(P("sticky")), 0);
	CHECK_INT(check("ca.pem"), PRIV_PATH_OK);
	CHECK_INT(check("../ok.pem"), PRIV_PATH_OK);
	CHECK_INT(check("./../open/ca.pem"), PRIV_PATH_UNSAFE);
	CHECK_INT(chdir(cwd), 0);
	if (root) {
		/* someone else's link in a sticky directory: theirs to retarget */
		CHECK_INT(symlink(P("ok.pem"), P("sticky/their-link.pem")), 0);
		CHECK_INT(lchown(P("sticky/their-link.pem"), NOBODY, NOBODY), 0);
		CHECK_INT(check(P("sticky/their-link.pem")), PRIV_PATH_UNSAFE);
	}
	return true;
}

static bool test_weft_paths(void)
{
	struct env env;
	char a1[PATH_MAX], a2[PATH_MAX];
	char *argv[] = { "weft", "--k8s", "off", "--otlp-ca", a1, "--k8s-token-file", a2, NULL };

	snprintf(a1, sizeof(a1), "%s", P("ok.pem"));
	snprintf(a2, sizeof(a2), "%s", P("key.pem"));
	memset(&env, 0, sizeof(env));
	optind = 0;
	CHECK_INT(cli_parse(&env, 7, argv), 0);
	CHECK_INT(priv_check_paths(&env), 0);
	cli_free(&env);

	snprintf(a2, sizeof(a2), "%s", P("open/ca.pem"));
	memset(&env, 0, sizeof(env));
	optind = 0;
	CHECK_INT(cli_parse(&env, 7, argv), 0);
	CHECK_INT(priv_check_paths(&env), -1);
	cli_free(&env);

	/* the exporter's variables are the same files */
	setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", P("ww.pem"), 1);
	snprintf(a2, sizeof(a2), "%s", P("key.pem"));
	memset(&env, 0, sizeof(env));
	optind = 0;
	CHECK_INT(cli_parse(&env, 7, argv), 0);
	CHECK_INT(priv_check_paths(&env), -1);
	cli_free(&env);
	unsetenv("OTEL_EXPORTER_OTLP_CLIENT_KEY");
	return true;
}

/* ---- the capability drop, in a child ---- */

static volatile int stop_thread;

static void *idle_thread(void *arg)
{
	while (!stop_thread)
		usleep(1000);
	return NULL;
}

/* Every thread of this process has eff/prm/bnd == want, inh == amb == 0. */
static bool all_threads(uint64_t want, uint64_t want_bnd, int *n)
{
	char path[128], line[256];
	struct dirent *de;
	DIR *d = opendir("/proc/self/task");

	*n = 0;
	if (!d)
		return false;
	while ((de = readdir(d))) {
		uint64_t eff = 1, prm = 1, bnd = 1, inh = 1, amb = 1;
		int nnp = 0, tid = atoi(de->d_name);
		FILE *f;

		if (tid <= 0)
			continue;
		(*n)++;
		snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
		f = fopen(path, "r");
		if (!f)
			continue;	/* gone */
		while (fgets(line, sizeof(line), f)) {
			sscanf(line, "CapEff: %" SCNx64, &eff);
			sscanf(line, "CapPrm: %" SCNx64, &prm);
			sscanf(line, "CapBnd: %" SCNx64, &bnd);
			sscanf(line, "CapInh: %" SCNx64, &inh);
			sscanf(line, "CapAmb: %" SCNx64, &amb);
			sscanf(line, "NoNewPrivs: %d", &nnp);
		}
		fclose(f);
		if (eff != want || prm != want || bnd != want_bnd || inh || amb || nnp != 1) {
			fprintf(stderr, "  thread %d: eff %" PRIx64 " prm %" PRIx64 " bnd %"
				PRIx64 " inh %" PRIx64 " amb %" PRIx64 " nnp %d, want %" PRIx64
				"/%" PRIx64 "\n", tid, eff, prm, bnd, inh, amb, nnp, want,
				want_bnd);
			closedir(d);
			return false;
		}
	}
	closedir(d);
	return true;
}

static bool test_drop(void)
{
	char s[512];
	pid_t pid;
	int st;

	priv_caps_str(priv_keep_mask(~0ULL), s, sizeof(s));
	CHECK_STR(s, "dac_read_search,sys_ptrace,sys_admin");
	/* started without SYS_ADMIN: BPF and PERFMON do its jobs */
	priv_caps_str(priv_keep_mask(~(1ULL << CAP_SYS_ADMIN)), s, sizeof(s));
	CHECK_STR(s, "dac_read_search,sys_ptrace,perfmon,bpf");
	priv_caps_str(priv_keep_mask(1ULL << CAP_SYS_PTRACE | 1ULL << CAP_CHOWN), s, sizeof(s));
	CHECK_STR(s, "sys_ptrace");
	priv_caps_str(0, s, sizeof(s));
	CHECK_STR(s, "none");
	priv_caps_str(1ULL << 45, s, sizeof(s));
	CHECK_STR(s, "cap45");
	if (!root) {
		printf("     (not root: the drop itself is not tried)\n");
		return true;
	}
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		pthread_t t;
		uint64_t prm = 0;
		int n = 0;
		char line[256];
		FILE *f = fopen("/proc/self/status", "r");

		while (f && fgets(line, sizeof(line), f))
			sscanf(line, "CapPrm: %" SCNx64, &prm);
		if (f)
			fclose(f);
		/* a thread that exists before the drop, as the metrics one does */
		if (pthread_create(&t, NULL, idle_thread, NULL))
			_exit(3);
		if (priv_drop(true))
			_exit(4);
		/* and one started after it: it inherits the dropped sets */
		{
			pthread_t t2;

			if (pthread_create(&t2, NULL, idle_thread, NULL))
				_exit(3);
			if (!all_threads(priv_keep_mask(prm), priv_keep_mask(prm), &n) ||
			    n < 3)
				_exit(5);
			stop_thread = 1;
			pthread_join(t2, NULL);
		}
		pthread_join(t, NULL);
		/* what was dropped is gone: CAP_SETUID, CAP_CHOWN */
		if (setuid(NOBODY) == 0 || errno != EPERM)
			_exit(6);
		if (prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0) != 0)
			_exit(7);
		_exit(0);
	}
	CHECK_INT(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st));
	CHECK_INT(WEXITSTATUS(st), 0);
	return true;
}

int main(void)
{
	char tmpl[] = "/tmp/weft-privdrop-XXXXXX";
	char cmd[PATH_MAX + 16];

	root = geteuid() == 0;
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	chmod(tmpl, 0755);
	snprintf(top, sizeof(top), "%s", tmpl);
	printf("  (the refusals below are expected)\n");
	fflush(stdout);
	RUN(test_modes);
	RUN(test_missing);
	RUN(test_owners);
	RUN(test_links);
	RUN(test_weft_paths);
	RUN(test_drop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", top);
	return TEST_SUMMARY();
}
