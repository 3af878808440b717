/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stage 1 of the agent: a ring-buffer record (include/weft.h) checked and
 * decoded into what the later stages work with. This is the only file that
 * reads struct weft_data_rec / weft_close_rec; a malformed record (never
 * produced by weft's BPF, but the agent does not trust sizes it did not
 * check) decodes to REC_NONE.
 */
#ifndef WEFT_RECORD_H
#define WEFT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "weft.h"

/* One socket call on a followed connection. */
struct chunk {
	struct weft_conn_key conn;
	enum weft_dir dir;
	enum weft_role role;		/* as the kernel knew it (may be unknown) */
	struct weft_addr addr;
	uint32_t pid, tid;
	char comm[16];			/* NUL-terminated */
	uint64_t ts_ns;			/* CLOCK_MONOTONIC */
	uint32_t seq;			/* TCP sequence number of the first byte */
	uint32_t tx_seq;		/* reads with WEFT_F_TX_SEQ: the socket's
					 * write_seq then (include/weft.h) */
	uint32_t len;			/* bytes the call moved */
	const uint8_t *data;		/* the first cap of them (cap <= len) */
	uint32_t cap;
	const uint8_t *tail;		/* the last tail_len of them */
	uint32_t tail_len;
	uint32_t flags;			/* WEFT_F_* */
	uint64_t g;			/* Go: the goroutine making the call */
	uint64_t origin_g;		/* Go: whose http.Transport call it carries */
};

/* A followed connection went away. */
struct conn_end {
	struct weft_conn_key conn;
	uint64_t ts_ns;
	bool reset;			/* aborted (RST), not closed (FIN) */
	uint32_t unread;		/* bytes the application had still to
					 * read: their records follow */
};

/* A Go HTTP/2 server's handler goroutine started (weft.h,
 * struct weft_go_stream_rec). */
struct go_stream {
	uint32_t pid;
	uint64_t ts_ns;
	uint64_t g;			/* the handler's goroutine */
	uint64_t reader_g, serve_g;	/* its connection's goroutines */
	uint32_t stream_id;
};

/* The header fields a Go HTTP/2 server decoded (weft.h,
 * struct weft_go_h2_fields_rec). */
struct go_h2_fields {
	uint32_t pid;
	uint64_t ts_ns;
	uint64_t g;
	uint32_t stream_id;
	unsigned n_fields, total_fields;
	bool written;			/* WEFT_GO_FIELDS_WRITTEN: before its bytes */
	const uint8_t *data;		/* points into the record */
	size_t len;
};

enum record_kind {
	REC_NONE,			/* malformed or unknown: ignore */
	REC_CHUNK,
	REC_CLOSE,
	REC_EXEC,			/* pid ran exec: a new program */
	REC_GO_STREAM,			/* a Go HTTP/2 handler goroutine */
	REC_GO_H2_FIELDS,		/* a Go HTTP/2 server's decoded fields */
};

struct record {
	enum record_kind kind;
	uint32_t pid;
	union {
		struct chunk chunk;	/* REC_CHUNK: points into the record */
		struct conn_end end;	/* REC_CLOSE */
		struct go_stream gs;	/* REC_GO_STREAM */
		struct go_h2_fields gf;	/* REC_GO_H2_FIELDS */
	};
};

/* Decode the size bytes at data; out->chunk points into data. */
enum record_kind record_decode(const void *data, size_t size, struct record *out);

#endif /* WEFT_RECORD_H */
