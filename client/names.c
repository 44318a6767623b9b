/* names.c: enumeration words (see names.h).  TLP names follow TLP 2.0,
 * PAP follows FIRST, handling codes follow Europol. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/alert.h"
#include "client/names.h"
#include "proto/err.h"

const struct lsn_name lsn_names_type[] = {
    { "alert", LIAISON__ALERT_TYPE__ALERT_TYPE_ALERT },
    { "notice", LIAISON__ALERT_TYPE__ALERT_TYPE_NOTICE },
    { "request", LIAISON__ALERT_TYPE__ALERT_TYPE_REQUEST },
    { "response", LIAISON__ALERT_TYPE__ALERT_TYPE_RESPONSE },
    { "update", LIAISON__ALERT_TYPE__ALERT_TYPE_UPDATE },
    { "revoke", LIAISON__ALERT_TYPE__ALERT_TYPE_REVOKE },
    { "receipt", LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT },
    { "feedback", LIAISON__ALERT_TYPE__ALERT_TYPE_FEEDBACK },
    { NULL, 0 },
};

const struct lsn_name lsn_names_tlp[] = {
    { "clear", LIAISON__TLP__TLP_CLEAR },
    { "green", LIAISON__TLP__TLP_GREEN },
    { "amber", LIAISON__TLP__TLP_AMBER },
    { "amber+strict", LIAISON__TLP__TLP_AMBER_STRICT },
    { "red", LIAISON__TLP__TLP_RED },
    { NULL, 0 },
};

const struct lsn_name lsn_names_pap[] = {
    { "none", LIAISON__PAP__PAP_UNSET },
    { "clear", LIAISON__PAP__PAP_CLEAR },
    { "green", LIAISON__PAP__PAP_GREEN },
    { "amber", LIAISON__PAP__PAP_AMBER },
    { "red", LIAISON__PAP__PAP_RED },
    { NULL, 0 },
};

const struct lsn_name lsn_names_handling[] = {
    { "none", LIAISON__HANDLING_CODE__HANDLING_UNSET },
    { "H0", LIAISON__HANDLING_CODE__HANDLING_H0 },
    { "H1", LIAISON__HANDLING_CODE__HANDLING_H1 },
    { "H2", LIAISON__HANDLING_CODE__HANDLING_H2 },
    { "H3", LIAISON__HANDLING_CODE__HANDLING_H3 },
    { NULL, 0 },
};

const struct lsn_name lsn_names_priority[] = {
    { "routine", LIAISON__PRIORITY__PRIORITY_ROUTINE },
    { "priority", LIAISON__PRIORITY__PRIORITY_PRIORITY },
    { "urgent", LIAISON__PRIORITY__PRIORITY_URGENT },
    { NULL, 0 },
};

const struct lsn_name lsn_names_ack[] = {
    { "none", LIAISON__ACK_REQUEST__ACK_NONE },
    { "delivery", LIAISON__ACK_REQUEST__ACK_DELIVERY },
    { "read", LIAISON__ACK_REQUEST__ACK_READ },
    { NULL, 0 },
};

const struct lsn_name lsn_names_receipt[] = {
    { "delivered", LIAISON__RECEIPT_KIND__RECEIPT_DELIVERED },
    { "read", LIAISON__RECEIPT_KIND__RECEIPT_READ },
    { "refused", LIAISON__RECEIPT_KIND__RECEIPT_REFUSED },
    { NULL, 0 },
};

/* A feedback's disposition (`liaison feedback --disposition`). */
const struct lsn_name lsn_names_disposition[] = {
    { "seen", LIAISON__DISPOSITION__DISPOSITION_SEEN },
    { "true-positive", LIAISON__DISPOSITION__DISPOSITION_TRUE_POSITIVE },
    { "false-positive", LIAISON__DISPOSITION__DISPOSITION_FALSE_POSITIVE },
    { "actioned", LIAISON__DISPOSITION__DISPOSITION_ACTIONED },
    { "reported", LIAISON__DISPOSITION__DISPOSITION_REPORTED },
    { "not-actionable", LIAISON__DISPOSITION__DISPOSITION_NOT_ACTIONABLE },
    { "need-info", LIAISON__DISPOSITION__DISPOSITION_NEED_INFO },
    { "retraction-applied", LIAISON__DISPOSITION__DISPOSITION_RETRACTION_APPLIED },
    { NULL, 0 },
};

/* Whom a REPORTED feedback names (other:TEXT is REPORTED_OTHER). */
const struct lsn_name lsn_names_reported[] = {
    { "ncmec", LIAISON__REPORTED_TO__REPORTED_NCMEC },
    { "police", LIAISON__REPORTED_TO__REPORTED_POLICE },
    { "inhope", LIAISON__REPORTED_TO__REPORTED_INHOPE },
    { "other", LIAISON__REPORTED_TO__REPORTED_OTHER },
    { NULL, 0 },
};

/* A recipient device's state in a relay's status answer. */
const struct lsn_name lsn_names_device_state[] = {
    { "queued", LIAISON__DEVICE_STATE__DEVICE_QUEUED },
    { "delivered", LIAISON__DEVICE_STATE__DEVICE_DELIVERED },
    { "refused", LIAISON__DEVICE_STATE__DEVICE_REFUSED },
    { "trimmed", LIAISON__DEVICE_STATE__DEVICE_TRIMMED },
    { "dropped", LIAISON__DEVICE_STATE__DEVICE_DROPPED },
    { "expired", LIAISON__DEVICE_STATE__DEVICE_EXPIRED },
    { NULL, 0 },
};

const char *
lsn_name_of(const struct lsn_name *t, int value)
{
    for (; t->name != NULL; t++)
        if (t->value == value)
            return t->name;
    return "unknown";
}

/* ASCII case-insensitive equality: independent of the locale, so that
 * no locale folds `i` in "priority" to a dotless one. */
static int
same_word(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;

        if (x != y)
            return 0;
    }
    return *a == *b;
}

int
lsn_name_parse(const struct lsn_name *t, const char *name, int *value)
{
    for (; t->name != NULL; t++)
        if (same_word(t->name, name)) {
            *value = t->value;
            return 0;
        }
    return LSN_ERR_INVALID;
}

const char *
lsn_name_list(const struct lsn_name *t, char *buf, size_t n)
{
    size_t o = 0;

    buf[0] = '\0';
    for (; t->name != NULL && o < n; t++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? "|" : "", t->name);
    return buf;
}

int
lsn_duration_parse(const char *s, int64_t *out)
{
    char *end;
    long long v;
    int64_t mul = 1;

    if (s[0] < '0' || s[0] > '9')
        return LSN_ERR_INVALID;
    v = strtoll(s, &end, 10);
    if (v <= 0)
        return LSN_ERR_INVALID;
    switch (*end) {
    case 'd': mul = 86400; break;
    case 'h': mul = 3600; break;
    case 'm': mul = 60; break;
    case 's': case '\0': break;
    default: return LSN_ERR_INVALID;
    }
    if (*end != '\0' && end[1] != '\0')
        return LSN_ERR_INVALID;
    if (v > 100LL * 365 * 86400 / mul)
        return LSN_ERR_INVALID;
    *out = (int64_t)v * mul;
    return 0;
}

int
lsn_handling_parse(const char *s, int *code, const char **text)
{
    char w[3];
    int v;

    if (strlen(s) < 2)
        return LSN_ERR_INVALID;
    memcpy(w, s, 2);
    w[2] = '\0';
    if (lsn_name_parse(lsn_names_handling, w, &v) != 0 ||
        v == LIAISON__HANDLING_CODE__HANDLING_UNSET)
        return LSN_ERR_INVALID;
    if (v == LIAISON__HANDLING_CODE__HANDLING_H3) {
        if (s[2] != ':' || s[3] == '\0')
            return LSN_ERR_INVALID;
        *text = s + 3;
    } else {
        if (s[2] != '\0')
            return LSN_ERR_INVALID;
        *text = "";
    }
    *code = v;
    return 0;
}

int
lsn_grade_parse(const char *s, int *system, char source[2], char information[2])
{
    int europol = strncmp(s, "europol:", 8) == 0;
    const char *v = europol ? s + 8 : s;

    if (strlen(v) != 2)
        return LSN_ERR_INVALID;
    *system = europol ? LIAISON__GRADING_SYSTEM__GRADING_EUROPOL_4X4
                      : LIAISON__GRADING_SYSTEM__GRADING_ADMIRALTY;
    source[0] = v[0];
    source[1] = '\0';
    information[0] = v[1];
    information[1] = '\0';
    return 0;
}

int
lsn_indicator_parse(const char *s, char type[LSN_INDICATOR_TYPE_BUF],
                    const char **value)
{
    const char *eq = strchr(s, '=');
    size_t n;

    if (eq == NULL || eq == s || eq[1] == '\0')
        return LSN_ERR_INVALID;
    if ((n = (size_t)(eq - s)) >= LSN_INDICATOR_TYPE_BUF)
        return LSN_ERR_INVALID;
    memcpy(type, s, n);
    type[n] = '\0';
    if (!lsn_alert_misp_type_known(type))
        return LSN_ERR_INVALID;
    *value = eq + 1;
    return 0;
}

int
lsn_reported_parse(const char *s, int *to, const char **other)
{
    *other = "";
    if (strncmp(s, "other:", 6) == 0 && s[6] != '\0') {
        *to = LIAISON__REPORTED_TO__REPORTED_OTHER;
        *other = s + 6;
        return 0;
    }
    if (lsn_name_parse(lsn_names_reported, s, to) != 0 ||
        *to == LIAISON__REPORTED_TO__REPORTED_OTHER)
        return LSN_ERR_INVALID;
    return 0;
}
