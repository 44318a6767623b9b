/* junk_peer: plays a hostile peer relay for the soak test.  It holds the
 * secret key of a relay listed in the roster and forwards envelopes that
 * claim to come from an organisation homed on that relay which never
 * published a bundle: well formed, properly signed by a key nobody knows,
 * addressed to a real member.  A relay must refuse them (or, if it takes
 * them, its recipients must pass over them without delay to later mail).
 *
 *   junk_peer KEYFILE ENDPOINT SERVER_PUB GHOST_ORG RECIPIENT COUNT
 *
 * Prints one line: "junk: N sent, S stored, R refused, U unanswered" and
 * exits 0 whatever the target answered (the soak judges the outcome). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys/keyfile.h"
#include "proto/err.h"
#include "proto/pb.h"
#include "proto/wire.h"
#include "tests/lib/sealfix.h"

static int
junk_envelope(const char *ghost, const char *to, uint8_t **env, size_t *len)
{
    uint8_t msg_id[16], key[32], eph[32], nonce[24], pk[32][1], sign_pk[32],
            sign_sk[64], content[64];
    const char *orgs[1] = { to };
    uint32_t key_ids[1] = { 1 };
    int64_t now = (int64_t)time(NULL);
    struct sf_forge f = { 0 };

    randombytes_buf(msg_id, sizeof msg_id);
    randombytes_buf(key, sizeof key);
    randombytes_buf(eph, sizeof eph);
    randombytes_buf(nonce, sizeof nonce);
    randombytes_buf(pk, sizeof pk);
    randombytes_buf(content, sizeof content);
    crypto_sign_keypair(sign_pk, sign_sk);
    f.suite = 1;
    f.msg_id = msg_id;
    f.sender_org = ghost;
    f.sender_device = "junk";
    f.bundle_version = 1;
    f.created = now;
    f.expires = now + 3600;
    f.n = 1;
    f.orgs = orgs;
    f.key_ids = key_ids;
    f.pks = (const uint8_t (*)[32])pk;
    f.wrap_keys = (const uint8_t (*)[32])key;
    f.key = key;
    f.eph_sk = eph;
    f.nonce = nonce;
    f.content = content;
    f.content_len = sizeof content;
    f.sign_sk = sign_sk;
    return sf_forge(&f, env, len);
}

int
main(int argc, char **argv)
{
    struct lsn_wire *w = NULL;
    uint8_t *sk = NULL, pk[32], server_pk[32];
    size_t sk_len = 0, count, sent = 0, stored = 0, refused = 0, unanswered;
    int r;

    if (argc != 7) {
        fprintf(stderr, "usage: junk_peer KEYFILE ENDPOINT SERVER_PUB GHOST_ORG "
                        "RECIPIENT COUNT\n");
        return 2;
    }
    count = strtoul(argv[6], NULL, 10);
    if (sodium_init() < 0 ||
        lsn_secret_read(argv[1], LSN_KEY_RELAY, NULL, &sk, &sk_len) != 0 ||
        sk_len != 32 || lsn_public_read(argv[3], LSN_KEY_RELAY, server_pk) != 0) {
        fprintf(stderr, "junk_peer: cannot read the keys\n");
        return 2;
    }
    crypto_scalarmult_base(pk, sk);
    r = lsn_wire_connect(argv[2], server_pk, pk, sk, &w);
    lsn_secret_free(sk);
    if (r != 0 || lsn_wire_handshake(w, 3000) != 0) {
        printf("junk: 0 sent, 0 stored, 0 refused, 0 unanswered (no session)\n");
        lsn_wire_close(&w);
        return 0;
    }
    for (size_t i = 0; i < count; i++) {
        Liaison__Request req = LIAISON__REQUEST__INIT;
        Liaison__ForwardRequest fw = LIAISON__FORWARD_REQUEST__INIT;
        Liaison__Response *resp = NULL;
        uint8_t *env = NULL;
        size_t len = 0;

        if (junk_envelope(argv[4], argv[5], &env, &len) != 0)
            break;
        fw.envelope.data = env;
        fw.envelope.len = len;
        req.body_case = LIAISON__REQUEST__BODY_FORWARD;
        req.forward = &fw;
        sent++;
        r = lsn_wire_call(w, &req, 3000, &resp);
        free(env);
        lsn_pb_free((ProtobufCMessage *)resp);
        if (r == 0)
            stored++;
        else if (r == LSN_ERR_TIMEOUT || r == LSN_ERR_IO)
            break;          /* the target went away: the rest is unanswered */
        else
            refused++;
    }
    unanswered = sent - stored - refused;
    printf("junk: %zu sent, %zu stored, %zu refused, %zu unanswered\n", sent,
           stored, refused, unanswered);
    lsn_wire_close(&w);
    return 0;
}
