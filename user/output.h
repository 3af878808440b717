/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Spans on the terminal: one readable line each, or one JSON object each. */
#ifndef WEFT_OUTPUT_H
#define WEFT_OUTPUT_H

#include <stdio.h>
#include "span.h"

enum output_fmt {
	OUTPUT_NONE,
	OUTPUT_TEXT,
	OUTPUT_JSON,
};

void output_header(FILE *f, enum output_fmt fmt);
void output_span(FILE *f, enum output_fmt fmt, const struct span *s);
/* JSON string with quotes and escapes. */
void json_str(FILE *f, const char *s);

#endif /* WEFT_OUTPUT_H */
