/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go binaries, read with libelf: is it Go, which version, and where to put
 * the linking uprobes (file offsets of the stack-check branch of
 * net/http.(*Transport).roundTrip and net/http.(*Request).write).
 */
#ifndef WEFT_GOINSPECT_H
#define WEFT_GOINSPECT_H

#include <stdbool.h>
#include <stdint.h>

struct go_binary {
	bool is_go;
	char version[32];		/* "go1.26.8", "" when unknown */
	bool has_symbols;		/* .symtab present (not stripped) */
	uint64_t roundtrip_off;		/* file offset of the probe, 0 = none */
	uint64_t request_write_off;
	uint64_t newproc1_off;		/* goroutine parents (fan-out) */
	uint64_t gostartcallfn_off;
};

/* Returns 0 and fills out, or -errno when the file can't be read as ELF. */
int go_inspect(const char *path, struct go_binary *out);
/* Offset (from the function start) of the conditional branch of a Go
 * stack-check prologue in code[0..n), or -1 when there is none. */
int go_find_stack_check_branch(const uint8_t *code, int n);

#endif /* WEFT_GOINSPECT_H */
