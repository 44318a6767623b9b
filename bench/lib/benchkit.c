/* benchkit.c: the benchmarks' shared baselines, relay driver and
 * statistics (benchkit.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "bench/lib/benchkit.h"
#include "client/seal.h"
#include "keys/util.h"
#include "proto/envelope.h"
#include "proto/err.h"
#include "tests/lib/sealfix.h"

/* ---------------------------------------------------------- clock, stats */

double
bk_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

double
bk_quantile(double *v, size_t n, double q)
{
    size_t i;

    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    i = (size_t)(q * (double)n);
    return v[i < n ? i : n - 1];
}

double
bk_median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
bk_rounds(int dflt, int max)
{
    const char *e = getenv("LSN_BENCH_ROUNDS");
    char *end;
    long n;

    if (e == NULL || *e == '\0')
        return dflt;
    n = strtol(e, &end, 10);
    return *end == '\0' && n >= 1 && n <= max ? (int)n : dflt;
}

/* Fixtures whose relays bk_die stops, so a failed run leaves none behind. */
static struct rf *live[4];

static void
live_add(struct rf *f)
{
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        if (live[i] == NULL || live[i] == f) {
            live[i] = f;
            return;
        }
}

void
bk_die(const char *what, int err)
{
    fprintf(stderr, "bench: %s failed: %s\n", what, err ? lsn_strerror(err) : "");
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        for (size_t k = 0; live[i] != NULL && k < live[i]->n_relays; k++)
            rf_stop_relay(live[i], k, SIGKILL);
    exit(1);
}

/* ---------------------------------------------------------- fdatasync */

int
bk_fsync_run(const char *dir, size_t rec, size_t batch, double seconds,
             struct bk_sync *out)
{
    char path[4096];
    uint8_t *buf = NULL;
    double *t = NULL, t0, t1;
    size_t cap = 1 << 16, n = 0;
    int fd = -1, r = LSN_ERR_IO;

    snprintf(path, sizeof path, "%s/fsync-%d.dat", dir, (int)getpid());
    if ((buf = malloc(rec)) == NULL || (t = malloc(cap * sizeof *t)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    randombytes_buf(buf, rec);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600)) < 0)
        goto out;
    t0 = bk_now();
    do {
        double s = bk_now();
        for (size_t i = 0; i < batch; i++)
            if (write(fd, buf, rec) != (ssize_t)rec)
                goto out;
        if (fdatasync(fd) != 0)
            goto out;
        t1 = bk_now();
        if (n < cap)
            t[n] = t1 - s;
        n++;
    } while (t1 - t0 < seconds);
    /* From the median round: a stall caused by another process's writes
     * (the journal is shared) does not decide the bound. */
    out->median_s = bk_median(t, n < cap ? n : cap);
    out->syncs_per_s = 1.0 / out->median_s;
    out->records_per_s = out->syncs_per_s * (double)batch;
    r = 0;
out:
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    free(buf);
    free(t);
    return r;
}

/* ---------------------------------------------------------- raw CURVE */

struct bk_curve {
    void *ctx, *router;
    pthread_t th;
    size_t reply_len;
    char endpoint[64];
    uint8_t server_pk[32];
};

/* The server: every request frame gets reply_len bytes back; a 1-byte
 * frame "Q" stops it. */
static void *
curve_serve(void *arg)
{
    struct bk_curve *s = arg;
    uint8_t *reply = calloc(1, s->reply_len);

    for (;;) {
        zmq_msg_t rid, body;
        int quit;
        zmq_msg_init(&rid);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&rid, s->router, 0) < 0 ||
            zmq_msg_recv(&body, s->router, 0) < 0) {
            zmq_msg_close(&rid);
            zmq_msg_close(&body);
            break;
        }
        quit = zmq_msg_size(&body) == 1 && *(char *)zmq_msg_data(&body) == 'Q';
        if (!quit) {
            zmq_msg_send(&rid, s->router, ZMQ_SNDMORE);
            zmq_send(s->router, reply, s->reply_len, 0);
        }
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
        if (quit)
            break;
    }
    free(reply);
    return NULL;
}

int
bk_curve_start(size_t reply_len, struct bk_curve **out)
{
    struct bk_curve *s = calloc(1, sizeof *s);
    uint8_t sk[32];
    size_t el;
    int one = 1, r = LSN_ERR_IO;

    *out = NULL;
    if (s == NULL)
        return LSN_ERR_NOMEM;
    s->reply_len = reply_len;
    crypto_box_keypair(s->server_pk, sk);
    el = sizeof s->endpoint;
    if ((s->ctx = zmq_ctx_new()) == NULL ||
        (s->router = zmq_socket(s->ctx, ZMQ_ROUTER)) == NULL ||
        zmq_setsockopt(s->router, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(s->router, ZMQ_CURVE_SECRETKEY, sk, 32) != 0 ||
        zmq_bind(s->router, "tcp://127.0.0.1:*") != 0 ||
        zmq_getsockopt(s->router, ZMQ_LAST_ENDPOINT, s->endpoint, &el) != 0 ||
        pthread_create(&s->th, NULL, curve_serve, s) != 0) {
        if (s->router != NULL)
            zmq_close(s->router);
        if (s->ctx != NULL)
            zmq_ctx_term(s->ctx);
        free(s);
        goto out;
    }
    *out = s;
    r = 0;
out:
    sodium_memzero(sk, sizeof sk);
    return r;
}

/* A DEALER connected as a fresh CURVE client; the first round trip (the
 * handshake) is done before it is returned. */
static void *
curve_client(struct bk_curve *s, void **ctx)
{
    uint8_t pk[32], sk[32], x[8] = { 0 };
    void *d;
    int linger = 0;

    crypto_box_keypair(pk, sk);
    *ctx = zmq_ctx_new();
    d = zmq_socket(*ctx, ZMQ_DEALER);
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, s->server_pk, 32);
    zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, pk, 32);
    zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, sk, 32);
    sodium_memzero(sk, sizeof sk);
    if (zmq_connect(d, s->endpoint) != 0 || zmq_send(d, x, sizeof x, 0) < 0 ||
        zmq_recv(d, x, sizeof x, 0) < 0)
        bk_die("raw CURVE connect", 0);
    return d;
}

static void
curve_client_close(void *d, void *ctx)
{
    zmq_close(d);
    zmq_ctx_term(ctx);
}

void
bk_curve_stop(struct bk_curve **sp)
{
    struct bk_curve *s = *sp;
    void *ctx, *d;

    if (s == NULL)
        return;
    d = curve_client(s, &ctx);
    zmq_send(d, "Q", 1, 0);
    pthread_join(s->th, NULL);
    curve_client_close(d, ctx);
    zmq_close(s->router);
    zmq_ctx_term(s->ctx);
    free(s);
    *sp = NULL;
}

int
bk_curve_pipelined(struct bk_curve *s, size_t len, size_t window,
                   double seconds, double *rate)
{
    uint8_t *buf = malloc(len), reply[256];
    void *ctx, *d = curve_client(s, &ctx);
    size_t inflight = 0;
    uint64_t done = 0;
    double t0, tl = 0;

    if (buf == NULL)
        return LSN_ERR_NOMEM;
    randombytes_buf(buf, len);
    t0 = bk_now();
    for (;;) {
        while (inflight < window && bk_now() - t0 < seconds) {
            if (zmq_send(d, buf, len, 0) < 0)
                bk_die("raw CURVE send", 0);
            inflight++;
        }
        if (inflight == 0)
            break;
        if (zmq_recv(d, reply, sizeof reply, 0) < 0)
            bk_die("raw CURVE receive", 0);
        inflight--;
        done++;
        tl = bk_now();
    }
    *rate = (double)done / (tl - t0);
    curve_client_close(d, ctx);
    free(buf);
    return 0;
}

int
bk_curve_rtt(struct bk_curve *s, size_t len, double seconds, double *median,
             double *p99)
{
    uint8_t *buf = malloc(len), reply[256];
    void *ctx, *d = curve_client(s, &ctx);
    size_t cap = 1 << 16, n = 0;
    double *t = malloc(cap * sizeof *t), t0 = bk_now();

    if (buf == NULL || t == NULL)
        return LSN_ERR_NOMEM;
    randombytes_buf(buf, len);
    while (n < cap && bk_now() - t0 < seconds) {
        double a = bk_now();
        if (zmq_send(d, buf, len, 0) < 0 || zmq_recv(d, reply, sizeof reply, 0) < 0)
            bk_die("raw CURVE round trip", 0);
        t[n++] = bk_now() - a;
    }
    *median = bk_median(t, n);
    *p99 = bk_quantile(t, n, 0.99);
    curve_client_close(d, ctx);
    free(buf);
    free(t);
    return 0;
}

/* ---------------------------------------------------------- libsodium */

/* CPU seconds the calling thread has used. */
static double
thread_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
bk_rate(bk_op_fn op, void *ctx, double window, enum bk_clock clock)
{
    double (*now)(void) = clock == BK_CPU ? thread_cpu : bk_now;
    double t0 = now(), t;
    long n = 0;

    do {
        for (int i = 0; i < 16; i++)
            if (op(ctx) != 0)
                bk_die("timed operation", 0);
        n += 16;
        t = now() - t0;
    } while (t < window);
    return (double)n / t;
}

static uint8_t p_pk[32], p_sk[64], p_msg[148], p_sig[64], p_xsk[32], p_xpk[32],
               p_xout[32];
static int p_ready;

static int
op_sign(void *ctx)
{
    (void)ctx;
    return crypto_sign_detached(p_sig, NULL, p_msg, sizeof p_msg, p_sk);
}

static int
op_verify(void *ctx)
{
    (void)ctx;
    return crypto_sign_verify_detached(p_sig, p_msg, sizeof p_msg, p_pk);
}

static int
op_xbase(void *ctx)
{
    (void)ctx;
    return crypto_scalarmult_base(p_xout, p_xsk);
}

static int
op_x(void *ctx)
{
    (void)ctx;
    return crypto_scalarmult(p_xout, p_xsk, p_xpk);
}

static void
raise_to(double *best, double rate)
{
    if (rate > *best)
        *best = rate;
}

void
bk_prims_pass(double window, enum bk_clock clock, struct bk_prims *best)
{
    if (!p_ready) {
        crypto_sign_keypair(p_pk, p_sk);
        randombytes_buf(p_msg, sizeof p_msg);
        crypto_box_keypair(p_xpk, p_xsk);
        op_sign(NULL);
        p_ready = 1;
    }
    raise_to(&best->sign, bk_rate(op_sign, NULL, window, clock));
    raise_to(&best->verify, bk_rate(op_verify, NULL, window, clock));
    raise_to(&best->x25519, bk_rate(op_x, NULL, window, clock));
    raise_to(&best->x25519_base, bk_rate(op_xbase, NULL, window, clock));
}

double
bk_seal_limit(const struct bk_prims *p, size_t n)
{
    return 1.0 / (1.0 / p->sign + 1.0 / p->x25519_base + (double)n / p->x25519);
}

double
bk_open_limit(const struct bk_prims *p)
{
    return 1.0 / (1.0 / p->verify + 1.0 / p->x25519);
}

/* ---------------------------------------------------------- the relay */

int
bk_relay_new(struct rf *f, const char *tag, size_t n_orgs)
{
    int r;

    if ((r = rf_setup(f, tag, n_orgs, 1, BK_RELAY_CONFIG)) != 0)
        return r;
    live_add(f);
    return bk_relay_fresh(f);
}

/* Whether the relay org i is homed on serves a bundle of every org (a
 * federated relay learns the others' by directory sync). */
static int
directory_complete(struct rf *f, size_t i)
{
    struct lsn_relay_client *c = NULL;
    int ok = 1;

    if (rf_connect(f, f->orgs[i].dev[0], &c) != 0)
        return 0;
    for (size_t j = 0; j < f->n_orgs && ok; j++) {
        Liaison__DirGetReply *g = NULL;
        ok = lsn_relay_client_dir_get(c, LIAISON__DIR_KIND__DIR_BUNDLE, f->orgs[j].id,
                                      NULL, &g) == 0 && g->n_objects == 1;
        if (g != NULL)
            lsn_pb_free(&g->base);
    }
    lsn_relay_client_close(&c);
    return ok;
}

int
bk_relay_fresh(struct rf *f)
{
    char cmd[PATH_MAX + 32];
    int r;

    for (size_t k = 0; k < f->n_relays; k++)
        rf_stop_relay(f, k, SIGTERM);
    for (size_t k = 0; k < f->n_relays; k++) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s/data'", f->relays[k].dir);
        if (system(cmd) != 0)
            return LSN_ERR_IO;
    }
    for (size_t k = 0; k < f->n_relays; k++)
        if ((r = rf_start_relay(f, k)) != 0)
            return r;
    for (size_t i = 0; i < f->n_orgs; i++) {
        /* The relay may still be opening its store when the port answers. */
        for (int k = 0; (r = rf_publish(f, i)) != 0 && k < 20; k++)
            usleep(50000);
        if (r != 0)
            return r;
    }
    for (size_t i = 0; f->n_relays > 1 && i < f->n_orgs; i++)
        for (int k = 0; !directory_complete(f, i); k++) {
            if (k == 200)
                return LSN_ERR_TIMEOUT;
            usleep(50000);
        }
    return 0;
}

int
bk_fed_new(struct rf *f, const char *tag, size_t n_orgs, const size_t *home)
{
    int r;

    if ((r = rf_setup_fed(f, tag, 2, home, n_orgs, 1,
                          BK_RELAY_CONFIG "peer_backoff_ms 50\npeer_backoff_max_ms 400\n")) != 0)
        return r;
    live_add(f);
    return bk_relay_fresh(f);
}

static long
status_kb(const char *text, const char *key)
{
    const char *p = strstr(text, key);

    return p != NULL ? strtol(p + strlen(key), NULL, 10) : -1;
}

int
bk_proc_mem(pid_t pid, long *rss_kb, long *anon_kb, long *hwm_kb)
{
    char path[64], text[8192];
    FILE *fp;
    size_t n;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if ((fp = fopen(path, "r")) == NULL)
        return LSN_ERR_IO;
    n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    *rss_kb = status_kb(text, "VmRSS:");
    *anon_kb = status_kb(text, "RssAnon:");
    *hwm_kb = status_kb(text, "VmHWM:");
    return 0;
}

double
bk_proc_cpu(pid_t pid)
{
    char path[64], text[4096], *p;
    unsigned long ut = 0, st = 0;
    FILE *fp;
    size_t n;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if ((fp = fopen(path, "r")) == NULL)
        return 0;
    n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    /* Fields after the command name (which may hold spaces): state is
     * field 3, utime 14, stime 15. */
    if ((p = strrchr(text, ')')) == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
               &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int
bk_tpl_make(struct rf *f, size_t from, size_t to, size_t content_len,
            struct bk_tpl *t)
{
    const struct lsn_bundle *rb[1] = { f->orgs[to].bundle };
    struct lsn_envelope_info *info = NULL;
    struct lsn_seal_params p;
    Liaison__Alert a;
    uint8_t *hit;
    char *body = NULL;
    size_t bl = content_len * 3 / 4;
    int r = LSN_ERR_NOMEM;

    memset(t, 0, sizeof *t);
    if ((body = malloc(bl + 1)) == NULL || (info = malloc(sizeof *info)) == NULL)
        goto out;
    /* A body of 3/4 of content_len: with the alert's other fields the
     * encoding stays below content_len, and the padding (next power of
     * two) brings it to content_len. */
    memset(body, 'x', bl);
    body[bl] = '\0';
    sf_alert_sample(&a);
    a.body = body;
    memset(&p, 0, sizeof p);
    p.created = lsn_now();
    p.expires = p.created + 86400;
    p.bundle_version = f->orgs[from].bundle->b->version;
    if ((r = lsn_seal(&a, f->orgs[from].dev[0], rb, 1, &p, &t->env, &t->len)) != 0 ||
        (r = lsn_envelope_peek(t->env, t->len, t->len, info)) != 0)
        goto out;
    r = LSN_ERR_CORRUPT;
    if ((hit = memmem(t->env, t->len, info->msg_id, 16)) == NULL)
        goto out;
    t->id_off = (size_t)(hit - t->env);
    randombytes_buf(t->env + t->id_off, 8);
    r = 0;
out:
    free(body);
    free(info);
    return r;
}

void
bk_tpl_free(struct bk_tpl *t)
{
    free(t->env);
    memset(t, 0, sizeof *t);
}

void
bk_tpl_next(struct bk_tpl *t, uint64_t *seq)
{
    uint64_t v = t->next++, h = v * 0x9e3779b97f4a7c15ull;

    /* The first half looks random (a bijective mix of the counter), as a
     * sealed msg_id is: a counter alone would arrive in key order. */
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    for (int i = 0; i < 8; i++) {
        t->env[t->id_off + 15 - i] = (uint8_t)(v >> (8 * i));
        t->env[t->id_off + 7 - i] = (uint8_t)(h >> (8 * i));
    }
    if (seq != NULL)
        *seq = v;
}

uint64_t
bk_tpl_seq(const uint8_t msg_id[16])
{
    uint64_t v = 0;

    for (int i = 8; i < 16; i++)
        v = v << 8 | msg_id[i];
    return v;
}

int
bk_tpl_source(void *ctx, const uint8_t **env, size_t *len, int *owned)
{
    struct bk_tpl *t = ctx;

    bk_tpl_next(t, NULL);
    *env = t->env;
    *len = t->len;
    *owned = 0;
    return 0;
}

/* Takes one submit answer: 0 if it stored a new message. */
static int
submit_answer(struct lsn_wire *w, int timeout_ms)
{
    Liaison__Response *resp = NULL;
    int r;

    if ((r = lsn_wire_recv(w, timeout_ms, &resp)) != 0)
        return r;
    if ((r = lsn_wire_check(w, resp)) == 0 &&
        (resp->body_case != LIAISON__RESPONSE__BODY_SUBMIT || resp->submit->duplicate))
        r = LSN_ERR_PROTOCOL;
    if (r != 0)
        fprintf(stderr, "bench: submit refused: %s: %s\n", lsn_strerror(r),
                lsn_wire_message(w));
    lsn_pb_free(&resp->base);
    return r;
}

int
bk_submit_pipelined(struct lsn_relay_client *c, bk_next_fn next, void *ctx,
                    struct bk_submit_run *run)
{
    struct lsn_wire *w = lsn_relay_client_wire(c);
    size_t inflight = 0;
    uint64_t sent = 0;
    double t0 = bk_now(), tl = t0;
    int r;

    run->done = 0;
    for (;;) {
        while (inflight < run->window && bk_now() - t0 < run->seconds &&
               (run->max == 0 || sent < run->max)) {
            Liaison__Request req = LIAISON__REQUEST__INIT;
            Liaison__SubmitRequest s = LIAISON__SUBMIT_REQUEST__INIT;
            const uint8_t *env;
            size_t len;
            int owned;
            if ((r = next(ctx, &env, &len, &owned)) != 0)
                return r;
            s.envelope = (ProtobufCBinaryData){ len, (uint8_t *)env };
            req.body_case = LIAISON__REQUEST__BODY_SUBMIT;
            req.submit = &s;
            req.id = lsn_wire_next_id(w);
            r = lsn_wire_queue(w, &req);
            if (owned)
                free((void *)env);
            if (r != 0)
                return r;
            inflight++;
            sent++;
        }
        if (inflight == 0)
            break;
        if ((r = submit_answer(w, LSN_WIRE_TIMEOUT_MS)) != 0)
            return r;
        inflight--;
        run->done++;
        tl = bk_now();
    }
    run->elapsed = tl - t0;
    return 0;
}

int
bk_receiver_subscribe(struct bk_receiver *r)
{
    return lsn_relay_client_subscribe(r->c, r->credit, NULL);
}

#define ACK_MAX 256
#define ACKS_INFLIGHT 64

/* Sends one ack request for refs[0..n) without waiting for its answer. */
static int
ack_send(struct lsn_wire *w, char (*org)[33], uint8_t (*ids)[16], size_t n,
         uint64_t *id)
{
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__AckMessagesRequest a = LIAISON__ACK_MESSAGES_REQUEST__INIT;
    Liaison__MessageRef refs[ACK_MAX], *pp[ACK_MAX];

    for (size_t i = 0; i < n; i++) {
        liaison__message_ref__init(&refs[i]);
        refs[i].org = org[i];
        refs[i].msg_id = (ProtobufCBinaryData){ 16, ids[i] };
        pp[i] = &refs[i];
    }
    a.refs = pp;
    a.n_refs = n;
    req.body_case = LIAISON__REQUEST__BODY_ACK;
    req.ack = &a;
    req.id = *id = lsn_wire_next_id(w);
    return lsn_wire_send(w, &req);
}

/* Acks the n refs gathered, remembering the request in the in-flight
 * ring (q_id, q_n from q_head, *q_len long). */
static int
ack_flush(struct lsn_wire *w, char (*org)[33], uint8_t (*ids)[16], size_t *n,
          uint64_t *q_id, uint64_t *q_n, size_t q_head, size_t *q_len)
{
    size_t at = (q_head + *q_len) % ACKS_INFLIGHT;
    int r;

    if ((r = ack_send(w, org, ids, *n, &q_id[at])) != 0)
        return r;
    q_n[at] = *n;
    (*q_len)++;
    *n = 0;
    return 0;
}

/* The receiver keeps reading while its acks are in flight (answers come
 * back in order on the one connection), so a push is timed when it
 * arrives, not after the previous ack's commit. */
void *
bk_receiver_run(void *arg)
{
    struct bk_receiver *r = arg;
    struct lsn_wire *w = lsn_relay_client_wire(r->c);
    uint8_t ids[ACK_MAX][16];
    char org[ACK_MAX][33];
    uint64_t q_id[ACKS_INFLIGHT], q_n[ACKS_INFLIGHT];
    size_t n = 0, q_head = 0, q_len = 0;
    double idle0 = bk_now();

    r->acked = 0;
    r->err = 0;
    for (;;) {
        uint64_t target = atomic_load(&r->target);
        Liaison__Response *resp = NULL;
        int e;
        if (target != 0 && r->acked >= target)
            break;
        e = lsn_wire_recv(w, n > 0 && q_len < ACKS_INFLIGHT ? 0 : 100, &resp);
        if (e == LSN_ERR_TIMEOUT) {
            if (n > 0 && q_len < ACKS_INFLIGHT) {
                /* Nothing more waiting: ack what has arrived. */
                if ((r->err = ack_flush(w, org, ids, &n, q_id, q_n, q_head, &q_len)) != 0)
                    return NULL;
            } else if (bk_now() - idle0 > r->idle_s) {
                r->err = LSN_ERR_TIMEOUT;
                return NULL;
            }
            continue;
        }
        if (e != 0 || (e = lsn_wire_check(w, resp)) != 0) {
            r->err = e;
            lsn_pb_free(resp != NULL ? &resp->base : NULL);
            return NULL;
        }
        idle0 = bk_now();
        if (resp->body_case == LIAISON__RESPONSE__BODY_ACK) {
            if (q_len == 0 || resp->id != q_id[q_head]) {
                r->err = LSN_ERR_PROTOCOL;
                lsn_pb_free(&resp->base);
                return NULL;
            }
            r->acked += q_n[q_head];
            r->t_last = idle0;
            q_head = (q_head + 1) % ACKS_INFLIGHT;
            q_len--;
        } else if (resp->body_case == LIAISON__RESPONSE__BODY_PUSH) {
            for (size_t i = 0; i < resp->push->n_items; i++) {
                const Liaison__QueueItem *it = resp->push->items[i];
                if (n == ACK_MAX && q_len < ACKS_INFLIGHT &&
                    (r->err = ack_flush(w, org, ids, &n, q_id, q_n, q_head, &q_len)) != 0) {
                    lsn_pb_free(&resp->base);
                    return NULL;
                }
                if (n == ACK_MAX || it->msg_id.len != 16 || strlen(it->org) >= sizeof org[n] ||
                    (r->fn != NULL && (e = r->fn(r->ctx, it)) != 0)) {
                    r->err = e != 0 ? e : LSN_ERR_PROTOCOL;
                    lsn_pb_free(&resp->base);
                    return NULL;
                }
                memcpy(ids[n], it->msg_id.data, 16);
                snprintf(org[n], sizeof org[n], "%s", it->org);
                n++;
            }
        }
        lsn_pb_free(&resp->base);
    }
    return NULL;
}

int
bk_drain(struct lsn_relay_client *c, uint64_t *n, double *elapsed)
{
    const char *orgs[ACK_MAX];
    uint8_t ids[ACK_MAX][16];
    double t0 = bk_now();
    int r;

    *n = 0;
    for (;;) {
        Liaison__FetchReply *rep = NULL;
        size_t k;
        if ((r = lsn_relay_client_fetch(c, ACK_MAX, &rep)) != 0)
            return r;
        k = rep->n_items < ACK_MAX ? rep->n_items : ACK_MAX;
        for (size_t i = 0; i < k; i++) {
            orgs[i] = rep->items[i]->org;
            memcpy(ids[i], rep->items[i]->msg_id.data, 16);
        }
        r = k > 0 ? lsn_relay_client_ack(c, orgs, (const uint8_t (*)[16])ids, k, 0, NULL) : 0;
        lsn_pb_free(&rep->base);
        if (r != 0)
            return r;
        if (k == 0)
            break;
        *n += k;
    }
    *elapsed = bk_now() - t0;
    return 0;
}

double
bk_cycle(struct lsn_relay_client *sender, bk_next_fn next, void *ctx,
         struct bk_receiver *rc, struct bk_submit_run *run, const char *what)
{
    pthread_t th;
    double t0;
    int r;

    if ((r = bk_receiver_subscribe(rc)) != 0)
        bk_die("subscribe", r);
    if (pthread_create(&th, NULL, bk_receiver_run, rc) != 0)
        bk_die("receiver thread", LSN_ERR_INTERNAL);
    t0 = bk_now();
    if ((r = bk_submit_pipelined(sender, next, ctx, run)) != 0)
        bk_die(what, r);
    atomic_store(&rc->target, run->done);
    pthread_join(th, NULL);
    if (rc->err != 0)
        bk_die("receiver", rc->err);
    lsn_relay_client_close(&rc->c);
    lsn_relay_client_close(&sender);
    return (double)run->done / (rc->t_last - t0);
}
