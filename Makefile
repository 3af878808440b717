# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# weft: everything is built into build/; `make V=1` shows the commands.

OUTPUT ?= build
# The BPF side reads syscall arguments from x86-64 pt_regs and Go's register
# ABI (R14 = g); other architectures need their own register code first.
ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
ifneq ($(ARCH),x86)
$(error weft supports ARCH=x86 (x86-64) only for now; this machine is $(ARCH))
endif
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc
PROTOC_C ?= protoc-c
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

PKGS := libbpf libelf zlib libprotobuf-c libcurl json-c libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS ?= -g -O2
ALL_CFLAGS := -std=gnu11 $(CFLAGS) $(WARN) -D_GNU_SOURCE \
	-DWEFT_VERSION='"$(VERSION)"' \
	-Iinclude -Iuser -I$(OUTPUT) -I$(OUTPUT)/gen $(PKG_CFLAGS) -MMD -MP
LDLIBS := $(PKG_LIBS) -lpthread

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
	-Wall -Werror -Iinclude -Ibpf -Ivmlinux/$(ARCH) -MMD -MP

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

PROTOS := $(wildcard user/*.proto)
PB_C := $(patsubst user/%.proto,$(OUTPUT)/gen/%.pb-c.c,$(PROTOS))
PB_H := $(PB_C:.c=.h)
PB_OBJS := $(patsubst $(OUTPUT)/gen/%.c,$(OUTPUT)/%.o,$(PB_C))

USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(USER_SRCS))
LIB_OBJS := $(filter-out $(OUTPUT)/main.o,$(USER_OBJS)) $(PB_OBJS)

TEST_SRCS := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(TEST_SRCS))

.PHONY: all clean test unit asan e2e vmlinux bench
.DELETE_ON_ERROR:
# Keep the BPF object, the skeleton and the generated protobuf C: without
# this make deletes them as intermediates and the next `make` redoes it all.
# Named, not a bare .SECONDARY: that one makes every target secondary, and
# a missing object (a new source file) then no longer triggers a relink.
.SECONDARY: $(BPF_OBJS) $(SKELS) $(PB_C) $(PB_H)

all: $(OUTPUT)/weft

$(OUTPUT) $(OUTPUT)/gen $(OUTPUT)/tests:
	$(Q)mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUTPUT)/gen/%.pb-c.c $(OUTPUT)/gen/%.pb-c.h: user/%.proto | $(OUTPUT)/gen
	$(call msg,PROTOC,$@)
	$(Q)$(PROTOC_C) --proto_path=user --c_out=$(OUTPUT)/gen $<

$(OUTPUT)/%.pb-c.o: $(OUTPUT)/gen/%.pb-c.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-error -c $< -o $@

$(OUTPUT)/%.o: user/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# Generated headers must exist before the first compile of the files that
# include them (-MMD only knows afterwards); a BPF edit rebuilds only these.
$(OUTPUT)/loader.o $(OUTPUT)/goprobes.o: $(SKELS)
$(OUTPUT)/otlp.o: $(PB_H)

$(OUTPUT)/weft: $(USER_OBJS) $(PB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/tests/%: tests/unit/%.c $(LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit $< $(LIB_OBJS) $(LDLIBS) -o $@

# The BPF side's per-chunk code (bpf/chunk.bpf.h), compiled for userspace as
# the unit tests' model of the kernel. Its warnings are the BPF build's to
# catch (clang -Wall -Werror there); gcc's sign-compare and clang pragmas
# are not. It loads words at any byte offset, as the BPF ISA and x86 allow:
# UBSan's alignment check is off for it alone.
KERNEL_CHUNK := $(OUTPUT)/tests/kernel_chunk.o
$(KERNEL_CHUNK): tests/unit/kernel_chunk.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -fno-sanitize=alignment -Wno-sign-compare \
		-Wno-unknown-pragmas -Wno-unused-function -Ibpf -Itests/unit \
		-c $< -o $@

$(OUTPUT)/tests/test_pairing: tests/unit/test_pairing.c $(LIB_OBJS) $(KERNEL_CHUNK) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit $< $(LIB_OBJS) $(KERNEL_CHUNK) $(LDLIBS) -o $@

# Generated protobuf code includes the headers of the .proto files it imports.
$(PB_OBJS): $(PB_H)

# Test drivers (no BPF), linked like unit tests: the exporter's span
# generator, and the agent's stages on a replayed record stream (its CPU
# per span, `make bench-agent`).
.PHONY: tools bench-agent
tools: $(OUTPUT)/tests/span_gen $(OUTPUT)/tests/agent_replay
$(OUTPUT)/tests/span_gen $(OUTPUT)/tests/agent_replay: $(OUTPUT)/tests/%: tests/tools/%.c $(LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(LIB_OBJS) $(LDLIBS) -o $@

bench-agent: $(OUTPUT)/tests/agent_replay
	$(Q)scripts/bench-agent.sh $<

# Unit tests: no BPF, no root. `make asan` runs them under ASan/UBSan.
unit: $(TEST_BINS)
	$(Q)tests/unit/run.sh $(TEST_BINS)

SAN_CFLAGS := -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan:
	$(Q)$(MAKE) --no-print-directory OUTPUT=build/asan CFLAGS='$(SAN_CFLAGS)' unit

# weft itself under ASan+UBSan, for the end-to-end suite (WEFT_BIN=, see
# tests/run.sh step e2e-asan). Its own directory: `make asan` may run at
# the same time, and the plain build/ objects must stay unsanitized.
.PHONY: weft-asan
weft-asan:
	$(Q)$(MAKE) --no-print-directory OUTPUT=build/asan-weft CFLAGS='$(SAN_CFLAGS)' all

test: all
	$(Q)tests/run.sh

vmlinux:
	$(Q)scripts/gen-vmlinux.sh $(ARCH)

bench: all
	$(Q)scripts/bench.sh

clean:
	$(Q)rm -rf $(OUTPUT)

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/tests/*.d)

# ---- Fuzzing (tests/fuzz/, docs/fuzzing.md) ----
# libFuzzer targets built with clang under ASan+UBSan into build/fuzz/, run
# by tests/fuzz/run.sh over the seed corpora in tests/fuzz/corpus/<name>/.
# `make fuzz` runs each target FUZZ_SECONDS (FUZZ_JOBS at a time) and fails
# on any crash, leak, timeout or broken invariant; `make fuzz-build` only
# builds; scripts/fuzz-long.sh runs them for longer.
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 2
FUZZ_OUT := build/fuzz
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all -fsanitize=fuzzer-no-link
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
# The agent's code without main and the BPF loaders (no skeletons needed):
# an archive, so each target links only the objects it uses.
FUZZ_LIB_OBJS := $(filter-out $(OUTPUT)/main.o $(OUTPUT)/loader.o \
	$(OUTPUT)/goprobes.o,$(USER_OBJS)) $(PB_OBJS)

.PHONY: fuzz fuzz-build fuzz-bins
fuzz: fuzz-build
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) \
		tests/fuzz/run.sh $(FUZZ_NAMES)

fuzz-build:
	$(Q)tests/fuzz/run.sh --deps
	$(Q)$(MAKE) --no-print-directory OUTPUT=$(FUZZ_OUT) CC=$(CLANG) \
		CFLAGS='$(FUZZ_CFLAGS)' fuzz-bins

fuzz-bins: $(patsubst %,$(OUTPUT)/fuzz_%,$(FUZZ_NAMES))

$(OUTPUT)/libweft-fuzz.a: $(FUZZ_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUTPUT)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(OUTPUT)/libweft-fuzz.a
	$(call msg,FUZZ,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -Itests/fuzz $< \
		$(OUTPUT)/libweft-fuzz.a $(LDLIBS) -o $@
