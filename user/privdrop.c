// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Privilege (privdrop.h): the path rule for files weft opens as root, and
 * the capability drop after attach, with raw capget/capset/prctl (no
 * libcap). Capabilities belong to each thread, not the process: the
 * threads already running when weft drops (the metrics endpoint's) are
 * made to drop their own with a signal, and the result is read back from
 * /proc/self/task/TID/status until every thread shows it.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "kube_meta.h"
#include "privdrop.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define BIT(c) (1ULL << (c))

/* ---- the path rule ---- */

#define MAX_LINKS 40

static bool owner_ok(const struct stat *st)
{
	return st->st_uid == 0 || st->st_uid == geteuid();
}

/* Who else can write it: "others", "group N", or NULL for no one. */
static const char *other_writers(const struct stat *st, char *buf, size_t size)
{
	if (st->st_mode & S_IWOTH)
		return "everyone";
	if ((st->st_mode & S_IWGRP) && st->st_gid != 0 && st->st_gid != getegid()) {
		snprintf(buf, size, "group %u", (unsigned)st->st_gid);
		return buf;
	}
	return NULL;
}

/* kind obj why: "directory /x is writable by everyone (mode 0777)". A
 * why that starts with "is" and names a writer or an owner is the rule;
 * anything else (not a file, too long) is just why weft cannot use it. */
static enum priv_path_result refuse(const char *what, const char *path,
				    const char *kind, const char *obj,
				    const char *why)
{
	bool rule = strstr(why, "writable") || strstr(why, "owned");

	fprintf(stderr, "weft: refusing %s %s: %s%s%s %s%s\n", what, path, kind,
		obj[0] ? " " : "", obj, why,
		rule ? ": another user could replace what weft reads there as root "
		       "(see README, Privilege)" : "");
	return PRIV_PATH_UNSAFE;
}

/* A directory weft looks names up in (name: its resolved path). */
static enum priv_path_result check_dir(const char *what, const char *path,
				       const char *name, const struct stat *st,
				       bool sticky_ok)
{
	char why[160], g[32];
	const char *w = other_writers(st, g, sizeof(g));

	if (!owner_ok(st)) {
		snprintf(why, sizeof(why), "is owned by uid %u", (unsigned)st->st_uid);
		return refuse(what, path, "directory", name, why);
	}
	if (w && !(sticky_ok && (st->st_mode & S_ISVTX))) {
		snprintf(why, sizeof(why), "is writable by %s (mode %04o)%s", w,
			 (unsigned)(st->st_mode & 07777),
			 sticky_ok ? "" : " and the file is not there: anyone could create it");
		return refuse(what, path, "directory", name, why);
	}
	return PRIV_PATH_OK;
}

enum priv_path_result priv_check_path(const char *what, const char *path)
{
	char cur[PATH_MAX], rest[2 * PATH_MAX], tmp[2 * PATH_MAX], why[160], g[32];
	size_t pos = 0;
	int links = 0;
	struct stat st;
	enum priv_path_result r;

	if (!path || !path[0])
		return refuse(what, "''", "path", "''", "is empty");
	if (path[0] == '/') {
		if (snprintf(rest, sizeof(rest), "%s", path) >= (int)sizeof(rest))
			return refuse(what, path, "path", "", "is too long");
	} else {
		if (!getcwd(cur, sizeof(cur)))
			return refuse(what, path, "working directory", "", strerror(errno));
		if (snprintf(rest, sizeof(rest), "%s/%s", cur, path) >= (int)sizeof(rest))
			return refuse(what, path, "path", "", "is too long");
	}
	cur[0] = '\0';		/* "" is / */
	if (lstat("/", &st))
		return refuse(what, path, "directory", "/", strerror(errno));
	if ((r = check_dir(what, path, "/", &st, true)))
		return r;

	for (;;) {
		const char *comp;
		size_t clen, cl;
		bool last;

		while (rest[pos] == '/')
			pos++;
		if (!rest[pos])
			return refuse(what, path, "path", cur[0] ? cur : "/",
				      "is a directory, not a file");
		comp = rest + pos;
		clen = strcspn(comp, "/");
		pos += clen;
		cl = pos;
		while (rest[cl] == '/')
			cl++;
		last = rest[cl] == '\0';
		if (clen == 1 && comp[0] == '.')
			continue;
		if (clen == 2 && comp[0] == '.' && comp[1] == '.') {
			char *sl = strrchr(cur, '/');

			if (sl)
				*sl = '\0';	/* cur is resolved: its parent is exact */
			continue;
		}
		cl = strlen(cur);
		if (cl + 1 + clen >= sizeof(cur))
			return refuse(what, path, "path", "", "is too long");
		cur[cl] = '/';
		memcpy(cur + cl + 1, comp, clen);
		cur[cl + 1 + clen] = '\0';

		if (lstat(cur, &st)) {
			int e = errno;
			struct stat parent;

			if (e != ENOENT && e != ENOTDIR)
				return refuse(what, path, "path", cur, strerror(e));
			/* missing: who could create it where it would be? */
			cur[cl] = '\0';
			if (lstat(cl ? cur : "/", &parent))
				return refuse(what, path, "directory", cl ? cur : "/",
					      strerror(errno));
			if ((r = check_dir(what, path, cl ? cur : "/", &parent, false)))
				return r;
			return PRIV_PATH_MISSING;
		}
		if (S_ISLNK(st.st_mode)) {
			ssize_t n;

			/* a link in a sticky directory is its owner's to replace */
			if (!owner_ok(&st)) {
				snprintf(why, sizeof(why), "is owned by uid %u",
					 (unsigned)st.st_uid);
				return refuse(what, path, "symbolic link", cur, why);
			}
			if (++links > MAX_LINKS)
				return refuse(what, path, "path", "", "has too many symbolic links");
			n = readlink(cur, tmp, sizeof(tmp) - 1);
			if (n < 0)
				return refuse(what, path, "symbolic link", cur, strerror(errno));
			tmp[n] = '\0';
			if (n + 1 + strlen(rest + pos) >= sizeof(rest))
				return refuse(what, path, "path", "", "is too long");
			tmp[n] = '/';
			strcpy(tmp + n + 1, rest + pos);
			strcpy(rest, tmp);
			pos = 0;
			if (rest[0] == '/')
				cur[0] = '\0';		/* from / again */
			else
				cur[cl] = '\0';		/* from the link's directory */
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if ((r = check_dir(what, path, cur, &st, true)))
				return r;
			continue;
		}
		if (!last)
			return refuse(what, path, "path", cur, "is not a directory");
		if (!owner_ok(&st)) {
			snprintf(why, sizeof(why), "is owned by uid %u", (unsigned)st.st_uid);
			return refuse(what, path, "file", cur, why);
		}
		if (other_writers(&st, g, sizeof(g))) {
			snprintf(why, sizeof(why), "is writable by %s (mode %04o)",
				 other_writers(&st, g, sizeof(g)),
				 (unsigned)(st.st_mode & 07777));
			return refuse(what, path, "file", cur, why);
		}
		if (!S_ISREG(st.st_mode))
			return refuse(what, path, "file", cur, "is not a regular file");
		return PRIV_PATH_OK;
	}
}

int priv_check_paths(const struct env *env)
{
	bool k8s = env->k8s.mode != KUBE_OFF;
	const struct {
		const char *what, *path;
	} files[] = {
		{ "--otlp-ca (OTEL_EXPORTER_OTLP_CERTIFICATE)", env->ex.ca_file },
		{ "--otlp-cert (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE)", env->ex.cert_file },
		{ "--otlp-key (OTEL_EXPORTER_OTLP_CLIENT_KEY)", env->ex.key_file },
		{ "--k8s-token-file", env->k8s.token_file ? env->k8s.token_file :
				      k8s ? KUBE_DEFAULT_TOKEN : NULL },
		{ "--k8s-ca-file", env->k8s.ca_file ? env->k8s.ca_file :
				   k8s ? KUBE_DEFAULT_CA : NULL },
	};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (files[i].path &&
		    priv_check_path(files[i].what, files[i].path) == PRIV_PATH_UNSAFE)
			return -1;
	return 0;
}

/* ---- capabilities ---- */

static const char *const cap_names[] = {
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill",
	"setgid", "setuid", "setpcap", "linux_immutable", "net_bind_service",
	"net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
	"sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
	"sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time",
	"sys_tty_config", "mknod", "lease", "audit_write", "audit_control",
	"setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
	"block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
};

void priv_caps_str(uint64_t mask, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int c = 0; c < 64 && n < size; c++) {
		if (!(mask & BIT(c)))
			continue;
		if (c < (int)(sizeof(cap_names) / sizeof(cap_names[0])))
			n += snprintf(buf + n, size - n, "%s%s", n ? "," : "", cap_names[c]);
		else
			n += snprintf(buf + n, size - n, "%scap%d", n ? "," : "", c);
	}
	if (!n)
		snprintf(buf, size, "none");
}

/*
 * Kept after attach, measured on 6.18 (README, Privilege, has the table:
 * each one taken away alone, and what broke):
 *   SYS_ADMIN        uprobes on Go binaries that start later (since 6.16
 *                    perf's uprobe PMU wants it)
 *   SYS_PTRACE       /proc/PID/exe of other users' processes (the path,
 *                    Go detection, the path uprobes attach through),
 *                    /proc/1/root
 *   DAC_READ_SEARCH  /proc/PID/environ (mode 0400: service.name) and
 *                    executables others cannot read
 * BPF and PERFMON go when SYS_ADMIN stays: every check that would want one
 * of them (map and link calls, bpf() at all before 6.5 with unprivileged
 * BPF off, uprobes before 6.16) passes on SYS_ADMIN too, and the calls on
 * maps weft already holds need none (measured: all of weft's map reads and
 * updates work with no capability at all). Without SYS_ADMIN they stay.
 */
uint64_t priv_keep_mask(uint64_t have)
{
	uint64_t keep = BIT(CAP_SYS_PTRACE) | BIT(CAP_DAC_READ_SEARCH);

	if (have & BIT(CAP_SYS_ADMIN))
		keep |= BIT(CAP_SYS_ADMIN);
	else
		keep |= BIT(CAP_BPF) | BIT(CAP_PERFMON);
	return keep & have;
}

static struct {
	uint64_t keep;			/* effective = permitted = this */
	int last_cap;
	atomic_int done;		/* threads that ran apply() */
	atomic_int failed;		/* ... of them, capset failed */
} D;

/* This thread only; async-signal-safe (raw system calls). */
static int apply(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	/* the bounding set first: dropping needs CAP_SETPCAP, which goes next */
	for (int c = 0; c <= D.last_cap; c++)
		if (!(D.keep & BIT(c)) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
			prctl(PR_CAPBSET_DROP, c, 0, 0, 0);	/* EPERM: no SETPCAP */
	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = (uint32_t)D.keep;
	d[1].effective = d[1].permitted = (uint32_t)(D.keep >> 32);
	/* inheritable empty: the ambient set goes with it */
	if (syscall(SYS_capset, &h, d))
		return -1;
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return 0;
}

static void on_signal(int sig)
{
	int saved = errno;

	if (apply())
		atomic_fetch_add(&D.failed, 1);
	atomic_fetch_add(&D.done, 1);
	errno = saved;
}

/* CapEff and CapBnd of a thread, from its status file. */
static bool thread_caps(const char *status, uint64_t *eff, uint64_t *bnd)
{
	char line[256];
	int got = 0;
	FILE *f = fopen(status, "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "CapEff: %" SCNx64, eff) == 1)
			got |= 1;
		else if (sscanf(line, "CapBnd: %" SCNx64, bnd) == 1)
			got |= 2;
	}
	fclose(f);
	return got == 3;
}

/* Signals every thread whose sets differ from ours; returns how many. */
static int signal_stragglers(uint64_t eff, uint64_t bnd, int sig, bool *open_failed)
{
	char status[64];
	pid_t self = (pid_t)syscall(SYS_gettid), pid = getpid();
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/proc/self/task");

	if (!d) {
		*open_failed = true;
		return 0;
	}
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);
		uint64_t e, b;

		if (tid <= 0 || tid == self)
			continue;
		snprintf(status, sizeof(status), "/proc/self/task/%d/status", (int)tid);
		if (!thread_caps(status, &e, &b))
			continue;	/* exited meanwhile */
		if (e == eff && b == bnd)
			continue;
		if (syscall(SYS_tgkill, pid, tid, sig) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static int read_last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int v = 40;

	if (f) {
		if (fscanf(f, "%d", &v) != 1 || v < 0 || v > 63)
			v = 40;
		fclose(f);
	}
	return v;
}

int priv_drop(bool verbose)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART }, old;
	uint64_t perm, eff = 0, bnd = 0;
	int sig = SIGRTMIN + 4, rounds, threads = 0, pending = 0;
	bool no_proc = false;
	char kept[512], bset[512];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d)) {
		fprintf(stderr, "weft: warning: capget: %s; capabilities not dropped\n",
			strerror(errno));
		return -1;
	}
	perm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	D.keep = priv_keep_mask(perm);
	D.last_cap = read_last_cap();
	atomic_store(&D.done, 0);
	atomic_store(&D.failed, 0);
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old)) {
		fprintf(stderr, "weft: warning: sigaction: %s; capabilities not dropped\n",
			strerror(errno));
		return -1;
	}
	if (apply()) {
		fprintf(stderr, "weft: warning: capset: %s; capabilities not dropped\n",
			strerror(errno));
		sigaction(sig, &old, NULL);
		return -1;
	}
	if (!thread_caps("/proc/thread-self/status", &eff, &bnd)) {
		eff = D.keep;
		bnd = 0;
	}
	/* the other threads, until each shows what this one has (a thread
	 * one of them starts meanwhile copies its creator's sets) */
	for (rounds = 0; rounds < 20; rounds++) {
		int before = atomic_load(&D.done);
		struct timespec ts = { 0, 1000000 };

		pending = signal_stragglers(eff, bnd, sig, &no_proc);
		if (!pending)
			break;
		threads += pending;
		for (int w = 0; w < 200 && atomic_load(&D.done) - before < pending; w++)
			nanosleep(&ts, NULL);
	}
	sigaction(sig, &old, NULL);
	priv_caps_str(eff, kept, sizeof(kept));
	priv_caps_str(bnd, bset, sizeof(bset));
	if (no_proc || pending || atomic_load(&D.failed)) {
		fprintf(stderr, "weft: warning: %s: some threads may keep capabilities "
			"weft no longer needs\n", no_proc ? "no /proc/self/task" :
			pending ? "a thread did not answer" : "capset failed in a thread");
		return -1;
	}
	if (verbose) {
		fprintf(stderr, "weft: capabilities after attach: kept %s (effective, "
			"permitted), bounding set %s; inheritable and ambient empty, "
			"no_new_privs set%s\n", kept, bset,
			threads ? "; other threads made to drop too" : "");
		if ((bnd & ~D.keep) != 0)
			fprintf(stderr, "weft: note: the bounding set could not be "
				"reduced (no CAP_SETPCAP)\n");
	}
	return 0;
}
