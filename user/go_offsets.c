// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Go struct offsets by release: lookup in the generated table. */
#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include "go_offsets.h"

struct go_offsets_row {
	int minor;
	struct go_offsets off;
	const char *source;
};

static const struct go_offsets_row rows[] = {
#define GO_OFFSETS_ROW(minor, conn, data, fd, pfd, sysfd, src) \
	{ minor, { conn, data, fd, pfd, sysfd }, src },
#include "go_offsets_table.h"
#undef GO_OFFSETS_ROW
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

int go_version_minor(const char *v)
{
	int minor = 0, digits = 0;

	if (!v || strncmp(v, "go1.", 4) != 0)
		return -1;
	for (v += 4; isdigit((unsigned char)*v) && digits < 4; v++, digits++)
		minor = minor * 10 + (*v - '0');
	if (!digits || isdigit((unsigned char)*v))
		return -1;
	/* what may follow: ".patch", "rc1"/"beta1", " X:experiment", end */
	if (*v && *v != '.' && *v != ' ' && strncmp(v, "rc", 2) != 0 &&
	    strncmp(v, "beta", 4) != 0)
		return -1;
	return minor;
}

static const struct go_offsets_row *find(const char *goversion)
{
	int minor = go_version_minor(goversion);

	for (size_t i = 0; minor >= 0 && i < NROWS; i++)
		if (rows[i].minor == minor)
			return &rows[i];
	return NULL;
}

int go_offsets_for(const char *goversion, struct go_offsets *out)
{
	const struct go_offsets_row *r = find(goversion);

	if (!r || !out)
		return -1;
	*out = r->off;
	return 0;
}

const char *go_offsets_source(const char *goversion)
{
	const struct go_offsets_row *r = find(goversion);

	return r ? r->source : NULL;
}

void go_offsets_covered(int *lo, int *hi)
{
	*lo = rows[0].minor;
	*hi = rows[NROWS - 1].minor;
}
