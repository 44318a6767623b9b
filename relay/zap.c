/* zap.c: the ZAP handler and the unknown-key budgets.  A CURVE key the
 * allow-list names is admitted with its identity; an unknown key is
 * admitted, as "unknown", only within the handshake budget of its source
 * address and a global one, and its requests spend a request budget of
 * each (docs/relay.md "Admission"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <zmq.h>

#include "keys/util.h"
#include "proto/err.h"
#include "relay/dir.h"
#include "relay/log.h"
#include "relay/zap.h"

#define BOOT_BURST    3.0
/* Unknown-key requests: one a second per source address (burst 12), ten
 * a second from all together (burst 120). */
#define BOOT_REQ_PER_S      1.0
#define BOOT_REQ_BURST      (BOOT_BURST * 4)
#define BOOT_REQ_ALL_PER_S  10.0
#define BOOT_REQ_ALL_BURST  (BOOT_REQ_BURST * 10)
/* Source addresses whose unknown-key budgets are kept: one address with
 * its own budget cannot take the others', and a table full of flooding
 * addresses gives its least recently used slot to the next one (which
 * starts with a full budget, so an evicted honest address loses
 * nothing). */
#define BOOT_ADDRS    1024

/* The unknown-key budgets of one source address (zap_handle,
 * lsn_zap_request_token): handshakes and requests, each a token bucket. */
struct boot_addr {
    char addr[64];                  /* as ZeroMQ reports it, "" offline */
    double hs, req;
    int64_t hs_ms, req_ms;          /* last refill; the later is its last use */
};

/* The global unknown-key handshake budget a minute: never below one
 * address's. */
static double
boot_total_rate(const struct lsn_relay_config *cfg)
{
    return (double)(cfg->bootstrap_total_per_minute > cfg->bootstrap_per_minute
                    ? cfg->bootstrap_total_per_minute : cfg->bootstrap_per_minute);
}

/* Its burst: a quarter of a minute's worth, between one and ten
 * addresses' bursts. */
static double
boot_total_burst(const struct lsn_relay_config *cfg)
{
    double b = boot_total_rate(cfg) / 4.0;

    return b < BOOT_BURST ? BOOT_BURST : b > 10 * BOOT_BURST ? 10 * BOOT_BURST : b;
}

/* The budget key of source address addr (len bytes): an IPv6 address
 * by its /64, since one host is given a whole /64 and could take a fresh
 * address for every connection; any other address as it is (cut to
 * fit).  Its length. */
static size_t
boot_key(char key[64], const char *addr, size_t len)
{
    char text[INET6_ADDRSTRLEN + 1];
    struct in6_addr a6;
    const char *zone;

    if (len < sizeof text) {
        memcpy(text, addr, len);
        text[len] = '\0';
        if ((zone = strchr(text, '%')) != NULL)     /* fe80::1%eth0 */
            text[zone - text] = '\0';
        if (inet_pton(AF_INET6, text, &a6) == 1 && !IN6_IS_ADDR_V4MAPPED(&a6))
            return (size_t)snprintf(key, 64, "%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64",
                                    a6.s6_addr[0], a6.s6_addr[1], a6.s6_addr[2],
                                    a6.s6_addr[3], a6.s6_addr[4], a6.s6_addr[5],
                                    a6.s6_addr[6], a6.s6_addr[7]);
    }
    if (len > 63)
        len = 63;
    memcpy(key, addr, len);
    key[len] = '\0';
    return len;
}

/* The budgets of source address addr (len bytes; boot_key), made with
 * full buckets if new; the least recently used slot is reused when the
 * table is full.  NULL without memory. */
static struct boot_addr *
boot_addr(struct lsn_relay *r, const char *raw, size_t raw_len)
{
    struct boot_addr *a, *lru = NULL;
    int64_t now = lsn_relay_now_ms();
    char addr[64];
    size_t len = boot_key(addr, raw, raw_len);

    _Static_assert(sizeof a->addr == sizeof addr, "a key fits a slot");
    if (r->boot_addrs == NULL &&
        (r->boot_addrs = calloc(BOOT_ADDRS, sizeof *r->boot_addrs)) == NULL)
        return NULL;
    for (size_t i = 0; i < r->n_boot_addrs; i++) {
        a = &r->boot_addrs[i];
        if (strlen(a->addr) == len && memcmp(a->addr, addr, len) == 0)
            return a;
        if (lru == NULL || (a->hs_ms > a->req_ms ? a->hs_ms : a->req_ms) <
                           (lru->hs_ms > lru->req_ms ? lru->hs_ms : lru->req_ms))
            lru = a;
    }
    a = r->n_boot_addrs < BOOT_ADDRS ? &r->boot_addrs[r->n_boot_addrs++] : lru;
    memcpy(a->addr, addr, len);
    a->addr[len] = '\0';
    a->hs = BOOT_BURST;
    a->req = BOOT_REQ_BURST;
    a->hs_ms = a->req_ms = now;
    return a;
}

static int
zap_frames(void *zap, zmq_msg_t *f, int max, int *n)
{
    *n = 0;
    for (;;) {
        zmq_msg_t tmp;
        int more;
        zmq_msg_init(&tmp);
        if (zmq_msg_recv(&tmp, zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&tmp);
            return *n == 0 ? LSN_ERR_NOT_FOUND : LSN_ERR_PROTOCOL;
        }
        more = zmq_msg_more(&tmp);
        if (*n < max)
            f[(*n)++] = tmp;
        else
            zmq_msg_close(&tmp);
        if (!more)
            return 0;
    }
}

static void
zap_reply(void *zap, const zmq_msg_t *reqid, const char *status,
          const char *text, const char *user, const uint8_t *meta, size_t mlen)
{
    zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(zap, zmq_msg_data((zmq_msg_t *)reqid), zmq_msg_size((zmq_msg_t *)reqid),
             ZMQ_SNDMORE);
    zmq_send(zap, status, strlen(status), ZMQ_SNDMORE);
    zmq_send(zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(zap, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(zap, meta, mlen, 0);
}

/* ZMTP metadata with one property, X-Key: the hex of the client key. */
static size_t
zap_meta(uint8_t *m, const uint8_t key[32])
{
    static const char name[] = "X-Key";
    size_t nl = sizeof name - 1;

    m[0] = (uint8_t)nl;
    memcpy(m + 1, name, nl);
    m[1 + nl] = 0;
    m[2 + nl] = 0;
    m[3 + nl] = 0;
    m[4 + nl] = 64;
    lsn_hex((char *)m + 5 + nl, key, 32);
    return 5 + nl + 64;
}

void
lsn_zap_refused_log(struct lsn_relay *r)
{
    int64_t now = lsn_relay_now_ms();

    if (r->refused_n == 0 || now - r->refused_log_ms < 1000)
        return;
    if (r->refused_n == 1)
        lsn_relay_log("refused key %.16s...: not in the allow-list", r->refused_hex);
    else
        lsn_relay_log("refused %llu handshakes from keys not in the allow-list "
                      "(latest %.16s...)", (unsigned long long)r->refused_n,
                      r->refused_hex);
    r->refused_n = 0;
    r->refused_log_ms = now;
}

void
lsn_zap_handle(struct lsn_relay *r)
{
    zmq_msg_t f[8];
    int n = 0;
    const char *id;
    struct boot_addr *ba;
    uint8_t key[32], meta[128];
    char user[80], hex[65];

    if (zap_frames(r->zap, f, 8, &n) != 0) {
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
        if (n > 0) /* a REP must answer what it received */
            zmq_send(r->zap, "", 0, 0);
        return;
    }
    if (n < 6 || zmq_msg_size(&f[0]) != 3 || memcmp(zmq_msg_data(&f[0]), "1.0", 3) != 0) {
        zap_reply(r->zap, &f[n > 1 ? 1 : 0], "500", "bad ZAP request", "", NULL, 0);
        goto out;
    }
    if (n != 7 || zmq_msg_size(&f[5]) != 5 ||
        memcmp(zmq_msg_data(&f[5]), "CURVE", 5) != 0 || zmq_msg_size(&f[6]) != 32) {
        zap_reply(r->zap, &f[1], "400", "CURVE only", "", NULL, 0);
        goto out;
    }
    memcpy(key, zmq_msg_data(&f[6]), 32);
    lsn_hex(hex, key, 32);
    if ((id = lsn_relay_allow_find(r, key)) != NULL) {
        zap_reply(r->zap, &f[1], "200", "OK", id, meta, zap_meta(meta, key));
        goto out;
    }
    /* The budget of its source address, and the global one: a key cycling
     * outsider spends its own address's budget, not a new member's. */
    ba = r->cfg.bootstrap_per_minute == 0 ? NULL
         : boot_addr(r, zmq_msg_data(&f[3]), zmq_msg_size(&f[3]));
    lsn_bucket_fill(&r->boot_tokens, &r->boot_last_ms,
                boot_total_rate(&r->cfg) / 60.0,
                boot_total_burst(&r->cfg));
    if (ba != NULL)
        lsn_bucket_fill(&ba->hs, &ba->hs_ms, (double)r->cfg.bootstrap_per_minute / 60.0,
                    BOOT_BURST);
    if (ba != NULL && ba->hs >= 1.0 && r->boot_tokens >= 1.0) {
        ba->hs -= 1.0;
        r->boot_tokens -= 1.0;
        snprintf(user, sizeof user, "~%s", hex);
        lsn_relay_log("unknown key %.16s... admitted for a first bundle only", hex);
        zap_reply(r->zap, &f[1], "200", "OK", user, meta, zap_meta(meta, key));
        goto out;
    }
    r->refused_n++;
    memcpy(r->refused_hex, hex, 16);
    lsn_zap_refused_log(r);
    zap_reply(r->zap, &f[1], "400", "key not admitted", "", NULL, 0);
out:
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

int
lsn_zap_request_token(struct lsn_relay *r, const char *addr, size_t len)
{
    struct boot_addr *ba = boot_addr(r, addr != NULL ? addr : "",
                                     addr != NULL ? strlen(addr) : 0);

    lsn_bucket_fill(&r->boot_req_tokens, &r->boot_req_last_ms, BOOT_REQ_ALL_PER_S,
                    BOOT_REQ_ALL_BURST);
    if (ba != NULL)
        lsn_bucket_fill(&ba->req, &ba->req_ms, BOOT_REQ_PER_S, BOOT_REQ_BURST);
    if (ba == NULL || ba->req < 1.0 || r->boot_req_tokens < 1.0 ||
        len > r->cfg.bootstrap_max_bytes)
        return LSN_ERR_DENIED;
    ba->req -= 1.0;
    r->boot_req_tokens -= 1.0;
    return 0;
}

void
lsn_zap_budgets_reset(struct lsn_relay *r)
{
    r->boot_tokens = boot_total_burst(&r->cfg);
    r->boot_req_tokens = BOOT_REQ_ALL_BURST;
    r->boot_last_ms = r->boot_req_last_ms = lsn_relay_now_ms();
    r->n_boot_addrs = 0;
}
