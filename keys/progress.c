/* progress.c: progress lines on a terminal and the Ctrl-C flag
 * (progress.h). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "keys/clikit.h"
#include "keys/progress.h"
#include "proto/wire.h"

static int shown;               /* progress goes to this terminal */
static int line;                /* a progress line is on the screen */
static volatile sig_atomic_t caught;

void
lsn_progress_init(int json)
{
    shown = !json && isatty(STDERR_FILENO);
}

int
lsn_progress_shown(void)
{
    return shown;
}

void
lsn_progress_clear(void)
{
    if (!line)
        return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    line = 0;
}

void
lsn_progress(const char *fmt, ...)
{
    char what[256];
    va_list ap;

    if (!shown)
        return;
    if (fmt == NULL || fmt[0] == '\0') {
        lsn_progress_clear();
        return;
    }
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    /* One line, cut to a terminal's usual width so it never wraps (a
     * wrapped line is not erased by \r). */
    fprintf(stderr, "\r\033[K%s: %.60s\xe2\x80\xa6", lsn_cli_prog(), what);
    fflush(stderr);
    line = 1;
}

void
lsn_progress_note(const char *fmt, ...)
{
    va_list ap;

    if (!shown)
        return;
    lsn_progress_clear();
    fprintf(stderr, "%s: ", lsn_cli_prog());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

void
lsn_progress_cb(void *ctx, const char *what)
{
    (void)ctx;
    if (what == NULL)
        lsn_progress_clear();
    else
        lsn_progress("%s", what);
}

static void
on_signal(int sig)
{
    caught = sig;
}

void
lsn_interrupt_catch(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;            /* no SA_RESTART: waits return EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    lsn_wire_set_stop(&caught);
}

int
lsn_interrupted(void)
{
    return caught;
}

volatile sig_atomic_t *
lsn_interrupt_flag(void)
{
    return &caught;
}

int
lsn_interrupt_exit(const char *fmt, ...)
{
    va_list ap;

    lsn_progress_clear();
    fprintf(stderr, "%s: ", lsn_cli_prog());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 128 + (caught != 0 ? caught : SIGINT);
}
