/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HPACK (RFC 7541) decoding for HTTP/2 header blocks: the static table,
 * one dynamic table per direction of a connection, integers, string
 * literals plain and Huffman-coded, every field representation and
 * dynamic table size updates.
 *
 * The bytes come from other processes and weft only watches: a block it
 * cannot decode means its copy of the encoder's dynamic table may differ
 * from the peer's from then on, so the decoder is poisoned and decodes
 * nothing more (every later field could be wrong). Memory is bounded: the
 * dynamic table by the size the peer announced (capped at
 * HPACK_TABLE_HARD_MAX), one block's decoded fields by
 * HPACK_HEADER_LIST_MAX.
 */
#ifndef WEFT_HPACK_H
#define WEFT_HPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SETTINGS_HEADER_TABLE_SIZE before any SETTINGS (RFC 9113 6.5.2). */
#define HPACK_TABLE_DEFAULT	4096
/* Largest dynamic table followed, whatever the peer announced: a bigger
 * one poisons the decoder rather than growing without bound. */
#define HPACK_TABLE_HARD_MAX	65536
/* Most bytes one block may decode to, counted as RFC 9113's
 * SETTINGS_MAX_HEADER_LIST_SIZE counts (name + value + 32 per field). */
#define HPACK_HEADER_LIST_MAX	65536

enum hpack_result {
	HPACK_OK = 0,
	HPACK_ERROR = -1,	/* malformed or over a limit: now poisoned */
	HPACK_POISONED = -2,	/* an earlier block failed: nothing decoded */
};

/* One decoded field; the bytes live until the callback returns. A
 * partial decoder (hpack_init_partial) also passes the fields whose value
 * it read but whose name was an entry from before: name NULL, nlen 0. */
typedef void (*hpack_field_cb)(void *ctx, const uint8_t *name, size_t nlen,
			       const uint8_t *value, size_t vlen);

struct hpack_entry {
	uint8_t *buf;		/* name then value, one allocation */
	uint32_t nlen, vlen;
	bool name_unknown;	/* partial decoder: added by a literal whose
				 * name was an entry from before weft saw
				 * the connection (nlen is 0) */
};

/* Zeroed and then hpack_init: the decoder of one direction. */
struct hpack_dec {
	struct hpack_entry *ring;	/* dynamic table, oldest at head */
	uint32_t ring_cap, head, n;
	uint32_t size;		/* sum of entry sizes (RFC 7541 4.1) */
	uint32_t max_size;	/* as the encoder last set it */
	uint32_t limit;		/* most the encoder may set (SETTINGS) */
	bool poisoned;
	/* Begun mid-connection (hpack_init_partial): the encoder's table
	 * held entries before weft saw its first block. */
	bool partial;
	uint32_t unknown;	/* fields of the last block that named such an
				 * entry, so were not decoded */
	uint8_t *scratch;	/* decoded strings of the current field */
	size_t scratch_cap;
};

/* table_size: the table both ends start with (HPACK_TABLE_DEFAULT on an
 * HTTP/2 connection; RFC 7541's examples assume 256 without an update). */
void hpack_init(struct hpack_dec *d, uint32_t table_size);
/*
 * A decoder for a connection seen from the middle (weft started after it
 * opened): the encoder's dynamic table already holds entries weft never
 * saw. Indices count from the newest entry, and weft sees every entry
 * added from here on, so an index that reaches one of those decodes
 * exactly; one past them names an entry from before, and that field is
 * skipped and counted (hpack_dec.unknown), never guessed, and the block
 * still decodes. Once the encoder has added enough, every index is one
 * weft saw. The table kept is bounded by HPACK_TABLE_HARD_MAX: keeping
 * entries the encoder already evicted costs memory, never correctness
 * (it never names them).
 */
void hpack_init_partial(struct hpack_dec *d);
void hpack_free(struct hpack_dec *d);
/*
 * The decoding side announced SETTINGS_HEADER_TABLE_SIZE. The encoder may
 * still be using the previous size until it has seen the setting, so the
 * bound followed is the largest announced so far (up to
 * HPACK_TABLE_HARD_MAX); the table itself changes only by the size
 * updates in the blocks.
 */
void hpack_set_limit(struct hpack_dec *d, uint32_t settings_size);
/* Decode one complete header block, calling cb for each field in order
 * (a partial decoder skips the fields it cannot know: d->unknown). */
enum hpack_result hpack_decode(struct hpack_dec *d, const uint8_t *block,
			       size_t len, hpack_field_cb cb, void *ctx);

/*
 * Huffman-decode n bytes (RFC 7541 5.2, Appendix B) into out (room for
 * cap bytes). Returns the decoded length, or -1 on a bad code, EOS,
 * padding longer than 7 bits or not all ones, or output over cap.
 */
long hpack_huffman_decode(const uint8_t *in, size_t n, uint8_t *out,
			  size_t cap);

#endif /* WEFT_HPACK_H */
