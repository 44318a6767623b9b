/* cli.c: plumbing shared by the `liaison` commands: the profile, org
 * lists, ids and times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/cli/cli.h"
#include "keys/pass.h"
#include "keys/progress.h"
#include "keys/util.h"
#include "proto/err.h"

const char *cli_home;
const char *cli_pass_file;

int
cli_open(struct lsn_client **c)
{
    char dir[PATH_MAX], *pass = NULL, prompt[PATH_MAX + 40];
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
    if (prot) {
        snprintf(prompt, sizeof prompt, "Passphrase for the credential in %s: ", dir);
        r = cli_pass_file ? lsn_pass_read_file(cli_pass_file, &pass)
                          : lsn_pass_read_tty(prompt, &pass);
        /* Interrupted at the prompt: the command says what that means. */
        if (r == LSN_ERR_INTERRUPTED)
            return lsn_cli_exit_for(r, 0);
        if (r != 0)
            return lsn_cli_fail(r, "passphrase");
    }
    r = lsn_client_open(dir, pass, c);
    lsn_pass_free(&pass);
    if (r != 0)
        return lsn_cli_fail(r, "cannot open the profile in %s", dir);
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
