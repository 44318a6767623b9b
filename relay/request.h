/* request.h: a request frame's way to its handler (request.c).  Private
 * to relay/. */
#ifndef LSN_RELAY_REQUEST_H
#define LSN_RELAY_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "relay/relay_int.h"

/* The sender of a frame (its routing id and ZAP identity) and, once
 * admitted, its connection: every request of a batch shares them. */
struct from {
    const uint8_t *rid;
    size_t rid_len;
    const char *user, *key_hex;
    zmq_msg_t *msg;             /* its frame, for the source address; NULL offline */
    const char *addr;           /* offline: the source address */
    struct conn *c;
    struct who w;
};

/* Handles a request frame: a batch, or one request; extra says the
 * message had more than one frame.  Returns the requests it held. */
uint64_t frame_handle(struct lsn_relay *r, struct from *f, const uint8_t *body,
                      size_t len, int extra);

/* Receives one ROUTER message: 0, or LSN_ERR_NOT_FOUND when none waits. */
int router_recv(struct lsn_relay *r, uint64_t *bytes, uint64_t *n);

#endif
