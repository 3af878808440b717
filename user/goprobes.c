// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Go uprobe attachment, one per executable (device, inode). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "go_h2_offsets.h"
#include "goinspect.h"
#include "goprobes.h"
#include "gotls_sites.h"
#include "weft.skel.h"

#define PID_SLOTS 8192
#define H2_LINKS_MAX 18		/* 3 functions of each of the 3 servers,
				 * 3 of the HTTP/2 clients, 2 of grpc-go's,
				 * the 3 servers' decoded fields, grpc-go's
				 * written ones */
#define LINKS_MAX (4 + 3 + H2_LINKS_MAX)

struct binary {
	struct binary *next;
	dev_t dev;
	ino_t ino;
	bool is_go;
	char path[64];			/* /proc/PID/exe of a process running it */
	char exe[160];			/* its path then, for messages */
	uint64_t newproc1_off, gostartcallfn_off;
	bool fanout_tried;
	struct bpf_link *links[4];
	/* crypto/tls: Write, Read, and Read's copy of the plaintext */
	struct bpf_link *tls_links[3];
	int n_tls_links;
	/* HTTP/2 and gRPC servers: connection goroutines and stream handlers */
	struct bpf_link *h2_links[H2_LINKS_MAX];
	int n_h2_links;
	/* where its HTTP/2 servers act on a request's decoded fields
	 * (go_h2_fields), attached on demand: goprobes_want_h2_fields */
	uint64_t fields_off[4];
	unsigned fields_reg[4];
	bool fields_tried;
	/* processes seen running it (start-up scan, exec, first traffic),
	 * the dead ones dropped by goprobes_sweep */
	uint32_t *pids;
	uint32_t npids, cap_pids;
};

struct pid_slot {
	uint32_t pid;
	int8_t is_go;		/* -1 unknown, 0, 1 */
	struct binary *bin;
};

static struct loader *ldr;
static bool verbose;
static struct binary *binaries;
static struct pid_slot pids[PID_SLOTS];
static uint64_t n_binaries, n_attached, n_stripped;
static uint64_t n_tls, n_tls_refused;
static uint64_t n_detached;
static uint64_t n_h2, n_h2_refused, n_h2_fields;

int goprobes_init(struct loader *l, bool v)
{
	ldr = l;
	verbose = v;
	return 0;
}

static struct bpf_link *attach(struct bpf_program *prog, const char *path,
			       uint64_t off)
{
	struct bpf_link *link;

	link = bpf_program__attach_uprobe(prog, false, -1, path, off);
	if (!link && verbose)
		fprintf(stderr, "weft: could not attach %s to %s+0x%llx: %s\n",
			bpf_program__name(prog), path, (unsigned long long)off,
			strerror(errno));
	return link;
}

/*
 * crypto/tls plaintext probes. All or nothing: Write without Read (or
 * Read without its returns) would make half-spans. A binary with TLS in
 * it whose sites cannot be found is named once, with the reason.
 */
static void attach_tls(struct binary *b, const char *path)
{
	struct go_tls_sites ts;
	struct bpf_link **l = b->tls_links;
	int n = 0;

	if (go_tls_sites_find(path, &ts))
		return;
	if (!ts.write_off || !ts.read_off || !ts.read_copy_off) {
		if (strstr(ts.why, "not linked in"))
			return;		/* no crypto/tls in this binary */
		n_tls_refused++;
		fprintf(stderr, "weft: %s: HTTPS not traced: %s\n", path, ts.why);
		return;
	}
	/* a Read served from buffered records finds its socket through the
	 * Go structs: never with offsets of another layout */
	if (!go_tls_layout_ok(ts.version, ts.why, sizeof(ts.why))) {
		n_tls_refused++;
		fprintf(stderr, "weft: %s: HTTPS not traced: %s\n", path, ts.why);
		return;
	}
	l[n++] = attach(ldr->skel->progs.go_tls_write, path, ts.write_off);
	l[n++] = attach(ldr->skel->progs.go_tls_read, path, ts.read_off);
	l[n++] = attach(ldr->skel->progs.go_tls_read_copy, path,
			ts.read_copy_off);
	b->n_tls_links = n;
	for (int i = 0; i < n; i++) {
		if (l[i])
			continue;
		/* one failed: take the others off again */
		for (int j = 0; j < n; j++)
			bpf_link__destroy(l[j]);
		memset(b->tls_links, 0, sizeof(b->tls_links));
		b->n_tls_links = 0;
		if (access(path, F_OK))
			return;	/* the process is gone: nothing to say */
		n_tls_refused++;
		fprintf(stderr, "weft: %s: HTTPS not traced: a crypto/tls probe "
			"could not be attached\n", path);
		return;
	}
	n_tls++;
	ldr->skel->bss->go_tls_active = 1;
	if (verbose)
		fprintf(stderr, "weft: Go binary %s: crypto/tls probes attached "
			"(%s%s)\n", path, ts.version,
			ts.stripped ? ", stripped: from .gopclntab" : "");
}

static struct bpf_link *attach_cookie(struct bpf_program *prog, const char *path,
				      uint64_t off, uint64_t cookie)
{
	LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = cookie);
	struct bpf_link *link = bpf_program__attach_uprobe_opts(prog, -1, path, off, &o);

	if (!link && verbose)
		fprintf(stderr, "weft: could not attach %s to %s+0x%llx: %s\n",
			bpf_program__name(prog), path, (unsigned long long)off,
			strerror(errno));
	return link;
}

/*
 * The Go HTTP/2 servers whose stream handlers weft ties to their streams
 * (user/go_h2_offsets.h): the functions a connection's goroutines run
 * (serve loop, frame reader) and the one a handler goroutine starts in,
 * the registers of the handler's arguments, and where the version that
 * decides the stream id's path comes from.
 */
static const struct h2_server {
	enum go_h2_kind kind;
	const char *what;
	const char *serve, *reader;	/* NULL: one function does both */
	const char *handler;
	unsigned stream_reg, conn_reg;
} h2_servers[] = {
	{ GO_H2_NETHTTP, "net/http HTTP/2",
	  "net/http.(*http2serverConn).serve", "net/http.(*http2serverConn).readFrames",
	  "net/http.(*http2serverConn).runHandler", WEFT_H2_REG_RBX, WEFT_H2_REG_RAX },
	{ GO_H2_XNET, "golang.org/x/net/http2",
	  "golang.org/x/net/http2.(*serverConn).serve", "golang.org/x/net/http2.(*serverConn).readFrames",
	  "golang.org/x/net/http2.(*serverConn).runHandler", WEFT_H2_REG_RBX, WEFT_H2_REG_RAX },
	{ GO_H2_GRPC, "google.golang.org/grpc",
	  NULL, "google.golang.org/grpc/internal/transport.(*http2Server).HandleStreams",
	  "google.golang.org/grpc.(*Server).handleStream", WEFT_H2_REG_RDI, WEFT_H2_REG_RCX },
};

/*
 * Handler probes of each HTTP/2 server linked into the binary. Per server
 * all or nothing: a handler whose connection goroutines are not known is
 * only counted. A server of a release the table does not cover is named
 * once, with its release, and gets nothing.
 */
static void attach_h2(struct binary *b, struct go_elf *g, const char *path,
		      const struct go_binary *gb)
{
	for (size_t i = 0; i < sizeof(h2_servers) / sizeof(h2_servers[0]); i++) {
		const struct h2_server *sv = &h2_servers[i];
		const char *rel = sv->kind == GO_H2_NETHTTP ? gb->version :
				  sv->kind == GO_H2_XNET ? gb->xnet_version : gb->grpc_version;
		uint64_t handler = go_probe_offset(g, sv->handler);
		uint64_t reader = go_probe_offset(g, sv->reader);
		uint64_t serve = sv->serve ? go_probe_offset(g, sv->serve) : 0;
		struct go_h2_path hp;
		struct bpf_link *l[3] = { 0 };
		int n = 0;

		if (!handler)
			continue;	/* not linked in (or no server side) */
		if (!reader || (sv->serve && !serve)) {
			n_h2_refused++;
			fprintf(stderr, "weft: %s: %s: no in-process links on its HTTP/2 "
				"server: %s not found\n", b->exe[0] ? b->exe : path, sv->what,
				!reader ? sv->reader : sv->serve);
			continue;
		}
		if (go_h2_path_for(sv->kind, rel, &hp)) {
			n_h2_refused++;
			fprintf(stderr, "weft: %s: %s %s: no in-process links on its HTTP/2 "
				"server: where that release keeps a stream's id is not in "
				"weft's table (user/go_h2_offsets_table.h)\n",
				b->exe[0] ? b->exe : path, sv->what, rel[0] ? rel : "of unknown version");
			continue;
		}
		if (b->n_h2_links + 3 > H2_LINKS_MAX)
			break;
		l[n++] = attach_cookie(ldr->skel->progs.go_h2_conn, path, reader,
				       sv->serve ? WEFT_H2_CONN_READER :
						   WEFT_H2_CONN_READER | WEFT_H2_CONN_SERVE);
		if (sv->serve)
			l[n++] = attach_cookie(ldr->skel->progs.go_h2_conn, path, serve,
					       WEFT_H2_CONN_SERVE);
		l[n++] = attach_cookie(ldr->skel->progs.go_h2_stream, path, handler,
				       WEFT_H2_COOKIE(sv->stream_reg, sv->conn_reg, hp.n,
						      hp.off[0], hp.off[1], hp.off[2]));
		for (int j = 0; j < n; j++) {
			if (l[j])
				continue;
			for (int k = 0; k < n; k++)
				bpf_link__destroy(l[k]);
			n = 0;
			n_h2_refused++;
			break;
		}
		for (int j = 0; j < n; j++)
			b->h2_links[b->n_h2_links++] = l[j];
		if (n)
			n_h2++;
		if (verbose)
			fprintf(stderr, "weft: Go binary %s: %s %s: handler probes %s\n",
				path, sv->what, rel, n ? "attached" : "not attached");
	}
}

/*
 * Go's HTTP/2 clients (net/http's bundled one, x/net's) write each
 * request from a goroutine of its own (doRequest): their writeRequest gets
 * the probe HTTP/1's Request.write has, so the HEADERS it writes name the
 * goroutine that asked (go_request_write). The asker is noted by
 * Transport.roundTrip, and for an x/net http2.Transport used on its own by
 * ClientConn.roundTrip (RoundTrip in older releases). grpc-go writes
 * every call of a connection from its loopyWriter goroutine: the call's
 * header item is noted by the asking goroutine (controlBuffer.
 * executeAndPut) and found again by the loopy's handler of it, for the
 * one write that follows (bpf/go_link.bpf.h, GO_ASKER_ONCE). No struct
 * offsets: the *Request, or the header item, is the key.
 */
static void attach_h2_clients(struct binary *b, struct go_elf *g, const char *path)
{
	static const char *const xnet_rt[] = {
		"golang.org/x/net/http2.(*ClientConn).roundTrip",
		"golang.org/x/net/http2.(*ClientConn).RoundTrip",
	};
	uint64_t off;
	off = go_probe_offset(g, "net/http.(*http2clientStream).writeRequest");
	if (off && b->n_h2_links < H2_LINKS_MAX)
		b->h2_links[b->n_h2_links++] =
			attach_cookie(ldr->skel->progs.go_request_write, path, off, 1);
	off = go_probe_offset(g, "golang.org/x/net/http2.(*clientStream).writeRequest");
	if (off && b->n_h2_links + 2 <= H2_LINKS_MAX) {
		uint64_t rt = 0;

		for (size_t i = 0; !rt && i < sizeof(xnet_rt) / sizeof(xnet_rt[0]); i++)
			rt = go_probe_offset(g, xnet_rt[i]);
		if (rt) {
			b->h2_links[b->n_h2_links++] =
				attach_cookie(ldr->skel->progs.go_request_write, path, off, 1);
			b->h2_links[b->n_h2_links++] =
				attach(ldr->skel->progs.go_transport_roundtrip, path, rt);
		}
	}
		/* grpc-go: the call's header item, from the asking goroutine's
	 * executeAndPut to the loopyWriter's handler of it */
	off = go_probe_offset(g, "google.golang.org/grpc/internal/transport.(*controlBuffer).executeAndPut");
	if (off && b->n_h2_links + 2 <= H2_LINKS_MAX) {
		uint64_t hh = go_probe_offset(g, "google.golang.org/grpc/internal/transport.(*loopyWriter).clientHeaderHandler");

		if (!hh)
			hh = go_probe_offset(g, "google.golang.org/grpc/internal/transport.(*loopyWriter).headerHandler");
		if (hh) {
			b->h2_links[b->n_h2_links++] =
				attach_cookie(ldr->skel->progs.go_transport_roundtrip, path, off, 1);
			b->h2_links[b->n_h2_links++] =
				attach_cookie(ldr->skel->progs.go_request_write, path, hh, 2);
		}
	}
}

/*
 * Where the binary's HTTP/2 servers act on a request's decoded header
 * fields, for go_h2_fields: the frame is the first argument after the
 * receiver (RBX), except in grpc-go 1.60 and later, where a
 * context.Context (two registers) comes first (RDI).
 */
static void note_h2_fields(struct binary *b, struct go_elf *g,
			   const struct go_binary *gb)
{
	int major = 0, minor = 0;

	b->fields_off[0] = go_probe_offset(g, "net/http.(*http2serverConn).processHeaders");
	b->fields_reg[0] = WEFT_H2_REG_RBX;
	b->fields_off[1] = go_probe_offset(g, "golang.org/x/net/http2.(*serverConn).processHeaders");
	b->fields_reg[1] = WEFT_H2_REG_RBX;
	b->fields_off[2] = go_probe_offset(g, "google.golang.org/grpc/internal/transport.(*http2Server).operateHeaders");
	if (b->fields_off[2] && go_release_minor(gb->grpc_version, &major, &minor)) {
		b->fields_off[2] = 0;	/* which argument is the frame: unknown */
		if (verbose)
			fprintf(stderr, "weft: %s: grpc-go of unknown release: its decoded "
				"header fields are not read\n", b->exe[0] ? b->exe : "?");
	}
	b->fields_reg[2] = major == 1 && minor < 60 ? WEFT_H2_REG_RBX : WEFT_H2_REG_RDI;
	/* grpc-go's writer of every HEADERS, clients' and servers' alike
	 * (the same signature from 1.50 to 1.85) */
	b->fields_off[3] = go_probe_offset(g, "google.golang.org/grpc/internal/transport.(*loopyWriter).writeHeader");
	b->fields_reg[3] = WEFT_H2_FIELDS_LOOPY;
}

static struct binary *inspect(uint32_t pid)
{
	char path[64];
	struct go_binary gb;
	struct binary *b;
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	if (stat(path, &st))
		return NULL;
	for (b = binaries; b; b = b->next)
		if (b->dev == st.st_dev && b->ino == st.st_ino)
			return b;
	b = calloc(1, sizeof(*b));
	if (!b)
		abort();
	b->dev = st.st_dev;
	b->ino = st.st_ino;
	{
		ssize_t n = readlink(path, b->exe, sizeof(b->exe) - 1);

		b->exe[n > 0 ? n : 0] = '\0';
	}
	b->next = binaries;
	binaries = b;
	if (go_inspect(path, &gb) || !gb.is_go)
		return b;
	b->is_go = true;
	n_binaries++;
	if (!ldr || !ldr->skel)
		return b;	/* inspection only (unit tests) */
	attach_tls(b, path);
	{
		/* the HTTP/2 servers' and clients' functions, from one read of
		 * the binary's tables */
		int err = 0;
		struct go_elf *g = go_elf_open(path, &err);

		if (g) {
			attach_h2(b, g, path, &gb);
			attach_h2_clients(b, g, path);
			note_h2_fields(b, g, &gb);
			go_elf_close(g);
		}
	}
	if (!gb.roundtrip_off || !gb.request_write_off)
		return b;	/* no net/http client (go_inspect said so) */
	b->links[0] = attach(ldr->skel->progs.go_transport_roundtrip, path,
			     gb.roundtrip_off);
	b->links[1] = attach(ldr->skel->progs.go_request_write, path,
			     gb.request_write_off);
	/* The goroutine-creation probes cost two traps per goroutine, and
	 * net/http's server starts one per request (its background read):
	 * they are attached only once the binary is seen calling out from a
	 * goroutine that is not a handler (goprobes_want_fanout). */
	b->newproc1_off = gb.newproc1_off;
	b->gostartcallfn_off = gb.gostartcallfn_off;
	snprintf(b->path, sizeof(b->path), "%s", path);
	if (b->links[0] && b->links[1]) {
		n_attached++;
		if (!gb.has_symbols)
			n_stripped++;	/* probed from .gopclntab */
	}
	if (verbose)
		fprintf(stderr, "weft: Go binary %s (%s) of pid %u: link probes %s\n",
			path, gb.version[0] ? gb.version : "unknown version", pid,
			b->links[0] && b->links[1] ? "attached" : "not attached");
	return b;
}

static void note_pid(struct binary *b, uint32_t pid)
{
	for (uint32_t i = 0; i < b->npids; i++)
		if (b->pids[i] == pid)
			return;
	if (b->npids == b->cap_pids) {
		b->cap_pids = b->cap_pids ? 2 * b->cap_pids : 4;
		b->pids = realloc(b->pids, b->cap_pids * sizeof(*b->pids));
		if (!b->pids)
			abort();
	}
	b->pids[b->npids++] = pid;
}

bool goprobes_consider(uint32_t pid)
{
	struct pid_slot *s = &pids[pid % PID_SLOTS];
	struct binary *b;

	if (s->pid == pid && s->is_go >= 0)
		return s->is_go;
	b = inspect(pid);
	if (b)
		note_pid(b, pid);
	s->pid = pid;
	s->is_go = b && b->is_go;
	s->bin = b;
	return s->is_go;
}

bool goprobes_is_go(uint32_t pid)
{
	return goprobes_consider(pid);
}

/* An exec replaces the image: forget what we knew about the pid. */
void goprobes_forget(uint32_t pid)
{
	struct pid_slot *s = &pids[pid % PID_SLOTS];

	if (s->pid == pid)
		s->is_go = -1;
}

void goprobes_want_h2_fields(uint32_t pid)
{
	struct pid_slot *s = &pids[pid % PID_SLOTS];
	struct binary *b = s->pid == pid ? s->bin : NULL;
	char path[64];
	int n = 0;

	if (!b || b->fields_tried || !ldr || !ldr->skel)
		return;
	b->fields_tried = true;
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	for (int i = 0; i < 4; i++) {
		struct bpf_link *l;

		if (!b->fields_off[i] || b->n_h2_links >= H2_LINKS_MAX)
			continue;
		l = attach_cookie(ldr->skel->progs.go_h2_fields, path, b->fields_off[i],
				  b->fields_reg[i]);
		if (l) {
			b->h2_links[b->n_h2_links++] = l;
			n++;
		}
	}
	n_h2_fields += n > 0;
	if (verbose)
		fprintf(stderr, "weft: pid %u has an HTTP/2 connection older than weft: "
			"%d probes on its servers' decoded header fields\n", pid, n);
}

uint64_t goprobes_h2_fields_probed(void)
{
	return n_h2_fields;
}

void goprobes_want_fanout(uint32_t pid)
{
	struct pid_slot *s = &pids[pid % PID_SLOTS];
	struct binary *b = s->pid == pid ? s->bin : NULL;
	char path[64];

	if (!b || b->fanout_tried || !ldr || !ldr->skel)
		return;
	b->fanout_tried = true;
	if (!b->newproc1_off || !b->gostartcallfn_off)
		return;
	/* the process that asked is alive: attach through its exe link */
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	b->links[2] = attach(ldr->skel->progs.go_newproc1, path, b->newproc1_off);
	b->links[3] = attach(ldr->skel->progs.go_gostartcallfn, path,
			     b->gostartcallfn_off);
	if (verbose)
		fprintf(stderr, "weft: pid %u calls out from a goroutine of its own: "
			"goroutine-creation probes %s\n", pid,
			b->links[2] && b->links[3] ? "attached" : "not attached");
}

uint64_t goprobes_g_parent(uint32_t pid, uint64_t g)
{
	struct { uint32_t tgid, pad; uint64_t ptr; } k = { pid, 0, g };
	uint64_t parent = 0;

	if (!ldr || !ldr->skel)
		return 0;
	if (bpf_map__lookup_elem(ldr->skel->maps.go_g_parent, &k, sizeof(k),
				 &parent, sizeof(parent), 0))
		return 0;
	return parent;
}

void goprobes_stats(uint64_t *nb, uint64_t *na, uint64_t *ns)
{
	*nb = n_binaries;
	*na = n_attached;
	*ns = n_stripped;
}

void goprobes_tls_stats(uint64_t *probed, uint64_t *refused)
{
	*probed = n_tls;
	*refused = n_tls_refused;
}

void goprobes_h2_stats(uint64_t *probed, uint64_t *refused)
{
	*probed = n_h2;
	*refused = n_h2_refused;
}

static void *destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

/*
 * Taking a uprobe off waits for an RCU grace period (about 0.25 s each
 * here): one after the other, a node's few dozen Go probes took seconds
 * to stop. Waits that overlap share grace periods, so each link goes in
 * a thread of its own (measured: 15 links, 4.4 s in turn, 1.7 s at once).
 */
#define DETACH_THREADS	64

static void destroy_links(struct bpf_link **links, int n)
{
	pthread_t th[DETACH_THREADS];
	int started = 0;

	for (int i = 0; i < n; i++) {
		if (!links[i])
			continue;
		if (started < DETACH_THREADS &&
		    pthread_create(&th[started], NULL, destroy_link, links[i]) == 0)
			started++;
		else
			bpf_link__destroy(links[i]);
	}
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
}

/* Links of binaries no process runs any more, taken off by a thread of
 * its own: a grace period each, too long for the ring buffer's reader. */
static pthread_t reaper;
static bool reaper_started;

struct reap {
	struct bpf_link **links;
	int n;
};

static void *reap_links(void *arg)
{
	struct reap *r = arg;

	destroy_links(r->links, r->n);
	free(r->links);
	free(r);
	return NULL;
}

static bool reaper_busy(void)
{
	if (!reaper_started)
		return false;
	if (pthread_tryjoin_np(reaper, NULL) == EBUSY)
		return true;
	reaper_started = false;
	return false;
}

/*
 * Drop the processes of b that exited or run another image now. Not a
 * scan of all of /proc: a process we may not look at (pid 1 of a sandbox,
 * another user namespace's non-dumpable one) would keep every binary.
 * Returns true when one of them is still running it (or may be).
 */
static bool still_running(struct binary *b)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < b->npids; i++) {
		char path[32];
		struct stat st;
		bool alive;

		snprintf(path, sizeof(path), "/proc/%u/exe", b->pids[i]);
		if (stat(path, &st))
			alive = errno != ENOENT && errno != ESRCH;
		else
			alive = st.st_dev == b->dev && st.st_ino == b->ino;
		if (alive)
			b->pids[k++] = b->pids[i];
	}
	b->npids = k;
	return k > 0;
}

void goprobes_sweep(void)
{
	struct binary **pp = &binaries, *b;
	struct bpf_link **links = NULL;
	int n = 0, nbin = 0;

	if (!binaries || reaper_busy())
		return;
	while ((b = *pp)) {
		if (still_running(b)) {
			pp = &b->next;
			continue;
		}
		*pp = b->next;
		/* a pid still pointing here gets inspected afresh (an exec
		 * of the same file attaches again) */
		for (int i = 0; i < PID_SLOTS; i++)
			if (pids[i].bin == b) {
				pids[i].bin = NULL;
				pids[i].pid = 0;
				pids[i].is_go = -1;
			}
		if (b->is_go) {
			struct bpf_link *all[LINKS_MAX];
			int k = 0;

			for (int i = 0; i < 4; i++)
				all[k++] = b->links[i];
			for (int i = 0; i < b->n_tls_links; i++)
				all[k++] = b->tls_links[i];
			for (int i = 0; i < b->n_h2_links; i++)
				all[k++] = b->h2_links[i];
			int had = n;

			for (int i = 0; i < k; i++) {
				if (!all[i])
					continue;
				links = realloc(links, (n + 1) * sizeof(*links));
				if (!links)
					abort();
				links[n++] = all[i];
			}
			nbin += n > had;
			if (verbose && n > had)
				fprintf(stderr, "weft: Go binary %s runs no more: its "
					"probes are taken off\n", b->exe[0] ? b->exe : "?");
		}
		free(b->pids);
		free(b);
	}
	n_detached += nbin;
	if (!n)
		return;
	{
		struct reap *r = malloc(sizeof(*r));

		if (!r)
			abort();
		r->links = links;
		r->n = n;
		if (pthread_create(&reaper, NULL, reap_links, r) == 0) {
			reaper_started = true;
		} else {
			reap_links(r);	/* no thread: the wait is ours */
		}
	}
}

uint64_t goprobes_detached(void)
{
	return n_detached;
}

void goprobes_free(void)
{
	struct bpf_link *links[DETACH_THREADS];
	int n = 0;

	if (reaper_started) {
		pthread_join(reaper, NULL);
		reaper_started = false;
	}
	while (binaries) {
		struct binary *b = binaries;
		struct bpf_link *all[LINKS_MAX];
		int k = 0;

		binaries = b->next;
		for (int i = 0; i < 4; i++)
			all[k++] = b->links[i];
		for (int i = 0; i < b->n_tls_links; i++)
			all[k++] = b->tls_links[i];
		for (int i = 0; i < b->n_h2_links; i++)
			all[k++] = b->h2_links[i];
		for (int i = 0; i < k; i++) {
			if (!all[i])
				continue;
			if (n == DETACH_THREADS) {
				destroy_links(links, n);
				n = 0;
			}
			links[n++] = all[i];
		}
		free(b->pids);
		free(b);
	}
	destroy_links(links, n);
}
