/* relayfix.c: relay test fixtures (relayfix.h). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "client/profile.h"
#include "client/seal.h"
#include "keys/keyfile.h"
#include "keys/signed.h"
#include "keys/util.h"
#include "proto/err.h"
#include "client/client.h"
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

/* Signs a bundle of org o with the devices not named drop, valid until
 * expires (0: a year from now). */
static int
bundle_sign_until(struct rf_org *o, uint64_t version, const char *drop,
                  const uint8_t *previous, int64_t expires, struct lsn_bundle **out)
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
    b.expires = expires != 0 ? expires : now + 365 * 86400;
    b.enc_keys = kp;
    b.n_enc_keys = o->n_enc;
    b.devices = dp;
    b.n_devices = nd;
    if (previous != NULL)
        b.previous = (ProtobufCBinaryData){ 32, (uint8_t *)previous };
    return lsn_bundle_sign(&b, o->root_sk, out);
}

static int
bundle_sign(struct rf_org *o, uint64_t version, const char *drop,
            const uint8_t *previous, struct lsn_bundle **out)
{
    return bundle_sign_until(o, version, drop, previous, 0, out);
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

/* Writes relay k's key and config into its folder. */
static int
relay_files(struct rf *f, size_t k, const char *extra_config)
{
    struct rf_relay *x = &f->relays[k];
    char path[PATH_MAX + 32], conf[4 * PATH_MAX + 4096];
    int r;

    snprintf(path, sizeof path, "%s/relay.key", x->dir);
    if ((r = lsn_secret_write(path, LSN_KEY_RELAY, NULL, x->sk, 32, NULL,
                              LSN_WRITE_FORCE)) != 0)
        return r;
    snprintf(conf, sizeof conf,
             "# test relay\nlisten %s\ndata %s/data\nroster %s/roster.signed\n"
             "key %s/relay.key\nheartbeat_ms 1000\n%s\n",
             x->endpoint, x->dir, f->dir, x->dir, extra_config != NULL ? extra_config : "");
    snprintf(path, sizeof path, "%s/relay.conf", x->dir);
    return write_text(path, conf);
}

int
rf_setup(struct rf *f, const char *tag, size_t n_orgs, size_t n_dev,
         const char *extra_config)
{
    size_t home[RF_MAX_ORGS] = { 0 };

    return rf_setup_fed(f, tag, 1, home, n_orgs, n_dev, extra_config);
}

int
rf_setup_fed(struct rf *f, const char *tag, size_t n_relays, const size_t *home,
             size_t n_orgs, size_t n_dev, const char *extra_config)
{
    Liaison__Roster ro = LIAISON__ROSTER__INIT;
    Liaison__RosterOrg org[RF_MAX_ORGS], *orgp[RF_MAX_ORGS];
    Liaison__RosterRelay rel[RF_MAX_RELAYS], *relp[RF_MAX_RELAYS];
    ProtobufCBinaryData auth;
    const char *tmp = getenv("LSN_TMP"), *bin = getenv("LSN_BIN");
    char path[PATH_MAX + 32];
    int port, r;

    memset(f, 0, sizeof *f);
    f->pid = -1;
    if (n_relays < 1 || n_relays > RF_MAX_RELAYS || n_orgs > RF_MAX_ORGS)
        return LSN_ERR_INVALID;
    snprintf(f->dir, sizeof f->dir, "%s/relay-%s-%d", tmp != NULL ? tmp : "/tmp", tag,
             (int)getpid());
    snprintf(path, sizeof path, "rm -rf '%s'", f->dir);
    if (system(path) != 0 || mkdir(f->dir, 0700) != 0)
        return LSN_ERR_IO;
    snprintf(f->bin, sizeof f->bin, "%s/liaison-relay", bin != NULL ? bin : "build/bin");
    f->n_relays = n_relays;
    for (size_t k = 0; k < n_relays; k++) {
        struct rf_relay *x = &f->relays[k];
        if ((port = free_port()) < 0)
            return LSN_ERR_IO;
        snprintf(x->name, sizeof x->name, "r%zu", k + 1);
        snprintf(x->endpoint, sizeof x->endpoint, "tcp://127.0.0.1:%d", port);
        crypto_box_keypair(x->pk, x->sk);
        x->pid = -1;
        if (n_relays == 1) {        /* the single relay keeps the old layout */
            memcpy(x->dir, f->dir, sizeof x->dir);
        } else {
            if (strlen(f->dir) + 1 + strlen(x->name) >= sizeof x->dir)
                return LSN_ERR_INVALID;
            memcpy(x->dir, f->dir, strlen(f->dir));
            x->dir[strlen(f->dir)] = '/';
            memcpy(x->dir + strlen(f->dir) + 1, x->name, strlen(x->name) + 1);
            if (mkdir(x->dir, 0700) != 0)
                return LSN_ERR_IO;
        }
        liaison__roster_relay__init(&rel[k]);
        rel[k].name = x->name;
        rel[k].endpoint = x->endpoint;
        rel[k].curve_key = (ProtobufCBinaryData){ 32, x->pk };
        relp[k] = &rel[k];
    }
    snprintf(f->endpoint, sizeof f->endpoint, "%s", f->relays[0].endpoint);
    memcpy(f->relay_pk, f->relays[0].pk, 32);
    memcpy(f->relay_sk, f->relays[0].sk, 32);
    crypto_sign_keypair(f->auth_pk, f->auth_sk);
    f->n_orgs = n_orgs;
    for (size_t i = 0; i < n_orgs; i++) {
        char id[24];
        snprintf(id, sizeof id, "o%zu", i + 1);
        if ((r = org_make(&f->orgs[i], id, n_dev)) != 0)
            return r;
        f->home[i] = home[i] < n_relays ? home[i] : 0;
        liaison__roster_org__init(&org[i]);
        org[i].id = f->orgs[i].id;
        org[i].display = f->orgs[i].id;
        org[i].root_key = (ProtobufCBinaryData){ 32, f->orgs[i].root_pk };
        org[i].relay = f->relays[f->home[i]].name;
        orgp[i] = &org[i];
    }
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
    ro.relays = relp;
    ro.n_relays = n_relays;
    if ((r = lsn_roster_from_body(&ro, &f->roster)) != 0 ||
        (r = lsn_roster_sign(f->roster, f->auth_sk)) != 0)
        return r;
    snprintf(path, sizeof path, "%s/roster.signed", f->dir);
    if ((r = lsn_signed_file_write(path, LSN_TYPE_ROSTER, f->roster->bytes,
                                   f->roster->len, LSN_WRITE_FORCE)) != 0)
        return r;
    for (size_t k = 0; k < n_relays; k++)
        if ((r = relay_files(f, k, extra_config)) != 0)
            return r;
    return 0;
}

static pid_t *
pid_of(struct rf *f, size_t k)
{
    return k == 0 ? &f->pid : &f->relays[k].pid;
}

int
rf_connect_to(struct rf *f, size_t k, const struct lsn_credential *c,
              struct lsn_relay_client **out)
{
    return lsn_relay_client_connect(c, f->relays[k].endpoint, f->relays[k].pk, 10000, out);
}

int
rf_connect(struct rf *f, const struct lsn_credential *c,
           struct lsn_relay_client **out)
{
    for (size_t i = 0; i < f->n_orgs; i++)
        if (strcmp(f->orgs[i].id, c->org) == 0)
            return rf_connect_to(f, f->home[i], c, out);
    return lsn_relay_client_connect(c, f->endpoint, f->relay_pk, 10000, out);
}

int
rf_start(struct rf *f)
{
    return rf_start_relay(f, 0);
}

int
rf_start_relay(struct rf *f, size_t k)
{
    char conf[PATH_MAX + 32], log[PATH_MAX + 32];
    const char *ep = f->relays[k].endpoint;
    pid_t pid;

    snprintf(conf, sizeof conf, "%s/relay.conf", f->relays[k].dir);
    snprintf(log, sizeof log, "%s/relay.log", f->relays[k].dir);
    if ((pid = fork()) < 0)
        return LSN_ERR_IO;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        if (f->nofile_hard > 0) {
            struct rlimit rl = { f->nofile_soft ? f->nofile_soft : f->nofile_hard,
                                 f->nofile_hard };
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
                _exit(126);
        }
        execl(f->bin, "liaison-relay", "--config", conf, (char *)NULL);
        _exit(127);
    }
    *pid_of(f, k) = pid;
    /* Ready once its port answers: the relay opens its store (and builds
     * its message index) before it binds.  Polled often at first (a start
     * takes milliseconds, and relay_bench times it), then every 50 ms, for
     * about 5 s in all. */
    for (useconds_t nap = 1000, waited = 0; waited < 5000000; waited += nap,
         nap = nap < 50000 ? 2 * nap : 50000) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            *pid_of(f, k) = -1;
            return LSN_ERR_IO;
        }
        struct sockaddr_in a;
        int s = socket(AF_INET, SOCK_STREAM, 0);
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)atoi(strrchr(ep, ':') + 1));
        int ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
        close(s);
        if (ok)
            return 0;
        usleep(nap);
    }
    return LSN_ERR_TIMEOUT;
}

void
rf_stop(struct rf *f, int sig)
{
    rf_stop_relay(f, 0, sig);
}

void
rf_stop_relay(struct rf *f, size_t k, int sig)
{
    pid_t *p = pid_of(f, k);
    int st;

    if (*p <= 0)
        return;
    kill(*p, sig);
    waitpid(*p, &st, 0);
    *p = -1;
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
rf_next_bundle_until(struct rf *f, size_t i, int64_t expires)
{
    struct rf_org *o = &f->orgs[i];
    struct lsn_bundle *nb = NULL;
    int r;

    if ((r = bundle_sign_until(o, o->bundle->b->version + 1, NULL, o->bundle->hash,
                               expires, &nb)) != 0)
        return r;
    if (o->bundle != o->first)
        lsn_bundle_destroy(&o->bundle);
    o->bundle = nb;
    return 0;
}

int
rf_profile(struct rf *f, size_t i, size_t d, char *home, size_t size)
{
    char cred[PATH_MAX + 32];
    int r;

    r = lsn_credential_set_roster(f->orgs[i].dev[d], f->roster->bytes, f->roster->len);
    if (r != 0)
        return r;
    snprintf(cred, sizeof cred, "%s/o%zu-d%zu.cred", f->dir, i + 1, d + 1);
    if ((r = lsn_credential_save(f->orgs[i].dev[d], cred, NULL, LSN_WRITE_FORCE)) != 0)
        return r;
    snprintf(home, size, "%s/home-o%zu-d%zu", f->dir, i + 1, d + 1);
    return lsn_profile_init(home, cred, NULL, lsn_now());
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

    for (size_t k = 0; k < f->n_relays; k++)
        rf_stop_relay(f, k, SIGKILL);
    for (size_t k = 0; k < f->n_relays; k++)
        sodium_memzero(f->relays[k].sk, sizeof f->relays[k].sk);
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

int
rf_up_client(struct rf *f, const char *tag, const char *extra, struct lsn_client **c)
{
    char home[PATH_MAX + 32];
    int r;

    if ((r = rf_setup(f, tag, 2, 1, extra)) != 0 || (r = rf_start(f)) != 0 ||
        (r = rf_publish(f, 0)) != 0 || (r = rf_publish(f, 1)) != 0 ||
        (r = rf_profile(f, 0, 0, home, sizeof home)) != 0)
        return r;
    return lsn_client_open(home, NULL, c);
}
