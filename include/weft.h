/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one ABI between weft's BPF programs and its agent. Both sides include
 * this file and nothing else is shared: records in the ring buffer, the
 * counters map, and the limits that size them.
 */
#ifndef WEFT_H
#define WEFT_H

#ifdef __bpf__
/* vmlinux.h already provides the __uN types */
#else
#include <linux/types.h>
#include <stddef.h>
#endif

/* Most bytes one data record carries (header block + body prefix). */
#define WEFT_DATA_MAX		16384
/* Default header window: bytes of a header block forwarded in full. */
#define WEFT_HDR_WINDOW_DEFAULT	16384
/* Default bytes of body forwarded after the end of a header block. */
#define WEFT_BODY_CAPTURE_DEFAULT 256
/* Bytes of the end of every chunk kept for framing (chunked terminator). */
#define WEFT_TAIL_LEN		16
/* Connections tracked at once by the kernel side (LRU). */
#define WEFT_MAX_CONNS		65536
/* weft's own connections (its exports) remembered for the kernel (LRU). */
#define WEFT_MAX_OWN_CONNS	256
/* HTTP/2 connections the agent asked the kernel side to stop copying,
 * not yet acted on (stop_conns): a full table leaves the rest copied. */
#define WEFT_MAX_STOP_CONNS	4096
/* weft's own listening sockets (its health and metrics endpoint). */
#define WEFT_MAX_OWN_LISTENERS	4

enum weft_rec_type {
	WEFT_REC_DATA = 1,	/* bytes sent or received on a tracked socket */
	WEFT_REC_CLOSE = 2,	/* a tracked socket went to TCP_CLOSE */
	WEFT_REC_EXEC = 3,	/* a process called exec: maybe a Go binary */
	WEFT_REC_GO_STREAM = 4,	/* a Go HTTP/2 or gRPC server runs a stream's
				 * handler on a goroutine of its own */
	WEFT_REC_GO_H2_FIELDS = 5, /* the header fields a Go HTTP/2 or gRPC
				 * server decoded for a stream */
};

enum weft_dir {
	WEFT_DIR_SEND = 0,
	WEFT_DIR_RECV = 1,
};

/* Who opened the connection, as seen by the socket's owner. */
enum weft_role {
	WEFT_ROLE_UNKNOWN = 0,	/* established before weft started */
	WEFT_ROLE_CLIENT = 1,	/* SYN_SENT -> ESTABLISHED: it connected */
	WEFT_ROLE_SERVER = 2,	/* SYN_RECV -> ESTABLISHED: it accepted */
};

/* Flags of a data record. */
#define WEFT_F_MSG_START	(1u << 0) /* chunk starts with a request/status line */
#define WEFT_F_HDR_END		(1u << 1) /* a header block ended inside the copy */
#define WEFT_F_TRUNCATED	(1u << 2) /* header window reached, copy cut short */
#define WEFT_F_READ_FAIL	(1u << 3) /* bpf_probe_read_user failed, no bytes */
#define WEFT_F_SYSCALL_HOOK	(1u << 4) /* produced by the syscall fallback */
#define WEFT_F_H2		(1u << 5) /* an HTTP/2 connection (it began with the
					   * preface): every chunk's bytes, up to
					   * WEFT_DATA_MAX, no message marks */
#define WEFT_F_TLS		(1u << 6) /* plaintext of a TLS library call (Go's
					   * crypto/tls), not the socket's bytes */
#define WEFT_F_TX_SEQ		(1u << 7) /* a read's tx_seq is set: the socket's
					   * write_seq when the read returned */
#define WEFT_F_H2_MID		(1u << 8) /* this chunk made the kernel follow a
					   * connection it had not followed (it
					   * was open before weft started): it
					   * starts with an HTTP/2 HEADERS frame
					   * header. WEFT_F_H2 from here on. */

/* Connection identity and addresses; network byte order for addresses. */
struct weft_conn_key {
	__u64 sk;		/* kernel socket address: stable while open */
	__u64 gen;		/* bumped when an sk address is reused */
};

struct weft_addr {
	__u8 saddr[16];		/* local address (v4 in first 4 bytes) */
	__u8 daddr[16];		/* remote address */
	__u16 sport;		/* local port, host order */
	__u16 dport;		/* remote port, host order */
	__u16 family;		/* AF_INET or AF_INET6 */
	__u16 pad;
};

/*
 * One of weft's own connections (its export to a collector) as the socket
 * at the other end sees it: local = the collector, remote = weft. The agent
 * puts it in the own_conns map before the first byte is sent; a socket whose
 * 4-tuple is there is never traced, so a collector on this node does not
 * turn every export into a span that weft would export in turn.
 * Addresses are 16 bytes, IPv4 as v4-mapped IPv6 (what a dual-stack
 * socket holds); ports in host order.
 */
struct weft_tuple {
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport;
	__u16 rport;
};

/* Values of the own_conns map: whose far end the 4-tuple is. */
enum weft_own_kind {
	WEFT_OWN_EXPORT = 1,	/* weft's export, put there by the agent */
	WEFT_OWN_ENDPOINT = 2,	/* a client of weft's health/metrics endpoint,
				 * put there by the kernel side at accept */
};

/*
 * A listening socket of weft's own, in the own_listeners map keyed by its
 * port (host order). A scraper's request to it would be a client span of
 * the scraper's: when a connection to it completes its handshake, the
 * kernel side puts the client's 4-tuple in own_conns itself, before the
 * client can send (an agent told at accept would come too late).
 */
struct weft_listener {
	__u8 addr[16];		/* bound address, IPv4 v4-mapped; zero = any */
	__u32 netns_inum;	/* network namespace the socket lives in */
};

/* Common head of every ring-buffer record. */
struct weft_rec_head {
	__u32 type;		/* enum weft_rec_type */
	__u32 pid;		/* tgid of current task */
	__u32 tid;
	__u32 cpu;
	__u64 ts_ns;		/* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	struct weft_conn_key conn;
};

struct weft_data_rec {
	struct weft_rec_head h;
	struct weft_addr addr;
	__u64 g;		/* R14 at the syscall: the goroutine (g pointer)
				 * in Go processes, noise elsewhere */
	__u64 origin_g;		/* Go: goroutine whose http.Transport call this
				 * write carries (writeLoop -> caller), else 0 */
	__u32 seq;		/* TCP sequence number of this chunk's first byte */
	__u32 len;		/* bytes the syscall moved */
	__u32 cap_len;		/* bytes of data[] that follow */
	__u32 flags;		/* WEFT_F_* */
	__u8 dir;		/* enum weft_dir */
	__u8 role;		/* enum weft_role */
	__u8 tail_len;		/* valid bytes in tail[] */
	__u8 pad;
	char comm[16];
	__u8 tail[WEFT_TAIL_LEN]; /* last bytes of the chunk, for framing */
	__u32 tx_seq;		/* reads (WEFT_F_TX_SEQ): the sequence number
				 * after the last byte this socket had been
				 * given to send. A client's response can reach
				 * the ring before the record of the request it
				 * answers (Go writes and reads on two threads):
				 * the agent waits for the sends up to here. */
	__u8 data[];		/* cap_len bytes copied from the start */
};

struct weft_close_rec {
	struct weft_rec_head h;
	__s32 oldstate;		/* TCP state before TCP_CLOSE */
	__u32 unread;		/* bytes received but not yet read then: a
				 * reset leaves the response before it in the
				 * receive queue, and the application reads it
				 * after the close. The kernel side keeps the
				 * connection until they are read; their
				 * records follow this one. */
};

/* Per-CPU counters map: index -> count. */
/*
 * Go's HTTP/2 servers (net/http, golang.org/x/net/http2) and grpc-go read a
 * connection's frames on one goroutine and run each request stream's
 * handler on a new one. This record ties that handler goroutine to its
 * stream: the agent finds the stream among the ones it decoded on the
 * connection whose frames reader_g or serve_g read (the HEADERS of a
 * connection's first stream may have been read by the serve loop, before
 * the reader started), and the handler's outgoing calls become children
 * of the stream's server span (rule 1). h.conn is zero.
 */
struct weft_go_stream_rec {
	struct weft_rec_head h;
	__u64 g;		/* the handler's goroutine */
	__u64 reader_g;		/* the connection's frame reader */
	__u64 serve_g;		/* its serve loop (grpc-go: the reader) */
	__u32 stream_id;	/* HTTP/2 stream id */
	__u32 pad;
};

/*
 * The header fields a Go HTTP/2 server (net/http, x/net) or grpc-go
 * decoded from a request's HEADERS, read from its MetaHeadersFrame where
 * it starts to act on them (processHeaders, operateHeaders). Only for a
 * process with an HTTP/2 connection weft took up from the middle (open
 * before it started), whose own HPACK decoding named table entries weft
 * never saw: the agent attaches these probes then, and fills in what it
 * could not decode. data[] holds n_fields fields, each a byte of name
 * length, two of value length (little-endian), the name, the value; a
 * name over WEFT_GO_FIELD_NAME_MAX or a value over WEFT_GO_FIELD_VALUE_MAX
 * bytes is cut and flagged in its length's top bit. h.conn is zero.
 */
#define WEFT_GO_FIELDS_MAX	2048
#define WEFT_GO_FIELD_NAME_MAX	63
#define WEFT_GO_FIELD_VALUE_MAX	511
#define WEFT_GO_FIELDS_N	32	/* fields read at most */
#define WEFT_GO_FIELD_CUT	0x8000	/* in a value length: cut */
struct weft_go_h2_fields_rec {
	struct weft_rec_head h;
	__u64 g;		/* the goroutine acting on the frame */
	__u64 conn_obj;		/* the server's connection object */
	__u32 stream_id;
	__u16 n_fields;		/* fields in data[] */
	__u16 len;		/* bytes of data[] */
	__u16 total_fields;	/* fields the frame had */
	__u8 kind;		/* enum weft_go_fields_kind */
	__u8 pad[5];
	__u8 data[WEFT_GO_FIELDS_MAX];
};

enum weft_go_fields_kind {
	/* a server decoded a request's HEADERS: after the bytes were read */
	WEFT_GO_FIELDS_DECODED = 0,
	/* grpc-go's loopyWriter.writeHeader(streamID, endStream, hf, ...) is
	 * about to encode and write them (a client's request, a server's
	 * response headers or trailers): before the bytes are sent */
	WEFT_GO_FIELDS_WRITTEN = 1,
};
/* go_h2_fields's attach cookie: the WEFT_H2_REG_* holding the frame, or
 * this for writeHeader (stream id RBX, fields RDI and RSI) */
#define WEFT_H2_FIELDS_LOOPY	4u

/* Attach cookies of the go_h2_conn and go_h2_stream uprobes (built by
 * user/goprobes.c from user/go_h2_offsets.h). go_h2_conn: which of the
 * connection's goroutines the probed function runs on. */
#define WEFT_H2_CONN_READER	1u
#define WEFT_H2_CONN_SERVE	2u
/* go_h2_stream: the register holding the stream argument (bits 0-1), the
 * one holding the connection object (bits 2-3), and a path of 1 to 3
 * offsets (count in bits 4-5, offsets in bits 16-31, 32-47, 48-63): a
 * pointer is read at each offset but the last, where the u32 stream id is. */
#define WEFT_H2_REG_RAX		0u
#define WEFT_H2_REG_RBX		1u
#define WEFT_H2_REG_RCX		2u
#define WEFT_H2_REG_RDI		3u
#define WEFT_H2_COOKIE(stream_reg, conn_reg, n, o0, o1, o2)		\
	((__u64)(stream_reg) | (__u64)(conn_reg) << 2 | (__u64)(n) << 4 |	\
	 (__u64)(o0) << 16 | (__u64)(o1) << 32 | (__u64)(o2) << 48)

enum weft_counter {
	WEFT_CNT_DATA_EVENTS,	/* data records submitted */
	WEFT_CNT_CLOSE_EVENTS,	/* close records submitted */
	WEFT_CNT_RB_FULL,	/* records lost: ring buffer full */
	WEFT_CNT_READ_FAIL,	/* user memory could not be read */
	WEFT_CNT_HDR_TRUNC,	/* header blocks larger than the window */
	WEFT_CNT_NOT_HTTP,	/* chunks on untracked sockets that were not HTTP */
	WEFT_CNT_UNKNOWN_SYSCALL, /* socket I/O from a syscall we can't decode */
	WEFT_CNT_OWN_CONN,	/* connections whose peer is weft's own export */
	WEFT_CNT_OWN_ENDPOINT,	/* connections to weft's health/metrics endpoint */
	WEFT_CNT_TLS_NO_SOCK,	/* TLS plaintext read whose socket was never seen */
	WEFT_CNT_GO_STREAM_UNPLACED, /* Go HTTP/2 handlers of a connection whose
				 * start weft did not see (or whose stream id
				 * could not be read) */
	WEFT_CNT_CONN_STOPPED,	/* HTTP/2 connections the agent gave up on
				 * (stop_conns): their bytes no longer copied */
	WEFT_CNT_MAX,
};

#ifndef __bpf__
_Static_assert(sizeof(struct weft_conn_key) == 16, "conn key layout");
_Static_assert(sizeof(struct weft_addr) == 40, "addr layout");
_Static_assert(sizeof(struct weft_rec_head) == 40, "head layout");
_Static_assert(offsetof(struct weft_data_rec, data) == 152, "data rec layout");
_Static_assert(sizeof(struct weft_close_rec) == 48, "close rec layout");
_Static_assert(sizeof(struct weft_go_stream_rec) == 72, "go stream rec layout");
_Static_assert(offsetof(struct weft_go_h2_fields_rec, data) == 72, "go fields rec layout");
_Static_assert(sizeof(struct weft_tuple) == 36, "tuple layout");
_Static_assert(sizeof(struct weft_listener) == 20, "listener layout");
#endif

#endif /* WEFT_H */
