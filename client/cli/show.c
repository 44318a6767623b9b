/* show.c: how a message looks: text for people, one JSON object per
 * message for scripts (field names are stable: docs/json.md). */
#include <string.h>

#include <sodium.h>

#include "client/alert.h"
#include "client/cli/cli.h"
#include "client/names.h"
#include "keys/json.h"
#include "proto/err.h"

static void
jkey(FILE *f, const char *k, int *first)
{
    lsn_json_key(f, k, first);
}

static void
jstr(FILE *f, const char *k, const char *v, int *first)
{
    jkey(f, k, first);
    lsn_json_str(f, v);
}

static void
jint(FILE *f, const char *k, long long v, int *first)
{
    jkey(f, k, first);
    fprintf(f, "%lld", v);
}

static void
jref(FILE *f, const char *k, const Liaison__MessageRef *r, int *first)
{
    char hex[33];

    jkey(f, k, first);
    if (r == NULL) {
        fputs("null", f);
        return;
    }
    cli_hex_id(hex, r->msg_id.data);
    fputs("{\"org\":", f);
    lsn_json_str(f, r->org);
    fprintf(f, ",\"msg_id\":\"%s\"}", hex);
}

static void
json_alert(FILE *f, const Liaison__Alert *a, int *first)
{
    char hex[65];

    jstr(f, "type", lsn_name_of(lsn_names_type, a->type), first);
    jstr(f, "title", a->title, first);
    jstr(f, "body", a->body, first);
    jstr(f, "tlp", lsn_name_of(lsn_names_tlp, a->tlp), first);
    jstr(f, "pap", lsn_name_of(lsn_names_pap, a->pap), first);
    jstr(f, "handling", lsn_name_of(lsn_names_handling, a->handling), first);
    jstr(f, "handling_text", a->handling_text, first);
    jkey(f, "grading", first);
    if (a->grading == NULL) {
        fputs("null", f);
    } else {
        fprintf(f, "{\"system\":\"%s\",\"source\":",
                a->grading->system == LIAISON__GRADING_SYSTEM__GRADING_EUROPOL_4X4
                    ? "europol-4x4" : "admiralty");
        lsn_json_str(f, a->grading->source);
        fputs(",\"information\":", f);
        lsn_json_str(f, a->grading->information);
        fputc('}', f);
    }
    jstr(f, "priority", lsn_name_of(lsn_names_priority, a->priority), first);
    jstr(f, "case", a->case_ref, first);
    jref(f, "in_reply_to", a->in_reply_to, first);
    jref(f, "supersedes", a->supersedes, first);
    jkey(f, "indicators", first);
    fputc('[', f);
    for (size_t i = 0; i < a->n_indicators; i++) {
        fprintf(f, "%s{\"type\":", i ? "," : "");
        lsn_json_str(f, a->indicators[i]->type);
        fputs(",\"value\":", f);
        lsn_json_str(f, a->indicators[i]->value);
        fputc('}', f);
    }
    fputc(']', f);
    jkey(f, "attachments", first);
    fputc('[', f);
    for (size_t i = 0; i < a->n_attachments; i++) {
        const Liaison__Attachment *at = a->attachments[i];
        sodium_bin2hex(hex, sizeof hex, at->sha256.data, at->sha256.len == 32 ? 32 : 0);
        fprintf(f, "%s{\"name\":", i ? "," : "");
        lsn_json_str(f, at->name);
        fputs(",\"media_type\":", f);
        lsn_json_str(f, at->media_type);
        fprintf(f, ",\"sha256\":\"%s\",\"size\":%zu}", hex, at->data.len);
    }
    fputc(']', f);
    jkey(f, "external_refs", first);
    fputc('[', f);
    for (size_t i = 0; i < a->n_external_refs; i++) {
        fprintf(f, "%s{\"system\":", i ? "," : "");
        lsn_json_str(f, a->external_refs[i]->system);
        fputs(",\"id\":", f);
        lsn_json_str(f, a->external_refs[i]->id);
        fputc('}', f);
    }
    fputc(']', f);
    jstr(f, "ack", lsn_name_of(lsn_names_ack, a->ack), first);
    jint(f, "respond_by", a->respond_by, first);
    jkey(f, "receipt", first);
    if (a->receipt == NULL) {
        fputs("null", f);
    } else {
        fprintf(f, "{\"kind\":\"%s\",\"device\":",
                lsn_name_of(lsn_names_receipt, a->receipt->kind));
        lsn_json_str(f, a->receipt->device);
        fprintf(f, ",\"at\":%lld", (long long)a->receipt->at);
        if (a->receipt->kind == LIAISON__RECEIPT_KIND__RECEIPT_REFUSED) {
            fprintf(f, ",\"code\":%d,\"reason\":", (int)a->receipt->reason);
            lsn_json_str(f, lsn_strerror(a->receipt->reason));
        }
        fputc('}', f);
    }
}

/* The signed facts of an opened envelope. */
static void
json_envelope(FILE *f, const struct lsn_opened *o, int *first)
{
    char hex[33];

    cli_hex_id(hex, o->msg_id);
    jstr(f, "msg_id", hex, first);
    jstr(f, "from_org", o->sender_org, first);
    jstr(f, "from_device", o->sender_device, first);
    jkey(f, "to", first);
    fputc('[', f);
    for (size_t i = 0; i < o->n_recipients; i++) {
        fputs(i ? "," : "", f);
        lsn_json_str(f, o->recipients[i].org);
    }
    fputc(']', f);
    jint(f, "created", o->created, first);
    jint(f, "expires", o->expires, first);
    json_alert(f, o->alert, first);
}

static void
print_json(FILE *f, const struct lsn_message *m)
{
    int first = 1;

    fputc('{', f);
    json_envelope(f, m->o, &first);
    jint(f, "received", m->received, &first);
    jkey(f, "read", &first);
    fputs(m->read ? "true" : "false", f);
    jkey(f, "forwarded", &first);
    if (m->o->alert->forwarded == NULL) {
        fputs("null", f);
    } else {
        int inner = 1;
        fputc('{', f);
        int verified = m->original != NULL && m->original_err == 0;
        jkey(f, "verified", &inner);
        fputs(verified ? "true" : "false", f);
        if (!verified)
            jstr(f, "error", lsn_strerror(m->original_err ? m->original_err
                                                          : LSN_ERR_NOT_FOUND), &inner);
        if (m->original != NULL) {
            int o = 1;
            jkey(f, "original", &inner);
            fputc('{', f);
            json_envelope(f, m->original, &o);
            fputc('}', f);
        }
        fputc('}', f);
    }
    fputs("}\n", f);
}

void
cli_safe_text(FILE *f, const char *s, const char *indent)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t hidden;

    if (indent != NULL)
        fputs(indent, f);
    for (; *p != '\0'; p++) {
        if (*p == '\n' && indent != NULL) {
            fputc('\n', f);
            if (p[1] != '\0')
                fputs(indent, f);
        } else if ((hidden = lsn_text_hidden_len(p)) > 0) {
            /* Shown as its code point: a sender cannot hide text from the
             * reader or reorder it (C1 controls, bidi overrides, ...). */
            unsigned cp = hidden == 2 ? (p[0] & 0x1fu) << 6 | (p[1] & 0x3fu)
                          : (p[0] & 0x0fu) << 12 | (p[1] & 0x3fu) << 6 | (p[2] & 0x3fu);
            fprintf(f, "\\u{%04x}", cp);
            p += hidden - 1;
        } else if (*p == '\t' || (*p >= 0x20 && *p != 0x7f)) {
            fputc(*p, f);
        } else {
            fprintf(f, "\\x%02x", *p);
        }
    }
}

const char *
cli_safe(const char *s, char *buf, size_t n)
{
    FILE *f;

    buf[0] = '\0';
    if (n < 2 || (f = fmemopen(buf, n, "w")) == NULL)
        return buf;
    setvbuf(f, NULL, _IONBF, 0);
    cli_safe_text(f, s != NULL ? s : "", NULL);
    fclose(f);
    buf[n - 1] = '\0';
    return buf;
}

static void
text_alert(FILE *f, const Liaison__Alert *a)
{
    char t[21];

    fprintf(f, "Type:     %s    Priority: %s\n", lsn_name_of(lsn_names_type, a->type),
            lsn_name_of(lsn_names_priority, a->priority));
    fprintf(f, "TLP:%s", lsn_name_of(lsn_names_tlp, a->tlp));
    if (a->pap != LIAISON__PAP__PAP_UNSET)
        fprintf(f, "  PAP:%s", lsn_name_of(lsn_names_pap, a->pap));
    if (a->handling != LIAISON__HANDLING_CODE__HANDLING_UNSET) {
        fprintf(f, "  %s%s", lsn_name_of(lsn_names_handling, a->handling),
                a->handling_text[0] ? ": " : "");
        cli_safe_text(f, a->handling_text, NULL);
    }
    if (a->grading != NULL)
        fprintf(f, "  graded %s%s", a->grading->source, a->grading->information);
    fputc('\n', f);
    if (a->case_ref[0] != '\0') {
        fputs("Case:     ", f);
        cli_safe_text(f, a->case_ref, NULL);
        fputc('\n', f);
    }
    if (a->in_reply_to != NULL) {
        char hex[33];
        cli_hex_id(hex, a->in_reply_to->msg_id.data);
        fprintf(f, "Reply to: %s from %s\n", hex, a->in_reply_to->org);
    }
    if (a->ack != LIAISON__ACK_REQUEST__ACK_NONE)
        fprintf(f, "Asks for: %s receipt\n", lsn_name_of(lsn_names_ack, a->ack));
    if (a->respond_by != 0)
        fprintf(f, "Respond by: %s\n", cli_time(a->respond_by, t));
    if (a->receipt != NULL)
        fprintf(f, "Receipt:  %s by device %s at %s%s%s\n",
                lsn_name_of(lsn_names_receipt, a->receipt->kind), a->receipt->device,
                cli_time(a->receipt->at, t),
                a->receipt->kind == LIAISON__RECEIPT_KIND__RECEIPT_REFUSED ? ": " : "",
                a->receipt->kind == LIAISON__RECEIPT_KIND__RECEIPT_REFUSED
                    ? lsn_strerror(a->receipt->reason) : "");
    fputs("Title:    ", f);
    cli_safe_text(f, a->title, NULL);
    fputc('\n', f);
    for (size_t i = 0; i < a->n_indicators; i++) {
        fprintf(f, "Indicator: %s = ", a->indicators[i]->type);
        cli_safe_text(f, a->indicators[i]->value, NULL);
        fputc('\n', f);
    }
    for (size_t i = 0; i < a->n_attachments; i++) {
        fputs("Attachment: ", f);
        cli_safe_text(f, a->attachments[i]->name, NULL);
        fprintf(f, " (%s, %zu bytes)\n", a->attachments[i]->media_type,
                a->attachments[i]->data.len);
    }
    for (size_t i = 0; i < a->n_external_refs; i++) {
        fputs("Reference: ", f);
        cli_safe_text(f, a->external_refs[i]->system, NULL);
        fputc(' ', f);
        cli_safe_text(f, a->external_refs[i]->id, NULL);
        fputc('\n', f);
    }
    if (a->body[0] != '\0') {
        fputs("\n", f);
        cli_safe_text(f, a->body, "| ");
        if (a->body[strlen(a->body) - 1] != '\n')
            fputc('\n', f);
    }
}

static void
text_envelope(FILE *f, const struct lsn_opened *o, const char *indent)
{
    char hex[33], t[21];

    cli_hex_id(hex, o->msg_id);
    fprintf(f, "%sMessage:  %s\n", indent, hex);
    fprintf(f, "%sFrom:     %s (device %s), signature verified\n", indent,
            o->sender_org, o->sender_device);
    fprintf(f, "%sTo:      ", indent);
    for (size_t i = 0; i < o->n_recipients; i++)
        fprintf(f, " %s", o->recipients[i].org);
    fprintf(f, "\n%sSent:     %s", indent, cli_time(o->created, t));
    fprintf(f, "   expires %s\n", cli_time(o->expires, t));
}

void
cli_print_message(FILE *f, const struct lsn_message *m, int json)
{
    if (json) {
        print_json(f, m);
        return;
    }
    text_envelope(f, m->o, "");
    text_alert(f, m->o->alert);
    if (m->o->alert->forwarded != NULL) {
        if (m->original_err != 0 || m->original == NULL) {
            fprintf(f, "\n--- forwarded original: NOT VERIFIED (%s) ---\n",
                    lsn_strerror(m->original_err));
        } else {
            fprintf(f, "\n--- forwarded by %s; originally from %s to",
                    m->o->sender_org, m->original->sender_org);
            for (size_t i = 0; i < m->original->n_recipients; i++)
                fprintf(f, " %s", m->original->recipients[i].org);
            fprintf(f, " ---\n");
            text_envelope(f, m->original, "  ");
            text_alert(f, m->original->alert);
        }
    }
}

void
cli_print_summary(FILE *f, const struct lsn_message *m)
{
    const Liaison__Alert *a = m->o->alert;
    char hex[33], t[21];

    cli_hex_id(hex, m->o->msg_id);
    fprintf(f, "%c %.12s  %s  %-16s %-8s TLP:%-12s ", m->read ? ' ' : '*', hex,
            cli_time(m->o->created, t), m->o->sender_org,
            lsn_name_of(lsn_names_priority, a->priority),
            lsn_name_of(lsn_names_tlp, a->tlp));
    cli_safe_text(f, a->title, NULL);
    fputc('\n', f);
}
