/* pass.h: reading passphrases: the first line of a file, or the terminal
 * with echo off.  Both CLIs use these; a passphrase never comes from argv. */
#ifndef LSN_PASS_H
#define LSN_PASS_H

#include <stddef.h>

#define LSN_PASS_MAX 1024

/* The first line of file (without its newline) in sodium_malloc'd memory.
 * LSN_ERR_INVALID if it is empty; file errors as lsn_file_read. */
int lsn_pass_read_file(const char *file, char **out);

/* Asks on the controlling terminal with echo off.  LSN_ERR_USAGE (with a
 * detail) when there is no terminal, LSN_ERR_INVALID for an empty answer. */
int lsn_pass_read_tty(const char *prompt, char **out);

/* Fewer characters than this in a new passphrase get a warning. */
#define LSN_PASS_ADVISED 12

/* The number of characters (UTF-8 code points) in p. */
size_t lsn_pass_chars(const char *p);

/* Warns on stderr ("PROG: warning: ...") when a new passphrase has fewer
 * than LSN_PASS_ADVISED characters; the passphrase is still taken. */
void lsn_pass_warn_short(const char *prog, const char *p);

/* Wipes and frees a passphrase; sets *p to NULL. */
void lsn_pass_free(char **p);

#endif
