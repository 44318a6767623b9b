/* fuzzfix.c: the fixed world of the fuzz targets (see fuzzfix.h).  Built
 * through the same public functions a real administrator's tools use
 * (lsn_roster_from_body, lsn_bundle_sign), so the fixtures pass the same
 * checks as anything read from outside. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/util.h"
#include "proto/err.h"
#include "tests/fuzz/fuzzfix.h"

static void
die(const char *what, int r)
{
    fprintf(stderr, "fuzzfix: %s: %s (%s)\n", what, lsn_strerror(r),
            lsn_detail());
    abort();
}

void
ff_derive(uint8_t out[32], const char *label)
{
    static const uint8_t key[] = "liaison fuzz fixtures v1";

    crypto_generichash(out, 32, (const uint8_t *)label, strlen(label), key,
                       sizeof key - 1);
}

static void
derive_sign(uint8_t pk[32], uint8_t sk[64], const char *label)
{
    uint8_t seed[32];

    ff_derive(seed, label);
    crypto_sign_seed_keypair(pk, sk, seed);
}

static void
derive_x25519(uint8_t pk[32], uint8_t sk[32], const char *label)
{
    ff_derive(sk, label);
    crypto_scalarmult_base(pk, sk);
}

static void
org_make(struct ff_org *o, const char *id)
{
    struct lsn_device_keys *k;
    struct lsn_enc_secret s;
    Liaison__Bundle b = LIAISON__BUNDLE__INIT;
    Liaison__EncKey ek = LIAISON__ENC_KEY__INIT, *ekp = &ek;
    Liaison__Device d = LIAISON__DEVICE__INIT, *dp = &d;
    char label[64];
    int r;

    o->id = id;
    snprintf(label, sizeof label, "%s root", id);
    derive_sign(o->root_pk, o->root_sk, label);
    snprintf(label, sizeof label, "%s enc 1", id);
    derive_x25519(o->enc1_pk, o->enc1_sk, label);
    snprintf(label, sizeof label, "%s enc 2", id);
    derive_x25519(o->enc2_pk, o->enc2_sk, label);

    if ((r = lsn_credential_new(id, "d1", LIAISON__DEVICE_ROLE__ROLE_HUMAN, 1,
                                1, &o->cred)) != 0)
        die("credential", r);
    k = o->cred->keys;
    snprintf(label, sizeof label, "%s d1 sign", id);
    derive_sign(k->sign_pk, k->sign_sk, label);
    snprintf(label, sizeof label, "%s d1 curve", id);
    derive_x25519(k->curve_pk, k->curve_sk, label);
    snprintf(label, sizeof label, "%s d1 delivery", id);
    derive_x25519(k->delivery_pk, k->delivery_sk, label);
    memset(&s, 0, sizeof s);
    s.key_id = 1;
    memcpy(s.pk, o->enc1_pk, 32);
    memcpy(s.sk, o->enc1_sk, 32);
    s.created = FF_NOW - FF_DAY;
    if ((r = lsn_credential_put_enc(o->cred, &s)) != 0)
        die("credential key", r);
    sodium_memzero(&s, sizeof s);

    ek.key_id = 1;
    ek.public_key = (ProtobufCBinaryData){ 32, o->enc1_pk };
    ek.created = FF_NOW - FF_DAY;
    d.name = "d1";
    d.role = LIAISON__DEVICE_ROLE__ROLE_HUMAN;
    d.sign_key = (ProtobufCBinaryData){ 32, k->sign_pk };
    d.curve_key = (ProtobufCBinaryData){ 32, k->curve_pk };
    d.delivery_key = (ProtobufCBinaryData){ 32, k->delivery_pk };
    d.may_send = 1;
    d.may_receive = 1;
    b.org = (char *)id;
    b.version = 1;
    b.issued = FF_NOW - FF_DAY;
    b.expires = FF_NOW + 365 * FF_DAY;
    b.enc_keys = &ekp;
    b.n_enc_keys = 1;
    b.devices = &dp;
    b.n_devices = 1;
    if ((r = lsn_bundle_sign(&b, o->root_sk, &o->bundle)) != 0)
        die("bundle", r);
}

struct lsn_roster *
ff_roster(const struct ff_world *w, uint64_t version, int64_t expires,
          unsigned signers)
{
    Liaison__Roster body = LIAISON__ROSTER__INIT;
    Liaison__RosterRelay relay = LIAISON__ROSTER_RELAY__INIT, *relays[1];
    Liaison__RosterOrg os[2], *osp[2];
    const struct ff_org *orgs[2] = { &w->alpha, &w->bravo };
    ProtobufCBinaryData auth[2];
    uint8_t relay_key[32];
    struct lsn_roster *ro = NULL;
    int r;

    ff_derive(relay_key, "relay r1 curve");
    relay.name = "r1";
    relay.endpoint = "tcp://127.0.0.1:7400";
    relay.curve_key = (ProtobufCBinaryData){ 32, relay_key };
    relays[0] = &relay;
    for (size_t i = 0; i < 2; i++) {
        auth[i] = (ProtobufCBinaryData){ 32, (uint8_t *)w->auth_pk[i] };
        liaison__roster_org__init(&os[i]);
        os[i].id = (char *)orgs[i]->id;
        os[i].display = (char *)(i == 0 ? "Alpha Police" : "Bravo Payments");
        os[i].root_key = (ProtobufCBinaryData){ 32, (uint8_t *)orgs[i]->root_pk };
        os[i].relay = "r1";
        osp[i] = &os[i];
    }
    body.coalition = "fuzz";
    body.version = version;
    body.issued = FF_NOW - FF_DAY;
    body.expires = expires;
    body.authorities = auth;
    body.n_authorities = 2;
    body.threshold = 2;
    body.orgs = osp;
    body.n_orgs = 2;
    body.relays = relays;
    body.n_relays = 1;
    if ((r = lsn_roster_from_body(&body, &ro)) != 0)
        die("roster", r);
    for (size_t i = 0; i < 2; i++)
        if ((signers & (1u << i)) && (r = lsn_roster_sign(ro, w->auth_sk[i])) != 0)
            die("roster signature", r);
    return ro;
}

const struct ff_world *
ff_world(void)
{
    static struct ff_world w;
    static int ready;
    int r;

    if (ready)
        return &w;
    if (sodium_init() < 0)
        die("sodium_init", LSN_ERR_INTERNAL);
    derive_sign(w.auth_pk[0], w.auth_sk[0], "authority 1");
    derive_sign(w.auth_pk[1], w.auth_sk[1], "authority 2");
    org_make(&w.alpha, "alpha");
    org_make(&w.bravo, "bravo");
    w.roster = ff_roster(&w, 1, FF_NOW + 365 * FF_DAY, 3);
    w.roster2 = ff_roster(&w, 2, FF_NOW + 365 * FF_DAY, 3);
    if ((r = lsn_roster_verify(w.roster, FF_NOW)) != 0 ||
        (r = lsn_roster_verify_next(w.roster, w.roster2, FF_NOW, 1)) != 0 ||
        (r = lsn_bundle_verify(w.alpha.bundle, w.roster, FF_NOW)) != 0 ||
        (r = lsn_bundle_verify(w.bravo.bundle, w.roster, FF_NOW)) != 0)
        die("fixtures do not verify", r);
    /* Each credential pins roster v1, as an administrator's would. */
    if ((r = lsn_credential_set_roster(w.alpha.cred, w.roster->bytes,
                                       w.roster->len)) != 0 ||
        (r = lsn_credential_set_roster(w.bravo.cred, w.roster->bytes,
                                       w.roster->len)) != 0)
        die("pinned roster", r);
    ready = 1;
    return &w;
}

__attribute__((weak)) int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ff_world();
    return 0;
}

int
ff_signed_by(const Liaison__SignedObject *so, const char *type,
             const uint8_t key[32])
{
    char prefix[64];
    int plen = snprintf(prefix, sizeof prefix, "liaison v1 %s", type);
    size_t mlen;
    uint8_t *m;
    int ok = 0;

    FF_CHECK(plen > 0 && (size_t)plen < sizeof prefix);
    mlen = (size_t)plen + 1 + so->body.len;
    FF_CHECK((m = malloc(mlen)) != NULL);
    memcpy(m, prefix, (size_t)plen + 1);            /* with its 0x00 */
    if (so->body.len > 0)
        memcpy(m + plen + 1, so->body.data, so->body.len);
    for (size_t i = 0; !ok && i < so->n_signatures; i++)
        ok = so->signatures[i]->public_key.len == 32 &&
             memcmp(so->signatures[i]->public_key.data, key, 32) == 0 &&
             crypto_sign_verify_detached(so->signatures[i]->sig.data, m, mlen,
                                         key) == 0;
    free(m);
    return ok;
}

struct lsn_credential *
ff_cred_copy(const struct ff_org *o)
{
    struct lsn_credential *c = NULL;
    uint8_t *enc = NULL;
    size_t n = 0;
    int r;

    if ((r = lsn_credential_encode(o->cred, &enc, &n)) != 0 ||
        (r = lsn_credential_decode(enc, n, &c)) != 0)
        die("credential copy", r);
    sodium_free(enc);
    return c;
}
