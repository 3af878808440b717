/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * weft's own connections. weft's own sockets are never traced (the kernel
 * side skips its pid), but the collector's end of weft's export connection
 * belongs to another process: on a node that runs a collector, every export
 * would become a span of the collector receiving it, which weft would
 * export, forever. So the exporter tells this module of every connection it
 * opens, before the first byte goes out, and this module tells the kernel
 * (the own_conns map, struct weft_tuple): the far end of that 4-tuple is
 * skipped and counted (WEFT_CNT_OWN_CONN).
 *
 * Where NAT sits between weft and the collector (a Service's DNAT), the far
 * end sees another 4-tuple; the request itself is still recognised as
 * telemetry by its path (telemetry.h).
 */
#ifndef WEFT_OWNCONN_H
#define WEFT_OWNCONN_H

#include <stdbool.h>
#include <sys/socket.h>
#include "weft.h"

/* The own_conns map; a negative fd (unit tests, no BPF) turns this off. */
void ownconn_init(int map_fd);
/* A connection of weft's from local to peer was opened (open) or is being
 * closed. Thread-safe: the exporter thread calls it. */
void ownconn_note(const struct sockaddr *local, const struct sockaddr *peer,
		  bool open);
/* The 4-tuple the peer's socket sees; false for a non-IP family. */
bool ownconn_tuple(const struct sockaddr *local, const struct sockaddr *peer,
		   struct weft_tuple *t);
/* Times the kernel could not be told (its map full of live entries). */
uint64_t ownconn_errors(void);

#endif /* WEFT_OWNCONN_H */
