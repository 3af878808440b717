// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * x86-64 instruction-length decoder (x86len.h): table-driven, one opcode
 * map at a time, refusing what it does not know. Written from the Intel
 * SDM's opcode maps (volume 2, appendix A) and checked instruction by
 * instruction against objdump on Go binaries (tests/unit/test_x86len.c).
 */
#include <stdlib.h>
#include <string.h>
#include "x86len.h"

/*
 * One character per opcode, 16 per row:
 *   M  ModRM, no immediate          b  ModRM + imm8       z  ModRM + imm16/32
 *   .  no operand bytes             1  imm8               2  imm16
 *   4  imm16/32 (66 picks 16)       v  imm16/32/64 (REX.W picks 64)
 *   e  imm16 + imm8 (ENTER)         o  moffs (8 bytes, 4 with 67)
 *   r  rel8                         R  rel32 (refused with 66)
 *   F  F6 group 3 (imm8 if reg<2)   G  F7 group 3 (imm16/32 if reg<2)
 *   x  invalid in 64-bit mode, or handled before the table (prefixes,
 *      REX, VEX, EVEX, escapes), or not decoded here (3DNow!)
 */
static const char map1[256 + 1] =
	"MMMM14xxMMMM14xx"	/* 00 (0F escape handled before) */
	"MMMM14xxMMMM14xx"	/* 10 */
	"MMMM14xxMMMM14xx"	/* 20 */
	"MMMM14xxMMMM14xx"	/* 30 */
	"xxxxxxxxxxxxxxxx"	/* 40 REX */
	"................"	/* 50 push/pop */
	"xxxMxxxx4z1b...."	/* 60 */
	"rrrrrrrrrrrrrrrr"	/* 70 Jcc rel8 */
	"bzxbMMMMMMMMMMMM"	/* 80 */
	"..........x....."	/* 90 */
	"oooo....14......"	/* A0 */
	"11111111vvvvvvvv"	/* B0 */
	"bb2.xxbze.2..1x."	/* C0 */
	"MMMMxxx.MMMMMMMM"	/* D0 (D8-DF x87) */
	"rrrr1111RRxr...."	/* E0 */
	"x.xx..FG......MM";	/* F0 */

static const char map0f[256 + 1] =
	"MMMMx.....x.xM.x"	/* 00 (0F 0F 3DNow! refused) */
	"MMMMMMMMMMMMMMMM"	/* 10 (18-1F hints, NOPL, ENDBR) */
	"MMMMxxxxMMMMMMMM"	/* 20 */
	"......x.xxxxxxxx"	/* 30 (38, 3A escapes handled before) */
	"MMMMMMMMMMMMMMMM"	/* 40 CMOVcc */
	"MMMMMMMMMMMMMMMM"	/* 50 */
	"MMMMMMMMMMMMMMMM"	/* 60 */
	"bbbbMMM.MMxxMMMM"	/* 70 */
	"RRRRRRRRRRRRRRRR"	/* 80 Jcc rel32 */
	"MMMMMMMMMMMMMMMM"	/* 90 SETcc */
	"...MbMxx...MbMMM"	/* A0 */
	"MMMMMMMMMMbMMMMM"	/* B0 */
	"MMbMbbbM........"	/* C0 (C8-CF BSWAP) */
	"MMMMMMMMMMMMMMMM"	/* D0 */
	"MMMMMMMMMMMMMMMM"	/* E0 */
	"MMMMMMMMMMMMMMMM";	/* F0 */

enum opmap { MAP_1, MAP_0F, MAP_0F38, MAP_0F3A };

/* What the walkers need to know about one decoded instruction. */
struct insn {
	int len;
	enum opmap map;
	uint8_t op;		/* opcode byte within its map */
	bool vex;		/* VEX or EVEX encoded */
	bool has_modrm;
	uint8_t modrm;
	uint8_t rex;		/* 0 when none */
	uint8_t first_prefix;	/* first legacy prefix byte, 0 when none */
	bool p66, rep, repne;	/* 66, F3, F2 prefixes present */
	bool lock;		/* F0 */
	int npfx;		/* legacy prefix bytes */
	int imm_len;
	int64_t imm;		/* the immediate (sign-extended), for rel targets */
};

static bool is_legacy_prefix(uint8_t b)
{
	switch (b) {
	case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
	case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
		return true;
	}
	return false;
}

/* Bytes of ModRM + SIB + displacement starting at p[i], or -1. */
static int modrm_len(const uint8_t *p, size_t n, size_t i)
{
	uint8_t m, mod, rm;
	int len = 1;

	if (i >= n)
		return -1;
	m = p[i];
	mod = m >> 6;
	rm = m & 7;
	if (mod == 3)
		return 1;
	if (rm == 4) {
		if (i + 1 >= n)
			return -1;
		len++;
		if (mod == 0 && (p[i + 1] & 7) == 5)
			len += 4;
	} else if (mod == 0 && rm == 5) {
		len += 4;	/* RIP-relative disp32 */
	}
	if (mod == 1)
		len += 1;
	else if (mod == 2)
		len += 4;
	return len;
}

static int64_t read_imm(const uint8_t *p, int len)
{
	switch (len) {
	case 1:
		return (int8_t)p[0];
	case 2:
		return (int16_t)(p[0] | p[1] << 8);
	case 4:
		return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
				 (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
	}
	return 0;	/* imm64 and ENTER's pair are never branch offsets */
}

/* Immediate bytes of a VEX/EVEX instruction in map, opcode op. */
static int vex_imm_len(enum opmap map, uint8_t op)
{
	if (map == MAP_0F3A)
		return 1;
	if (map == MAP_0F && ((op >= 0x70 && op <= 0x73) || op == 0xc2 ||
			      (op >= 0xc4 && op <= 0xc6)))
		return 1;
	return 0;
}

/* VEX (C4/C5) or EVEX (62) at p[i]; fills in and returns the length. */
static int decode_vex(const uint8_t *p, size_t n, size_t i, struct insn *in)
{
	uint8_t b0 = p[i];
	size_t hdr;
	int mmm, m;

	/* 66/F2/F3/F0/REX before VEX or EVEX is #UD: not code. */
	if (in->rex || in->p66 || in->rep)
		return -1;
	if (in->repne || in->lock)
		return -1;
	if (b0 == 0xc5) {
		hdr = 2;
		mmm = 1;
	} else if (b0 == 0xc4) {
		if (i + 1 >= n)
			return -1;
		hdr = 3;
		mmm = p[i + 1] & 0x1f;
	} else {	/* 0x62 EVEX */
		if (i + 3 >= n)
			return -1;
		hdr = 4;
		mmm = p[i + 1] & 0x07;
		if ((p[i + 1] & 0x08) || !(p[i + 2] & 0x04))
			return -1;	/* reserved bits: not EVEX we know */
	}
	if (mmm < 1 || mmm > 3)
		return -1;	/* XOP-like or AVX512-FP16 maps: not decoded */
	in->map = mmm == 1 ? MAP_0F : mmm == 2 ? MAP_0F38 : MAP_0F3A;
	in->vex = true;
	if (i + hdr >= n)
		return -1;
	in->op = p[i + hdr];
	i += hdr + 1;
	/* VZEROUPPER/VZEROALL (VEX 0F 77) are the only ones without ModRM. */
	if (!(b0 != 0x62 && in->map == MAP_0F && in->op == 0x77)) {
		m = modrm_len(p, n, i);
		if (m < 0)
			return -1;
		in->has_modrm = true;
		in->modrm = p[i];
		i += m;
	}
	in->imm_len = vex_imm_len(in->map, in->op);
	if (i + in->imm_len > n)
		return -1;
	return (int)(i + in->imm_len);
}

static int decode(const uint8_t *p, size_t n, struct insn *in)
{
	size_t i = 0;
	char kind;
	int m, imm = 0;
	bool rex_w, p67 = false;

	memset(in, 0, sizeof(*in));
	while (i < n && is_legacy_prefix(p[i])) {
		if (!in->npfx)
			in->first_prefix = p[i];
		in->p66 |= p[i] == 0x66;
		in->rep |= p[i] == 0xf3;
		in->repne |= p[i] == 0xf2;
		in->lock |= p[i] == 0xf0;
		p67 |= p[i] == 0x67;
		in->npfx++;
		i++;
		if (i >= X86_MAX_INSN_LEN)
			return -1;
	}
	if (i < n && (p[i] & 0xf0) == 0x40)
		in->rex = p[i++];
	if (i >= n)
		return -1;
	/* A REX not right before the opcode is ignored by the CPU and shown
	 * apart by disassemblers; Go never emits one: refuse. */
	if (in->rex && ((p[i] & 0xf0) == 0x40 || is_legacy_prefix(p[i])))
		return -1;
	rex_w = in->rex & 0x08;

	if (p[i] == 0xc4 || p[i] == 0xc5 || p[i] == 0x62) {
		int len = decode_vex(p, n, i, in);

		if (len < 0 || len > X86_MAX_INSN_LEN)
			return -1;
		in->len = len;
		return len;
	}

	if (p[i] == 0x0f) {
		if (++i >= n)
			return -1;
		if (p[i] == 0x38 || p[i] == 0x3a) {
			in->map = p[i] == 0x38 ? MAP_0F38 : MAP_0F3A;
			if (++i >= n)
				return -1;
			in->op = p[i++];
			kind = in->map == MAP_0F38 ? 'M' : 'b';
		} else {
			in->map = MAP_0F;
			in->op = p[i++];
			kind = map0f[in->op];
			/* EXTRQ/INSERTQ (AMD SSE4a) carry two imm8s. */
			if ((in->op == 0x78 || in->op == 0x79) &&
			    (in->p66 || in->repne))
				return -1;
		}
	} else {
		in->map = MAP_1;
		in->op = p[i++];
		kind = map1[in->op];
		/* 8F /1-7 is AMD XOP, not POP r/m. */
		if (in->op == 0x8f && (i >= n || (p[i] & 0x38)))
			return -1;
	}

	switch (kind) {
	case 'M': case 'b': case 'z': case 'F': case 'G':
		m = modrm_len(p, n, i);
		if (m < 0)
			return -1;
		in->has_modrm = true;
		in->modrm = p[i];
		i += m;
		break;
	case 'x':
		return -1;
	}

	switch (kind) {
	case 'b': case '1': case 'r':
		imm = 1;
		break;
	case '2':
		imm = 2;
		break;
	case 'z': case '4':
		imm = in->p66 && !rex_w ? 2 : 4;
		break;
	case 'R':
		if (in->p66)
			return -1;	/* 16-bit branches: CPUs disagree */
		imm = 4;
		break;
	case 'v':
		imm = rex_w ? 8 : in->p66 ? 2 : 4;
		break;
	case 'e':
		imm = 3;
		break;
	case 'o':
		imm = p67 ? 4 : 8;
		break;
	case 'F':
		imm = (in->modrm & 0x38) < 0x10 ? 1 : 0;
		break;
	case 'G':
		imm = (in->modrm & 0x38) < 0x10 ? (in->p66 && !rex_w ? 2 : 4) : 0;
		break;
	}
	if (i + imm > n || i + imm > X86_MAX_INSN_LEN)
		return -1;
	in->imm_len = imm;
	in->imm = read_imm(p + i, imm);
	in->len = (int)(i + imm);
	return in->len;
}

int x86_insn_len(const uint8_t *p, size_t n)
{
	struct insn in;

	if (!p || !n)
		return -1;
	return decode(p, n, &in);
}

static bool insn_is_ret(const struct insn *in)
{
	return in->map == MAP_1 && !in->vex && (in->op == 0xc3 || in->op == 0xc2);
}

/* A true no-op to the CPU: 90 (with any prefixes but REX.B, which makes
 * it XCHG r8, rax; F3 90 is PAUSE, which writes no register either) or
 * 0F 1F /0 (NOPL/NOPW). */
static bool insn_is_nop(const struct insn *in)
{
	if (in->vex)
		return false;
	if (in->map == MAP_1 && in->op == 0x90)
		return !(in->rex & 0x01);
	return in->map == MAP_0F && in->op == 0x1f && ((in->modrm >> 3) & 7) == 0;
}

/* The kernel's x86_nops[len] for x86-64 (arch/x86/include/asm/nops.h
 * BYTES_NOP1..8, ASM_NOP_MAX 8): the NOPs branch_setup_xol_ops() emulates
 * by a memcmp against this table. */
static const uint8_t kernel_nops[9][8] = {
	[1] = { 0x90 },
	[2] = { 0x66, 0x90 },
	[3] = { 0x0f, 0x1f, 0x00 },
	[4] = { 0x0f, 0x1f, 0x40, 0x00 },
	[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	[6] = { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	[7] = { 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 },
	[8] = { 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
};

static bool insn_is_rel_branch(const struct insn *in)
{
	if (in->vex)
		return false;
	if (in->map == MAP_1)
		return in->op == 0xeb || in->op == 0xe9 || in->op == 0xe8 ||
		       (in->op >= 0x70 && in->op <= 0x7f);
	return in->map == MAP_0F && in->op >= 0x80 && in->op <= 0x8f;
}

/* Linux 6.18's rules (x86len.h): p[0..in->len) is the instruction. */
static bool emulated(const uint8_t *p, const struct insn *in)
{
	if (in->len <= 8 && memcmp(p, kernel_nops[in->len], (size_t)in->len) == 0)
		return true;
	if (!in->vex && in->map == MAP_1 && in->op == 0x90)
		return true;	/* "case 0x90: prefix* + nop" */
	/* a 5-byte 0F 1F /0 is optimized into a call to the uprobe
	 * trampoline after its first hit: no trap either */
	if (in->len == 5 && insn_is_nop(in) && in->map == MAP_0F)
		return true;
	if (insn_is_rel_branch(in))
		return !in->p66;
	/* push reg: one byte, or two with REX 0x41 exactly */
	if (!in->vex && in->map == MAP_1 && in->op >= 0x50 && in->op <= 0x57)
		return in->len == 1 || (in->len == 2 && in->rex == 0x41);
	return false;
}

bool x86_insn_emulated(const uint8_t *p, int len)
{
	struct insn in;

	if (!p || len <= 0 || decode(p, (size_t)len, &in) != len)
		return false;
	return emulated(p, &in);
}

/* Jumps within the function: their targets are where other paths enter
 * (LOOP/JRCXZ too, which the kernel does not emulate). */
static bool insn_is_jump(const struct insn *in)
{
	if (!in->vex && in->map == MAP_1 && in->op >= 0xe0 && in->op <= 0xe3)
		return true;
	return insn_is_rel_branch(in) && !(in->map == MAP_1 && in->op == 0xe8);
}

/* JMP r/m or JMP far: targets unknown (Go's jump tables). */
static bool insn_is_indirect_jump(const struct insn *in)
{
	return !in->vex && in->map == MAP_1 && in->op == 0xff &&
	       ((in->modrm >> 3) & 7) >= 4 && ((in->modrm >> 3) & 7) <= 5;
}

/* Does execution always go on to the next instruction? */
static bool falls_through(const struct insn *in)
{
	if (in->vex || in->map != MAP_1)
		return !(in->map == MAP_0F && in->op >= 0x80 && in->op <= 0x8f) &&
		       !(in->map == MAP_0F && in->op == 0x0b);	/* UD2 */
	switch (in->op) {
	case 0xc2: case 0xc3: case 0xca: case 0xcb: case 0xcc: case 0xcf:
	case 0xe9: case 0xeb: case 0xf4:
		return false;
	case 0xff:
		return !insn_is_indirect_jump(in);
	}
	return !(in->op >= 0x70 && in->op <= 0x7f) &&
	       !(in->op >= 0xe0 && in->op <= 0xe3);
}

/*
 * Is in known to leave every register in mask alone (RSP and memory may
 * change) and to fall through? Only what Go's epilogues hold is known:
 * ADD/SUB imm to RSP, POP, MOV/LEA into a register, MOV register to
 * memory, NOP. Everything else counts as a write.
 */
static bool leaves_regs(const struct insn *in, uint32_t mask)
{
	uint8_t reg, rm, mod;

	if (insn_is_nop(in))
		return true;
	if (in->vex || in->map != MAP_1)
		return false;
	reg = ((in->modrm >> 3) & 7) | (in->rex & 0x04 ? 8 : 0);
	rm = (in->modrm & 7) | (in->rex & 0x01 ? 8 : 0);
	mod = in->modrm >> 6;
	switch (in->op) {
	case 0x58: case 0x59: case 0x5a: case 0x5b:
	case 0x5c: case 0x5d: case 0x5e: case 0x5f:	/* pop reg */
		return !(mask & X86_REG_BIT((in->op & 7) | (in->rex & 0x01 ? 8 : 0)));
	case 0x81: case 0x83:	/* add/sub $imm, %rsp */
		return mod == 3 && rm == X86_RSP &&
		       (((in->modrm >> 3) & 7) == 0 || ((in->modrm >> 3) & 7) == 5);
	case 0x88: case 0x89:	/* mov reg, r/m */
		return mod != 3 || !(mask & X86_REG_BIT(rm));
	case 0x8a: case 0x8b: case 0x8d:	/* mov r/m, reg; lea */
		return !(mask & X86_REG_BIT(reg));
	case 0x50: case 0x51: case 0x52: case 0x53:
	case 0x54: case 0x55: case 0x56: case 0x57:	/* push reg */
		return true;
	}
	return false;
}

#define BIT_SET(bm, i)	((bm)[(i) >> 3] |= (uint8_t)(1u << ((i) & 7)))
#define BIT_GET(bm, i)	(((bm)[(i) >> 3] >> ((i) & 7)) & 1)

int x86_ret_sites_ex(const uint8_t *code, size_t n, uint32_t live_mask,
		     struct x86_ret_site *sites, int max)
{
	struct insn *insns = NULL;
	uint32_t *offs = NULL;
	uint8_t *targets = NULL;
	bool indirect = false;
	size_t off = 0, count = 0;
	int found = -1;

	if (!code || n > UINT32_MAX)
		return -1;
	insns = malloc((n ? n : 1) * sizeof(*insns));
	offs = malloc((n ? n : 1) * sizeof(*offs));
	targets = calloc(n / 8 + 1, 1);
	if (!insns || !offs || !targets)
		goto out;

	while (off < n) {
		struct insn *in = &insns[count];

		if (decode(code + off, n - off, in) < 0)
			goto out;
		offs[count++] = (uint32_t)off;
		if (insn_is_jump(in)) {
			int64_t t = (int64_t)off + in->len + in->imm;

			if (t >= 0 && (uint64_t)t < n)
				BIT_SET(targets, (size_t)t);
		}
		indirect |= insn_is_indirect_jump(in);
		off += (size_t)in->len;
	}

	found = 0;
	for (size_t k = 0; k < count; k++) {
		int32_t emu = -1;

		if (!insn_is_ret(&insns[k]))
			continue;
		/* Back from the RET through straight-line code that leaves
		 * the live registers alone, stopping where another path
		 * joins. A RET itself is never emulated. */
		for (size_t i = k; i-- > 0 && !indirect;) {
			if (BIT_GET(targets, offs[i + 1]))
				break;
			if (!falls_through(&insns[i]) ||
			    !leaves_regs(&insns[i], live_mask))
				break;
			if (emulated(code + offs[i], &insns[i])) {
				emu = (int32_t)offs[i];
				break;
			}
		}
		if (found < max && sites) {
			sites[found].ret_off = offs[k];
			sites[found].emulated_off = emu;
		}
		found++;
	}
out:
	free(insns);
	free(offs);
	free(targets);
	return found;
}

int x86_ret_sites(const uint8_t *code, size_t n, uint32_t *offs, int max)
{
	struct insn in;
	size_t off = 0;
	int found = 0;

	if (!code)
		return -1;
	while (off < n) {
		if (decode(code + off, n - off, &in) < 0)
			return -1;
		if (insn_is_ret(&in)) {
			if (found < max && offs)
				offs[found] = (uint32_t)off;
			found++;
		}
		off += (size_t)in.len;
	}
	return found;
}
