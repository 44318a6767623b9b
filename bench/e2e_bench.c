/* e2e_bench.c: sealed alerts end to end (docs/bench.md): one client seals 1 KiB
 * alerts to one organisation and submits them pipelined to a real relay,
 * which stores each durably and pushes it to the receiving device, which
 * verifies and opens it and acks it.  Beside it, in each of ROUNDS
 * rounds, the libsodium primitives the crypto-bound limit is made of
 * (docs/design.md "Performance model": sealing = one signature, the fresh
 * ephemeral key and one X25519 per recipient; opening = one verification
 * and one X25519).
 *
 * The limit of a pipeline whose sender and receiver run in parallel is
 * the slower of the two: min(seal limit, open limit).  Both clients and
 * the relay share this machine's cores, so the figure is also given
 * against the serial limit 1 / (1/seal + 1/open), one core doing both
 * ends' cryptography.  docs/bench.md explains every line. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bench/lib/benchkit.h"
#include "client/seal.h"
#include "keys/util.h"
#include "proto/err.h"
#include "tests/lib/sealfix.h"

#define ROUNDS 3
#define MAX_ROUNDS 64
#define WINDOW 256
#define RUN_S 1.0
#define PRIM_S 0.8
#define CONTENT 1024            /* padded content: as relay_bench's 1 KiB */

static struct rf f;

struct sealer {
    Liaison__Alert a;
    const struct lsn_bundle *rb[1];
};

/* A fresh sealing for every submit, as a sending client does. */
static int
seal_next(void *ctx, const uint8_t **env, size_t *len, int *owned)
{
    struct sealer *s = ctx;
    struct lsn_seal_params p;
    uint8_t *out = NULL;
    int r;

    memset(&p, 0, sizeof p);
    p.created = lsn_now();
    p.expires = p.created + 86400;
    p.bundle_version = f.orgs[0].bundle->b->version;
    r = lsn_seal(&s->a, f.orgs[0].dev[0], s->rb, 1, &p, &out, len);
    *env = out;
    *owned = 1;
    return r;
}

/* The receiving device verifies and opens every pushed envelope. */
static int
open_item(void *ctx, const Liaison__QueueItem *it)
{
    struct lsn_opened *o = NULL;
    int r;

    (void)ctx;
    r = lsn_open(it->envelope.data, it->envelope.len, f.orgs[1].dev[0],
                 f.orgs[0].bundle, lsn_now(), NULL, NULL, &o);
    lsn_opened_destroy(&o);
    return r;
}

/* Alerts sealed, stored, pushed, opened and acked per second. */
static double
e2e_run(struct sealer *s)
{
    struct lsn_relay_client *c = NULL;
    struct bk_receiver rc;
    struct bk_submit_run run = { .window = WINDOW, .seconds = RUN_S };
    int r;

    memset(&rc, 0, sizeof rc);
    rc.credit = 2 * WINDOW;
    rc.fn = open_item;
    rc.idle_s = 10;
    if ((r = bk_relay_fresh(&f)) != 0 ||
        (r = rf_connect(&f, f.orgs[0].dev[0], &c)) != 0 ||
        (r = rf_connect(&f, f.orgs[1].dev[0], &rc.c)) != 0)
        bk_die("relay set-up", r);
    return bk_cycle(c, seal_next, s, &rc, &run, "sealed submit");
}

static int rounds;

static double
median_of(double *v)
{
    return bk_median(v, (size_t)rounds);
}

int
main(void)
{
    double rate[MAX_ROUNDS], seal_lim[MAX_ROUNDS], open_lim[MAX_ROUNDS],
           pipe_lim[MAX_ROUNDS], serial_lim[MAX_ROUNDS], r_pipe[MAX_ROUNDS],
           r_serial[MAX_ROUNDS];
    struct bk_prims p;
    struct sealer s;
    char body[CONTENT * 3 / 4 + 1];
    int r;

    if (sodium_init() < 0)
        return 1;
    rounds = bk_rounds(ROUNDS, MAX_ROUNDS);
    signal(SIGPIPE, SIG_IGN);
    if ((r = bk_relay_new(&f, "e2e", 2)) != 0)
        bk_die("relay setup (is LSN_BIN set?)", r);
    /* The same content size as relay_bench's 1 KiB envelopes. */
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    sf_alert_sample(&s.a);
    s.a.body = body;
    s.rb[0] = f.orgs[1].bundle;

    for (int k = 0; k < rounds; k++) {
        /* The primitives in windows right before and right after the
         * run, each at its better rate: other load only ever lowers a
         * bound. */
        memset(&p, 0, sizeof p);
        for (int w = 0; w < 3; w++)
            bk_prims_pass(PRIM_S / 12, BK_WALL, &p);
        rate[k] = e2e_run(&s);
        for (int w = 0; w < 3; w++)
            bk_prims_pass(PRIM_S / 12, BK_WALL, &p);
        seal_lim[k] = bk_seal_limit(&p, 1);
        open_lim[k] = bk_open_limit(&p);
        pipe_lim[k] = seal_lim[k] < open_lim[k] ? seal_lim[k] : open_lim[k];
        serial_lim[k] = 1.0 / (1.0 / seal_lim[k] + 1.0 / open_lim[k]);
        r_pipe[k] = rate[k] / pipe_lim[k];
        r_serial[k] = rate[k] / serial_lim[k];
    }
    printf("figure e2e_seal_limit_1k %.0f msgs/s\n", median_of(seal_lim));
    printf("figure e2e_open_limit_1k %.0f msgs/s\n", median_of(open_lim));
    printf("figure e2e_pipeline_limit_1k %.0f msgs/s\n", median_of(pipe_lim));
    printf("figure e2e_serial_limit_1k %.0f msgs/s\n", median_of(serial_lim));
    printf("figure e2e_alerts_1k %.0f msgs/s\n", median_of(rate));
    printf("ratio e2e_alerts_1k %.3f target 0.50\n", median_of(r_pipe));
    printf("ratio e2e_alerts_1k_serial %.3f target 0.80\n", median_of(r_serial));
    rf_teardown(&f);
    return 0;
}
