/* zap.h: the ZAP handler and the unknown-key budgets (zap.c).  Private to
 * relay/. */
#ifndef LSN_RELAY_ZAP_H
#define LSN_RELAY_ZAP_H

#include <stddef.h>

#include "relay/relay_int.h"

/* Answers one ZAP request: 200 with the identity for an admitted key (an
 * unknown one within the handshake budgets), 400 otherwise. */
void lsn_zap_handle(struct lsn_relay *r);

/* Logs the refused unknown keys counted so far, at most once a second: a
 * flood of fresh keys must not flood the log. */
void lsn_zap_refused_log(struct lsn_relay *r);

/* Takes one unknown-key request of len bytes from source address addr
 * (as ZeroMQ reports it; NULL if unknown) out of its address's budget and
 * the global one: 0, or LSN_ERR_DENIED. */
int lsn_zap_request_token(struct lsn_relay *r, const char *addr, size_t len);

/* Fills the global budgets and forgets every address's. */
void lsn_zap_budgets_reset(struct lsn_relay *r);

#endif
