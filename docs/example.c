/* example.c: an automated system using the liaison C library.
 *
 *   cc example.c $(pkg-config --cflags --libs liaison) -o example
 *   ./example PROFILE send ORG|circle:NAME TITLE [INDICATOR-TYPE VALUE [FILE]]
 *   ./example PROFILE fetch
 *   ./example PROFILE feedback MSGID DISPOSITION [INDICATOR]
 *   ./example PROFILE status MSGID
 *   ./example PROFILE retract MSGID REASON
 *   ./example PROFILE update MSGID TITLE
 *   ./example PROFILE read MSGID
 *   ./example PROFILE hold MSGID CASE
 *   ./example PROFILE release MSGID
 *
 * PROFILE is a folder set up with `liaison init --credential CRED`.
 * Exit status: 0 success, 1 failure, 3 relay unreachable (retry later). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liaison.h>

static int
print_message(void *ctx, const lsn_received *m)
{
    size_t *count = ctx, n_orgs;
    const char *type, *value, *circle;

    printf("%s from %s/%s: %s\n", lsn_received_id(m), lsn_received_sender_org(m),
           lsn_received_sender_device(m), lsn_received_title(m));
    if (lsn_received_supersedes(m) != NULL)
        printf("  supersedes %s\n", lsn_received_supersedes(m));
    if (lsn_received_superseded_by(m) != NULL)
        printf("  superseded by %s\n", lsn_received_superseded_by(m));
    if (lsn_received_held(m) != NULL)
        printf("  held: %s\n", lsn_received_held(m));
    for (size_t i = 0; lsn_received_circle(m, i, &circle, &n_orgs) == 0; i++)
        printf("  to %s (%zu orgs)\n", circle, n_orgs);
    for (size_t i = 0; lsn_received_indicator(m, i, &type, &value) == 0; i++)
        printf("  indicator %s = %s\n", type, value);
    for (size_t i = 0; i < lsn_received_attachment_count(m); i++) {
        const char *name, *media;
        const uint8_t *data;
        size_t len;
        if (lsn_received_attachment(m, i, &name, &media, &data, &len) == 0)
            printf("  attachment %s (%s, %zu bytes)\n", name, media, len);
    }
    if (lsn_received_type(m) == LSN_TYPE_FEEDBACK) {
        enum lsn_disposition d;
        const char *org, *about, *note;
        if (lsn_received_feedback(m, &d, &org, &about, &note) == 0)
            printf("  feedback %s on %s of %s%s%s\n", lsn_disposition_name(d), about, org,
                   note[0] ? ": " : "", note);
        for (size_t i = 0; i < lsn_received_feedback_indicator_count(m); i++)
            printf("  about indicator %u\n", lsn_received_feedback_indicator(m, i));
    }
    (*count)++;
    return 0;
}

/* One line per org and indicator: the latest disposition. */
static int
print_disposition(void *ctx, const char *org, unsigned indicator,
                  enum lsn_disposition d, const char *reported_to, int64_t at)
{
    (void)ctx;
    (void)at;
    if (indicator == 0)
        printf("message: %s by %s", lsn_disposition_name(d), org);
    else
        printf("indicator %u: %s by %s", indicator, lsn_disposition_name(d), org);
    printf("%s%s\n", reported_to[0] ? " to " : "", reported_to);
    return 0;
}

/* Who applied a retraction. */
static int
print_retraction(void *ctx, const char *org, const char *via, int applied, int kept)
{
    (void)ctx;
    printf("retraction %s by %s%s%s%s\n", applied ? "applied" : "not applied yet", org,
           via[0] ? " (reached by a forward from " : "", via, via[0] ? ")" : "");
    if (kept)
        printf("  %s kept the content key under a legal hold\n", org);
    return 0;
}

/* The disposition word ("false-positive") as a value, or 0. */
static enum lsn_disposition
disposition_of(const char *word)
{
    for (int d = LSN_DISPOSITION_SEEN; d < LSN_DISPOSITION_RETRACTION_APPLIED; d++)
        if (strcmp(word, lsn_disposition_name((enum lsn_disposition)d)) == 0)
            return (enum lsn_disposition)d;
    return (enum lsn_disposition)0;
}

/* Attaches the file at path to a under its base name. */
static int
attach_file(lsn_alert *a, const char *path)
{
    FILE *f = fopen(path, "rb");
    const char *base = strrchr(path, '/');
    char *buf = NULL;
    long len;
    int r = LSN_ERR_IO;

    if (f == NULL)
        return LSN_ERR_NOT_FOUND;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)len + 1)) != NULL && fread(buf, 1, (size_t)len, f) == (size_t)len)
        r = lsn_alert_add_attachment(a, base != NULL ? base + 1 : path, NULL, buf, (size_t)len);
    free(buf);
    fclose(f);
    return r;
}

static int
fail(const char *what, int err)
{
    fprintf(stderr, "example: %s: %s (%s)\n", what, lsn_strerror(err),
            lsn_session_detail());
    return err == LSN_ERR_TIMEOUT || err == LSN_ERR_UNAVAILABLE ? 3 : 1;
}

int
main(int argc, char **argv)
{
    lsn_session *s = NULL;
    lsn_alert *a = NULL;
    char id[33];
    size_t n = 0, seen = 0;
    int r, rc = 0;

    if (argc < 3 || (strcmp(argv[2], "send") == 0 && argc != 5 && argc != 7 && argc != 8) ||
        (strcmp(argv[2], "feedback") == 0 && argc != 5 && argc != 6) ||
        (strcmp(argv[2], "status") == 0 && argc != 4) ||
        (strcmp(argv[2], "retract") == 0 && argc != 5) ||
        (strcmp(argv[2], "update") == 0 && argc != 5) ||
        (strcmp(argv[2], "read") == 0 && argc != 4) ||
        (strcmp(argv[2], "hold") == 0 && argc != 5) ||
        (strcmp(argv[2], "release") == 0 && argc != 4)) {
        fprintf(stderr, "usage: example PROFILE send ORG|circle:NAME TITLE [TYPE VALUE [FILE]]\n"
                        "       example PROFILE fetch\n"
                        "       example PROFILE feedback MSGID DISPOSITION [INDICATOR]\n"
                        "       example PROFILE status MSGID\n"
                        "       example PROFILE retract MSGID REASON\n"
                        "       example PROFILE update MSGID TITLE\n"
                        "       example PROFILE read MSGID\n"
                        "       example PROFILE hold MSGID CASE\n"
                        "       example PROFILE release MSGID\n");
        return 2;
    }
    if ((r = lsn_session_open(argv[1], NULL, &s)) != 0)
        return fail("open", r);
    if (strcmp(argv[2], "send") == 0) {
        const char *to[1] = { argv[3] };
        if ((r = lsn_alert_new(&a)) != 0 || (r = lsn_alert_set_title(a, argv[4])) != 0 ||
            (r = lsn_alert_set_type(a, LSN_TYPE_NOTICE)) != 0 ||
            (r = lsn_alert_set_tlp(a, LSN_TLP_GREEN)) != 0 ||
            (argc >= 7 && (r = lsn_alert_add_indicator(a, argv[5], argv[6])) != 0) ||
            (argc == 8 && (r = attach_file(a, argv[7])) != 0) ||
            (r = lsn_session_send(s, a, to, 1, 0, NULL, id)) != 0)
            rc = fail("send", r);
        else
            printf("sent %s\n", id);
        lsn_alert_destroy(&a);
    } else if (strcmp(argv[2], "feedback") == 0) {
        unsigned ind[1] = { argc == 6 ? (unsigned)strtoul(argv[5], NULL, 10) : 0 };
        if ((r = lsn_session_feedback(s, argv[3], disposition_of(argv[4]), ind,
                                      argc == 6 ? 1 : 0, NULL, NULL, 0, id)) != 0)
            rc = fail("feedback", r);
        else
            printf("feedback %s\n", id);
    } else if (strcmp(argv[2], "status") == 0) {
        if ((r = lsn_session_feedback_status(s, argv[3], print_disposition, NULL)) != 0)
            rc = fail("status", r);
        else if ((r = lsn_session_retraction_status(s, argv[3], print_retraction,
                                                    NULL)) != 0 && r != LSN_ERR_NOT_FOUND)
            rc = fail("status", r);
    } else if (strcmp(argv[2], "retract") == 0) {
        if ((r = lsn_session_retract(s, argv[3], argv[4], id)) != 0)
            rc = fail("retract", r);
        else
            printf("retraction %s\n", id);
    } else if (strcmp(argv[2], "update") == 0) {
        /* A new version, to the same orgs as the one it supersedes. */
        if ((r = lsn_alert_new(&a)) != 0 || (r = lsn_alert_set_title(a, argv[4])) != 0 ||
            (r = lsn_alert_set_tlp(a, LSN_TLP_GREEN)) != 0 ||
            (r = lsn_session_update(s, argv[3], a, NULL, 0, 0, NULL, id)) != 0)
            rc = fail("update", r);
        else
            printf("updated %s\n", id);
        lsn_alert_destroy(&a);
    } else if (strcmp(argv[2], "read") == 0) {
        if ((r = lsn_session_received(s, argv[3], print_message, &seen)) != 0)
            rc = fail("read", r);
    } else if (strcmp(argv[2], "hold") == 0) {
        /* A legal hold for the case: the key stays if the sender retracts. */
        if ((r = lsn_session_hold(s, argv[3], argv[4], "evidence")) != 0)
            rc = fail("hold", r);
        else
            printf("held %s for %s\n", argv[3], argv[4]);
    } else if (strcmp(argv[2], "release") == 0) {
        if ((r = lsn_session_release(s, argv[3], NULL)) != 0)
            rc = fail("release", r);
        else
            printf("released %s\n", argv[3]);
    } else if ((r = lsn_session_fetch(s, print_message, &seen, &n)) != 0) {
        rc = fail("fetch", r);
    } else {
        printf("%zu new message(s)\n", seen);
    }
    lsn_session_close(&s);
    return rc;
}
