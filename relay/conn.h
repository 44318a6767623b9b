/* conn.h: the connections, their subscriptions and pushes, and the log
 * budgets of requests (conn.c).  Private to relay/. */
#ifndef LSN_RELAY_CONN_H
#define LSN_RELAY_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "relay/relay_int.h"

/* The connection with routing id rid, or NULL. */
struct conn *conn_find(struct lsn_relay *r, const uint8_t *rid, size_t len);
/* The connection with routing id rid, added if new; NULL if the table is
 * full. */
struct conn *conn_get(struct lsn_relay *r, const uint8_t *rid, size_t len);

/* Marks subscriptions of org's devices (NULL: all) as having news. */
void lsn_relay_wake(struct lsn_relay *r, const char *org);

/* Starts a new second of request log lines, reporting the last one's
 * lines not written. */
void req_log_tick(struct lsn_relay *r);

/* A routine log line a request causes (a hello, a subscription): at most
 * 100 a second from all clients are written, the rest counted and
 * reported. */
void lsn_relay_log_req(struct lsn_relay *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The log line of a refused request from connection c: at most 20 a
 * second per connection are written, the rest counted and reported with
 * its identity, so no client can hide another's refusals. */
void lsn_relay_log_refusal(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Queues a push for every subscription with news, within its credit. */
int push_all(struct lsn_relay *r);

#endif
