// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Probe sites of Go's crypto/tls in a binary: see gotls_sites.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "goinspect.h"
#include "go_offsets.h"
#include "gotls_sites.h"
#include "x86len.h"

#define FN_WRITE	"crypto/tls.(*Conn).Write"
#define FN_READ		"crypto/tls.(*Conn).Read"
/* A function larger than this is not the one we know: refuse it. */
#define FN_MAX_SIZE	(64 << 10)

static void why(struct go_tls_sites *out, const char *fn, const char *what)
{
	if (!out->why[0])
		snprintf(out->why, sizeof(out->why), "%s: %s", fn, what);
}

/* The code of function fn, malloc'd, with its size and file offset. */
static uint8_t *code_of(struct go_elf *g, const char *fn, uint64_t *size,
			uint64_t *off, struct go_tls_sites *out)
{
	uint64_t entry, end;
	uint8_t *code;
	int err = go_func_find(g, fn, &entry, &end);

	if (err) {
		why(out, fn, err == -ENOENT ? "not linked in" :
			     err == -ENOTUNIQ ? "more than one function of that name" :
			     "no symbol table and no readable .gopclntab");
		return NULL;
	}
	if (end <= entry || end - entry > FN_MAX_SIZE) {
		why(out, fn, "implausible function size");
		return NULL;
	}
	*size = end - entry;
	code = malloc(*size);
	if (!code)
		abort();
	if (go_code_read(g, entry, code, *size, off)) {
		free(code);
		why(out, fn, "code not in the file");
		return NULL;
	}
	return code;
}

static void entry_site(const char *fn, const uint8_t *code, uint64_t size,
		       uint64_t off, uint64_t *site, struct go_tls_sites *out)
{
	int b = go_find_stack_check_branch(code, size < 32 ? (int)size : 32);

	if (b < 0) {
		why(out, fn, "no stack-check branch to probe");
		return;
	}
	*site = off + b;
}

/*
 * The one "call runtime.memmove" (E8 rel32) in Read: n, _ := c.input.Read(b)
 * inlined, in every release from 1.19 to 1.26. Anything else (none, or
 * several to choose from) is refused rather than guessed.
 */
static void copy_site(const uint8_t *code, uint64_t size, uint64_t entry,
		      uint64_t off, uint64_t memmove, struct go_tls_sites *out)
{
	uint64_t found = 0;
	int calls = 0;

	for (uint64_t i = 0; i < size;) {
		int n = x86_insn_len(code + i, size - i);

		if (n < 0) {
			why(out, FN_READ, "machine code the decoder does not know");
			return;
		}
		if (n == 5 && code[i] == 0xe8) {
			int32_t rel;

			memcpy(&rel, code + i + 1, 4);
			if (entry + i + 5 + (int64_t)rel == memmove) {
				found = i;
				calls++;
			}
		}
		i += n;
	}
	if (calls != 1) {
		why(out, FN_READ, calls ? "more than one copy to choose from"
				       : "no copy of the plaintext found");
		return;
	}
	out->read_copy_off = off + found;
}

int go_tls_sites_find(const char *path, struct go_tls_sites *out)
{
	struct go_elf *g;
	uint64_t size, off;
	uint8_t *code;
	int err;

	memset(out, 0, sizeof(*out));
	g = go_elf_open(path, &err);
	if (!g)
		return err;
	snprintf(out->version, sizeof(out->version), "%s", go_elf_info(g)->version);
	code = code_of(g, FN_WRITE, &size, &off, out);
	if (code) {
		entry_site(FN_WRITE, code, size, off, &out->write_off, out);
		free(code);
	}
	code = code_of(g, FN_READ, &size, &off, out);
	if (code) {
		uint64_t entry, end, memmove;

		entry_site(FN_READ, code, size, off, &out->read_off, out);
		if (go_func_find(g, FN_READ, &entry, &end) ||
		    go_func_find(g, "runtime.memmove", &memmove, &end))
			why(out, FN_READ, "runtime.memmove not found");
		else
			copy_site(code, size, entry, off, memmove, out);
		free(code);
	}
	out->stripped = !go_elf_info(g)->has_symbols;
	go_elf_close(g);
	return 0;
}

int go_tls_layout_newest(struct go_offsets *out)
{
	char v[16];
	int lo, hi;

	go_offsets_covered(&lo, &hi);
	snprintf(v, sizeof(v), "go1.%d", hi);
	return go_offsets_for(v, out);
}

int go_tls_layout_ok(const char *version, char *why, size_t n)
{
	struct go_offsets want, have;
	int lo, hi;

	go_offsets_covered(&lo, &hi);
	if (go_offsets_for(version, &have)) {
		snprintf(why, n, "Go release %s is not in the struct offsets "
			 "table (it covers go1.%d to go1.%d)",
			 version[0] ? version : "(unknown)", lo, hi);
		return 0;
	}
	if (go_tls_layout_newest(&want) || memcmp(&want, &have, sizeof(want))) {
		snprintf(why, n, "Go release %s lays out tls.Conn/netFD "
			 "differently from go1.%d, whose offsets are loaded",
			 version, hi);
		return 0;
	}
	return 1;
}
