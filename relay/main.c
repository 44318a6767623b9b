/* main.c: liaison-relay, the command line around relay/relay.c: options,
 * signals, core dumps off, and check-config. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <syslog.h>

#include <sodium.h>

#include "keys/util.h"
#include "proto/err.h"
#include "relay/config.h"
#include "relay/relay.h"

static const char usage[] =
    "usage: liaison-relay [--config FILE] [--listen tcp://HOST:PORT] [--data DIR]\n"
    "                     [--roster FILE] [--key FILE] [--syslog]\n"
    "       liaison-relay check-config FILE\n"
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
    "check-config prints the effective settings and exits 0 if they are valid.\n"
    "SIGTERM or SIGINT: finish the commit in progress and exit 0.\n"
    "A failed store commit (disk full, write or fsync error) is answered\n"
    "UNAVAILABLE and stops the relay with exit status 1: check the disk and\n"
    "restart it.\n";

static struct lsn_relay *the_relay;

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
    lsn_relay_config_print(&c, stdout);
    printf("# %s: valid\n", path);
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "listen", required_argument, NULL, 'l' },
        { "data", required_argument, NULL, 'd' },
        { "roster", required_argument, NULL, 'r' },
        { "key", required_argument, NULL, 'k' },
        { "syslog", no_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct lsn_relay_config cfg;
    const char *config = NULL, *over[4] = { NULL, NULL, NULL, NULL };
    static const char *const over_keys[4] = { "listen", "data", "roster", "key" };
    int c, r, use_syslog = 0;

    core_off();
    if (sodium_init() < 0) {
        fputs("liaison-relay: libsodium failed to initialise\n", stderr);
        return 2;
    }
    if (argc >= 2 && strcmp(argv[1], "check-config") == 0) {
        if (argc != 3) {
            fputs(usage, stderr);
            return 2;
        }
        return check_config(argv[2]);
    }
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'l': over[0] = optarg; break;
        case 'd': over[1] = optarg; break;
        case 'r': over[2] = optarg; break;
        case 'k': over[3] = optarg; break;
        case 's': use_syslog = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "liaison-relay: unexpected argument `%s`\n\n%s", argv[optind], usage);
        return 2;
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
