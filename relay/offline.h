/* offline.h: liaison-relay without a network, for tests and fuzz targets
 * only (liaison-relay itself never calls these).  The relay is opened as
 * lsn_relay_new opens it (key, roster, store, held bundles) but binds no
 * socket and starts no forwarder; request frames are handed in directly,
 * with the identity the ZAP handler would have attached, and go through
 * the same request path as the ROUTER's (decode, rate limits, dispatch,
 * group commit); the replies come back through a callback. */
#ifndef LSN_RELAY_OFFLINE_H
#define LSN_RELAY_OFFLINE_H

#include <stddef.h>
#include <stdint.h>

#include "relay/relay.h"

/* Opens the relay of cfg without sockets; every protocol check uses now
 * (unix seconds) as the time, or the clock if now is 0.  Errors as
 * lsn_relay_new.  Close with lsn_relay_destroy. */
int lsn_relay_open_offline(const struct lsn_relay_config *cfg, int64_t now,
                           struct lsn_relay **out);

/* Called once per reply or push, in the order the ROUTER would send them;
 * buf is borrowed for the call. */
typedef void (*lsn_relay_reply_fn)(void *ctx, const uint8_t *buf, size_t len);

#define LSN_OFFLINE_COMMIT 1u   /* commit the batch (else drop it: no change stays) */
#define LSN_OFFLINE_EXTRA  2u   /* the last frame came with more frames */

/* One group-commit round: frames[0..n) arrive on one connection whose ZAP
 * identity is user (User-Id: "org/device", "relay:NAME", "~HEX") and
 * key_hex (X-Key; either may be NULL), then pushes are computed, the batch
 * is committed or dropped, and the replies go to fn.  Returns 0 or the
 * commit's error (then every reply that needed it is UNAVAILABLE). */
int lsn_relay_offline_round(struct lsn_relay *r, const char *user, const char *key_hex,
                            const uint8_t *const *frames, const size_t *lens, size_t n,
                            unsigned flags, lsn_relay_reply_fn fn, void *ctx);

/* The source address (as ZeroMQ reports one, "2001:db8::1") that the
 * next rounds' requests come from, for the unknown-key budgets; "" at
 * first. */
void lsn_relay_offline_set_addr(struct lsn_relay *r, const char *addr);

/* Forgets every connection (rate buckets, subscriptions) and refills the
 * global unknown-key budgets. */
void lsn_relay_offline_reset(struct lsn_relay *r);

/* Changes whenever the held roster or a held bundle is replaced (a
 * dropped batch does not undo those in memory: reopen to start afresh). */
uint64_t lsn_relay_offline_dir_gen(const struct lsn_relay *r);

#endif
