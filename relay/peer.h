/* peer.h: federation, this relay as a client of its peer relays
 * (peer.c, docs/relay.md "Federation").  Private to relay/. */
#ifndef LSN_RELAY_PEER_H
#define LSN_RELAY_PEER_H

#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "relay/relay_int.h"

/* Matches the forwarders to the roster's relays (other than this one). */
int lsn_peers_rebuild(struct lsn_relay *r);
void lsn_peers_destroy(struct lsn_relay *r);

/* Poll items: the socket and the monitor of each peer (2 per peer). */
size_t lsn_peers_poll_fill(struct lsn_relay *r, zmq_pollitem_t *it);
/* Handles monitor events (session up/down). */
void lsn_peers_events(struct lsn_relay *r);
/* 1 if a round is due for the forwarders (work, time-outs, back-off) or
 * for a parked status. */
int lsn_peers_due(struct lsn_relay *r, int64_t now_ms);
/* Inside the batch: reads the peers' answers (acks go to the store). */
void lsn_peers_recv(struct lsn_relay *r);
/* Inside the batch: prepares forwards and directory syncs. */
void lsn_peers_fill(struct lsn_relay *r);
/* After the commit: sends what fill prepared (dropped if it failed). */
void lsn_peers_flush(struct lsn_relay *r, int commit_failed);
/* A directory object stored: it goes to every peer (after the commit). */
void lsn_peers_dir_push(struct lsn_relay *r, Liaison__DirKind kind,
                        const uint8_t *obj, size_t len);
/* Marks peer relay `name`'s outbound queue as having news. */
void lsn_peers_wake(struct lsn_relay *r, const char *name);
/* Asks the peer relays that took copies of msg_id (st: the store's
 * figures, n entries) for theirs, parking the status request req_id of
 * connection rid (status.c) until they answer or peer_status_wait_ms
 * passes: 1 if parked (st then belongs to the parked request), 0 if it is
 * to be answered now. */
int lsn_peers_status_ask(struct lsn_relay *r, const uint8_t *rid, size_t rid_len,
                         uint64_t req_id,
                         const uint8_t msg_id[LSN_MSG_ID_LEN], const char *org,
                         int known, int64_t accepted, int64_t expires,
                         struct lsn_store_rstatus *st, size_t n);

#endif
