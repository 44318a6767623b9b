/* config.c: the relay configuration file (config.h).  One table lists
 * every key with its field, its default and its range, so defaults, the
 * parser, check-config and the example file cannot drift apart. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/util.h"
#include "proto/err.h"
#include "proto/limits.h"
#include "relay/config.h"

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)

struct num_key {
    const char *name;
    size_t off;
    uint64_t def, min, max;
};

#define F(field) offsetof(struct lsn_relay_config, field)

static const struct num_key nums[] = {
    { "max_envelope",          F(max_envelope),       LSN_ENVELOPE_MAX, 1024, LSN_ENVELOPE_MAX },
    { "max_recipients",        F(max_recipients),     LSN_MAX_RECIPIENTS, 1, LSN_MAX_RECIPIENTS },
    { "max_ttl",               F(max_ttl),            LSN_MAX_TTL, 60, LSN_MAX_TTL },
    { "rate",                  F(rate),               5000, 1, 1000000 },
    { "burst",                 F(burst),              20000, 1, 10000000 },
    { "sender_quota_messages", F(sender_msgs),        1000000, 1, UINT64_MAX / 2 },
    { "sender_quota_bytes",    F(sender_bytes),       4 * GIB, 1024, UINT64_MAX / 2 },
    { "recipient_quota_messages", F(recipient_msgs),  1000000, 1, UINT64_MAX / 2 },
    { "recipient_quota_bytes", F(recipient_bytes),    4 * GIB, 1024, UINT64_MAX / 2 },
    { "device_backlog",        F(device_backlog),     200000, 1, UINT64_MAX / 2 },
    { "recipient_share_percent", F(recipient_share),  25, 1, 100 },
    { "bootstrap_per_minute",  F(bootstrap_per_minute), 10, 0, 100000 },
    { "bootstrap_total_per_minute", F(bootstrap_total_per_minute), 120, 1, 1000000 },
    { "bootstrap_max_bytes",   F(bootstrap_max_bytes), 64 * KIB, 1024, 4 * MIB },
    { "map_size",              F(map_size),           16 * GIB, 16 * MIB, 1024 * GIB },
    { "heartbeat_ms",          F(heartbeat_ms),       10000, 100, 3600000 },
    { "handshake_ms",          F(handshake_ms),       5000, 100, 600000 },
    { "fetch_max",             F(fetch_max),          256, 1, 65536 },
    { "batch_max",             F(batch_max),          4096, 1, 1000000 },
    { "max_connections",       F(max_connections),    10000, 1, 10000000 },
    { "max_pending",           F(max_pending),        1000, 16, 100000 },
    { "batch_max_bytes",       F(batch_max_bytes),    64 * MIB, 1 * MIB, 4 * GIB },
    { "peer_window",           F(peer_window),        256, 1, 65536 },
    { "peer_timeout_ms",       F(peer_timeout_ms),    15000, 100, 3600000 },
    { "peer_backoff_ms",       F(peer_backoff_ms),    200, 10, 600000 },
    { "peer_backoff_max_ms",   F(peer_backoff_max_ms), 30000, 10, 3600000 },
    { "peer_status_wait_ms",   F(peer_status_wait_ms), 2000, 0, 60000 },
};

struct str_key {
    const char *name;
    size_t off, size;
};

static const struct str_key strs[] = {
    { "listen", F(listen), sizeof ((struct lsn_relay_config *)0)->listen },
    { "data",   F(data),   sizeof ((struct lsn_relay_config *)0)->data },
    { "roster", F(roster), sizeof ((struct lsn_relay_config *)0)->roster },
    { "key",    F(key),    sizeof ((struct lsn_relay_config *)0)->key },
};

void
lsn_relay_config_defaults(struct lsn_relay_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        *(uint64_t *)((char *)c + nums[i].off) = nums[i].def;
}

static int
parse_u64(const char *v, uint64_t *out)
{
    char *end;
    unsigned long long x;
    uint64_t mult = 1;

    if (*v < '0' || *v > '9')
        return LSN_ERR_INVALID;
    errno = 0;
    x = strtoull(v, &end, 10);
    if (errno != 0)
        return LSN_ERR_INVALID;
    if (*end == 'k' || *end == 'K') { mult = KIB; end++; }
    else if (*end == 'm' || *end == 'M') { mult = MIB; end++; }
    else if (*end == 'g' || *end == 'G') { mult = GIB; end++; }
    if (*end != '\0' || (x != 0 && mult > UINT64_MAX / x))
        return LSN_ERR_INVALID;
    *out = x * mult;
    return 0;
}

int
lsn_relay_config_set(struct lsn_relay_config *c, const char *key,
                     const char *value)
{
    uint64_t x;

    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strcmp(key, strs[i].name) == 0) {
            if (strlen(value) >= strs[i].size || value[0] == '\0') {
                lsn_set_detail("`%s`: empty or too long", key);
                return LSN_ERR_INVALID;
            }
            memcpy((char *)c + strs[i].off, value, strlen(value) + 1);
            return 0;
        }
    if (strcmp(key, "syslog") == 0) {
        if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0) {
            lsn_set_detail("`syslog %s`: use yes or no", value);
            return LSN_ERR_INVALID;
        }
        c->use_syslog = strcmp(value, "yes") == 0;
        return 0;
    }
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (strcmp(key, nums[i].name) == 0) {
            if (parse_u64(value, &x) != 0 || x < nums[i].min || x > nums[i].max) {
                lsn_set_detail("`%s %s`: want a number from %llu to %llu "
                               "(k, M, G suffixes allowed)", key, value,
                               (unsigned long long)nums[i].min,
                               (unsigned long long)nums[i].max);
                return LSN_ERR_INVALID;
            }
            *(uint64_t *)((char *)c + nums[i].off) = x;
            return 0;
        }
    lsn_set_detail("unknown setting `%s`", key);
    return LSN_ERR_INVALID;
}

int
lsn_relay_config_parse(struct lsn_relay_config *c, const char *text, size_t len,
                       const char *name)
{
    char *buf, *line, *next;
    int lineno = 0, r = 0;

    if (len > LSN_RELAY_CONFIG_MAX) {
        lsn_set_detail("config %s: larger than %u bytes", name, LSN_RELAY_CONFIG_MAX);
        return LSN_ERR_INVALID;
    }
    if (memchr(text, '\0', len) != NULL) {
        lsn_set_detail("config %s: holds a NUL byte (not a text file)", name);
        return LSN_ERR_INVALID;
    }
    if ((buf = malloc(len + 1)) == NULL)
        return LSN_ERR_NOMEM;
    memcpy(buf, text, len);
    buf[len] = '\0';
    for (line = buf; line != NULL && r == 0; line = next) {
        char *k, *v, *end;
        if ((next = strchr(line, '\n')) != NULL)
            *next++ = '\0';
        lineno++;
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line == '#' || *line == '\0' || *line == '\r')
            continue;
        k = line;
        for (v = k; *v != '\0' && *v != ' ' && *v != '\t'; v++)
            ;
        if (*v != '\0')
            *v++ = '\0';
        while (*v == ' ' || *v == '\t')
            v++;
        end = v + strlen(v);
        while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            *--end = '\0';
        if ((r = lsn_relay_config_set(c, k, v)) != 0) {
            char d[300];
            snprintf(d, sizeof d, "%s", lsn_detail());
            lsn_set_detail("config %s, line %d: %s", name, lineno, d);
        }
    }
    free(buf);
    return r;
}

int
lsn_relay_config_load(struct lsn_relay_config *c, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int r;

    if ((r = lsn_file_read(path, LSN_RELAY_CONFIG_MAX, &buf, &len)) != 0) {
        lsn_set_detail("config %s: cannot read it (or larger than %u bytes)", path,
                       LSN_RELAY_CONFIG_MAX);
        return r;
    }
    r = lsn_relay_config_parse(c, (const char *)buf, len, path);
    free(buf);
    return r;
}

int
lsn_relay_config_check(const struct lsn_relay_config *c)
{
    const char *missing = c->listen[0] == '\0' ? "listen"
                          : c->data[0] == '\0' ? "data"
                          : c->roster[0] == '\0' ? "roster"
                          : c->key[0] == '\0' ? "key" : NULL;

    if (missing != NULL) {
        lsn_set_detail("`%s` is not set (config file or --%s)", missing, missing);
        return LSN_ERR_INVALID;
    }
    if (strncmp(c->listen, "tcp://", 6) != 0) {
        lsn_set_detail("listen `%s`: want tcp://HOST:PORT", c->listen);
        return LSN_ERR_INVALID;
    }
    if (c->burst < c->rate / 10 + 1 && c->burst < 1) {
        lsn_set_detail("burst must be at least 1");
        return LSN_ERR_INVALID;
    }
    if (c->device_backlog > c->recipient_msgs) {
        lsn_set_detail("device_backlog (%llu) above recipient_quota_messages (%llu): "
                       "one dead device would block its org",
                       (unsigned long long)c->device_backlog,
                       (unsigned long long)c->recipient_msgs);
        return LSN_ERR_INVALID;
    }
    if (c->bootstrap_max_bytes > c->max_envelope + 4096 && c->bootstrap_max_bytes > 4 * MIB) {
        lsn_set_detail("bootstrap_max_bytes too large");
        return LSN_ERR_INVALID;
    }
    return 0;
}

void
lsn_relay_config_print(const struct lsn_relay_config *c, FILE *f)
{
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        fprintf(f, "%s %s\n", strs[i].name, (const char *)c + strs[i].off);
    fprintf(f, "syslog %s\n", c->use_syslog ? "yes" : "no");
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        fprintf(f, "%s %llu\n", nums[i].name,
                (unsigned long long)*(const uint64_t *)((const char *)c + nums[i].off));
}
