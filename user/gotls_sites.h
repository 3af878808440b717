/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where weft's crypto/tls uprobes go in a Go binary (bpf/go_tls.bpf.h):
 * the stack-check branch of (*tls.Conn).Write and Read (arguments still in
 * their registers, and a branch the kernel emulates), and, inside Read,
 * its one call of runtime.memmove: the copy of the decrypted bytes into
 * the caller's buffer, whose length is what Read returns. A call is
 * emulated too; Read's return instructions would be single-stepped (35 to
 * 120 us a hit on these machines, x86len.h), which is why the copy is
 * probed instead. File offsets, as uprobes take them.
 */
#ifndef WEFT_GOTLS_SITES_H
#define WEFT_GOTLS_SITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct go_tls_sites {
	uint64_t write_off;		/* 0: not found */
	uint64_t read_off;
	uint64_t read_copy_off;		/* the call of runtime.memmove in Read */
	char version[32];		/* the binary's Go release, "" unknown */
	bool stripped;			/* sites from .gopclntab */
	char why[128];			/* when incomplete: what was missing */
};

/* 0 and *out filled (out->why says what is missing when a site is not
 * found), or -errno when path is not a readable ELF file. */
int go_tls_sites_find(const char *path, struct go_tls_sites *out);

struct go_offsets;
/* The offsets of the newest Go release the table covers, which the
 * loader gives the BPF side: 0, or -1 when there is no table. */
int go_tls_layout_newest(struct go_offsets *out);
/* Can the loaded BPF side (the newest layout) read a tls.Conn of this Go
 * release? 1 yes; 0 no, with why[] saying so. */
int go_tls_layout_ok(const char *version, char *why, size_t n);

#endif /* WEFT_GOTLS_SITES_H */
