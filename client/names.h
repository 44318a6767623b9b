/* names.h: the words for the Alert's enumerations, one table for the CLI
 * options, the text output and the --json output (docs/json.md). */
#ifndef LSN_NAMES_H
#define LSN_NAMES_H

#include "proto/pb.h"

struct lsn_name {
    const char *name;
    int value;
};

extern const struct lsn_name lsn_names_type[], lsn_names_tlp[], lsn_names_pap[],
    lsn_names_handling[], lsn_names_priority[], lsn_names_ack[],
    lsn_names_receipt[];

/* The name of value in table, or "unknown". */
const char *lsn_name_of(const struct lsn_name *table, int value);

/* The value named name in table: 0 and *value, or LSN_ERR_INVALID. */
int lsn_name_parse(const struct lsn_name *table, const char *name, int *value);

/* "a|b|c": the accepted words, for error messages and usage. */
const char *lsn_name_list(const struct lsn_name *table, char *buf, size_t n);

#endif
