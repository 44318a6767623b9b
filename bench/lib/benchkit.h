/* benchkit.h: what the benchmarks (make bench) share: a clock and order
 * statistics; the raw baselines every liaison figure is divided by, all
 * measured in the same run (libzmq CURVE request/reply, write+fdatasync
 * group commit, libsodium primitives); and a relay under test, built from
 * the relay test fixtures, fed with envelopes that differ only in msg_id.
 *
 * Every program prints "figure NAME VALUE UNIT" and "ratio NAME VALUE
 * target T" lines (docs/bench.md); a ratio is liaison's speed over the
 * bound's speed, so 1.0 is the bound and higher is better. */
#ifndef LSN_BENCHKIT_H
#define LSN_BENCHKIT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "client/relay_client.h"
#include "tests/lib/relayfix.h"

/* ---------------------------------------------------------- clock, stats */

/* Monotonic seconds. */
double bk_now(void);

/* The q-quantile (0..1, nearest rank) of v[0..n); v is left sorted. */
double bk_quantile(double *v, size_t n, double q);

/* The median of v[0..n); v is left sorted. */
double bk_median(double *v, size_t n);

/* Exits the program with a message naming what failed (benchmarks have
 * no partial results worth keeping). */
void bk_die(const char *what, int err);

/* The number of rounds to run: LSN_BENCH_ROUNDS from the environment
 * (make bench BENCH_ROUNDS=n, for a short run that checks the mechanics)
 * if it is a number from 1 to max, else dflt. */
int bk_rounds(int dflt, int max);

/* ---------------------------------------------------------- fdatasync */

struct bk_sync {
    double median_s;        /* median duration of one write+fdatasync round */
    double syncs_per_s;     /* 1 / median_s */
    double records_per_s;   /* batch / median_s */
};

/* Appends batch records of rec bytes (one write each) then fdatasyncs,
 * repeatedly for about seconds, to a fresh file in dir (removed after). */
int bk_fsync_run(const char *dir, size_t rec, size_t batch, double seconds,
                 struct bk_sync *out);

/* ---------------------------------------------------------- raw CURVE */

struct bk_curve;

/* Starts a ROUTER CURVE server thread on 127.0.0.1 (its own ZeroMQ
 * context) that answers every frame with reply_len bytes, as the relay
 * answers a submit. */
int bk_curve_start(size_t reply_len, struct bk_curve **out);
void bk_curve_stop(struct bk_curve **s);

/* A fresh DEALER CURVE connection sends frames of len bytes keeping
 * window requests in flight for about seconds: replies per second. */
int bk_curve_pipelined(struct bk_curve *s, size_t len, size_t window,
                       double seconds, double *rate);

/* One request at a time for about seconds: median and p99 round trip. */
int bk_curve_rtt(struct bk_curve *s, size_t len, double seconds,
                 double *median, double *p99);

/* ---------------------------------------------------------- libsodium */

/* An operation to time: 0 on success (anything else ends the program). */
typedef int (*bk_op_fn)(void *ctx);

/* What a window is timed by.  BK_CPU: the calling thread's CPU time, so
 * other processes on the machine delay a window but do not enter its
 * rate; for a bound and a measurement that both run on the calling
 * thread alone (seal_bench).  BK_WALL: the clock; for a bound that
 * divides a figure timed by the clock under the same load (e2e_bench). */
enum bk_clock { BK_WALL, BK_CPU };

/* Operations per second of op over one window of about window seconds. */
double bk_rate(bk_op_fn op, void *ctx, double window, enum bk_clock clock);

struct bk_prims {
    double sign, verify, x25519, x25519_base;   /* operations per second */
};

/* One window of window seconds of each of the four primitives the
 * sealed-message bound is made of; each rate in best is raised to this
 * window's where that is higher (start from a zeroed struct).  A caller
 * alternates passes with windows of what the bound divides, so both see
 * the same load of the machine. */
void bk_prims_pass(double window, enum bk_clock clock, struct bk_prims *best);

/* The primitive-bound rates of docs/design.md "Performance model":
 * sealing for n recipients = sign + fresh ephemeral key + n X25519,
 * opening = verify + one X25519. */
double bk_seal_limit(const struct bk_prims *p, size_t n);
double bk_open_limit(const struct bk_prims *p);

/* ---------------------------------------------------------- the relay */

/* The relay's config for benchmarks: the per-connection rate limit (a
 * guard against one abusive client, 5000/s by default) raised so that it
 * does not decide the figure, and one sender org allowed the whole of a
 * recipient's quota (the memory figure queues 100 000 messages from one
 * org); every other setting at its default. */
#define BK_RELAY_CONFIG "rate 1000000\nburst 1000000\nbootstrap_per_minute 100000\n" \
                        "recipient_share_percent 100\n"

/* Sets up orgs o1..on (one device d1 each) and starts a relay. */
int bk_relay_new(struct rf *f, const char *tag, size_t n_orgs);

/* Stops the relay (every relay of a federated fixture: SIGTERM), empties
 * its store and starts it again with every bundle published (and, when
 * federated, replicated to every relay): each measurement starts from an
 * empty store. */
int bk_relay_fresh(struct rf *f);

/* Sets up two federated relays r1, r2 with orgs o1..on (one device d1
 * each), org i homed on relays[home[i]], and starts both. */
int bk_fed_new(struct rf *f, const char *tag, size_t n_orgs, const size_t *home);

/* The relay's resident memory (kB): total, anonymous (heap), and peak. */
int bk_proc_mem(pid_t pid, long *rss_kb, long *anon_kb, long *hwm_kb);

/* CPU seconds (user + system) the process has used. */
double bk_proc_cpu(pid_t pid);

/* An envelope from orgs[from]/d1 to orgs[to] with content padded to
 * content_len bytes, sealed once; bk_tpl_next rewrites its msg_id in
 * place (8 bytes mixed from the counter, then the big-endian counter), so
 * each variant is a new message to the relay, and its msg_id is as
 * scattered as a sealed one's (random): a relay keyed by msg_id sees each
 * variant land anywhere in its key space, as it would in real use.  The relay never opens or verifies what it
 * stores, so the variants cost it exactly what sealed ones would; they do
 * not open for the recipient (the end-to-end benchmark seals for real). */
struct bk_tpl {
    uint8_t *env;
    size_t len;
    size_t id_off;
    uint64_t next;
};

int bk_tpl_make(struct rf *f, size_t from, size_t to, size_t content_len,
                struct bk_tpl *t);
void bk_tpl_free(struct bk_tpl *t);

/* Rewrites the template to its next variant; *seq gets its counter. */
void bk_tpl_next(struct bk_tpl *t, uint64_t *seq);

/* The counter a bk_tpl msg_id carries. */
uint64_t bk_tpl_seq(const uint8_t msg_id[16]);

/* Makes the next envelope to submit: *env stays valid until the next call
 * (or, with owned set, the caller frees it). */
typedef int (*bk_next_fn)(void *ctx, const uint8_t **env, size_t *len,
                          int *owned);

/* A bk_next_fn over a bk_tpl (ctx is the template). */
int bk_tpl_source(void *ctx, const uint8_t **env, size_t *len, int *owned);

struct bk_submit_run {
    size_t window;          /* submits in flight */
    double seconds;         /* stop sending after this */
    uint64_t max;           /* or after this many (0: no cap) */
    uint64_t done;          /* out: acknowledged (stored, not duplicate) */
    double elapsed;         /* out: first send to last acknowledgement */
};

/* Pipelined submits on one connection; any refusal is an error. */
int bk_submit_pipelined(struct lsn_relay_client *c, bk_next_fn next,
                        void *ctx, struct bk_submit_run *run);

/* Calls for each pushed item; non-zero stops the receiver with an error. */
typedef int (*bk_item_fn)(void *ctx, const Liaison__QueueItem *it);

/* A subscribed receiver: takes pushes (credit), hands each to fn (may be
 * NULL), acks them in batches of what has arrived, until *target (set
 * by another thread; 0 = not yet known) items were acked.  *acked counts
 * them; *t_last is the time of the last ack's answer.  Fails after
 * idle_s seconds without a push. */
struct bk_receiver {
    struct lsn_relay_client *c;
    uint32_t credit;
    bk_item_fn fn;
    void *ctx;
    _Atomic uint64_t target;
    uint64_t acked;
    double t_last;
    double idle_s;
    int err;
};

/* Subscribes r->c (before the senders start). */
int bk_receiver_subscribe(struct bk_receiver *r);

/* Runs the receiver loop (a pthread start routine). */
void *bk_receiver_run(void *r);

/* One full cycle: rc->c is subscribed, its loop started, then sender
 * submits pipelined from next(ctx) under run; once every acknowledged
 * submit was pushed and acked, both connections are closed.  Returns
 * messages per second, first submit to last ack; dies on any error,
 * naming it after what. */
double bk_cycle(struct lsn_relay_client *sender, bk_next_fn next, void *ctx,
                struct bk_receiver *rc, struct bk_submit_run *run,
                const char *what);

/* Fetches and acks (batches of up to 256) until the queue is empty:
 * *n items, *elapsed seconds. */
int bk_drain(struct lsn_relay_client *c, uint64_t *n, double *elapsed);

#endif
