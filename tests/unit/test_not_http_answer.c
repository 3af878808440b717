// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A binary protocol whose frames hold HTTP-looking bytes (found by
 * tests/e2e/test_hostile.py): the client writes a 4-byte length, then a
 * payload that is "GET / HTTP/1.1\r\n...\r\n" in a write of its own, so the
 * payload looks like a request; the server answers with a length and the
 * same payload. No HTTP response ever starts on the connection, so no span
 * may come out of it, not even an error span at the close (before the fix
 * one did, "connection closed", on both sides); the requests are counted
 * as not HTTP. A real exchange on another connection is the control, and
 * a real response still pairs after the fix.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include "pairing.h"
#include "record.h"
#include "span.h"
#include "test.h"

#define T0	1000000000000ULL

static int nspans;
static struct span *last;

static void on_span(struct span *s, void *ctx)
{
	nspans++;
	span_free(last);
	last = s;
}

static void feed(struct pairing *p, uint64_t sk, enum weft_role role, enum weft_dir d,
		 const char *data, size_t n, uint64_t ts)
{
	struct chunk ck;

	memset(&ck, 0, sizeof(ck));
	ck.conn.sk = sk;
	ck.conn.gen = 1;
	ck.dir = d;
	ck.role = role;
	ck.addr.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", ck.addr.saddr);
	inet_pton(AF_INET, "127.0.0.1", ck.addr.daddr);
	ck.addr.sport = role == WEFT_ROLE_SERVER ? 9000 : 40000;
	ck.addr.dport = role == WEFT_ROLE_SERVER ? 40000 : 9000;
	ck.pid = ck.tid = 4242;
	strcpy(ck.comm, "frames");
	ck.ts_ns = ts;
	ck.len = ck.cap = (uint32_t)n;
	ck.data = (const uint8_t *)data;
	ck.flags = WEFT_F_MSG_START;
	pairing_chunk(p, &ck);
}

static void close_conn(struct pairing *p, uint64_t sk, uint64_t ts)
{
	struct conn_end e = { .conn = { .sk = sk, .gen = 1 }, .ts_ns = ts };

	pairing_close(p, &e);
}

static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
static const char len4[] = "\0\0\0\x1b";

/* One connection seen from role: request direction, then response. */
static void frames(struct pairing *p, uint64_t sk, enum weft_role role, bool one_write)
{
	enum weft_dir rq = role == WEFT_ROLE_SERVER ? WEFT_DIR_RECV : WEFT_DIR_SEND;
	enum weft_dir rs = rq == WEFT_DIR_SEND ? WEFT_DIR_RECV : WEFT_DIR_SEND;
	char both[4 + sizeof(req)];

	memcpy(both, len4, 4);
	memcpy(both + 4, req, sizeof(req) - 1);
	feed(p, sk, role, rq, len4, 4, T0);
	feed(p, sk, role, rq, req, sizeof(req) - 1, T0 + 10);
	if (one_write) {
		feed(p, sk, role, rs, both, 4 + sizeof(req) - 1, T0 + 20);
	} else {
		feed(p, sk, role, rs, len4, 4, T0 + 20);
		feed(p, sk, role, rs, req, sizeof(req) - 1, T0 + 30);
	}
	close_conn(p, sk, T0 + 1000);
}

static bool test_binary_frames_make_no_span(void)
{
	struct pairing_opts o = { .hdr_window = 16384 };
	struct pairing *p = pairing_new(&o, on_span, NULL);
	struct pairing_stats st;
	uint64_t sk = 0x1000;

	nspans = 0;
	for (int r = 0; r < 2; r++)
		for (int one = 0; one < 2; one++)
			frames(p, sk++, r ? WEFT_ROLE_CLIENT : WEFT_ROLE_SERVER, one);
	pairing_flush(p);
	CHECK_INT(nspans, 0);
	pairing_get_stats(p, &st);
	CHECK_INT(st.closed_early, 0);
	CHECK(st.framing.not_http >= 8);	/* 4 frames, 4 requests dropped */
	/* the control: a real exchange still makes its span */
	feed(p, sk, WEFT_ROLE_SERVER, WEFT_DIR_RECV, req, sizeof(req) - 1, T0);
	feed(p, sk, WEFT_ROLE_SERVER, WEFT_DIR_SEND,
	     "HTTP/1.1 204 No Content\r\n\r\n", 27, T0 + 10);
	pairing_tick(p, T0 + 1000000000ULL);	/* a held span goes out */
	CHECK_INT(nspans, 1);
	CHECK_INT(span_find_attr(last, "http.response.status_code")->num, 204);
	/* a request answered by nothing still ends at the close, as before */
	feed(p, sk + 1, WEFT_ROLE_SERVER, WEFT_DIR_RECV, req, sizeof(req) - 1, T0);
	close_conn(p, sk + 1, T0 + 100);
	pairing_tick(p, T0 + 2000000000ULL);
	CHECK_INT(nspans, 2);
	CHECK(span_find_attr(last, "http.response.status_code") == NULL);
	CHECK_INT(last->status, SPAN_STATUS_ERROR);
	pairing_free(p);
	span_free(last);
	last = NULL;
	return true;
}

int main(void)
{
	RUN(test_binary_frames_make_no_span);
	return TEST_SUMMARY();
}
