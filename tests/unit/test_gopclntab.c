// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Functions of stripped Go binaries from .gopclntab (user/gopclntab.c,
 * go_func_find in user/goinspect.c), checked against the symbol table of
 * the same program linked without -s -w: for every Go function in the
 * unstripped twin's .symtab, the stripped binary's lookup must give the
 * same entry and the same end (entry + size). The binaries are
 * build/apps/go1.{19,26}/gofuncs-cgo{0,1}-{exe,pie}[-stripped], built by
 * tests/apps/build.sh (CGO on means an external link: C start-up code
 * before runtime.text). Missing binaries fail the test, with the command
 * that builds them.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <unistd.h>
#include "test.h"
#include "gopclntab.h"
#include "goinspect.h"

#define APPS "build/apps/"

static const char *const toolchains[] = { "go1.19", "go1.26" };
static const char *const variants[] = {
	"gofuncs-cgo0-exe", "gofuncs-cgo0-pie", "gofuncs-cgo1-exe", "gofuncs-cgo1-pie",
};

/* The probes weft places, and the lead's crypto/tls ones: present in every
 * variant (gofuncs uses net/http's client and server and crypto/tls). */
static const char *const probed[] = {
	"net/http.(*Transport).roundTrip", "net/http.(*Request).write",
	"runtime.newproc1", "runtime.gostartcallfn",
	"crypto/tls.(*Conn).Write", "crypto/tls.(*Conn).Read",
};

struct sym {
	char *name;
	uint64_t value, size;
};

struct symtab {
	struct sym *s;
	size_t n;
	uint64_t text, etext;	/* runtime.text, runtime.etext */
};

static bool present(const char *path)
{
	if (access(path, R_OK) == 0)
		return true;
	fprintf(stderr, "  %s is missing: build the test apps first "
		"(tests/apps/build.sh)\n", path);
	return false;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct sym *)a)->name, ((const struct sym *)b)->name);
}

/* Every STT_FUNC symbol of path's .symtab, sorted by name. */
static bool read_symtab(const char *path, struct symtab *st)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	Elf *e;
	int fd;
	bool ok = false;

	memset(st, 0, sizeof(*st));
	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	e = elf_begin(fd, ELF_C_READ, NULL);
	while (e && (scn = elf_nextscn(e, scn))) {
		Elf_Data *d;
		size_t n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		n = sh.sh_size / sh.sh_entsize;
		st->s = calloc(n, sizeof(*st->s));
		for (size_t i = 0; d && st->s && i < n; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(d, (int)i, &sym))
				continue;
			name = elf_strptr(e, sh.sh_link, sym.st_name);
			if (!name)
				continue;
			if (strcmp(name, "runtime.text") == 0)
				st->text = sym.st_value;
			else if (strcmp(name, "runtime.etext") == 0)
				st->etext = sym.st_value;
			if (GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			st->s[st->n].name = strdup(name);
			st->s[st->n].value = sym.st_value;
			st->s[st->n].size = sym.st_size;
			st->n++;
		}
		ok = st->s != NULL;
		break;
	}
	if (e)
		elf_end(e);
	close(fd);
	if (ok)
		qsort(st->s, st->n, sizeof(*st->s), by_name);
	return ok;
}

static void free_symtab(struct symtab *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->s[i].name);
	free(st->s);
}

/*
 * The twins of one toolchain and variant: every Go function of the
 * unstripped binary's .symtab (those in [runtime.text, runtime.etext): C
 * functions of a cgo binary are not in Go's table) is found in the stripped
 * one at the same entry with the same end, and the probe offsets agree.
 */
static bool check_twins(const char *tc, const char *variant)
{
	char full[256], stripped[256];
	struct go_binary gb_full, gb_stripped;
	struct symtab st;
	struct go_elf *g, *gf;
	size_t compared = 0, dups = 0, mismatched = 0, ambiguous = 0, markers = 0;
	int err = 0;

	snprintf(full, sizeof(full), APPS "%s/%s", tc, variant);
	snprintf(stripped, sizeof(stripped), APPS "%s/%s-stripped", tc, variant);
	CHECK(present(full) && present(stripped));
	CHECK(read_symtab(full, &st));
	if (!st.text || st.etext <= st.text || st.n < 1000) {
		fprintf(stderr, "  %s: runtime.text %#llx etext %#llx, %zu functions\n",
			full, (unsigned long long)st.text, (unsigned long long)st.etext, st.n);
		free_symtab(&st);
		CHECK(false);
	}
	g = go_elf_open(stripped, &err);
	gf = go_elf_open(full, &err);
	if (!g || !gf || go_elf_info(g)->has_symbols || !go_elf_info(gf)->has_symbols ||
	    !go_elf_info(g)->is_go) {
		fprintf(stderr, "  %s or %s: not the pair expected (open %d)\n",
			stripped, full, err);
		go_elf_close(g);
		go_elf_close(gf);
		free_symtab(&st);
		CHECK(false);
	}
	for (size_t i = 0; i < st.n; i++) {
		const struct sym *s = &st.s[i];
		uint64_t entry = 0, end = 0;
		int rc;

		if (s->value < st.text || s->value >= st.etext)
			continue;
		/* the linker's markers (runtime.text, go:textfipsstart): labels
		 * of an address, no function the runtime's table lists */
		if (s->size == 0 || strncmp(s->name, "go:textfips", 11) == 0) {
			if (getenv("ALL"))
				fprintf(stderr, "     marker %s size %llu\n", s->name,
					(unsigned long long)s->size);
			markers++;
			continue;
		}
		/* a name twice in .symtab names no one function */
		if ((i > 0 && strcmp(st.s[i - 1].name, s->name) == 0) ||
		    (i + 1 < st.n && strcmp(st.s[i + 1].name, s->name) == 0)) {
			dups++;
			continue;
		}
		compared++;
		rc = go_func_find(g, s->name, &entry, &end);
		if (rc == -ENOTUNIQ) {
			/* the runtime's table has several of that name (Go 1.19's
			 * "[...]" for type arguments, two ABI entries of one
			 * function that nothing in the table tells apart): an
			 * honest "don't know", never a wrong address */
			if (ambiguous++ < 1)
				fprintf(stderr, "     (%s: %s: several in .gopclntab)\n",
					stripped, s->name);
			continue;
		}
		if (rc || entry != s->value || end != s->value + s->size) {
			if (mismatched++ < (getenv("ALL") ? 100000 : 10))
				fprintf(stderr, "  %s: %s: pclntab %d %#llx..%#llx, symtab %#llx..%#llx\n",
					stripped, s->name, rc, (unsigned long long)entry,
					(unsigned long long)end, (unsigned long long)s->value,
					(unsigned long long)(s->value + s->size));
		}
		/* the .symtab path of the same call, on a sample */
		if (i % 97 == 0) {
			uint64_t e2, n2;

			if (go_func_find(gf, s->name, &e2, &n2) || e2 != s->value ||
			    n2 != s->value + s->size) {
				fprintf(stderr, "  %s: %s from .symtab differs\n", full, s->name);
				mismatched++;
			}
		}
	}
	printf("     %s/%s: %zu functions compared, %zu mismatched, %zu ambiguous in "
	       ".gopclntab; %zu names not unique in .symtab, %zu markers\n",
	       tc, variant, compared, mismatched, ambiguous, dups, markers);
	for (size_t i = 0; i < sizeof(probed) / sizeof(probed[0]); i++) {
		uint64_t entry, end;

		if (go_func_find(g, probed[i], &entry, &end) || end <= entry) {
			fprintf(stderr, "  %s: %s not found\n", stripped, probed[i]);
			mismatched++;
		}
	}
	if (go_func_find(g, "no/such.function", &(uint64_t){0}, &(uint64_t){0}) != -ENOENT) {
		fprintf(stderr, "  %s: a missing function was found\n", stripped);
		mismatched++;
	}
	go_elf_close(g);
	go_elf_close(gf);
	free_symtab(&st);
	CHECK_INT(mismatched, 0);
	CHECK(compared >= 1000);
	CHECK(dups * 20 < compared);
	CHECK(ambiguous * 50 < compared);

	/* what goprobes attaches: the same four file offsets in both twins
	 * (the same code at the same place: -s -w drops only non-loaded
	 * sections) */
	CHECK_INT(go_inspect(full, &gb_full), 0);
	CHECK_INT(go_inspect(stripped, &gb_stripped), 0);
	CHECK(gb_full.is_go && gb_stripped.is_go && gb_full.has_symbols &&
	      !gb_stripped.has_symbols);
	CHECK(gb_full.roundtrip_off && gb_full.request_write_off &&
	      gb_full.newproc1_off && gb_full.gostartcallfn_off);
	CHECK_INT(gb_stripped.roundtrip_off, gb_full.roundtrip_off);
	CHECK_INT(gb_stripped.request_write_off, gb_full.request_write_off);
	CHECK_INT(gb_stripped.newproc1_off, gb_full.newproc1_off);
	CHECK_INT(gb_stripped.gostartcallfn_off, gb_full.gostartcallfn_off);
	CHECK_STR(gb_stripped.version, gb_full.version);
	CHECK(strncmp(gb_stripped.version, tc, strlen(tc)) == 0);
	return true;
}

static bool test_stripped_twins(void)
{
	bool ok = true;

	for (size_t t = 0; t < sizeof(toolchains) / sizeof(toolchains[0]); t++)
		for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++)
			if (!check_twins(toolchains[t], variants[v])) {
				fprintf(stderr, "  (%s %s)\n", toolchains[t], variants[v]);
				ok = false;
			}
	return ok;
}

/* The module versions goprobes picks the HTTP/2 handler paths by, from
 * the build info's module list: stripped binaries keep it. */
static bool test_module_versions(void)
{
	static const struct {
		const char *bin, *xnet, *grpc;
	} cases[] = {
		{ "build/apps/go1.19/gotls", "v0.17.0", "" },
		{ "build/apps/go1.26/gotls-stripped", "v0.17.0", "" },
		{ "build/apps/go1.19/gogrpc-stripped", "v0.12.0", "v1.58.3" },
		{ "build/apps/go1.26/gogrpc", "v0.12.0", "v1.58.3" },
		{ "build/apps/go1.26/goserver", "", "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct go_binary gb;

		if (access(cases[i].bin, R_OK) != 0) {
			fprintf(stderr, "  %s missing: run tests/apps/build.sh first\n",
				cases[i].bin);
			return false;
		}
		CHECK_INT(go_inspect(cases[i].bin, &gb), 0);
		CHECK(gb.is_go);
		CHECK_STR(gb.xnet_version, cases[i].xnet);
		CHECK_STR(gb.grpc_version, cases[i].grpc);
	}
	return true;
}

/* The raw bytes of a binary's table, for the parser-only tests. */
static uint8_t *table_of(const char *path, size_t *size)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t shstrndx;
	uint8_t *out = NULL;
	Elf *e;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (e && !elf_getshdrstrndx(e, &shstrndx)) {
		while ((scn = elf_nextscn(e, scn))) {
			const char *name;
			Elf_Data *d;

			if (!gelf_getshdr(scn, &sh))
				continue;
			name = elf_strptr(e, shstrndx, sh.sh_name);
			if (!name || strcmp(name, ".gopclntab") != 0)
				continue;
			d = elf_getdata(scn, NULL);
			if (d && d->d_buf && (out = malloc(d->d_size))) {
				memcpy(out, d->d_buf, d->d_size);
				*size = d->d_size;
			}
			break;
		}
	}
	if (e)
		elf_end(e);
	close(fd);
	return out;
}

/* A table cut short anywhere is refused or read inside what is left, a
 * table found by its magic in the middle of other bytes is the same table,
 * and the index and the walk find the same functions. */
static bool test_parser_bounds(void)
{
	const char *path = APPS "go1.26/gofuncs-cgo0-exe-stripped";
	struct go_pclntab t, u;
	struct go_func f, h;
	size_t size = 0, cuts = 0;
	uint8_t *tab, *padded;
	long at;

	CHECK(present(path));
	tab = table_of(path, &size);
	CHECK(tab && size > 4096);
	CHECK_INT(go_pclntab_open(&t, tab, size), 0);
	CHECK_INT(t.version, GO_PCLN_120);
	CHECK(t.nfunc > 1000);
	/* cut short: heap copies of exactly the cut size, so ASan sees a read
	 * past the end (make asan) */
	for (size_t n = 0; n < size; n += n < 256 ? 1 : 4093) {
		uint8_t *cut = malloc(n ? n : 1);

		memcpy(cut, tab, n);
		if (go_pclntab_open(&u, cut, n) == 0) {
			for (uint32_t i = 0; i < u.nfunc; i += 17)
				if (go_pclntab_func(&u, i, &f) == 0)
					CHECK(f.end >= f.entry);
			cuts++;
		}
		go_pclntab_close(&u);
		free(cut);
	}
	/* the functab alone needs 8 bytes per function: short cuts refuse */
	CHECK(cuts > 0);
	/* found by its magic after other bytes */
	padded = calloc(1, size + 4096);
	memset(padded, 0xf1, 4096);	/* bytes that look like a magic */
	memcpy(padded + 4096, tab, size);
	at = go_pclntab_scan(&u, padded, size + 4096);
	CHECK_INT(at, 4096);
	CHECK_INT(u.nfunc, t.nfunc);
	go_pclntab_close(&u);
	free(padded);
	/* index and walk agree */
	CHECK_INT(go_pclntab_find(&t, "runtime.newproc1", &f), 0);
	CHECK_INT(go_pclntab_index(&t), 0);
	CHECK_INT(go_pclntab_find(&t, "runtime.newproc1", &h), 0);
	CHECK_INT(f.entry, h.entry);
	CHECK_INT(f.end, h.end);
	CHECK_STR(h.name, "runtime.newproc1");
	CHECK_INT(go_pclntab_find(&t, "runtime.newproc", &h), 0);
	CHECK(h.entry != f.entry);
	CHECK_INT(go_pclntab_find(&t, "", &h), -ENOENT);
	CHECK_INT(go_pclntab_find(&t, "zzzz", &h), -ENOENT);
	go_pclntab_close(&t);
	free(tab);
	return true;
}

/* A Go 1.16-1.17 table, written here by hand (no such toolchain on the
 * machine): absolute entries, 8-byte functab words, name after the entry. */
static bool test_go116_table(void)
{
	uint8_t b[256] = { 0 };
	struct go_pclntab t;
	struct go_func f;
	uint64_t hdr[7] = {
		2,	/* nfunc */
		0,	/* nfiles */
		64,	/* funcnameOffset */
		96,	/* cuOffset */
		96,	/* filetabOffset */
		96,	/* pctabOffset */
		112,	/* pclnOffset */
	};
	uint64_t functab[6] = {
		0x401000, 48,	/* main.a at 0x401000, _func at pcln+48 */
		0x401040, 80,	/* main.b */
		0x401060, 0,	/* end of text */
	};

	memcpy(b, "\xfa\xff\xff\xff\0\0\1\x8", 8);
	memcpy(b + 8, hdr, sizeof(hdr));
	memcpy(b + 64, "main.a\0main.b\0", 14);
	/* pcsp of main.a: value +1 over 0x30 bytes, then the end */
	memcpy(b + 96 + 1, "\x02\x30\x00", 3);
	memcpy(b + 112, functab, sizeof(functab));
	/* _func: entry word, nameoff, args, deferreturn, pcsp */
	memcpy(b + 112 + 48, &functab[0], 8);
	memcpy(b + 112 + 48 + 8, &(int32_t){0}, 4);
	memcpy(b + 112 + 48 + 20, &(uint32_t){1}, 4);
	memcpy(b + 112 + 80, &functab[2], 8);
	memcpy(b + 112 + 80 + 8, &(int32_t){7}, 4);
	CHECK_INT(go_pclntab_open(&t, b, 112 + 80 + 24), 0);
	CHECK_INT(t.version, GO_PCLN_116);
	CHECK_INT(t.nfunc, 2);
	CHECK_INT(go_pclntab_find(&t, "main.a", &f), 0);
	CHECK_INT(f.entry, 0x401000);
	CHECK_INT(f.end, 0x401030);	/* from pcsp, short of the next entry */
	CHECK_INT(go_pclntab_find(&t, "main.b", &f), 0);
	CHECK_INT(f.entry, 0x401040);
	CHECK_INT(f.end, 0x401060);	/* no pcsp: the next entry */
	/* one byte short of main.b's pcsp field: refused, not read */
	CHECK_INT(go_pclntab_open(&t, b, 112 + 80 + 23), 0);
	CHECK_INT(go_pclntab_func(&t, 1, &f), -EINVAL);
	/* unsorted functab: not a table the runtime could use */
	functab[2] = 0x400000;
	memcpy(b + 112, functab, sizeof(functab));
	CHECK_INT(go_pclntab_open(&t, b, sizeof(b)), -EINVAL);
	return true;
}

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = malloc(65536);

	*n = f && b ? fread(b, 1, 65536, f) : 0;
	if (f)
		fclose(f);
	return b;
}

/* The fuzz seeds (tests/fuzz/corpus/gopclntab): small tables with the
 * names the lookup must tell apart, as Go 1.20+ and 1.18-1.19 write them. */
static bool check_seed(const char *path, uint64_t text)
{
	struct go_pclntab t;
	struct go_func f;
	size_t n;
	uint8_t *b = slurp(path, &n);

	CHECK(b && n > 0);
	CHECK_INT(go_pclntab_open(&t, b, n), 0);
	if (!t.text)
		t.text = text;
	CHECK_INT(t.text, text);
	/* an assembly body (ABI0) and the ABIInternal wrapper calling it */
	CHECK_INT(go_pclntab_find(&t, "runtime.asmcgocall", &f), 0);
	CHECK_INT(f.entry, text + 0x300);
	CHECK_INT(go_pclntab_find(&t, "runtime.asmcgocall.abi0", &f), 0);
	CHECK_INT(f.entry, text);
	CHECK_INT(f.end, text + 0x50);
	/* a Go body and the ABI0 wrapper assembly calls it through */
	CHECK_INT(go_pclntab_find(&t, "runtime.newproc", &f), 0);
	CHECK_INT(f.entry, text + 0x3e0);
	CHECK_INT(go_pclntab_find(&t, "runtime.newproc.abi0", &f), 0);
	CHECK_INT(f.entry, text + 0x420);
	/* two instances of a generic function: Go 1.18-1.20 say "[...]" */
	CHECK_INT(go_pclntab_find(&t, "pkg.F[int]", &f), -ENOTUNIQ);
	CHECK_INT(go_pclntab_find(&t, "pkg.F[...]", &f), -ENOTUNIQ);
	/* the symbol table's '.' for a middle dot */
	CHECK_INT(go_pclntab_find(&t, "type:.eq.T.1", &f), 0);
	CHECK_INT(f.entry, text + 0x3c0);
	CHECK_INT(f.end, text + 0x3ca);
	/* no pcsp table: up to the next function */
	CHECK_INT(go_pclntab_find(&t, "net/http.(*Request).write", &f), 0);
	CHECK_INT(f.end, text + 0x300);
	CHECK_INT(go_pclntab_find(&t, "net/http.(*Transport).roundTrip", &f), 0);
	CHECK_INT(f.end, text + 0x2a0);
	CHECK_INT(go_pclntab_find(&t, "runtime.asmcgocall.abi1", &f), -ENOENT);
	go_pclntab_close(&t);
	free(b);
	return true;
}

static bool test_seed_tables(void)
{
	CHECK(check_seed("tests/fuzz/corpus/gopclntab/seed-go120", 0x400000));
	CHECK(check_seed("tests/fuzz/corpus/gopclntab/seed-go118", 0x401000));
	return true;
}

int main(void)
{
	elf_version(EV_CURRENT);
	RUN(test_go116_table);
	RUN(test_seed_tables);
	RUN(test_parser_bounds);
	RUN(test_stripped_twins);
	RUN(test_module_versions);
	return TEST_SUMMARY();
}
