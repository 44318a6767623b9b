/* json.h: the few pieces every --json output needs: a string escaper and
 * an object member's key.  Output is one object per line (NDJSON). */
#ifndef LSN_JSON_H
#define LSN_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes s as a JSON string literal (quotes included), escaping control
 * characters, quotes and backslashes; invalid UTF-8 bytes become U+FFFD. */
void lsn_json_str(FILE *f, const char *s);

/* Writes "key": for an object member (with a leading comma unless first). */
void lsn_json_key(FILE *f, const char *key, int *first);

#endif
