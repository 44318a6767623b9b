/* peerfix.h: a hostile peer relay for relay tests.  It holds the key of a
 * relay the roster lists (of a federated fixture, relayfix.h) and sends
 * another relay whatever relay-to-relay requests it likes over a raw
 * CURVE connection: forwards of envelopes it chose, directory syncs. */
#ifndef LSN_TEST_PEERFIX_H
#define LSN_TEST_PEERFIX_H

#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"
#include "tests/lib/relayfix.h"

/* Connects to relay `to` with relay `as`'s key pair and waits for the
 * handshake: lsn_wire_connect's or lsn_wire_handshake's result. */
int pf_connect(struct rf *f, size_t as, size_t to, struct lsn_wire **out);

/* Forwards env as a peer relay would; the answer's code (0: stored).  A
 * refusal's sentence is in lsn_wire_message(w). */
int pf_forward(struct lsn_wire *w, const uint8_t *env, size_t len);

/* Syncs one directory object of kind as a peer relay would; the answer's
 * code (0: held). */
int pf_dir_sync(struct lsn_wire *w, Liaison__DirKind kind, const uint8_t *obj,
                size_t len);

#endif
