/* log.c: the relay's log lines and the clock.  Every line goes to stderr
 * (and syslog if asked), never with secrets or content; a budget of lines
 * a second (struct log_budget) lets the callers that log per request
 * count what they do not write.  The clock: the monotonic milliseconds
 * every budget and time-out reads, token buckets, and the protocol time
 * (fixed for an offline relay). */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

#include "keys/util.h"
#include "relay/log.h"

/* ---------------------------------------------------------- logging */

static int log_syslog, log_quiet;

void
lsn_relay_log_syslog(int on)
{
    log_syslog = on;
}

void
lsn_relay_log_quiet(int on)
{
    log_quiet = on;
}

static void log_v(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static void
log_v(const char *fmt, va_list ap)
{
    char line[1024], ts[32];
    struct tm tm;
    time_t now = time(NULL);

    if (log_quiet)
        return;
    vsnprintf(line, sizeof line, fmt, ap);
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s liaison-relay: %s\n", ts, line);
    if (log_syslog)
        syslog(LOG_INFO, "%s", line);
}

void
lsn_relay_log(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_v(fmt, ap);
    va_end(ap);
}

uint64_t
lsn_budget_tick(struct log_budget *b, int64_t now)
{
    uint64_t dropped = b->dropped;

    if (now - b->ms < 1000)
        return 0;
    b->ms = now;
    b->n = 0;
    b->dropped = 0;
    return dropped;
}

void
lsn_budget_log(struct log_budget *b, unsigned per_s, const char *fmt, va_list ap)
{
    if (b->n >= per_s) {
        b->dropped++;
        return;
    }
    b->n++;
    log_v(fmt, ap);
}

void
lsn_relay_msg(struct lsn_relay *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
}

int64_t
lsn_relay_time(const struct lsn_relay *r)
{
    return r->fixed_now != 0 ? r->fixed_now : lsn_now();
}

int64_t
lsn_relay_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
lsn_bucket_fill(double *tokens, int64_t *last_ms, double per_s, double burst)
{
    int64_t now = lsn_relay_now_ms();

    *tokens += (double)(now - *last_ms) * per_s / 1000.0;
    if (*tokens > burst)
        *tokens = burst;
    *last_ms = now;
}
