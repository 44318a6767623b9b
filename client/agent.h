/* agent.h: the unlock agent (`liaison unlock`), a small process that holds
 * a profile's unlocked credential for a while so that later commands do
 * not ask for its passphrase.
 *
 * The agent holds the credential file's own key (lsn_secret_kek: argon2id
 * of the passphrase with the file's salt; never the passphrase) in
 * sodium_malloc'd memory, locked and wiped on exit, and listens on
 * DIR/agent.sock (0600) in the profile folder.  It answers only peers of
 * its own uid (SO_PEERCRED), one bounded request per connection:
 *
 *   request  op (1 byte) | body length (u32, big-endian) | body
 *   reply    status (1 byte: 0, else minus an LSN_ERR_*) | length | body
 *
 *   'C'  the credential: the agent opens DIR/credential with its key and
 *        replies with the decrypted credential (lsn_credential_encode form)
 *   'S'  seal: the body is a new credential of the same device; the reply
 *        is the credential file text sealed under the same passphrase
 *   'I'  info: reply u64 expiry (Unix seconds) | u32 pid
 *   'Q'  quit: replies, then wipes its key and exits
 *
 * The client needs the raw device keys in many places (the CURVE transport
 * key handed to libzmq, signing, opening envelopes, the local store's key),
 * so the agent hands the decrypted credential to its own uid rather than
 * doing each operation itself; docs/threat-model.md "The unlock agent".
 * The agent re-opens the file for every request, so a credential rewritten
 * by a key delivery is the one served, and a file sealed under another
 * passphrase (`liaison passwd`) ends the agent.
 *
 * It exits when its time is up, on `liaison lock` (Q), on SIGHUP, SIGTERM
 * or SIGINT, and when the session it was started from ends (its session
 * leader, the login shell, is gone: checked every second). */
#ifndef LSN_AGENT_H
#define LSN_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "keys/credential.h"
#include "keys/keyfile.h"

#define LSN_AGENT_SOCK "agent.sock"
/* The largest request or reply body: a credential file's payload. */
#define LSN_AGENT_BODY_MAX (1024u * 1024u)
/* The longest --for. */
#define LSN_AGENT_MAX_SECONDS (7 * 86400)

/* The key that pass opens dir's credential file with, in sodium_malloc'd
 * *kek (for lsn_agent_start).  LSN_ERR_PASSPHRASE for a wrong pass,
 * LSN_ERR_INVALID for a credential without a passphrase. */
int lsn_agent_key(const char *dir, const char *pass, struct lsn_secret_kek **kek);

/* Starts an agent for the profile in dir holding *kek (taken over, wiped
 * and freed here, *kek set to NULL), for seconds (1 to
 * LSN_AGENT_MAX_SECONDS).  Wipe the passphrase before: the agent is
 * forked from the caller and keeps whatever memory it still has mapped.
 * Returns once the agent listens (daemonised: double fork, setsid, every
 * other descriptor closed); *pid is the agent's.  The agent holds an
 * flock on dir while it lives: LSN_ERR_EXISTS if an agent runs (or
 * starts) for dir, answering or not; LSN_ERR_TOO_LARGE if the socket
 * path does not fit. */
int lsn_agent_start(const char *dir, struct lsn_secret_kek **kek,
                    int64_t seconds, pid_t *pid);

/* The credential held by dir's agent (caller destroys).
 * LSN_ERR_NEED_PASSPHRASE when no agent answers. */
int lsn_agent_credential(const char *dir, struct lsn_credential **out);

/* Writes c as dir's credential file (atomically, 0600), sealed by dir's
 * agent under the passphrase it was unlocked with. */
int lsn_agent_credential_save(const char *dir, const struct lsn_credential *c);

/* When dir's agent ends (Unix seconds) and its pid; LSN_ERR_NOT_FOUND
 * when none answers. */
int lsn_agent_info(const char *dir, int64_t *expiry, long *pid);

/* Asks dir's agent to wipe its key and exit; LSN_ERR_NOT_FOUND if none
 * answers. */
int lsn_agent_stop(const char *dir);

#endif
