/* credential.c: the device credential: device secret keys, the org
 * encryption secrets a may-receive device holds, and the pinned roster.
 * On disk it is a secret key file of kind credential whose payload is a
 * Credential protobuf; in memory the secrets sit in sodium_malloc'd pages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/credential.h"
#include "keys/keyfile.h"
#include "keys/signed.h"
#include "proto/err.h"
#include "proto/pb.h"

static struct lsn_credential *
credential_alloc(void)
{
    struct lsn_credential *c = calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    c->keys = sodium_malloc(sizeof *c->keys);
    c->enc = sodium_malloc(sizeof *c->enc * LSN_MAX_ENC_KEYS);
    if (c->keys == NULL || c->enc == NULL) {
        lsn_credential_destroy(&c);
        return NULL;
    }
    sodium_memzero(c->keys, sizeof *c->keys);
    sodium_memzero(c->enc, sizeof *c->enc * LSN_MAX_ENC_KEYS);
    return c;
}

static int
set_names(struct lsn_credential *c, const char *org, const char *device)
{
    if (lsn_org_id_check(org) != 0)
        return LSN_ERR_BAD_ORG_ID;
    if (lsn_name_check(device) != 0)
        return LSN_ERR_INVALID;
    strcpy(c->org, org);        /* lengths checked just above */
    strcpy(c->device, device);
    return 0;
}

int
lsn_credential_new(const char *org, const char *device, int role, int may_send,
                   int may_receive, struct lsn_credential **out)
{
    struct lsn_credential *c = credential_alloc();
    int r;

    *out = NULL;
    if (c == NULL)
        return LSN_ERR_NOMEM;
    if ((r = set_names(c, org, device)) != 0) {
        lsn_credential_destroy(&c);
        return r;
    }
    c->role = role;
    c->may_send = may_send != 0;
    c->may_receive = may_receive != 0;
    crypto_sign_keypair(c->keys->sign_pk, c->keys->sign_sk);
    crypto_box_keypair(c->keys->curve_pk, c->keys->curve_sk);
    crypto_box_keypair(c->keys->delivery_pk, c->keys->delivery_sk);
    *out = c;
    return 0;
}

int
lsn_credential_encode(const struct lsn_credential *c, uint8_t **out,
                      size_t *out_len)
{
    Liaison__Credential m = LIAISON__CREDENTIAL__INIT;
    Liaison__EncSecret es[LSN_MAX_ENC_KEYS], *esp[LSN_MAX_ENC_KEYS];
    int r;

    m.org = (char *)c->org;
    m.device = (char *)c->device;
    m.role = c->role;
    m.may_send = c->may_send;
    m.may_receive = c->may_receive;
    m.sign_secret = (ProtobufCBinaryData){ 64, c->keys->sign_sk };
    m.curve_secret = (ProtobufCBinaryData){ 32, c->keys->curve_sk };
    m.delivery_secret = (ProtobufCBinaryData){ 32, c->keys->delivery_sk };
    for (size_t i = 0; i < c->n_enc; i++) {
        lsn_enc_secret_to_pb(&c->enc[i], &es[i]);
        esp[i] = &es[i];
    }
    m.n_enc_keys = c->n_enc;
    m.enc_keys = esp;
    m.roster = (ProtobufCBinaryData){ c->roster_len, c->roster };
    /* Straight into guarded memory: the encoding holds every secret. */
    r = lsn_pb_encode_secret(&m.base, out, out_len);
    sodium_memzero(es, sizeof es);
    return r;
}

/* The device's public halves, from its secrets. */
static int
derive_public(struct lsn_credential *c)
{
    crypto_sign_ed25519_sk_to_pk(c->keys->sign_pk, c->keys->sign_sk);
    crypto_scalarmult_base(c->keys->curve_pk, c->keys->curve_sk);
    crypto_scalarmult_base(c->keys->delivery_pk, c->keys->delivery_sk);
    return 0;
}

int
lsn_credential_decode(const uint8_t *buf, size_t len, struct lsn_credential **out)
{
    Liaison__Credential *m = NULL;
    struct lsn_credential *c = NULL;
    uint8_t seed_pk[32];
    int r;

    *out = NULL;
    if ((r = LSN_PB_DECODE(credential, buf, len, LSN_SIGNED_MAX * 2, &m)) != 0)
        return r;
    r = LSN_ERR_NOMEM;
    if ((c = credential_alloc()) == NULL)
        goto out;
    if ((r = set_names(c, m->org, m->device)) != 0)
        goto out;
    r = LSN_ERR_MALFORMED;
    if (m->sign_secret.len != 64 || m->curve_secret.len != 32 ||
        m->delivery_secret.len != 32 || m->n_enc_keys > LSN_MAX_ENC_KEYS ||
        m->role < LIAISON__DEVICE_ROLE__ROLE_HUMAN ||
        m->role > LIAISON__DEVICE_ROLE__ROLE_ADMIN)
        goto out;
    c->role = m->role;
    c->may_send = m->may_send;
    c->may_receive = m->may_receive;
    memcpy(c->keys->sign_sk, m->sign_secret.data, 64);
    memcpy(c->keys->curve_sk, m->curve_secret.data, 32);
    memcpy(c->keys->delivery_sk, m->delivery_secret.data, 32);
    crypto_sign_ed25519_sk_to_pk(seed_pk, c->keys->sign_sk);
    if (memcmp(seed_pk, c->keys->sign_sk + 32, 32) != 0) {
        r = LSN_ERR_KEY_MISMATCH;
        goto out;
    }
    for (size_t i = 0; i < m->n_enc_keys; i++) {
        if ((r = lsn_enc_secret_from_pb(m->enc_keys[i], &c->enc[i])) != 0)
            goto out;
        c->n_enc = i + 1;
    }
    if ((r = derive_public(c)) != 0)
        goto out;
    if ((r = lsn_credential_set_roster(c, m->roster.data, m->roster.len)) != 0)
        goto out;
    *out = c;
    c = NULL;
    r = 0;
out:
    lsn_pb_free((ProtobufCMessage *)m);   /* the decoder wipes on free */
    lsn_credential_destroy(&c);
    return r;
}

int
lsn_credential_load(const char *path, const char *pass,
                    struct lsn_credential **out)
{
    uint8_t *payload = NULL;
    size_t n = 0;
    int r;

    *out = NULL;
    if ((r = lsn_secret_read(path, LSN_KEY_CREDENTIAL, pass, &payload, &n)) != 0)
        return r;
    r = lsn_credential_decode(payload, n, out);
    lsn_secret_free(payload);
    return r;
}

int
lsn_credential_save(const struct lsn_credential *c, const char *path,
                    const char *pass, int flags)
{
    uint8_t *payload = NULL;
    size_t n = 0;
    char comment[160];
    int r;

    if ((r = lsn_credential_encode(c, &payload, &n)) != 0)
        return r;
    snprintf(comment, sizeof comment, "device `%s` of org `%s`", c->device, c->org);
    r = lsn_secret_write(path, LSN_KEY_CREDENTIAL, comment, payload, n, pass,
                         flags);
    sodium_free(payload);
    return r;
}

const struct lsn_enc_secret *
lsn_credential_find_enc(const struct lsn_credential *c, uint32_t key_id)
{
    for (size_t i = 0; i < c->n_enc; i++)
        if (c->enc[i].key_id == key_id)
            return &c->enc[i];
    return NULL;
}

int
lsn_credential_put_enc(struct lsn_credential *c, const struct lsn_enc_secret *s)
{
    size_t at = 0;

    for (size_t i = 0; i < c->n_enc; i++)
        if (c->enc[i].key_id == s->key_id) {
            c->enc[i] = *s;
            return 0;
        }
    while (at < c->n_enc && c->enc[at].key_id > s->key_id)
        at++;
    if (c->n_enc == LSN_MAX_ENC_KEYS) {
        if (at == LSN_MAX_ENC_KEYS)
            return 0;   /* older than everything we keep: nothing to do */
        c->n_enc--;     /* the oldest falls off the end */
        sodium_memzero(&c->enc[c->n_enc], sizeof c->enc[0]);
    }
    memmove(&c->enc[at + 1], &c->enc[at], (c->n_enc - at) * sizeof c->enc[0]);
    c->enc[at] = *s;
    c->n_enc++;
    return 0;
}

int
lsn_credential_set_roster(struct lsn_credential *c, const uint8_t *buf,
                          size_t len)
{
    uint8_t *copy = NULL;

    if (len > LSN_SIGNED_MAX)
        return LSN_ERR_TOO_LARGE;
    if (len > 0) {
        if ((copy = malloc(len)) == NULL)
            return LSN_ERR_NOMEM;
        memcpy(copy, buf, len);
    }
    free(c->roster);
    c->roster = copy;
    c->roster_len = len;
    return 0;
}

void
lsn_credential_destroy(struct lsn_credential **c)
{
    if (*c == NULL)
        return;
    sodium_free((*c)->keys);
    sodium_free((*c)->enc);
    free((*c)->roster);
    free(*c);
    *c = NULL;
}

void
lsn_enc_secret_to_pb(const struct lsn_enc_secret *s, Liaison__EncSecret *m)
{
    liaison__enc_secret__init(m);
    m->key_id = s->key_id;
    m->public_key = (ProtobufCBinaryData){ 32, (uint8_t *)s->pk };
    m->secret_key = (ProtobufCBinaryData){ 32, (uint8_t *)s->sk };
    m->created = s->created;
    m->retire_after = s->retire_after;
}

int
lsn_enc_secret_from_pb(const Liaison__EncSecret *m, struct lsn_enc_secret *s)
{
    uint8_t pk[32];

    if (m->public_key.len != 32 || m->secret_key.len != 32 || m->key_id == 0)
        return LSN_ERR_MALFORMED;
    /* A secret that does not fit its public key would decrypt nothing and
     * hide a corrupt or forged file: refuse it here. */
    crypto_scalarmult_base(pk, m->secret_key.data);
    if (sodium_memcmp(pk, m->public_key.data, 32) != 0)
        return LSN_ERR_KEY_MISMATCH;
    s->key_id = m->key_id;
    memcpy(s->pk, pk, 32);
    memcpy(s->sk, m->secret_key.data, 32);
    s->created = m->created;
    s->retire_after = m->retire_after;
    return 0;
}
