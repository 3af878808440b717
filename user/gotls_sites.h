/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where weft's crypto/tls uprobes go in a Go binary (bpf/go_tls.bpf.h):
 * the stack-check branch of (*tls.Conn).Write and Read (arguments still in
 * their registers, and a branch the kernel emulates), and the return sites
 * of Read (n in RAX). File offsets, as uprobes take them.
 */
#ifndef WEFT_GOTLS_SITES_H
#define WEFT_GOTLS_SITES_H

#include <stdint.h>

#define GO_TLS_MAX_RETS	16

struct go_tls_sites {
	uint64_t write_off;		/* 0: not found */
	uint64_t read_off;
	uint64_t read_ret[GO_TLS_MAX_RETS];
	int n_read_ret;
	int n_read_ret_emulated;	/* of them, on an emulated instruction */
	char why[128];			/* when incomplete: what was missing */
};

/* 0 and *out filled (out->why says what is missing when a site is not
 * found), or -errno when path is not a readable ELF file. */
int go_tls_sites_find(const char *path, struct go_tls_sites *out);

#endif /* WEFT_GOTLS_SITES_H */
