/* log.h: the relay's log lines, their budgets, and the clock (log.c).
 * Private to relay/. */
#ifndef LSN_RELAY_LOG_H
#define LSN_RELAY_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include "relay/relay_int.h"

/* Starts a new second of budget b once one has passed: the lines of the
 * last one not written (0 if none, or still the same second). */
uint64_t lsn_budget_tick(struct log_budget *b, int64_t now);
/* Writes one line if budget b has room for it this second, else counts it. */
void lsn_budget_log(struct log_budget *b, unsigned per_s, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Sets the error sentence for the current request. */
void lsn_relay_msg(struct lsn_relay *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Monotonic milliseconds, for budgets and time-outs. */
int64_t lsn_relay_now_ms(void);

/* Unix seconds for every protocol check: the clock, or the fixed time of an
 * offline relay (relay/offline.h). */
int64_t lsn_relay_time(const struct lsn_relay *r);

/* Refills a token bucket of rate per_s tokens per second up to burst. */
void lsn_bucket_fill(double *tokens, int64_t *last_ms, double per_s, double burst);

#endif
