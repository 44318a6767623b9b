/* wirefix.h: test fixtures for the wire protocol's batches (proto/wire.h):
 * frames a well-behaved client or relay never sends, and a ping queued
 * for a batch. */
#ifndef LSN_TEST_WIREFIX_H
#define LSN_TEST_WIREFIX_H

#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

/* A batch frame of kind holding `items` empty messages (two bytes each),
 * however many: past LSN_WIRE_BATCH_ITEMS it is one a receiver must
 * refuse.  malloc'd; NULL without memory. */
uint8_t *wf_batch_of_empties(enum lsn_wire_kind kind, size_t items, size_t *len);

/* A batch frame of kind holding one batch holding one batch ... `depth`
 * levels deep, an empty message innermost (about 6 bytes a level).
 * malloc'd; NULL without memory. */
uint8_t *wf_batch_nested(enum lsn_wire_kind kind, size_t depth, size_t *len);

/* Queues a ping with request id `id` and data_len zero bytes of data on
 * w: lsn_wire_queue's result. */
int wf_ping_queue(struct lsn_wire *w, uint64_t id, size_t data_len);

#endif
