/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Privilege: the files weft opens as root by names it was given must be
 * ones no other user can swap (priv_check_paths, before anything is
 * loaded), and once the BPF programs are attached weft gives up every
 * capability it does not use any more (priv_drop). See README, Privilege.
 */
#ifndef WEFT_PRIVDROP_H
#define WEFT_PRIVDROP_H

#include <stdbool.h>
#include <stdint.h>

struct env;

enum priv_path_result {
	PRIV_PATH_OK = 0,
	PRIV_PATH_MISSING = 1,	/* does not exist; where it would be is safe */
	PRIV_PATH_UNSAFE = -1,	/* refused: why was printed */
};

/*
 * The rule, for a path weft will open as root (what names it in the
 * messages, e.g. "--otlp-ca"), walked one name at a time from / (from the
 * working directory's own path for a relative one) with every symbolic
 * link followed and checked the same way:
 *   - every directory looked in, every link followed and the file itself
 *     are owned by root (or by weft's own uid);
 *   - none is writable by others or by a group other than root's (weft's
 *     own), except a directory with the sticky bit set (/tmp: there only
 *     an entry's owner can rename or remove it, and the entry is checked);
 *   - the file is a regular file;
 *   - a file that does not exist is in a directory no one else can write
 *     to, sticky or not (anyone could create it in /tmp).
 * Like sshd's StrictModes, whose rule this is, it errs on refusing.
 */
enum priv_path_result priv_check_path(const char *what, const char *path);

/* Every file weft would open by a given name: --otlp-ca/-cert/-key (and
 * their OTEL_EXPORTER_OTLP_* variables), --k8s-token-file, --k8s-ca-file
 * (their defaults too, unless --k8s off). 0, or -1 after printing why. */
int priv_check_paths(const struct env *env);

/* What weft keeps after attaching, of the permitted set have (bit c is
 * CAP_c): SYS_PTRACE, DAC_READ_SEARCH and SYS_ADMIN, or BPF and PERFMON in
 * SYS_ADMIN's place when weft was started without it. */
uint64_t priv_keep_mask(uint64_t have);

/*
 * Reduces the effective, permitted and bounding sets of every thread to
 * priv_keep_mask() (the bounding set only with CAP_SETPCAP), empties the
 * inheritable and ambient sets and sets no_new_privs. Call after the BPF
 * programs are attached. Returns 0, or -1 after a warning (weft runs on:
 * this only takes away). verbose: say what was kept.
 */
int priv_drop(bool verbose);

/* "bpf,perfmon,..." for a mask, into buf. */
void priv_caps_str(uint64_t mask, char *buf, size_t size);

#endif /* WEFT_PRIVDROP_H */
