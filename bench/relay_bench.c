/* relay_bench.c: the relay against its bounds (docs/design.md
 * "Performance model").  In each of ROUNDS rounds, each baseline is measured
 * right before the relay figures it bounds, so the ratios compare numbers
 * taken under the same load of this shared machine:
 *
 *   raw CURVE DEALER->ROUTER request/reply, pipelined (WINDOW in flight)
 *   and one at a time, with frames the size of a submit;
 *   write+fdatasync of records the size of an envelope, one per sync and
 *   WINDOW per sync (the group-commit bound);
 *   the relay: durable ingest (pipelined submits, 1 and 3 clients, 1 KiB
 *   and 16 KiB content), submit->ack latency, delivery (fetch+ack), the
 *   full store-and-forward cycle (submit, push, ack) and ingest->delivery
 *   latency at a fixed rate;
 *   two federated relays (o1@r1 to o2@r2): the full cycle and the
 *   delivery latency across them, against the single relay's figures of
 *   the same round.
 *
 * Figures are medians over the rounds; each ratio is the median of the
 * per-round ratios.  Then, once: the relay's memory with 100k queued
 * messages.  docs/bench.md explains every line. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bench/lib/benchkit.h"
#include "proto/err.h"

#define ROUNDS 5               /* the relay figures move most: five medians */
#define MAX_ROUNDS 64
#define WINDOW 256             /* submits in flight = group-commit batch */
#define SENDERS 3              /* orgs o1..o3 send ... */
#define RECV 3                 /* ... to o4 */
#define RUN_S 0.5              /* each throughput window */
#define LAT_S 0.6              /* each latency window */
#define LAT_RATE 500.0         /* messages/s for ingest->delivery latency */
#define FILL 100000            /* queued messages for the memory figure */
#define REPLY_LEN 32           /* a SubmitReply frame (id, msg_id, accepted) */

static const size_t sizes[2] = { 1024, 16384 };

/* One value per round for each figure. */
enum {
    F_CURVE_PIPE_1K, F_CURVE_PIPE_16K, F_CURVE_RTT_P50, F_CURVE_RTT_P99,
    F_FSYNC_1_P50, F_FSYNC_1_RATE, F_GC_1K, F_GC_16K,
    F_INGEST_1K_1, F_INGEST_1K_3, F_INGEST_16K_1, F_INGEST_16K_3,
    F_CPU_1K, F_DRAIN_1K, F_SUBMIT_P50, F_SUBMIT_P99, F_FULL_1K,
    F_DELIV_P50, F_DELIV_P99,
    R_INGEST_1K_1, R_INGEST_1K_3, R_INGEST_16K_1, R_INGEST_16K_3, R_DRAIN_1K,
    R_FULL_1K, R_SUBMIT_P50, R_DELIV_P50,
    F_X_FULL_1K, F_X_DELIV_P50, F_X_DELIV_P99, R_X_FULL_1K, R_X_DELIV_P50,
    N_VALUES
};

static double v[N_VALUES][MAX_ROUNDS];
static int rounds;

static struct rf f;
static struct bk_tpl tpl[2][SENDERS];      /* [size][sender] */

static struct rf fx;                       /* r1, r2: o1@r1 sends to o2@r2 */
static struct bk_tpl xtpl;

/* Connects as org's d1 to its home relay in fixture x. */
static struct lsn_relay_client *
connect_to(struct rf *x, size_t org)
{
    struct lsn_relay_client *c = NULL;
    int r;

    if ((r = rf_connect(x, x->orgs[org].dev[0], &c)) != 0)
        bk_die("connect to the relay", r);
    return c;
}

static struct lsn_relay_client *
connect_dev(size_t org)
{
    return connect_to(&f, org);
}

/* ---------------------------------------------------------- ingest */

struct sender {
    struct lsn_relay_client *c;
    struct bk_tpl *t;
    struct bk_submit_run run;
    pthread_barrier_t *go;
    int err;
};

static void *
sender_run(void *arg)
{
    struct sender *s = arg;

    pthread_barrier_wait(s->go);
    s->err = bk_submit_pipelined(s->c, bk_tpl_source, s->t, &s->run);
    return NULL;
}

/* Pipelined submits from n senders at once (WINDOW in flight in all):
 * envelopes stored per second. */
static double
ingest(int sz, size_t n)
{
    struct sender s[SENDERS];
    pthread_t th[SENDERS];
    pthread_barrier_t go;
    uint64_t done = 0;
    double el = 0;

    pthread_barrier_init(&go, NULL, (unsigned)n);
    for (size_t i = 0; i < n; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].c = connect_dev(i);
        s[i].t = &tpl[sz][i];
        s[i].run.window = WINDOW / n;
        s[i].run.seconds = RUN_S;
        s[i].go = &go;
    }
    for (size_t i = 0; i < n; i++)
        pthread_create(&th[i], NULL, sender_run, &s[i]);
    for (size_t i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (s[i].err != 0)
            bk_die("pipelined submit", s[i].err);
        done += s[i].run.done;
        if (s[i].run.elapsed > el)
            el = s[i].run.elapsed;
        lsn_relay_client_close(&s[i].c);
    }
    pthread_barrier_destroy(&go);
    return (double)done / el;
}

/* ---------------------------------------------------------- latency */

/* Submit->ack, one at a time: median and p99 in seconds. */
static void
submit_latency(double *p50, double *p99)
{
    struct lsn_relay_client *c = connect_dev(0);
    size_t cap = 4096, n = 0;
    double *t = malloc(cap * sizeof *t), t0 = bk_now();
    int res, r;

    if (t == NULL)
        bk_die("latency samples", LSN_ERR_NOMEM);
    while (n < cap && bk_now() - t0 < LAT_S) {
        const uint8_t *env = tpl[0][0].env;
        size_t len = tpl[0][0].len;
        double a;
        bk_tpl_next(&tpl[0][0], NULL);
        a = bk_now();
        if ((r = lsn_relay_client_submit(c, &env, &len, 1, &res, NULL)) != 0 || res != 0)
            bk_die("submit", r != 0 ? r : res);
        t[n++] = bk_now() - a;
    }
    *p50 = bk_median(t, n);
    *p99 = bk_quantile(t, n, 0.99);
    lsn_relay_client_close(&c);
    free(t);
}

struct deliv {
    double *sent_at;
    double *lat;
    uint64_t base, n, got;
};

static int
deliv_item(void *ctx, const Liaison__QueueItem *it)
{
    struct deliv *d = ctx;
    uint64_t i = bk_tpl_seq(it->msg_id.data) - d->base;

    if (i >= d->n || d->got >= d->n)
        return LSN_ERR_PROTOCOL;
    d->lat[d->got++] = bk_now() - d->sent_at[i];
    return 0;
}

/* Ingest->delivery at LAT_RATE messages/s from org `from` (template t)
 * to a subscribed org `to` of fixture x: median and p99 from submit to
 * push received. */
static void
delivery_latency(struct rf *x, struct bk_tpl *t, size_t from, size_t to,
                 double *p50, double *p99)
{
    struct lsn_relay_client *c = connect_to(x, from);
    struct lsn_wire *w = lsn_relay_client_wire(c);
    struct bk_receiver rc;
    struct deliv d;
    uint64_t answered = 0;
    pthread_t th;
    double t0;
    int r;

    memset(&d, 0, sizeof d);
    d.n = (uint64_t)(LAT_RATE * LAT_S);
    d.base = t->next;
    if ((d.sent_at = calloc(d.n, sizeof *d.sent_at)) == NULL ||
        (d.lat = calloc(d.n, sizeof *d.lat)) == NULL)
        bk_die("latency samples", LSN_ERR_NOMEM);
    memset(&rc, 0, sizeof rc);
    rc.c = connect_to(x, to);
    rc.credit = WINDOW;
    rc.fn = deliv_item;
    rc.ctx = &d;
    rc.idle_s = 10;
    atomic_store(&rc.target, d.n);
    if ((r = bk_receiver_subscribe(&rc)) != 0)
        bk_die("subscribe", r);
    pthread_create(&th, NULL, bk_receiver_run, &rc);
    t0 = bk_now();
    for (uint64_t i = 0; i < d.n; i++) {
        Liaison__Request req = LIAISON__REQUEST__INIT;
        Liaison__SubmitRequest s = LIAISON__SUBMIT_REQUEST__INIT;
        Liaison__Response *resp;
        double due = t0 + (double)i / LAT_RATE, now;
        /* Take answers while waiting for the next send time. */
        while ((now = bk_now()) < due) {
            int ms = (int)((due - now) * 1000);
            if (lsn_wire_recv(w, ms, &resp) == 0) {
                if (lsn_wire_check(w, resp) != 0)
                    bk_die("submit", lsn_wire_check(w, resp));
                lsn_pb_free(&resp->base);
                answered++;
            }
        }
        bk_tpl_next(t, NULL);
        s.envelope = (ProtobufCBinaryData){ t->len, t->env };
        req.body_case = LIAISON__REQUEST__BODY_SUBMIT;
        req.submit = &s;
        req.id = lsn_wire_next_id(w);
        d.sent_at[i] = bk_now();
        if ((r = lsn_wire_send(w, &req)) != 0)
            bk_die("submit", r);
    }
    while (answered < d.n) {
        Liaison__Response *resp;
        if ((r = lsn_wire_recv(w, LSN_WIRE_TIMEOUT_MS, &resp)) != 0)
            bk_die("submit answer", r);
        lsn_pb_free(&resp->base);
        answered++;
    }
    pthread_join(th, NULL);
    if (rc.err != 0)
        bk_die("receiver", rc.err);
    *p50 = bk_median(d.lat, d.got);
    *p99 = bk_quantile(d.lat, d.got, 0.99);
    lsn_relay_client_close(&rc.c);
    lsn_relay_client_close(&c);
    free(d.sent_at);
    free(d.lat);
}

/* ---------------------------------------------------------- full cycle */

/* Org `from` submits pipelined (template t) for RUN_S while org `to`,
 * subscribed, acks what it is pushed: messages through the whole cycle
 * per second. */
static double
full_cycle(struct rf *x, struct bk_tpl *t, size_t from, size_t to)
{
    struct bk_receiver rc;
    struct bk_submit_run run = { .window = WINDOW, .seconds = RUN_S };

    memset(&rc, 0, sizeof rc);
    rc.c = connect_to(x, to);
    rc.credit = 2 * WINDOW;
    rc.idle_s = 10;
    return bk_cycle(connect_to(x, from), bk_tpl_source, t, &rc, &run,
                    "pipelined submit");
}

/* ---------------------------------------------------------- one round */

static double
min2(double a, double b)
{
    return a < b ? a : b;
}

static void
fresh_of(struct rf *x)
{
    int r;

    if ((r = bk_relay_fresh(x)) != 0)
        bk_die("relay restart", r);
}

static void
fresh(void)
{
    fresh_of(&f);
}

static void
round_run(int k, struct bk_curve *cv, const char *dir)
{
    struct bk_sync sy;
    double bound, cpu0, p50, p99;
    struct lsn_relay_client *c;
    uint64_t n;
    int r;

    for (int sz = 0; sz < 2; sz++) {
        /* A submit frame is the envelope plus a few bytes of framing. */
        size_t frame = tpl[sz][0].len + 8;
        bk_curve_pipelined(cv, frame, WINDOW, RUN_S, &v[F_CURVE_PIPE_1K + sz][k]);
        if ((r = bk_fsync_run(dir, tpl[sz][0].len, WINDOW, RUN_S, &sy)) != 0)
            bk_die("fdatasync baseline", r);
        v[F_GC_1K + sz][k] = sy.records_per_s;
        bound = min2(v[F_CURVE_PIPE_1K + sz][k], v[F_GC_1K + sz][k]);

        fresh();
        cpu0 = bk_proc_cpu(f.pid);
        v[F_INGEST_1K_1 + 2 * sz][k] = ingest(sz, 1);
        if (sz == 0) {
            /* CPU per stored message, then deliver what was stored. */
            c = connect_dev(RECV);
            v[F_CPU_1K][k] = 1e6 * (bk_proc_cpu(f.pid) - cpu0) /
                             (v[F_INGEST_1K_1][k] * RUN_S);
            double el;
            if ((r = bk_drain(c, &n, &el)) != 0)
                bk_die("fetch+ack", r);
            v[F_DRAIN_1K][k] = (double)n / el;
            v[R_DRAIN_1K][k] = v[F_DRAIN_1K][k] / bound;
            lsn_relay_client_close(&c);
        }
        v[R_INGEST_1K_1 + 2 * sz][k] = v[F_INGEST_1K_1 + 2 * sz][k] / bound;
        fresh();
        v[F_INGEST_1K_3 + 2 * sz][k] = ingest(sz, SENDERS);
        v[R_INGEST_1K_3 + 2 * sz][k] = v[F_INGEST_1K_3 + 2 * sz][k] / bound;
        if (sz == 0) {
            fresh();
            v[F_FULL_1K][k] = full_cycle(&f, &tpl[0][0], 0, RECV);
            v[R_FULL_1K][k] = v[F_FULL_1K][k] / bound;
            /* Across two relays, beside the single relay's figure. */
            fresh_of(&fx);
            v[F_X_FULL_1K][k] = full_cycle(&fx, &xtpl, 0, 1);
            v[R_X_FULL_1K][k] = v[F_X_FULL_1K][k] / v[F_FULL_1K][k];
        }
    }

    /* Latency: one CURVE round trip plus one fdatasync of one record,
     * measured after the restart (whose store removal is disk work of its
     * own) and right before each latency figure: this disk's fdatasync
     * swings between tens of microseconds and milliseconds with the
     * other users' writes. */
    bk_curve_rtt(cv, tpl[0][0].len + 8, LAT_S, &v[F_CURVE_RTT_P50][k],
                 &v[F_CURVE_RTT_P99][k]);
    fresh();
    if ((r = bk_fsync_run(dir, tpl[0][0].len, 1, LAT_S / 2, &sy)) != 0)
        bk_die("fdatasync baseline", r);
    v[F_FSYNC_1_P50][k] = sy.median_s;
    v[F_FSYNC_1_RATE][k] = sy.syncs_per_s;
    bound = v[F_CURVE_RTT_P50][k] + sy.median_s;
    submit_latency(&p50, &p99);
    v[F_SUBMIT_P50][k] = p50;
    v[F_SUBMIT_P99][k] = p99;
    v[R_SUBMIT_P50][k] = bound / p50;
    fresh();
    if ((r = bk_fsync_run(dir, tpl[0][0].len, 1, LAT_S / 2, &sy)) != 0)
        bk_die("fdatasync baseline", r);
    bound = v[F_CURVE_RTT_P50][k] + sy.median_s;
    delivery_latency(&f, &tpl[0][0], 0, RECV, &p50, &p99);
    v[F_DELIV_P50][k] = p50;
    v[F_DELIV_P99][k] = p99;
    v[R_DELIV_P50][k] = bound / p50;
    fresh_of(&fx);
    delivery_latency(&fx, &xtpl, 0, 1, &p50, &p99);
    v[F_X_DELIV_P50][k] = p50;
    v[F_X_DELIV_P99][k] = p99;
    v[R_X_DELIV_P50][k] = v[F_DELIV_P50][k] / p50;
}

/* ---------------------------------------------------------- output */

static double
med(int i)
{
    double c[MAX_ROUNDS];

    memcpy(c, v[i], (size_t)rounds * sizeof *c);
    return bk_median(c, (size_t)rounds);
}

static void
fig(const char *name, int i, double scale, const char *unit)
{
    printf("figure %s %.*f %s\n", name, scale == 1 ? 0 : 3, med(i) * scale, unit);
}

static void
ratio(const char *name, int i, double target)
{
    printf("ratio %s %.3f target %.2f\n", name, med(i), target);
}

/* Memory: the relay holding FILL queued 1 KiB messages. */
static void
memory(void)
{
    struct lsn_relay_client *c;
    struct bk_submit_run run = { .window = WINDOW, .seconds = 300, .max = FILL };
    long rss0, anon0, hwm0, rss, anon, hwm;
    int r;

    fresh();
    bk_proc_mem(f.pid, &rss0, &anon0, &hwm0);
    c = connect_dev(0);
    if ((r = bk_submit_pipelined(c, bk_tpl_source, &tpl[0][0], &run)) != 0)
        bk_die("pipelined submit", r);
    lsn_relay_client_close(&c);
    bk_proc_mem(f.pid, &rss, &anon, &hwm);
    printf("figure relay_rss_empty %ld kB\n", rss0);
    printf("figure relay_rss_100k_queued %ld kB\n", rss);
    printf("figure relay_anon_100k_queued %ld kB\n", anon);
    printf("figure relay_peak_rss_100k_queued %ld kB\n", hwm);
    printf("figure relay_ingest_1k_to_100k %.0f msgs/s\n",
           (double)run.done / run.elapsed);
    /* Back serving after a restart: the start reads every message record
     * once to rebuild the index before it binds its port. */
    rf_stop(&f, SIGTERM);
    double t0 = bk_now();
    if ((r = rf_start(&f)) != 0)
        bk_die("relay restart", r);
    printf("figure relay_restart_100k_queued %.1f ms\n", 1e3 * (bk_now() - t0));
}

int
main(void)
{
    static const size_t fed_home[2] = { 0, 1 };
    struct bk_curve *cv = NULL;
    char dir[4096];
    int r;

    if (sodium_init() < 0)
        return 1;
    rounds = bk_rounds(ROUNDS, MAX_ROUNDS);
    signal(SIGPIPE, SIG_IGN);
    if ((r = bk_relay_new(&f, "bench", SENDERS + 1)) != 0)
        bk_die("relay setup (is LSN_BIN set?)", r);
    if ((r = bk_fed_new(&fx, "bench-fed", 2, fed_home)) != 0)
        bk_die("two federated relays", r);
    if ((r = bk_tpl_make(&fx, 0, 1, sizes[0], &xtpl)) != 0)
        bk_die("seal", r);
    for (int sz = 0; sz < 2; sz++)
        for (size_t i = 0; i < SENDERS; i++)
            if ((r = bk_tpl_make(&f, i, RECV, sizes[sz], &tpl[sz][i])) != 0)
                bk_die("seal", r);
    /* The fdatasync baseline writes where the relay's LMDB lives. */
    snprintf(dir, sizeof dir, "%s", f.dir);
    if ((r = bk_curve_start(REPLY_LEN, &cv)) != 0)
        bk_die("raw CURVE server", r);

    for (int k = 0; k < rounds; k++)
        round_run(k, cv, dir);

    printf("figure envelope_1k_bytes %zu B\n", tpl[0][0].len);
    printf("figure envelope_16k_bytes %zu B\n", tpl[1][0].len);
    fig("curve_pipelined_1k", F_CURVE_PIPE_1K, 1, "msgs/s");
    fig("curve_pipelined_16k", F_CURVE_PIPE_16K, 1, "msgs/s");
    fig("curve_rtt_1k_p50", F_CURVE_RTT_P50, 1e3, "ms");
    fig("curve_rtt_1k_p99", F_CURVE_RTT_P99, 1e3, "ms");
    fig("fdatasync_1k_p50", F_FSYNC_1_P50, 1e3, "ms");
    fig("fdatasync_1k_rate", F_FSYNC_1_RATE, 1, "syncs/s");
    fig("group_commit_1k_batch256", F_GC_1K, 1, "records/s");
    fig("group_commit_16k_batch256", F_GC_16K, 1, "records/s");
    fig("relay_ingest_1k_1client", F_INGEST_1K_1, 1, "msgs/s");
    fig("relay_ingest_1k_3clients", F_INGEST_1K_3, 1, "msgs/s");
    fig("relay_ingest_16k_1client", F_INGEST_16K_1, 1, "msgs/s");
    fig("relay_ingest_16k_3clients", F_INGEST_16K_3, 1, "msgs/s");
    fig("relay_cpu_per_submit_1k", F_CPU_1K, 1, "us");
    fig("relay_drain_1k", F_DRAIN_1K, 1, "msgs/s");
    fig("relay_full_cycle_1k", F_FULL_1K, 1, "msgs/s");
    fig("relay_submit_latency_p50", F_SUBMIT_P50, 1e3, "ms");
    fig("relay_submit_latency_p99", F_SUBMIT_P99, 1e3, "ms");
    fig("relay_delivery_latency_p50", F_DELIV_P50, 1e3, "ms");
    fig("relay_delivery_latency_p99", F_DELIV_P99, 1e3, "ms");
    ratio("relay_ingest_1k_1client", R_INGEST_1K_1, 0.5);
    ratio("relay_ingest_1k_3clients", R_INGEST_1K_3, 0.5);
    ratio("relay_ingest_16k_1client", R_INGEST_16K_1, 0.5);
    ratio("relay_ingest_16k_3clients", R_INGEST_16K_3, 0.5);
    ratio("relay_drain_1k", R_DRAIN_1K, 0.3);
    ratio("relay_full_cycle_1k", R_FULL_1K, 0.3);
    ratio("relay_submit_latency_p50", R_SUBMIT_P50, 0.33);
    ratio("relay_delivery_latency_p50", R_DELIV_P50, 0.33);
    fig("relay_cross_full_cycle_1k", F_X_FULL_1K, 1, "msgs/s");
    fig("relay_cross_delivery_latency_p50", F_X_DELIV_P50, 1e3, "ms");
    fig("relay_cross_delivery_latency_p99", F_X_DELIV_P99, 1e3, "ms");
    ratio("relay_cross_full_cycle_1k", R_X_FULL_1K, 0.5);
    ratio("relay_cross_delivery_latency_p50", R_X_DELIV_P50, 0.4);
    fflush(stdout);

    memory();

    for (int sz = 0; sz < 2; sz++)
        for (size_t i = 0; i < SENDERS; i++)
            bk_tpl_free(&tpl[sz][i]);
    bk_tpl_free(&xtpl);
    bk_curve_stop(&cv);
    rf_teardown(&fx);
    rf_teardown(&f);
    return 0;
}
