/* relay_int.h: the relay's internal state, shared by relay.c (transport,
 * allow-list, loop) and handlers.c (the request table).  Not for use
 * outside relay/. */
#ifndef LSN_RELAY_INT_H
#define LSN_RELAY_INT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "keys/bundle.h"
#include "keys/roster.h"
#include "proto/pb.h"
#include "relay/config.h"
#include "relay/relay.h"
#include "relay/store.h"

#define RID_MAX 256                 /* ZeroMQ routing ids are at most 255 bytes */

/* Who sent a request, from the ZAP User-Id. */
enum who_kind { WHO_NONE = 0, WHO_DEVICE, WHO_UNKNOWN, WHO_RELAY };

struct who {
    enum who_kind kind;
    char org[LSN_ENV_ORG_MAX + 1];
    char device[LSN_ENV_DEVICE_MAX + 1];
    char id[LSN_DEV_ID_MAX + 1];    /* "org/device" */
    uint8_t key[32];                /* the connection's CURVE key */
};

/* One connection (by routing id): rate limit and subscription. */
struct conn {
    uint8_t rid[RID_MAX];
    size_t rid_len;
    double tokens;
    int64_t last_ms;
    char dev[LSN_DEV_ID_MAX + 1];   /* subscribed device, "" if none */
    uint64_t sub_id;                /* the subscribe request's id */
    uint32_t credit, inflight;
    uint64_t pushed_seq;            /* last seq pushed */
    int want;                       /* may have something to push */
    struct conn *next;
};

/* The allow-list: CURVE key -> identity. */
struct allow_entry {
    uint8_t key[32];
    char id[LSN_DEV_ID_MAX + 8];
};

/* A reply waiting for the batch commit. */
struct outmsg {
    uint8_t rid[RID_MAX];
    size_t rid_len;
    uint8_t *buf;
    size_t len;
    uint64_t req_id;
    int needs_commit;
};

struct lsn_relay {
    struct lsn_relay_config cfg;
    char endpoint[256];
    char name[LSN_NAME_MAX + 1];
    uint8_t pk[32];
    uint8_t *sk;                    /* sodium_malloc */
    void *zctx, *router, *zap;
    struct lsn_store *store;
    struct lsn_roster *roster;
    struct lsn_bundle **bundles;    /* per roster org (same index), or NULL */
    struct allow_entry *allow;
    size_t n_allow, cap_allow;
    struct conn *conns;
    size_t n_conns;
    struct outmsg *out;
    size_t n_out, cap_out;
    double boot_tokens;             /* global: unknown-key handshakes */
    int64_t boot_last_ms;
    double boot_req_tokens;         /* global: unknown-key requests */
    int dirty;                      /* the batch holds writes */
    int subs_all_want;
    volatile sig_atomic_t stop, reload;
    char msg[512];                  /* the sentence for the current error */
    /* What handlers allocated for the response being built. */
    void **arena;
    size_t n_arena, cap_arena;
    struct lsn_store_item *items;
    size_t n_items;
    ProtobufCMessage **pbs;
    size_t n_pbs, cap_pbs;
};

/* Handles one decoded request from who over conn; fills resp.  Returns 0
 * or a negative LSN_ERR_* (the dispatcher turns it into a WireError with
 * r->msg if set).  *needs_commit is set when the answer must wait for the
 * batch commit.  Defined in handlers.c. */
int lsn_relay_dispatch(struct lsn_relay *r, struct conn *c, const struct who *w,
                       const Liaison__Request *req, Liaison__Response *resp,
                       int *needs_commit);

/* Frees what the handlers allocated for the last response (handlers.c). */
void lsn_relay_response_free(struct lsn_relay *r);

/* Sets the error sentence for the current request. */
void lsn_relay_msg(struct lsn_relay *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Index of org in the roster, or -1. */
int lsn_relay_org_index(const struct lsn_relay *r, const char *org);

/* Rebuilds the allow-list from the roster and the held bundles. */
int lsn_relay_allow_rebuild(struct lsn_relay *r);

/* Takes a new verified bundle for roster org i (ownership passes): drops
 * the queues of devices it no longer lists as receiving. */
int lsn_relay_bundle_replace(struct lsn_relay *r, int i, struct lsn_bundle *b);

/* Takes a new roster (ownership passes) and reloads the bundles for it. */
int lsn_relay_roster_replace(struct lsn_relay *r, struct lsn_roster *ro);

/* Marks subscriptions of org's devices (NULL: all) as having news. */
void lsn_relay_wake(struct lsn_relay *r, const char *org);

/* The device of org that a current bundle lists (NULL if none). */
const Liaison__Device *lsn_relay_device(const struct lsn_relay *r,
                                        const char *org, const char *device);

int64_t lsn_relay_now_ms(void);

#endif
