/* names.h: the words for the Alert's enumerations, one table for the CLI
 * options, the text output and the --json output (docs/json.md). */
#ifndef LSN_NAMES_H
#define LSN_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "proto/pb.h"

struct lsn_name {
    const char *name;
    int value;
};

extern const struct lsn_name lsn_names_type[], lsn_names_tlp[], lsn_names_pap[],
    lsn_names_handling[], lsn_names_priority[], lsn_names_ack[],
    lsn_names_receipt[], lsn_names_device_state[], lsn_names_disposition[],
    lsn_names_reported[];

/* The name of value in table, or "unknown". */
const char *lsn_name_of(const struct lsn_name *table, int value);

/* The value named name in table, in any case of ASCII letters (TLP 2.0
 * writes AMBER+STRICT): 0 and *value, or LSN_ERR_INVALID. */
int lsn_name_parse(const struct lsn_name *table, const char *name, int *value);

/* "a|b|c": the accepted words, for error messages and usage. */
const char *lsn_name_list(const struct lsn_name *table, char *buf, size_t n);

/* Option values people type (the CLI's and the library's one parser of
 * each); every one returns 0 or LSN_ERR_INVALID and reads only s. */

/* "7d", "12h", "30m", "90s" or plain seconds: 1 s to 100 years. */
int lsn_duration_parse(const char *s, int64_t *out);

/* "H0", "H1", "H2" or "H3:TEXT": *code a LIAISON__HANDLING_CODE__*, *text
 * the H3 text (pointing into s) or "". */
int lsn_handling_parse(const char *s, int *code, const char **text);

/* "A1" (Admiralty) or "europol:B2": *system a LIAISON__GRADING_SYSTEM__*,
 * source and information one character each, NUL-terminated (the Alert
 * validation judges the letters and digits). */
int lsn_grade_parse(const char *s, int *system, char source[2],
                    char information[2]);

/* "TYPE=VALUE" with a MISP attribute type liaison knows: the type copied
 * into type, *value pointing into s (non-empty). */
#define LSN_INDICATOR_TYPE_BUF 65
int lsn_indicator_parse(const char *s, char type[LSN_INDICATOR_TYPE_BUF],
                        const char **value);

/* "ncmec", "police", "inhope" or "other:TEXT" (TEXT non-empty): *to a
 * LIAISON__REPORTED_TO__*, *other TEXT (pointing into s) or "". */
int lsn_reported_parse(const char *s, int *to, const char **other);

#endif
