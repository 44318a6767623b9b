/* listen.h: the ROUTER's sockets and the descriptor reserve (listen.c).
 * Private to relay/. */
#ifndef LSN_RELAY_LISTEN_H
#define LSN_RELAY_LISTEN_H

#include <stddef.h>

#include "relay/relay_int.h"

/* Raises the soft descriptor limit to the hard one and notes it. */
void lsn_listen_nofile(struct lsn_relay *r);
/* Connections open before new ones are held back (at least 1). */
size_t lsn_listen_tcp_max(const struct lsn_relay *r);
/* Pauses or resumes accepting at the reserve; listens again after a reset. */
void lsn_listen_check(struct lsn_relay *r);
/* Takes the ROUTER monitor's events (connections opened and gone). */
void lsn_listen_events(struct lsn_relay *r);
/* Binds the ZAP handler, then the ROUTER and its monitor; errors with the
 * reason in lsn_detail(). */
int lsn_listen_open(struct lsn_relay *r);

#endif
