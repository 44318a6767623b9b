/* alert.h: the content model inside a sealed envelope (docs/design.md
 * "Content") and its validation.
 *
 * An Alert is checked by the sender before sealing and by every recipient
 * after opening, with the same rules: required fields present, every
 * enumeration in range, every string valid UTF-8 within its limit, counts
 * bounded, each attachment's SHA-256 matching its bytes.  The limits are
 * part of the protocol (docs/protocol.md "Content"). */
#ifndef LSN_ALERT_H
#define LSN_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/pb.h"

#define LSN_ALERT_TITLE_MAX          256u        /* bytes, no line breaks */
#define LSN_ALERT_BODY_MAX           (1024u * 1024u)
#define LSN_ALERT_HANDLING_TEXT_MAX  512u
#define LSN_ALERT_CASE_REF_MAX       128u
#define LSN_ALERT_MAX_INDICATORS     1024u
#define LSN_ALERT_INDICATOR_TYPE_MAX 64u
#define LSN_ALERT_INDICATOR_MAX      2048u       /* one indicator value */
#define LSN_ALERT_MAX_ATTACHMENTS    32u
#define LSN_ALERT_ATTACH_NAME_MAX    255u
#define LSN_ALERT_MEDIA_TYPE_MAX     127u
#define LSN_ALERT_MAX_EXTREFS        64u
#define LSN_ALERT_EXTREF_SYSTEM_MAX  64u
#define LSN_ALERT_EXTREF_ID_MAX      256u
#define LSN_ALERT_MAX_CIRCLES        16u
#define LSN_ALERT_CIRCLE_MAX_ORGS    256u        /* = LSN_MAX_RECIPIENTS */
/* A non-delivery receipt's reason: an LSN_ERR_* code in [-127, -1]. */
#define LSN_RECEIPT_REASON_MIN       (-127)
/* Feedback (docs/protocol.md "Feedback"). */
#define LSN_FEEDBACK_NOTE_MAX        4096u
#define LSN_FEEDBACK_OTHER_MAX       64u
#define LSN_FEEDBACK_PASSED_MAX      64u         /* orgs in passed_to */
/* The whole encoded Alert, attachments included: see LSN_CONTENT_MAX. */

/* 0 if a is a valid Alert, else LSN_ERR_INVALID (a value out of range or
 * a missing required field) or LSN_ERR_LIMIT (a count or size limit). */
int lsn_alert_validate(const Liaison__Alert *a);

/* Strictly decodes and validates content bytes into a new *out (free with
 * lsn_pb_free; its memory is wiped on release).  LSN_ERR_MALFORMED for
 * bytes that are not a canonical Alert, else lsn_alert_validate's errors.
 * *out is NULL on failure. */
int lsn_alert_decode(const uint8_t *buf, size_t len, Liaison__Alert **out);

/* Validates then encodes a into a new malloc'd buffer (at most
 * LSN_CONTENT_MAX bytes, else LSN_ERR_TOO_LARGE).  The caller wipes and
 * frees it. */
int lsn_alert_encode(const Liaison__Alert *a, uint8_t **out, size_t *out_len);

/* 0 if s[0..len) is well-formed UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF) without NUL, else LSN_ERR_INVALID. */
int lsn_utf8_check(const char *s, size_t len);

/* 1 if name is a MISP attribute type liaison accepts as an indicator. */
int lsn_alert_misp_type_known(const char *name);

/* Whether an attachment's name (a file name: valid UTF-8 on one line, 1 to
 * 255 bytes, no '/', '\\', "." or "..") and media type ("type/subtype")
 * are acceptable: 0, LSN_ERR_INVALID or LSN_ERR_LIMIT. */
int lsn_alert_attachment_meta_check(const char *name, const char *media_type);

/* The length of a character at p (valid UTF-8) that a reader cannot see or
 * that reorders what follows: a C1 control, a soft hyphen, a zero-width
 * space or joiner, a bidirectional mark, embedding, override or isolate, a
 * line or paragraph separator, a word joiner, a byte order mark; else 0.
 * Shown escaped, and never in a file name liaison saves. */
size_t lsn_text_hidden_len(const unsigned char *p);

/* The media type a file name's extension suggests (".csv": "text/csv",
 * ...), else "application/octet-stream". */
const char *lsn_alert_media_type_of(const char *name);

#endif
