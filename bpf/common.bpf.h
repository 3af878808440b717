/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every BPF header needs: the kernel's types and libbpf's helpers. The
 * unit tests compile the BPF side's pure parts in userspace; they define
 * WEFT_KERNEL_SHIM as a header of their own that provides both
 * (tests/unit/kernel_shim.h), so that the tests run this code, not a model.
 */
#ifndef WEFT_COMMON_BPF_H
#define WEFT_COMMON_BPF_H

#ifdef WEFT_KERNEL_SHIM
#include WEFT_KERNEL_SHIM
#else
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#endif

#endif /* WEFT_COMMON_BPF_H */
