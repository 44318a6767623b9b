/* progress.h: what a command of `liaison` or `liaison-keys` says while it
 * waits on the network, and how it stops on Ctrl-C.
 *
 * Progress is one line on stderr, replaced by the next (carriage return,
 * erase to the end of the line) and erased when the step ends, so the
 * screen is left as it was and an error line reads on its own.  It is
 * shown only when stderr is a terminal and the command was not asked for
 * --json; stdout, the command's result, never carries it.  The decision
 * is made once, by lsn_progress_init.
 *
 * lsn_interrupt_catch makes SIGINT and SIGTERM set a flag (the handler
 * does nothing else) that lsn_interrupted reads between steps; every wait
 * for a relay (proto/wire.h) then ends at once with LSN_ERR_INTERRUPTED,
 * and so does a passphrase prompt. */
#ifndef LSN_PROGRESS_H
#define LSN_PROGRESS_H

#include <signal.h>

/* Decides once whether progress is shown: stderr is a terminal and json
 * is 0. */
void lsn_progress_init(int json);

/* 1 if progress is shown (lsn_progress_init decided so). */
int lsn_progress_shown(void);

/* Replaces the progress line with "PROG: <what>…" (nothing if progress
 * is not shown).  A NULL or empty fmt erases the line. */
void lsn_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Erases the progress line if one is shown; the kit calls it before
 * every error line. */
void lsn_progress_clear(void);

/* Writes "PROG: <line>" and a newline to stderr if progress is shown: a
 * line that stays (watch's banner). */
void lsn_progress_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The library's progress callback (struct lsn_client's progress): what
 * NULL erases the line, else it is shown as lsn_progress("%s", what). */
void lsn_progress_cb(void *ctx, const char *what);

/* From here on SIGINT and SIGTERM set the flag lsn_interrupted reads
 * (no SA_RESTART: a blocked read or poll returns EINTR) and stop every
 * wait for a relay. */
void lsn_interrupt_catch(void);

/* The signal that interrupted the command (SIGINT, SIGTERM) or 0. */
int lsn_interrupted(void);

/* The flag itself, for a loop that polls it (lsn_client_watch). */
volatile sig_atomic_t *lsn_interrupt_flag(void);

/* Erases the progress line and writes "PROG: <line>" to stderr; returns
 * the exit code for the signal caught: 128 + its number (130 for Ctrl-C,
 * 143 for SIGTERM). */
int lsn_interrupt_exit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
