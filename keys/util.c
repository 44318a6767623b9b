/* util.c: names, time, bounded file reading, durable file writing and
 * fingerprints, shared by every layer above proto/. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/util.h"
#include "proto/err.h"

int
lsn_org_id_check(const char *id)
{
    size_t n = 0;

    if (id == NULL)
        return LSN_ERR_BAD_ORG_ID;
    for (; id[n] != '\0'; n++) {
        char c = id[n];
        if (n >= LSN_ORG_ID_MAX)
            return LSN_ERR_BAD_ORG_ID;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return LSN_ERR_BAD_ORG_ID;
    }
    return n == 0 ? LSN_ERR_BAD_ORG_ID : 0;
}

int
lsn_name_check(const char *name)
{
    size_t n = 0;

    if (name == NULL)
        return LSN_ERR_INVALID;
    for (; name[n] != '\0'; n++) {
        char c = name[n];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (n >= LSN_NAME_MAX)
            return LSN_ERR_INVALID;
        if (!alnum && (n == 0 || (c != '.' && c != '_' && c != '-')))
            return LSN_ERR_INVALID;
    }
    return n == 0 ? LSN_ERR_INVALID : 0;
}

static _Thread_local char detail[256];

const char *
lsn_detail(void)
{
    return detail;
}

void
lsn_set_detail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
}

void
lsn_usage_command(const char *usage, char *out, size_t n)
{
    const char *p = usage, *end;
    size_t len = 0;

    if (strncmp(p, "usage: ", 7) == 0)
        p += 7;
    /* Words of [a-z0-9-] starting with a letter; stop at the first
     * placeholder (NAME), option ([--x]) or end of line. */
    for (end = p;;) {
        const char *w = end;

        if (*w < 'a' || *w > 'z')
            break;
        while ((*w >= 'a' && *w <= 'z') || (*w >= '0' && *w <= '9') || *w == '-')
            w++;
        if (*w != ' ' && *w != '\n' && *w != '\0')
            break;
        len = (size_t)(w - p);
        if (*w != ' ')
            break;
        end = w + 1;
    }
    snprintf(out, n, "%.*s", (int)len, p);
}

void
lsn_bad_option(char **argv, char *out, size_t n)
{
    const char *a = optind > 0 ? argv[optind - 1] : NULL;
    size_t len;

    if (a == NULL || a[0] != '-') {
        snprintf(out, n, "unknown option");
        return;
    }
    len = strcspn(a, "=");
    /* glibc leaves optopt 0 for an unknown long option and sets it to
     * the option's value for a known one missing its argument. */
    if (optopt != 0 && a[1] == '-')
        snprintf(out, n, "`%.*s` needs a value", (int)(len > 64 ? 64 : len), a);
    else
        snprintf(out, n, "unknown option `%.*s`", (int)(len > 64 ? 64 : len), a);
}

int64_t
lsn_now(void)
{
    return (int64_t)time(NULL);
}

/* Refuses a secret file that others may read or write, as ssh does, with
 * the chmod that fixes it. */
static int
secret_mode_check(const char *path, const struct stat *st)
{
    if ((st->st_mode & 077) == 0)
        return 0;
    lsn_set_detail("%.300s is %s by %s (mode %04o); it holds a secret key: "
                   "`chmod 600 %.300s`", path,
                   (st->st_mode & 022) ? "writable" : "readable",
                   (st->st_mode & 070) && (st->st_mode & 007) ? "group and others"
                   : (st->st_mode & 070) ? "its group" : "others",
                   (unsigned)(st->st_mode & 07777), path);
    return LSN_ERR_PERMISSIONS;
}

static int
file_read(const char *path, size_t max, int secret, uint8_t **out, size_t *len)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t got = 0;
    int fd = -1, r = LSN_ERR_IO;

    *out = NULL;
    *len = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? LSN_ERR_NOT_FOUND : LSN_ERR_IO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    if (secret && (r = secret_mode_check(path, &st)) != 0) {
        st.st_size = 0;
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        r = LSN_ERR_TOO_LARGE;
        goto out;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    /* Read to EOF but never past the size we allocated for. */
    for (;;) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        got += (size_t)n;
        if (got > (size_t)st.st_size) {
            r = LSN_ERR_TOO_LARGE;   /* grew while we read */
            goto out;
        }
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    buf = NULL;
    r = 0;
out:
    if (buf != NULL) {
        sodium_memzero(buf, (size_t)st.st_size + 1);
        free(buf);
    }
    close(fd);
    return r;
}

int
lsn_file_read(const char *path, size_t max, uint8_t **out, size_t *len)
{
    return file_read(path, max, 0, out, len);
}

int
lsn_secret_file_read(const char *path, size_t max, uint8_t **out, size_t *len)
{
    return file_read(path, max, 1, out, len);
}

static int
write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return LSN_ERR_IO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync the folder holding path, so a new name survives a crash. */
static void
sync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd;

    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static int
write_new(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd, r;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return errno == EEXIST ? LSN_ERR_EXISTS : LSN_ERR_IO;
    /* The umask may have narrowed the mode; a secret must be exactly 0600. */
    if ((r = fchmod(fd, mode) != 0 ? LSN_ERR_IO : 0) == 0 &&
        (r = write_all(fd, data, len)) == 0 && fsync(fd) != 0)
        r = LSN_ERR_IO;
    if (close(fd) != 0 && r == 0)
        r = LSN_ERR_IO;
    if (r != 0)
        unlink(path);
    return r;
}

int
lsn_file_write(const char *path, const void *data, size_t len, int flags)
{
    mode_t mode = (flags & LSN_WRITE_SECRET) ? 0600 : 0644;
    char tmp[PATH_MAX];
    int r;

    if (!(flags & LSN_WRITE_FORCE)) {
        if ((r = write_new(path, data, len, mode)) == 0)
            sync_parent(path);
        return r;
    }
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >=
        sizeof tmp)
        return LSN_ERR_TOO_LARGE;
    unlink(tmp);
    if ((r = write_new(tmp, data, len, mode)) != 0)
        return r;
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return LSN_ERR_IO;
    }
    sync_parent(path);
    return 0;
}

void
lsn_fingerprint(char out[LSN_FP_LEN], const uint8_t *key, size_t key_len)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    static const char label[] = "liaison v1 fingerprint";
    crypto_generichash_state st;
    uint8_t h[32];
    size_t o = 0;

    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof label - 1);
    crypto_generichash_update(&st, key, key_len);
    crypto_generichash_final(&st, h, sizeof h);
    /* 20 bytes = 160 bits = 32 base32 digits, shown as 8 groups of 4. */
    for (size_t i = 0; i < 32; i++) {
        size_t bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = (unsigned)h[byte] << 8 | (byte + 1 < 20 ? h[byte + 1] : 0);
        v = (v >> (11 - shift)) & 31;
        if (i > 0 && i % 4 == 0)
            out[o++] = ' ';
        out[o++] = alphabet[v];
    }
    out[o] = '\0';
}

void
lsn_hex(char *out, const uint8_t *bin, size_t len)
{
    sodium_bin2hex(out, len * 2 + 1, bin, len);
}

int
lsn_hash_field(struct crypto_generichash_blake2b_state *st, const void *data,
               size_t len)
{
    uint8_t pre[2] = { (uint8_t)(len >> 8), (uint8_t)len };

    if (len > 0xffff)
        return LSN_ERR_TOO_LARGE;
    crypto_generichash_blake2b_update(st, pre, sizeof pre);
    if (len > 0)
        crypto_generichash_blake2b_update(st, data, len);
    return 0;
}

void *
lsn_grow(void *v, size_t *cap, size_t n, size_t size, size_t first)
{
    size_t want;
    void *p;

    if (n < *cap)
        return v;
    want = *cap ? *cap * 2 : first;
    if (want < *cap || size == 0 || want > SIZE_MAX / size ||
        (p = realloc(v, want * size)) == NULL)
        return NULL;
    *cap = want;
    return p;
}
