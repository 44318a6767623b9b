/* status.h: a delivery status from the store's figures (status.c).
 * Private to relay/. */
#ifndef LSN_RELAY_STATUS_H
#define LSN_RELAY_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "relay/relay_int.h"

/* Fills s (arena memory, freed with the response) from store figures;
 * answered[i] (or NULL): entry i holds a peer relay's figures. */
int lsn_relay_status_fill(struct lsn_relay *r, Liaison__StatusReply *s, int known,
                          int64_t accepted, int64_t expires,
                          const struct lsn_store_rstatus *st, const int *answered,
                          size_t n);

#endif
