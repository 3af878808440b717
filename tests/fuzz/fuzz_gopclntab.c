// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_gopclntab: Go's function table reader (user/gopclntab.c), which
 * reads .gopclntab of whatever binary runs on the node: a hostile one must
 * not crash weft or make it read outside the section. Input: the table's
 * bytes (what goinspect.c hands over from the section, or from the middle
 * of .data.rel.ro when go_pclntab_scan looks for the magic), copied to a
 * heap buffer of exactly that size.
 *
 * Seeds (tests/fuzz/corpus/gopclntab/): small tables written the way Go's
 * linker lays them out (header, funcnametab, pctab, functab, _func), in the
 * Go 1.20+, 1.18-1.19 and 1.16-1.17 formats, with the cases the lookup
 * tells apart: an assembly function and its ABI wrapper of one name, a Go
 * function and its ABI0 wrapper, two "[...]" generic instances, a middle
 * dot, a function without a pcsp table; one with the magic after other
 * bytes. (Generated once by a short Python script following the layout in
 * gopclntab.c's header comment; real tables are megabytes.)
 *
 * Invariants beyond "no crash":
 *  - every function read has its name inside the buffer, NUL-terminated,
 *    and end >= entry; 1.18+ entries are text + entry_off;
 *  - looking a function's own name up finds a function of that name or
 *    says the name is ambiguous (-ENOTUNIQ), never another one or nothing;
 *  - the sorted index and the walk give the same answers;
 *  - go_pclntab_scan finds nothing or a table that opens where it says.
 */
#include <errno.h>
#include "fuzz.h"
#include "gopclntab.h"

#define MAX_LOOKUPS 64

struct answer {
	int rc;
	uint64_t entry, end;
};

static void check_func(const struct go_pclntab *t, const struct go_func *f)
{
	const uint8_t *p = (const uint8_t *)f->name;

	FUZZ_ASSERT(p >= t->data && p < t->data + t->size);
	FUZZ_ASSERT(memchr(p, '\0', (size_t)(t->data + t->size - p)));
	FUZZ_ASSERT(f->end >= f->entry);
	if (t->version != GO_PCLN_116)
		FUZZ_ASSERT(f->entry == t->text + f->entry_off);
}

static bool ends_with_abi0(const char *s)
{
	size_t n = strlen(s);

	return n >= 5 && strcmp(s + n - 5, ".abi0") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fz_memdup(data, size);
	struct answer before[MAX_LOOKUPS];
	struct go_pclntab t, s;
	uint32_t n;
	long at;

	if (go_pclntab_open(&t, buf, size) == 0) {
		FUZZ_ASSERT(t.nfunc >= 1);
		FUZZ_ASSERT(t.funcname_off < size && t.pctab_off < size &&
			    t.functab_off < size);
		if (t.version == GO_PCLN_120)
			t.text = 0x400000;	/* what goinspect.c sets */
		for (uint32_t i = 0; i < t.nfunc; i++) {
			struct go_func f;

			if (go_pclntab_func(&t, i, &f) == 0)
				check_func(&t, &f);
		}
		/* own names, by walk, then by index: the same answers */
		n = t.nfunc < MAX_LOOKUPS ? t.nfunc : MAX_LOOKUPS;
		for (int pass = 0; pass < 2; pass++) {
			if (pass == 1)
				FUZZ_ASSERT(go_pclntab_index(&t) == 0);
			for (uint32_t i = 0; i < n; i++) {
				struct go_func f, g;
				struct answer a = { 0 };

				if (go_pclntab_func(&t, i, &f) || ends_with_abi0(f.name))
					continue;
				a.rc = go_pclntab_find(&t, f.name, &g);
				FUZZ_ASSERT(a.rc == 0 || a.rc == -ENOTUNIQ);
				if (a.rc == 0) {
					check_func(&t, &g);
					FUZZ_ASSERT(strcmp(g.name, f.name) == 0);
					a.entry = g.entry;
					a.end = g.end;
				}
				if (pass == 0) {
					before[i] = a;
				} else {
					FUZZ_ASSERT(a.rc == before[i].rc);
					FUZZ_ASSERT(a.entry == before[i].entry &&
						    a.end == before[i].end);
				}
			}
		}
		/* names that are not there, in the symbol table's spellings */
		{
			struct go_func g;
			int rc = go_pclntab_find(&t, "no.such[T].f.abi0", &g);

			FUZZ_ASSERT(rc == -ENOENT || rc == 0 || rc == -ENOTUNIQ);
			rc = go_pclntab_find(&t, "type:.eq.x.12", &g);
			FUZZ_ASSERT(rc == -ENOENT || rc == 0 || rc == -ENOTUNIQ);
		}
		go_pclntab_close(&t);
	}
	at = go_pclntab_scan(&s, buf, size);
	if (at >= 0) {
		struct go_pclntab again;

		FUZZ_ASSERT((size_t)at < size && at % 4 == 0);
		FUZZ_ASSERT(s.data == buf + at);
		FUZZ_ASSERT(go_pclntab_open(&again, buf + at, size - (size_t)at) == 0);
		FUZZ_ASSERT(again.nfunc == s.nfunc);
		go_pclntab_close(&again);
		go_pclntab_close(&s);
	}
	free(buf);
	return 0;
}
