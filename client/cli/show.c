/* show.c: how a message looks: text for people, one JSON object per
 * message for scripts (field names are stable: docs/json.md). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/alert.h"
#include "client/cli/cli.h"
#include "client/names.h"
#include "keys/json.h"
#include "proto/err.h"

/* Sender-chosen text goes through lsn_json_text (invalid UTF-8 as
 * U+FFFD); our own words and hex through json_string. */
static void
set_text(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, lsn_json_text(v));
}

static void
set_int(json_t *o, const char *k, long long v)
{
    json_object_set_new(o, k, json_integer(v));
}

static json_t *
json_ref(const Liaison__MessageRef *r)
{
    char hex[33];

    if (r == NULL)
        return json_null();
    cli_hex_id(hex, r->msg_id.data);
    return json_pack("{s:o, s:s}", "org", lsn_json_text(r->org), "msg_id", hex);
}

static json_t *
json_grading(const Liaison__Grading *g)
{
    if (g == NULL)
        return json_null();
    return json_pack("{s:s, s:o, s:o}", "system",
                     g->system == LIAISON__GRADING_SYSTEM__GRADING_EUROPOL_4X4
                         ? "europol-4x4" : "admiralty",
                     "source", lsn_json_text(g->source),
                     "information", lsn_json_text(g->information));
}

static json_t *
json_receipt(const Liaison__Receipt *r)
{
    json_t *o;

    if (r == NULL)
        return json_null();
    o = json_pack("{s:s, s:o, s:I}", "kind", lsn_name_of(lsn_names_receipt, r->kind),
                  "device", lsn_json_text(r->device), "at", (json_int_t)r->at);
    if (o != NULL && r->kind == LIAISON__RECEIPT_KIND__RECEIPT_REFUSED) {
        set_int(o, "code", r->reason);
        json_object_set_new(o, "reason", json_string(lsn_strerror(r->reason)));
    }
    return o;
}

/* [{"name", "orgs": [...]}]: the circles it was sent to. */
static json_t *
json_circles(const Liaison__Alert *a)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < a->n_circles; i++) {
        json_t *m = json_array();
        for (size_t k = 0; k < a->circles[i]->n_orgs; k++)
            json_array_append_new(m, lsn_json_text(a->circles[i]->orgs[k]));
        json_array_append_new(arr, json_pack("{s:o, s:o}", "name",
                              lsn_json_text(a->circles[i]->name), "orgs", m));
    }
    return arr;
}

/* A feedback's disposition, indicator positions, recipient of a report
 * and note (docs/json.md "Feedback"). */
static json_t *
json_feedback(const Liaison__Feedback *fb)
{
    json_t *o, *ind = json_array();

    if (fb == NULL) {
        json_decref(ind);
        return json_null();
    }
    for (size_t i = 0; i < fb->n_indicators; i++)
        json_array_append_new(ind, json_integer(fb->indicators[i]));
    o = json_pack("{s:s, s:o, s:o, s:I}",
                  "disposition", lsn_name_of(lsn_names_disposition, fb->disposition),
                  "indicators", ind, "note", lsn_json_text(fb->note),
                  "at", (json_int_t)fb->at);
    if (o != NULL && fb->reported_to != 0)
        json_object_set_new(o, "reported_to",
            fb->reported_to == LIAISON__REPORTED_TO__REPORTED_OTHER
                ? lsn_json_text(fb->reported_other)
                : json_string(lsn_name_of(lsn_names_reported, fb->reported_to)));
    return o;
}

static void
json_alert(json_t *o, const Liaison__Alert *a)
{
    json_t *ind = json_array(), *att = json_array(), *ext = json_array();
    char hex[65];

    json_object_set_new(o, "type", json_string(lsn_name_of(lsn_names_type, a->type)));
    set_text(o, "title", a->title);
    set_text(o, "body", a->body);
    json_object_set_new(o, "tlp", json_string(lsn_name_of(lsn_names_tlp, a->tlp)));
    json_object_set_new(o, "pap", json_string(lsn_name_of(lsn_names_pap, a->pap)));
    json_object_set_new(o, "handling",
                        json_string(lsn_name_of(lsn_names_handling, a->handling)));
    set_text(o, "handling_text", a->handling_text);
    json_object_set_new(o, "grading", json_grading(a->grading));
    json_object_set_new(o, "priority",
                        json_string(lsn_name_of(lsn_names_priority, a->priority)));
    set_text(o, "case", a->case_ref);
    json_object_set_new(o, "in_reply_to", json_ref(a->in_reply_to));
    json_object_set_new(o, "supersedes", json_ref(a->supersedes));
    for (size_t i = 0; i < a->n_indicators; i++)
        json_array_append_new(ind, json_pack("{s:o, s:o}",
            "type", lsn_json_text(a->indicators[i]->type),
            "value", lsn_json_text(a->indicators[i]->value)));
    json_object_set_new(o, "indicators", ind);
    for (size_t i = 0; i < a->n_attachments; i++) {
        const Liaison__Attachment *at = a->attachments[i];
        sodium_bin2hex(hex, sizeof hex, at->sha256.data, at->sha256.len == 32 ? 32 : 0);
        json_array_append_new(att, json_pack("{s:o, s:o, s:s, s:I}",
            "name", lsn_json_text(at->name), "media_type", lsn_json_text(at->media_type),
            "sha256", hex, "size", (json_int_t)at->data.len));
    }
    json_object_set_new(o, "attachments", att);
    for (size_t i = 0; i < a->n_external_refs; i++)
        json_array_append_new(ext, json_pack("{s:o, s:o}",
            "system", lsn_json_text(a->external_refs[i]->system),
            "id", lsn_json_text(a->external_refs[i]->id)));
    json_object_set_new(o, "external_refs", ext);
    json_object_set_new(o, "ack", json_string(lsn_name_of(lsn_names_ack, a->ack)));
    set_int(o, "respond_by", a->respond_by);
    json_object_set_new(o, "receipt", json_receipt(a->receipt));
    json_object_set_new(o, "circles", json_circles(a));
    json_object_set_new(o, "feedback", json_feedback(a->feedback));
}

/* The signed facts of an opened envelope, then its alert, into o. */
static void
json_envelope(json_t *o, const struct lsn_opened *op)
{
    json_t *to = json_array();
    char hex[33];

    cli_hex_id(hex, op->msg_id);
    json_object_set_new(o, "msg_id", json_string(hex));
    set_text(o, "from_org", op->sender_org);
    set_text(o, "from_device", op->sender_device);
    for (size_t i = 0; i < op->n_recipients; i++)
        json_array_append_new(to, lsn_json_text(op->recipients[i].org));
    json_object_set_new(o, "to", to);
    set_int(o, "created", op->created);
    set_int(o, "expires", op->expires);
    json_alert(o, op->alert);
}

static json_t *
json_forwarded(const struct lsn_message *m)
{
    int verified = m->original != NULL && m->original_err == 0;
    json_t *o;

    if (m->o->alert->forwarded == NULL)
        return json_null();
    if ((o = json_pack("{s:b}", "verified", verified)) == NULL)
        return NULL;
    if (!verified)
        json_object_set_new(o, "error", json_string(lsn_strerror(
            m->original_err ? m->original_err : LSN_ERR_NOT_FOUND)));
    if (m->original != NULL) {
        json_t *orig = json_object();
        if (orig != NULL)
            json_envelope(orig, m->original);
        json_object_set_new(o, "original", orig);
    }
    return o;
}

/* One message, one line (docs/json.md). */
static void
print_json(FILE *f, const struct lsn_message *m)
{
    json_t *o = json_object();

    if (o != NULL) {
        json_envelope(o, m->o);
        set_int(o, "received", m->received);
        json_object_set_new(o, "read", json_boolean(m->read));
        json_object_set_new(o, "forwarded", json_forwarded(m));
        json_object_set_new(o, "retracted", !m->retracted ? json_null()
            : json_pack("{s:I, s:o, s:b}", "at", (json_int_t)m->retracted_at,
                        "reason", lsn_json_text(m->retract_reason), "key_kept", m->held));
        if (m->superseded) {
            char by[33];
            cli_hex_id(by, m->superseded_by);
            json_object_set_new(o, "superseded_by", json_string(by));
        } else {
            json_object_set_new(o, "superseded_by", json_null());
        }
        json_object_set_new(o, "hold", !m->held ? json_null()
            : json_pack("{s:o}", "case", lsn_json_text(m->hold_case)));
    }
    lsn_json_print(f, o);
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

void
cli_safe_line(FILE *f, const char *s)
{
    cli_safe_text(f, s, NULL);
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

/* The alert's fields and body; colour: the priority and TLP lines of an
 * urgent or TLP:RED alert stand out (cli_mark). */
static void
text_feedback(FILE *f, const Liaison__Feedback *fb)
{
    fprintf(f, "Feedback: %s", lsn_name_of(lsn_names_disposition, fb->disposition));
    if (fb->reported_to == LIAISON__REPORTED_TO__REPORTED_OTHER) {
        fputs(" to ", f);
        cli_safe_text(f, fb->reported_other, NULL);
    } else if (fb->reported_to != 0) {
        fprintf(f, " to %s", lsn_name_of(lsn_names_reported, fb->reported_to));
    }
    for (size_t i = 0; i < fb->n_indicators; i++)
        fprintf(f, "%s%u", i == 0 ? ", indicator " : ",", fb->indicators[i]);
    fputc('\n', f);
    if (fb->note[0] != '\0') {
        fputs("Note:\n", f);
        cli_safe_text(f, fb->note, "| ");
        if (fb->note[strlen(fb->note) - 1] != '\n')
            fputc('\n', f);
    }
}

static void
text_alert(FILE *f, const Liaison__Alert *a, int colour)
{
    const char *pri = colour ? cli_mark(a->priority, LIAISON__TLP__TLP_AMBER) : "";
    const char *tlp = colour ? cli_mark(LIAISON__PRIORITY__PRIORITY_ROUTINE, a->tlp) : "";
    char t[21];

    fprintf(f, "%sType:     %s    Priority: %s%s\n", pri, lsn_name_of(lsn_names_type, a->type),
            lsn_name_of(lsn_names_priority, a->priority), pri[0] ? CLI_SGR_OFF : "");
    fprintf(f, "%sTLP:%s%s", tlp, lsn_name_of(lsn_names_tlp, a->tlp), tlp[0] ? CLI_SGR_OFF : "");
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
    if (a->supersedes != NULL) {
        char hex[33];
        cli_hex_id(hex, a->supersedes->msg_id.data);
        fprintf(f, "%s %s of %s\n", a->type == LIAISON__ALERT_TYPE__ALERT_TYPE_REVOKE
                ? "Retracts:" : "Supersedes:", hex, a->supersedes->org);
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
    if (a->feedback != NULL)
        text_feedback(f, a->feedback);
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
text_envelope(FILE *f, const struct lsn_opened *o)
{
    char hex[33], t[21];

    cli_hex_id(hex, o->msg_id);
    fprintf(f, "Message:  %s\n", hex);
    fprintf(f, "From:     %s (device %s), signature verified\n",
            o->sender_org, o->sender_device);
    fputs("To:      ", f);
    for (size_t i = 0; i < o->alert->n_circles; i++)
        fprintf(f, " %s (%zu orgs)%s", o->alert->circles[i]->name,
                o->alert->circles[i]->n_orgs,
                i + 1 < o->alert->n_circles ? "," : ":");
    for (size_t i = 0; i < o->n_recipients; i++)
        fprintf(f, " %s", o->recipients[i].org);
    fprintf(f, "\nSent:     %s", cli_time(o->created, t));
    fprintf(f, "   expires %s\n", cli_time(o->expires, t));
}

/* The original inside a forward, indented under it: every line of its
 * header and body behind ORIGINAL_INDENT (through cli_safe_text), so no
 * text of it can pose as a line of the forward or of ours. */
#define ORIGINAL_INDENT "  | "

static void
text_original(FILE *f, const struct lsn_opened *o)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);

    if (mem == NULL) {
        fputs(ORIGINAL_INDENT "(not shown: out of memory)\n", f);
        return;
    }
    /* Rendered as text first (sender text escaped there), then every
     * line prefixed; escaping again changes nothing it already wrote. */
    text_envelope(mem, o);
    text_alert(mem, o->alert, 0);
    if (fclose(mem) != 0 || buf == NULL) {
        fputs(ORIGINAL_INDENT "(not shown: out of memory)\n", f);
    } else {
        cli_safe_text(f, buf, ORIGINAL_INDENT);
        if (len > 0 && buf[len - 1] != '\n')
            fputc('\n', f);
    }
    free(buf);
}

void
cli_print_message(FILE *f, const struct lsn_message *m, int json)
{
    if (json) {
        print_json(f, m);
        return;
    }
    text_envelope(f, m->o);
    if (m->retracted) {
        char t[21];
        fprintf(f, "RETRACTED by %s at %s: ", m->o->sender_org, cli_time(m->retracted_at, t));
        cli_safe_text(f, m->retract_reason, NULL);
        fputs(" (content key kept under a legal hold)\n", f);
    }
    if (m->superseded) {
        char by[33];
        cli_hex_id(by, m->superseded_by);
        fprintf(f, "Superseded by %s (`liaison read %.12s`)\n", by, by);
    }
    if (m->held) {
        fputs("Legal hold: ", f);
        cli_safe_text(f, m->hold_case[0] ? m->hold_case : "(no case)", NULL);
        fputs(" (kept through retraction and prune)\n", f);
    }
    text_alert(f, m->o->alert, f == stdout);
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
            text_original(f, m->original);
        }
    }
}

void
cli_print_summary(FILE *f, const struct lsn_message *m)
{
    const Liaison__Alert *a = m->o->alert;
    const char *mark = f == stdout ? cli_mark(a->priority, a->tlp) : "";
    char hex[33], t[21];

    cli_hex_id(hex, m->o->msg_id);
    fprintf(f, "%s%c %.12s  %s  %-16s %-8s TLP:%-12s ", mark, m->read ? ' ' : '*', hex,
            cli_time(m->o->created, t), m->o->sender_org,
            lsn_name_of(lsn_names_priority, a->priority),
            lsn_name_of(lsn_names_tlp, a->tlp));
    cli_safe_text(f, a->title, NULL);
    for (size_t i = 0; i < a->n_circles; i++)
        fprintf(f, "%s%s (%zu orgs)%s", i ? ", " : "  [to ", a->circles[i]->name,
                a->circles[i]->n_orgs, i + 1 < a->n_circles ? "" : "]");
    if (m->retracted)
        fputs(" [retracted, held]", f);
    else if (m->held)
        fputs(" [held]", f);
    fprintf(f, "%s\n", mark[0] ? CLI_SGR_OFF : "");
}

void
cli_print_summary_header(FILE *f)
{
    fprintf(f, "%c %-12s  %-20s  %-16s %-8s %-16s %s\n", ' ', "ID", "SENT", "FROM",
            "PRIORITY", "TLP", "TITLE");
}

void
cli_print_summary_legend(FILE *f)
{
    fputs("* unread; `liaison read ID` shows one and marks it read\n", f);
}

void
cli_print_retracted(FILE *f, const char *org, const uint8_t id[16], int64_t received,
                    int64_t at, const char *reason, int json)
{
    char hex[33], t[21];

    cli_hex_id(hex, id);
    if (json) {
        lsn_json_print(f, json_pack("{s:s, s:o, s:I, s:o}", "msg_id", hex,
            "from_org", lsn_json_text(org), "received", (json_int_t)received,
            "retracted", json_pack("{s:I, s:o, s:b}", "at", (json_int_t)at,
                                   "reason", lsn_json_text(reason), "key_kept", 0)));
        return;
    }
    fprintf(f, "R %.12s  %s  %-16s retracted at ", hex, cli_time(received, t), org);
    fprintf(f, "%s: ", cli_time(at, t));
    cli_safe_text(f, reason, NULL);
    fputs(" (content key wiped)\n", f);
}
