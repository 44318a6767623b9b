/* relay.h: the liaison-relay daemon as a library (docs/design.md "Relay";
 * docs/relay.md): a ROUTER with CURVE and a ZAP handler, the allow-list
 * from the roster and the bundles, the request handlers and the group
 * commit loop over the store.  relay/main.c is only the command line. */
#ifndef LSN_RELAY_H
#define LSN_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "relay/config.h"

struct lsn_relay;

/* Loads the key and the roster, opens the store, binds the ZAP handler and
 * then the ROUTER.  Errors with the reason in lsn_detail(). */
int lsn_relay_new(const struct lsn_relay_config *cfg, struct lsn_relay **out);

/* Serves until lsn_relay_stop: returns 0 after finishing the commit in
 * progress, or a negative LSN_ERR_* if the store failed. */
int lsn_relay_run(struct lsn_relay *r);

/* Async-signal-safe: ask the loop to stop / to reload the roster file. */
void lsn_relay_stop(struct lsn_relay *r);
void lsn_relay_reload(struct lsn_relay *r);

/* The endpoint actually bound (port resolved), borrowed. */
const char *lsn_relay_endpoint(const struct lsn_relay *r);

/* The relay's CURVE public key and its name in the roster. */
const uint8_t *lsn_relay_public_key(const struct lsn_relay *r);
const char *lsn_relay_name(const struct lsn_relay *r);

/* Log line sink: one line per event, never secrets or content. */
void lsn_relay_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Send log lines to syslog too (after openlog by the caller). */
void lsn_relay_log_syslog(int on);
/* Silence logging (tests). */
void lsn_relay_log_quiet(int on);

void lsn_relay_destroy(struct lsn_relay **r);

/* The folder under the data folder whose *.signed bundles a running relay
 * imports on SIGHUP (each renamed to *.imported or *.refused after). */
#define LSN_RELAY_IMPORT_DIR "import"

/* Imports the signed bundle file at path into the store of cfg's relay,
 * which must not be running (the store's lock says so: LSN_ERR_IO, and
 * *in_use = 1), verified against the held roster as an admin's put is.
 * 0 (also when already held), or an error with its sentence in
 * lsn_detail(). */
int lsn_relay_import(const struct lsn_relay_config *cfg, const char *path, int *in_use);

#endif
