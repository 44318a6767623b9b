/* json.h: the one way --json output is written: jansson values, dumped
 * compact as one object per line (NDJSON, docs/json.md).  Text a sender,
 * peer or file chose goes in through lsn_json_text, never json_string:
 * jansson refuses invalid UTF-8, and such text must still be shown. */
#ifndef LSN_JSON_H
#define LSN_JSON_H

#include <stdio.h>

#include <jansson.h>

/* A new JSON string of s with every byte that is not part of valid UTF-8
 * replaced by U+FFFD (NULL s: ""); NULL only when memory runs out. */
json_t *lsn_json_text(const char *s);

/* Writes v compact and a newline to f, flushes, and releases v (a NULL v,
 * from a failed json_pack, writes nothing); 0, or LSN_ERR_NOMEM / LSN_ERR_IO. */
int lsn_json_print(FILE *f, json_t *v);

#endif
