// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Go binary inspection with libelf: version, symbols, probe offsets. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <unistd.h>
#include "goinspect.h"

#define SYM_ROUNDTRIP	"net/http.(*Transport).roundTrip"
#define SYM_REQ_WRITE	"net/http.(*Request).write"
#define SYM_NEWPROC1	"runtime.newproc1"
#define SYM_STARTCALL	"runtime.gostartcallfn"

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

/* Version from the build info blob ("\xff Go buildinf:" header). */
static void read_version(GElf_Shdr *sh, Elf_Scn *scn, char *out, size_t size)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	const uint8_t *p;

	(void)sh;
	if (!d || d->d_size < 32)
		return;
	p = d->d_buf;
	if (memcmp(p, "\xff Go buildinf:", 14) != 0)
		return;
	/* Go 1.18+: flags bit 2 = inline strings: varint length + bytes */
	if (p[15] & 2) {
		size_t len = 0, i = 32;
		int shift = 0;

		while (i < d->d_size && shift < 28) {
			len |= (size_t)(p[i] & 0x7f) << shift;
			shift += 7;
			if (!(p[i++] & 0x80))
				break;
		}
		if (len && i + len <= d->d_size && len < size) {
			memcpy(out, p + i, len);
			out[len] = '\0';
		}
	}
}

static int code_at(Elf *e, uint64_t vaddr, uint64_t *off, uint8_t *buf, int n)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		if (vaddr < sh.sh_addr || vaddr + n > sh.sh_addr + sh.sh_size)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf)
			return -1;
		memcpy(buf, (uint8_t *)d->d_buf + (vaddr - sh.sh_addr), n);
		*off = vaddr - sh.sh_addr + sh.sh_offset;
		return 0;
	}
	return -1;
}

static uint64_t probe_offset(Elf *e, uint64_t vaddr)
{
	uint8_t code[32];
	uint64_t off;
	int b;

	if (code_at(e, vaddr, &off, code, sizeof(code)))
		return 0;
	b = go_find_stack_check_branch(code, sizeof(code));
	return b < 0 ? 0 : off + b;
}

int go_inspect(const char *path, struct go_binary *out)
{
	Elf_Scn *scn = NULL, *symtab = NULL;
	GElf_Shdr sh;
	size_t shstrndx;
	Elf *e;
	int fd, err = 0;

	memset(out, 0, sizeof(*out));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF || elf_getshdrstrndx(e, &shstrndx)) {
		err = -ENOEXEC;
		goto out;
	}
	while ((scn = elf_nextscn(e, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (!name)
			continue;
		if (strcmp(name, ".go.buildinfo") == 0) {
			out->is_go = true;
			read_version(&sh, scn, out->version, sizeof(out->version));
		} else if (strcmp(name, ".gopclntab") == 0) {
			out->is_go = true;
		} else if (sh.sh_type == SHT_SYMTAB) {
			symtab = scn;
		}
	}
	if (!out->is_go || !symtab)
		goto out;
	out->has_symbols = true;
	{
		Elf_Data *d = elf_getdata(symtab, NULL);
		GElf_Shdr ssh;
		size_t n;

		if (!d || !gelf_getshdr(symtab, &ssh) || !ssh.sh_entsize)
			goto out;
		n = ssh.sh_size / ssh.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(d, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			name = elf_strptr(e, ssh.sh_link, sym.st_name);
			if (!name || (name[0] != 'n' && name[0] != 'r'))
				continue;
			if (strcmp(name, SYM_NEWPROC1) == 0)
				out->newproc1_off = probe_offset(e, sym.st_value);
			else if (strcmp(name, SYM_STARTCALL) == 0)
				out->gostartcallfn_off = probe_offset(e, sym.st_value);
			else if (strcmp(name, SYM_ROUNDTRIP) == 0)
				out->roundtrip_off = probe_offset(e, sym.st_value);
			else if (strcmp(name, SYM_REQ_WRITE) == 0)
				out->request_write_off = probe_offset(e, sym.st_value);
		}
	}
out:
	if (e)
		elf_end(e);
	close(fd);
	return err;
}
