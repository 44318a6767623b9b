/* relay_int.h: the relay's state, struct lsn_relay, shared by the files
 * of relay/, and the identity a request arrives with.  Each group of
 * fields is marked with the file that keeps it (makes, changes and frees
 * it); others only read the configuration, the store, the roster and the
 * bundles, except that whatever writes to the store batch marks it dirty
 * (r->dirty) and a handler sets the sentence of its error (r->msg) or
 * parks its request (r->park).  The types of connections, peers, parked
 * statuses, queued replies, allow-list entries and address budgets are
 * private to their files (incomplete here).  Not for use outside relay/. */
#ifndef LSN_RELAY_INT_H
#define LSN_RELAY_INT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

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
    /* WHO_UNKNOWN: whether the key left a bundle held here, and which
     * (lsn_relay_unknown_look) */
    int gone;
    struct lsn_store_gone gone_from;
};

/* Log lines of one kind in the current second: written, and not. */
struct log_budget {
    int64_t ms;                     /* when the second began */
    unsigned n;
    uint64_t dropped;
};

struct conn;                        /* conn.c */
struct peer;                        /* peer.c */
struct parked;                      /* status.c */
struct outmsg;                      /* out.c */
struct allow_entry;                 /* dir.c */
struct boot_addr;                   /* zap.c */

struct lsn_relay {
    /* relay.c: set-up and the loop */
    struct lsn_relay_config cfg;
    char endpoint[256];             /* as bound, port resolved */
    char name[LSN_NAME_MAX + 1];    /* this relay's name in the roster */
    uint8_t pk[32];
    uint8_t *sk;                    /* sodium_malloc */
    void *zctx, *router, *zap;
    struct lsn_store *store;
    int dirty;                      /* the batch holds writes */
    volatile sig_atomic_t stop, reload;
    int64_t fixed_now;              /* offline (tests, fuzzing): the clock; 0: real */
    char offline_addr[64];          /* offline: the requests' source address */
    char msg[512];                  /* the sentence for the current error */

    /* dir.c: the directory */
    struct lsn_roster *roster;
    struct lsn_bundle **bundles;    /* per roster org (same index), or NULL */
    struct allow_entry *allow;
    size_t n_allow, cap_allow;
    uint64_t dir_gen;               /* counts roster and bundle replacements */

    /* listen.c: the descriptor reserve (docs/relay.md "Limits"): the
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

    /* zap.c: the unknown-key budgets and their log line */
    double boot_tokens;             /* global: unknown-key handshakes */
    int64_t boot_last_ms;
    double boot_req_tokens;         /* global: unknown-key requests */
    int64_t boot_req_last_ms;
    struct boot_addr *boot_addrs;   /* BOOT_ADDRS slots, the least recently */
    size_t n_boot_addrs;            /* used one reused when full */
    uint64_t refused_n;             /* unknown-key refusals not yet logged */
    int64_t refused_log_ms;
    char refused_hex[17];           /* the latest refused key, shortened */

    /* conn.c: connections, and the routine lines requests cause */
    struct conn *conns;
    size_t n_conns;
    struct log_budget req_log;

    /* request.c: the requests of the batch frame in hand, and their ids
     * for a refusal of several at once (batch_handle) */
    struct lsn_wire_part batch_parts[LSN_WIRE_BATCH_ITEMS];
    uint64_t batch_ids[LSN_WIRE_BATCH_ITEMS];
    size_t n_batch_parts;
    int park;                       /* the handler parked its request */

    /* out.c: replies and pushes waiting for the commit */
    struct outmsg *out;
    size_t n_out, cap_out;
    /* Offline (relay/offline.h): replies go here instead of the ROUTER. */
    void (*sink)(void *ctx, const uint8_t *buf, size_t len);
    void *sink_ctx;

    /* arena.c: what handlers allocated for the response being built */
    void **arena;
    size_t n_arena, cap_arena;
    struct lsn_store_item *items;
    size_t n_items;
    ProtobufCMessage **pbs;
    size_t n_pbs, cap_pbs;

    /* h_submit.c: a submit's or forward's working memory, kept from one
     * to the next (submit_scratch); never zeroed */
    struct lsn_envelope_info *sub_info;
    struct lsn_fanout *sub_fan;
    const char **sub_names;
    size_t sub_cap;                 /* recipients sub_fan and sub_names fit */

    /* peer.c: the forwarders, one per other relay of the roster */
    struct peer *peers;
    size_t n_peers;
    uint64_t peer_ids;              /* ids of dir-sync and status asks */

    /* status.c: the status requests parked for peer relays' figures */
    struct parked *parked;
    size_t n_parked;
};

#endif
