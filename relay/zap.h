/* zap.h: the ZAP handler and the unknown-key budgets (zap.c).  Private to
 * relay/. */
#ifndef LSN_RELAY_ZAP_H
#define LSN_RELAY_ZAP_H

#include <stddef.h>

#include "relay/relay_int.h"

#define BOOT_BURST    3.0
/* Unknown-key requests: one a second per source address (burst 12), ten
 * a second from all together (burst 120). */
#define BOOT_REQ_PER_S      1.0
#define BOOT_REQ_BURST      (BOOT_BURST * 4)
#define BOOT_REQ_ALL_PER_S  10.0
#define BOOT_REQ_ALL_BURST  (BOOT_REQ_BURST * 10)
/* Source addresses whose unknown-key budgets are kept: one address with
 * its own budget cannot take the others', and a table full of flooding
 * addresses gives its least recently used slot to the next one (which
 * starts with a full budget, so an evicted honest address loses
 * nothing). */
#define BOOT_ADDRS    1024

/* The global unknown-key handshake burst. */
double boot_total_burst(const struct lsn_relay_config *cfg);
/* The budgets of a source address, made full if new; NULL without memory. */
struct boot_addr *boot_addr(struct lsn_relay *r, const char *raw, size_t raw_len);
/* Logs the refused unknown keys counted so far, at most once a second. */
void refused_log(struct lsn_relay *r);
/* Answers one ZAP request: 200 with the identity for an admitted key. */
void zap_handle(struct lsn_relay *r);

#endif
