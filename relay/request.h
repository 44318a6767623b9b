/* request.h: a request frame's way to its handler (request.c).  Private
 * to relay/. */
#ifndef LSN_RELAY_REQUEST_H
#define LSN_RELAY_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "relay/relay_int.h"

/* Receives one ROUTER message and handles its requests, queueing their
 * replies: 0 (adding its request bytes to *bytes and the requests it held
 * to *n), or LSN_ERR_NOT_FOUND when none waits. */
int lsn_request_recv(struct lsn_relay *r, uint64_t *bytes, uint64_t *n);

/* The same for a frame handed in by relay/offline.h: it came from user
 * and key_hex (the ZAP identity, either may be NULL) from the address
 * r->offline_addr on one fixed connection; extra: with more frames. */
void lsn_request_offline(struct lsn_relay *r, const char *user, const char *key_hex,
                         const uint8_t *frame, size_t len, int extra);

#endif
