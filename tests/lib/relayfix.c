/* relayfix.c: relay test fixtures (relayfix.h). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "client/seal.h"
#include "keys/keyfile.h"
#include "keys/signed.h"
#include "keys/util.h"
#include "proto/err.h"
#include "tests/lib/relayfix.h"
#include "tests/lib/sealfix.h"

/* A port the kernel just handed out and released: free unless another
 * process grabs it in the next milliseconds. */
static int
free_port(void)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (s < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    close(s);
    return port;
}

static void
device_pb(Liaison__Device *d, const struct lsn_credential *c)
{
    liaison__device__init(d);
    d->name = (char *)c->device;
    d->role = c->role;
    d->sign_key = (ProtobufCBinaryData){ 32, c->keys->sign_pk };
    d->curve_key = (ProtobufCBinaryData){ 32, c->keys->curve_pk };
    d->delivery_key = (ProtobufCBinaryData){ 32, c->keys->delivery_pk };
    d->may_send = c->may_send;
    d->may_receive = c->may_receive;
}

/* Signs a bundle of org o with the devices not named drop. */
static int
bundle_sign(struct rf_org *o, uint64_t version, const char *drop,
            const uint8_t *previous, struct lsn_bundle **out)
{
    Liaison__Bundle b = LIAISON__BUNDLE__INIT;
    Liaison__EncKey k[2], *kp[2];
    Liaison__Device d[RF_MAX_DEVS + 1], *dp[RF_MAX_DEVS + 1];
    size_t nd = 0;
    int64_t now = lsn_now();

    for (size_t i = 0; i < o->n_enc; i++) {
        /* newest first */
        const struct lsn_enc_secret *s = &o->enc[o->n_enc - 1 - i];
        liaison__enc_key__init(&k[i]);
        k[i].key_id = s->key_id;
        k[i].public_key = (ProtobufCBinaryData){ 32, (uint8_t *)s->pk };
        k[i].created = s->created;
        k[i].retire_after = i == 0 ? 0 : now + 86400;
        kp[i] = &k[i];
    }
    device_pb(&d[nd], o->admin);
    dp[nd] = &d[nd];
    nd++;
    for (size_t i = 0; i < o->n_dev; i++) {
        if (drop != NULL && strcmp(o->dev[i]->device, drop) == 0)
            continue;
        device_pb(&d[nd], o->dev[i]);
        dp[nd] = &d[nd];
        nd++;
    }
    b.org = o->id;
    b.version = version;
    b.issued = now - 86400;
    b.expires = now + 365 * 86400;
    b.enc_keys = kp;
    b.n_enc_keys = o->n_enc;
    b.devices = dp;
    b.n_devices = nd;
    if (previous != NULL)
        b.previous = (ProtobufCBinaryData){ 32, (uint8_t *)previous };
    return lsn_bundle_sign(&b, o->root_sk, out);
}

static int
org_make(struct rf_org *o, const char *id, size_t n_dev)
{
    char name[16];
    int r;

    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", id);
    crypto_sign_keypair(o->root_pk, o->root_sk);
    o->enc[0].key_id = 1;
    o->enc[0].created = lsn_now() - 86400;
    crypto_box_keypair(o->enc[0].pk, o->enc[0].sk);
    o->n_enc = 1;
    if ((r = lsn_credential_new(id, "admin", LIAISON__DEVICE_ROLE__ROLE_ADMIN, 1, 0,
                                &o->admin)) != 0)
        return r;
    for (size_t i = 0; i < n_dev; i++) {
        snprintf(name, sizeof name, "d%zu", i + 1);
        if ((r = lsn_credential_new(id, name, LIAISON__DEVICE_ROLE__ROLE_HUMAN, 1, 1,
                                    &o->dev[i])) != 0 ||
            (r = lsn_credential_put_enc(o->dev[i], &o->enc[0])) != 0)
            return r;
    }
    o->n_dev = n_dev;
    if ((r = bundle_sign(o, 1, NULL, NULL, &o->first)) != 0)
        return r;
    o->bundle = o->first;
    return 0;
}

static int
write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    if (fp == NULL)
        return LSN_ERR_IO;
    fputs(text, fp);
    return fclose(fp) == 0 ? 0 : LSN_ERR_IO;
}

int
rf_setup(struct rf *f, const char *tag, size_t n_orgs, size_t n_dev,
         const char *extra_config)
{
    Liaison__Roster ro = LIAISON__ROSTER__INIT;
    Liaison__RosterOrg org[RF_MAX_ORGS], *orgp[RF_MAX_ORGS];
    Liaison__RosterRelay rel = LIAISON__ROSTER_RELAY__INIT, *relp = &rel;
    ProtobufCBinaryData auth;
    const char *tmp = getenv("LSN_TMP"), *bin = getenv("LSN_BIN");
    char path[PATH_MAX + 32], conf[4 * PATH_MAX + 4096];
    int port, r;

    memset(f, 0, sizeof *f);
    f->pid = -1;
    snprintf(f->dir, sizeof f->dir, "%s/relay-%s-%d", tmp != NULL ? tmp : "/tmp", tag,
             (int)getpid());
    snprintf(path, sizeof path, "rm -rf '%s'", f->dir);
    if (system(path) != 0 || mkdir(f->dir, 0700) != 0)
        return LSN_ERR_IO;
    snprintf(f->bin, sizeof f->bin, "%s/liaison-relay", bin != NULL ? bin : "build/bin");
    if ((port = free_port()) < 0)
        return LSN_ERR_IO;
    snprintf(f->endpoint, sizeof f->endpoint, "tcp://127.0.0.1:%d", port);
    crypto_box_keypair(f->relay_pk, f->relay_sk);
    crypto_sign_keypair(f->auth_pk, f->auth_sk);
    f->n_orgs = n_orgs;
    for (size_t i = 0; i < n_orgs; i++) {
        char id[24];
        snprintf(id, sizeof id, "o%zu", i + 1);
        if ((r = org_make(&f->orgs[i], id, n_dev)) != 0)
            return r;
        liaison__roster_org__init(&org[i]);
        org[i].id = f->orgs[i].id;
        org[i].display = f->orgs[i].id;
        org[i].root_key = (ProtobufCBinaryData){ 32, f->orgs[i].root_pk };
        org[i].relay = (char *)"r1";
        orgp[i] = &org[i];
    }
    rel.name = (char *)"r1";
    rel.endpoint = f->endpoint;
    rel.curve_key = (ProtobufCBinaryData){ 32, f->relay_pk };
    auth = (ProtobufCBinaryData){ 32, f->auth_pk };
    ro.coalition = (char *)"test";
    ro.version = 1;
    ro.issued = lsn_now() - 86400;
    ro.expires = lsn_now() + 365 * 86400;
    ro.authorities = &auth;
    ro.n_authorities = 1;
    ro.threshold = 1;
    ro.orgs = orgp;
    ro.n_orgs = n_orgs;
    ro.relays = &relp;
    ro.n_relays = 1;
    if ((r = lsn_roster_from_body(&ro, &f->roster)) != 0 ||
        (r = lsn_roster_sign(f->roster, f->auth_sk)) != 0)
        return r;
    snprintf(path, sizeof path, "%s/roster.signed", f->dir);
    if ((r = lsn_signed_file_write(path, LSN_TYPE_ROSTER, f->roster->bytes,
                                   f->roster->len, LSN_WRITE_FORCE)) != 0)
        return r;
    snprintf(path, sizeof path, "%s/relay.key", f->dir);
    if ((r = lsn_secret_write(path, LSN_KEY_RELAY, NULL, f->relay_sk, 32, NULL,
                              LSN_WRITE_FORCE)) != 0)
        return r;
    snprintf(conf, sizeof conf,
             "# test relay\nlisten %s\ndata %s/data\nroster %s/roster.signed\n"
             "key %s/relay.key\nheartbeat_ms 1000\n%s\n",
             f->endpoint, f->dir, f->dir, f->dir, extra_config != NULL ? extra_config : "");
    snprintf(path, sizeof path, "%s/relay.conf", f->dir);
    return write_text(path, conf);
}

int
rf_connect(struct rf *f, const struct lsn_credential *c,
           struct lsn_relay_client **out)
{
    return lsn_relay_client_connect(c, f->endpoint, f->relay_pk, 5000, out);
}

int
rf_start(struct rf *f)
{
    char conf[PATH_MAX + 32], log[PATH_MAX + 32];
    struct lsn_relay_client *c = NULL;
    pid_t pid;

    snprintf(conf, sizeof conf, "%s/relay.conf", f->dir);
    snprintf(log, sizeof log, "%s/relay.log", f->dir);
    if ((pid = fork()) < 0)
        return LSN_ERR_IO;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        execl(f->bin, "liaison-relay", "--config", conf, (char *)NULL);
        _exit(127);
    }
    f->pid = pid;
    /* Ready once a known key gets a hello through: the roster's relay key
     * is not a device, so use the first org's d1 if its bundle is held,
     * else just wait for the port. */
    for (int i = 0; i < 100; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            f->pid = -1;
            return LSN_ERR_IO;
        }
        struct sockaddr_in a;
        int s = socket(AF_INET, SOCK_STREAM, 0);
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)atoi(strrchr(f->endpoint, ':') + 1));
        int ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
        close(s);
        if (ok)
            return 0;
        usleep(50000);
    }
    (void)c;
    return LSN_ERR_TIMEOUT;
}

void
rf_stop(struct rf *f, int sig)
{
    int st;

    if (f->pid <= 0)
        return;
    kill(f->pid, sig);
    waitpid(f->pid, &st, 0);
    f->pid = -1;
}

int
rf_publish(struct rf *f, size_t i)
{
    struct lsn_relay_client *c = NULL;
    int r;

    if ((r = rf_connect(f, f->orgs[i].admin, &c)) != 0)
        return r;
    r = lsn_relay_client_dir_put(c, LIAISON__DIR_KIND__DIR_BUNDLE, f->orgs[i].bundle->bytes,
                                 f->orgs[i].bundle->len, NULL);
    lsn_relay_client_close(&c);
    return r;
}

int
rf_next_bundle(struct rf *f, size_t i, const char *drop, int new_key)
{
    struct rf_org *o = &f->orgs[i];
    struct lsn_bundle *nb = NULL;
    int r;

    if (new_key && o->n_enc == 1) {
        o->enc[1].key_id = 2;
        o->enc[1].created = lsn_now();
        crypto_box_keypair(o->enc[1].pk, o->enc[1].sk);
        o->n_enc = 2;
        for (size_t j = 0; j < o->n_dev; j++)
            if (drop == NULL || strcmp(o->dev[j]->device, drop) != 0)
                lsn_credential_put_enc(o->dev[j], &o->enc[1]);
    }
    if ((r = bundle_sign(o, o->bundle->b->version + 1, drop, o->bundle->hash, &nb)) != 0)
        return r;
    if (o->bundle != o->first)
        lsn_bundle_destroy(&o->bundle);
    o->bundle = nb;
    return 0;
}

int
rf_seal(struct rf *f, size_t from, size_t d, const size_t *to, size_t n,
        const struct lsn_bundle *const *bundles, int64_t ttl, uint8_t **env,
        size_t *len)
{
    const struct lsn_bundle *rb[RF_MAX_ORGS];
    struct lsn_seal_params p;
    Liaison__Alert a;

    for (size_t i = 0; i < n; i++)
        rb[i] = bundles != NULL ? bundles[i] : f->orgs[to[i]].bundle;
    sf_alert_sample(&a);
    memset(&p, 0, sizeof p);
    p.created = lsn_now();
    p.expires = p.created + ttl;
    p.bundle_version = f->orgs[from].bundle->b->version;
    return lsn_seal(&a, f->orgs[from].dev[d], rb, n, &p, env, len);
}

void
rf_teardown(struct rf *f)
{
    char cmd[PATH_MAX + 16];

    rf_stop(f, SIGKILL);
    for (size_t i = 0; i < f->n_orgs; i++) {
        struct rf_org *o = &f->orgs[i];
        lsn_credential_destroy(&o->admin);
        for (size_t j = 0; j < o->n_dev; j++)
            lsn_credential_destroy(&o->dev[j]);
        if (o->bundle != o->first)
            lsn_bundle_destroy(&o->bundle);
        lsn_bundle_destroy(&o->first);
        sodium_memzero(o, sizeof *o);
    }
    lsn_roster_destroy(&f->roster);
    sodium_memzero(f->relay_sk, sizeof f->relay_sk);
    if (getenv("LSN_KEEP") == NULL) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", f->dir);
    }
}
