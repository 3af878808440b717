/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Maps shared by weft's BPF programs, and the counters helper. */
#ifndef WEFT_MAPS_BPF_H
#define WEFT_MAPS_BPF_H

#include "common.bpf.h"
#include "weft.h"

/* Bytes copied from user memory per step; header scanning works chunkwise
 * so a large body behind a small header block costs one step, not 16 KiB. */
#define COPY_STEP	1024
#define COPY_STEPS	(WEFT_DATA_MAX / COPY_STEP)
/* Scratch data leaves room past the largest copy so that every masked
 * offset plus a bounded length stays inside the value (the verifier checks
 * max offset + max length), and the whole value stays under the 32 KiB a
 * per-CPU map value may have. */
#define SCRATCH_DATA	(WEFT_DATA_MAX + 2 * COPY_STEP)

/* Per-direction progress of the message the kernel is forwarding. */
struct dir_state {
	__u32 hdr_open;		/* inside a header block: copy everything */
	__u32 hdr_len;		/* bytes of that block seen so far */
	__u32 win;		/* last 4 bytes seen, to find CRLFCRLF across chunks */
	__u32 pend_len;		/* bytes in pend */
	__u64 pend;		/* a chunk shorter than 8 bytes between messages:
				 * Go's server reads the next request's first
				 * byte alone (its background read) */
};

struct conn_state {
	__u64 gen;		/* tells a reused sk address from the old socket */
	__u8 role;		/* enum weft_role */
	__u8 http;		/* an HTTP message was seen on this socket */
	__u8 addr_ok;		/* addr filled (once: it never changes) */
	__u8 skip;		/* never traced: its peer is weft's own export */
	__u8 h2;		/* HTTP/2 (the preface, or a HEADERS frame on a
				 * connection open before weft): bytes go whole */
	__u8 tls;		/* TLS: its plaintext comes from uprobes, the
				 * socket's own bytes are ciphertext */
	__u8 tx_base_ok;	/* tx_base is set: seen from its handshake */
	__u8 closing;		/* TCP closed with bytes still to be read:
				 * forgotten when fewer than this many are
				 * left (2 from CLOSE_WAIT: the FIN's) */
	__u32 rx_end;		/* TLS, before the first message: sequence
				 * number where the last read ended */
	__u32 tx_base;		/* write_seq when the handshake ended: a read
				 * before any send has nothing to wait for */
	__u64 last_ts;		/* when the tracepoint of the socket's last
				 * record fired (send_ts) */
	struct dir_state d[2];	/* indexed by enum weft_dir */
	struct weft_addr addr;
};

/* A data record under construction, with room for its bytes: data[] sits
 * where rec.data[] starts (the ABI header asserts sizeof == offsetof), so
 * the record goes out with one bpf_ringbuf_output. */
#pragma clang diagnostic ignored "-Wgnu-variable-sized-type-not-at-end"
struct scratch {
	struct weft_data_rec rec;
	__u8 data[SCRATCH_DATA];
	__u32 nrec;		/* records this CPU sent, for rb_flags */
};

/* Records to userspace; size set by the loader (--ringbuf-mb). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Sockets that are (or may become) HTTP connections, keyed by sk address. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WEFT_MAX_CONNS);
	__type(key, __u64);
	__type(value, struct conn_state);
} conns SEC(".maps");

/*
 * HTTP/2 connections the agent has given up on (frames out of step after a
 * lost record, or a binary protocol whose first bytes looked like a
 * HEADERS frame): sk -> the generation it asked about. The
 * kernel side copies every chunk of an HTTP/2 connection whole, for as
 * long as it lives; after this, none. Filled by the agent, emptied by
 * whichever side finds the entry first (stop_pending counts them).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WEFT_MAX_STOP_CONNS);
	__type(key, __u64);
	__type(value, __u64);
} stop_conns SEC(".maps");

/* weft's own connections, filled by the agent (struct weft_tuple). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WEFT_MAX_OWN_CONNS);
	__type(key, struct weft_tuple);
	__type(value, __u8);
} own_conns SEC(".maps");

/* weft's own listening sockets, filled by the agent (struct weft_listener). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WEFT_MAX_OWN_LISTENERS);
	__type(key, __u16);
	__type(value, struct weft_listener);
} own_listeners SEC(".maps");

/* One record-building area per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

/* Drop and event counters, enum weft_counter. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WEFT_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* --pid: processes (tgids) to trace when the filter is on. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} pid_filter SEC(".maps");

/* --port: local or remote ports to trace when the filter is on. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);
	__type(value, __u8);
} port_filter SEC(".maps");

/* --comm: command names to trace when the filter is on. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, char[16]);
	__type(value, __u8);
} comm_filter SEC(".maps");

/*
 * Waking the agent for every record costs an irq_work and a context switch
 * per record; instead records go in silently and the agent polls every
 * few milliseconds, unless enough has piled up to be worth a wakeup now.
 * Asking the ring how full it is reads the consumer's position, a cache
 * line the agent writes from another CPU, so each CPU asks only every
 * RB_QUERY_EVERY records (with 16 MiB of ring and the agent polling every
 * 10 ms, the ring cannot fill between two questions).
 */
#define WAKEUP_BYTES	(128 << 10)
#define RB_QUERY_EVERY	32

static __always_inline __u64 rb_flags(__u32 *nrec)
{
	if ((++*nrec % RB_QUERY_EVERY) != 0)
		return BPF_RB_NO_WAKEUP;
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > WAKEUP_BYTES ?
	       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

/* The common head of a record to the agent (include/weft.h); the
 * connection is the caller's to fill. */
static __always_inline void rec_head(struct weft_rec_head *h, __u32 type,
				     __u64 pid_tgid)
{
	h->type = type;
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->cpu = bpf_get_smp_processor_id();
	h->ts_ns = bpf_ktime_get_ns();
}

#endif /* WEFT_MAPS_BPF_H */
