// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The header block buffer of a stream (framing.c) is as big as the head
 * being collected and is freed once the head is handled: with a
 * window-sized buffer kept per stream, 10 000 open connections held 245 MB
 * (tests/e2e/test_hostile.py, 10k connections). Heads in pieces, over the
 * window and refused still parse as before.
 */
#include <stdlib.h>
#include <string.h>
#include "framing.h"
#include "test.h"

static int heads, truncs;
static struct http_msg last;

static enum framing_verdict on_head(void *ctx, enum weft_dir d, struct framing_head *h,
				    char method[HTTP_METHOD_MAX])
{
	heads++;
	truncs += h->truncated;
	last = *h->m;
	return FRAMING_BODY;
}

static void on_end(void *ctx, uint64_t end_ns)
{
}

static struct framing_stats fst;
static const struct framing_sink sink = {
	.head = on_head, .response_end = on_end, .hdr_window = 16384, .stats = &fst,
};

static void feed(struct stream *s, const char *p, size_t n)
{
	struct chunk ck;

	memset(&ck, 0, sizeof(ck));
	ck.dir = WEFT_DIR_RECV;
	ck.data = (const uint8_t *)p;
	ck.len = ck.cap = (uint32_t)n;
	ck.flags = WEFT_F_MSG_START;
	framing_feed(s, &ck, &sink);
}

static bool test_buffer_follows_the_head(void)
{
	struct stream s;
	const char *a = "GET /a HTTP/1.1\r\nHost: x\r\nUser-Agent: piece", *b = "s\r\n\r\n";
	char *big = malloc(20000);
	size_t n;

	memset(&s, 0, sizeof(s));
	heads = truncs = 0;
	feed(&s, a, strlen(a));
	CHECK(s.head && s.head_cap >= strlen(a) + 2 && s.head_cap <= 2048);
	feed(&s, b, strlen(b));
	CHECK_INT(heads, 1);
	CHECK_STR(last.user_agent, "pieces");
	CHECK(s.head == NULL && s.head_cap == 0);
	/* 20 KB of headers: cut at the window, parsed, buffer gone */
	n = (size_t)snprintf(big, 20000, "GET /big HTTP/1.1\r\nHost: y\r\n");
	while (n < 19000)
		n += (size_t)snprintf(big + n, 20000 - n, "X-Pad: %0100d\r\n", 0);
	n += (size_t)snprintf(big + n, 20000 - n, "\r\n");
	feed(&s, big, n);
	CHECK_INT(heads, 2);
	CHECK_INT(truncs, 1);
	CHECK_STR(last.host, "y");
	CHECK_STR(last.target, "/big");
	CHECK(s.head == NULL && s.head_cap == 0);
	/* a refused head releases it too */
	framing_free(&s);
	memset(&s, 0, sizeof(s));
	feed(&s, "GET /r HTTP/1.1\r\nX Y: z\r\n\r\n", 27);
	CHECK_INT(heads, 2);
	CHECK(s.head == NULL && s.head_cap == 0);
	framing_free(&s);
	free(big);
	return true;
}

int main(void)
{
	RUN(test_buffer_follows_the_head);
	return TEST_SUMMARY();
}
