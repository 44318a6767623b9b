/* conn.h: the connections, their subscriptions and pushes, and the log
 * budgets of requests (conn.c).  Private to relay/. */
#ifndef LSN_RELAY_CONN_H
#define LSN_RELAY_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "relay/relay_int.h"

/* The connection with routing id rid, or NULL. */
struct conn *lsn_conn_find(struct lsn_relay *r, const uint8_t *rid, size_t len);
/* The connection with routing id rid, added if new (forgetting idle
 * ones without a subscription when the table is full); NULL if it is
 * still full. */
struct conn *lsn_conn_get(struct lsn_relay *r, const uint8_t *rid, size_t len);

/* 1 if c (or NULL) last came with the same User-Id and key strings, *w
 * then its identity: they are parsed once per connection. */
int lsn_conn_who_cached(const struct conn *c, const char *user, const char *key,
                        struct who *w);
/* Remembers the identity w read from user and key for c. */
void lsn_conn_who_keep(struct conn *c, const char *user, const char *key,
                       const struct who *w);

/* Takes one request's token from c's bucket: 0, or LSN_ERR_RATE. */
int lsn_conn_take_token(struct lsn_relay *r, struct conn *c);

/* c's routing id (borrowed) and its length. */
const uint8_t *lsn_conn_rid(const struct conn *c, size_t *len);

/* Subscribes c for device dev (ending any other connection's
 * subscription for it), answering request sub_id, with credit pushes in
 * flight (0: 1; at most max_pending).  Returns the credit granted. */
uint32_t lsn_conn_subscribe(struct lsn_relay *r, struct conn *c, const char *dev,
                            uint64_t sub_id, uint32_t credit);
/* Ends c's subscription if it is dev's. */
void lsn_conn_unsubscribe(struct conn *c, const char *dev);
/* Gives n pushes' credit back to c's subscription if it is dev's. */
void lsn_conn_credit_back(struct conn *c, const char *dev, uint32_t n);
/* Marks c's subscription as possibly having news. */
void lsn_conn_want(struct conn *c);
/* The connection rid was found gone: it is pushed to no more. */
void lsn_conn_gone(struct lsn_relay *r, const uint8_t *rid, size_t len);

/* Marks subscriptions of org's devices (NULL: all) as having news. */
void lsn_relay_wake(struct lsn_relay *r, const char *org);

/* Queues a push (lsn_out_add) for every subscription with news, holding
 * the items ready within its credit; the store's error if one fails. */
int lsn_conns_push(struct lsn_relay *r);

/* Forgets every connection. */
void lsn_conns_free(struct lsn_relay *r);

/* Starts a new second of request log lines once one has passed, saying
 * how many of the last one's were not written (the routine ones, and each
 * connection's refusals). */
void lsn_conns_log_tick(struct lsn_relay *r);

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

#endif
