/* outbox.c: what the client tells of its sent messages without the
 * network (client.h): each record's summary (type, title, TLP, priority),
 * sealed under the local store key when the alert was sealed and kept
 * after the relay took it and the content was wiped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/alert.h"
#include "client/client.h"
#include "client/client_int.h"
#include "proto/err.h"
#include "proto/pb.h"

/* The sealed blob b (len bytes) under ad, opened into a new buffer *out
 * of *n bytes (the caller wipes and frees it). */
static int
unseal(struct lsn_client *c, const ProtobufCBinaryData *b, const uint8_t *ad,
       size_t ad_len, uint8_t **out, size_t *n)
{
    int r;

    *out = NULL;
    *n = 0;
    if (b->len <= LSN_LOCAL_SEAL_OVERHEAD)
        return LSN_ERR_NOT_FOUND;
    if ((*out = malloc(b->len - LSN_LOCAL_SEAL_OVERHEAD)) == NULL)
        return LSN_ERR_NOMEM;
    if ((r = lsn_local_unseal(c->p->store, b->data, b->len, ad, ad_len, *out)) != 0) {
        free(*out);
        *out = NULL;
        return r;
    }
    *n = b->len - LSN_LOCAL_SEAL_OVERHEAD;
    return 0;
}

static void
fill(struct lsn_sent_summary *out, int type, const char *title, int tlp,
     int priority, int sealed_only, int64_t sealed_us)
{
    out->known = 1;
    out->sealed_us = sealed_us;
    out->type = type;
    out->tlp = tlp;
    out->priority = priority;
    out->sealed_only = sealed_only;
    snprintf(out->title, sizeof out->title, "%s", title != NULL ? title : "");
}

int
lsn_client_sent_summary(struct lsn_client *c, const uint8_t msg_id[16],
                        const Liaison__StoredSent *rec, struct lsn_sent_summary *out)
{
    Liaison__SentSummary *sum = NULL;
    Liaison__Alert *a = NULL;
    uint8_t ad[16 + LSN_SUMMARY_AD_LEN], *plain = NULL;
    size_t n = 0;
    int r;

    memset(out, 0, sizeof *out);
    memcpy(ad, msg_id, 16);
    memcpy(ad + 16, LSN_SUMMARY_AD, LSN_SUMMARY_AD_LEN);
    if ((r = unseal(c, &rec->sealed_summary, ad, sizeof ad, &plain, &n)) == 0) {
        /* A title's 256 bytes and four small fields. */
        if ((r = LSN_PB_DECODE(sent_summary, plain, n, 4096, &sum)) == 0 &&
            (r = lsn_utf8_check(sum->title, strlen(sum->title))) == 0)
            fill(out, sum->type, sum->title, sum->tlp, sum->priority, sum->sealed_only,
                 sum->sealed_us);
    } else if (r == LSN_ERR_NOT_FOUND &&
               (r = unseal(c, &rec->sealed_content, msg_id, 16, &plain, &n)) == 0) {
        /* A record without a summary, not yet taken: its content tells. */
        if ((r = lsn_alert_decode(plain, n, &a)) == 0)
            fill(out, a->type, a->title, a->tlp, a->priority, 0, 0);
    }
    if (r == LSN_ERR_NOT_FOUND)
        r = 0;          /* it keeps neither: known stays 0 */
    if (plain != NULL) {
        sodium_memzero(plain, n);
        free(plain);
    }
    lsn_pb_free((ProtobufCMessage *)sum);
    lsn_pb_free((ProtobufCMessage *)a);
    return r;
}
