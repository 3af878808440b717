/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A tiny test harness in the spirit of the kernel selftests: CHECK() returns
 * from the test at the first failed expectation, with file:line and the
 * expression, so a test never runs on after its preconditions broke.
 * Each test binary prints one "ok"/"FAIL" line per test and a summary line
 * that tests/unit/run.sh adds up.
 */
#ifndef WEFT_TEST_H
#define WEFT_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int test_failed_count, test_passed_count;

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "  %s:%d: check failed: %s\n",        \
				__FILE__, __LINE__, #cond);                   \
			return false;                                         \
		}                                                             \
	} while (0)

#define CHECK_STR(a, b)                                                       \
	do {                                                                  \
		const char *a_ = (a), *b_ = (b);                              \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                      \
			fprintf(stderr, "  %s:%d: %s == \"%s\", want \"%s\"\n", \
				__FILE__, __LINE__, #a, a_ ? a_ : "(null)",   \
				b_ ? b_ : "(null)");                          \
			return false;                                         \
		}                                                             \
	} while (0)

#define CHECK_INT(a, b)                                                       \
	do {                                                                  \
		long long a_ = (long long)(a), b_ = (long long)(b);           \
		if (a_ != b_) {                                               \
			fprintf(stderr, "  %s:%d: %s == %lld, want %lld\n",   \
				__FILE__, __LINE__, #a, a_, b_);              \
			return false;                                         \
		}                                                             \
	} while (0)

#define RUN(fn)                                                               \
	do {                                                                  \
		if (fn()) {                                                   \
			test_passed_count++;                                  \
			printf("ok   %s\n", #fn);                             \
		} else {                                                      \
			test_failed_count++;                                  \
			printf("FAIL %s\n", #fn);                             \
		}                                                             \
	} while (0)

#define TEST_SUMMARY()                                                        \
	(printf("summary: %d passed, %d failed\n", test_passed_count,         \
		test_failed_count),                                           \
	 test_failed_count ? 1 : 0)

#endif /* WEFT_TEST_H */
