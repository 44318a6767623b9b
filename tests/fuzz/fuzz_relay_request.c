/* fuzz_relay_request.c: the relay's request path (relay/request.c and
 * the handler table of relay/handlers.c, relay/h_*.c) without a
 * network, through relay/offline.h: a relay "r1" with its own store in a
 * temporary folder, a roster of two orgs (alpha homed on r1, bravo on the
 * peer relay r2) and both orgs' bundles, at the fixtures' fixed time.
 *
 * Input: an identity byte (who the ZAP handler says sent the frames, see
 * whos[]), a flag byte (bit 0: the last frame came with more frames), then
 * up to RQ_MAX_FRAMES request frames, each a 2-byte big-endian length and
 * the bytes (a short tail is the last frame).  The frames go through one
 * group-commit round whose batch is dropped, so every input starts from
 * the same stored state.
 *
 * Invariants: every reply is a well-formed Response (strict decode) that
 * carries either an error (negative code, a sentence) or a body, never
 * both; every request gets exactly one reply, in order, with its request
 * id (0 if it is no Request, unless refused before the decode), where a
 * frame is one request or each request of its batch (docs/wire.md
 * "Batched requests"), and one refusal may answer several requests of a
 * batch by their ids (WireError.also); an unknown key gets UNPUBLISHED
 * with its one sentence (or KEY_REMOVED) or a stored bundle; a device never gets a relay-only
 * answer and a peer relay nothing else; pushes only follow a subscribe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/keyfile.h"
#include "keys/signed.h"
#include "keys/util.h"
#include "proto/err.h"
#include "proto/wire.h"
#include "relay/offline.h"
#include "tests/fuzz/fuzzfix.h"

#define RQ_MAX_FRAMES 16
/* Requests of one input: each frame a batch at its largest. */
#define RQ_MAX_REQUESTS (RQ_MAX_FRAMES * LSN_WIRE_BATCH_ITEMS)

struct who_fix {
    char user[80];
    char key[65];
    int null_key;
    enum { K_DEVICE, K_RELAY, K_UNKNOWN, K_BAD } kind;
};

static const struct ff_world *w;
static struct lsn_relay_config cfg;
static struct lsn_relay *relay;
static uint64_t base_gen;
static struct who_fix whos[8];
static uint8_t r1_pk[32], r2_pk[32];

/* What the replies of one input were. */
struct got {
    Liaison__Response *resp[4 * RQ_MAX_REQUESTS + 64];
    size_t n;
    int overflow;
};

static int
got_one(void *ctx, Liaison__Response *resp)
{
    struct got *g = ctx;

    if (g->n == sizeof g->resp / sizeof g->resp[0]) {
        g->overflow = 1;
        lsn_pb_free(&resp->base);
        return 0;
    }
    g->resp[g->n++] = resp;
    return 0;
}

static void
sink(void *ctx, const uint8_t *buf, size_t len)
{
    /* Well-formed: the strict decoder a client uses takes the frame and
     * every Response a batch of it holds. */
    FF_CHECK(lsn_wire_frame_each(buf, len, LSN_WIRE_FRAME_MAX, got_one, ctx) == 0);
}

static void
die(const char *what, int r)
{
    fprintf(stderr, "fuzz_relay_request: %s: %s (%s)\n", what, lsn_strerror(r),
            lsn_detail());
    abort();
}

/* A roster like fuzzfix's v1 but with the peer relay r2 and bravo homed
 * there, signed by both authorities. */
static struct lsn_roster *
roster_make(void)
{
    Liaison__Roster body = LIAISON__ROSTER__INIT;
    Liaison__RosterRelay rel[2], *relp[2];
    Liaison__RosterOrg os[2], *osp[2];
    const struct ff_org *orgs[2] = { &w->alpha, &w->bravo };
    ProtobufCBinaryData auth[2];
    struct lsn_roster *ro = NULL;
    int r;

    for (size_t i = 0; i < 2; i++) {
        liaison__roster_relay__init(&rel[i]);
        rel[i].name = (char *)(i == 0 ? "r1" : "r2");
        rel[i].endpoint = (char *)(i == 0 ? "tcp://127.0.0.1:7401" : "tcp://127.0.0.1:7402");
        rel[i].curve_key = (ProtobufCBinaryData){ 32, i == 0 ? r1_pk : r2_pk };
        relp[i] = &rel[i];
        auth[i] = (ProtobufCBinaryData){ 32, (uint8_t *)w->auth_pk[i] };
        liaison__roster_org__init(&os[i]);
        os[i].id = (char *)orgs[i]->id;
        os[i].display = (char *)(i == 0 ? "Alpha Police" : "Bravo Payments");
        os[i].root_key = (ProtobufCBinaryData){ 32, (uint8_t *)orgs[i]->root_pk };
        os[i].relay = (char *)(i == 0 ? "r1" : "r2");
        osp[i] = &os[i];
    }
    body.coalition = "fuzz";
    body.version = 1;
    body.issued = FF_NOW - FF_DAY;
    body.expires = FF_NOW + 365 * FF_DAY;
    body.authorities = auth;
    body.n_authorities = 2;
    body.threshold = 2;
    body.orgs = osp;
    body.n_orgs = 2;
    body.relays = relp;
    body.n_relays = 2;
    if ((r = lsn_roster_from_body(&body, &ro)) != 0 ||
        (r = lsn_roster_sign(ro, w->auth_sk[0])) != 0 ||
        (r = lsn_roster_sign(ro, w->auth_sk[1])) != 0)
        die("roster", r);
    return ro;
}

static void
who_set(size_t i, const char *user, const uint8_t key[32], int kind)
{
    snprintf(whos[i].user, sizeof whos[i].user, "%s", user);
    if (key != NULL)
        lsn_hex(whos[i].key, key, 32);
    whos[i].null_key = key == NULL;
    whos[i].kind = kind;
}

static void
relay_open(void)
{
    int r;

    if ((r = lsn_relay_open_offline(&cfg, FF_NOW, &relay)) != 0)
        die("open relay", r);
    base_gen = lsn_relay_offline_dir_gen(relay);
}

static void
drop_replies(void *ctx, const uint8_t *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
}

/* The peer relay r2 syncs both bundles, committed once. */
static void
bundles_put(void)
{
    const struct lsn_bundle *b[2] = { w->alpha.bundle, w->bravo.bundle };
    uint8_t *fr[2] = { NULL, NULL };
    size_t len[2];
    int r;

    for (size_t i = 0; i < 2; i++) {
        Liaison__Request req = LIAISON__REQUEST__INIT;
        Liaison__DirPutRequest p = LIAISON__DIR_PUT_REQUEST__INIT;
        p.kind = LIAISON__DIR_KIND__DIR_BUNDLE;
        p.object = (ProtobufCBinaryData){ b[i]->len, b[i]->bytes };
        req.id = i + 1;
        req.body_case = LIAISON__REQUEST__BODY_DIR_SYNC;
        req.dir_sync = &p;
        if ((r = lsn_pb_encode(&req.base, &fr[i], &len[i])) != 0)
            die("encode", r);
    }
    if ((r = lsn_relay_offline_round(relay, whos[2].user, whos[2].key,
                                     (const uint8_t *const *)fr, len, 2,
                                     LSN_OFFLINE_COMMIT, drop_replies, NULL)) != 0)
        die("bundles", r);
    free(fr[0]);
    free(fr[1]);
    lsn_relay_destroy(&relay);
    relay_open();
}

static char tmpdir[] = "/tmp/lsn-fuzz-relay-XXXXXX";

/* At exit: the relay closed, its folder removed. */
static void
cleanup(void)
{
    static const char *const files[] = {
        "data/data.mdb", "data/lock.mdb", "data", "roster.signed", "relay.key",
    };
    char path[512];

    lsn_relay_destroy(&relay);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
        if (unlink(path) != 0)
            rmdir(path);
    }
    rmdir(tmpdir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *dir = tmpdir, path[512];
    uint8_t r1_sk[32], r2_sk[32], unknown[32], admin[32], other[32];
    struct lsn_roster *ro;
    int r;

    (void)argc;
    (void)argv;
    w = ff_world();
    lsn_relay_log_quiet(1);
    if (mkdtemp(dir) == NULL)
        die("mkdtemp", LSN_ERR_IO);
    atexit(cleanup);
    ff_derive(r1_sk, "fuzz relay r1 secret");
    ff_derive(r2_sk, "fuzz relay r2 secret");
    crypto_scalarmult_base(r1_pk, r1_sk);
    crypto_scalarmult_base(r2_pk, r2_sk);
    ff_derive(unknown, "fuzz relay unknown curve");
    ff_derive(admin, "fuzz relay admin curve");   /* gen_corpus's new admin */
    ff_derive(other, "fuzz relay other curve");
    ro = roster_make();
    snprintf(path, sizeof path, "%s/roster.signed", dir);
    if ((r = lsn_signed_file_write(path, LSN_TYPE_ROSTER, ro->bytes, ro->len, 0)) != 0)
        die("roster file", r);
    lsn_roster_destroy(&ro);
    lsn_relay_config_defaults(&cfg);
    snprintf(cfg.roster, sizeof cfg.roster, "%s", path);
    snprintf(path, sizeof path, "%s/relay.key", dir);
    if ((r = lsn_secret_write(path, LSN_KEY_RELAY, "fuzz r1", r1_sk, 32, NULL, 0)) != 0)
        die("key file", r);
    snprintf(cfg.key, sizeof cfg.key, "%s", path);
    snprintf(cfg.data, sizeof cfg.data, "%s/data", dir);
    snprintf(cfg.listen, sizeof cfg.listen, "tcp://127.0.0.1:0");
    cfg.map_size = 64u << 20;
    sodium_memzero(r1_sk, sizeof r1_sk);

    who_set(0, "alpha/d1", w->alpha.cred->keys->curve_pk, K_DEVICE);
    who_set(1, "bravo/d1", w->bravo.cred->keys->curve_pk, K_DEVICE);
    who_set(2, "relay:r2", r2_pk, K_RELAY);
    who_set(3, "relay:r1", r1_pk, K_RELAY);
    path[0] = '~';
    lsn_hex(path + 1, unknown, 32);
    who_set(4, path, unknown, K_UNKNOWN);
    lsn_hex(path + 1, admin, 32);
    who_set(5, path, admin, K_UNKNOWN);
    who_set(6, "alpha/d1", other, K_DEVICE);     /* re-keyed: refused */
    who_set(7, "alpha", NULL, K_BAD);            /* no key, no device */
    relay_open();
    bundles_put();
    return 0;
}

/* 1 if resp is the relay's refusal of an unknown key. */
static int
unknown_refusal(const Liaison__Response *resp)
{
    return resp->error != NULL && (resp->error->code == LSN_ERR_UNPUBLISHED ||
                                   resp->error->code == LSN_ERR_KEY_REMOVED);
}

/* Checks one reply to a frame from who. */
static void
check_reply(const struct who_fix *who, const Liaison__Response *resp,
            const Liaison__Request *req)
{
    FF_CHECK((resp->error != NULL) != (resp->body_case != LIAISON__RESPONSE__BODY__NOT_SET));
    FF_CHECK(resp->body_case != LIAISON__RESPONSE__BODY_PUSH);
    if (resp->error != NULL) {
        FF_CHECK(resp->error->code < 0);
        FF_CHECK(resp->error->message != NULL && resp->error->message[0] != '\0');
    }
    /* An id the frame did not carry only on a refusal before the decode
     * (rate, connections, the unknown-key budget), which peeks at it. */
    if (req == NULL)
        FF_CHECK(resp->error != NULL &&
                 (resp->id == 0 || resp->error->code == LSN_ERR_RATE ||
                  resp->error->code == LSN_ERR_DENIED || unknown_refusal(resp)));
    else
        FF_CHECK(resp->id == req->id || (resp->id == 0 && resp->error != NULL));
    switch (who->kind) {
    case K_UNKNOWN:
        if (resp->error != NULL) {
            FF_CHECK(unknown_refusal(resp) || resp->error->code == LSN_ERR_RATE);
            if (resp->error->code == LSN_ERR_UNPUBLISHED)
                FF_CHECK(strcmp(resp->error->message,
                                lsn_strerror(LSN_ERR_UNPUBLISHED)) == 0);
        } else {
            FF_CHECK(resp->body_case == LIAISON__RESPONSE__BODY_DIR_PUT);
        }
        break;
    case K_DEVICE:
        FF_CHECK(resp->body_case != LIAISON__RESPONSE__BODY_FORWARD &&
                 resp->body_case != LIAISON__RESPONSE__BODY_DIR_SYNC &&
                 resp->body_case != LIAISON__RESPONSE__BODY_PEER_STATUS);
        break;
    case K_RELAY:
        FF_CHECK(resp->error != NULL ||
                 resp->body_case == LIAISON__RESPONSE__BODY_FORWARD ||
                 resp->body_case == LIAISON__RESPONSE__BODY_DIR_SYNC ||
                 resp->body_case == LIAISON__RESPONSE__BODY_PEER_STATUS);
        break;
    case K_BAD:
        FF_CHECK(resp->error != NULL && resp->error->code == LSN_ERR_DENIED);
        break;
    }
}

/* The requests one input's frames hold, as the relay takes them apart
 * (relay/request.c frame_handle); decode 0 marks one the relay refuses
 * without decoding (a message of several frames, a broken batch). */
struct requests {
    const uint8_t *buf[RQ_MAX_REQUESTS];
    size_t len[RQ_MAX_REQUESTS];
    int decode[RQ_MAX_REQUESTS];
    size_t frame[RQ_MAX_REQUESTS];  /* which frame it came in */
    size_t n, frames;
};

static void
request_add(struct requests *q, const uint8_t *buf, size_t len, int decode)
{
    FF_CHECK(q->n < RQ_MAX_REQUESTS);
    q->buf[q->n] = buf;
    q->len[q->n] = len;
    q->frame[q->n] = q->frames;
    q->decode[q->n++] = decode;
}

static int
request_of_batch(void *ctx, const uint8_t *buf, size_t len)
{
    request_add(ctx, buf, len, 1);
    return 0;
}

static void
requests_of_frame(struct requests *q, const struct who_fix *who,
                  const uint8_t *buf, size_t len, int extra)
{
    size_t before = q->n;
    int r = LSN_ERR_NOT_FOUND;

    q->frames++;
    if (!extra &&
        (r = lsn_wire_batch_each(LSN_WIRE_REQUESTS, buf, len, request_of_batch, q)) == 0) {
        if (who->kind != K_BAD)
            return;
        q->n = before;          /* an unreadable identity: one refusal */
    }
    request_add(q, buf, len, !extra && r == LSN_ERR_NOT_FOUND);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *fr[RQ_MAX_FRAMES];
    size_t len[RQ_MAX_FRAMES], n = 0, at = 2, k = 0;
    static Liaison__Request *req[RQ_MAX_REQUESTS];
    static struct requests q;
    static struct got g;
    const struct who_fix *who;
    uint64_t sub_id = 0;
    int subscribed = 0;

    if (size < 2)
        return 0;
    who = &whos[data[0] % (sizeof whos / sizeof whos[0])];
    while (at < size && n < RQ_MAX_FRAMES) {
        size_t l = size - at >= 2 ? (size_t)data[at] << 8 | data[at + 1] : 0;
        if (size - at < 2 || l > size - at - 2) {   /* the tail is one frame */
            fr[n] = data + at;
            len[n++] = size - at;
            break;
        }
        fr[n] = data + at + 2;
        len[n++] = l;
        at += 2 + l;
    }
    g.n = 0;                    /* not a memset: g is megabytes */
    g.overflow = 0;
    FF_CHECK(lsn_relay_offline_round(relay, who->user, who->null_key ? NULL : who->key,
                                     fr, len, n, (data[1] & 1) ? LSN_OFFLINE_EXTRA : 0,
                                     sink, &g) == 0);
    FF_CHECK(!g.overflow);
    /* What the relay decodes, the test decodes the same way. */
    q.n = q.frames = 0;
    for (size_t i = 0; i < n; i++)
        requests_of_frame(&q, who, fr[i], len[i], (data[1] & 1) && i + 1 == n);
    for (size_t i = 0; i < q.n; i++) {
        req[i] = NULL;
        if (q.decode[i])
            LSN_PB_DECODE(request, q.buf[i], q.len[i], cfg.max_envelope + 64u * 1024u,
                          &req[i]);
    }
    for (size_t i = 0; i < g.n; i++) {
        const Liaison__Response *resp = g.resp[i];
        if (getenv("FUZZ_RELAY_DEBUG") != NULL)     /* what a seed does */
            fprintf(stderr, "%s: reply id %llu body %d error %d %s\n", who->user,
                    (unsigned long long)resp->id, (int)resp->body_case,
                    resp->error != NULL ? resp->error->code : 0,
                    resp->error != NULL ? resp->error->message : "");
        if (resp->body_case == LIAISON__RESPONSE__BODY_PUSH) {
            FF_CHECK(subscribed && resp->id == sub_id);
            FF_CHECK(resp->push->n_items > 0);
            continue;
        }
        FF_CHECK(k < q.n);
        check_reply(who, resp, req[k]);
        /* One refusal may answer the requests after it too, of the same
         * frame: the rest of a batch once the connection's tokens are
         * spent (each input starts with a full bucket, cfg.burst), or an
         * unknown key's batch; their ids, in order. */
        if (resp->error != NULL && resp->error->n_also > 0) {
            FF_CHECK(resp->error->n_also < q.n - k);
            FF_CHECK(q.frame[k + resp->error->n_also] == q.frame[k]);
            FF_CHECK((resp->error->code == LSN_ERR_RATE && k >= cfg.burst) ||
                     (unknown_refusal(resp) && who->kind == K_UNKNOWN));
            for (size_t j = 0; j < resp->error->n_also; j++)
                FF_CHECK(req[k + 1 + j] == NULL ||
                         resp->error->also[j] == req[k + 1 + j]->id);
            k += resp->error->n_also;
        }
        if (req[k] != NULL && req[k]->body_case == LIAISON__REQUEST__BODY_SUBSCRIBE &&
            resp->body_case == LIAISON__RESPONSE__BODY_SUBSCRIBE) {
            subscribed = 1;
            sub_id = req[k]->id;
        }
        k++;
    }
    FF_CHECK(k == q.n);
    for (size_t i = 0; i < q.n; i++)
        lsn_pb_free(req[i] != NULL ? &req[i]->base : NULL);
    for (size_t i = 0; i < g.n; i++)
        lsn_pb_free(&g.resp[i]->base);
    /* A stored directory object changes memory the dropped batch does not:
     * start the next input from the stored state again. */
    lsn_relay_offline_reset(relay);
    if (lsn_relay_offline_dir_gen(relay) != base_gen) {
        lsn_relay_destroy(&relay);
        relay_open();
    }
    return 0;
}
