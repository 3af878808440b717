// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Go's pclntab (runtime/symtab.go: pcHeader, functab, _func; runtime.step
 * for the pc-value tables), read with every offset checked: the table comes
 * from whatever binary runs on the node.
 *
 *   pcHeader   magic u32, pad u8 x2, minLC u8, ptrSize u8, nfunc, nfiles,
 *              [textStart: 1.18-1.19; an unused word: 1.20+],
 *              funcnameOffset, cuOffset, filetabOffset, pctabOffset,
 *              pclnOffset (words of ptrSize bytes, offsets from the header)
 *   functab    at pclnOffset, nfunc + 1 entries {entryoff u32, funcoff u32}
 *              (1.16-1.17: {entry, funcoff} words); the last entry's entry
 *              is the end of the last function
 *   _func      at pclnOffset + funcoff: entryoff u32, nameOff i32 (index
 *              into funcnametab), args, deferreturn, pcsp u32 (offset into
 *              pctab), ... (1.16-1.17: an entry word first)
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "gopclntab.h"

#define MAGIC_116	0xfffffffau
#define MAGIC_118	0xfffffff0u
#define MAGIC_120	0xfffffff1u
#define SCAN_TRIES	64	/* magics go_pclntab_scan opens at most */

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t rdword(const struct go_pclntab *t, const uint8_t *p)
{
	if (t->ptr_size == 4)
		return rd32(p);
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* Is [off, off + len) inside the table? (no overflow on hostile values) */
static bool fits(const struct go_pclntab *t, uint64_t off, uint64_t len)
{
	return off <= t->size && len <= t->size - off;
}

static size_t functab_entsize(const struct go_pclntab *t)
{
	return t->version == GO_PCLN_116 ? 2u * t->ptr_size : 8u;
}

/* Entry i of functab: the function's entry (an offset from text for 1.18+,
 * an address for 1.16) and where its _func is. open() checked the bounds. */
static void functab_at(const struct go_pclntab *t, uint32_t i, uint64_t *entry,
		       uint64_t *funcoff)
{
	const uint8_t *p = t->data + t->functab_off + (uint64_t)i * functab_entsize(t);

	if (t->version == GO_PCLN_116) {
		*entry = rdword(t, p);
		*funcoff = rdword(t, p + t->ptr_size);
	} else {
		*entry = rd32(p);
		*funcoff = rd32(p + 4);
	}
}

static uint8_t max_func_id(const struct go_pclntab *t);

int go_pclntab_open(struct go_pclntab *t, const uint8_t *data, size_t size)
{
	uint64_t nfunc, prev = 0, word0;
	uint32_t magic;
	size_t hdr;
	int first;	/* index of funcnameOffset among the header's words */

	memset(t, 0, sizeof(*t));
	if (size < 16)
		return -EINVAL;
	magic = rd32(data);
	if (magic == MAGIC_116) {
		t->version = GO_PCLN_116;
		first = 2;
	} else if (magic == MAGIC_118) {
		t->version = GO_PCLN_118;
		first = 3;
	} else if (magic == MAGIC_120) {
		t->version = GO_PCLN_120;
		first = 3;
	} else {
		return -EINVAL;
	}
	if (data[4] || data[5] || (data[6] != 1 && data[6] != 2 && data[6] != 4) ||
	    (data[7] != 4 && data[7] != 8))
		return -EINVAL;
	t->data = data;
	t->size = size;
	t->min_lc = data[6];
	t->ptr_size = data[7];
	hdr = 8 + (size_t)(first + 5) * t->ptr_size;
	if (size < hdr)
		return -EINVAL;
	word0 = 8;
	nfunc = rdword(t, data + word0);
	if (t->version == GO_PCLN_118)
		t->text = rdword(t, data + word0 + 2 * t->ptr_size);
	t->funcname_off = rdword(t, data + word0 + (size_t)first * t->ptr_size);
	t->pctab_off = rdword(t, data + word0 + (size_t)(first + 3) * t->ptr_size);
	t->functab_off = rdword(t, data + word0 + (size_t)(first + 4) * t->ptr_size);
	if (nfunc == 0 || nfunc >= UINT32_MAX / 2 ||
	    t->funcname_off < hdr || t->funcname_off >= size ||
	    t->pctab_off < hdr || t->pctab_off >= size ||
	    !fits(t, t->functab_off, (nfunc + 1) * functab_entsize(t)))
		goto bad;
	t->nfunc = (uint32_t)nfunc;
	/* The runtime finds functions by pc with a search over functab: it is
	 * sorted, and a table that is not is not one the runtime could use. */
	for (uint32_t i = 0; i <= t->nfunc; i++) {
		uint64_t entry, funcoff;

		functab_at(t, i, &entry, &funcoff);
		if (entry < prev)
			goto bad;
		prev = entry;
	}
	t->wrapper_id = max_func_id(t);
	return 0;
bad:
	memset(t, 0, sizeof(*t));
	return -EINVAL;
}

/* The NUL-terminated name of the _func at offset fo, or NULL. */
static const char *name_at(const struct go_pclntab *t, uint64_t fo)
{
	uint64_t name_field = fo + (t->version == GO_PCLN_116 ? t->ptr_size : 4);
	int32_t name_off;
	uint64_t at;

	if (!fits(t, name_field, 4))
		return NULL;
	name_off = (int32_t)rd32(t->data + name_field);
	if (name_off < 0)
		return NULL;
	at = t->funcname_off + (uint64_t)name_off;
	if (at >= t->size || !memchr(t->data + at, '\0', t->size - at))
		return NULL;
	return (const char *)t->data + at;
}

/* A varint of the pc-value tables (runtime.readvarint): at most 5 bytes. */
static bool uvarint(const uint8_t *p, size_t n, size_t *i, uint32_t *v)
{
	uint32_t r = 0;

	for (int shift = 0; shift < 35; shift += 7) {
		uint8_t b;

		if (*i >= n)
			return false;
		b = p[(*i)++];
		r |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return true;
		}
	}
	return false;
}

/*
 * How many bytes of code a pc-value table (here pcsp) covers: the compiler
 * ends each with a pc step to the function's size (cmd/internal/obj
 * funcpctab), which is the symbol's size without the alignment padding
 * that comes before the next function. 0 when the table is malformed or
 * runs past limit.
 */
static uint64_t pc_table_span(const struct go_pclntab *t, uint32_t off, uint64_t limit)
{
	uint64_t start = t->pctab_off + off, pc = 0;
	const uint8_t *p;
	size_t n, i = 0;
	bool first = true;

	if (!off || start >= t->size)
		return 0;
	p = t->data + start;
	n = t->size - start;
	for (;;) {
		uint32_t vdelta, pcdelta;

		if (i >= n)
			return 0;
		if (p[i] == 0 && !first)
			return pc;
		if (!uvarint(p, n, &i, &vdelta) || !uvarint(p, n, &i, &pcdelta))
			return 0;
		pc += (uint64_t)pcdelta * t->min_lc;
		if (pc > limit)
			return 0;
		first = false;
	}
}

int go_pclntab_func(const struct go_pclntab *t, uint32_t i, struct go_func *f)
{
	uint64_t entry, next, funcoff, fo, pcsp_field, span, limit;

	if (!t->data || i >= t->nfunc)
		return -EINVAL;
	functab_at(t, i, &entry, &funcoff);
	functab_at(t, i + 1, &next, &fo);
	fo = t->functab_off + funcoff;
	pcsp_field = fo + (t->version == GO_PCLN_116 ? t->ptr_size + 12u : 16u);
	if (!fits(t, pcsp_field, 4))
		return -EINVAL;
	f->name = name_at(t, fo);
	if (!f->name)
		return -EINVAL;
	/* 1.16: addresses; 1.18+: offsets from text */
	f->entry_off = t->version == GO_PCLN_116 ? 0 : (uint32_t)entry;
	if (t->version != GO_PCLN_116 && entry > UINT64_MAX - t->text)
		return -EINVAL;	/* a text base no binary has */
	f->entry = t->version == GO_PCLN_116 ? entry : t->text + entry;
	limit = next - entry;	/* functab is sorted (open() checked) */
	span = pc_table_span(t, rd32(t->data + pcsp_field), limit);
	if (!span)
		span = limit;
	if (span > UINT64_MAX - f->entry)
		return -EINVAL;
	f->end = f->entry + span;
	return 0;
}

uint32_t go_pclntab_end_off(const struct go_pclntab *t)
{
	uint64_t entry, funcoff;

	if (!t->data || t->version == GO_PCLN_116)
		return 0;
	functab_at(t, t->nfunc, &entry, &funcoff);
	return (uint32_t)entry;
}

static const char *name_of(const struct go_pclntab *t, uint32_t i)
{
	uint64_t entry, funcoff;

	functab_at(t, i, &entry, &funcoff);
	return name_at(t, t->functab_off + funcoff);
}

/* The name of function i when go_pclntab_func can read all of it, else
 * NULL: a lookup only ever picks among such functions. */
static const char *whole_name_of(const struct go_pclntab *t, uint32_t i)
{
	uint64_t entry, funcoff, fo;

	functab_at(t, i, &entry, &funcoff);
	fo = t->functab_off + funcoff;
	if (!fits(t, fo + (t->version == GO_PCLN_116 ? t->ptr_size + 12u : 16u), 4))
		return NULL;
	return name_at(t, fo);
}

static void id_flag_of(const struct go_pclntab *t, uint32_t i, uint8_t *id, uint8_t *flag);

/* The largest funcID in the table: the wrapper's (see pick()). */
static uint8_t max_func_id(const struct go_pclntab *t)
{
	uint8_t max = 0, id, flag;

	for (uint32_t i = 0; i < t->nfunc; i++) {
		id_flag_of(t, i, &id, &flag);
		if (id > max)
			max = id;
	}
	return max;
}

/* qsort_r order: by name, then by index (the first of equal names first) */
static int by_name_cmp(const void *a, const void *b, void *arg)
{
	const struct go_pclntab *t = arg;
	uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
	int c = strcmp(name_of(t, ia), name_of(t, ib));

	if (c)
		return c;
	return ia < ib ? -1 : ia > ib;
}

int go_pclntab_index(struct go_pclntab *t)
{
	uint32_t n = 0;

	if (!t->data || t->by_name)
		return 0;
	t->by_name = malloc((size_t)t->nfunc * sizeof(*t->by_name));
	if (!t->by_name)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->nfunc; i++)
		if (whole_name_of(t, i))
			t->by_name[n++] = i;
	t->n_by_name = n;
	qsort_r(t->by_name, n, sizeof(*t->by_name), by_name_cmp, t);
	return 0;
}

/* funcID and flag of the _func at offset fo (0, 0 when unreadable):
 * 1.20+ have startLine before them, 1.16-1.17 the entry word first. */
static void id_flag_at(const struct go_pclntab *t, uint64_t fo, uint8_t *id, uint8_t *flag)
{
	uint64_t at = fo + (t->version == GO_PCLN_116 ? t->ptr_size + 32u :
			    t->version == GO_PCLN_118 ? 36u : 40u);

	*id = *flag = 0;
	if (fits(t, at, 2)) {
		*id = t->data[at];
		*flag = t->version == GO_PCLN_116 ? 0 : t->data[at + 1];
	}
}

static void id_flag_of(const struct go_pclntab *t, uint32_t i, uint8_t *id, uint8_t *flag)
{
	uint64_t entry, funcoff;

	functab_at(t, i, &entry, &funcoff);
	id_flag_at(t, t->functab_off + funcoff, id, flag);
}

#define FLAG_ASM	4	/* abi.FuncFlagAsm (funcFlag_ASM in 1.19) */
#define MAX_SAME	8	/* functions of one name looked at */

/* Up to MAX_SAME indexes of the functions named name that read whole; the
 * count of all of them. */
static uint32_t named(const struct go_pclntab *t, const char *name, uint32_t *out)
{
	struct go_func f;
	uint32_t n = 0;

	if (t->by_name) {
		uint32_t lo = 0, hi = t->n_by_name;

		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;

			if (strcmp(name_of(t, t->by_name[mid]), name) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < t->n_by_name && strcmp(name_of(t, t->by_name[lo]), name) == 0; lo++)
			if (go_pclntab_func(t, t->by_name[lo], &f) == 0 && n++ < MAX_SAME)
				out[n - 1] = t->by_name[lo];
		return n;
	}
	for (uint32_t i = 0; i < t->nfunc; i++) {
		const char *s = whole_name_of(t, i);

		if (s && strcmp(s, name) == 0 && go_pclntab_func(t, i, &f) == 0 &&
		    n++ < MAX_SAME)
			out[n - 1] = i;
	}
	return n;
}

/*
 * Which of several functions of one name is meant. The symbol table tells
 * a function's two ABI entry points apart by a ".abi0" suffix the runtime's
 * table does not have: an assembly function (flag ASM) and the compiler's
 * ABIInternal wrapper that calls it, or a Go function and the ABI0 wrapper
 * that assembly calls it through. The wrapper is told by its funcID, whose
 * number changes between releases but is always the largest one (the last
 * of the enum), so the table's largest funcID is taken for it. Anything
 * else sharing a name (instantiations of a generic function that Go 1.18-
 * 1.20 name "[...]") is ambiguous.
 */
static int pick(const struct go_pclntab *t, const uint32_t *c, uint32_t n,
		bool want_abi0, uint32_t *out)
{
	int body = -1, wrapper = -1;
	uint8_t id, flag, body_flag = 0;

	if (n == 1) {
		*out = c[0];
		return 0;
	}
	if (n != 2 || !t->wrapper_id)
		return -ENOTUNIQ;
	for (uint32_t k = 0; k < 2; k++) {
		id_flag_of(t, c[k], &id, &flag);
		if (id == t->wrapper_id) {
			wrapper = (int)k;
		} else {
			body = (int)k;
			body_flag = flag;
		}
	}
	if (body < 0 || wrapper < 0)
		return -ENOTUNIQ;
	/* the assembly body is the ABI0 one; a Go body is the ABIInternal one */
	if (want_abi0 == !!(body_flag & FLAG_ASM))
		*out = c[body];
	else
		*out = c[wrapper];
	return 0;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}


/* "pkg.F[T1, T2]" as Go 1.18-1.20 name it in the runtime's table, with
 * the type arguments left out: "pkg.F[...]". NULL when nothing changes. */
static char *without_type_args(const char *name)
{
	const char *open = strchr(name, '['), *close = strrchr(name, ']');
	size_t head, tail;
	char *s;

	if (!open || !close || close < open + 1 || strncmp(open, "[...]", 5) == 0)
		return NULL;
	head = (size_t)(open - name);
	tail = strlen(close + 1);
	s = malloc(head + 5 + tail + 1);
	if (s) {
		memcpy(s, name, head);
		memcpy(s + head, "[...]", 5);
		memcpy(s + head + 5, close + 1, tail + 1);
	}
	return s;
}

/* "type:.eq.T.1" as the runtime's table spells it, "type:.eq.T\u00b71":
 * the symbol table writes the middle dot of a numbered local copy as '.'.
 * NULL when the name does not end in ".N". */
static char *with_middle_dot(const char *name)
{
	size_t n = strlen(name), d = n;
	char *s;

	while (d > 0 && name[d - 1] >= '0' && name[d - 1] <= '9')
		d--;
	if (d == n || d < 2 || name[d - 1] != '.')
		return NULL;
	s = malloc(n + 2);
	if (s) {
		memcpy(s, name, d - 1);
		memcpy(s + d - 1, "\xc2\xb7", 2);	/* U+00B7 in UTF-8 */
		memcpy(s + d + 1, name + d, n - d + 1);
	}
	return s;
}

/* named() of the name, else of its other spellings, in this order */
static uint32_t named_any(const struct go_pclntab *t, const char *name, uint32_t *out)
{
	char *dot = with_middle_dot(name), *alt[3] = { dot, NULL, NULL };
	uint32_t n = named(t, name, out);

	alt[1] = without_type_args(name);
	alt[2] = dot ? without_type_args(dot) : NULL;
	for (int k = 0; k < 3; k++) {
		if (!n && alt[k])
			n = named(t, alt[k], out);
		free(alt[k]);
	}
	return n;
}

int go_pclntab_find(const struct go_pclntab *t, const char *name, struct go_func *f)
{
	uint32_t c[MAX_SAME], n, i;
	size_t len = strlen(name);
	bool abi0 = ends_with(name, len, ".abi0");
	char *base;
	int err;

	if (!t->data)
		return -ENOENT;
	if (abi0)
		len -= 5;
	base = strndup(name, len);
	if (!base)
		return -ENOMEM;
	n = named_any(t, base, c);
	free(base);
	if (!n)
		return -ENOENT;
	err = n > MAX_SAME ? -ENOTUNIQ : pick(t, c, n, abi0, &i);
	if (err)
		return err;
	return go_pclntab_func(t, i, f) ? -ENOENT : 0;
}

long go_pclntab_scan(struct go_pclntab *t, const uint8_t *buf, size_t n)
{
	struct go_func f;
	int tries = 0;

	for (size_t off = 0; off + 16 <= n && off <= (size_t)LONG_MAX; off += 4) {
		uint32_t m = rd32(buf + off);

		if (m != MAGIC_116 && m != MAGIC_118 && m != MAGIC_120)
			continue;
		/* open() walks functab: a section full of magics must not cost
		 * a walk per word */
		if (++tries > SCAN_TRIES)
			break;
		if (go_pclntab_open(t, buf + off, n - off))
			continue;
		if (!go_pclntab_func(t, 0, &f) && !go_pclntab_func(t, t->nfunc - 1, &f))
			return (long)off;
	}
	memset(t, 0, sizeof(*t));
	return -1;
}

void go_pclntab_close(struct go_pclntab *t)
{
	free(t->by_name);
	memset(t, 0, sizeof(*t));
}
