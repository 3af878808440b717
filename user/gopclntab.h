/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go's function table (.gopclntab, the runtime's pcHeader and what follows
 * it), read from a buffer: function name -> entry address and end. It is
 * present in stripped binaries (-ldflags='-s -w'), which have no .symtab,
 * because the runtime needs it for stack traces and garbage collection.
 *
 * Formats (runtime/symtab.go of each release): Go 1.16-1.17 (magic
 * 0xfffffffa, absolute entry addresses), Go 1.18-1.19 (0xfffffff0) and
 * Go 1.20+ (0xfffffff1), whose entries are offsets from runtime.text
 * (moduledata.text). Go 1.18-1.19 keep that base in the header; 1.20+ no
 * longer do, so the caller finds it (goinspect.c) and sets t->text.
 *
 * The bytes come from a binary on the node, which may be hostile: every
 * offset is checked against the buffer's size, nothing is trusted.
 */
#ifndef WEFT_GOPCLNTAB_H
#define WEFT_GOPCLNTAB_H

#include <stddef.h>
#include <stdint.h>

enum go_pcln_version {
	GO_PCLN_116 = 116,	/* Go 1.16-1.17 */
	GO_PCLN_118 = 118,	/* Go 1.18-1.19 */
	GO_PCLN_120 = 120,	/* Go 1.20 and later */
};

struct go_pclntab {
	const uint8_t *data;	/* the pcHeader; not owned */
	size_t size;		/* bytes readable from data on */
	enum go_pcln_version version;
	uint8_t ptr_size;	/* 4 or 8 */
	uint8_t min_lc;		/* instruction quantum: 1 on x86 */
	uint32_t nfunc;
	uint64_t text;		/* base of 1.18+ entry offsets (runtime.text):
				 * the header's for 1.18-1.19, else 0 until the
				 * caller sets it; unused for 1.16 */
	uint64_t funcname_off;	/* offsets from data */
	uint64_t pctab_off;
	uint64_t functab_off;
	uint8_t wrapper_id;	/* funcID of compiler wrappers (the largest) */
	uint32_t *by_name;	/* go_pclntab_index(): valid function indexes
				 * sorted by name, or NULL */
	uint32_t n_by_name;
};

struct go_func {
	const char *name;	/* points into the table */
	uint64_t entry;		/* link-time virtual address */
	uint64_t end;		/* entry + the size the pc tables cover, or the
				 * next function's entry when they say nothing */
	uint32_t entry_off;	/* 1.18+: entry - text */
};

/* Reads the header of a table at data[0..size): 0, or -EINVAL when it is
 * not a table of a known format or its offsets leave the buffer. */
int go_pclntab_open(struct go_pclntab *t, const uint8_t *data, size_t size);
/* The first table header in buf[0..n), 4-byte aligned, that opens and whose
 * first and last functions read: its offset, or -1. For binaries whose
 * section headers do not name it (Go 1.18+ PIE linked externally puts it
 * inside .data.rel.ro). t is opened on success. At most 64 magics are
 * tried, so that a section full of them costs no more than 64 opens. */
long go_pclntab_scan(struct go_pclntab *t, const uint8_t *buf, size_t n);
/* Function i (0 <= i < nfunc): 0, or -EINVAL when its entry is malformed. */
int go_pclntab_func(const struct go_pclntab *t, uint32_t i, struct go_func *f);
/* Entry offset (from text) of the table's end, the end of the last
 * function: with entry_off of function 0, what moduledata's minpc and
 * maxpc hold (goinspect.c checks a text base candidate with them). 1.18+. */
uint32_t go_pclntab_end_off(const struct go_pclntab *t);
/* The function of that name, spelled as in the runtime's table or as in
 * the symbol table of the same binary (a ".abi0" suffix for the ABI0 entry
 * of a function that has two, "[...]" for Go 1.18-1.20's generic type
 * arguments, '.' for a middle dot): 0, -ENOENT, or -ENOTUNIQ when several
 * functions have the name and nothing tells which is meant. */
int go_pclntab_find(const struct go_pclntab *t, const char *name, struct go_func *f);
/* Sorts the names once so that go_pclntab_find is a binary search instead
 * of a walk over every function: 0 or -ENOMEM. */
int go_pclntab_index(struct go_pclntab *t);
void go_pclntab_close(struct go_pclntab *t);

#endif /* WEFT_GOPCLNTAB_H */
