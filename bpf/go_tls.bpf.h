/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go's crypto/tls: the plaintext of (*tls.Conn).Write and Read, given to
 * the same path as a socket's bytes, on the socket they travel over.
 *
 * No struct offsets are needed to find that socket. A probe on Write and
 * Read (on the stack-check branch, emulated by the kernel) notes the call
 * by goroutine: the buffer, its length, the *tls.Conn. The socket calls the
 * TLS layer makes inside that call run on the same goroutine (R14 at the
 * syscall), so the sock tracepoints, seeing a noted call, know the socket:
 *  - Write: the call's first socket write carries its whole plaintext, with
 *    the time and TCP sequence number of the ciphertext's first byte (what
 *    the peer's read of it will see, so the wire link still works);
 *  - Read: the socket read inside the call gives the socket and the
 *    sequence number; the plaintext is taken where Read copies it into
 *    the caller's buffer (its one call of runtime.memmove: an emulated
 *    call, where a probe on a return instruction would be single-stepped).
 *    A Read served from records buffered earlier finds its socket through
 *    the *tls.Conn it was given.
 * Ciphertext on a socket known to carry TLS is never parsed as HTTP.
 */
#ifndef WEFT_GO_TLS_BPF_H
#define WEFT_GO_TLS_BPF_H

#include "common.bpf.h"
#include "go_link.bpf.h"

struct tls_call {
	__u64 tconn;		/* *tls.Conn */
	__u64 buf;
	__u64 len;		/* Write: bytes; Read: the buffer's length */
	__u64 sk;		/* Read: the socket read inside the call */
	__u32 seq;		/* ... and its first byte's sequence number */
	__u8 dir;		/* enum weft_dir */
	__u8 sock_seen;
	__u8 pad[2];
};

/* {tgid, g} -> the tls.Conn call that goroutine is in. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_key);
	__type(value, struct tls_call);
} go_tls_calls SEC(".maps");

/* {tgid, *tls.Conn} -> its socket, once seen. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_key);
	__type(value, __u64);
} go_tls_socks SEC(".maps");

static __always_inline void tls_call_note(struct pt_regs *ctx, __u8 dir)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct go_key k = { .tgid = pid_tgid >> 32, .ptr = ctx->r14 };
	/* func (c *Conn) Write(b []byte) (int, error): c in RAX, b in
	 * RBX/RCX/RDI (pointer, length, capacity) */
	struct tls_call t = {
		.tconn = ctx->ax,
		.buf = ctx->bx,
		.len = ctx->cx,
		.dir = dir,
	};

	if (!t.len)
		return;
	bpf_map_update_elem(&go_tls_calls, &k, &t, BPF_ANY);
}

#endif /* WEFT_GO_TLS_BPF_H */
