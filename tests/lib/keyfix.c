/* keyfix.c: fixtures for the keys/ tests (see keyfix.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "keyfix.h"

void
kf_key(struct kf_key *k, uint8_t tag)
{
    uint8_t seed[32];

    memset(seed, tag, sizeof seed);
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
}

struct lsn_roster *
kf_roster(uint64_t v, const struct kf_key *auth, size_t na, uint32_t k,
          const struct kf_org *orgs, size_t no,
          const struct kf_key *const *signers, size_t ns, int64_t expires)
{
    Liaison__Roster body = LIAISON__ROSTER__INIT;
    Liaison__RosterRelay relay = LIAISON__ROSTER_RELAY__INIT, *relays[1];
    ProtobufCBinaryData keys[16];
    Liaison__RosterOrg os[16], *osp[16];
    uint8_t relay_key[32];
    struct lsn_roster *ro = NULL;

    assert_true(na <= 16 && no <= 16);
    memset(relay_key, 0x42, sizeof relay_key);
    relay.name = "r1";
    relay.endpoint = "tcp://127.0.0.1:1";
    relay.curve_key = (ProtobufCBinaryData){ 32, relay_key };
    relays[0] = &relay;
    for (size_t i = 0; i < na; i++)
        keys[i] = (ProtobufCBinaryData){ 32, (uint8_t *)auth[i].pk };
    for (size_t i = 0; i < no; i++) {
        liaison__roster_org__init(&os[i]);
        os[i].id = (char *)orgs[i].id;
        os[i].display = "";
        os[i].root_key = (ProtobufCBinaryData){ 32, (uint8_t *)orgs[i].root->pk };
        os[i].relay = "r1";
        osp[i] = &os[i];
    }
    body.coalition = "test";
    body.version = v;
    body.issued = KF_NOW - 86400;
    body.expires = expires ? expires : KF_NOW + KF_YEAR;
    body.authorities = keys;
    body.n_authorities = na;
    body.threshold = k;
    body.orgs = osp;
    body.n_orgs = no;
    body.relays = relays;
    body.n_relays = 1;
    assert_int_equal(lsn_roster_from_body(&body, &ro), 0);
    for (size_t i = 0; i < ns; i++)
        assert_int_equal(lsn_signed_view_sign(&ro->view, signers[i]->sk), 0);
    return ro;
}

const char *
kf_tmpdir(const char *tag)
{
    static char path[512];
    const char *base = getenv("LSN_TMP");

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(path, sizeof path, "%s/%s.%ld.%u", base, tag, (long)getpid(),
             randombytes_random());
    assert_int_equal(mkdir(path, 0700), 0);
    return path;
}

void
kf_rmdir(const char *path)
{
    char cmd[600];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}
