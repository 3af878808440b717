// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for user/x86len.c. The main test decodes every function of
 * the Go test apps (build/apps/go1.19/goserver and go1.26/goserver, built
 * by tests/apps/build.sh) and compares each instruction boundary and each
 * RET with objdump's disassembly of the same binary (binutils; objdump -d
 * --no-show-raw-insn). It fails, saying so, when a binary or objdump is
 * missing. Smaller tests pin down the kernel-emulation classification and
 * the return-site search on hand-written code.
 */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test.h"
#include "x86len.h"

static const char *const go_apps[] = {
	"build/apps/go1.19/goserver",
	"build/apps/go1.26/goserver",
};

struct func {
	uint64_t addr, size;
	char name[128];
};

struct text {
	uint64_t addr;		/* .text start address */
	size_t size;
	uint8_t *bytes;		/* copy of .text */
	uint8_t *objdump_at;	/* bitmap: objdump starts an instruction here */
	uint8_t *objdump_ret;	/* bitmap: ... and it is a ret */
	uint8_t *objdump_bad;	/* bitmap: objdump says "(bad)" here */
	struct func *funcs;
	size_t nfuncs;
};

#define BSET(bm, i)	((bm)[(i) >> 3] |= (uint8_t)(1u << ((i) & 7)))
#define BGET(bm, i)	(((bm)[(i) >> 3] >> ((i) & 7)) & 1)

static void text_free(struct text *t)
{
	free(t->bytes);
	free(t->objdump_at);
	free(t->objdump_ret);
	free(t->objdump_bad);
	free(t->funcs);
	memset(t, 0, sizeof(*t));
}

/* .text bytes and the FUNC symbols inside it, with libelf. */
static bool read_elf(const char *path, struct text *t)
{
	Elf *e = NULL;
	Elf_Scn *scn = NULL, *text_scn = NULL, *sym_scn = NULL;
	GElf_Shdr sh, text_sh = { 0 }, sym_sh = { 0 };
	size_t shstrndx, cap = 0;
	bool ok = false;
	int fd;

	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_getshdrstrndx(e, &shstrndx))
		goto out;
	while ((scn = elf_nextscn(e, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			goto out;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (name && strcmp(name, ".text") == 0) {
			text_scn = scn;
			text_sh = sh;
		} else if (sh.sh_type == SHT_SYMTAB) {
			sym_scn = scn;
			sym_sh = sh;
		}
	}
	if (!text_scn || !sym_scn)
		goto out;
	{
		Elf_Data *d = elf_getdata(text_scn, NULL);

		if (!d || d->d_size != text_sh.sh_size)
			goto out;
		t->addr = text_sh.sh_addr;
		t->size = d->d_size;
		t->bytes = malloc(t->size);
		if (!t->bytes)
			goto out;
		memcpy(t->bytes, d->d_buf, t->size);
	}
	{
		Elf_Data *d = elf_getdata(sym_scn, NULL);
		size_t nsyms = sym_sh.sh_entsize ? sym_sh.sh_size / sym_sh.sh_entsize : 0;

		for (size_t i = 0; d && i < nsyms; i++) {
			GElf_Sym s;
			const char *name;

			if (!gelf_getsym(d, (int)i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC ||
			    !s.st_size || s.st_value < t->addr ||
			    s.st_value + s.st_size > t->addr + t->size)
				continue;
			if (t->nfuncs == cap) {
				struct func *nf;

				cap = cap ? cap * 2 : 1024;
				nf = realloc(t->funcs, cap * sizeof(*nf));
				if (!nf)
					goto out;
				t->funcs = nf;
			}
			name = elf_strptr(e, sym_sh.sh_link, s.st_name);
			t->funcs[t->nfuncs].addr = s.st_value;
			t->funcs[t->nfuncs].size = s.st_size;
			snprintf(t->funcs[t->nfuncs].name, sizeof(t->funcs[0].name), "%s",
				 name ? name : "?");
			t->nfuncs++;
		}
	}
	ok = t->nfuncs > 0;
out:
	if (e)
		elf_end(e);
	close(fd);
	return ok;
}

/* objdump's instruction starts and rets in .text, as bitmaps. Returns the
 * number of instruction lines, or -1 when objdump could not be run. */
static long read_objdump(const char *path, struct text *t, long *bad)
{
	char cmd[512], line[512];
	long lines = 0;
	FILE *f;

	t->objdump_at = calloc(t->size / 8 + 1, 1);
	t->objdump_ret = calloc(t->size / 8 + 1, 1);
	t->objdump_bad = calloc(t->size / 8 + 1, 1);
	if (!t->objdump_at || !t->objdump_ret || !t->objdump_bad)
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "objdump -d --no-show-raw-insn -j .text '%s' 2>/dev/null", path);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	*bad = 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		unsigned long long a;

		/* "  401000:\tmov    %rax,%rbx" */
		while (*p == ' ')
			p++;
		a = strtoull(p, &end, 16);
		if (end == p || end[0] != ':' || end[1] != '\t')
			continue;
		if (a < t->addr || a >= t->addr + t->size)
			continue;
		BSET(t->objdump_at, a - t->addr);
		p = end + 2;
		if (strncmp(p, "ret", 3) == 0 && (p[3] == '\n' || p[3] == ' ' ||
						  p[3] == 'q' || p[3] == '\0'))
			BSET(t->objdump_ret, a - t->addr);
		if (strstr(p, "(bad)")) {
			BSET(t->objdump_bad, a - t->addr);
			(*bad)++;
		}
		lines++;
	}
	if (pclose(f) != 0)
		return -1;
	return lines;
}

static void hexdump(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %02x", p[i]);
	fprintf(stderr, "\n");
}

struct totals {
	long funcs, insns, refused_funcs, rets, rets_emulated, not_code;
};

/* Does objdump fail to decode something in [off, off + size)? Such a
 * function holds data (crypto/internal/boring/sig's marker bytes after a
 * jmp): neither disassembly means anything there. */
static bool objdump_bad_in(const struct text *t, size_t off, uint64_t size)
{
	for (uint64_t i = 0; i < size; i++)
		if (BGET(t->objdump_bad, off + i))
			return true;
	return false;
}

/* Decode every function of one binary, compare with objdump. */
static bool check_binary(const char *path, struct totals *tot)
{
	struct text t = { 0 };
	long lines, bad = 0, mismatches = 0;
	struct x86_ret_site sites[512];
	bool ok = false;

	if (access(path, R_OK) != 0) {
		fprintf(stderr, "  %s missing: run tests/apps/build.sh first\n", path);
		return false;
	}
	if (!read_elf(path, &t)) {
		fprintf(stderr, "  %s: no .text or no FUNC symbols\n", path);
		goto out;
	}
	lines = read_objdump(path, &t, &bad);
	if (lines <= 0) {
		fprintf(stderr, "  objdump failed on %s (binutils installed?)\n", path);
		goto out;
	}
	for (size_t fi = 0; fi < t.nfuncs; fi++) {
		const struct func *fn = &t.funcs[fi];
		size_t base = fn->addr - t.addr, off = 0;
		const uint8_t *code = t.bytes + base;
		int nret, nret_objdump = 0;
		bool refused = false;

		if (objdump_bad_in(&t, base, fn->size)) {
			printf("  %s: not compared: objdump cannot decode it either "
			       "(data in .text)\n", fn->name);
			tot->not_code++;
			continue;
		}
		tot->funcs++;
		while (off < fn->size) {
			int len = x86_insn_len(code + off, fn->size - off);

			if (len < 0) {
				/* Refused: fine for the decoder's contract; it
				 * must not disagree with objdump before that. */
				refused = true;
				fprintf(stderr, "  refused %s+%#zx:", fn->name, off);
				hexdump(code + off, fn->size - off < 16 ? fn->size - off : 16);
				break;
			}
			if (!BGET(t.objdump_at, base + off)) {
				if (mismatches++ < 10) {
					fprintf(stderr, "  %s: %s+%#zx (%#llx): objdump has no "
						"instruction here; decoded %d bytes:", path,
						fn->name, off, (unsigned long long)(fn->addr + off), len);
					hexdump(code + off, (size_t)len);
				}
			}
			/* truncated, the same bytes are refused: the decoder
			 * knows where the instruction ends before reading it */
			for (int k = 1; k < len; k++)
				if (x86_insn_len(code + off, (size_t)k) != -1 && mismatches++ < 10)
					fprintf(stderr, "  %s+%#zx: %d of %d bytes decoded\n",
						fn->name, off, k, len);
			/* objdump must have no boundary inside this one */
			for (int k = 1; k < len; k++)
				if (BGET(t.objdump_at, base + off + k) && mismatches++ < 10)
					fprintf(stderr, "  %s+%#zx: objdump starts an instruction "
						"%d bytes into ours (len %d)\n", fn->name, off, k, len);
			if (BGET(t.objdump_ret, base + off))
				nret_objdump++;
			tot->insns++;
			off += (size_t)len;
		}
		if (refused) {
			tot->refused_funcs++;
			continue;
		}
		if (off != fn->size && mismatches++ < 10)
			fprintf(stderr, "  %s: last instruction runs past the end\n", fn->name);
		nret = x86_ret_sites_ex(code, fn->size, X86_GO_RESULT_REGS, sites,
					(int)(sizeof(sites) / sizeof(sites[0])));
		if (nret != nret_objdump && mismatches++ < 10)
			fprintf(stderr, "  %s: %d rets, objdump has %d\n", fn->name, nret,
				nret_objdump);
		for (int i = 0; i < nret && i < (int)(sizeof(sites) / sizeof(sites[0])); i++) {
			if (!BGET(t.objdump_ret, base + sites[i].ret_off) && mismatches++ < 10)
				fprintf(stderr, "  %s+%#x: not a ret to objdump\n", fn->name,
					sites[i].ret_off);
			tot->rets++;
			if (sites[i].emulated_off >= 0)
				tot->rets_emulated++;
		}
		if (strcmp(fn->name, "crypto/tls.(*Conn).Read") == 0 ||
		    strcmp(fn->name, "crypto/tls.(*Conn).Write") == 0) {
			printf("  %s %s: %d return sites, emulated site before:", path,
			       fn->name, nret);
			for (int i = 0; i < nret && i < 512; i++)
				printf(" %s", sites[i].emulated_off >= 0 ? "yes" : "no");
			printf("\n");
		}
	}
	printf("  %s: %zu functions, objdump %ld instructions (%ld \"(bad)\")\n", path,
	       t.nfuncs, lines, bad);
	ok = mismatches == 0;
	if (mismatches)
		fprintf(stderr, "  %s: %ld disagreements with objdump\n", path, mismatches);
out:
	text_free(&t);
	return ok;
}

static bool test_go_binaries_match_objdump(void)
{
	struct totals tot = { 0 };
	bool ok = true;

	for (size_t i = 0; i < sizeof(go_apps) / sizeof(go_apps[0]); i++)
		ok &= check_binary(go_apps[i], &tot);
	/* More binaries by hand: WEFT_X86LEN_EXTRA=/path/a:/path/b */
	if (getenv("WEFT_X86LEN_EXTRA")) {
		char *list = strdup(getenv("WEFT_X86LEN_EXTRA")), *save = NULL;

		for (char *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save))
			ok &= check_binary(p, &tot);
		free(list);
	}
	printf("  compared %ld functions, %ld instructions; decoder refused %ld "
	       "functions; %ld not compared (objdump: \"(bad)\"); %ld return "
	       "sites, %ld with an emulated instruction after the results are "
	       "final\n", tot.funcs, tot.insns, tot.refused_funcs, tot.not_code,
	       tot.rets, tot.rets_emulated);
	CHECK(ok);
	CHECK(tot.funcs > 1000);
	/* Every function of Go 1.19's and 1.26's output is understood. */
	CHECK_INT(tot.refused_funcs, 0);
	return true;
}

static int len_of(const char *hex)
{
	uint8_t b[32];
	size_t n = 0;
	unsigned v;

	while (*hex && n < sizeof(b) && sscanf(hex, "%2x", &v) == 1) {
		b[n++] = (uint8_t)v;
		hex += 2;
		while (*hex == ' ')
			hex++;
	}
	return x86_insn_len(b, n);
}

static bool emu(const char *hex)
{
	uint8_t b[32];
	size_t n = 0;
	unsigned v;

	while (*hex && n < sizeof(b) && sscanf(hex, "%2x", &v) == 1) {
		b[n++] = (uint8_t)v;
		hex += 2;
		while (*hex == ' ')
			hex++;
	}
	return x86_insn_emulated(b, (int)n);
}

static bool test_lengths(void)
{
	CHECK_INT(len_of("c3"), 1);
	CHECK_INT(len_of("c2 08 00"), 3);
	CHECK_INT(len_of("48 83 c4 58"), 4);			/* add $0x58,%rsp */
	CHECK_INT(len_of("48 8b 6c 24 60"), 5);		/* mov 0x60(%rsp),%rbp */
	CHECK_INT(len_of("48 8b ac 24 80 00 00 00"), 8);
	CHECK_INT(len_of("49 3b 66 10"), 4);			/* cmp 0x10(%r14),%rsp */
	CHECK_INT(len_of("0f 86 00 01 00 00"), 6);		/* jbe rel32 */
	CHECK_INT(len_of("48 b8 01 02 03 04 05 06 07 08"), 10);	/* movabs */
	CHECK_INT(len_of("66 c7 04 24 01 00"), 6);		/* movw $1,(%rsp) */
	CHECK_INT(len_of("48 8d 05 00 00 00 00"), 7);		/* lea rip-rel */
	CHECK_INT(len_of("c5 fe 6f 06"), 4);			/* vmovdqu (%rsi),%ymm0 */
	CHECK_INT(len_of("c4 e3 7d 39 c1 01"), 6);		/* vextracti128 */
	CHECK_INT(len_of("62 f1 fe 48 6f 06"), 6);		/* vmovdqu64 (%rsi),%zmm0 */
	CHECK_INT(len_of("62 f1 fe 48 6f 46 01"), 7);		/* ... 0x40(%rsi), disp8*N */
	CHECK_INT(len_of("66 0f 3a 0f c1 08"), 6);		/* palignr */
	CHECK_INT(len_of("66 0f 38 00 c1"), 5);		/* pshufb */
	CHECK_INT(len_of("f7 c1 00 01 00 00"), 6);		/* test $0x100,%ecx */
	CHECK_INT(len_of("f7 d9"), 2);				/* neg %ecx */
	CHECK_INT(len_of("0f 01 d0"), 3);			/* xgetbv */
	CHECK_INT(len_of("f3 0f 1e fa"), 4);			/* endbr64 */
	CHECK_INT(len_of("a1 00 00 00 00 00 00 00 00"), 9);	/* movabs moffs */
	/* refused: unknown, invalid in 64-bit mode, or cut short */
	CHECK_INT(len_of("06"), -1);
	CHECK_INT(len_of("0f 0f c1 b4"), -1);			/* 3DNow! */
	CHECK_INT(len_of("66 e8 00 00"), -1);			/* call rel16 */
	CHECK_INT(len_of("48 8b"), -1);
	CHECK_INT(len_of("48 8b 84 24 00 00 00"), -1);
	CHECK_INT(len_of("48 66 89 c0"), -1);			/* REX before a prefix */
	CHECK_INT(len_of("66 c5 fe 6f 06"), -1);		/* 66 before VEX */
	CHECK_INT(x86_insn_len(NULL, 4), -1);
	{
		uint8_t pfx[20];

		memset(pfx, 0x66, sizeof(pfx));
		pfx[sizeof(pfx) - 1] = 0x90;
		CHECK_INT(x86_insn_len(pfx, sizeof(pfx)), -1);	/* over 15 */
	}
	return true;
}

static bool test_emulated(void)
{
	CHECK(emu("90"));
	CHECK(emu("f3 90"));					/* pause: "prefix* + nop" */
	CHECK(emu("66 90"));
	CHECK(emu("0f 1f 44 00 00"));
	CHECK(emu("eb 05"));
	CHECK(emu("e9 00 01 00 00"));
	CHECK(emu("e8 00 01 00 00"));
	CHECK(emu("76 10"));
	CHECK(emu("0f 86 00 01 00 00"));
	CHECK(emu("55"));
	CHECK(emu("41 55"));
	CHECK(!emu("48 55"));					/* REX other than 0x41 */
	CHECK(!emu("c3"));
	CHECK(!emu("c2 08 00"));
	CHECK(!emu("5d"));					/* pop */
	CHECK(!emu("48 83 c4 58"));
	CHECK(!emu("ff e0"));					/* jmp *%rax */
	CHECK(emu("41 90"));		/* xchg %eax,%r8d, emulated as a NOP */
	CHECK(emu("0f 1f 00"));
	CHECK(emu("0f 1f 40 00"));
	CHECK(!emu("0f 1f 04 00"));	/* a NOP, but not the kernel's 4-byte one */
	CHECK(emu("0f 1f 80 00 00 00 00"));
	CHECK(emu("0f 1f 84 00 00 00 00 00"));
	CHECK(!emu("66 0f 1f 84 00 00 00 00 00"));	/* 9 bytes: over ASM_NOP_MAX */
	CHECK(emu("0f 1f 44 00 08"));	/* 5-byte NOPL: optimized */
	CHECK(emu("3e 74 00"));		/* (refused at probe time: is_prefix_bad) */
	return true;
}

static int sites_of(const char *hex, struct x86_ret_site *s, int max)
{
	uint8_t b[128];
	size_t n = 0;
	unsigned v;

	while (*hex && n < sizeof(b) && sscanf(hex, "%2x", &v) == 1) {
		b[n++] = (uint8_t)v;
		hex += 2;
		while (*hex == ' ')
			hex++;
	}
	return x86_ret_sites_ex(b, n, X86_GO_RESULT_REGS, s, max);
}

static bool test_ret_sites(void)
{
	struct x86_ret_site s[4];
	uint32_t offs[4];
	const uint8_t two[] = { 0x31, 0xc0, 0xc3, 0x31, 0xdb, 0xc2, 0x08, 0x00 };

	CHECK_INT(x86_ret_sites(two, sizeof(two), offs, 4), 2);
	CHECK_INT(offs[0], 2);
	CHECK_INT(offs[1], 5);
	CHECK_INT(x86_ret_sites(two, sizeof(two), offs, 1), 2);	/* count beyond max */
	CHECK_INT(x86_ret_sites(two, sizeof(two) - 1, offs, 4), -1);	/* cut RET */

	/* Go 1.26's epilogue after the results: no emulated instruction */
	CHECK_INT(sites_of("48 8b 4c 24 38  48 83 c4 58  5d  c3", s, 4), 1);
	CHECK_INT(s[0].ret_off, 10);
	CHECK_INT(s[0].emulated_off, -1);
	/* a NOP after the results are set: the site */
	CHECK_INT(sites_of("48 8b 4c 24 38  90  48 83 c4 58  5d  c3", s, 4), 1);
	CHECK_INT(s[0].emulated_off, 5);
	/* a NOP before the last result is set: none */
	CHECK_INT(sites_of("90  48 8b 4c 24 38  48 83 c4 58  5d  c3", s, 4), 1);
	CHECK_INT(s[0].emulated_off, -1);
	/* PAUSE writes no register: a site; REX.B 90 (XCHG) writes RAX */
	CHECK_INT(sites_of("f3 90  5d  c3", s, 4), 1);
	CHECK_INT(s[0].emulated_off, 0);
	CHECK_INT(sites_of("41 90  5d  c3", s, 4), 1);
	CHECK_INT(s[0].emulated_off, -1);
	/* a NOP, then a write to a register that is not a result (RDX) */
	CHECK_INT(sites_of("90  48 8b 54 24 38  5d  c3", s, 4), 1);
	CHECK_INT(s[0].emulated_off, 0);
	/* another path joins after the NOP (jmp to the pop): none */
	CHECK_INT(sites_of("eb 06  31 c0  90  48 89 c2  5d  c3", s, 4), 1);
	CHECK_INT(s[0].emulated_off, -1);
	/* ... joins before the NOP: the NOP is on every path */
	CHECK_INT(sites_of("eb 02  31 c0  90  5d  c3", s, 4), 1);
	CHECK_INT(s[0].emulated_off, 4);
	/* an indirect jump anywhere: targets unknown, none */
	CHECK_INT(sites_of("ff e2  90  5d  c3", s, 4), 1);
	CHECK_INT(s[0].emulated_off, -1);
	/* a conditional branch right before: not on every path to the RET */
	CHECK_INT(sites_of("74 01  c3  c3", s, 4), 2);
	CHECK_INT(s[0].emulated_off, -1);
	CHECK_INT(sites_of("0f 0f", s, 4), -1);
	return true;
}

int main(void)
{
	RUN(test_lengths);
	RUN(test_emulated);
	RUN(test_ret_sites);
	RUN(test_go_binaries_match_objdump);
	return TEST_SUMMARY();
}
