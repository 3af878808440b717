// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_goinspect: a Go binary as weft opens it (user/goinspect.c: libelf,
 * then .symtab, .gopclntab found by name or by its magic, runtime.text
 * from moduledata, code read with pread). Any executable on the node gets
 * this, so a hostile one must not crash weft. Input: the whole file,
 * written to a memfd and opened through /proc/self/fd (what goprobes does
 * with /proc/PID/exe).
 *
 * Seeds (tests/fuzz/corpus/goinspect/): small ELF files written the way
 * Go's linker lays a binary out: .text with stack-check prologues at the
 * functions of the gopclntab seed-go120 table, that table as .gopclntab,
 * a moduledata in .noptrdata pointing at it, .go.buildinfo with a version;
 * stripped (non-PIE and PIE) and with a .symtab. (Generated once by a short
 * Python script; real binaries are megabytes.)
 *
 * Invariants beyond "no crash":
 *  - go_func_find says 0, -ENOENT, -ENOTUNIQ, -ENOEXEC or -ENOMEM, and
 *    a function found ends at or after its entry;
 *  - code read at a function's entry lies inside the file;
 *  - a probe offset, when there is one, lies inside the file.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include "fuzz.h"
#include "goinspect.h"

static const char *const names[] = {
	"net/http.(*Transport).roundTrip", "net/http.(*Request).write",
	"runtime.newproc1", "runtime.asmcgocall", "runtime.asmcgocall.abi0",
	"pkg.F[int]", "type:.eq.T.1", "runtime.text",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64];
	struct go_elf *g;
	int err = 0;

	if (fd < 0) {
		fd = memfd_create("fuzz_goinspect", MFD_CLOEXEC);
		FUZZ_ASSERT(fd >= 0);
	}
	FUZZ_ASSERT(ftruncate(fd, 0) == 0);
	FUZZ_ASSERT(pwrite(fd, data, size, 0) == (ssize_t)size);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	g = go_elf_open(path, &err);
	if (!g) {
		FUZZ_ASSERT(err < 0);
		return 0;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint64_t entry = 0, end = 0, off = 0, probe;
		uint8_t code[64];
		int rc = go_func_find(g, names[i], &entry, &end);

		FUZZ_ASSERT(rc == 0 || rc == -ENOENT || rc == -ENOTUNIQ ||
			    rc == -ENOEXEC || rc == -ENOMEM);
		if (rc)
			continue;
		FUZZ_ASSERT(end >= entry);
		if (go_code_read(g, entry, code, sizeof(code), &off) == 0)
			FUZZ_ASSERT(off + sizeof(code) <= size);
		probe = go_probe_offset(g, names[i]);
		FUZZ_ASSERT(probe == 0 || probe < size);
	}
	go_elf_close(g);
	return 0;
}
