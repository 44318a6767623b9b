/* alert.c: validation, encoding and decoding of the Alert content model
 * (see alert.h for the contract; docs/protocol.md "Content" for the rules
 * and why they exist).
 *
 * Validation runs on both sides of a seal, so a sender learns of a bad
 * alert before it leaves and a recipient never trusts the sender's code. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "client/alert.h"
#include "keys/util.h"
#include "proto/err.h"
#include "proto/limits.h"

/* Heap a decoded Alert may take beyond twice its encoded size: room for
 * the structs of LSN_ALERT_MAX_INDICATORS small indicators. */
#define ALERT_HEAP_SLACK (512u * 1024u)

/* MISP attribute type names (MISP core categories and types) accepted as
 * indicator types.  An unknown name is refused rather than passed on, so
 * a receiving system can map every indicator it is given. */
static const char *const misp_types[] = {
    "AS", "aba-rtn", "anonymised", "attachment", "authentihash",
    "bank-account-nr", "bic", "bin", "boolean", "btc", "campaign-id",
    "campaign-name", "cc-number", "cdhash", "chrome-extension-id",
    "comment", "community-id", "cookie", "counter", "country-of-residence",
    "cpe", "dash", "date-of-birth", "datetime", "dkim", "dkim-signature",
    "dns-soa-email", "domain", "domain|ip", "email", "email-attachment",
    "email-body", "email-dst", "email-dst-display-name", "email-header",
    "email-message-id", "email-mime-boundary", "email-reply-to",
    "email-src", "email-src-display-name", "email-subject",
    "email-thread-index", "email-x-mailer", "eppn", "favicon-mmh3",
    "filename", "filename-pattern", "filename|md5", "filename|sha1",
    "filename|sha256", "filename|sha512", "filename|ssdeep",
    "filename|tlsh", "first-name", "float", "frequent-flyer-number",
    "full-name", "gender", "github-organisation", "github-repository",
    "github-username", "hassh-md5", "hasshserver-md5", "hex", "hostname",
    "hostname|port", "http-method", "iban", "identity-card-number",
    "imphash", "impfuzzy", "integer", "ip-dst", "ip-dst|port", "ip-src",
    "ip-src|port", "ja3-fingerprint-md5", "jabber-id", "jarm-fingerprint",
    "last-name", "link", "mac-address", "mac-eui-64", "malware-sample",
    "malware-type", "md5", "middle-name", "mobile-application-id",
    "mutex", "named pipe", "nationality", "onion-address", "other",
    "passport-country", "passport-expiration", "passport-number",
    "pattern-in-file", "pattern-in-memory", "pattern-in-traffic",
    "payment-details", "pehash", "pgp-public-key", "phone-number",
    "place-of-birth", "port", "primary-residence", "process-state",
    "prtn", "regkey", "regkey|value", "sha1", "sha224", "sha256",
    "sha3-224", "sha3-256", "sha3-384", "sha3-512", "sha384", "sha512",
    "sha512/224", "sha512/256", "sigma", "size-in-bytes", "snort",
    "ssdeep", "ssh-fingerprint", "stix2-pattern", "target-email",
    "target-external", "target-location", "target-machine", "target-org",
    "target-user", "telfhash", "text", "threat-actor", "tlsh",
    "travel-details", "twitter-id", "uri", "url", "user-agent", "vhash",
    "visa-number", "vulnerability", "weakness", "whois-creation-date",
    "whois-registrant-email", "whois-registrant-name",
    "whois-registrant-org", "whois-registrant-phone", "whois-registrar",
    "x509-fingerprint-md5", "x509-fingerprint-sha1",
    "x509-fingerprint-sha256", "xmr", "yara",
};

int
lsn_alert_misp_type_known(const char *name)
{
    for (size_t i = 0; i < sizeof misp_types / sizeof misp_types[0]; i++)
        if (strcmp(misp_types[i], name) == 0)
            return 1;
    return 0;
}

int
lsn_utf8_check(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < len) {
        unsigned c = s[i];
        size_t n;
        uint32_t cp, min;

        if (c == 0)
            return LSN_ERR_INVALID;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1; cp = c & 0x1f; min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2; cp = c & 0x0f; min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return LSN_ERR_INVALID;
        }
        if (len - i - 1 < n)
            return LSN_ERR_INVALID;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return LSN_ERR_INVALID;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return LSN_ERR_INVALID;
        i += n + 1;
    }
    return 0;
}

/* A string of at most max bytes (at least min), valid UTF-8; with
 * one_line, no control character (C0 U+0000..U+001F, DEL U+007F, C1
 * U+0080..U+009F, NEL among them: U+009B alone starts a terminal escape)
 * and no Unicode line break (LS U+2028, PS U+2029). */
static int
text_check(const char *s, size_t min, size_t max, int one_line)
{
    size_t n = strlen(s);

    if (n > max)
        return LSN_ERR_LIMIT;
    if (n < min)
        return LSN_ERR_INVALID;
    if (lsn_utf8_check(s, n) != 0)
        return LSN_ERR_INVALID;
    if (one_line) {
        const unsigned char *u = (const unsigned char *)s;
        for (size_t i = 0; i < n; i++) {
            if (u[i] < 0x20 || u[i] == 0x7f)
                return LSN_ERR_INVALID;
            if (u[i] == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
                return LSN_ERR_INVALID;
            if (u[i] == 0xe2 && i + 2 < n && u[i + 1] == 0x80 &&
                (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))
                return LSN_ERR_INVALID;
        }
    }
    return 0;
}

static int
grading_check(const Liaison__Grading *g)
{
    const char *src, *info;

    switch (g->system) {
    case LIAISON__GRADING_SYSTEM__GRADING_ADMIRALTY:
        src = "ABCDEF";
        info = "123456";
        break;
    case LIAISON__GRADING_SYSTEM__GRADING_EUROPOL_4X4:
        src = "ABCX";
        info = "1234";
        break;
    default:
        return LSN_ERR_INVALID;
    }
    if (strlen(g->source) != 1 || strchr(src, g->source[0]) == NULL ||
        strlen(g->information) != 1 || strchr(info, g->information[0]) == NULL)
        return LSN_ERR_INVALID;
    return 0;
}

static int
ref_check(const Liaison__MessageRef *m)
{
    if (lsn_org_id_check(m->org) != 0 || m->msg_id.len != LSN_MSG_ID_LEN)
        return LSN_ERR_INVALID;
    return 0;
}

/* RFC 6838 restricted-name characters. */
static int
media_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || strchr("!#$&^_.+-", c) != NULL;
}

/* "type/subtype", each part 1+ restricted-name characters. */
static int
media_type_check(const char *s)
{
    size_t n = strlen(s), slash = 0, slashes = 0;

    if (n > LSN_ALERT_MEDIA_TYPE_MAX)
        return LSN_ERR_LIMIT;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '/') {
            slash = i;
            slashes++;
        } else if (!media_char(s[i])) {
            return LSN_ERR_INVALID;
        }
    }
    if (slashes != 1 || slash == 0 || slash == n - 1)
        return LSN_ERR_INVALID;
    return 0;
}

int
lsn_alert_attachment_meta_check(const char *name, const char *media_type)
{
    int r;

    /* A file name, not a path: receivers may save it as given. */
    if (name == NULL || media_type == NULL)
        return LSN_ERR_INVALID;
    if ((r = text_check(name, 1, LSN_ALERT_ATTACH_NAME_MAX, 1)) != 0)
        return r;
    if (strchr(name, '/') != NULL || strchr(name, '\\') != NULL ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return LSN_ERR_INVALID;
    return media_type_check(media_type);
}

static int
attachment_check(const Liaison__Attachment *at)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    int r;

    if ((r = lsn_alert_attachment_meta_check(at->name, at->media_type)) != 0)
        return r;
    if (at->sha256.len != sizeof h)
        return LSN_ERR_INVALID;
    crypto_hash_sha256(h, at->data.data, at->data.len);
    if (sodium_memcmp(h, at->sha256.data, sizeof h) != 0)
        return LSN_ERR_INVALID;
    return 0;
}

/* The links a type needs: an answer names its question, an update or
 * revocation names what it replaces. */
static int
links_check(const Liaison__Alert *a)
{
    switch (a->type) {
    case LIAISON__ALERT_TYPE__ALERT_TYPE_RESPONSE:
    case LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT:
    case LIAISON__ALERT_TYPE__ALERT_TYPE_FEEDBACK:
        return a->in_reply_to != NULL ? 0 : LSN_ERR_INVALID;
    case LIAISON__ALERT_TYPE__ALERT_TYPE_UPDATE:
    case LIAISON__ALERT_TYPE__ALERT_TYPE_REVOKE:
        return a->supersedes != NULL ? 0 : LSN_ERR_INVALID;
    default:
        return 0;
    }
}

/* A receipt belongs to, and only to, a RECEIPT; it names the device that
 * opened, read or refused the message (the message itself is
 * in_reply_to); a reason belongs to, and only to, a refusal. */
static int
receipt_check(const Liaison__Alert *a)
{
    const Liaison__Receipt *rc = a->receipt;

    if ((a->type == LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT) != (rc != NULL))
        return LSN_ERR_INVALID;
    if (rc == NULL)
        return 0;
    if (rc->kind < LIAISON__RECEIPT_KIND__RECEIPT_DELIVERED ||
        rc->kind > LIAISON__RECEIPT_KIND__RECEIPT_REFUSED ||
        (rc->kind == LIAISON__RECEIPT_KIND__RECEIPT_REFUSED) !=
            (rc->reason < 0 && rc->reason >= LSN_RECEIPT_REASON_MIN) ||
        lsn_name_check(rc->device) != 0 || rc->at < 0 || rc->at > LSN_TIME_MAX)
        return LSN_ERR_INVALID;
    /* Receipts never ask for receipts. */
    if (a->ack != LIAISON__ACK_REQUEST__ACK_NONE)
        return LSN_ERR_INVALID;
    return 0;
}

/* The circles an alert was addressed to: at most LSN_ALERT_MAX_CIRCLES,
 * each a valid unique name with 1 to LSN_ALERT_CIRCLE_MAX_ORGS valid org
 * ids listed once.  Receipts are addressed to one org, never a circle. */
static int
circles_check(const Liaison__Alert *a)
{
    if (a->n_circles == 0)
        return 0;
    if (a->type == LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT)
        return LSN_ERR_INVALID;
    if (a->n_circles > LSN_ALERT_MAX_CIRCLES)
        return LSN_ERR_LIMIT;
    for (size_t i = 0; i < a->n_circles; i++) {
        const Liaison__AlertCircle *c = a->circles[i];

        if (lsn_org_id_check(c->name) != 0)
            return LSN_ERR_INVALID;
        if (c->n_orgs == 0)
            return LSN_ERR_INVALID;
        if (c->n_orgs > LSN_ALERT_CIRCLE_MAX_ORGS)
            return LSN_ERR_LIMIT;
        for (size_t j = 0; j < i; j++)
            if (strcmp(a->circles[j]->name, c->name) == 0)
                return LSN_ERR_INVALID;
        for (size_t k = 0; k < c->n_orgs; k++) {
            if (lsn_org_id_check(c->orgs[k]) != 0)
                return LSN_ERR_INVALID;
            for (size_t j = 0; j < k; j++)
                if (strcmp(c->orgs[j], c->orgs[k]) == 0)
                    return LSN_ERR_INVALID;
        }
    }
    return 0;
}

/* A feedback belongs to, and only to, a FEEDBACK: a known disposition;
 * indicator positions 1..LSN_ALERT_MAX_INDICATORS, strictly increasing
 * (one encoding per set); whom it was reported to with, and only with,
 * REPORTED (a name with, and only with, OTHER); a bounded note; the orgs
 * a retraction was passed on to, and a hold, with RETRACTION_APPLIED
 * only.  A feedback asks for no receipt and forwards nothing. */
static int
feedback_check(const Liaison__Alert *a)
{
    const Liaison__Feedback *fb = a->feedback;
    int reported;

    if ((a->type == LIAISON__ALERT_TYPE__ALERT_TYPE_FEEDBACK) != (fb != NULL))
        return LSN_ERR_INVALID;
    if (fb == NULL)
        return 0;
    if (fb->disposition < LIAISON__DISPOSITION__DISPOSITION_SEEN ||
        fb->disposition > LIAISON__DISPOSITION__DISPOSITION_RETRACTION_APPLIED)
        return LSN_ERR_INVALID;
    if (fb->n_indicators > LSN_ALERT_MAX_INDICATORS)
        return LSN_ERR_LIMIT;
    for (size_t i = 0; i < fb->n_indicators; i++)
        if (fb->indicators[i] < 1 || fb->indicators[i] > LSN_ALERT_MAX_INDICATORS ||
            (i > 0 && fb->indicators[i] <= fb->indicators[i - 1]))
            return LSN_ERR_INVALID;
    reported = fb->disposition == LIAISON__DISPOSITION__DISPOSITION_REPORTED;
    if ((int)fb->reported_to < LIAISON__REPORTED_TO__REPORTED_UNSET ||
        fb->reported_to > LIAISON__REPORTED_TO__REPORTED_OTHER ||
        reported != (fb->reported_to != LIAISON__REPORTED_TO__REPORTED_UNSET))
        return LSN_ERR_INVALID;
    if (fb->reported_to == LIAISON__REPORTED_TO__REPORTED_OTHER) {
        int r = text_check(fb->reported_other, 1, LSN_FEEDBACK_OTHER_MAX, 1);
        if (r != 0)
            return r;
    } else if (fb->reported_other[0] != '\0') {
        return LSN_ERR_INVALID;
    }
    if (fb->at < 0 || fb->at > LSN_TIME_MAX ||
        a->ack != LIAISON__ACK_REQUEST__ACK_NONE || a->forwarded != NULL)
        return LSN_ERR_INVALID;
    /* Whom a retraction was passed on to, and a hold, belong to a
     * retraction-applied only; each org once. */
    if (fb->disposition != LIAISON__DISPOSITION__DISPOSITION_RETRACTION_APPLIED &&
        (fb->n_passed_to > 0 || fb->kept))
        return LSN_ERR_INVALID;
    if (fb->n_passed_to > LSN_FEEDBACK_PASSED_MAX)
        return LSN_ERR_LIMIT;
    for (size_t i = 0; i < fb->n_passed_to; i++) {
        if (lsn_org_id_check(fb->passed_to[i]) != 0)
            return LSN_ERR_INVALID;
        for (size_t j = 0; j < i; j++)
            if (strcmp(fb->passed_to[i], fb->passed_to[j]) == 0)
                return LSN_ERR_INVALID;
    }
    return text_check(fb->note, 0, LSN_FEEDBACK_NOTE_MAX, 0);
}

/* A forward carries one whole envelope and its 32-byte content key; the
 * envelope itself is checked when the recipient opens it. */
static int
forwarded_check(const Liaison__Forwarded *f)
{
    if (f == NULL)
        return 0;
    if (f->key.len != LSN_KEY_LEN || f->envelope.len == 0)
        return LSN_ERR_INVALID;
    return 0;
}

/* Enumerations: protobuf keeps an unknown enum number as is. */
static int
enums_check(const Liaison__Alert *a)
{
    if (a->type < LIAISON__ALERT_TYPE__ALERT_TYPE_ALERT ||
        a->type > LIAISON__ALERT_TYPE__ALERT_TYPE_FEEDBACK)
        return LSN_ERR_INVALID;
    if ((int)a->tlp < LIAISON__TLP__TLP_AMBER ||
        a->tlp > LIAISON__TLP__TLP_RED)
        return LSN_ERR_INVALID;
    if ((int)a->pap < LIAISON__PAP__PAP_UNSET || a->pap > LIAISON__PAP__PAP_RED)
        return LSN_ERR_INVALID;
    if ((int)a->handling < LIAISON__HANDLING_CODE__HANDLING_UNSET ||
        a->handling > LIAISON__HANDLING_CODE__HANDLING_H3)
        return LSN_ERR_INVALID;
    if ((int)a->priority < LIAISON__PRIORITY__PRIORITY_ROUTINE ||
        a->priority > LIAISON__PRIORITY__PRIORITY_URGENT)
        return LSN_ERR_INVALID;
    if ((int)a->ack < LIAISON__ACK_REQUEST__ACK_NONE ||
        a->ack > LIAISON__ACK_REQUEST__ACK_READ)
        return LSN_ERR_INVALID;
    return 0;
}

int
lsn_alert_validate(const Liaison__Alert *a)
{
    int r;

    if ((r = enums_check(a)) != 0)
        return r;
    if ((r = text_check(a->title, 1, LSN_ALERT_TITLE_MAX, 1)) != 0 ||
        (r = text_check(a->body, 0, LSN_ALERT_BODY_MAX, 0)) != 0 ||
        (r = text_check(a->case_ref, 0, LSN_ALERT_CASE_REF_MAX, 1)) != 0)
        return r;
    /* Free text belongs to H3 only, and H3 means nothing without it. */
    if (a->handling == LIAISON__HANDLING_CODE__HANDLING_H3) {
        if ((r = text_check(a->handling_text, 1,
                            LSN_ALERT_HANDLING_TEXT_MAX, 0)) != 0)
            return r;
    } else if (a->handling_text[0] != '\0') {
        return LSN_ERR_INVALID;
    }
    if (a->grading != NULL && (r = grading_check(a->grading)) != 0)
        return r;
    if (a->in_reply_to != NULL && (r = ref_check(a->in_reply_to)) != 0)
        return r;
    if (a->supersedes != NULL && (r = ref_check(a->supersedes)) != 0)
        return r;
    if ((r = links_check(a)) != 0 || (r = receipt_check(a)) != 0 ||
        (r = feedback_check(a)) != 0 ||
        (r = forwarded_check(a->forwarded)) != 0 || (r = circles_check(a)) != 0)
        return r;
    if (a->respond_by < 0 || a->respond_by > LSN_TIME_MAX)
        return LSN_ERR_INVALID;
    if (a->n_indicators > LSN_ALERT_MAX_INDICATORS ||
        a->n_attachments > LSN_ALERT_MAX_ATTACHMENTS ||
        a->n_external_refs > LSN_ALERT_MAX_EXTREFS)
        return LSN_ERR_LIMIT;
    for (size_t i = 0; i < a->n_indicators; i++) {
        const Liaison__Indicator *in = a->indicators[i];
        if (strlen(in->type) > LSN_ALERT_INDICATOR_TYPE_MAX ||
            !lsn_alert_misp_type_known(in->type))
            return LSN_ERR_INVALID;
        if ((r = text_check(in->value, 1, LSN_ALERT_INDICATOR_MAX, 0)) != 0)
            return r;
    }
    for (size_t i = 0; i < a->n_attachments; i++)
        if ((r = attachment_check(a->attachments[i])) != 0)
            return r;
    for (size_t i = 0; i < a->n_external_refs; i++) {
        const Liaison__ExternalRef *x = a->external_refs[i];
        if ((r = text_check(x->system, 1, LSN_ALERT_EXTREF_SYSTEM_MAX, 1)) != 0 ||
            (r = text_check(x->id, 1, LSN_ALERT_EXTREF_ID_MAX, 1)) != 0)
            return r;
    }
    return 0;
}

int
lsn_alert_decode(const uint8_t *buf, size_t len, Liaison__Alert **out)
{
    Liaison__Alert *a = NULL;
    int r;

    *out = NULL;
    if (len > LSN_CONTENT_MAX)
        return LSN_ERR_TOO_LARGE;
    if ((r = LSN_PB_DECODE(alert, buf, len, 2 * len + ALERT_HEAP_SLACK,
                           &a)) != 0)
        goto out;
    if ((r = lsn_alert_validate(a)) != 0)
        goto out;
    *out = a;
    a = NULL;
out:
    lsn_pb_free((ProtobufCMessage *)a);
    return r;
}

int
lsn_alert_encode(const Liaison__Alert *a, uint8_t **out, size_t *out_len)
{
    int r;

    *out = NULL;
    *out_len = 0;
    if ((r = lsn_alert_validate(a)) != 0)
        return r;
    if (protobuf_c_message_get_packed_size(&a->base) > LSN_CONTENT_MAX)
        return LSN_ERR_TOO_LARGE;
    return lsn_pb_encode(&a->base, out, out_len);
}

const char *
lsn_alert_media_type_of(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        { ".txt", "text/plain" }, { ".csv", "text/csv" }, { ".json", "application/json" },
        { ".pdf", "application/pdf" }, { ".png", "image/png" }, { ".jpg", "image/jpeg" },
        { ".jpeg", "image/jpeg" }, { ".zip", "application/zip" },
        { ".eml", "message/rfc822" }, { ".xml", "application/xml" },
    };
    const char *dot = strrchr(name, '.');

    for (size_t i = 0; dot != NULL && i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

size_t
lsn_text_hidden_len(const unsigned char *p)
{
    if (p[0] == 0xc2 && (p[1] >= 0x80 && p[1] <= 0x9f))
        return 2;                               /* C1 controls */
    if (p[0] == 0xc2 && p[1] == 0xad)
        return 2;                               /* soft hyphen */
    if (p[0] == 0xe2 && p[1] == 0x80 &&
        ((p[2] >= 0x8b && p[2] <= 0x8f) || (p[2] >= 0xa8 && p[2] <= 0xae)))
        return 3;                               /* U+200B-200F, U+2028-202E */
    if (p[0] == 0xe2 && p[1] == 0x81 &&
        (p[2] == 0xa0 || (p[2] >= 0xa6 && p[2] <= 0xa9)))
        return 3;                               /* U+2060, U+2066-2069 */
    if (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
        return 3;                               /* U+FEFF */
    return 0;
}
