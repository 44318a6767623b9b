/* cli.c: plumbing shared by the `liaison` commands: the profile, org
 * lists, ids and times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/cli/cli.h"
#include "client/cli/cmd_agent.h"
#include "keys/pass.h"
#include "keys/progress.h"
#include "keys/util.h"
#include "proto/err.h"

const char *cli_home;
const char *cli_pass_file;

int
cli_open(struct lsn_client **c)
{
    char dir[PATH_MAX];
    int prot = 0, r;

    *c = NULL;
    if ((r = lsn_profile_dir(cli_home, dir, sizeof dir)) != 0)
        return lsn_cli_fail(r, "no profile");
    if ((r = lsn_profile_is_protected(dir, &prot)) != 0) {
        if (r == LSN_ERR_NOT_FOUND)
            lsn_set_detail("set one up with `liaison init --credential FILE`");
        if (r == LSN_ERR_PERMISSIONS)
            return lsn_cli_fail(r, "refusing the profile in %s", dir);
        return lsn_cli_fail(r, "no profile in %s", dir);
    }
    /* The unlock agent's credential, else the passphrase (three tries). */
    if ((r = cli_open_unlocked(dir, prot, c)) != 0)
        return r;
    /* Shown only where the command's lsn_progress_init allowed it. */
    (*c)->progress = lsn_progress_cb;
    return 0;
}

int
cli_split_orgs(const char *list, char **buf, const char **out, size_t max,
               size_t *n)
{
    char *save = NULL, *tok;

    *n = 0;
    if ((*buf = strdup(list)) == NULL)
        return LSN_ERR_NOMEM;
    for (tok = strtok_r(*buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (*n == max) {
            lsn_set_detail("at most %zu recipient orgs", max);
            return LSN_ERR_LIMIT;
        }
        out[(*n)++] = tok;
    }
    if (*n == 0) {
        lsn_set_detail("no org named");
        return LSN_ERR_USAGE;
    }
    return 0;
}

int
cli_colour(void)
{
    static int decided = -1;
    const char *term = getenv("TERM");

    if (decided < 0)
        decided = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL &&
                  !(term != NULL && strcmp(term, "dumb") == 0);
    return decided;
}

const char *
cli_mark(int priority, int tlp)
{
    int urgent = priority == LIAISON__PRIORITY__PRIORITY_URGENT;
    int red = tlp == LIAISON__TLP__TLP_RED;

    if ((!urgent && !red) || !cli_colour())
        return "";
    return urgent && red ? "\033[1;31m" : urgent ? "\033[1m" : "\033[31m";
}

void
cli_hex_id(char out[33], const uint8_t id[16])
{
    lsn_hex(out, id, 16);
}

const char *
cli_time(int64_t t, char buf[21])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, 21, "%lld", (long long)t);
    return buf;
}

int
cli_parse_date(const char *s, int64_t *out)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof tm);
    if ((end = strptime(s, "%Y-%m-%d", &tm)) == NULL)
        return LSN_ERR_INVALID;
    if (*end == 'T' && (end = strptime(end + 1, "%H:%M:%S", &tm)) != NULL &&
        *end == 'Z')
        end++;
    if (end == NULL || *end != '\0' || tm.tm_year < 70)
        return LSN_ERR_INVALID;
    *out = (int64_t)timegm(&tm);
    return 0;
}
