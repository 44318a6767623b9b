/* pass.h: reading passphrases: the first line of a file, or the terminal
 * with echo off.  Both CLIs use these; a passphrase never comes from argv. */
#ifndef LSN_PASS_H
#define LSN_PASS_H

#define LSN_PASS_MAX 1024

/* The first line of file (without its newline) in sodium_malloc'd memory.
 * LSN_ERR_INVALID if it is empty; file errors as lsn_file_read. */
int lsn_pass_read_file(const char *file, char **out);

/* Asks on the controlling terminal with echo off.  LSN_ERR_USAGE (with a
 * detail) when there is no terminal, LSN_ERR_INVALID for an empty answer. */
int lsn_pass_read_tty(const char *prompt, char **out);

/* Wipes and frees a passphrase; sets *p to NULL. */
void lsn_pass_free(char **p);

#endif
