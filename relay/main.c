/* main.c: liaison-relay, the command line around relay/relay.c: options,
 * signals, core dumps off, and check-config. */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <syslog.h>

#include <sodium.h>

#include "keys/keyfile.h"
#include "keys/roster.h"
#include "keys/signed.h"
#include "keys/util.h"
#include "proto/err.h"
#include "relay/config.h"
#include "relay/relay.h"

static const char usage[] =
    "usage: liaison-relay [--config FILE] [--listen tcp://HOST:PORT] [--data DIR]\n"
    "                     [--roster FILE] [--key FILE] [--syslog]\n"
    "       liaison-relay --version\n"
    "       liaison-relay check-config FILE\n"
    "       liaison-relay import [--config FILE] [--data DIR] [--roster FILE]\n"
    "                            [--key FILE] BUNDLE\n"
    "\n"
    "Runs a liaison relay: authenticated CURVE connections from the devices\n"
    "and relays the roster and the bundles admit, durable store-and-forward of\n"
    "envelopes, fan-out to every receiving device of each addressed org.\n"
    "The four flags override the config file; with all four the relay runs\n"
    "without one, every limit at its default (see relay.conf.example).\n"
    "\n"
    "  --config FILE   settings, one `key value` per line\n"
    "  --listen EP     endpoint to bind, e.g. tcp://0.0.0.0:7400\n"
    "  --data DIR      the LMDB store (created 0700)\n"
    "  --roster FILE   the signed roster; SIGHUP reloads it\n"
    "  --key FILE      the relay's CURVE secret key (liaison-keys relay new)\n"
    "  --syslog        log to syslog as well as stderr\n"
    "\n"
    "check-config prints the effective settings and exits 0 if they are valid,\n"
    "the roster file verifies and the key file is a relay key the roster lists.\n"
    "import stores the signed BUNDLE (liaison-keys bundle export) in the data\n"
    "folder of a stopped relay, verified against its roster like an admin's\n"
    "publish, using no bootstrap budget.  A running relay holds the folder:\n"
    "copy BUNDLE to DATA/import/NAME.signed and send it SIGHUP; it imports\n"
    "each such file, logs the outcome and renames it NAME.signed.imported or\n"
    "NAME.signed.refused.\n"
    "SIGTERM or SIGINT: finish the commit in progress and exit 0.\n"
    "A failed store commit (disk full, write or fsync error) is answered\n"
    "UNAVAILABLE and stops the relay with exit status 1: check the disk and\n"
    "restart it.\n";

static struct lsn_relay *the_relay;

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line on stderr: the error and where the full usage is; exit 2. */
static int
usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("liaison-relay: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("; see `liaison-relay --help`\n", stderr);
    return 2;
}

static void
on_stop(int sig)
{
    (void)sig;
    if (the_relay != NULL)
        lsn_relay_stop(the_relay);
}

static void
on_hup(int sig)
{
    (void)sig;
    if (the_relay != NULL)
        lsn_relay_reload(the_relay);
}

static void
signals_set(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* A write past RLIMIT_FSIZE is a failed commit (EFBIG, answered and
     * then fatal, docs/relay.md "Store"), not a silent kill. */
    sigaction(SIGXFSZ, &sa, NULL);
}

/* No core files: the relay's key is in memory. */
static void
core_off(void)
{
    struct rlimit rl = { 0, 0 };

    setrlimit(RLIMIT_CORE, &rl);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* The roster and key files as the relay reads them at start: the roster
 * verifies, the key is a relay key stored without a passphrase, and the
 * roster lists it.  Each problem is one line on stderr; 0 if none. */
static int
check_files(const struct lsn_relay_config *c)
{
    struct lsn_roster *ro = NULL;
    uint8_t *bin = NULL, *sk = NULL, pk[32];
    size_t len = 0;
    int r, bad = 0, listed = 0;

    if ((r = lsn_signed_file_read(c->roster, LSN_TYPE_ROSTER, &bin, &len)) != 0 ||
        (r = lsn_roster_parse(bin, len, &ro)) != 0 ||
        (r = lsn_roster_verify(ro, lsn_now())) != 0) {
        fprintf(stderr, "liaison-relay: roster %s: %s%s\n", c->roster, lsn_strerror(r),
                r == LSN_ERR_NOT_FOUND ? " (the roster the authorities signed "
                "with `liaison-keys roster sign`)" : "");
        bad = 1;
    }
    if ((r = lsn_secret_read(c->key, LSN_KEY_RELAY, NULL, &sk, &len)) != 0 || len != 32) {
        fprintf(stderr, "liaison-relay: key %s: %s%s\n", c->key,
                r != 0 ? lsn_strerror(r) : "not a 32-byte X25519 secret",
                r == LSN_ERR_NOT_FOUND ? " (make one with `liaison-keys relay new`)"
                : r == LSN_ERR_NEED_PASSPHRASE || r == LSN_ERR_PASSPHRASE
                ? " (a relay key is stored without a passphrase: `liaison-keys "
                  "relay new` makes one so)" : "");
        bad = 1;
    } else if (ro != NULL && !bad) {
        crypto_scalarmult_base(pk, sk);
        for (size_t i = 0; i < ro->r->n_relays; i++)
            listed |= ro->r->relays[i]->curve_key.len == 32 &&
                      sodium_memcmp(ro->r->relays[i]->curve_key.data, pk, 32) == 0;
        if (!listed) {
            fprintf(stderr, "liaison-relay: key %s is not listed in roster v%llu: "
                    "add it with `liaison-keys roster add-relay`\n", c->key,
                    (unsigned long long)ro->r->version);
            bad = 1;
        }
    }
    if (sk != NULL)
        lsn_secret_free(sk);
    lsn_roster_destroy(&ro);
    free(bin);
    lsn_set_detail("%s", "");
    return bad ? -1 : 0;
}

static int
check_config(const char *path)
{
    struct lsn_relay_config c;
    int r;

    lsn_relay_config_defaults(&c);
    if ((r = lsn_relay_config_load(&c, path)) != 0 ||
        (r = lsn_relay_config_check(&c)) != 0) {
        fprintf(stderr, "liaison-relay: %s: %s\n", lsn_strerror(r), lsn_detail());
        return 2;
    }
    if (check_files(&c) != 0)
        return 2;
    lsn_relay_config_print(&c, stdout);
    printf("# %s: valid\n", path);
    return 0;
}

/* liaison-relay import: exit 0 stored (or already held), 1 refused, 2 the
 * relay or its files cannot be used. */
static int
import(const struct lsn_relay_config *cfg, const char *path)
{
    int in_use = 0, r = lsn_relay_import(cfg, path, &in_use);

    if (r == 0) {
        printf("%s: imported into %s\n", path, cfg->data);
        return 0;
    }
    if (in_use) {
        fprintf(stderr, "liaison-relay: %s is held by the running relay: copy %s to "
                "%s/%s/ (its name ending in .signed) and send the relay SIGHUP; it "
                "imports the file and logs the outcome\n", cfg->data, path, cfg->data,
                LSN_RELAY_IMPORT_DIR);
        return 2;
    }
    fprintf(stderr, "liaison-relay: import: %s: %s\n", lsn_strerror(r), lsn_detail());
    return r == LSN_ERR_IO || r == LSN_ERR_NOT_FOUND || r == LSN_ERR_NOMEM ? 2 : 1;
}

int
main(int argc, char **argv)
{
    /* The relay's options, and import's: no endpoint, no log. */
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "data", required_argument, NULL, 'd' },
        { "roster", required_argument, NULL, 'r' },
        { "key", required_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { "listen", required_argument, NULL, 'l' },
        { "syslog", no_argument, NULL, 's' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    static const struct option import_opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "data", required_argument, NULL, 'd' },
        { "roster", required_argument, NULL, 'r' },
        { "key", required_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct lsn_relay_config cfg;
    const char *config = NULL, *over[4] = { NULL, NULL, NULL, NULL };
    static const char *const over_keys[4] = { "listen", "data", "roster", "key" };
    int c, r, use_syslog = 0, importing = 0;

    core_off();
    if (sodium_init() < 0) {
        fputs("liaison-relay: libsodium failed to initialise\n", stderr);
        return 2;
    }
    if (argc >= 2 && strcmp(argv[1], "import") == 0) {
        importing = 1;
        argc--;
        argv++;
    } else if (argc >= 2 && strcmp(argv[1], "check-config") == 0) {
        /* It takes no option but --help: the file says everything. */
        for (int i = 2; i < argc; i++) {
            int n = (int)strcspn(argv[i], "=");
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                fputs(usage, stdout);
                return 0;
            }
            if (strncmp(argv[i], "--", 2) == 0)
                return usage_error("`%.*s` is not an option of `liaison-relay "
                                   "check-config`", n > 64 ? 64 : n, argv[i]);
        }
        if (argc != 3)
            return usage_error("check-config wants one FILE");
        return check_config(argv[2]);
    }
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", importing ? import_opts : opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'l': over[0] = optarg; break;
        case 'd': over[1] = optarg; break;
        case 'r': over[2] = optarg; break;
        case 'k': over[3] = optarg; break;
        case 's': use_syslog = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf("liaison-relay %s\n", LSN_VERSION); return 0;
        default: {
            const char *a = argv[optind - 1];
            char what[128];

            lsn_bad_option(argv, what, sizeof what);
            for (const struct option *o = opts; importing && o->name != NULL; o++)
                if (strncmp(a, "--", 2) == 0 && strcspn(a + 2, "=") == strlen(o->name) &&
                    strncmp(a + 2, o->name, strlen(o->name)) == 0)
                    return usage_error("`--%s` is not an option of `liaison-relay "
                                       "import`", o->name);
            return usage_error("%s", what);
        }
        }
    }
    if (importing && optind + 1 != argc) {
        return usage_error("import wants one BUNDLE file");
    }
    if (!importing && optind != argc) {
        return usage_error("unexpected argument `%.64s`", argv[optind]);
    }
    lsn_relay_config_defaults(&cfg);
    if (config != NULL && (r = lsn_relay_config_load(&cfg, config)) != 0) {
        fprintf(stderr, "liaison-relay: %s: %s\n", lsn_strerror(r), lsn_detail());
        return 2;
    }
    for (int i = 0; i < 4; i++)
        if (over[i] != NULL && lsn_relay_config_set(&cfg, over_keys[i], over[i]) != 0) {
            fprintf(stderr, "liaison-relay: --%s: %s\n", over_keys[i], lsn_detail());
            return 2;
        }
    if (importing)
        return import(&cfg, argv[optind]);
    if (use_syslog)
        cfg.use_syslog = 1;
    if (cfg.use_syslog) {
        openlog("liaison-relay", LOG_PID, LOG_DAEMON);
        lsn_relay_log_syslog(1);
    }
    if ((r = lsn_relay_new(&cfg, &the_relay)) != 0) {
        fprintf(stderr, "liaison-relay: cannot start: %s: %s\n", lsn_strerror(r), lsn_detail());
        return 1;
    }
    signals_set();
    r = lsn_relay_run(the_relay);
    lsn_relay_destroy(&the_relay);
    return r == 0 ? 0 : 1;
}
