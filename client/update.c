/* update.c: a new version of a message this device sent, superseding it
 * (docs/protocol.md "Update").  `liaison update` and lsn_session_update
 * both prepare the new version here, then seal and submit it as a send. */
#include <string.h>

#include "client/client.h"
#include "keys/util.h"
#include "proto/err.h"

int
lsn_client_update_prepare(struct lsn_client *c, const char *prefix, Liaison__Alert *a,
                          const char **to, size_t *n, struct lsn_update *u)
{
    int r;

    memset(u, 0, sizeof *u);
    liaison__message_ref__init(&u->ref);
    /* A retraction withdraws (lsn_client_retract); receipts and feedback
     * answer another org's message: none is a new version. */
    if (a->type == LIAISON__ALERT_TYPE__ALERT_TYPE_REVOKE ||
        a->type == LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT ||
        a->type == LIAISON__ALERT_TYPE__ALERT_TYPE_FEEDBACK) {
        lsn_set_detail("an update is of type alert, notice, request, response or update");
        return LSN_ERR_USAGE;
    }
    if ((r = lsn_local_find_sent(c->p->store, prefix, u->id)) != 0 ||
        (r = lsn_local_get_sent(c->p->store, u->id, &u->sent)) != 0) {
        if (r == LSN_ERR_NOT_FOUND)
            lsn_set_detail("no sent message %.32s on this device; only the device that "
                           "sent a message can update it", prefix);
        return r;
    }
    if (*n == 0 && u->sent->n_recipients > LSN_MAX_RECIPIENTS) {
        lsn_update_free(u);
        return LSN_ERR_INVALID;
    }
    u->ref.org = c->p->cred->org;
    u->ref.msg_id = (ProtobufCBinaryData){ 16, u->id };
    a->supersedes = &u->ref;
    if (a->type == LIAISON__ALERT_TYPE__ALERT_TYPE_ALERT)
        a->type = LIAISON__ALERT_TYPE__ALERT_TYPE_UPDATE;
    if (*n == 0) {
        for (size_t i = 0; i < u->sent->n_recipients; i++)
            to[i] = u->sent->recipients[i];
        *n = u->sent->n_recipients;
    }
    return 0;
}

void
lsn_update_free(struct lsn_update *u)
{
    lsn_pb_free((ProtobufCMessage *)u->sent);
    u->sent = NULL;
}
