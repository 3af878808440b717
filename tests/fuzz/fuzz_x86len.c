// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_x86len: the x86-64 instruction-length decoder and the return-site
 * walk (user/x86len.c), which read the machine code of any Go binary the
 * node runs. Input: bytes taken as code (seeds: functions of the Go test
 * apps and hand-written VEX/EVEX forms).
 *
 * Invariants beyond "no crash" (every call gets an exact-size heap copy,
 * so a read one byte past n is an ASan report):
 *  - x86_insn_len() is -1 or 1..min(15, n);
 *  - the length depends only on the instruction's own bytes: the same
 *    bytes cut to that length decode to the same length, and any shorter
 *    cut is refused;
 *  - x86_ret_sites() and x86_ret_sites_ex() agree (-1, or the same count
 *    and offsets); every offset is where the instruction walk from 0 lands
 *    and decodes to C3 or C2 after its prefixes; an emulated site lies
 *    before its RET, on an instruction boundary, and is one that
 *    x86_insn_emulated() accepts.
 */
#include "fuzz.h"
#include "x86len.h"

#define MAX_SITES 64

static int len_of_copy(const uint8_t *p, size_t n)
{
	uint8_t *b = fz_memdup(p, n);
	int len = x86_insn_len(b, n);

	free(b);
	return len;
}

static void check_one(const uint8_t *p, size_t n)
{
	int len = len_of_copy(p, n);

	FUZZ_ASSERT(len == -1 || (len >= 1 && len <= X86_MAX_INSN_LEN && (size_t)len <= n));
	if (len < 0)
		return;
	FUZZ_ASSERT(len_of_copy(p, (size_t)len) == len);
	for (int k = 0; k < len; k++)
		FUZZ_ASSERT(len_of_copy(p, (size_t)k) == -1);
	{
		uint8_t *b = fz_memdup(p, (size_t)len);

		(void)x86_insn_emulated(b, len);
		free(b);
	}
}

/* Is off an instruction boundary of the walk from 0 over code[0..n)? */
static bool on_boundary(const uint8_t *code, size_t n, size_t off)
{
	size_t at = 0;

	while (at < off) {
		int len = x86_insn_len(code + at, n - at);

		FUZZ_ASSERT(len > 0);	/* the walk as a whole succeeded */
		at += (size_t)len;
	}
	return at == off;
}

static void check_walk(const uint8_t *data, size_t size)
{
	uint8_t *code = fz_memdup(data, size);
	uint32_t offs[MAX_SITES];
	struct x86_ret_site sites[MAX_SITES];
	int n1 = x86_ret_sites(code, size, offs, MAX_SITES);
	int n2 = x86_ret_sites_ex(code, size, X86_GO_RESULT_REGS, sites, MAX_SITES);

	FUZZ_ASSERT(n1 == n2);
	for (int i = 0; i < n1 && i < MAX_SITES; i++) {
		size_t o = offs[i], k = o;
		int len;

		FUZZ_ASSERT(sites[i].ret_off == offs[i]);
		FUZZ_ASSERT(o < size && on_boundary(code, size, o));
		len = x86_insn_len(code + o, size - o);
		FUZZ_ASSERT(len > 0);
		while (k < o + (size_t)len - 1 &&
		       ((code[k] & 0xf0) == 0x40 || code[k] == 0x66 || code[k] == 0x67 ||
			code[k] == 0xf2 || code[k] == 0xf3 || code[k] == 0xf0 ||
			code[k] == 0x26 || code[k] == 0x2e || code[k] == 0x36 ||
			code[k] == 0x3e || code[k] == 0x64 || code[k] == 0x65))
			k++;
		FUZZ_ASSERT(code[k] == 0xc3 || code[k] == 0xc2);
		if (sites[i].emulated_off >= 0) {
			size_t e = (size_t)sites[i].emulated_off;
			int elen;

			FUZZ_ASSERT(e < o && on_boundary(code, size, e));
			elen = x86_insn_len(code + e, size - e);
			FUZZ_ASSERT(elen > 0 && x86_insn_emulated(code + e, elen));
		}
	}
	free(code);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* every suffix's first instruction, up to a bound on the work */
	for (size_t i = 0; i < size && i < 64; i++)
		check_one(data + i, size - i);
	check_walk(data, size);
	return 0;
}
