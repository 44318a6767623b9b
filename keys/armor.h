/* armor.h: the text wrapping of every liaison file (keys, signed objects,
 * credentials), so they survive e-mail and can be read by eye:
 *
 *   liaison-<label> v1
 *   # any number of comment lines (fingerprints, names)
 *   <base64, 64 columns a line>
 *   end
 */
#ifndef LSN_ARMOR_H
#define LSN_ARMOR_H

#include <stddef.h>
#include <stdint.h>

#define LSN_ARMOR_COMMENT_MAX 512

/* Wraps bin under label with optional comment lines (NULL, or text whose
 * lines are each prefixed "# ").  *text is malloc'd and NUL-terminated. */
int lsn_armor_encode(const char *label, const char *comment,
                     const uint8_t *bin, size_t len, char **text,
                     size_t *text_len);

/* Unwraps text whose first line must be "liaison-<label> v1"; at most max
 * bytes of binary.  LSN_ERR_WRONG_KIND for another label, LSN_ERR_VERSION
 * for another version, LSN_ERR_TRUNCATED without the end line,
 * LSN_ERR_MALFORMED otherwise. *bin is malloc'd; free (and wipe, if secret). */
int lsn_armor_decode(const char *label, const uint8_t *text, size_t text_len,
                     size_t max, uint8_t **bin, size_t *len);

#endif
