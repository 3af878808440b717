// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Probe sites of Go's crypto/tls in a binary: see gotls_sites.h. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "goinspect.h"
#include "gotls_sites.h"
#include "x86len.h"

#define FN_WRITE	"crypto/tls.(*Conn).Write"
#define FN_READ		"crypto/tls.(*Conn).Read"
/* A function larger than this is not the one we know: refuse it. */
#define FN_MAX_SIZE	(64 << 10)

/* The code of [vaddr, vaddr + size) and its file offset. Malloc'd. */
static uint8_t *code_of(Elf *e, uint64_t vaddr, uint64_t size, uint64_t *off)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *d;
		uint8_t *buf;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		if (vaddr < sh.sh_addr || size > sh.sh_size ||
		    vaddr - sh.sh_addr > sh.sh_size - size)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || d->d_size < sh.sh_size)
			return NULL;
		buf = malloc(size);
		if (!buf)
			abort();
		memcpy(buf, (uint8_t *)d->d_buf + (vaddr - sh.sh_addr), size);
		*off = vaddr - sh.sh_addr + sh.sh_offset;
		return buf;
	}
	return NULL;
}

static void why(struct go_tls_sites *out, const char *fn, const char *what)
{
	if (!out->why[0])
		snprintf(out->why, sizeof(out->why), "%s: %s", fn, what);
}

static void entry_site(Elf *e, const char *fn, uint64_t vaddr, uint64_t size,
		       uint64_t *site, struct go_tls_sites *out)
{
	uint64_t off;
	uint8_t *code;
	int b;

	code = code_of(e, vaddr, size < 32 ? size : 32, &off);
	if (!code) {
		why(out, fn, "code not in an executable section");
		return;
	}
	b = go_find_stack_check_branch(code, size < 32 ? (int)size : 32);
	free(code);
	if (b < 0) {
		why(out, fn, "no stack-check branch to probe");
		return;
	}
	*site = off + b;
}

static void ret_sites(Elf *e, uint64_t vaddr, uint64_t size,
		      struct go_tls_sites *out)
{
	struct x86_ret_site sites[GO_TLS_MAX_RETS];
	uint64_t off;
	uint8_t *code;
	int n;

	code = code_of(e, vaddr, size, &off);
	if (!code) {
		why(out, FN_READ, "code not in an executable section");
		return;
	}
	/* n in RAX must be final where the probe sits; R14 (g) never moves */
	n = x86_ret_sites_ex(code, size, X86_REG_BIT(X86_RAX), sites,
			     GO_TLS_MAX_RETS);
	free(code);
	if (n < 0) {
		why(out, FN_READ, "machine code the decoder does not know");
		return;
	}
	if (n == 0 || n > GO_TLS_MAX_RETS) {
		why(out, FN_READ, n ? "too many return sites" : "no return site");
		return;
	}
	for (int i = 0; i < n; i++) {
		bool emu = sites[i].emulated_off >= 0;

		out->read_ret[i] = off + (emu ? (uint64_t)sites[i].emulated_off
					      : sites[i].ret_off);
		out->n_read_ret_emulated += emu;
	}
	out->n_read_ret = n;
}

int go_tls_sites_find(const char *path, struct go_tls_sites *out)
{
	Elf_Scn *scn = NULL, *symtab = NULL;
	GElf_Shdr sh;
	Elf *e;
	int fd, err = 0;
	bool have_w = false, have_r = false;

	memset(out, 0, sizeof(*out));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto out;
	}
	while ((scn = elf_nextscn(e, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
			symtab = scn;
	if (!symtab) {
		why(out, "crypto/tls", "no symbol table (stripped)");
		goto out;
	}
	{
		Elf_Data *d = elf_getdata(symtab, NULL);
		GElf_Shdr ssh;
		size_t n;

		if (!d || !gelf_getshdr(symtab, &ssh) || !ssh.sh_entsize)
			goto out;
		n = ssh.sh_size / ssh.sh_entsize;
		for (size_t i = 0; i < n && !(have_w && have_r); i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(d, i, &sym) ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			name = elf_strptr(e, ssh.sh_link, sym.st_name);
			if (!name || name[0] != 'c' || strncmp(name, "crypto/tls.", 11))
				continue;
			if (!sym.st_size || sym.st_size > FN_MAX_SIZE)
				continue;
			if (!have_w && strcmp(name, FN_WRITE) == 0) {
				have_w = true;
				entry_site(e, FN_WRITE, sym.st_value, sym.st_size,
					   &out->write_off, out);
			} else if (!have_r && strcmp(name, FN_READ) == 0) {
				have_r = true;
				entry_site(e, FN_READ, sym.st_value, sym.st_size,
					   &out->read_off, out);
				ret_sites(e, sym.st_value, sym.st_size, out);
			}
		}
	}
	if (!have_w || !have_r)
		why(out, "crypto/tls", "not linked in");
out:
	if (e)
		elf_end(e);
	close(fd);
	return err;
}
