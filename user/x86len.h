/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * x86-64 instruction lengths, for placing uprobes inside Go functions
 * (issue 13): Go has no usable uretprobes (goroutine stacks move), so a
 * function's results are read by uprobes on its RET instructions, and those
 * are found by walking the function's machine code one instruction at a
 * time. The decoder covers what the Go gc toolchain emits (compiled code
 * and the runtime's and crypto's assembly): legacy prefixes, REX, the one-
 * byte map, 0F, 0F38, 0F3A, ModRM/SIB/displacements/immediates, VEX2, VEX3
 * and EVEX. Anything it does not understand is refused (-1), never guessed:
 * a wrong length would put the next probe in the middle of an instruction.
 *
 * What the kernel emulates instead of single-stepping (uprobes on x86-64,
 * Linux 6.18), from arch/x86/kernel/uprobes.c read with the search tool and
 * checked on this machine's 6.18 kernel. No copy of the v6.18 release file
 * itself was stored, so the statements are quoted by function, not line:
 * the 6.18 text is the "before" side of Peter Zijlstra's RFC "x86/insn,
 * uprobes,alternative: Unify insn_is_nop()" (2025-09-29, after the 6.18
 * merge of Jiri Olsa's uprobe optimization); the stored newer copies use
 * that RFC's insn_is_nop() instead, and the stored older ones lack the NOP
 * table test.
 *  - arch_uprobe_analyze_insn() first checks the instruction in
 *    uprobe_init_insn(): is_prefix_bad() refuses any 26/2E/36/3E/F0 prefix,
 *    so such an instruction cannot be probed at all (measured: a probe on
 *    "3e 74 00" never fires). Then branch_setup_xol_ops(), then
 *    push_setup_xol_ops(); everything else gets default_xol_ops: copied to
 *    the XOL slot and single-stepped.
 *  - branch_setup_xol_ops(): "if (insn->length <= ASM_NOP_MAX &&
 *    !memcmp(insn->kaddr, x86_nops[insn->length], insn->length)) goto
 *    setup;": a NOP is emulated when its bytes are the kernel's own NOP of
 *    that length (1-8 bytes: 90, 66 90, 0f 1f 00, 0f 1f 40 00, 0f 1f 44 00
 *    00, 66 0f 1f 44 00 00, 0f 1f 80 +4 zeros, 0f 1f 84 +5 zeros); then
 *    "case 0x90: /+ prefix* + nop; same as jmp with .offs = 0 +/ goto
 *    setup;": opcode 90 with any prefixes, PAUSE (f3 90) and REX.B 90 too.
 *  - same function: "case 0xeb: /+ jmp 8 +/", "case 0xe9: /+ jmp 32 +/",
 *    "case 0xe8: /+ call relative +/", and via is_cond_jmp_opcode() Jcc
 *    rel8 (70-7f) and, as "OPCODE2(insn) - 0x10", Jcc rel32 (0f 80-8f);
 *    then "for_each_insn_prefix(insn, i, p) { if (p == 0x66) return
 *    -ENOTSUPP; }": no branch with an operand-size prefix.
 *    branch_emulate_op() does the jump (and the call's push) in the kernel.
 *  - push_setup_xol_ops(): "if (opc1 < 0x50 || opc1 > 0x57) return
 *    -ENOSYS; if (insn->length > 2) return -ENOSYS;" and, for length 2,
 *    "only support rex_prefix 0x41": PUSH reg is emulated
 *    (push_emulate_op()), r8-r15 only with REX 41 exactly.
 *  - arch_uprobe_analyze_insn(): "case 0xc3: /+ ret or lret -- ip is
 *    correct +/ case 0xcb: case 0xc2: case 0xca:" only clears
 *    fix_ip_or_call and falls to default_xol_ops: RET is single-stepped.
 *    So are POP, MOV, ADD, SUB, LEA (mov/sub emulation exists only in later
 *    patch series).
 *  - can_optimize() (the 6.18 optimization): a 5-byte NOP ("insn_is_nop()
 *    || insn_is_nopl()", 0f 1f /0) becomes a call to the uprobe trampoline
 *    after its first hit: no trap at all from then on.
 *  Measured here (tracefs uprobe on a C loop, cost per hit with other jobs
 *  running, so +-50%): emulated 90, 66 90, f3 90, 41 90, NOPs of 3-8
 *  kernel bytes, eb/74/0f 84/e8, 55, 41 55: 0.8-3.8 us; single-stepped
 *  ret, pop, pop r13, add rsp, test, "0f 1f 04 00" (a 4-byte NOP that is
 *  not the kernel's), the 9-byte NOP: 35-120 us; 5-byte 0f 1f 44 00 {00,08}:
 *  0.8-1.2 us (optimized).
 *
 * What that means for Go's return sites, measured on the test apps (see
 * tests/unit/test_x86len.c): Go's epilogue is "MOVQ n(SP), BP; ADDQ $m, SP;
 * RET" (1.19) or "ADDQ $m, SP; POPQ BP; RET" (1.26), right after the moves
 * that set the results; none of those is emulated, so a return probe on
 * crypto/tls.(*Conn).Read (7 RETs) or Write (8 RETs) sits on the RET itself
 * and is single-stepped, in both releases. Across the two goserver
 * binaries, 658 of 22379 RETs have an emulated instruction on every path
 * after the results are final, each a one-byte NOP (90): 639 right before
 * the RET, 19 a few stores or epilogue instructions earlier;
 * x86_ret_sites_ex() finds those.
 */
#ifndef WEFT_X86LEN_H
#define WEFT_X86LEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest x86 instruction the CPU accepts. */
#define X86_MAX_INSN_LEN 15

/* Registers by their encoding number, for x86_ret_sites_ex()'s mask. */
#define X86_REG_BIT(n)	(1u << (n))
#define X86_RAX		0
#define X86_RCX		1
#define X86_RDX		2
#define X86_RBX		3
#define X86_RSP		4
#define X86_RBP		5
#define X86_RSI		6
#define X86_RDI		7
/* Go's register ABI: a function's first results come back in RAX, RBX,
 * RCX, RDI (e.g. crypto/tls.(*Conn).Read's n in RAX, err in RBX/RCX). */
#define X86_GO_RESULT_REGS \
	(X86_REG_BIT(X86_RAX) | X86_REG_BIT(X86_RBX) | \
	 X86_REG_BIT(X86_RCX) | X86_REG_BIT(X86_RDI))

/* Length in bytes of the instruction at p[0..n), or -1 when it is not one
 * this decoder understands or does not fit in n bytes. Never reads p[n]. */
int x86_insn_len(const uint8_t *p, size_t n);

/* Does the kernel's uprobe code (6.18, above) emulate or optimize the
 * len-byte instruction at p (its NOPs, anything 90, 5-byte NOPL, JMP/Jcc/
 * CALL rel, PUSH reg) rather than single-step it? */
bool x86_insn_emulated(const uint8_t *p, int len);

/* Walk code[0..n) from offset 0 and store the offsets of its RET
 * instructions (C3, C2 iw, with any prefixes) in offs[0..max). Returns how
 * many there are (which may exceed max: only max are stored), or -1 when
 * an instruction could not be decoded or the last one runs past n. */
int x86_ret_sites(const uint8_t *code, size_t n, uint32_t *offs, int max);

struct x86_ret_site {
	uint32_t ret_off;	/* offset of the RET */
	/* Offset of an instruction the kernel emulates through which every
	 * path to this RET passes after the registers in the mask were last
	 * written, or -1 when there is none (or it cannot be known: the
	 * function has an indirect jump, whose targets are unknown). */
	int32_t emulated_off;
};

/* x86_ret_sites(), with for each RET an emulated site where the registers
 * in live_mask (X86_REG_BIT()s; X86_GO_RESULT_REGS for Go results) already
 * hold their final values. Same return value. */
int x86_ret_sites_ex(const uint8_t *code, size_t n, uint32_t live_mask,
		     struct x86_ret_site *sites, int max);

#endif /* WEFT_X86LEN_H */
