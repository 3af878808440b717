// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP/2 stream-id paths by release: lookup in the generated table. */
#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include "go_h2_offsets.h"

struct go_h2_row {
	enum go_h2_kind kind;
	const char *release;
	struct go_h2_path path;
};

static const struct go_h2_row rows[] = {
#define NETHTTP GO_H2_NETHTTP
#define XNET GO_H2_XNET
#define GRPC GO_H2_GRPC
#define GO_H2_ROW(kind, rel, n, o0, o1, o2, src) \
	{ kind, rel, { n, { o0, o1, o2 }, src } },
#include "go_h2_offsets_table.h"
#undef GO_H2_ROW
#undef NETHTTP
#undef XNET
#undef GRPC
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

static const char *number(const char *s, int *out)
{
	int v = 0, digits = 0;

	while (isdigit((unsigned char)*s) && digits < 6) {
		v = v * 10 + (*s++ - '0');
		digits++;
	}
	if (!digits || isdigit((unsigned char)*s))
		return NULL;
	*out = v;
	return s;
}

int go_release_minor(const char *r, int *major, int *minor)
{
	int patch;

	if (!r)
		return -1;
	if (strncmp(r, "go", 2) == 0)
		r += 2;
	else if (*r == 'v')
		r++;
	else
		return -1;
	r = number(r, major);
	if (!r || *r != '.')
		return -1;
	r = number(r + 1, minor);
	if (!r)
		return -1;
	if (*r == '.') {
		/* "v0.0.0-2023...-abcdef" (a pseudo-version) or "v1.59.0-pre1"
		 * (a pre-release): not a release the table can speak for */
		r = number(r + 1, &patch);
		if (!r || *r == '-')
			return -1;
	}
	return 0;
}

int go_h2_path_for(enum go_h2_kind kind, const char *release, struct go_h2_path *out)
{
	int ma, mi, rma, rmi;

	if (go_release_minor(release, &ma, &mi))
		return -1;
	for (size_t i = 0; i < NROWS; i++) {
		if (rows[i].kind != kind ||
		    go_release_minor(rows[i].release, &rma, &rmi) ||
		    rma != ma || rmi != mi)
			continue;
		if (out)
			*out = rows[i].path;
		return 0;
	}
	return -1;
}
