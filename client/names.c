/* names.c: enumeration words (see names.h).  TLP names follow TLP 2.0,
 * PAP follows FIRST, handling codes follow Europol. */
#include <stdio.h>
#include <string.h>

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

int
lsn_name_parse(const struct lsn_name *t, const char *name, int *value)
{
    for (; t->name != NULL; t++)
        if (strcmp(t->name, name) == 0) {
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
