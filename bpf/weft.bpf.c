// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft's kernel side: see the bytes every process moves over TCP, keep
 * those of HTTP/1.x connections, and hand them to the agent through one
 * ring buffer. Two ways in, chosen by the loader:
 *  - sock:sock_send_length / sock:sock_recv_length (kernel >= 6.3): fire
 *    once per socket call with the socket itself; the buffer comes from
 *    the syscall arguments in the task's saved registers;
 *  - raw sys_enter / sys_exit (older kernels): arguments saved at entry,
 *    the socket found from the file descriptor at exit.
 * Connection roles and closes come from sock:inet_sock_set_state.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "weft.h"
#include "maps.bpf.h"
#include "http_detect.bpf.h"
#include "io_src.bpf.h"
#include "capture.bpf.h"
#include "go_link.bpf.h"
#include "go_tls.bpf.h"
#include "chunk.bpf.h"

#ifndef __TARGET_ARCH_x86
#error "weft's BPF side reads x86-64 registers (syscall arguments, Go's R14)"
#endif

#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define MSG_PEEK	2
#define PF_KTHREAD	0x00200000
#define PF_IO_WORKER	0x00000010
#define S_IFMT		00170000
#define S_IFSOCK	0140000

/* Set by the loader before load. */
const volatile __u32 self_tgid = 0;
const volatile __u32 hdr_window = WEFT_HDR_WINDOW_DEFAULT;
const volatile __u32 body_capture = WEFT_BODY_CAPTURE_DEFAULT;
const volatile bool filter_pids = false;
const volatile bool filter_ports = false;
const volatile bool filter_comms = false;
const volatile __u32 netns_inum = 0;	/* --netns: only sockets of this net ns */
/*
 * From a *tls.Conn to its socket's file descriptor: tls.Conn.conn (a
 * net.Conn interface: type word, data word) -> *net.TCPConn, whose
 * net.conn.fd -> *netFD, whose pfd (poll.FD) holds Sysfd. Set by the
 * loader from user/go_offsets.c; the agent attaches the TLS probes only
 * to binaries whose release has these same offsets there.
 */
/* Set by the agent once a binary's crypto/tls is probed: until then no
 * socket call pays for the lookup of a TLS call in progress. */
volatile __u32 go_tls_active = 0;
/* Entries in stop_conns: while 0, an HTTP/2 socket call pays no lookup.
 * The agent adds one per entry it puts in; whichever side deletes an
 * entry takes one off (atomically on both sides: the agent writes it
 * through the mapped .bss). */
volatile __u32 stop_pending = 0;
/* Always 0; see io_from_regs. */
volatile __u8 io_zero = 0;
const volatile __u32 go_tls_conn_off = 0;	/* tls.Conn.conn */
const volatile __u32 go_iface_data_off = 8;	/* an interface's data word */
const volatile __u32 go_tcpconn_fd_off = 0;	/* net.TCPConn -> conn.fd */
const volatile __u32 go_netfd_sysfd_off = 16;	/* netFD.pfd.Sysfd */

static __noinline void fill_addr(struct weft_addr *a, struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	a->family = family;
	a->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	a->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		__builtin_memset(a->saddr, 0, sizeof(a->saddr));
		__builtin_memset(a->daddr, 0, sizeof(a->daddr));
		BPF_CORE_READ_INTO((__u32 *)a->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)a->daddr, sk, __sk_common.skc_daddr);
	} else {
		/* whole 16-byte arrays: BPF_CORE_READ_INTO would copy one byte */
		bpf_core_read(a->saddr, sizeof(a->saddr), &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(a->daddr, sizeof(a->daddr), &sk->__sk_common.skc_v6_daddr);
	}
}

/* A socket's addresses as struct weft_tuple has them (IPv4 v4-mapped);
 * flip: as the socket at the other end sees them. */
static __always_inline void tuple_of(const struct weft_addr *a,
				     struct weft_tuple *t, bool flip)
{
	__u8 *l = flip ? t->raddr : t->laddr, *r = flip ? t->laddr : t->raddr;

	__builtin_memset(t, 0, sizeof(*t));
	if (a->family == AF_INET) {
		l[10] = l[11] = 0xff;
		r[10] = r[11] = 0xff;
		__builtin_memcpy(&l[12], a->saddr, 4);
		__builtin_memcpy(&r[12], a->daddr, 4);
	} else {
		__builtin_memcpy(l, a->saddr, 16);
		__builtin_memcpy(r, a->daddr, 16);
	}
	t->lport = flip ? a->dport : a->sport;
	t->rport = flip ? a->sport : a->dport;
}

/* Is this socket the far end of one of weft's own connections? Asked once
 * per connection, when its first message starts. Returns the
 * enum weft_own_kind, 0 when not. */
static __noinline int own_conn(struct conn_state *c, struct sock *sk)
{
	struct weft_tuple t;
	__u8 *kind;

	if (!c->addr_ok) {
		fill_addr(&c->addr, sk);
		c->addr_ok = 1;
	}
	tuple_of(&c->addr, &t, false);
	kind = bpf_map_lookup_elem(&own_conns, &t);
	return kind ? *kind : 0;
}

/*
 * sk was just accepted (its handshake completed). If it was accepted on
 * weft's own endpoint, the client's socket is told now, before it can send
 * its request: the handshake's last ACK is handled before the data behind
 * it. No entry is removed at close: a stale 4-tuple can only name another
 * connection to the same endpoint, and the map is LRU.
 */
static __noinline void own_accept(struct sock *sk)
{
	__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	struct weft_listener *l;
	struct weft_addr a;
	struct weft_tuple t;
	__u8 kind = WEFT_OWN_ENDPOINT;
	__u64 want[2], got[2];

	l = bpf_map_lookup_elem(&own_listeners, &lport);
	if (!l || l->netns_inum != BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum))
		return;
	fill_addr(&a, sk);
	tuple_of(&a, &t, true);
	/* bound to one address: another process may listen on the same port
	 * at another address of this namespace */
	__builtin_memcpy(want, l->addr, 16);
	__builtin_memcpy(got, t.raddr, 16);
	if ((want[0] | want[1]) && (want[0] != got[0] || want[1] != got[1]))
		return;
	bpf_map_update_elem(&own_conns, &t, &kind, BPF_ANY);
}

/* TCP sequence number of the chunk's first byte: the counters have already
 * moved past the chunk when the tracepoint fires. */
#define RCV_SHUTDOWN	1

static __always_inline __u32 chunk_seq(struct sock *sk, __u8 dir, __u32 len)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u32 copied;

	if (dir == WEFT_DIR_SEND)
		return BPF_CORE_READ(tp, write_seq) - len;
	copied = BPF_CORE_READ(tp, copied_seq);
	/* A read that reaches the peer's FIN counts it in copied_seq too
	 * (tcp_recvmsg, found_fin_ok): a request read together with the
	 * close would be a byte off and miss its client end (rule 2). The
	 * FIN is consumed exactly when the receive side is shut down and
	 * nothing is left: copied_seq == rcv_nxt. */
	if ((BPF_CORE_READ(sk, sk_shutdown) & RCV_SHUTDOWN) &&
	    copied == BPF_CORE_READ(tp, rcv_nxt))
		copied--;
	return copied - len;
}

/*
 * When a send's bytes left: the time TCP transmitted them, not when the
 * tracepoint fired. sock_send_length fires after tcp_sendmsg returns; on
 * loopback the peer has the bytes (and may have run) by then, and a sender
 * delayed in between (preempted, or its vCPU stolen by the host) got a send
 * time milliseconds late: a server span ending after its client's (CI, busy
 * CPUs: 2.5 and 4.3 ms) or starting before it (1.6 ms).
 *
 * Two clocks on the socket, both CLOCK_MONOTONIC like bpf_ktime_get_ns:
 *  - tp->first_tx_mstamp (us; tcp_rate.c): set from the transmitted skb's
 *    timestamp when a data packet leaves with nothing in flight, and on
 *    each ACK to the send time of the newest packet it acknowledged. For a
 *    request or a response (the peer had acknowledged everything before
 *    it) it is when this send's first bytes left, whatever arrived since.
 *  - tp->tcp_clock_cache (ns): refreshed by tcp_write_xmit before it
 *    transmits, but also by every segment the socket receives. A sender
 *    delayed after its transmit finds the time the peer's answer (or ACK)
 *    came in: used only when the first clock does not apply.
 * Either is used only when it is later than the socket's previous record
 * (a value from an earlier flight, or a send TCP only queued behind data
 * in flight, leaves an older value behind) and not in the future (pacing
 * stamps departures ahead); else the tracepoint's time stands.
 */
static __always_inline __u64 send_ts(struct sock *sk, struct conn_state *c,
				     __u64 now)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u64 floor = c->last_ts, t;

	c->last_ts = now;
	if (bpf_core_field_exists(tp->first_tx_mstamp)) {
		t = BPF_CORE_READ(tp, first_tx_mstamp) * 1000;
		if (t > floor && t <= now)
			return t;
	}
	if (bpf_core_field_exists(tp->tcp_clock_cache)) {
		t = BPF_CORE_READ(tp, tcp_clock_cache);
		if (t > floor && t < now)
			return t;
	}
	return now;
}

static __always_inline bool wanted_task(__u32 tgid)
{
	if (tgid == self_tgid)
		return false;	/* our own OTLP export would trace itself */
	if (filter_pids && !bpf_map_lookup_elem(&pid_filter, &tgid))
		return false;
	if (filter_comms) {
		char comm[16] = {};

		bpf_get_current_comm(comm, sizeof(comm));
		if (!bpf_map_lookup_elem(&comm_filter, comm))
			return false;
	}
	return true;
}

static __always_inline bool wanted_netns(const struct sock *sk)
{
	if (!netns_inum)
		return true;
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) == netns_inum;
}

static __always_inline bool wanted_ports(__u16 lport, __u16 rport)
{
	if (!filter_ports)
		return true;
	return bpf_map_lookup_elem(&port_filter, &lport) ||
	       bpf_map_lookup_elem(&port_filter, &rport);
}

/*
 * Build and send the record of a chunk on an HTTP connection. Not inlined:
 * the verifier checks it once per distinct caller state instead of once
 * per path through the connection-tracking branches above it.
 */
static __noinline int emit_chunk(struct io_ctx *ic, struct conn_state *c)
{
	struct sock *sk = (struct sock *)ic->sk;
	struct weft_data_rec *rec;
	struct scratch *s;
	__u32 zero = 0, cap, flags = ic->flags, len = ic->len;
	__u8 dir = ic->dir & 1;

	s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 0;
	rec = &s->rec;
	cap = chunk_capture(s, ic, &c->d[dir], hdr_window, body_capture, &flags);

	rec_head(&rec->h, WEFT_REC_DATA, ic->pid_tgid);
	if (dir == WEFT_DIR_SEND)
		rec->h.ts_ns = send_ts(sk, c, rec->h.ts_ns);
	else
		c->last_ts = rec->h.ts_ns;
	rec->h.conn.sk = ic->sk;
	rec->h.conn.gen = c->gen;
	if (!c->addr_ok) {
		fill_addr(&c->addr, sk);
		c->addr_ok = 1;
	}
	rec->addr = c->addr;
	rec->g = ic->g;
	/* only a request written by Go's writeLoop has an asker to name:
	 * responses on accepted connections skip the lookup */
	rec->origin_g = dir == WEFT_DIR_SEND && c->role != WEFT_ROLE_SERVER ?
			go_origin(rec->h.pid, ic->g) : 0;
	rec->seq = ic->has_seq ? ic->seq : chunk_seq(sk, dir, len);
	rec->tx_seq = 0;
	/* a socket's own read: where its sends had got to (TLS plaintext
	 * is not counted in the socket's sequence numbers), unless it is
	 * known that nothing was sent */
	if (dir == WEFT_DIR_RECV && !ic->tls) {
		__u32 w = BPF_CORE_READ((struct tcp_sock *)sk, write_seq);

		if (!c->tx_base_ok || w != c->tx_base) {
			rec->tx_seq = w;
			flags |= WEFT_F_TX_SEQ;
		}
	}
	rec->len = len;
	rec->cap_len = cap;
	rec->flags = flags;
	rec->dir = dir;
	rec->role = c->role;
	bpf_get_current_comm(rec->comm, sizeof(rec->comm));
	chunk_tail(s, &ic->src, len, cap);

	if (cap > WEFT_DATA_MAX)
		cap = WEFT_DATA_MAX;
	if (bpf_ringbuf_output(&events, rec, sizeof(*rec) + cap,
			       rb_flags(&s->nrec)))
		count(WEFT_CNT_RB_FULL);
	else
		count(WEFT_CNT_DATA_EVENTS);
	/* closed while bytes were queued (on_set_state): forgotten once
	 * the application has read them all */
	if (c->closing && dir == WEFT_DIR_RECV &&
	    BPF_CORE_READ((struct tcp_sock *)sk, rcv_nxt) -
	    BPF_CORE_READ((struct tcp_sock *)sk, copied_seq) < c->closing) {
		__u64 key = ic->sk;

		bpf_map_delete_elem(&conns, &key);
	}
	return 0;
}

/*
 * A connection kept after TCP_CLOSE for its unread bytes (on_set_state)
 * is still that socket unless the address now holds a live one: then its
 * entry goes. Not inlined: the socket hooks' verification stays as it was
 * for every entry that is not closing.
 */
static __noinline bool closing_replaced(struct sock *sk)
{
	__u64 key = (__u64)sk;

	if (!sk)
		return false;
	if (BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP &&
	    BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_CLOSE)
		return false;
	bpf_map_delete_elem(&conns, &key);
	return true;
}

/*
 * Cheap checks first, before any user memory is read: most socket calls on
 * a node are not HTTP we follow. A socket already in conns passed the
 * socket checks when it was added; only the process filter is left.
 */
static __always_inline int io_prefilter(struct sock *sk, struct io_ctx *ic,
					struct conn_state **cp)
{
	__u64 key = (__u64)sk;
	__u16 family;

	ic->pid_tgid = bpf_get_current_pid_tgid();
	if (!wanted_task(ic->pid_tgid >> 32))
		return -1;
	*cp = bpf_map_lookup_elem(&conns, &key);
	if (*cp) {
		if (!(*cp)->closing || !closing_replaced(sk))
			return 0;
		*cp = NULL;
	}
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return -1;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return -1;
	if (!wanted_ports(BPF_CORE_READ(sk, __sk_common.skc_num),
			  bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport))) ||
	    !wanted_netns(sk))
		return -1;
	return 0;
}

/* A connection first seen carrying a message. Not inlined: the zeroed
 * entry it builds stays off the stack of the programs that call
 * emit_chunk after it (512 bytes for the whole chain). */
static __noinline struct conn_state *conn_new(__u64 key)
{
	struct conn_state fresh = {};

	fresh.gen = bpf_ktime_get_ns();
	bpf_map_update_elem(&conns, &key, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&conns, &key);
}

/* Did the agent give this HTTP/2 connection up (stop_conns)? Then it is
 * skipped from now on, like weft's own connections. An entry for an older
 * socket at the same address only goes. Not inlined: the socket hooks'
 * verification stays as it was for every other connection. */
static __noinline bool stop_asked(__u64 key, struct conn_state *c)
{
	__u64 *gen = bpf_map_lookup_elem(&stop_conns, &key);
	bool mine;

	if (!gen)
		return false;
	mine = *gen == c->gen;
	if (bpf_map_delete_elem(&stop_conns, &key) == 0)
		__sync_fetch_and_sub(&stop_pending, 1);
	if (!mine)
		return false;
	c->skip = 1;
	count(WEFT_CNT_CONN_STOPPED);
	return true;
}

/* The one path every hook ends in: one socket call moved ic->len bytes. */
static __always_inline int handle_io(struct sock *sk, struct io_ctx *ic,
				     struct conn_state *c)
{
	__u64 key = (__u64)sk;
	bool start;

	/* ciphertext of a TLS connection: its plaintext comes from uprobes */
	if (c && (c->skip || (c->tls && !ic->tls)))
		return 0;
	if (c && c->h2 && stop_pending && stop_asked(key, c))
		return 0;
	start = chunk_judge(ic, c && c->http);
	if (!c) {
		if (!start) {
			count(WEFT_CNT_NOT_HTTP);
			return 0;
		}
		c = conn_new(key);
		if (!c)
			return 0;
	}
	if (!c->http) {
		if (!start)
			return 0;
		switch (own_conn(c, sk)) {
		case WEFT_OWN_EXPORT:
			c->skip = 1;
			count(WEFT_CNT_OWN_CONN);
			return 0;
		case WEFT_OWN_ENDPOINT:
			c->skip = 1;
			count(WEFT_CNT_OWN_ENDPOINT);
			return 0;
		}
		c->http = 1;
		c->h2 = ic->preface != 0;
		if (ic->preface == START_H2_MID)
			ic->flags |= WEFT_F_H2_MID;
	}
	if (ic->tls)
		c->tls = 1;
	if (c->h2) {
		/* frames, not heads: every chunk goes, no message marks */
		ic->raw = 1;
		ic->flags |= WEFT_F_H2;
	} else {
		chunk_track(ic, &c->d[ic->dir & 1], start);
	}
	ic->sk = key;
	return emit_chunk(ic, c);
}

static __always_inline bool user_task(void)
{
	struct task_struct *t = bpf_get_current_task_btf();

	return !(t->flags & (PF_KTHREAD | PF_IO_WORKER));
}

/* Buffer of the syscall in progress, from the task's saved registers;
 * also R14, the goroutine when the caller is Go. */
static __always_inline int io_from_regs(struct io_ctx *ic, long ret, __u8 dir)
{
	struct pt_regs *regs;

	if (!user_task())
		return -1;
	/* a BTF pointer: plain loads, no probe-read helper calls */
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	ic->g = regs->r14;
	ic->len = ret;
	ic->dir = dir;
	ic->flags = 0;
	/* the sock hooks' io_ctx is not zeroed (a stack of 120 bytes per
	 * call): every field handle_io reads is set here or by chunk_judge.
	 * A privileged program may read stack it never wrote; these were
	 * garbage, and a plain connection taken for TLS or HTTP/2 lost its
	 * spans (the k8s demo's Go clients, once the fields existed).
	 * io_zero is 0 but a map value to the verifier, an unknown: known
	 * zeros here split its states and the program went over its 1M
	 * instructions, while an unknown costs what the garbage did. */
	ic->raw = io_zero;
	ic->preface = io_zero;
	ic->tls = io_zero;
	ic->has_seq = io_zero;
	ic->seq = io_zero;
	if (io_src_from_args(&ic->src, regs->orig_ax, regs->si, regs->dx, ret)) {
		count(WEFT_CNT_UNKNOWN_SYSCALL);
		return -1;
	}
	return 0;
}

/*
 * Is this socket call made inside a crypto/tls call of a Go process
 * (go_tls.bpf.h)? Returns 0 when not: the chunk is the socket's own; 1
 * when ic now holds the call's plaintext (Write); -1 when the chunk is
 * ciphertext to ignore (Read: its plaintext comes where Read copies it out).
 */
static __noinline int tls_swap(struct sock *sk, struct io_ctx *ic,
				    struct conn_state *c, __u32 ret)
{
	struct go_key k = { .tgid = ic->pid_tgid >> 32, .ptr = ic->g };
	struct tls_call *t;
	__u64 skv = (__u64)sk;

	if (c && ic->dir == WEFT_DIR_RECV && !c->http) {
		/* where the socket's last read ended: the handshake's last
		 * read often brings the first request along (tls_read_take) */
		c->rx_end = chunk_seq(sk, WEFT_DIR_RECV, 0);
	}
	/* A known plaintext HTTP connection is never TLS: no lookup (the
	 * steady state of plain traffic, in every Go process with net/http,
	 * crypto/tls linked in and probed). A note found here would be one
	 * left by a call that made no socket call (a Read that failed, a
	 * Write to a closed connection) on a goroutine now doing plain I/O. */
	if (c && c->http && !c->tls)
		return 0;
	t = ic->g && go_tls_active ? bpf_map_lookup_elem(&go_tls_calls, &k) : NULL;
	if (!t)
		return c && c->tls ? -1 : 0;
	if (c)
		c->tls = 1;
	{
		struct go_key ck = { .tgid = k.tgid, .ptr = t->tconn };

		bpf_map_update_elem(&go_tls_socks, &ck, &skv, BPF_ANY);
	}
	if (t->dir != ic->dir)
		return -1;	/* a record the TLS layer writes while reading */
	if (ic->dir == WEFT_DIR_RECV) {
		if (!t->sock_seen) {
			t->sk = skv;
			t->seq = chunk_seq(sk, WEFT_DIR_RECV, ret);
			t->sock_seen = 1;
		}
		return -1;
	}
	/* the call's first socket write: its whole plaintext goes now */
	__builtin_memset(&ic->src, 0, sizeof(ic->src));
	ic->src.ptr[0] = t->buf;
	ic->src.len[0] = t->len;
	ic->len = t->len;
	ic->seq = chunk_seq(sk, WEFT_DIR_SEND, ret);
	ic->has_seq = 1;
	ic->tls = 1;
	ic->flags |= WEFT_F_TLS;
	bpf_map_delete_elem(&go_tls_calls, &k);
	return 1;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(on_sock_send, struct sock *sk, int ret, int flags)
{
	struct conn_state *c;
	struct io_ctx ic;

	if (ret <= 0 || io_prefilter(sk, &ic, &c) ||
	    io_from_regs(&ic, ret, WEFT_DIR_SEND) || tls_swap(sk, &ic, c, ret) < 0)
		return 0;
	return handle_io(sk, &ic, c);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(on_sock_recv, struct sock *sk, int ret, int flags)
{
	struct conn_state *c;
	struct io_ctx ic;

	if (ret <= 0 || (flags & MSG_PEEK) || io_prefilter(sk, &ic, &c) ||
	    io_from_regs(&ic, ret, WEFT_DIR_RECV) || tls_swap(sk, &ic, c, ret) < 0)
		return 0;
	return handle_io(sk, &ic, c);
}

/* The TCP/IP sock behind a file descriptor of the current task, or NULL. */
static __always_inline struct sock *sock_of_fd(__u64 fd)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct file **fds, *f;
	struct socket *so;
	__u32 max;

	max = BPF_CORE_READ(t, files, fdt, max_fds);
	if (fd >= max)
		return NULL;
	fds = BPF_CORE_READ(t, files, fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	so = BPF_CORE_READ(f, private_data);
	return so ? BPF_CORE_READ(so, sk) : NULL;
}

/* ---- fallback for kernels without the sock tracepoints ---- */

struct sys_args {
	__u64 nr;
	__u64 fd;
	__u64 a1;
	__u64 a2;
	__u64 a3;
};

/* Arguments of socket calls in flight, by thread, for sys_exit. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct sys_args);
} inflight SEC(".maps");

static __always_inline bool is_io_syscall(long id)
{
	return id == NR_read || id == NR_write || id == NR_readv ||
	       id == NR_writev || id == NR_sendto || id == NR_recvfrom ||
	       id == NR_sendmsg || id == NR_recvmsg;
}

static __always_inline bool is_send(long id)
{
	return id == NR_write || id == NR_writev || id == NR_sendto ||
	       id == NR_sendmsg;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sys_args a;

	if (!is_io_syscall(id) || !wanted_task(pid_tgid >> 32))
		return 0;
	a.nr = id;
	a.fd = BPF_CORE_READ(regs, di);
	a.a1 = BPF_CORE_READ(regs, si);
	a.a2 = BPF_CORE_READ(regs, dx);
	a.a3 = BPF_CORE_READ(regs, r10);
	bpf_map_update_elem(&inflight, &pid_tgid, &a, BPF_ANY);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sys_args *a, args;
	struct conn_state *c;
	struct io_ctx ic;
	struct sock *sk;

	a = bpf_map_lookup_elem(&inflight, &pid_tgid);
	if (!a)
		return 0;
	args = *a;
	bpf_map_delete_elem(&inflight, &pid_tgid);
	if (ret <= 0)
		return 0;
	if ((args.nr == NR_recvfrom && (args.a3 & MSG_PEEK)) ||
	    (args.nr == NR_recvmsg && (args.a2 & MSG_PEEK)))
		return 0;
	sk = sock_of_fd(args.fd);
	if (!sk || io_prefilter(sk, &ic, &c))
		return 0;
	if (io_src_from_args(&ic.src, args.nr, args.a1, args.a2, ret))
		return 0;
	ic.len = ret;
	ic.dir = is_send(args.nr) ? WEFT_DIR_SEND : WEFT_DIR_RECV;
	ic.flags = WEFT_F_SYSCALL_HOOK;
	ic.g = BPF_CORE_READ(regs, r14);
	ic.small = ic.raw = ic.preface = ic.tls = ic.has_seq = 0;
	if (tls_swap(sk, &ic, c, ret) < 0)
		return 0;
	return handle_io(sk, &ic, c);
}

/* ---- connection lifecycle ---- */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_set_state, const struct sock *sk, const int oldstate,
	     const int newstate)
{
	__u64 key = (__u64)sk;
	struct conn_state *c;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_ESTABLISHED &&
	    (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV)) {
		struct conn_state fresh = {
			.gen = bpf_ktime_get_ns(),
			.role = oldstate == TCP_SYN_SENT ? WEFT_ROLE_CLIENT
							 : WEFT_ROLE_SERVER,
			.tx_base_ok = 1,
			.tx_base = BPF_CORE_READ((struct tcp_sock *)sk, write_seq),
		};

		/* before the filters: a scraper's port may be filtered in */
		if (oldstate == TCP_SYN_RECV)
			own_accept((struct sock *)sk);
		if (!wanted_ports(BPF_CORE_READ(sk, __sk_common.skc_num),
				  bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport))) ||
		    !wanted_netns(sk))
			return 0;
		bpf_map_update_elem(&conns, &key, &fresh, BPF_ANY);
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;
	/* a question the socket did not live to see answered (stop_asked) */
	if (stop_pending && bpf_map_delete_elem(&stop_conns, &key) == 0)
		__sync_fetch_and_sub(&stop_pending, 1);
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c || c->closing)
		return 0;
	if (c->http) {
		struct tcp_sock *tp = (struct tcp_sock *)sk;
		struct weft_close_rec *r;
		__u32 unread;

		/* a reset comes at once, with the peer's last bytes (often
		 * the response) still queued for the application to read.
		 * Only from ESTABLISHED and CLOSE_WAIT (a FIN came first,
		 * counted in rcv_nxt until a read takes it): in the other
		 * states the application has closed the socket. */
		unread = BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq);
		if (oldstate == TCP_CLOSE_WAIT && unread)
			unread--;
		else if (oldstate != TCP_ESTABLISHED)
			unread = 0;
		if (unread > (1u << 30))
			unread = 0;
		r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
		if (r) {
			rec_head(&r->h, WEFT_REC_CLOSE, bpf_get_current_pid_tgid());
			r->h.conn.sk = key;
			r->h.conn.gen = c->gen;
			r->oldstate = oldstate;
			r->unread = unread;
			/* one per connection: not worth a wakeup question */
			bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
			count(WEFT_CNT_CLOSE_EVENTS);
		} else {
			count(WEFT_CNT_RB_FULL);
		}
		if (unread) {
			/* its reads still go out under this generation; 2:
			 * the FIN may stay unread after the data */
			c->closing = oldstate == TCP_CLOSE_WAIT ? 2 : 1;
			return 0;
		}
	}
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

/* ---- Go: which goroutine asked for a request (go_link.bpf.h) ---- */

/* A Go register-ABI argument: the register WEFT_H2_REG_* names. */
static __always_inline __u64 go_arg(struct pt_regs *ctx, __u64 which)
{
	__u64 ax = ctx->ax, bx = ctx->bx, cx = ctx->cx, di = ctx->di;

	/* loaded here, each at its constant offset: the verifier refuses a
	 * context read at an offset the compiler would compute */
	asm volatile("" : "+r"(ax), "+r"(bx), "+r"(cx), "+r"(di));
	switch (which & 3) {
	case WEFT_H2_REG_RAX: return ax;
	case WEFT_H2_REG_RBX: return bx;
	case WEFT_H2_REG_RCX: return cx;
	default: return di;
	}
}

/* func (t *Transport) roundTrip(req *Request): t in RAX, req in RBX. Also
 * x/net's func (cc *ClientConn) roundTrip (or RoundTrip) (req *Request,
 * ...), the way in for an http2.Transport used on its own. */
SEC("uprobe")
int go_transport_roundtrip(struct pt_regs *ctx)
{
	struct go_key k = { .tgid = bpf_get_current_pid_tgid() >> 32 };
	__u64 g = ctx->r14;

	/* cookie 1: grpc-go's controlBuffer.executeAndPut(f, it cbItem), the
	 * call's *headerFrame (*clientHeaders) the interface's data word */
	k.ptr = go_arg(ctx, bpf_get_attach_cookie(ctx) == 1 ? WEFT_H2_REG_RDI :
							     WEFT_H2_REG_RBX);

	bpf_map_update_elem(&go_req_asker, &k, &g, BPF_ANY);
	return 0;
}

/*
 * func (r *Request) write(w io.Writer, ...): r in RAX (attach cookie 0).
 * Also HTTP/2's func (cs *clientStream) writeRequest(req *Request, ...),
 * req in RBX (cookie 1), in net/http's bundled client and x/net's: it runs
 * on the goroutine each request gets (doRequest) and writes the HEADERS.
 */
SEC("uprobe")
int go_request_write(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 ck = bpf_get_attach_cookie(ctx);
	struct go_key k = { .tgid = tgid };
	__u64 *asker, *prev, a;

	/* cookie 2: grpc-go's loopyWriter.(client)headerHandler(h), h in RBX:
	 * an asker for one write only (GO_ASKER_ONCE) */
	k.ptr = go_arg(ctx, ck ? WEFT_H2_REG_RBX : WEFT_H2_REG_RAX);
	asker = bpf_map_lookup_elem(&go_req_asker, &k);
	k.ptr = ctx->r14;
	if (!asker) {
		/* not through Transport (a hand-rolled client): no asker */
		bpf_map_delete_elem(&go_writer_asker, &k);
		return 0;
	}
	a = *asker;
	if (ck == 2) {
		prev = bpf_map_lookup_elem(&go_writer_asker, &k);
		/* another call's HEADERS not written yet: nobody's write */
		if (prev && (*prev & GO_ASKER_ONCE) && (*prev & ~GO_ASKER_ONCE) != a)
			a = 0;
		a |= GO_ASKER_ONCE;
	}
	bpf_map_update_elem(&go_writer_asker, &k, &a, BPF_ANY);
	return 0;
}

SEC("uprobe")
int go_newproc1(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 creator = ctx->bx;

	bpf_map_update_elem(&go_tid_creator, &tid, &creator, BPF_ANY);
	return 0;
}

SEC("uprobe")
int go_gostartcallfn(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u64 *creator = bpf_map_lookup_elem(&go_tid_creator, &tid);
	struct go_key k = { .tgid = pid_tgid >> 32 };
	__u64 c;

	if (!creator)
		return 0;
	c = *creator;
	bpf_map_delete_elem(&go_tid_creator, &tid);
	k.ptr = ctx->ax - G_SCHED_OFF;
	bpf_map_update_elem(&go_g_parent, &k, &c, BPF_ANY);
	return 0;
}

/* ---- Go: HTTP/2 and gRPC handler goroutines (go_link.bpf.h) ---- */
/* A connection's serve loop or frame reader starts: note its goroutine
 * under the connection object (RAX). Once per goroutine. */
SEC("uprobe")
int go_h2_conn(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 which = bpf_get_attach_cookie(ctx);
	struct go_key k = { .tgid = tgid, .ptr = ctx->ax };
	struct go_h2_conn_gs zero = {}, *v;

	if (!wanted_task(tgid))
		return 0;
	v = bpf_map_lookup_elem(&go_h2_conns, &k);
	if (!v) {
		bpf_map_update_elem(&go_h2_conns, &k, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&go_h2_conns, &k);
		if (!v)
			return 0;
	}
	if (which & WEFT_H2_CONN_READER)
		v->reader = ctx->r14;
	if (which & WEFT_H2_CONN_SERVE)
		v->serve = ctx->r14;
	return 0;
}

/* A stream's handler goroutine starts (runHandler, handleStream): send
 * which stream of which connection it serves. */
SEC("uprobe")
int go_h2_stream(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	__u64 ck = bpf_get_attach_cookie(ctx);
	__u32 n = (ck >> 4) & 3, id = 0;
	__u64 p = go_arg(ctx, ck);
	struct go_key k = { .tgid = tgid, .ptr = go_arg(ctx, ck >> 2) };
	struct go_h2_conn_gs *v;
	struct weft_go_stream_rec *r;

	if (!wanted_task(tgid))
		return 0;
	/* the path: pointers at the offsets before the last, then the id */
	if (n >= 2 && (bpf_probe_read_user(&p, sizeof(p), (void *)(p + ((ck >> 16) & 0xffff))) || !p))
		goto unplaced;
	if (n >= 3 && (bpf_probe_read_user(&p, sizeof(p), (void *)(p + ((ck >> 32) & 0xffff))) || !p))
		goto unplaced;
	if (n < 1 || bpf_probe_read_user(&id, sizeof(id),
					 (void *)(p + ((ck >> (16 * n)) & 0xffff))) || !id)
		goto unplaced;
	v = bpf_map_lookup_elem(&go_h2_conns, &k);
	if (!v)
		goto unplaced;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(WEFT_CNT_RB_FULL);
		return 0;
	}
	rec_head(&r->h, WEFT_REC_GO_STREAM, pid_tgid);
	r->h.conn.sk = 0;
	r->h.conn.gen = 0;
	r->g = ctx->r14;
	r->reader_g = v->reader;
	r->serve_g = v->serve;
	r->stream_id = id;
	r->pad = 0;
	bpf_ringbuf_submit(r, 0);
	return 0;
unplaced:
	count(WEFT_CNT_GO_STREAM_UNPLACED);
	return 0;
}

/*
 * A Go HTTP/2 server acts on a request's decoded header fields:
 * net/http's and x/net's (*serverConn).processHeaders(f), grpc-go's
 * (*http2Server).operateHeaders(..., frame, ...): the receiver in RAX, the
 * *MetaHeadersFrame in the register the attach cookie names; and
 * grpc-go's (*loopyWriter).writeHeader, the fields of every HEADERS block
 * it is about to encode and send (cookie WEFT_H2_FIELDS_LOOPY). Attached only
 * to a process with an HTTP/2 connection weft took up from the middle
 * (user/goprobes.c, goprobes_want_h2_fields). The layout read is the
 * same in every release: MetaHeadersFrame{*HeadersFrame; Fields
 * []hpack.HeaderField; ...}, HeadersFrame starting with FrameHeader{valid
 * bool; Type, Flags uint8; Length, StreamID uint32}, HeaderField{Name,
 * Value string; Sensitive bool}.
 */
#define GO_HF_SIZE	40
SEC("uprobe")
int go_h2_fields(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 ck = bpf_get_attach_cookie(ctx);
	struct weft_go_h2_fields_rec *r;
	__u64 hf = 0, fields[2] = {}, frame;
	__u32 id = 0, off = 0, n = 0;

	if (!wanted_task(pid_tgid >> 32))
		return 0;
	if (ck == WEFT_H2_FIELDS_LOOPY) {
		/* (l *loopyWriter) writeHeader(streamID uint32, endStream
		 * bool, hf []hpack.HeaderField, onWrite func()) */
		id = ctx->bx;
		fields[0] = ctx->di;
		fields[1] = ctx->si;
	} else {
		frame = go_arg(ctx, ck);
		if (bpf_probe_read_user(&hf, sizeof(hf), (void *)frame) || !hf ||
		    bpf_probe_read_user(&id, sizeof(id), (void *)(hf + 8)) ||
		    bpf_probe_read_user(fields, sizeof(fields), (void *)(frame + 8)))
			return 0;
	}
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(WEFT_CNT_RB_FULL);
		return 0;
	}
	rec_head(&r->h, WEFT_REC_GO_H2_FIELDS, pid_tgid);
	r->h.conn.sk = 0;
	r->h.conn.gen = 0;
	r->g = ctx->r14;
	r->conn_obj = ctx->ax;
	r->stream_id = id & 0x7fffffff;
	r->total_fields = fields[1] > 0xffff ? 0xffff : fields[1];
	r->kind = ck == WEFT_H2_FIELDS_LOOPY ? WEFT_GO_FIELDS_WRITTEN : WEFT_GO_FIELDS_DECODED;
	for (int i = 0; i < WEFT_GO_FIELDS_N; i++) {
		__u64 str[4] = {};	/* Name.ptr, Name.len, Value.ptr, Value.len */
		__u32 nl, vl, vcut;

		if (i >= fields[1] ||
		    bpf_probe_read_user(str, sizeof(str), (void *)(fields[0] + i * GO_HF_SIZE)))
			break;
		nl = str[1] > WEFT_GO_FIELD_NAME_MAX ? WEFT_GO_FIELD_NAME_MAX : str[1];
		vl = str[3] > WEFT_GO_FIELD_VALUE_MAX ? WEFT_GO_FIELD_VALUE_MAX : str[3];
		vcut = str[3] > WEFT_GO_FIELD_VALUE_MAX ? WEFT_GO_FIELD_CUT : 0;
		if (off + 3 + nl + vl > WEFT_GO_FIELDS_MAX)
			break;
		/* (bounds the verifier can follow) */
		off &= WEFT_GO_FIELDS_MAX - 1;
		if (off > WEFT_GO_FIELDS_MAX - 3 - 64 - 512)
			break;
		/* (the compiler drops masks it thinks idle: keep them) */
		asm volatile("" : "+r"(nl), "+r"(vl));
		nl &= 63;
		vl &= 511;
		r->data[off] = nl | (str[1] > WEFT_GO_FIELD_NAME_MAX ? 0x80 : 0);
		r->data[off + 1] = vl & 0xff;
		r->data[off + 2] = (vl | vcut) >> 8;
		if (nl && bpf_probe_read_user(&r->data[off + 3], nl, (void *)str[0]))
			break;
		if (vl && bpf_probe_read_user(&r->data[off + 3 + nl], vl, (void *)str[2]))
			break;
		off += 3 + nl + vl;
		n++;
	}
	r->n_fields = n;
	r->len = off;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* ---- Go: crypto/tls plaintext (go_tls.bpf.h) ---- */

/*
 * The socket under a *tls.Conn, through the Go structures (the offsets
 * above): for a Read that took its records from the socket before any
 * probed call did (the handshake's last read often brings the first
 * request along). Only a TCP socket of this process is accepted: a
 * tls.Conn over another kind of net.Conn gives none.
 */
static __noinline __u64 tls_sock_of_conn(__u64 tconn)
{
	__u64 data = 0, nfd = 0;
	__s64 fd = -1;
	struct sock *sk;

	if (bpf_probe_read_user(&data, sizeof(data),
				(void *)(tconn + go_tls_conn_off + go_iface_data_off)) || !data ||
	    bpf_probe_read_user(&nfd, sizeof(nfd),
				(void *)(data + go_tcpconn_fd_off)) || !nfd ||
	    bpf_probe_read_user(&fd, sizeof(fd),
				(void *)(nfd + go_netfd_sysfd_off)) ||
	    fd < 0 || fd > 0xffffff)
		return 0;
	sk = sock_of_fd(fd);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	return (__u64)sk;
}


/* On the stack-check branch of (*tls.Conn).Write. */
SEC("uprobe")
int go_tls_write(struct pt_regs *ctx)
{
	if (wanted_task(bpf_get_current_pid_tgid() >> 32))
		tls_call_note(ctx, WEFT_DIR_SEND);
	return 0;
}

/* On the stack-check branch of (*tls.Conn).Read. */
SEC("uprobe")
int go_tls_read(struct pt_regs *ctx)
{
	if (wanted_task(bpf_get_current_pid_tgid() >> 32))
		tls_call_note(ctx, WEFT_DIR_RECV);
	return 0;
}

/*
 * The sequence number of a connection's first request when the read that
 * brought it was the handshake's (no socket read inside the Read): the
 * request's record is the last one that read took, so it began
 * n + 22 bytes before where the read ended (a TLS 1.3 record: 5 bytes of
 * header, the content type, a 16-byte tag; Go's default). The client's
 * record began at the sequence number its Write was sent at, so rule 2
 * links them when the guess is right; when it is wrong (TLS 1.2, a
 * request cut over records) nothing matches and nothing is linked.
 */
#define TLS13_RECORD_OVERHEAD	22

static __always_inline void tls_first_seq(__u64 skv, __u64 n, struct io_ctx *ic)
{
	struct conn_state *c = bpf_map_lookup_elem(&conns, &skv);

	if (!c || c->http || !c->rx_end)
		return;
	ic->seq = c->rx_end - (__u32)n - TLS13_RECORD_OVERHEAD;
	ic->has_seq = 1;
}

/*
 * The Read call goroutine g of this process is in hands over n bytes of
 * plaintext at buf: fill ic with them and return the socket they travelled
 * on, 0 when there is nothing to send. Not inlined: its keys and map
 * values stay off the stack of go_tls_read_copy, where handle_io needs
 * the room.
 */
static __noinline __u64 tls_read_take(__u64 g, __u64 n, __u64 buf,
				      struct io_ctx *ic)
{
	struct go_key k = { .tgid = ic->pid_tgid >> 32, .ptr = g };
	struct tls_call *t = bpf_map_lookup_elem(&go_tls_calls, &k);
	__u64 skv = 0, *v;

	if (!t)
		return 0;
	if (t->dir != WEFT_DIR_RECV || (__s64)n <= 0 || n > t->len)
		goto out;
	ic->src.ptr[0] = buf;
	ic->src.len[0] = n;
	ic->len = n;
	if (t->sock_seen) {
		skv = t->sk;
		ic->seq = t->seq;
		ic->has_seq = 1;
		goto out;
	}
	/* from records an earlier Read took off the socket: the sequence
	 * number is not known, and the link by the wire is lost */
	k.ptr = t->tconn;
	v = bpf_map_lookup_elem(&go_tls_socks, &k);
	if (v) {
		skv = *v;
		tls_first_seq(skv, n, ic);
	} else {
		skv = tls_sock_of_conn(t->tconn);
		if (skv) {
			bpf_map_update_elem(&go_tls_socks, &k, &skv, BPF_ANY);
			tls_first_seq(skv, n, ic);
		}
		else
			count(WEFT_CNT_TLS_NO_SOCK);
	}
	k.ptr = g;
out:
	bpf_map_delete_elem(&go_tls_calls, &k);
	return skv;
}

/* The --port and --netns filters, for a socket not in conns. */
static __noinline bool tls_sock_wanted(__u64 skv)
{
	struct sock *sk = (struct sock *)skv;

	return wanted_ports(BPF_CORE_READ(sk, __sk_common.skc_num),
			    bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport))) &&
	       wanted_netns(sk);
}

/*
 * On the one call of runtime.memmove in (*tls.Conn).Read: the copy of
 * the decrypted record into the caller's buffer, "n, _ := c.input.Read(b)"
 * (bytes.Reader.Read, inlined), and n is what Read returns. A call is
 * emulated by the kernel; the RETs after it would be single-stepped (35 to
 * 120 us each, measured here). memmove(to, from, n): to in RAX, from in
 * RBX, n in RCX; the plaintext is read from "from", already decrypted.
 */
SEC("uprobe")
int go_tls_read_copy(struct pt_regs *ctx)
{
	struct io_ctx ic = {};
	struct conn_state *c;
	__u64 skv;

	ic.pid_tgid = bpf_get_current_pid_tgid();
	skv = tls_read_take(ctx->r14, ctx->cx, ctx->bx, &ic);
	if (!skv)
		return 0;
	ic.dir = WEFT_DIR_RECV;
	ic.g = ctx->r14;
	ic.tls = 1;
	ic.flags = WEFT_F_TLS;
	c = bpf_map_lookup_elem(&conns, &skv);
	/* a socket found through the Go structs has passed no filter yet
	 * (one in conns passed them when it was added) */
	if (!c && !tls_sock_wanted(skv))
		return 0;
	return handle_io((struct sock *)skv, &ic, c);
}

/* ---- new programs: the agent looks for Go binaries to probe ---- */

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	struct weft_rec_head *r;
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (!wanted_task(pid_tgid >> 32))
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(WEFT_CNT_RB_FULL);
		return 0;
	}
	rec_head(r, WEFT_REC_EXEC, pid_tgid);
	r->conn.sk = 0;
	r->conn.gen = 0;
	/* a new process may be a Go binary to probe before it serves */
	bpf_ringbuf_submit(r, BPF_RB_FORCE_WAKEUP);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
