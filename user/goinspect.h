/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go binaries, read with libelf: is it Go, which version, where a function
 * is (from .symtab, or from .gopclntab when the binary is stripped), and
 * where to put the linking uprobes (file offsets of the stack-check branch
 * of net/http.(*Transport).roundTrip, net/http.(*Request).write,
 * runtime.newproc1 and runtime.gostartcallfn).
 */
#ifndef WEFT_GOINSPECT_H
#define WEFT_GOINSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct go_binary {
	bool is_go;
	char version[32];		/* "go1.26.8", "" when unknown */
	/* versions of the modules whose HTTP/2 servers weft follows, from
	 * the build info's module list ("v0.17.0"; a replacement's when the
	 * module is replaced), "" when not a dependency */
	char xnet_version[48];		/* golang.org/x/net */
	char grpc_version[48];		/* google.golang.org/grpc */
	bool has_symbols;		/* .symtab present (not stripped) */
	uint64_t roundtrip_off;		/* file offset of the probe, 0 = none */
	uint64_t request_write_off;
	uint64_t newproc1_off;		/* goroutine parents (fan-out) */
	uint64_t gostartcallfn_off;
};

/* Returns 0 and fills out, or -errno when the file can't be read as ELF.
 * A Go binary that lacks one of the linking functions (or its stack-check
 * branch) gets one line on stderr naming the binary and the function. */
int go_inspect(const char *path, struct go_binary *out);
/* Offset (from the function start) of the conditional branch of a Go
 * stack-check prologue in code[0..n), or -1 when there is none. */
int go_find_stack_check_branch(const uint8_t *code, int n);

/*
 * One binary held open for several lookups (go_inspect uses it; so can
 * callers that place other probes). Addresses are link-time virtual
 * addresses (st_value), PIE or not; go_code_read turns one into the file
 * offset that uprobes take.
 */
struct go_elf;

/* NULL with *err = -errno (-ENOEXEC: not ELF) when path can't be read. */
struct go_elf *go_elf_open(const char *path, int *err);
void go_elf_close(struct go_elf *g);
/* is_go, version and has_symbols; the probe offsets are left 0 */
const struct go_binary *go_elf_info(const struct go_elf *g);
/* The function of that full name ("crypto/tls.(*Conn).Write"): its entry
 * and end (entry + size: the symbol's size, or the size .gopclntab's pc
 * tables cover, which is the same). From .symtab when the binary has one
 * and names the function, else from .gopclntab (which also takes the
 * symbol table's spellings: see go_pclntab_find). Returns 0, -ENOENT when
 * there is no such function, -ENOTUNIQ when .gopclntab has several of that
 * name and nothing tells which is meant, -ENOEXEC when the binary has neither table
 * (or a .gopclntab this code cannot read; go_elf_why says why). */
int go_func_find(struct go_elf *g, const char *name, uint64_t *entry, uint64_t *end);
/* n bytes of the file at vaddr (an allocated, non-empty section's bytes)
 * and the file offset of vaddr: 0, or -ENOENT when no section holds them,
 * -EIO when the file is short. */
int go_code_read(struct go_elf *g, uint64_t vaddr, uint8_t *buf, size_t n,
		 uint64_t *file_off);
/* File offset of the stack-check branch of function name (what the Go
 * uprobes attach to), or 0 when the function or its branch is missing. */
uint64_t go_probe_offset(struct go_elf *g, const char *name);
/* Why .gopclntab could not be used, or "" */
const char *go_elf_why(const struct go_elf *g);

#endif /* WEFT_GOINSPECT_H */
