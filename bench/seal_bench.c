/* seal_bench.c: seal and open throughput for 1 KiB alerts to 1 and 10
 * recipient organisations, beside the libsodium primitive rates measured in
 * the same run, and the ratio to the primitive-bound limit (docs/design.md
 * "Performance model": sealing costs one signature and one X25519 per
 * recipient, opening one verification and one X25519).  Sealing also makes
 * the fresh ephemeral key pair e (one X25519 base-point multiplication,
 * which libsodium 1.0.18 does with the same ladder), so the seal limit
 * counts it: 1 / (t_sign + t_x25519_base + n * t_x25519).  The limit
 * without it is printed too, as *_design_limit.
 *
 * Output: "figure NAME VALUE UNIT" and "ratio NAME VALUE target T" lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "client/seal.h"
#include "proto/err.h"
#include "tests/lib/sealfix.h"

#define RUN_SECONDS 0.2
#define NREC 10

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef int (*op_fn)(void *ctx);

/* Operations per second of op: the best of three windows of RUN_SECONDS,
 * so a burst of other load on the machine does not decide the figure. */
static double
rate(op_fn op, void *ctx)
{
    double best = 0;

    for (int w = 0; w < 3; w++) {
        double t0 = now_s(), t;
        long n = 0;

        do {
            for (int i = 0; i < 16; i++)
                if (op(ctx) != 0) {
                    fprintf(stderr, "bench: operation failed\n");
                    exit(1);
                }
            n += 16;
            t = now_s() - t0;
        } while (t < RUN_SECONDS);
        if ((double)n / t > best)
            best = (double)n / t;
    }
    return best;
}

static uint8_t pk[32], sk[64], msg[148], sig[64], xsk[32], xpk[32], xout[32];

static int
op_sign(void *ctx)
{
    (void)ctx;
    return crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
}

static int
op_verify(void *ctx)
{
    (void)ctx;
    return crypto_sign_verify_detached(sig, msg, sizeof msg, pk);
}

static int
op_x25519_base(void *ctx)
{
    (void)ctx;
    return crypto_scalarmult_base(xout, xsk);
}

static int
op_x25519(void *ctx)
{
    (void)ctx;
    return crypto_scalarmult(xout, xsk, xpk);
}

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

int
main(void)
{
    static const char *ids[NREC + 1] = {
        "org-a", "org-b", "org-c", "org-d", "org-e", "org-f",
        "org-g", "org-h", "org-i", "org-j", "org-k",
    };
    struct sf_org orgs[NREC + 1];
    struct lsn_seal_params p = {
        .created = SF_T0, .expires = SF_T0 + 86400, .bundle_version = 1,
    };
    struct seal_ctx c;
    Liaison__Alert a;
    char body[1025];
    double r_sign, r_verify, r_x, r_xb, r_seal, r_open;
    static const size_t ns[2] = { 1, NREC };

    if (sodium_init() < 0)
        return 1;
    for (int i = 0; i <= NREC; i++)
        if (sf_org_new(&orgs[i], ids[i], NULL) != 0)
            return 1;
    crypto_sign_keypair(pk, sk);
    randombytes_buf(msg, sizeof msg);
    crypto_box_keypair(xpk, xsk);
    op_sign(NULL);

    r_sign = rate(op_sign, NULL);
    r_verify = rate(op_verify, NULL);
    r_x = rate(op_x25519, NULL);
    r_xb = rate(op_x25519_base, NULL);
    printf("figure ed25519_sign %.0f ops/s\n", r_sign);
    printf("figure ed25519_verify %.0f ops/s\n", r_verify);
    printf("figure x25519 %.0f ops/s\n", r_x);
    printf("figure x25519_base %.0f ops/s\n", r_xb);

    sf_alert_sample(&a);
    memset(body, 'x', 1024);
    body[1024] = '\0';
    a.body = body;
    memset(&c, 0, sizeof c);
    c.a = &a;
    c.from = &orgs[0];
    c.to = &orgs[1];
    for (int i = 0; i < NREC; i++)
        c.rb[i] = orgs[i + 1].bundle;
    for (int k = 0; k < 2; k++) {
        size_t n = ns[k];
        double lim_seal = 1.0 / (1.0 / r_sign + 1.0 / r_xb + (double)n / r_x);
        double lim_design = 1.0 / (1.0 / r_sign + (double)n / r_x);
        double lim_open = 1.0 / (1.0 / r_verify + 1.0 / r_x);

        c.n = n;
        if (lsn_seal(&a, c.from->cred, c.rb, n, &p, &c.env, &c.len) != 0)
            return 1;
        r_seal = rate(op_seal, &c);
        r_open = rate(op_open, &c);
        printf("figure seal_1k_to_%zu %.0f msgs/s\n", n, r_seal);
        printf("figure open_1k_of_%zu %.0f msgs/s\n", n, r_open);
        printf("figure seal_1k_to_%zu_limit %.0f msgs/s\n", n, lim_seal);
        printf("figure seal_1k_to_%zu_design_limit %.0f msgs/s\n", n,
               lim_design);
        printf("figure open_1k_of_%zu_limit %.0f msgs/s\n", n, lim_open);
        printf("ratio seal_1k_to_%zu %.3f target 0.8\n", n, r_seal / lim_seal);
        printf("ratio open_1k_of_%zu %.3f target 0.8\n", n, r_open / lim_open);
        free(c.env);
    }
    for (int i = 0; i <= NREC; i++)
        sf_org_free(&orgs[i]);
    return 0;
}
