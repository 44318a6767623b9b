/* arena.h: the memory of the response being built (arena.c).  Private to
 * relay/. */
#ifndef LSN_RELAY_ARENA_H
#define LSN_RELAY_ARENA_H

#include <stddef.h>

#include "relay/relay_int.h"

/* n zeroed bytes, freed with the response; NULL without memory. */
void *lsn_arena_alloc(struct lsn_relay *r, size_t n);
/* Keeps a decoded message until the response is encoded (freed now if it
 * cannot be kept: LSN_ERR_NOMEM). */
int lsn_arena_keep(struct lsn_relay *r, ProtobufCMessage *m);
/* Frees what the handlers allocated for the last response. */
void lsn_relay_response_free(struct lsn_relay *r);

#endif
