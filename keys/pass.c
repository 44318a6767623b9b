/* pass.c: passphrases from a file or the terminal (see pass.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/pass.h"
#include "keys/progress.h"
#include "keys/util.h"
#include "proto/err.h"

int
lsn_pass_read_file(const char *file, char **out)
{
    uint8_t *buf = NULL;
    size_t n = 0, len;
    char *p;
    int r;

    *out = NULL;
    if ((r = lsn_file_read(file, LSN_PASS_MAX, &buf, &n)) != 0)
        return r;
    len = strcspn((char *)buf, "\r\n");
    p = len > 0 ? sodium_malloc(len + 1) : NULL;
    if (p != NULL) {
        memcpy(p, buf, len);
        p[len] = '\0';
    }
    sodium_memzero(buf, n);
    free(buf);
    if (len == 0) {
        lsn_set_detail("passphrase file %.200s is empty", file);
        return LSN_ERR_INVALID;
    }
    if (p == NULL)
        return LSN_ERR_NOMEM;
    *out = p;
    return 0;
}

int
lsn_pass_read_tty(const char *prompt, char **out)
{
    struct termios old, quiet;
    char *p = NULL;
    size_t len = 0;
    int fd, r = LSN_ERR_IO, too_long = 0;

    *out = NULL;
    if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0) {
        lsn_set_detail("no terminal to ask for a passphrase: use --passphrase-file FILE");
        return LSN_ERR_USAGE;
    }
    if ((p = sodium_malloc(LSN_PASS_MAX + 1)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    if (tcgetattr(fd, &old) != 0)
        goto out;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    if (write(fd, prompt, strlen(prompt)) < 0 ||
        tcsetattr(fd, TCSAFLUSH, &quiet) != 0)
        goto out;
    for (;;) {
        char c;
        ssize_t k;
        if (lsn_interrupted())
            break;
        k = read(fd, &c, 1);
        if (k < 0 && errno == EINTR && !lsn_interrupted())
            continue;
        if (k <= 0 || c == '\n' || c == '\r')
            break;
        if (len < LSN_PASS_MAX)
            p[len++] = c;
        else
            too_long = 1;
    }
    p[len] = '\0';
    (void)tcsetattr(fd, TCSAFLUSH, &old);
    (void)!write(fd, "\n", 1);
    if (lsn_interrupted()) {
        r = LSN_ERR_INTERRUPTED;
        goto out;
    }
    if (len == 0 || too_long) {
        /* A cut passphrase would silently differ from the one typed. */
        if (too_long)
            lsn_set_detail("passphrase longer than %d bytes", LSN_PASS_MAX);
        else
            lsn_set_detail("empty passphrase");
        r = too_long ? LSN_ERR_TOO_LARGE : LSN_ERR_INVALID;
        goto out;
    }
    *out = p;
    p = NULL;
    r = 0;
out:
    if (p != NULL)
        sodium_free(p);     /* which wipes it */
    close(fd);
    return r;
}

size_t
lsn_pass_chars(const char *p)
{
    size_t n = 0;

    for (; *p != '\0'; p++)
        n += ((unsigned char)*p & 0xc0) != 0x80;   /* not a continuation byte */
    return n;
}

void
lsn_pass_warn_short(const char *prog, const char *p)
{
    size_t n = lsn_pass_chars(p);

    if (n < LSN_PASS_ADVISED)
        fprintf(stderr, "%s: warning: the new passphrase has only %zu "
                "characters; %d or more (a few words) are much harder to "
                "guess\n", prog, n, LSN_PASS_ADVISED);
}

void
lsn_pass_free(char **p)
{
    if (*p != NULL)
        sodium_free(*p);
    *p = NULL;
}
