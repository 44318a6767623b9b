/* gen_corpus.c: writes the seed corpus of every fuzz target into
 * DIR/<target>/ (make fuzz-corpus: DIR is tests/fuzz/corpus).
 *
 * Seeds are small valid inputs built with the fixtures of fuzzfix.c (so
 * a target's fixed credential can open them) and near-valid ones: one
 * field out of range, a signature missing or by the wrong key, a file cut
 * short.  Most bytes are reproducible; key deliveries and sealed boxes
 * carry fresh randomness, so regenerating changes those files only.
 *
 *   gen_corpus DIR */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "client/alert.h"
#include "client/seal.h"
#include "keys/armor.h"
#include "keys/delivery.h"
#include "keys/keyfile.h"
#include "keys/signed.h"
#include "proto/err.h"
#include "proto/wire.h"
#include "tests/fuzz/fuzzfix.h"
#include "tests/lib/sealfix.h"

static const char *root;
static const struct ff_world *w;
static int count;

static void
fail(const char *what, int r)
{
    fprintf(stderr, "gen_corpus: %s: %s\n", what, lsn_strerror(r));
    exit(1);
}

static void
need(int r, const char *what)
{
    if (r != 0)
        fail(what, r);
}

/* Writes DIR/target/name: an optional selector byte (sel < 0: none) and
 * then data. */
static void
put(const char *target, const char *name, int sel, const void *data, size_t n)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        fail(path, LSN_ERR_IO);
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    if ((f = fopen(path, "wb")) == NULL)
        fail(path, LSN_ERR_IO);
    if (sel >= 0)
        fputc(sel, f);
    if (n > 0)
        fwrite(data, 1, n, f);
    if (fclose(f) != 0)
        fail(path, LSN_ERR_IO);
    count++;
}

/* The same bytes cut short by one, and with one byte flipped at mid. */
static void
put_near(const char *target, const char *name, int sel, const uint8_t *data,
         size_t n)
{
    char nm[128];
    uint8_t *c;

    if (n < 2)
        return;
    snprintf(nm, sizeof nm, "%s-cut", name);
    put(target, nm, sel, data, n - 1);
    if ((c = malloc(n)) == NULL)
        fail("malloc", LSN_ERR_NOMEM);
    memcpy(c, data, n);
    c[n / 2] ^= 0x01;
    snprintf(nm, sizeof nm, "%s-flip", name);
    put(target, nm, sel, c, n);
    free(c);
}

/* An encoded signed object of type around body, signed by sks[0..n). */
static void
signed_bytes(const char *type, const ProtobufCMessage *body,
             const uint8_t *const *sks, size_t n, uint8_t **out,
             size_t *out_len)
{
    Liaison__SignedObject *so = NULL;
    uint8_t *b = NULL;
    size_t bl = 0;

    need(lsn_pb_encode(body, &b, &bl), "encode body");
    need(lsn_signed_wrap(type, b, bl, &so), "wrap");
    for (size_t i = 0; i < n; i++)
        need(lsn_signed_sign(so, sks[i]), "sign");
    need(lsn_pb_encode(&so->base, out, out_len), "encode signed");
    lsn_signed_free(so);
    free(b);
}

/* ---------------------------------------------------------------- alerts */

struct blob {
    uint8_t *p;
    size_t n;
};

#define N_ALERTS 12
static struct blob alerts[N_ALERTS];
static const char *const alert_names[N_ALERTS] = {
    "sample", "minimal", "attachment", "update", "h3-europol",
    "bad-enum", "title-newline", "unknown-indicator", "circle",
    "circle-member-twice", "feedback", "feedback-reported-other",
};

static void
make_alerts(void)
{
    static uint8_t data[] = "hello, attachment";
    static uint8_t msg_id[16] = { 1, 2, 3 };
    Liaison__Alert a;
    Liaison__Attachment at = LIAISON__ATTACHMENT__INIT, *atp = &at;
    Liaison__MessageRef ref = LIAISON__MESSAGE_REF__INIT;
    Liaison__Grading g = LIAISON__GRADING__INIT;
    Liaison__Indicator in = LIAISON__INDICATOR__INIT, *inp = &in;
    Liaison__AlertCircle ci = LIAISON__ALERT_CIRCLE__INIT, *cip = &ci;
    static char *members[] = { "alpha", "bravo" }, *twice[] = { "alpha", "alpha" };
    Liaison__Feedback fb = LIAISON__FEEDBACK__INIT;
    static uint32_t fb_ind[3] = { 1, 2, 7 };
    uint8_t sha[32];

    for (int i = 0; i < N_ALERTS; i++) {
        liaison__alert__init(&a);
        a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_NOTICE;
        a.title = "Fuzz seed";
        switch (i) {
        case 0:
            sf_alert_sample(&a);
            break;
        case 1:
            break;
        case 2:
            crypto_hash_sha256(sha, data, sizeof data - 1);
            at.name = "note.txt";
            at.media_type = "text/plain";
            at.sha256 = (ProtobufCBinaryData){ 32, sha };
            at.data = (ProtobufCBinaryData){ sizeof data - 1, data };
            a.attachments = &atp;
            a.n_attachments = 1;
            break;
        case 3:
            a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_UPDATE;
            ref.org = "bravo";
            ref.msg_id = (ProtobufCBinaryData){ 16, msg_id };
            a.supersedes = &ref;
            a.in_reply_to = &ref;
            break;
        case 4:
            a.handling = LIAISON__HANDLING_CODE__HANDLING_H3;
            a.handling_text = "Do not share outside the unit.";
            g.system = LIAISON__GRADING_SYSTEM__GRADING_EUROPOL_4X4;
            g.source = "X";
            g.information = "4";
            a.grading = &g;
            a.tlp = LIAISON__TLP__TLP_RED;
            a.respond_by = FF_NOW + FF_DAY;
            break;
        case 5:
            a.type = (Liaison__AlertType)99;
            break;
        case 6:
            a.title = "two\nlines";
            break;
        case 7:
            in.type = "no-such-type";
            in.value = "x";
            a.indicators = &inp;
            a.n_indicators = 1;
            break;
        case 8:
        case 9:
            a.tlp = LIAISON__TLP__TLP_GREEN;
            ci.name = "payments-eu";
            ci.orgs = i == 8 ? members : twice;
            ci.n_orgs = 2;
            a.circles = &cip;
            a.n_circles = 1;
            break;
        case 10:
        case 11:
            a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_FEEDBACK;
            ref.org = "bravo";
            ref.msg_id = (ProtobufCBinaryData){ 16, msg_id };
            a.in_reply_to = &ref;
            liaison__feedback__init(&fb);
            fb.disposition = LIAISON__DISPOSITION__DISPOSITION_FALSE_POSITIVE;
            fb.indicators = fb_ind;
            fb.n_indicators = 3;
            fb.note = "our own test domain";
            fb.at = FF_NOW;
            if (i == 11) {
                fb.disposition = LIAISON__DISPOSITION__DISPOSITION_REPORTED;
                fb.reported_to = LIAISON__REPORTED_TO__REPORTED_OTHER;
                fb.reported_other = "IWF";
            }
            a.feedback = &fb;
            break;
        }
        need(lsn_pb_encode(&a.base, &alerts[i].p, &alerts[i].n), "alert");
    }
}

static void
gen_alert(void)
{
    for (int i = 0; i < N_ALERTS; i++)
        put("alert", alert_names[i], -1, alerts[i].p, alerts[i].n);
    put_near("alert", "sample", -1, alerts[0].p, alerts[0].n);
    put("alert", "empty", -1, NULL, 0);
}

/* ---------------------------------------------------------------- envelopes */

#define N_ENVS 11
static struct blob envs[N_ENVS];
static const char *const env_names[N_ENVS] = {
    "one", "two", "idem", "suite2", "ttl", "future", "unknown-device",
    "unknown-key", "replayed", "expired", "not-for-alpha",
};

static void edit_suite(Liaison__EnvelopeHeader *h, void *c) { (void)c; h->suite = 2; }
static void edit_ttl(Liaison__EnvelopeHeader *h, void *c)
{ (void)c; h->expires = h->created + LSN_MAX_TTL + 1; }
static void edit_future(Liaison__EnvelopeHeader *h, void *c)
{ (void)c; h->created = FF_NOW + 3600; h->expires = FF_NOW + 7200; }
static void edit_device(Liaison__EnvelopeHeader *h, void *c)
{ (void)c; h->sender_device = "d9"; }
static void edit_key(Liaison__EnvelopeHeader *h, void *c)
{ (void)c; h->recipients[0]->key_id = 7; }
static void edit_msg_id(Liaison__EnvelopeHeader *h, void *c)
{ (void)c; h->msg_id.data[0] = 0xee; }
static void edit_expired(Liaison__EnvelopeHeader *h, void *c)
{ (void)c; h->created = FF_NOW - 3 * FF_DAY; h->expires = FF_NOW - FF_DAY; }

static void
seal_to(const struct lsn_bundle *const *to, size_t n, const char *idem,
        struct blob *out)
{
    struct lsn_seal_params p;
    struct lsn_seal_random rnd;
    Liaison__Alert a;

    memset(&p, 0, sizeof p);
    p.created = FF_NOW - 60;
    p.expires = FF_NOW + FF_DAY;
    p.bundle_version = 1;
    if (idem != NULL) {
        p.idem_key = (const uint8_t *)idem;
        p.idem_len = strlen(idem);
    }
    ff_derive(rnd.key, "seed K");
    ff_derive(rnd.eph_sk, "seed ephemeral");
    memset(rnd.msg_id, 0x5e, sizeof rnd.msg_id);
    memset(rnd.nonce, 0x42, sizeof rnd.nonce);
    sf_alert_sample(&a);
    need(lsn_seal_with_random(&a, w->bravo.cred, to, n, &p, &rnd, &out->p,
                              &out->n), "seal");
}

static void
make_envelopes(void)
{
    const struct lsn_bundle *alpha[1] = { w->alpha.bundle };
    const struct lsn_bundle *both[2] = { w->alpha.bundle, w->bravo.bundle };
    const struct lsn_bundle *bravo[1] = { w->bravo.bundle };
    static const sf_edit_fn edits[] = {
        edit_suite, edit_ttl, edit_future, edit_device, edit_key,
        edit_msg_id, edit_expired,
    };
    const uint8_t *sk = w->bravo.cred->keys->sign_sk;

    seal_to(alpha, 1, NULL, &envs[0]);
    seal_to(both, 2, NULL, &envs[1]);
    seal_to(alpha, 1, "push-42", &envs[2]);
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++)
        need(sf_tamper(envs[0].p, envs[0].n, edits[i], NULL, sk,
                       &envs[3 + i].p, &envs[3 + i].n), "tamper");
    seal_to(bravo, 1, NULL, &envs[10]);
}

static void
gen_envelope(void)
{
    for (int i = 0; i < N_ENVS; i++)
        put("envelope", env_names[i], -1, envs[i].p, envs[i].n);
    put_near("envelope", "one", -1, envs[0].p, envs[0].n);
    put_near("envelope", "two", -1, envs[1].p, envs[1].n);
}

static void
gen_open(void)
{
    char nm[64];

    for (int i = 0; i < N_ENVS; i++) {
        snprintf(nm, sizeof nm, "raw-%s", env_names[i]);
        put("open", nm, 0, envs[i].p, envs[i].n);
        snprintf(nm, sizeof nm, "resign-%s", env_names[i]);
        put("open", nm, 1, envs[i].p, envs[i].n);
    }
    put("open", "raw-one-noreplay", 4, envs[0].p, envs[0].n);
    put_near("open", "raw-one", 0, envs[0].p, envs[0].n);
    for (int i = 0; i < N_ALERTS; i++) {
        snprintf(nm, sizeof nm, "content-%s", alert_names[i]);
        put("open", nm, 2, alerts[i].p, alerts[i].n);
    }
}

/* ---------------------------------------------------------------- rosters */

static void
gen_roster(void)
{
    struct lsn_roster *r;
    Liaison__Roster *body;
    Liaison__RosterOrg *org0;
    const uint8_t *sks[2] = { w->auth_sk[0], w->auth_sk[1] };
    uint8_t *b = NULL;
    size_t n = 0;

    put("roster", "v1", -1, w->roster->bytes, w->roster->len);
    put("roster", "v2", -1, w->roster2->bytes, w->roster2->len);
    put_near("roster", "v1", -1, w->roster->bytes, w->roster->len);
    r = ff_roster(w, 2, FF_NOW + 365 * FF_DAY, 1);
    put("roster", "v2-one-signature", -1, r->bytes, r->len);
    lsn_roster_destroy(&r);
    r = ff_roster(w, 2, FF_NOW + 365 * FF_DAY, 0);
    put("roster", "v2-unsigned", -1, r->bytes, r->len);
    lsn_roster_destroy(&r);
    r = ff_roster(w, 3, FF_NOW + 365 * FF_DAY, 3);
    put("roster", "v3-gap", -1, r->bytes, r->len);
    lsn_roster_destroy(&r);
    r = ff_roster(w, 2, FF_NOW - 1, 3);
    put("roster", "v2-expired", -1, r->bytes, r->len);
    lsn_roster_destroy(&r);

    /* Bodies the builder would refuse, signed anyway. */
    body = (Liaison__Roster *)w->roster->r;
    org0 = body->orgs[0];
    {
        char *id = org0->id;
        org0->id = "Alpha!";
        signed_bytes(LSN_TYPE_ROSTER, &body->base, sks, 2, &b, &n);
        org0->id = id;
        put("roster", "bad-org-id", -1, b, n);
        free(b);
    }
    {
        uint32_t t = body->threshold;
        body->threshold = 3;
        signed_bytes(LSN_TYPE_ROSTER, &body->base, sks, 2, &b, &n);
        body->threshold = t;
        put("roster", "threshold-over", -1, b, n);
        free(b);
    }
    /* v2 with a circle, signed by both; then circles the builder would
     * refuse: an unknown member, a bad name. */
    {
        Liaison__Roster b2 = *w->roster2->r;
        Liaison__RosterCircle c = LIAISON__ROSTER_CIRCLE__INIT, *cp = &c;
        static char *members[] = { "alpha", "bravo" }, *unknown[] = { "charlie" };

        c.name = "payments-eu";
        c.display = "Payments EU";
        c.orgs = members;
        c.n_orgs = 2;
        b2.circles = &cp;
        b2.n_circles = 1;
        signed_bytes(LSN_TYPE_ROSTER, &b2.base, sks, 2, &b, &n);
        put("roster", "v2-circle", -1, b, n);
        free(b);
        c.orgs = unknown;
        c.n_orgs = 1;
        signed_bytes(LSN_TYPE_ROSTER, &b2.base, sks, 2, &b, &n);
        put("roster", "circle-unknown-member", -1, b, n);
        free(b);
        c.orgs = members;
        c.n_orgs = 2;
        c.name = "Pay.EU";
        signed_bytes(LSN_TYPE_ROSTER, &b2.base, sks, 2, &b, &n);
        put("roster", "circle-bad-name", -1, b, n);
        free(b);
    }
    /* A bundle where a roster belongs: the type must not cross over. */
    put("roster", "is-a-bundle", -1, w->alpha.bundle->bytes,
        w->alpha.bundle->len);
}

/* ---------------------------------------------------------------- bundles */

static struct lsn_bundle *
bundle_v(const struct ff_org *o, uint64_t version, const uint8_t *previous,
         int64_t expires, const uint8_t *signer, const char *org_id)
{
    Liaison__Bundle b = LIAISON__BUNDLE__INIT;
    Liaison__EncKey k2 = LIAISON__ENC_KEY__INIT, *keys[2];
    struct lsn_bundle *bu = NULL;
    Liaison__Bundle *v1 = o->bundle->b;

    k2.key_id = 2;
    k2.public_key = (ProtobufCBinaryData){ 32, (uint8_t *)o->enc2_pk };
    k2.created = FF_NOW;
    keys[0] = &k2;
    keys[1] = v1->enc_keys[0];
    b.org = (char *)(org_id ? org_id : o->id);
    b.version = version;
    b.issued = FF_NOW - FF_DAY;
    b.expires = expires;
    b.enc_keys = keys;
    b.n_enc_keys = 2;
    b.devices = v1->devices;
    b.n_devices = v1->n_devices;
    if (previous != NULL)
        b.previous = (ProtobufCBinaryData){ 32, (uint8_t *)previous };
    keys[1]->retire_after = FF_NOW + 30 * FF_DAY;
    need(lsn_bundle_sign(&b, signer, &bu), "bundle");
    keys[1]->retire_after = 0;
    return bu;
}

static void
gen_bundle(void)
{
    const struct ff_org *a = &w->alpha;
    static const uint8_t zero[32];
    struct lsn_bundle *bu;

    put("bundle", "alpha-v1", -1, a->bundle->bytes, a->bundle->len);
    put("bundle", "bravo-v1", -1, w->bravo.bundle->bytes, w->bravo.bundle->len);
    put_near("bundle", "alpha-v1", -1, a->bundle->bytes, a->bundle->len);
    bu = bundle_v(a, 2, a->bundle->hash, FF_NOW + 365 * FF_DAY, a->root_sk, NULL);
    put("bundle", "alpha-v2", -1, bu->bytes, bu->len);
    lsn_bundle_destroy(&bu);
    bu = bundle_v(a, 2, zero, FF_NOW + 365 * FF_DAY, a->root_sk, NULL);
    put("bundle", "alpha-v2-bad-previous", -1, bu->bytes, bu->len);
    lsn_bundle_destroy(&bu);
    bu = bundle_v(a, 5, zero, FF_NOW + 365 * FF_DAY, a->root_sk, NULL);
    put("bundle", "alpha-v5", -1, bu->bytes, bu->len);
    lsn_bundle_destroy(&bu);
    bu = bundle_v(a, 2, a->bundle->hash, FF_NOW - 1, a->root_sk, NULL);
    put("bundle", "alpha-v2-expired", -1, bu->bytes, bu->len);
    lsn_bundle_destroy(&bu);
    bu = bundle_v(a, 2, a->bundle->hash, FF_NOW + FF_DAY, w->bravo.root_sk, NULL);
    put("bundle", "alpha-v2-bravo-signed", -1, bu->bytes, bu->len);
    lsn_bundle_destroy(&bu);
    bu = bundle_v(a, 2, a->bundle->hash, FF_NOW + FF_DAY, a->root_sk, "charlie");
    put("bundle", "charlie-v2", -1, bu->bytes, bu->len);
    lsn_bundle_destroy(&bu);
    put("bundle", "is-a-roster", -1, w->roster->bytes, w->roster->len);
}

/* ---------------------------------------------------------------- deliveries */

static void
gen_delivery(void)
{
    const struct ff_org *a = &w->alpha;
    struct lsn_enc_secret s;
    struct lsn_delivery *d = NULL;

    memset(&s, 0, sizeof s);
    s.key_id = 2;
    memcpy(s.pk, a->enc2_pk, 32);
    memcpy(s.sk, a->enc2_sk, 32);
    need(lsn_delivery_make("alpha", "d1", a->cred->keys->delivery_pk, &s, 2,
                           a->root_sk, FF_NOW, &d), "delivery");
    put("delivery", "alpha-d1-key2", -1, d->bytes, d->len);
    put_near("delivery", "alpha-d1-key2", -1, d->bytes, d->len);
    lsn_delivery_destroy(&d);
    need(lsn_delivery_make("alpha", "d2", a->cred->keys->delivery_pk, &s, 2,
                           a->root_sk, FF_NOW, &d), "delivery");
    put("delivery", "alpha-d2", -1, d->bytes, d->len);
    lsn_delivery_destroy(&d);
    need(lsn_delivery_make("alpha", "d1", a->cred->keys->delivery_pk, &s, 2,
                           w->bravo.root_sk, FF_NOW, &d), "delivery");
    put("delivery", "bravo-signed", -1, d->bytes, d->len);
    lsn_delivery_destroy(&d);
    need(lsn_delivery_make("alpha", "d1", w->bravo.cred->keys->delivery_pk, &s,
                           2, a->root_sk, FF_NOW, &d), "delivery");
    put("delivery", "sealed-to-other", -1, d->bytes, d->len);
    lsn_delivery_destroy(&d);
    memcpy(s.sk, a->enc1_sk, 32);     /* public key 2, secret key 1 */
    need(lsn_delivery_make("alpha", "d1", a->cred->keys->delivery_pk, &s, 2,
                           a->root_sk, FF_NOW, &d), "delivery");
    put("delivery", "key-mismatch", -1, d->bytes, d->len);
    lsn_delivery_destroy(&d);
    s.key_id = 1;
    memcpy(s.pk, a->enc1_pk, 32);
    need(lsn_delivery_make("alpha", "d1", a->cred->keys->delivery_pk, &s, 1,
                           a->root_sk, FF_NOW, &d), "delivery");
    put("delivery", "alpha-d1-key1-again", -1, d->bytes, d->len);
    lsn_delivery_destroy(&d);
    sodium_memzero(&s, sizeof s);
}

/* ---------------------------------------------------------------- files */

/* Selectors of fuzz_armor: low nibble label, high nibble cap. */
#define ARMOR_SECRET 0x50
#define ARMOR_PUBLIC 0x51
#define ARMOR_ROSTER 0x52
#define ARMOR_BUNDLE 0x53
#define ARMOR_DELIVERY 0x54

/* A protected secret file with the cheapest argon2id the format allows,
 * built by hand from docs/formats.md (lsn_secret_encode always uses the
 * full cost). */
static void
cheap_protected(int kind, const uint8_t *payload, size_t len, char **text,
                size_t *tn)
{
    size_t total = 68 + len + crypto_secretbox_MACBYTES + 32;
    uint8_t *bin = calloc(1, total), key[32];
    const char *pass = "fuzz passphrase";

    if (bin == NULL)
        fail("malloc", LSN_ERR_NOMEM);
    memcpy(bin, "LSNS", 4);
    bin[4] = 1;
    bin[5] = (uint8_t)kind;
    bin[6] = 1;
    bin[15] = 1;                                   /* opslimit 1 */
    bin[22] = 0x20;                                /* memlimit 8192 */
    memset(bin + 24, 0x5a, 16);                    /* salt */
    memset(bin + 40, 0x6b, 24);                    /* nonce */
    bin[64] = (uint8_t)(len >> 24);
    bin[65] = (uint8_t)(len >> 16);
    bin[66] = (uint8_t)(len >> 8);
    bin[67] = (uint8_t)len;
    if (crypto_pwhash(key, 32, pass, strlen(pass), bin + 24, 1, 8192,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        fail("argon2id", LSN_ERR_NOMEM);
    crypto_secretbox_easy(bin + 68, payload, len, bin + 40, key);
    crypto_generichash(bin + total - 32, 32, bin, total - 32, NULL, 0);
    need(lsn_armor_encode("secret-key", "fuzz seed", bin, total, text, tn),
         "armor");
    free(bin);
}

static void
gen_files(void)
{
    uint8_t *cred = NULL;
    size_t cn = 0, tn = 0;
    char *t = NULL, *p;

    need(lsn_credential_encode(w->alpha.cred, &cred, &cn), "credential");

    need(lsn_secret_encode(LSN_KEY_CREDENTIAL, "device d1 of alpha", cred, cn,
                           NULL, &t, &tn), "secret");
    put("keyfile", "credential", LSN_KEY_CREDENTIAL, t, tn);
    put("keyfile", "credential-repair", LSN_KEY_CREDENTIAL | 16, t, tn);
    put("keyfile", "credential-as-root", LSN_KEY_ORG_ROOT, t, tn);
    put("armor", "secret-credential", ARMOR_SECRET, t, tn);
    put("armor", "secret-as-public", ARMOR_PUBLIC, t, tn);
    put_near("armor", "secret-credential", ARMOR_SECRET, (uint8_t *)t, tn);
    /* CRLF line ends and a missing end line. */
    {
        size_t m = 0;
        char *crlf = malloc(2 * tn + 1);
        if (crlf == NULL)
            fail("malloc", LSN_ERR_NOMEM);
        for (size_t i = 0; i < tn; i++) {
            if (t[i] == '\n')
                crlf[m++] = '\r';
            crlf[m++] = t[i];
        }
        put("armor", "secret-crlf", ARMOR_SECRET, crlf, m);
        free(crlf);
        p = strstr(t, "end\n");
        if (p != NULL)
            put("armor", "secret-no-end", ARMOR_SECRET, t, (size_t)(p - t));
    }
    sodium_memzero(t, tn);
    free(t);

    need(lsn_secret_encode(LSN_KEY_ORG_ROOT, NULL, w->alpha.root_sk, 64, NULL,
                           &t, &tn), "secret");
    put("keyfile", "org-root", LSN_KEY_ORG_ROOT, t, tn);
    free(t);
    cheap_protected(LSN_KEY_AUTHORITY, w->auth_sk[0], 64, &t, &tn);
    put("keyfile", "authority-protected", LSN_KEY_AUTHORITY | 32, t, tn);
    put("keyfile", "authority-protected-nopass", LSN_KEY_AUTHORITY, t, tn);
    put("keyfile", "authority-protected-repair", LSN_KEY_AUTHORITY | 48, t, tn);
    free(t);

    need(lsn_public_encode(LSN_KEY_AUTHORITY, "authority 1", w->auth_pk[0], &t,
                           &tn), "public");
    put("keyfile", "public-authority", LSN_KEY_AUTHORITY | 8, t, tn);
    put("keyfile", "public-as-relay", LSN_KEY_RELAY | 8, t, tn);
    put("armor", "public-authority", ARMOR_PUBLIC, t, tn);
    put_near("keyfile", "public-authority", LSN_KEY_AUTHORITY | 8,
             (uint8_t *)t, tn);
    free(t);

    need(lsn_armor_encode("signed-roster", NULL, w->roster->bytes,
                          w->roster->len, &t, &tn), "armor");
    put("armor", "roster", ARMOR_ROSTER, t, tn);
    put("armor", "roster-small-cap", 0x32, t, tn);
    free(t);
    need(lsn_armor_encode("signed-bundle", "two\ncomment lines",
                          w->alpha.bundle->bytes, w->alpha.bundle->len, &t,
                          &tn), "armor");
    put("armor", "bundle", ARMOR_BUNDLE, t, tn);
    put("armor", "bundle-as-delivery", ARMOR_DELIVERY, t, tn);
    free(t);
    put("armor", "empty-body", ARMOR_SECRET, "liaison-secret-key v1\nend\n", 26);
    put("armor", "version-2", ARMOR_SECRET, "liaison-secret-key v2\nend\n", 26);
    put("armor", "short-base64", ARMOR_SECRET,
        "liaison-secret-key v1\nQUJD\nQQ\nend\n", 33);

    /* Credential payloads. */
    put("credential", "alpha", -1, cred, cn);
    put_near("credential", "alpha", -1, cred, cn);
    sodium_free(cred);
    need(lsn_credential_encode(w->bravo.cred, &cred, &cn), "credential");
    put("credential", "bravo", -1, cred, cn);
    sodium_free(cred);
    {
        struct lsn_credential *c = ff_cred_copy(&w->alpha);
        struct lsn_enc_secret s;

        memset(&s, 0, sizeof s);
        s.key_id = 2;
        memcpy(s.pk, w->alpha.enc2_pk, 32);
        memcpy(s.sk, w->alpha.enc2_sk, 32);
        need(lsn_credential_put_enc(c, &s), "put_enc");
        need(lsn_credential_set_roster(c, NULL, 0), "roster");
        c->role = LIAISON__DEVICE_ROLE__ROLE_ADMIN;
        need(lsn_credential_encode(c, &cred, &cn), "credential");
        put("credential", "alpha-two-keys-no-roster", -1, cred, cn);
        sodium_free(cred);
        c->role = 0;
        need(lsn_credential_encode(c, &cred, &cn), "credential");
        put("credential", "role-none", -1, cred, cn);
        sodium_free(cred);
        c->enc[0].pk[0] ^= 1;
        need(lsn_credential_encode(c, &cred, &cn), "credential");
        put("credential", "key-mismatch", -1, cred, cn);
        sodium_free(cred);
        sodium_memzero(&s, sizeof s);
        lsn_credential_destroy(&c);
    }
}

/* ---------------------------------------------------------------- pb */

/* fuzz_pb's selectors: the order of its types[] table. */
enum {
    PB_SIGNED, PB_ROSTER, PB_BUNDLE, PB_DELIVERY, PB_CREDENTIAL, PB_KEYRING,
    PB_ENVELOPE, PB_HEADER, PB_ALERT, PB_REQUEST, PB_RESPONSE,
    PB_STORED_FEEDBACK, PB_STORED_LINK, PB_STORED_RECEIVED,
};

static void
gen_pb(void)
{
    struct lsn_envelope *e = NULL;
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__PingRequest ping = LIAISON__PING_REQUEST__INIT;
    Liaison__Response resp = LIAISON__RESPONSE__INIT;
    Liaison__PingReply pong = LIAISON__PING_REPLY__INIT;
    Liaison__EncKeyring ring = LIAISON__ENC_KEYRING__INIT;
    Liaison__EncSecret es, *esp = &es;
    uint8_t *b = NULL, *cred = NULL, dup[64];
    size_t n = 0, cn = 0;

    put("pb", "signed-roster", PB_SIGNED, w->roster->bytes, w->roster->len);
    put("pb", "signed-roster-tightcap", PB_SIGNED | 0x80, w->roster->bytes,
        w->roster->len);
    put("pb", "roster", PB_ROSTER, w->roster->so->body.data,
        w->roster->so->body.len);
    put("pb", "bundle", PB_BUNDLE, w->alpha.bundle->so->body.data,
        w->alpha.bundle->so->body.len);
    put("pb", "bundle-as-roster", PB_ROSTER, w->alpha.bundle->so->body.data,
        w->alpha.bundle->so->body.len);
    {
        struct lsn_enc_secret s;
        struct lsn_delivery *d = NULL;

        memset(&s, 0, sizeof s);
        s.key_id = 2;
        memcpy(s.pk, w->alpha.enc2_pk, 32);
        memcpy(s.sk, w->alpha.enc2_sk, 32);
        need(lsn_delivery_make("alpha", "d1", w->alpha.cred->keys->delivery_pk,
                               &s, 2, w->alpha.root_sk, FF_NOW, &d), "delivery");
        put("pb", "key-delivery", PB_DELIVERY, d->so->body.data,
            d->so->body.len);
        put("pb", "signed-key-delivery", PB_SIGNED, d->bytes, d->len);
        lsn_delivery_destroy(&d);
        sodium_memzero(&s, sizeof s);
    }
    need(lsn_credential_encode(w->alpha.cred, &cred, &cn), "credential");
    put("pb", "credential", PB_CREDENTIAL, cred, cn);
    put("pb", "credential-tightcap", PB_CREDENTIAL | 0x80, cred, cn);
    sodium_free(cred);
    lsn_enc_secret_to_pb(&w->alpha.cred->enc[0], &es);
    ring.keys = &esp;
    ring.n_keys = 1;
    ring.next_key_id = 2;
    need(lsn_pb_encode(&ring.base, &b, &n), "keyring");
    put("pb", "keyring", PB_KEYRING, b, n);
    free(b);
    put("pb", "envelope", PB_ENVELOPE, envs[0].p, envs[0].n);
    put("pb", "envelope-two", PB_ENVELOPE, envs[1].p, envs[1].n);
    need(lsn_envelope_parse(envs[1].p, envs[1].n, 0, &e), "parse");
    put("pb", "header", PB_HEADER, e->header_bytes, e->header_len);
    put("pb", "header-tightcap", PB_HEADER | 0x80, e->header_bytes,
        e->header_len);
    lsn_envelope_destroy(&e);
    put("pb", "alert", PB_ALERT, alerts[0].p, alerts[0].n);
    put("pb", "alert-attachment", PB_ALERT, alerts[2].p, alerts[2].n);
    {
        Liaison__StoredFeedback sf = LIAISON__STORED_FEEDBACK__INIT;
        Liaison__Feedback fb = LIAISON__FEEDBACK__INIT;
        Liaison__StoredLink sl = LIAISON__STORED_LINK__INIT;
        Liaison__StoredReceived sr = LIAISON__STORED_RECEIVED__INIT;
        static uint32_t ind[2] = { 1, 3 };
        static char *to[2] = { "bravo", "charlie" };

        fb.disposition = LIAISON__DISPOSITION__DISPOSITION_RETRACTION_APPLIED;
        fb.passed_to = to;
        fb.n_passed_to = 2;
        fb.kept = 1;
        fb.indicators = ind;
        fb.n_indicators = 2;
        fb.at = FF_NOW;
        sf.device = "d1";
        sf.feedback = &fb;
        sf.created = FF_NOW;
        sf.seq = 7;
        need(lsn_pb_encode(&sf.base, &b, &n), "stored feedback");
        put("pb", "stored-feedback", PB_STORED_FEEDBACK, b, n);
        free(b);
        sl.to = to;
        sl.n_to = 2;
        sl.reason = "sent in error";
        sl.at = FF_NOW;
        need(lsn_pb_encode(&sl.base, &b, &n), "stored link");
        put("pb", "stored-link", PB_STORED_LINK, b, n);
        free(b);
        sr.envelope = (ProtobufCBinaryData){ envs[0].n, envs[0].p };
        sr.received = FF_NOW;
        sr.retracted = 1;
        sr.retracted_at = FF_NOW;
        sr.retract_reason = "sent in error";
        sr.held = 1;
        sr.hold_case = "CASE-7";
        need(lsn_pb_encode(&sr.base, &b, &n), "stored received");
        put("pb", "stored-received-retracted", PB_STORED_RECEIVED, b, n);
        free(b);
    }
    ping.data = (ProtobufCBinaryData){ 4, (uint8_t *)"ping" };
    req.id = 7;
    req.body_case = LIAISON__REQUEST__BODY_PING;
    req.ping = &ping;
    need(lsn_pb_encode(&req.base, &b, &n), "request");
    put("pb", "request-ping", PB_REQUEST, b, n);
    free(b);
    pong.data = ping.data;
    pong.server_time = FF_NOW;
    resp.id = 7;
    resp.body_case = LIAISON__RESPONSE__BODY_PING;
    resp.ping = &pong;
    need(lsn_pb_encode(&resp.base, &b, &n), "response");
    put("pb", "response-ping", PB_RESPONSE, b, n);
    free(b);

    /* Not canonical: a scalar twice, a field out of order, an unknown one. */
    dup[0] = 0x08; dup[1] = 0x01; dup[2] = 0x08; dup[3] = 0x01;   /* suite, suite */
    put("pb", "header-repeated-scalar", PB_HEADER, dup, 4);
    dup[0] = 0x10; dup[1] = 0x02; dup[2] = 0x08; dup[3] = 0x01;   /* 2 before 1 */
    put("pb", "request-out-of-order", PB_REQUEST, dup, 4);
    dup[0] = 0xf8; dup[1] = 0x07; dup[2] = 0x01;                  /* field 127 */
    put("pb", "alert-unknown-field", PB_ALERT, dup, 3);
    dup[0] = 0x08; dup[1] = 0x81; dup[2] = 0x00;                  /* long varint */
    put("pb", "request-long-varint", PB_REQUEST, dup, 3);
    dup[0] = 0x08; dup[1] = 0x00;                                 /* explicit 0 */
    put("pb", "request-explicit-default", PB_REQUEST, dup, 2);
    put("pb", "empty-alert", PB_ALERT, NULL, 0);
}


/* ---------------------------------------------------------------- relay requests */

/* fuzz_relay_request input: identity byte, flag byte, then frames of a
 * 2-byte big-endian length and an encoded Request. */
struct rq {
    uint8_t buf[65536];
    size_t n;
    uint64_t id;
};

static void
rq_begin(struct rq *q, int who, int flags)
{
    q->buf[0] = (uint8_t)who;
    q->buf[1] = (uint8_t)flags;
    q->n = 2;
    q->id = 0;
}

static void
rq_raw(struct rq *q, const uint8_t *b, size_t n)
{
    if (n > 0xffff || q->n + 2 + n > sizeof q->buf)
        fail("relay request seed too long", LSN_ERR_LIMIT);
    q->buf[q->n] = (uint8_t)(n >> 8);
    q->buf[q->n + 1] = (uint8_t)n;
    memcpy(q->buf + q->n + 2, b, n);
    q->n += 2 + n;
}

static void
rq_add(struct rq *q, Liaison__Request *req)
{
    uint8_t *b = NULL;
    size_t n = 0;

    req->id = ++q->id;
    need(lsn_pb_encode(&req->base, &b, &n), "encode request");
    rq_raw(q, b, n);
    free(b);
}

/* Turns the frames added since rq_begin into one batch frame of them
 * (docs/wire.md "Batched requests"). */
static void
rq_as_batch(struct rq *q)
{
    struct lsn_wire_part parts[64];
    size_t n = 0, len = 0;
    uint8_t *frame = NULL;

    for (size_t at = 2; at < q->n; n++) {
        size_t fl = (size_t)q->buf[at] << 8 | q->buf[at + 1];
        if (n == 64)
            fail("relay request batch seed too long", LSN_ERR_LIMIT);
        parts[n] = (struct lsn_wire_part){ q->buf + at + 2, fl };
        at += 2 + fl;
    }
    need(lsn_wire_batch(LSN_WIRE_REQUESTS, parts, n, &frame, &len), "batch");
    q->n = 2;
    rq_raw(q, frame, len);
    free(frame);
}

static void
rq_put(struct rq *q, const char *name)
{
    put("relay_request", name, -1, q->buf, q->n);
}

static void
rq_hello(struct rq *q)
{
    Liaison__Request r = LIAISON__REQUEST__INIT;
    Liaison__HelloRequest h = LIAISON__HELLO_REQUEST__INIT;

    h.client = "fuzz";
    r.body_case = LIAISON__REQUEST__BODY_HELLO;
    r.hello = &h;
    rq_add(q, &r);
}

static void
rq_env(struct rq *q, int forward, const struct blob *e)
{
    Liaison__Request r = LIAISON__REQUEST__INIT;
    Liaison__SubmitRequest s = LIAISON__SUBMIT_REQUEST__INIT;
    Liaison__ForwardRequest f = LIAISON__FORWARD_REQUEST__INIT;

    s.envelope = (ProtobufCBinaryData){ e->n, e->p };
    f.envelope = s.envelope;
    if (forward) {
        r.body_case = LIAISON__REQUEST__BODY_FORWARD;
        r.forward = &f;
    } else {
        r.body_case = LIAISON__REQUEST__BODY_SUBMIT;
        r.submit = &s;
    }
    rq_add(q, &r);
}

static void
rq_queue(struct rq *q, const uint8_t msg_id[16], const char *org)
{
    Liaison__Request r = LIAISON__REQUEST__INIT;
    Liaison__SubscribeRequest sub = LIAISON__SUBSCRIBE_REQUEST__INIT;
    Liaison__FetchRequest f = LIAISON__FETCH_REQUEST__INIT;
    Liaison__AckMessagesRequest a = LIAISON__ACK_MESSAGES_REQUEST__INIT;
    Liaison__MessageRef ref = LIAISON__MESSAGE_REF__INIT, *refp = &ref;
    Liaison__StatusRequest st = LIAISON__STATUS_REQUEST__INIT;

    sub.credit = 4;
    r.body_case = LIAISON__REQUEST__BODY_SUBSCRIBE;
    r.subscribe = &sub;
    rq_add(q, &r);
    f.max = 8;
    r.body_case = LIAISON__REQUEST__BODY_FETCH;
    r.fetch = &f;
    rq_add(q, &r);
    ref.org = (char *)org;
    ref.msg_id = (ProtobufCBinaryData){ 16, (uint8_t *)msg_id };
    a.refs = &refp;
    a.n_refs = 1;
    a.gap_seen = 1;
    r.body_case = LIAISON__REQUEST__BODY_ACK;
    r.ack = &a;
    rq_add(q, &r);
    /* A cursor fetch, and an ack with a refusal as its outcome. */
    f.after = 1;
    r.body_case = LIAISON__REQUEST__BODY_FETCH;
    r.fetch = &f;
    rq_add(q, &r);
    {
        int32_t oc[1] = { -14 };
        a.outcomes = oc;
        a.n_outcomes = 1;
        a.passed = 1;
        r.body_case = LIAISON__REQUEST__BODY_ACK;
        r.ack = &a;
        rq_add(q, &r);
        a.outcomes = NULL;
        a.n_outcomes = 0;
        a.passed = 0;
    }
    st.msg_id = ref.msg_id;
    r.body_case = LIAISON__REQUEST__BODY_STATUS;
    r.status = &st;
    rq_add(q, &r);
}

static void
rq_dir(struct rq *q, int sync, Liaison__DirKind kind, const uint8_t *obj, size_t n)
{
    Liaison__Request r = LIAISON__REQUEST__INIT;
    Liaison__DirPutRequest p = LIAISON__DIR_PUT_REQUEST__INIT;

    p.kind = kind;
    p.object = (ProtobufCBinaryData){ n, (uint8_t *)obj };
    if (sync) {
        r.body_case = LIAISON__REQUEST__BODY_DIR_SYNC;
        r.dir_sync = &p;
    } else {
        r.body_case = LIAISON__REQUEST__BODY_DIR_PUT;
        r.dir_put = &p;
    }
    rq_add(q, &r);
}

static void
rq_dir_get(struct rq *q, Liaison__DirKind kind, const char *org)
{
    Liaison__Request r = LIAISON__REQUEST__INIT;
    Liaison__DirGetRequest g = LIAISON__DIR_GET_REQUEST__INIT;

    g.kind = kind;
    g.org = (char *)org;
    r.body_case = LIAISON__REQUEST__BODY_DIR_GET;
    r.dir_get = &g;
    rq_add(q, &r);
}

/* Alpha's v2: v1 plus an admin device whose CURVE key the target admits
 * as the unknown key "fuzz relay admin curve" (its bootstrap path). */
static struct lsn_bundle *
alpha_with_admin(void)
{
    const Liaison__Bundle *v1 = w->alpha.bundle->b;
    Liaison__Bundle b = *v1;
    Liaison__Device adm = LIAISON__DEVICE__INIT, *devs[2];
    uint8_t curve[32], sign[32], deliv[32];
    struct lsn_bundle *bu = NULL;

    ff_derive(curve, "fuzz relay admin curve");
    ff_derive(sign, "fuzz relay admin sign");
    ff_derive(deliv, "fuzz relay admin delivery");
    adm.name = "admin";
    adm.role = LIAISON__DEVICE_ROLE__ROLE_ADMIN;
    adm.sign_key = (ProtobufCBinaryData){ 32, sign };
    adm.curve_key = (ProtobufCBinaryData){ 32, curve };
    adm.delivery_key = (ProtobufCBinaryData){ 32, deliv };
    devs[0] = v1->devices[0];
    devs[1] = &adm;
    b.devices = devs;
    b.n_devices = 2;
    b.version = 2;
    b.previous = (ProtobufCBinaryData){ 32, (uint8_t *)w->alpha.bundle->hash };
    need(lsn_bundle_sign(&b, w->alpha.root_sk, &bu), "admin bundle");
    return bu;
}

static void
seal_from(const struct lsn_credential *from, const struct lsn_bundle *const *to,
          size_t n, struct blob *out)
{
    struct lsn_seal_params p;
    struct lsn_seal_random rnd;
    Liaison__Alert a;

    memset(&p, 0, sizeof p);
    p.created = FF_NOW - 60;
    p.expires = FF_NOW + FF_DAY;
    p.bundle_version = 1;
    ff_derive(rnd.key, "relay seed K");
    ff_derive(rnd.eph_sk, "relay seed ephemeral");
    memset(rnd.msg_id, 0x7a, sizeof rnd.msg_id);
    memset(rnd.nonce, 0x24, sizeof rnd.nonce);
    sf_alert_sample(&a);
    need(lsn_seal_with_random(&a, from, to, n, &p, &rnd, &out->p, &out->n),
         "seal");
}

static void
gen_relay_request(void)
{
    const struct lsn_bundle *alpha[1] = { w->alpha.bundle };
    const struct lsn_bundle *bravo[1] = { w->bravo.bundle };
    const struct lsn_bundle *both[2] = { w->alpha.bundle, w->bravo.bundle };
    struct blob to_self = { NULL, 0 }, to_bravo = { NULL, 0 }, to_both = { NULL, 0 };
    struct lsn_envelope_info info;
    struct lsn_bundle *adm;
    static const uint8_t junk[] = { 0xff, 0x01, 0x02, 0x03 };
    static struct rq q;
    Liaison__Request r = LIAISON__REQUEST__INIT;
    Liaison__PingRequest ping = LIAISON__PING_REQUEST__INIT;
    Liaison__PeerStatusRequest ps = LIAISON__PEER_STATUS_REQUEST__INIT;

    seal_from(w->alpha.cred, alpha, 1, &to_self);
    seal_from(w->alpha.cred, bravo, 1, &to_bravo);
    seal_from(w->alpha.cred, both, 2, &to_both);

    /* Device alpha/d1 (identity 0): the whole queue cycle. */
    rq_begin(&q, 0, 0);
    rq_hello(&q);
    rq_env(&q, 0, &to_self);
    need(lsn_envelope_peek(to_self.p, to_self.n, 0, &info), "peek");
    rq_queue(&q, info.msg_id, "alpha");
    rq_env(&q, 0, &to_self);            /* a repeat: duplicate */
    rq_put(&q, "device-submit-queue-cycle");
    rq_begin(&q, 0, 0);
    rq_env(&q, 0, &to_bravo);           /* to a peer relay's org: @r2 */
    rq_env(&q, 0, &to_both);
    rq_put(&q, "device-submit-federated");
    rq_begin(&q, 0, 0);
    ping.data = (ProtobufCBinaryData){ 4, (uint8_t *)"ping" };
    r.body_case = LIAISON__REQUEST__BODY_PING;
    r.ping = &ping;
    rq_add(&q, &r);
    rq_dir_get(&q, LIAISON__DIR_KIND__DIR_ROSTER, "");
    rq_dir_get(&q, LIAISON__DIR_KIND__DIR_BUNDLE, "bravo");
    rq_dir_get(&q, LIAISON__DIR_KIND__DIR_DELIVERY, "");
    rq_dir(&q, 0, LIAISON__DIR_KIND__DIR_BUNDLE, w->alpha.bundle->bytes,
           w->alpha.bundle->len);
    rq_dir(&q, 0, LIAISON__DIR_KIND__DIR_ROSTER, w->roster2->bytes, w->roster2->len);
    rq_put(&q, "device-directory");
    rq_begin(&q, 0, 0);
    rq_env(&q, 1, &to_self);            /* relay-only: refused */
    rq_raw(&q, junk, sizeof junk);
    rq_put(&q, "device-refusals");
    rq_begin(&q, 0, 1);
    rq_hello(&q);
    rq_put(&q, "device-two-frames");
    rq_begin(&q, 0, 0);                 /* the same requests in one frame */
    rq_hello(&q);
    rq_env(&q, 0, &to_self);
    rq_add(&q, &r);                     /* the ping */
    rq_raw(&q, junk, sizeof junk);
    rq_as_batch(&q);
    rq_put(&q, "device-batch");
    rq_begin(&q, 0, 0);                 /* a batch in a batch, 400 deep */
    rq_hello(&q);
    for (int d = 0; d < 400; d++)
        rq_as_batch(&q);
    rq_put(&q, "device-batch-nested");
    rq_begin(&q, 4, 0);                 /* an unknown key's batch */
    rq_hello(&q);
    rq_hello(&q);
    rq_as_batch(&q);
    rq_put(&q, "unknown-batch");
    /* Device bravo/d1 (identity 1): to alpha, homed here. */
    rq_begin(&q, 1, 0);
    rq_env(&q, 0, &envs[0]);
    rq_put(&q, "bravo-submit");
    /* Peer relay r2 (identity 2): forward, peer status, directory sync. */
    rq_begin(&q, 2, 0);
    rq_env(&q, 1, &envs[0]);
    rq_env(&q, 1, &envs[1]);
    need(lsn_envelope_peek(envs[0].p, envs[0].n, 0, &info), "peek");
    ps.org = "bravo";
    ps.msg_id = (ProtobufCBinaryData){ 16, info.msg_id };
    r.body_case = LIAISON__REQUEST__BODY_PEER_STATUS;
    r.peer_status = &ps;
    rq_add(&q, &r);
    rq_dir(&q, 1, LIAISON__DIR_KIND__DIR_BUNDLE, w->bravo.bundle->bytes,
           w->bravo.bundle->len);
    rq_hello(&q);                       /* device-only: refused */
    rq_put(&q, "peer-forward-status-sync");
    rq_begin(&q, 3, 0);                 /* this relay's own key */
    rq_env(&q, 1, &envs[0]);
    rq_put(&q, "self-relay");
    /* Unknown keys (4, 5): only a self-admin bundle. */
    adm = alpha_with_admin();
    rq_begin(&q, 5, 0);
    rq_dir(&q, 0, LIAISON__DIR_KIND__DIR_BUNDLE, adm->bytes, adm->len);
    rq_hello(&q);
    rq_put(&q, "unknown-bootstrap-bundle");
    rq_begin(&q, 4, 0);
    rq_dir(&q, 0, LIAISON__DIR_KIND__DIR_BUNDLE, adm->bytes, adm->len);
    rq_hello(&q);
    rq_put(&q, "unknown-refused");
    lsn_bundle_destroy(&adm);
    rq_begin(&q, 6, 0);                 /* re-keyed device */
    rq_hello(&q);
    rq_put(&q, "rekeyed-device");
    rq_begin(&q, 7, 0);                 /* no identity */
    rq_hello(&q);
    rq_put(&q, "no-identity");
    free(to_self.p);
    free(to_bravo.p);
    free(to_both.p);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0755) != 0 && errno != EEXIST)
        fail(root, LSN_ERR_IO);
    w = ff_world();
    make_alerts();
    make_envelopes();
    gen_pb();
    gen_envelope();
    gen_open();
    gen_roster();
    gen_bundle();
    gen_delivery();
    gen_files();
    gen_alert();
    gen_relay_request();
    for (int i = 0; i < N_ENVS; i++)
        free(envs[i].p);
    for (int i = 0; i < N_ALERTS; i++)
        free(alerts[i].p);
    printf("gen_corpus: %d seed files under %s\n", count, root);
    return 0;
}
