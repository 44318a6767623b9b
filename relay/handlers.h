/* handlers.h: the request table (handlers.c) and its handlers (h_*.c).
 * Private to relay/. */
#ifndef LSN_RELAY_HANDLERS_H
#define LSN_RELAY_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "relay/relay_int.h"

/* Handles one decoded request from who over conn; fills resp.  Returns 0
 * or a negative LSN_ERR_* (the dispatcher turns it into a WireError with
 * r->msg if set).  *needs_commit is set when the answer must wait for the
 * batch commit. */
int lsn_relay_dispatch(struct lsn_relay *r, struct conn *c, const struct who *w,
                       const Liaison__Request *req, Liaison__Response *resp,
                       int *needs_commit);

/* Reads whether unknown key w->key left a bundle held here (one store
 * read, in the batch) into w->gone: done once, when a connection's
 * identity is read. */
void lsn_relay_unknown_look(struct lsn_relay *r, struct who *w);

/* The refusal of every request of unknown key w: LSN_ERR_KEY_REMOVED
 * naming the bundle that removed it, else LSN_ERR_UNPUBLISHED; its
 * sentence in r->msg. */
int lsn_relay_unknown_refusal(struct lsn_relay *r, const struct who *w);

/* Takes a signed bundle from the operator (liaison-relay import, the
 * import/ drop-in folder) with the checks of an admin's put: roster org,
 * root signature, expiry, version, chain; inside the current batch.
 * 0 (also when already held), or an error with its sentence in r->msg. */
int lsn_relay_import_bundle(struct lsn_relay *r, const uint8_t *buf, size_t len);

/* One table entry each: the same contract as lsn_relay_dispatch. */
#define LSN_HANDLER(name) \
    int name(struct lsn_relay *r, struct conn *c, const struct who *w, \
             const Liaison__Request *req, Liaison__Response *resp, int *commit)
LSN_HANDLER(h_submit);
LSN_HANDLER(h_forward);
LSN_HANDLER(h_subscribe);
LSN_HANDLER(h_fetch);
LSN_HANDLER(h_ack);
LSN_HANDLER(h_status);
LSN_HANDLER(h_peer_status);
LSN_HANDLER(h_dir_put);
LSN_HANDLER(h_dir_sync);
LSN_HANDLER(h_dir_get);

#endif
