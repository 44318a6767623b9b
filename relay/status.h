/* status.h: a delivery status from the store's figures, and the status
 * requests parked for peer relays' figures (status.c).  Private to
 * relay/. */
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

/* ---- parked status requests (peer.c asks, the loop sweeps) */

/* A status of n entries to park, or NULL: parking is off
 * (peer_status_wait_ms 0), too many are parked, or no memory. */
struct parked *lsn_parked_new(struct lsn_relay *r, size_t n);
/* 1 if k may still ask peer relay `peer` (not asked yet, room left). */
int lsn_parked_may_ask(const struct parked *k, const char *peer);
/* Notes that peer was asked, with request id. */
void lsn_parked_ask(struct parked *k, uint64_t id, const char *peer);
/* Parks k as the answer to request req_id of connection rid, with the
 * store's figures (st: n entries, ownership passes): 1.  If k asked no
 * peer it is freed instead, st left to the caller: 0. */
int lsn_parked_park(struct lsn_relay *r, struct parked *k, const uint8_t *rid,
                    size_t rid_len, uint64_t req_id, int known, int64_t accepted,
                    int64_t expires, struct lsn_store_rstatus *st, size_t n);
/* Takes peer relay peer's answer to a status ask (resp->id). */
void lsn_parked_answer(struct lsn_relay *r, const char *peer, const Liaison__Response *resp);
/* Answers every parked status that has all its figures or ran out of
 * time (called each round, inside the batch). */
void lsn_parked_sweep(struct lsn_relay *r);
/* 1 if a parked status's time runs out by now_ms. */
int lsn_parked_due(const struct lsn_relay *r, int64_t now_ms);
/* Forgets every parked status (shutdown). */
void lsn_parked_free_all(struct lsn_relay *r);

#endif
