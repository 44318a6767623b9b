/* test_sendside.c: the sending side's fairness and the CLI's honesty.  A
 * relay store gives each sending org a bounded share of what may wait for
 * one recipient org (one member filling an org's quota leaves room for
 * every other), released exactly where the recipient's own quota is (ack,
 * expiry, a dropped device).  A hostile home relay (a CURVE server holding
 * the relay key the roster names, answering what it likes) cannot put a
 * control sequence on the terminal of a `liaison` user: every string it
 * supplies is shown escaped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <zmq.h>

#include "client/client.h"
#include "client/local.h"
#include "client/profile.h"
#include "keys/credential.h"
#include "keys/util.h"
#include "proto/err.h"
#include "proto/pb.h"
#include "proto/wire.h"
#include "relay/store.h"
#include "tests/lib/keyfix.h"
#include "tests/lib/relayfix.h"

static struct lsn_envelope_info
info_make(const char *org, uint8_t tag, int64_t expires)
{
    struct lsn_envelope_info i;

    memset(&i, 0, sizeof i);
    snprintf(i.sender_org, sizeof i.sender_org, "%s", org);
    snprintf(i.sender_device, sizeof i.sender_device, "d1");
    memset(i.msg_id, tag, sizeof i.msg_id);
    i.created = 1000;
    i.expires = expires;
    return i;
}

static const char *const devs_b[] = { "d1" };

static int
submit(struct lsn_store *s, const char *from, uint8_t tag, int64_t expires)
{
    struct lsn_fanout fan = { "b", 1, devs_b, NULL };
    struct lsn_envelope_info i = info_make(from, tag, expires);
    struct lsn_submit_result res;
    uint8_t env[64] = { 9 };
    int r;

    memset(&res, 0, sizeof res);
    if ((r = lsn_store_batch_begin(s)) != 0)
        return r;
    r = lsn_store_submit(s, &i, env, sizeof env, &fan, 1, 1000, &res);
    if (r != 0) {
        lsn_store_batch_abort(s);
        return r;
    }
    return lsn_store_batch_commit(s);
}

/* Org b may have 8 messages waiting; one sender's share is 25%: x is
 * refused at 2 (the store says whose share it is), c and y still get
 * through, and an ack or an expiry gives x its room back. */
static void
test_sendside_sender_share_of_recipient_quota(void **state)
{
    struct lsn_store_limits lim = { 1000, 1u << 20, 8, 1u << 20, 8 };
    struct lsn_store *s = NULL;
    uint8_t id[LSN_MSG_ID_LEN];
    size_t expired = 0;
    int found = 0;

    (void)state;
    assert_int_equal(lsn_store_open(kf_tmpdir("share"), 64u << 20, &s), 0);
    lsn_store_set_limits(s, &lim);
    lsn_store_set_share(s, 25);
    assert_int_equal(submit(s, "x", 1, 5000), 0);
    assert_int_equal(submit(s, "x", 2, 9000), 0);
    for (uint8_t t = 3; t < 8; t++)
        assert_int_equal(submit(s, "x", t, 9000), LSN_ERR_QUOTA);
    assert_non_null(strstr(lsn_store_why(s), "share"));
    /* x holds its share; every other sender still has room. */
    assert_int_equal(submit(s, "c", 1, 9000), 0);
    assert_int_equal(submit(s, "y", 1, 9000), 0);
    assert_int_equal(submit(s, "y", 2, 9000), 0);
    assert_int_equal(submit(s, "y", 3, 9000), LSN_ERR_QUOTA);
    /* b's device takes x's second message: x has room for one more. */
    memset(id, 2, sizeof id);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_ack(s, "b/d1", "x", id, &found), 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    assert_int_equal(found, 1);
    assert_int_equal(submit(s, "x", 8, 9000), 0);
    assert_int_equal(submit(s, "x", 9, 9000), LSN_ERR_QUOTA);
    /* x's first message expires unread: its share is released too. */
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_expire(s, 6000, 100, "r1", NULL, NULL, &expired), 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    assert_int_equal(expired, 1);
    assert_int_equal(submit(s, "x", 10, 9000), 0);
    /* A dropped device releases what waited for it. */
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_drop_device(s, "b/d1"), 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    assert_int_equal(submit(s, "x", 11, 9000), 0);
    assert_int_equal(submit(s, "x", 12, 9000), 0);
    lsn_store_close(&s);
}

/* A share of 100 (or none set) leaves only the recipient's own quota. */
static void
test_sendside_share_off_is_quota_only(void **state)
{
    struct lsn_store_limits lim = { 1000, 1u << 20, 4, 1u << 20, 4 };
    struct lsn_store *s = NULL;

    (void)state;
    assert_int_equal(lsn_store_open(kf_tmpdir("share100"), 64u << 20, &s), 0);
    lsn_store_set_limits(s, &lim);
    lsn_store_set_share(s, 100);
    for (uint8_t t = 1; t <= 4; t++)
        assert_int_equal(submit(s, "x", t, 9000), 0);
    assert_int_equal(submit(s, "c", 1, 9000), LSN_ERR_QUOTA);
    lsn_store_close(&s);
}

/* A send refused for quota waits: its record stays (not refused, not
 * submitted), with the relay's sentence, and its next try moves out
 * 30 s, 60 s, 120 s ... at most 15 minutes after each refusal; once the
 * relay takes it, it no longer waits. */
static void
test_sendside_waiting_send_backs_off(void **state)
{
    Liaison__StoredSent rec = LIAISON__STORED_SENT__INIT, *got = NULL;
    const char *to[1] = { "b" };
    struct lsn_local *s = NULL;
    uint8_t key[32], id[16], env[8] = { 1 };
    int64_t want = 30;

    (void)state;
    memset(key, 7, sizeof key);
    memset(id, 3, sizeof id);
    assert_int_equal(lsn_local_open(kf_tmpdir("waiting"), key, &s), 0);
    rec.envelope = (ProtobufCBinaryData){ sizeof env, env };
    rec.recipients = (char **)to;
    rec.n_recipients = 1;
    rec.created = 1000;
    rec.expires = 1000000;
    assert_int_equal(lsn_local_put_sent(s, id, &rec), 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(lsn_local_mark_waiting(s, id, LSN_ERR_QUOTA,
                                                "recipient org `b` is full", 1000, 30), 0);
        assert_int_equal(lsn_local_get_sent(s, id, &got), 0);
        assert_int_equal(got->waiting, LSN_ERR_QUOTA);
        assert_int_equal(got->refused, 0);
        assert_false(got->submitted);
        assert_int_equal(got->tries, (uint32_t)i + 1);
        assert_int_equal(got->retry_at, 1000 + want);
        assert_string_equal(got->waiting_why, "recipient org `b` is full");
        lsn_pb_free(&got->base);
        want = want * 2 > LSN_LOCAL_RETRY_MAX ? LSN_LOCAL_RETRY_MAX : want * 2;
    }
    assert_int_equal(lsn_local_mark_submitted(s, id), 0);
    assert_int_equal(lsn_local_get_sent(s, id, &got), 0);
    assert_true(got->submitted);
    assert_int_equal(got->waiting, 0);
    lsn_pb_free(&got->base);
    lsn_local_close(&s);
}

/* ------------------------------------------------------------ hostile relay */

/* What the hostile relay says: a screen clear and a forged line in every
 * string the protocol lets it choose. */
#define EVIL "\x1b[2J\x1b[H\nliaison: all messages verified \xc2\x9b" "31m"

struct evil {
    void *ctx, *sock;
    int fetch_error;        /* answer fetch with a WireError */
    int status;             /* answer status with its own figures */
};

static void
evil_up(struct evil *e, const struct rf *f)
{
    int one = 1;

    assert_non_null(e->ctx = zmq_ctx_new());
    assert_non_null(e->sock = zmq_socket(e->ctx, ZMQ_ROUTER));
    assert_int_equal(zmq_setsockopt(e->sock, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
    assert_int_equal(zmq_setsockopt(e->sock, ZMQ_CURVE_SECRETKEY, f->relay_sk, 32), 0);
    assert_int_equal(zmq_bind(e->sock, f->endpoint), 0);
}

static void
evil_down(struct evil *e)
{
    int zero = 0;

    zmq_setsockopt(e->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(e->sock);
    zmq_ctx_term(e->ctx);
}

struct evil_turn {
    struct evil *e;
    zmq_msg_t *rid;
};

/* Answers one request as the hostile relay would. */
static int
evil_answer(void *ctx, const uint8_t *buf, size_t len)
{
    struct evil_turn *x = ctx;
    Liaison__Request *req = NULL;
    Liaison__Response resp = LIAISON__RESPONSE__INIT;
    Liaison__WireError err = LIAISON__WIRE_ERROR__INIT;
    Liaison__FetchReply fr = LIAISON__FETCH_REPLY__INIT;
    Liaison__QueueItem it[2], *itp[2];
    Liaison__RelayNotice no = LIAISON__RELAY_NOTICE__INIT;
    Liaison__QueueGap gap = LIAISON__QUEUE_GAP__INIT;
    Liaison__MessageRef ref = LIAISON__MESSAGE_REF__INIT, *refp = &ref;
    Liaison__AckReply ack = LIAISON__ACK_REPLY__INIT;
    Liaison__StatusReply st = LIAISON__STATUS_REPLY__INIT;
    Liaison__RecipientStatus rs = LIAISON__RECIPIENT_STATUS__INIT, *rsp = &rs;
    Liaison__DeviceStatus ds[2], *dsp[2];
    uint8_t id1[16], id2[16], junk[40], *out = NULL;
    size_t out_len = 0;
    zmq_msg_t rid;

    memset(id1, 1, sizeof id1);
    memset(id2, 2, sizeof id2);
    memset(junk, 0x5a, sizeof junk);
    assert_int_equal(LSN_PB_DECODE(request, buf, len, LSN_WIRE_FRAME_MAX, &req), 0);
    resp.id = req->id;
    if (req->body_case == LIAISON__REQUEST__BODY_FETCH && !x->e->fetch_error) {
        for (int i = 0; i < 2; i++) {
            liaison__queue_item__init(&it[i]);
            itp[i] = &it[i];
        }
        /* An "envelope" from an org named to clear the screen ... */
        it[0].seq = 1;
        it[0].org = EVIL;
        it[0].msg_id = (ProtobufCBinaryData){ 16, id1 };
        it[0].envelope = (ProtobufCBinaryData){ sizeof junk, junk };
        /* ... a notice about such an org ... */
        no.kind = EVIL;
        no.org = EVIL;
        no.msg_id = (ProtobufCBinaryData){ 16, id2 };
        no.relay = EVIL;
        it[1].seq = 2;
        it[1].org = "";
        it[1].msg_id = (ProtobufCBinaryData){ 16, id2 };
        it[1].notice = &no;
        /* ... and a gap naming it. */
        ref.org = EVIL;
        ref.msg_id = (ProtobufCBinaryData){ 16, id1 };
        gap.trimmed = 1;
        gap.refs = &refp;
        gap.n_refs = 1;
        fr.items = itp;
        fr.n_items = 2;
        fr.queued = 2;
        fr.gap = &gap;
        resp.body_case = LIAISON__RESPONSE__BODY_FETCH;
        resp.fetch = &fr;
    } else if (req->body_case == LIAISON__REQUEST__BODY_STATUS && x->e->status) {
        /* Per-device figures for an org named to clear the screen: one
         * device still queued, one refused. */
        for (int i = 0; i < 2; i++) {
            liaison__device_status__init(&ds[i]);
            dsp[i] = &ds[i];
            ds[i].device = i == 0 ? "d1" : "d2";
        }
        ds[0].state = LIAISON__DEVICE_STATE__DEVICE_QUEUED;
        ds[1].state = LIAISON__DEVICE_STATE__DEVICE_REFUSED;
        ds[1].reason = LSN_ERR_DECRYPT;
        rs.org = EVIL;
        rs.relay = "";
        rs.devices = 2;
        rs.refused = 1;
        rs.device_states = dsp;
        rs.n_device_states = 2;
        st.known = 1;
        st.recipients = &rsp;
        st.n_recipients = 1;
        resp.body_case = LIAISON__RESPONSE__BODY_STATUS;
        resp.status = &st;
    } else if (req->body_case == LIAISON__REQUEST__BODY_ACK) {
        resp.body_case = LIAISON__RESPONSE__BODY_ACK;
        resp.ack = &ack;
    } else {
        err.code = req->body_case == LIAISON__REQUEST__BODY_FETCH ? LSN_ERR_DENIED
                                                                    : LSN_ERR_NOT_FOUND;
        err.message = EVIL;
        resp.error = &err;
    }
    assert_int_equal(lsn_pb_encode(&resp.base, &out, &out_len), 0);
    zmq_msg_init(&rid);
    zmq_msg_copy(&rid, x->rid);
    assert_true(zmq_msg_send(&rid, x->e->sock, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(x->e->sock, out, out_len, 0) >= 0);
    free(out);
    lsn_pb_free(&req->base);
    return 0;
}

/* Runs `liaison --home home ARGS...` with stdout and stderr to out, playing
 * the relay until it exits; its exit status. */
static int
run_against(struct evil *e, const char *home, const char *out, const char *const *args)
{
    const char *bin = getenv("LSN_BIN");
    char path[PATH_MAX];
    const char *argv[16];
    size_t n = 0;
    time_t until = time(NULL) + 60;
    int st = 0;
    pid_t pid;

    snprintf(path, sizeof path, "%s/liaison", bin != NULL ? bin : "build/bin");
    argv[n++] = "liaison";
    argv[n++] = "--home";
    argv[n++] = home;
    while (*args != NULL && n < 15)
        argv[n++] = *args++;
    argv[n] = NULL;
    assert_true((pid = fork()) >= 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
            _exit(99);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(path, (char *const *)argv);
        _exit(98);
    }
    while (waitpid(pid, &st, WNOHANG) == 0) {
        zmq_pollitem_t pi = { e->sock, 0, ZMQ_POLLIN, 0 };
        if (time(NULL) > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            fail_msg("liaison did not finish against the hostile relay");
        }
        if (zmq_poll(&pi, 1, 100) == 1) {
            zmq_msg_t rid, body;
            struct evil_turn x = { e, &rid };
            int r;
            zmq_msg_init(&rid);
            zmq_msg_init(&body);
            assert_true(zmq_msg_recv(&rid, e->sock, 0) >= 0);
            assert_true(zmq_msg_recv(&body, e->sock, 0) >= 0);
            r = lsn_wire_batch_each(LSN_WIRE_REQUESTS, zmq_msg_data(&body),
                                    zmq_msg_size(&body), evil_answer, &x);
            if (r == LSN_ERR_NOT_FOUND)
                r = evil_answer(&x, zmq_msg_data(&body), zmq_msg_size(&body));
            assert_int_equal(r, 0);
            zmq_msg_close(&rid);
            zmq_msg_close(&body);
        }
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* No ESC, no C1 CSI in what the terminal got; the forged line did not
 * start a line of its own. */
static void
assert_no_escape(const char *out, const char *what)
{
    uint8_t *text = NULL;
    size_t n = 0;

    assert_int_equal(lsn_file_read(out, 1u << 20, &text, &n), 0);
    if (memchr(text, 0x1b, n) != NULL || memmem(text, n, "\xc2\x9b", 2) != NULL ||
        memmem(text, n, "\nliaison: all messages verified", 32) != NULL)
        fail_msg("%s: a relay's control sequence reached the terminal:\n%s", what,
                 (char *)text);
    /* It was shown, escaped: the user sees what the relay tried. */
    if (strstr((char *)text, "\\x1b[2J") == NULL)
        fail_msg("%s: the relay's text is not shown escaped:\n%s", what, (char *)text);
    free(text);
}

/* A home relay that answers a fetch with queue items, a notice and a gap
 * naming an org made of escape sequences, and then with an error sentence
 * made of them: the CLI's output holds no raw ESC or CSI, only their
 * escaped form. */
static void
test_sendside_hostile_relay_cannot_write_to_terminal(void **state)
{
    struct rf f;
    struct evil e = { 0 };
    char cred[PATH_MAX + 32], home[PATH_MAX + 32], out[PATH_MAX + 32];
    const char *fetch[] = { "fetch", NULL };
    int rc;

    (void)state;
    assert_int_equal(rf_setup(&f, "evilrelay", 2, 1, NULL), 0);
    snprintf(cred, sizeof cred, "%s/o1-d1.cred", f.dir);
    snprintf(home, sizeof home, "%s/home", f.dir);
    snprintf(out, sizeof out, "%s/out.txt", f.dir);
    assert_int_equal(lsn_credential_set_roster(f.orgs[0].dev[0], f.roster->bytes,
                                               f.roster->len), 0);
    assert_int_equal(lsn_credential_save(f.orgs[0].dev[0], cred, NULL, 0), 0);
    assert_int_equal(lsn_profile_init(home, cred, NULL, lsn_now()), 0);
    evil_up(&e, &f);
    rc = run_against(&e, home, out, fetch);
    assert_no_escape(out, "fetch of hostile items");
    assert_int_not_equal(rc, 0);    /* an envelope was refused */
    e.fetch_error = 1;
    rc = run_against(&e, home, out, fetch);
    assert_no_escape(out, "a hostile error sentence");
    assert_int_not_equal(rc, 0);
    evil_down(&e);
    rf_teardown(&f);
}

/* The same home relay answering `liaison status` of a stored send with
 * per-device figures for an org named with escape sequences: every line
 * that names the org, the queued device's among them, shows it escaped. */
static void
test_sendside_hostile_status_cannot_write_to_terminal(void **state)
{
    Liaison__StoredSent rec = LIAISON__STORED_SENT__INIT;
    struct lsn_client *c = NULL;
    struct rf f;
    struct evil e = { 0 };
    char cred[PATH_MAX + 32], home[PATH_MAX + 32], out[PATH_MAX + 32], hex[33];
    char *rcpts[1] = { (char *)"o2" };
    const char *status[] = { "status", hex, NULL };
    uint8_t id[16], env[8] = { 0 };

    (void)state;
    assert_int_equal(rf_setup(&f, "evilstatus", 2, 1, NULL), 0);
    snprintf(cred, sizeof cred, "%s/o1-d1.cred", f.dir);
    snprintf(home, sizeof home, "%s/home", f.dir);
    snprintf(out, sizeof out, "%s/out.txt", f.dir);
    assert_int_equal(lsn_credential_set_roster(f.orgs[0].dev[0], f.roster->bytes,
                                               f.roster->len), 0);
    assert_int_equal(lsn_credential_save(f.orgs[0].dev[0], cred, NULL, 0), 0);
    assert_int_equal(lsn_profile_init(home, cred, NULL, lsn_now()), 0);
    /* A send of this device that the relay took. */
    randombytes_buf(id, sizeof id);
    assert_int_equal(lsn_client_open(home, NULL, &c), 0);
    rec.envelope = (ProtobufCBinaryData){ sizeof env, env };
    rec.recipients = rcpts;
    rec.n_recipients = 1;
    rec.created = lsn_now();
    rec.expires = rec.created + 3600;
    rec.submitted = 1;
    assert_int_equal(lsn_local_put_sent(c->p->store, id, &rec), 0);
    lsn_client_close(&c);
    lsn_hex(hex, id, 16);

    e.status = 1;
    evil_up(&e, &f);
    assert_int_equal(run_against(&e, home, out, status), 0);
    assert_no_escape(out, "status of a hostile relay");
    evil_down(&e);
    rf_teardown(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sendside_sender_share_of_recipient_quota),
        cmocka_unit_test(test_sendside_share_off_is_quota_only),
        cmocka_unit_test(test_sendside_waiting_send_backs_off),
        cmocka_unit_test(test_sendside_hostile_relay_cannot_write_to_terminal),
        cmocka_unit_test(test_sendside_hostile_status_cannot_write_to_terminal),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
