/* relay_int.h: the relay's internal state, shared by relay.c (transport,
 * allow-list, loop) and handlers.c (the request table).  Not for use
 * outside relay/. */
#ifndef LSN_RELAY_INT_H
#define LSN_RELAY_INT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "keys/bundle.h"
#include "keys/roster.h"
#include "keys/util.h"
#include "proto/pb.h"
#include "proto/wire.h"
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
    char id[LSN_DEV_ID_MAX + 1];    /* "org/device" or "relay:NAME" */
    char relay[LSN_NAME_MAX + 1];   /* WHO_RELAY: the peer's roster name */
    uint8_t key[32];                /* the connection's CURVE key */
};

/* A forward in flight: Request.id is the outbound queue seq. */
struct flight {
    uint64_t seq;
    char org[LSN_ENV_ORG_MAX + 1];
    uint8_t msg_id[LSN_MSG_ID_LEN];
    int64_t sent_ms;
};

/* The forwarder of one peer relay (relay/peer.c): a CURVE DEALER to the
 * peer's roster endpoint with this relay's key pair, and a monitor that
 * says when a session starts (handshake) or ends (disconnect). */
struct peer {
    char name[LSN_NAME_MAX + 1];
    char endpoint[256];
    uint8_t key[32];
    void *sock, *mon;
    int up;                         /* handshake done, not disconnected */
    int sync;                       /* full directory sync due */
    int want;                       /* the outbound queue may have news */
    int retry;                      /* a transient refusal: resend later */
    int deferred;                   /* this pass left an item for later (QUOTA) */
    uint64_t sent_seq;              /* highest seq sent this session */
    struct flight *fl;              /* peer_window entries, oldest first */
    size_t n_fl;
    int64_t next_ms;                /* back-off: no sends before */
    int64_t backoff_ms;
    struct lsn_wire_part *frames;   /* to send after the commit (owned) */
    int send_errno;                 /* why the last send failed */
    size_t n_frames, cap_frames;
};

/* A status request waiting for peer relays' figures. */
struct parked {
    uint8_t rid[RID_MAX];
    size_t rid_len;
    uint64_t req_id;
    int64_t deadline_ms;
    int known;
    int64_t accepted, expires;
    struct lsn_store_rstatus *st;   /* malloc'd, n entries */
    int *answered;                  /* per entry: a peer's figures */
    struct lsn_store_dstate **peer_dev; /* per entry: a peer's devices (malloc'd) */
    size_t n;
    uint64_t ask[8];                /* peer status request ids outstanding */
    char ask_peer[8][LSN_NAME_MAX + 1];
    size_t n_ask;
    struct parked *next;
};

/* Log lines of one kind in the current second: written, and not. */
struct log_budget {
    int64_t ms;                     /* when the second began */
    unsigned n;
    uint64_t dropped;
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
    /* The identity its last request arrived with, and the ZAP User-Id and
     * X-Key it was read from (compared on every request: a match skips
     * parsing them again). */
    struct who who;
    char who_user[LSN_DEV_ID_MAX + 8];
    char who_key[65];
    struct log_budget log;          /* its refusals' log lines */
    struct conn *next;
};

/* The allow-list: CURVE key -> identity. */
struct allow_entry {
    uint8_t key[32];
    char id[LSN_DEV_ID_MAX + 8];
};

/* The unknown-key budgets of one source address (relay.c zap_handle,
 * take_token): handshakes and requests, each a token bucket. */
struct boot_addr {
    char addr[64];                  /* as ZeroMQ reports it, "" offline */
    double hs, req;
    int64_t hs_ms, req_ms;          /* last refill; the later is its last use */
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
    /* The requests of the batch frame in hand, and their ids for a
     * refusal of several at once (relay.c batch_handle). */
    struct lsn_wire_part batch_parts[LSN_WIRE_BATCH_ITEMS];
    uint64_t batch_ids[LSN_WIRE_BATCH_ITEMS];
    size_t n_batch_parts;
    struct peer *peers;             /* every other relay of the roster */
    size_t n_peers;
    uint64_t peer_ids;              /* ids of dir-sync and status asks */
    struct parked *parked;
    size_t n_parked;
    int park;                       /* the handler parked its request */
    /* What handlers allocated for the response being built. */
    void **arena;
    size_t n_arena, cap_arena;
    struct lsn_store_item *items;
    size_t n_items;
    /* A submit's or forward's working memory, kept from one to the next
     * (handlers.c, submit_scratch); never zeroed. */
    struct lsn_envelope_info *sub_info;
    struct lsn_fanout *sub_fan;
    const char **sub_names;
    size_t sub_cap;                 /* recipients sub_fan and sub_names fit */
    ProtobufCMessage **pbs;
    size_t n_pbs, cap_pbs;
    int64_t fixed_now;              /* offline (tests, fuzzing): the clock; 0: real */
    char offline_addr[64];          /* offline: the requests' source address */
    int64_t boot_req_last_ms;
    struct boot_addr *boot_addrs;   /* BOOT_ADDRS slots, the least recently */
    size_t n_boot_addrs;            /* used one reused when full */
    uint64_t dir_gen;               /* counts roster and bundle replacements */
    uint64_t refused_n;             /* unknown-key refusals not yet logged */
    struct log_budget req_log;      /* routine lines requests cause */
    int64_t refused_log_ms;
    char refused_hex[17];           /* the latest refused key, shortened */
    /* Offline (relay/offline.h): replies go here instead of the ROUTER. */
    void (*sink)(void *ctx, const uint8_t *buf, size_t len);
    void *sink_ctx;
    /* The descriptor reserve (relay.c, docs/relay.md "Limits"): the
     * ROUTER's monitor counts its TCP connections; at the limit less the
     * reserve the listening socket drops new handshakes until enough
     * close. */
    void *mon;                      /* PAIR on the ROUTER's monitor */
    int listen_fd;                  /* libzmq's listening socket, or -1 */
    uint64_t nofile;                /* RLIMIT_NOFILE (soft) after raising it */
    size_t n_tcp;                   /* open accepted connections */
    int paused;                     /* not accepting: the reserve is reached */
    uint64_t fds_own;               /* descriptors open once listening */
    int unbound, rebind_failed;     /* the listener closed (listener_reset) */
    int64_t unbound_ms;             /* when it was closed or a bind failed */
};

#endif
