// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* weft's own connections, told to the kernel: see ownconn.h. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include "ownconn.h"

static int map_fd = -1;
static _Atomic uint64_t errors;

void ownconn_init(int fd)
{
	map_fd = fd;
}

/* 16-byte address and host-order port of an IPv4 or IPv6 socket address. */
static bool addr16(const struct sockaddr *sa, uint8_t out[16], uint16_t *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		memcpy(out, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
		return true;
	}
	return false;
}

bool ownconn_tuple(const struct sockaddr *local, const struct sockaddr *peer,
		   struct weft_tuple *t)
{
	memset(t, 0, sizeof(*t));
	/* seen from the peer: its address is local there, ours remote */
	return addr16(peer, t->laddr, &t->lport) &&
	       addr16(local, t->raddr, &t->rport);
}

void ownconn_note(const struct sockaddr *local, const struct sockaddr *peer,
		  bool open)
{
	struct weft_tuple t;
	uint8_t one = 1;
	int err;

	if (map_fd < 0 || !ownconn_tuple(local, peer, &t))
		return;
	if (open) {
		err = bpf_map_update_elem(map_fd, &t, &one, BPF_ANY);
	} else {
		/* the peer's socket already carries its verdict: the entry only
		 * has to go before the 4-tuple can be reused by someone else */
		err = bpf_map_delete_elem(map_fd, &t);
		if (err && errno == ENOENT)
			err = 0;
	}
	if (err)
		errors++;
}

uint64_t ownconn_errors(void)
{
	return errors;
}
