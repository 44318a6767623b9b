/* seal_bench.c: seal and open throughput for 1 KiB alerts to 1 and 10
 * recipient organisations, beside the libsodium primitive rates, and the
 * ratio to the primitive-bound limit (docs/design.md "Performance model":
 * sealing costs one signature and one X25519 per recipient, opening one
 * verification and one X25519).  Sealing also makes the fresh ephemeral
 * key pair e (one X25519 base-point multiplication, which libsodium 1.0.18
 * does with the same ladder), so the seal limit counts it:
 * 1 / (t_sign + t_x25519_base + n * t_x25519).  The limit without it is
 * printed too, as *_design_limit.
 *
 * The bound and the measurement are interleaved: each of ROUNDS rounds
 * makes PASSES passes, each a window of every primitive, then of every
 * seal and open.  Windows count this thread's CPU time (bk_rate), so
 * other processes on the machine do not enter a rate; a round keeps the
 * best window of each and divides within the round.  Figures are medians
 * over the rounds, each ratio the median of the per-round ratios.
 *
 * Output: "figure NAME VALUE UNIT" and "ratio NAME VALUE target T" lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bench/lib/benchkit.h"
#include "client/seal.h"
#include "proto/err.h"
#include "tests/lib/sealfix.h"

#define ROUNDS 5
#define MAX_ROUNDS 64
#define PASSES 3
#define WINDOW_S 0.1
#define NREC 10

struct seal_ctx {
    const Liaison__Alert *a;
    const struct sf_org *from;
    const struct sf_org *to;
    const struct lsn_bundle *rb[NREC];
    size_t n;
    uint8_t *env;
    size_t len;
};

static int
op_seal(void *vctx)
{
    struct seal_ctx *c = vctx;
    struct lsn_seal_params p = {
        .created = SF_T0, .expires = SF_T0 + 86400, .bundle_version = 1,
    };
    uint8_t *env;
    size_t len;
    int r = lsn_seal(c->a, c->from->cred, c->rb, c->n, &p, &env, &len);

    free(env);
    return r;
}

static int
op_open(void *vctx)
{
    struct seal_ctx *c = vctx;
    struct lsn_opened *o = NULL;
    int r = lsn_open(c->env, c->len, c->to->cred, c->from->bundle, SF_T0, NULL,
                     NULL, &o);

    lsn_opened_destroy(&o);
    return r;
}

static double
median(const double *v, int n)
{
    double c[MAX_ROUNDS];

    memcpy(c, v, (size_t)n * sizeof *c);
    return bk_median(c, (size_t)n);
}

int
main(void)
{
    static const char *ids[NREC + 1] = {
        "org-a", "org-b", "org-c", "org-d", "org-e", "org-f",
        "org-g", "org-h", "org-i", "org-j", "org-k",
    };
    static const size_t ns[2] = { 1, NREC };
    struct sf_org orgs[NREC + 1];
    struct lsn_seal_params p = {
        .created = SF_T0, .expires = SF_T0 + 86400, .bundle_version = 1,
    };
    struct seal_ctx c[2];
    Liaison__Alert a;
    char body[1025];
    /* Per round: the primitives, then per recipient count the rates, the
     * limits and the ratios. */
    double sign[MAX_ROUNDS], verify[MAX_ROUNDS], x[MAX_ROUNDS], xb[MAX_ROUNDS];
    double sealed[2][MAX_ROUNDS], opened[2][MAX_ROUNDS], lim_seal[2][MAX_ROUNDS],
           lim_design[2][MAX_ROUNDS], lim_open[2][MAX_ROUNDS],
           r_seal[2][MAX_ROUNDS], r_open[2][MAX_ROUNDS];
    int rounds = bk_rounds(ROUNDS, MAX_ROUNDS);

    if (sodium_init() < 0)
        return 1;
    for (int i = 0; i <= NREC; i++)
        if (sf_org_new(&orgs[i], ids[i], NULL) != 0)
            return 1;
    sf_alert_sample(&a);
    memset(body, 'x', 1024);
    body[1024] = '\0';
    a.body = body;
    for (int k = 0; k < 2; k++) {
        memset(&c[k], 0, sizeof c[k]);
        c[k].a = &a;
        c[k].from = &orgs[0];
        c[k].to = &orgs[1];
        c[k].n = ns[k];
        for (int i = 0; i < NREC; i++)
            c[k].rb[i] = orgs[i + 1].bundle;
        if (lsn_seal(&a, c[k].from->cred, c[k].rb, c[k].n, &p, &c[k].env,
                     &c[k].len) != 0)
            return 1;
    }

    for (int r = 0; r < rounds; r++) {
        struct bk_prims pr = { 0 };
        double bs[2] = { 0, 0 }, bo[2] = { 0, 0 }, t;

        for (int w = 0; w < PASSES; w++) {
            bk_prims_pass(WINDOW_S, BK_CPU, &pr);
            for (int k = 0; k < 2; k++) {
                if ((t = bk_rate(op_seal, &c[k], WINDOW_S, BK_CPU)) > bs[k])
                    bs[k] = t;
                if ((t = bk_rate(op_open, &c[k], WINDOW_S, BK_CPU)) > bo[k])
                    bo[k] = t;
            }
        }
        sign[r] = pr.sign;
        verify[r] = pr.verify;
        x[r] = pr.x25519;
        xb[r] = pr.x25519_base;
        for (int k = 0; k < 2; k++) {
            sealed[k][r] = bs[k];
            opened[k][r] = bo[k];
            lim_seal[k][r] = bk_seal_limit(&pr, ns[k]);
            lim_design[k][r] = 1.0 / (1.0 / pr.sign + (double)ns[k] / pr.x25519);
            lim_open[k][r] = bk_open_limit(&pr);
            r_seal[k][r] = bs[k] / lim_seal[k][r];
            r_open[k][r] = bo[k] / lim_open[k][r];
        }
    }

    printf("figure ed25519_sign %.0f ops/s\n", median(sign, rounds));
    printf("figure ed25519_verify %.0f ops/s\n", median(verify, rounds));
    printf("figure x25519 %.0f ops/s\n", median(x, rounds));
    printf("figure x25519_base %.0f ops/s\n", median(xb, rounds));
    for (int k = 0; k < 2; k++) {
        size_t n = ns[k];

        printf("figure seal_1k_to_%zu %.0f msgs/s\n", n, median(sealed[k], rounds));
        printf("figure open_1k_of_%zu %.0f msgs/s\n", n, median(opened[k], rounds));
        printf("figure seal_1k_to_%zu_limit %.0f msgs/s\n", n,
               median(lim_seal[k], rounds));
        printf("figure seal_1k_to_%zu_design_limit %.0f msgs/s\n", n,
               median(lim_design[k], rounds));
        printf("figure open_1k_of_%zu_limit %.0f msgs/s\n", n,
               median(lim_open[k], rounds));
        printf("ratio seal_1k_to_%zu %.3f target 0.8\n", n, median(r_seal[k], rounds));
        printf("ratio open_1k_of_%zu %.3f target 0.8\n", n, median(r_open[k], rounds));
        free(c[k].env);
    }
    for (int i = 0; i <= NREC; i++)
        sf_org_free(&orgs[i]);
    return 0;
}
