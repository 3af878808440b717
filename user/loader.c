// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The loader: check what the machine offers, pick the hooks, then
 * open -> configure -> load -> attach. Every failure a user can hit ends in
 * one line that says what to do; libbpf's own log shows only with -v.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "loader.h"
#include "go_offsets.h"
#include "gotls_sites.h"
#include "weft.skel.h"

static bool verbose;

static int print_libbpf(enum libbpf_print_level level, const char *fmt,
			va_list args)
{
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

const char *loader_hooks_name(enum hook_mode m)
{
	switch (m) {
	case HOOKS_SOCK:
		return "sock tracepoints";
	case HOOKS_SYSCALLS:
		return "syscall tracepoints";
	default:
		return "auto";
	}
}

static bool kernel_has_type(struct btf *vmlinux, const char *name)
{
	return vmlinux && btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) > 0;
}

/* tracefs is only needed by classic tracepoints; weft attaches through BTF
 * raw tracepoints, but mounts it when absent so that -v users and bpftool
 * see the same event list the kernel has. Failure is not fatal. */
static void ensure_tracefs(void)
{
	struct stat st;

	if (stat("/sys/kernel/tracing/events", &st) == 0)
		return;
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) && verbose)
		fprintf(stderr, "weft: note: could not mount tracefs: %s\n",
			strerror(errno));
}

static int preflight(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (geteuid() != 0) {
		fprintf(stderr, "weft: must run as root (needs CAP_BPF, CAP_PERFMON "
			"and CAP_SYS_ADMIN): try 'sudo weft'\n");
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fprintf(stderr, "weft: this kernel has no BTF (/sys/kernel/btf/vmlinux "
			"missing): weft needs a kernel built with CONFIG_DEBUG_INFO_BTF=y\n");
		return -ENOENT;
	}
	if (uname(&u) == 0 && sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
	    (major < 5 || (major == 5 && minor < 17))) {
		fprintf(stderr, "weft: kernel %s is too old: weft needs 5.17 or newer "
			"(BPF ring buffer, bpf_loop, task pt_regs)\n", u.release);
		return -ENOTSUP;
	}
	return 0;
}

static int configure(struct loader *l, const struct loader_opts *o)
{
	struct weft_bpf *s = l->skel;
	bool sock = l->hooks == HOOKS_SOCK;

	s->rodata->self_tgid = getpid();
	s->rodata->hdr_window = o->hdr_window;
	s->rodata->body_capture = o->body_capture;
	s->rodata->filter_pids = o->n_pids > 0;
	s->rodata->filter_ports = o->n_ports > 0;
	s->rodata->netns_inum = o->netns_inum;
	/* --exe without --comm is decided in the agent, so comm filtering in
	 * the kernel is only on when it alone decides */
	s->rodata->filter_comms = o->n_comms > 0;
	{
		/* Go structs for the TLS probes: the newest release's layout;
		 * goprobes attaches them only to binaries whose release
		 * has the same (go_tls_layout_loaded) */
		struct go_offsets g;

		if (go_tls_layout_newest(&g) == 0) {
			s->rodata->go_tls_conn_off = g.tls_conn_conn;
			s->rodata->go_iface_data_off = g.iface_data;
			s->rodata->go_tcpconn_fd_off = g.tcpconn_fd;
			s->rodata->go_netfd_sysfd_off = g.netfd_pfd + g.pfd_sysfd;
		}
	}

	bpf_program__set_autoload(s->progs.on_sock_send, sock);
	bpf_program__set_autoload(s->progs.on_sock_recv, sock);
	bpf_program__set_autoload(s->progs.on_sys_enter, !sock);
	bpf_program__set_autoload(s->progs.on_sys_exit, !sock);

	if (bpf_map__set_max_entries(s->maps.events, o->ringbuf_mb << 20))
		return -EINVAL;
	if (o->max_conns && bpf_map__set_max_entries(s->maps.conns, o->max_conns))
		return -EINVAL;
	return 0;
}

static int fill_filters(struct loader *l, const struct loader_opts *o)
{
	__u8 one = 1;

	for (int i = 0; i < o->n_pids; i++)
		if (bpf_map__update_elem(l->skel->maps.pid_filter, &o->pids[i],
					 sizeof(o->pids[i]), &one, 1, BPF_ANY))
			return -errno;
	for (int i = 0; i < o->n_comms; i++)
		if (bpf_map__update_elem(l->skel->maps.comm_filter, o->comms[i],
					 sizeof(o->comms[i]), &one, 1, BPF_ANY))
			return -errno;
	for (int i = 0; i < o->n_ports; i++)
		if (bpf_map__update_elem(l->skel->maps.port_filter, &o->ports[i],
					 sizeof(o->ports[i]), &one, 1, BPF_ANY))
			return -errno;
	return 0;
}

int loader_start(struct loader *l, const struct loader_opts *o)
{
	struct btf *vmlinux;
	int err;

	memset(l, 0, sizeof(*l));
	verbose = o->verbose;
	libbpf_set_print(print_libbpf);
	err = preflight();
	if (err)
		return err;

	vmlinux = btf__load_vmlinux_btf();
	l->hooks = o->hooks;
	if (l->hooks == HOOKS_AUTO)
		l->hooks = kernel_has_type(vmlinux, "btf_trace_sock_send_length")
				   ? HOOKS_SOCK : HOOKS_SYSCALLS;
	if (l->hooks == HOOKS_SOCK &&
	    !kernel_has_type(vmlinux, "btf_trace_sock_send_length")) {
		fprintf(stderr, "weft: this kernel has no sock:sock_send_length "
			"tracepoint (added in 6.3): use --hooks syscalls or auto\n");
		btf__free(vmlinux);
		return -ENOTSUP;
	}
	btf__free(vmlinux);
	ensure_tracefs();

	l->skel = weft_bpf__open();
	if (!l->skel) {
		err = -errno;
		fprintf(stderr, "weft: failed to open BPF object: %s\n", strerror(-err));
		return err;
	}
	l->ncpus = libbpf_num_possible_cpus();
	err = configure(l, o);
	if (err) {
		fprintf(stderr, "weft: failed to configure BPF object: %s\n",
			strerror(-err));
		goto fail;
	}
	err = weft_bpf__load(l->skel);
	if (err) {
		fprintf(stderr, "weft: failed to load BPF programs: %s%s\n",
			strerror(-err), verbose ? "" : " (run with -v for the verifier log)");
		goto fail;
	}
	err = fill_filters(l, o);
	if (err) {
		fprintf(stderr, "weft: failed to set filters: %s\n", strerror(-err));
		goto fail;
	}
	err = weft_bpf__attach(l->skel);
	if (err) {
		fprintf(stderr, "weft: failed to attach BPF programs: %s%s\n",
			strerror(-err), verbose ? "" : " (run with -v for details)");
		goto fail;
	}
	return 0;
fail:
	weft_bpf__destroy(l->skel);
	l->skel = NULL;
	return err;
}

void loader_stop(struct loader *l)
{
	weft_bpf__destroy(l->skel);
	l->skel = NULL;
}

int loader_ringbuf_fd(struct loader *l)
{
	return bpf_map__fd(l->skel->maps.events);
}

bool loader_stop_conn(struct loader *l, const struct weft_conn_key *k)
{
	int fd = bpf_map__fd(l->skel->maps.stop_conns);
	volatile __u32 *pending = &l->skel->bss->stop_pending;

	/* an entry of an older socket at this address goes first: the new
	 * one must not fail on it (the kernel side drops such entries too) */
	if (bpf_map_delete_elem(fd, &k->sk) == 0)
		__atomic_fetch_sub(pending, 1, __ATOMIC_SEQ_CST);
	if (bpf_map_update_elem(fd, &k->sk, &k->gen, BPF_NOEXIST) != 0)
		return false;
	__atomic_fetch_add(pending, 1, __ATOMIC_SEQ_CST);
	return true;
}

void loader_stop_conn_done(struct loader *l, const struct weft_conn_key *k)
{
	int fd = bpf_map__fd(l->skel->maps.stop_conns);
	__u64 gen;

	/* only this socket's question: a newer one at the address stays */
	if (bpf_map_lookup_elem(fd, &k->sk, &gen) == 0 && gen == k->gen &&
	    bpf_map_delete_elem(fd, &k->sk) == 0)
		__atomic_fetch_sub(&l->skel->bss->stop_pending, 1, __ATOMIC_SEQ_CST);
}

int loader_own_conns_fd(struct loader *l)
{
	return bpf_map__fd(l->skel->maps.own_conns);
}

int loader_own_listeners_fd(struct loader *l)
{
	return bpf_map__fd(l->skel->maps.own_listeners);
}

int loader_counters(struct loader *l, uint64_t *out)
{
	__u64 vals[l->ncpus > 0 ? l->ncpus : 1];

	for (__u32 i = 0; i < WEFT_CNT_MAX; i++) {
		out[i] = 0;
		if (bpf_map__lookup_elem(l->skel->maps.counters, &i, sizeof(i), vals,
					 sizeof(vals), 0))
			return -errno;
		for (int c = 0; c < l->ncpus; c++)
			out[i] += vals[c];
	}
	return 0;
}
