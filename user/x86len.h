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
 * Linux 6.18). Read in arch/x86/kernel/uprobes.c through the search tool;
 * the stored copies were not the v6.18 release file itself (one older, one
 * newer with a ptwrite variant), so the facts below are quoted by function
 * and statement, with the commits that put them there, not by line number:
 *  - arch_uprobe_analyze_insn() tries branch_setup_xol_ops(), then
 *    push_setup_xol_ops(); everything else gets default_xol_ops, which
 *    copies the instruction to the XOL slot and single-steps it (the
 *    expensive trap DESIGN.md measured at -55% throughput).
 *  - branch_setup_xol_ops(): "if (insn_is_nop(insn)) goto setup;" (commit
 *    610f6e14c29d "uprobes/x86: Add support to emulate NOP instructions",
 *    v6.16): every NOP is emulated. insn_is_nop() (arch/x86/lib/insn-eval.c
 *    since that commit, moved from alternative.c) is "opcode.bytes[0] ==
 *    0x90 && (!prefixes.nbytes || prefixes.bytes[0] != 0xF3)" (not PAUSE)
 *    or "opcode.bytes[0] == 0x0F && opcode.bytes[1] == 0x1F" (NOPL/NOPW of
 *    any length). The NOP path skips the 0x66 check below.
 *  - branch_setup_xol_ops(): "case 0xeb: /+ jmp 8 +/", "case 0xe9: /+ jmp
 *    32 +/", "case 0xe8: /+ call relative +/", and via is_cond_jmp_opcode()
 *    the Jcc rel8 0x70-0x7f and (OPCODE2 - 0x10) the Jcc rel32 0x0f 0x80-
 *    0x8f; then "for_each_insn_prefix(insn, p) { if (p == 0x66) return
 *    -ENOTSUPP; }": a branch with an operand-size prefix is refused.
 *    branch_emulate_op() does the jump (and the call's push) in the kernel.
 *  - push_setup_xol_ops(): "if (opc1 < 0x50 || opc1 > 0x57) return -ENOSYS;
 *    if (insn->length > 2) return -ENOSYS;" and for length 2 "only support
 *    rex_prefix 0x41": PUSH of a register is emulated (push_emulate_op()),
 *    PUSH r8-r15 only with REX 0x41 exactly.
 *  - arch_uprobe_analyze_insn(): "case 0xc3: /+ ret or lret -- ip is
 *    correct +/ case 0xcb: case 0xc2: case 0xca:" sets fix_ip_or_call = 0
 *    and falls to default_xol_ops: RET is single-stepped, not emulated.
 *    POP (0x58-0x5f), ADD/SUB/MOV/LEA are not emulated either (a later
 *    patch series adds mov/sub emulation for optimized uprobes; it is not
 *    in the 6.18 code paths above).
 *  - v6.18 also optimizes uprobes on a 5-byte NOP into a call to a
 *    trampoline (can_optimize(), "uprobes/x86: Add support to optimize
 *    uprobes"); Go code has no such NOPs at its return sites.
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

/* Does the kernel's uprobe code emulate the len-byte instruction at p
 * (NOP, JMP/Jcc/CALL rel, PUSH reg; see above) rather than single-step it? */
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
