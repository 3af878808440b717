// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Go binary inspection with libelf: version, functions, probe offsets. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gopclntab.h"
#include "goinspect.h"

#define SYM_ROUNDTRIP	"net/http.(*Transport).roundTrip"
#define SYM_REQ_WRITE	"net/http.(*Request).write"
#define SYM_NEWPROC1	"runtime.newproc1"
#define SYM_STARTCALL	"runtime.gostartcallfn"
#define INDEX_AFTER	16		/* .gopclntab lookups before sorting */

struct go_elf {
	int fd;
	Elf *e;
	struct go_binary info;
	Elf_Scn *symtab;
	Elf_Scn *pclntab_scn;		/* a section named for it, if any */
	int pcln_state;			/* 0 not read yet, 1 usable, -1 not */
	struct go_pclntab pcln;
	uint64_t pcln_vaddr;
	unsigned pcln_lookups;		/* go_func_find calls that used it */
	char why[96];
};

/*
 * A Go amd64 prologue that checks the stack looks like
 *   cmp rsp, [r14+0x10]            49 3b 66 10
 * or, for large frames,
 *   lea r12, [rsp-N]               4c 8d 64 24 xx | 4c 8d a4 24 xx xx xx xx
 *   cmp r12, [r14+0x10]            4d 3b 66 10
 * followed by jbe rel8 (76 xx) or jbe rel32 (0f 86 ...). The branch is
 * where the probe goes: uprobes emulate jumps, but single-step a cmp.
 */
int go_find_stack_check_branch(const uint8_t *code, int n)
{
	for (int i = 0; i + 6 <= n && i < 24; i++) {
		if ((code[i] == 0x49 || code[i] == 0x4d) && code[i + 1] == 0x3b &&
		    code[i + 2] == 0x66 && code[i + 3] == 0x10) {
			int j = i + 4;

			if (j < n && code[j] == 0x76)
				return j;
			if (j + 1 < n && code[j] == 0x0f && code[j + 1] == 0x86)
				return j;
			return -1;
		}
	}
	return -1;
}

/* A varint-prefixed string at p[*i..n): its bytes and length, *i past it. */
static const uint8_t *inline_string(const uint8_t *p, size_t n, size_t *i, size_t *len)
{
	int shift = 0;

	*len = 0;
	while (*i < n && shift < 28) {
		*len |= (size_t)(p[*i] & 0x7f) << shift;
		shift += 7;
		if (!(p[(*i)++] & 0x80))
			break;
	}
	if (*i > n || *len > n - *i)
		return NULL;
	*i += *len;
	return p + *i - *len;
}

/* field k (0-based) of a tab-separated line [l, le) into out */
static void tab_field(const char *l, const char *le, int k, char *out, size_t size)
{
	for (; k > 0 && l < le; k--) {
		const char *t = memchr(l, '\t', le - l);

		if (!t)
			return;
		l = t + 1;
	}
	const char *e = memchr(l, '\t', le - l);

	if (!e)
		e = le;
	if (k == 0 && (size_t)(e - l) < size) {
		memcpy(out, l, e - l);
		out[e - l] = '\0';
	}
}

/*
 * The version of module path in the module list: "dep\tPATH\tVERSION\tSUM"
 * lines, each maybe followed by "=>\tPATH\tVERSION\tSUM" naming what
 * replaced it (then that version is the code's).
 */
static void dep_version(const char *mi, size_t n, const char *path,
			char *out, size_t size)
{
	size_t plen = strlen(path);
	const char *end = mi + n, *line = mi;
	bool found = false;

	while (line < end) {
		const char *nl = memchr(line, '\n', end - line);
		const char *le = nl ? nl : end;

		if (found) {
			if (le - line > 3 && memcmp(line, "=>\t", 3) == 0)
				tab_field(line, le, 2, out, size);
			return;
		}
		if ((size_t)(le - line) > 5 + plen && memcmp(line, "dep\t", 4) == 0 &&
		    memcmp(line + 4, path, plen) == 0 && line[4 + plen] == '\t') {
			tab_field(line, le, 2, out, size);
			found = true;
		}
		line = le + 1;
	}
}

/* Version and module list from the build info blob ("\xff Go buildinf:"
 * header). */
static void read_version(Elf_Scn *scn, struct go_binary *info)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	const uint8_t *p, *s;
	size_t i = 32, len;

	if (!d || !d->d_buf || d->d_size < 32)
		return;
	p = d->d_buf;
	if (memcmp(p, "\xff Go buildinf:", 14) != 0)
		return;
	/* Go 1.18+: flags bit 2 = inline strings: varint length + bytes */
	if (!(p[15] & 2))
		return;
	s = inline_string(p, d->d_size, &i, &len);
	if (s && len && len < sizeof(info->version)) {
		memcpy(info->version, s, len);
		info->version[len] = '\0';
	}
	s = s ? inline_string(p, d->d_size, &i, &len) : NULL;
	if (!s)
		return;
	dep_version((const char *)s, len, "golang.org/x/net", info->xnet_version,
		    sizeof(info->xnet_version));
	dep_version((const char *)s, len, "google.golang.org/grpc", info->grpc_version,
		    sizeof(info->grpc_version));
}

static const char *scn_name(Elf *e, Elf_Scn *scn, GElf_Shdr *sh)
{
	size_t shstrndx;

	if (!gelf_getshdr(scn, sh) || elf_getshdrstrndx(e, &shstrndx))
		return NULL;
	return elf_strptr(e, shstrndx, sh->sh_name);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

struct go_elf *go_elf_open(const char *path, int *err)
{
	struct go_elf *g;
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		*err = -EINVAL;
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		*err = -ENOMEM;
		return NULL;
	}
	g->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (g->fd < 0) {
		*err = -errno;
		free(g);
		return NULL;
	}
	g->e = elf_begin(g->fd, ELF_C_READ, NULL);
	if (!g->e || elf_kind(g->e) != ELF_K_ELF || elf_getshdrstrndx(g->e, &shstrndx)) {
		*err = -ENOEXEC;
		go_elf_close(g);
		return NULL;
	}
	while ((scn = elf_nextscn(g->e, scn))) {
		GElf_Shdr sh;
		const char *name = scn_name(g->e, scn, &sh);

		if (!name)
			continue;
		if (strcmp(name, ".go.buildinfo") == 0) {
			g->info.is_go = true;
			read_version(scn, &g->info);
		} else if (sh.sh_type == SHT_PROGBITS && ends_with(name, ".gopclntab")) {
			/* ".data.rel.ro.gopclntab": Go 1.18-1.19 PIE */
			g->info.is_go = true;
			g->pclntab_scn = scn;
		} else if (sh.sh_type == SHT_SYMTAB) {
			g->symtab = scn;
		}
	}
	g->info.has_symbols = g->symtab != NULL;
	return g;
}

void go_elf_close(struct go_elf *g)
{
	if (!g)
		return;
	go_pclntab_close(&g->pcln);
	if (g->e)
		elf_end(g->e);
	if (g->fd >= 0)
		close(g->fd);
	free(g);
}

const struct go_binary *go_elf_info(const struct go_elf *g)
{
	return &g->info;
}

const char *go_elf_why(const struct go_elf *g)
{
	return g->why;
}

/* The symbol of that name in .symtab (functions only when func_only). */
static bool sym_find(struct go_elf *g, const char *name, bool func_only, GElf_Sym *out)
{
	Elf_Data *d;
	GElf_Shdr sh;
	size_t n;

	if (!g->symtab || !gelf_getshdr(g->symtab, &sh) || !sh.sh_entsize)
		return false;
	d = elf_getdata(g->symtab, NULL);
	if (!d)
		return false;
	n = sh.sh_size / sh.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;
		const char *s;

		if (!gelf_getsym(d, (int)i, &sym))
			continue;
		if (func_only && GELF_ST_TYPE(sym.st_info) != STT_FUNC)
			continue;
		s = elf_strptr(g->e, sh.sh_link, sym.st_name);
		if (s && strcmp(s, name) == 0) {
			*out = sym;
			return true;
		}
	}
	return false;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));	/* x86-64 only (Makefile): little-endian */
	return v;
}

/*
 * runtime.text of a stripped Go 1.20+ binary, which the pclntab header no
 * longer holds: from the runtime's moduledata (runtime/symtab.go), whose
 * words are pcHeader, funcnametab{ptr,len,cap}, cutab{3}, filetab{3},
 * pctab{3}, pclntable{3}, ftab{3}, findfunctab, minpc, maxpc, text, etext
 * in every release since 1.16. It is found by its first two words (the
 * table's address and its funcnametab's) and believed only when minpc and
 * maxpc agree with the table. The file holds the link-time values also in
 * PIE binaries (the dynamic relocations' addends are written in place by
 * Go's linker and by GNU ld). The .text section's address is no substitute:
 * with external linking (cgo) the C start-up code comes first.
 */
static bool text_from_moduledata(struct go_elf *g, uint64_t *text)
{
	uint64_t want0 = g->pcln_vaddr, want1 = g->pcln_vaddr + g->pcln.funcname_off;
	uint64_t min_off = 0, max_off = go_pclntab_end_off(&g->pcln);
	Elf_Scn *scn = NULL;
	struct go_func f0;

	if (g->pcln.ptr_size != 8 || go_pclntab_func(&g->pcln, 0, &f0))
		return false;
	min_off = f0.entry_off;
	while ((scn = elf_nextscn(g->e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		const uint8_t *p;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    (sh.sh_flags & (SHF_ALLOC | SHF_WRITE)) != (SHF_ALLOC | SHF_WRITE))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || d->d_size < 24 * 8)
			continue;
		p = d->d_buf;
		for (size_t i = (8 - sh.sh_addr % 8) % 8; i + 24 * 8 <= d->d_size; i += 8) {
			uint64_t t;

			if (rd64(p + i) != want0 || rd64(p + i + 8) != want1)
				continue;
			t = rd64(p + i + 22 * 8);
			if (rd64(p + i + 20 * 8) == t + min_off &&
			    rd64(p + i + 21 * 8) == t + max_off) {
				*text = t;
				return true;
			}
		}
	}
	return false;
}

/* Finds and opens .gopclntab once: by section name, else by its magic in
 * the sections Go 1.18+ put it in (an external link merges
 * .data.rel.ro.gopclntab into .data.rel.ro). */
static int pclntab_load(struct go_elf *g)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	Elf_Data *d;
	uint64_t text;

	if (g->pcln_state)
		return g->pcln_state > 0 ? 0 : -ENOEXEC;
	g->pcln_state = -1;
	if (g->pclntab_scn && gelf_getshdr(g->pclntab_scn, &sh) &&
	    (d = elf_getdata(g->pclntab_scn, NULL)) && d->d_buf &&
	    go_pclntab_open(&g->pcln, d->d_buf, d->d_size) == 0) {
		g->pcln_vaddr = sh.sh_addr;
	} else {
		long off = -1;

		while (off < 0 && (scn = elf_nextscn(g->e, scn))) {
			const char *name = scn_name(g->e, scn, &sh);

			if (!name || sh.sh_type != SHT_PROGBITS ||
			    (strcmp(name, ".data.rel.ro") && strcmp(name, ".rodata") &&
			     strcmp(name, ".gopclntab")))
				continue;
			d = elf_getdata(scn, NULL);
			if (d && d->d_buf)
				off = go_pclntab_scan(&g->pcln, d->d_buf, d->d_size);
		}
		if (off < 0) {
			snprintf(g->why, sizeof(g->why), "no readable .gopclntab");
			return -ENOEXEC;
		}
		g->pcln_vaddr = sh.sh_addr + (uint64_t)off;
	}
	if (g->pcln.version != GO_PCLN_116) {
		GElf_Sym sym;

		/* runtime.text: the symbol, else moduledata, else (1.18-1.19)
		 * the header's textStart */
		if (sym_find(g, "runtime.text", false, &sym))
			g->pcln.text = sym.st_value;
		else if (text_from_moduledata(g, &text))
			g->pcln.text = text;
		else if (!g->pcln.text) {
			snprintf(g->why, sizeof(g->why),
				 "runtime.text not found (no symbol, no moduledata)");
			go_pclntab_close(&g->pcln);
			return -ENOEXEC;
		}
	}
	g->pcln_state = 1;
	return 0;
}

int go_func_find(struct go_elf *g, const char *name, uint64_t *entry, uint64_t *end)
{
	struct go_func f;
	GElf_Sym sym;
	int err;

	/* (a size that wraps around is no symbol a linker wrote) */
	if (sym_find(g, name, true, &sym) && sym.st_size <= UINT64_MAX - sym.st_value) {
		*entry = sym.st_value;
		*end = sym.st_value + sym.st_size;
		return 0;
	}
	err = pclntab_load(g);
	if (err)
		return g->symtab ? -ENOENT : err;
	/* A walk over the names costs about what sorting them does once per
	 * name: the few probes goinspect places walk, a caller asking for
	 * more gets the sorted index (lookups then cost a binary search). */
	if (++g->pcln_lookups == INDEX_AFTER)
		go_pclntab_index(&g->pcln);	/* no memory: walks go on */
	err = go_pclntab_find(&g->pcln, name, &f);
	if (err)
		return err == -ENOTUNIQ ? err : -ENOENT;
	*entry = f.entry;
	*end = f.end;
	return 0;
}

/* pread of the bytes of an allocated section at vaddr: reads a few bytes
 * instead of having libelf load all of .text. */
int go_code_read(struct go_elf *g, uint64_t vaddr, uint8_t *buf, size_t n,
		 uint64_t *file_off)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(g->e, scn))) {
		uint64_t off;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_ALLOC))
			continue;
		if (vaddr < sh.sh_addr || vaddr - sh.sh_addr > sh.sh_size ||
		    n > sh.sh_size - (vaddr - sh.sh_addr))
			continue;
		off = vaddr - sh.sh_addr + sh.sh_offset;
		if (off < sh.sh_offset || off > (uint64_t)INT64_MAX ||
		    pread(g->fd, buf, n, (off_t)off) != (ssize_t)n)
			return -EIO;
		*file_off = off;
		return 0;
	}
	return -ENOENT;
}

/* Why a probe can't be placed, for the one-line message; NULL: it can. */
static const char *probe_at(struct go_elf *g, const char *name, uint64_t *off)
{
	uint64_t entry, end, foff;
	uint8_t code[32];
	size_t n = sizeof(code);
	int b;

	*off = 0;
	if (go_func_find(g, name, &entry, &end))
		return "not found";
	if (end > entry && end - entry < n)
		n = end - entry;
	if (go_code_read(g, entry, code, n, &foff))
		return "code not readable";
	b = go_find_stack_check_branch(code, (int)n);
	if (b < 0)
		return "no stack-check branch";
	*off = foff + b;
	return NULL;
}

uint64_t go_probe_offset(struct go_elf *g, const char *name)
{
	uint64_t off;

	probe_at(g, name, &off);
	return off;
}

/* "/proc/PID/exe" names nothing a reader knows: say what it points to. */
static void say_missing(const char *path, const struct go_elf *g, const char *func,
			const char *why)
{
	char real[256];
	ssize_t n = readlink(path, real, sizeof(real) - 1);

	if (n > 0)
		real[n] = '\0';
	else
		snprintf(real, sizeof(real), "%s", path);
	fprintf(stderr, "weft: Go binary %s (%s, %s): %s %s%s%s: no in-process links for it\n",
		real, g->info.version[0] ? g->info.version : "unknown version",
		g->info.has_symbols ? "symbols" : "stripped, .gopclntab",
		func, why, g->why[0] ? ": " : "", g->why);
}

int go_inspect(const char *path, struct go_binary *out)
{
	static const char *const names[] = {
		SYM_ROUNDTRIP, SYM_REQ_WRITE, SYM_NEWPROC1, SYM_STARTCALL,
	};
	uint64_t *offs[] = {
		&out->roundtrip_off, &out->request_write_off,
		&out->newproc1_off, &out->gostartcallfn_off,
	};
	struct go_elf *g;
	int err = 0;

	memset(out, 0, sizeof(*out));
	g = go_elf_open(path, &err);
	if (!g)
		return err;
	*out = g->info;
	for (size_t i = 0; out->is_go && i < sizeof(names) / sizeof(names[0]); i++) {
		const char *why = probe_at(g, names[i], offs[i]);

		if (why) {
			/* the first one is enough: linking needs them all */
			say_missing(path, g, names[i], why);
			break;
		}
	}
	go_elf_close(g);
	return 0;
}
