/* profile.c: the client's profile folder (see profile.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "client/agent.h"
#include "client/profile.h"
#include "keys/keyfile.h"
#include "keys/util.h"
#include "proto/err.h"

#define CONFIG_MAX 16384

static const char default_config[] =
    "# liaison profile settings.  Lines are `key = value`; # starts a comment.\n"
    "\n"
    "# Send a read receipt when you read a message whose sender asked for one\n"
    "# (yes|no).  With no, the sender's `liaison status` says read receipts are\n"
    "# off here.  Delivery receipts are always sent when asked for.\n"
    "read-receipts = yes\n"
    "\n"
    "# How long to wait for the relay to answer a request, in milliseconds.\n"
    "relay-timeout-ms = 10000\n"
    "\n"
    "# The most the local store may grow to, in MiB (its map grows as needed\n"
    "# up to this).  When it is reached, fetch leaves messages at the relay.\n"
    "# store-max-mb = 65536\n"
    "\n"
    "# A send the relay refuses for a full quota stays stored and is resent\n"
    "# by send, fetch and watch, first after this many seconds, then twice as\n"
    "# long each time (at most 15 minutes), until it expires.\n"
    "resend-after-s = 30\n";

int
lsn_profile_dir(const char *home, char *out, size_t n)
{
    const char *env = getenv("LIAISON_HOME"), *h = getenv("HOME");
    size_t w;

    if (home != NULL && home[0] != '\0')
        w = (size_t)snprintf(out, n, "%s", home);
    else if (env != NULL && env[0] != '\0')
        w = (size_t)snprintf(out, n, "%s", env);
    else if (h != NULL && h[0] != '\0')
        w = (size_t)snprintf(out, n, "%s/.liaison", h);
    else {
        lsn_set_detail("no --home, $LIAISON_HOME or $HOME to find the profile");
        return LSN_ERR_USAGE;
    }
    return w >= n ? LSN_ERR_TOO_LARGE : 0;
}

static int
path_in(const char *dir, const char *name, char *out, size_t n)
{
    return (size_t)snprintf(out, n, "%s/%s", dir, name) >= n ? LSN_ERR_TOO_LARGE : 0;
}

/* Why the profile folder dir could not be made, as a sentence naming the
 * folder at fault. */
static int
missing_folder(const char *dir, int err)
{
    char parent[PATH_MAX];
    char *slash;

    snprintf(parent, sizeof parent, "%s", dir);
    while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0' && slash > parent)
        *slash = '\0';         /* a trailing slash names no folder */
    if ((slash = strrchr(parent, '/')) == NULL)
        snprintf(parent, sizeof parent, ".");
    else if (slash == parent)
        parent[1] = '\0';
    else
        *slash = '\0';
    if (err == ENOENT) {
        lsn_set_detail("the folder %.300s does not exist: create it first, or "
                       "give --home a folder inside one that exists", parent);
        return LSN_ERR_NOT_FOUND;
    }
    lsn_set_detail("cannot create the folder %.300s: %s", dir, strerror(err));
    return LSN_ERR_IO;
}

/* Fills *about with the device c is and the home relay roster ro names
 * for its org ("" where it names none). */
static void
describe(struct lsn_profile_about *about, const struct lsn_credential *c,
         const struct lsn_roster *ro)
{
    const Liaison__RosterOrg *o = lsn_roster_find_org(ro, c->org);
    const Liaison__RosterRelay *rl = o != NULL ? lsn_roster_find_relay(ro, o->relay) : NULL;

    snprintf(about->org, sizeof about->org, "%s", c->org);
    snprintf(about->device, sizeof about->device, "%s", c->device);
    if (o != NULL)
        snprintf(about->relay, sizeof about->relay, "%s", o->relay);
    if (rl != NULL)
        snprintf(about->endpoint, sizeof about->endpoint, "%s", rl->endpoint);
    about->roster_version = ro->r->version;
}

int
lsn_profile_init(const char *dir, const char *cred_path, const char *pass,
                 int64_t now)
{
    return lsn_profile_init_about(dir, cred_path, pass, now, NULL);
}

int
lsn_profile_init_about(const char *dir, const char *cred_path, const char *pass,
                       int64_t now, struct lsn_profile_about *about)
{
    struct lsn_credential *c = NULL;
    struct lsn_roster *ro = NULL;
    struct lsn_trust *t = NULL;
    uint8_t *text = NULL;
    size_t n = 0;
    char path[PATH_MAX];
    int r;

    if (about != NULL)
        memset(about, 0, sizeof *about);
    if ((r = lsn_credential_load(cred_path, pass, &c)) != 0)
        return r;
    if (c->roster_len == 0) {
        lsn_set_detail("credential %.200s pins no roster (an admin credential?): "
                       "make a device credential with `liaison-keys device add`",
                       cred_path);
        r = LSN_ERR_INVALID;
        goto out;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        r = missing_folder(dir, errno);
        goto out;
    }
    if ((r = path_in(dir, "trust", path, sizeof path)) != 0 ||
        (r = lsn_trust_open(path, &t)) != 0 ||
        (r = lsn_trust_put_roster(t, c->roster, c->roster_len, now)) != 0)
        goto out;
    /* The credential is copied as the admin wrote it (same passphrase). */
    if ((r = lsn_file_read(cred_path, LSN_SECRET_FILE_MAX * 2, &text, &n)) != 0 ||
        (r = path_in(dir, "credential", path, sizeof path)) != 0 ||
        (r = lsn_file_write(path, text, n, LSN_WRITE_SECRET)) != 0)
        goto out;
    if ((r = path_in(dir, "config", path, sizeof path)) != 0)
        goto out;
    r = lsn_file_write(path, default_config, sizeof default_config - 1, 0);
    if (r == LSN_ERR_EXISTS)
        r = 0;      /* keep the user's settings */
    /* The profile stands: a roster that cannot be read back only leaves
     * *about empty. */
    if (r == 0 && about != NULL && lsn_trust_roster_held(t, &ro) == 0)
        describe(about, c, ro);
out:
    if (text != NULL) {
        sodium_memzero(text, n);
        free(text);
    }
    lsn_roster_destroy(&ro);
    lsn_trust_close(&t);
    lsn_credential_destroy(&c);
    return r;
}

/* Refuses a profile folder others may write to (they could swap the
 * credential, the trust store or the config), as ssh does for ~/.ssh. */
static int
dir_check(const char *dir)
{
    struct stat st;

    if (stat(dir, &st) != 0)
        return errno == ENOENT ? LSN_ERR_NOT_FOUND : LSN_ERR_IO;
    if ((st.st_mode & 022) == 0)
        return 0;
    lsn_set_detail("the profile folder %.300s is writable by %s (mode %04o): "
                   "`chmod go-w %.300s`", dir,
                   (st.st_mode & 020) && (st.st_mode & 002) ? "group and others"
                   : (st.st_mode & 020) ? "its group" : "others",
                   (unsigned)(st.st_mode & 07777), dir);
    return LSN_ERR_PERMISSIONS;
}

int
lsn_profile_is_protected(const char *dir, int *is_protected)
{
    char path[PATH_MAX];
    int r;

    if ((r = dir_check(dir)) != 0 ||
        (r = path_in(dir, "credential", path, sizeof path)) != 0)
        return r;
    return lsn_secret_is_protected(path, is_protected);
}

/* Reads `key = value` lines we know; unknown keys are refused by name so a
 * typo does not silently keep a default. */
static int
read_config(struct lsn_profile *p)
{
    char path[PATH_MAX], *line, *save = NULL;
    uint8_t *text = NULL;
    size_t n = 0;
    int r, lineno = 0;

    p->read_receipts = 1;
    p->timeout_ms = 10000;
    p->store_max_mb = 0;
    p->resend_s = 30;
    if ((r = path_in(p->dir, "config", path, sizeof path)) != 0)
        return r;
    if ((r = lsn_file_read(path, CONFIG_MAX, &text, &n)) != 0)
        return r == LSN_ERR_NOT_FOUND ? 0 : r;
    /* Line by line (blank lines count for the numbers in messages). */
    for (line = (char *)text; line != NULL; line = save) {
        char key[64], val[64];
        if ((save = strchr(line, '\n')) != NULL)
            *save++ = '\0';
        lineno++;
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line == '#' || *line == '\0')
            continue;
        if (sscanf(line, "%63[a-z-] = %63s", key, val) != 2) {
            lsn_set_detail("%s line %d: expected `key = value`", path, lineno);
            r = LSN_ERR_INVALID;
            break;
        }
        if (strcmp(key, "read-receipts") == 0 &&
            (strcmp(val, "yes") == 0 || strcmp(val, "no") == 0)) {
            p->read_receipts = strcmp(val, "yes") == 0;
        } else if (strcmp(key, "relay-timeout-ms") == 0 && atoi(val) >= 100 &&
                   atoi(val) <= 600000) {
            p->timeout_ms = atoi(val);
        } else if (strcmp(key, "store-max-mb") == 0 && strspn(val, "0123456789") ==
                   strlen(val) && atol(val) >= 1 && atol(val) <= 16L * 1024 * 1024) {
            p->store_max_mb = atol(val);
        } else if (strcmp(key, "resend-after-s") == 0 && val[0] >= '0' &&
                   val[0] <= '9' && atoi(val) <= 3600) {
            p->resend_s = atoi(val);
        } else {
            lsn_set_detail("%s line %d: unknown setting or bad value `%s = %s`",
                           path, lineno, key, val);
            r = LSN_ERR_INVALID;
            break;
        }
    }
    free(text);
    return r;
}

int
lsn_profile_open(const char *dir, const char *pass, struct lsn_profile **out)
{
    struct lsn_profile *p = calloc(1, sizeof *p);
    uint8_t store_key[32];
    char path[PATH_MAX];
    int r;

    *out = NULL;
    if (p == NULL)
        return LSN_ERR_NOMEM;
    if (strlen(dir) >= sizeof p->dir) {
        free(p);
        return LSN_ERR_TOO_LARGE;
    }
    strcpy(p->dir, dir);
    if ((r = dir_check(dir)) != 0)
        goto fail;
    if (pass != NULL) {
        if ((p->pass = sodium_malloc(strlen(pass) + 1)) == NULL) {
            r = LSN_ERR_NOMEM;
            goto fail;
        }
        memcpy(p->pass, pass, strlen(pass) + 1);
    }
    if ((r = path_in(dir, "credential", path, sizeof path)) != 0)
        goto fail;
    r = lsn_credential_load(path, pass, &p->cred);
    /* Protected and no passphrase given: the unlock agent's, if one runs. */
    if (r == LSN_ERR_NEED_PASSPHRASE && (r = lsn_agent_credential(dir, &p->cred)) == 0)
        p->via_agent = 1;
    if (r != 0)
        goto fail;
    if ((r = read_config(p)) != 0)
        goto fail;
    if ((r = path_in(dir, "trust", path, sizeof path)) != 0 ||
        (r = lsn_trust_open(path, &p->trust)) != 0)
        goto fail;
    lsn_local_key_derive(store_key, p->cred->keys->sign_sk);
    r = path_in(dir, "store", path, sizeof path);
    if (r == 0)
        r = lsn_local_open(path, store_key, &p->store);
    sodium_memzero(store_key, sizeof store_key);
    if (r == 0 && p->store_max_mb > 0) {
        uint64_t max = (uint64_t)p->store_max_mb << 20;
        r = lsn_local_set_map_max(p->store, max > SIZE_MAX ? SIZE_MAX : (size_t)max);
    }
    if (r != 0)
        goto fail;
    *out = p;
    return 0;
fail:
    lsn_profile_close(&p);
    return r;
}

void
lsn_profile_close(struct lsn_profile **pp)
{
    struct lsn_profile *p = *pp;

    if (p == NULL)
        return;
    lsn_local_close(&p->store);
    lsn_trust_close(&p->trust);
    lsn_credential_destroy(&p->cred);
    if (p->pass != NULL)
        sodium_free(p->pass);
    free(p);
    *pp = NULL;
}

int
lsn_profile_save_credential(struct lsn_profile *p)
{
    char path[PATH_MAX];
    int r;

    if ((r = path_in(p->dir, "credential", path, sizeof path)) != 0)
        return r;
    if (p->via_agent)
        return lsn_agent_credential_save(p->dir, p->cred);
    return lsn_credential_save(p->cred, path, p->pass, LSN_WRITE_FORCE);
}

int
lsn_profile_roster(struct lsn_profile *p, int64_t now, struct lsn_roster **out)
{
    return lsn_trust_roster(p->trust, now, out);
}

int
lsn_profile_home_relay(struct lsn_profile *p, int64_t now, char *endpoint,
                       size_t n, uint8_t key[32])
{
    struct lsn_roster *ro = NULL;
    const Liaison__RosterOrg *o;
    const Liaison__RosterRelay *rl;
    int r;

    /* An expired roster still names the relay that has its successor. */
    (void)now;
    if ((r = lsn_trust_roster_held(p->trust, &ro)) != 0)
        return r;
    r = LSN_ERR_UNKNOWN_ORG;
    if ((o = lsn_roster_find_org(ro, p->cred->org)) == NULL) {
        lsn_set_detail("this device's org `%s` is not in roster v%llu", p->cred->org,
                       (unsigned long long)ro->r->version);
        goto out;
    }
    r = LSN_ERR_NOT_FOUND;
    if ((rl = lsn_roster_find_relay(ro, o->relay)) == NULL)
        goto out;
    r = (size_t)snprintf(endpoint, n, "%s", rl->endpoint) >= n ? LSN_ERR_TOO_LARGE : 0;
    memcpy(key, rl->curve_key.data, 32);
out:
    lsn_roster_destroy(&ro);
    return r;
}
