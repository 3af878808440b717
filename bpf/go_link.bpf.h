/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go's net/http writes an outgoing request from the connection's writeLoop
 * goroutine, not from the handler that asked for it. Two uprobes carry the
 * asker across: net/http.(*Transport).roundTrip (on the asking goroutine:
 * remember request -> asker) and net/http.(*Request).write (on writeLoop:
 * remember writer -> asker). The socket write that follows on writeLoop
 * then names its asker. Goroutines are identified by their g pointer (R14
 * in Go's register ABI), so no struct offsets are needed. Both probes sit
 * on the stack-check branch, which the kernel emulates instead of
 * single-stepping (5 % of throughput instead of 55 % in our VMs). The
 * programs are in weft.bpf.c; their maps and the lookup are here.
 */
#ifndef WEFT_GO_LINK_BPF_H
#define WEFT_GO_LINK_BPF_H

#include "common.bpf.h"

struct go_key {
	__u32 tgid;
	__u32 pad;
	__u64 ptr;		/* *http.Request, or a writer g */
};

/* *http.Request -> g of the goroutine that called Transport.roundTrip. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_key);
	__type(value, __u64);
} go_req_asker SEC(".maps");

/* writeLoop g -> asker g, for the request it is writing now. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_key);
	__type(value, __u64);
} go_writer_asker SEC(".maps");

/*
 * An asker noted for one socket write only (grpc-go's loopyWriter writes
 * every call of a connection; g pointers are below 2^47). Several calls'
 * HEADERS noted before one write (loopy batches) leave ONCE | 0: the
 * write names nobody rather than one of them for all.
 */
#define GO_ASKER_ONCE	(1ULL << 63)

static __always_inline __u64 go_origin(__u32 tgid, __u64 g)
{
	struct go_key k = { .tgid = tgid, .ptr = g };
	__u64 *v = bpf_map_lookup_elem(&go_writer_asker, &k);
	__u64 a;

	if (!v)
		return 0;
	a = *v;
	if (a & GO_ASKER_ONCE) {
		bpf_map_delete_elem(&go_writer_asker, &k);
		a &= ~GO_ASKER_ONCE;
	}
	return a;
}

/*
 * Goroutines a handler starts (fan-out) call out from goroutines of their
 * own. runtime.newproc1(fn, callergp, ...) runs on the system stack with the
 * creator in RBX; the runtime.gostartcallfn(&newg.sched, fn) it calls next
 * on the same thread names the new g. g.sched sits at offset 56 in every Go
 * release since the register ABI (stack, stackguard0/1, _panic, _defer, m).
 * The agent walks go_g_parent upwards when a goroutine has no server span.
 */
#define G_SCHED_OFF 56

/* thread -> creator g, between newproc1 and gostartcallfn */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} go_tid_creator SEC(".maps");

/* {tgid, new g} -> creator g (read by the agent) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct go_key);
	__type(value, __u64);
} go_g_parent SEC(".maps");

/*
 * HTTP/2 and gRPC servers (weft.h, struct weft_go_stream_rec): a uprobe on
 * the function each connection's goroutines run (net/http's and x/net's
 * serverConn.serve and .readFrames, grpc-go's http2Server.HandleStreams)
 * notes them under the connection's object (*serverConn, *http2Server,
 * RAX); one on the function a stream's handler goroutine starts in
 * (serverConn.runHandler, grpc.(*Server).handleStream) reads the stream id
 * and sends the record. Where the stream id sits depends on the module's
 * version: the attach cookie says (user/go_h2_offsets.h).
 */
struct go_h2_conn_gs {
	__u64 reader;
	__u64 serve;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_key);
	__type(value, struct go_h2_conn_gs);
} go_h2_conns SEC(".maps");

#endif /* WEFT_GO_LINK_BPF_H */
