/* msgidx.c: the in-memory index of message records (msgidx.h): open
 * addressing with linear probing, deletion by shifting back (no
 * tombstones), at most half full, and a log of changes to take back. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/err.h"
#include "relay/msgidx.h"

#define FIRST_SLOTS 1024u       /* a power of two */

struct slot {
    uint64_t h;                 /* 0: empty */
    uint64_t num;
};

struct change {
    uint64_t h, num;
    int added;
};

struct lsn_msgidx {
    struct slot *slot;
    size_t mask, n;
    struct change *log;
    size_t n_log, cap_log;
    uint8_t key[crypto_shorthash_KEYBYTES];
};

int
lsn_msgidx_new(struct lsn_msgidx **out)
{
    struct lsn_msgidx *x;

    *out = NULL;
    if ((x = calloc(1, sizeof *x)) == NULL ||
        (x->slot = calloc(FIRST_SLOTS, sizeof *x->slot)) == NULL) {
        free(x);
        return LSN_ERR_NOMEM;
    }
    x->mask = FIRST_SLOTS - 1;
    crypto_shorthash_keygen(x->key);
    *out = x;
    return 0;
}

void
lsn_msgidx_free(struct lsn_msgidx **xp)
{
    struct lsn_msgidx *x = *xp;

    if (x == NULL)
        return;
    free(x->slot);
    free(x->log);
    sodium_memzero(x, sizeof *x);
    free(x);
    *xp = NULL;
}

uint64_t
lsn_msgidx_hash(const struct lsn_msgidx *x, const uint8_t *key, size_t len)
{
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t h;

    crypto_shorthash(out, key, len, x->key);
    memcpy(&h, out, sizeof h);
    return h != 0 ? h : 1;
}

/* Files (h, num) in the first free slot of its run (one is always free). */
static void
place(struct lsn_msgidx *x, uint64_t h, uint64_t num)
{
    size_t i = h & x->mask;

    while (x->slot[i].h != 0)
        i = (i + 1) & x->mask;
    x->slot[i] = (struct slot){ h, num };
    x->n++;
}

/* The slot holding (h, num), or SIZE_MAX. */
static size_t
find(const struct lsn_msgidx *x, uint64_t h, uint64_t num)
{
    for (size_t i = h & x->mask; x->slot[i].h != 0; i = (i + 1) & x->mask)
        if (x->slot[i].h == h && x->slot[i].num == num)
            return i;
    return SIZE_MAX;
}

/* Empties slot i, moving back the entries after it that probed past it,
 * so every entry stays reachable from its home slot. */
static void
remove_at(struct lsn_msgidx *x, size_t i)
{
    for (size_t j = (i + 1) & x->mask; x->slot[j].h != 0; j = (j + 1) & x->mask) {
        size_t home = x->slot[j].h & x->mask;
        /* j's entry may move to i unless its home lies in (i, j]. */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            x->slot[i] = x->slot[j];
            i = j;
        }
    }
    x->slot[i].h = 0;
    x->n--;
}

static int
grow(struct lsn_msgidx *x)
{
    size_t old = x->mask + 1;
    struct slot *was = x->slot, *now;

    if ((now = calloc(2 * old, sizeof *now)) == NULL)
        return LSN_ERR_NOMEM;
    x->slot = now;
    x->mask = 2 * old - 1;
    x->n = 0;
    for (size_t i = 0; i < old; i++)
        if (was[i].h != 0)
            place(x, was[i].h, was[i].num);
    free(was);
    return 0;
}

/* Makes room for one more logged change. */
static int
log_reserve(struct lsn_msgidx *x)
{
    struct change *n;
    size_t cap;

    if (x->n_log < x->cap_log)
        return 0;
    cap = x->cap_log != 0 ? 2 * x->cap_log : 256;
    if ((n = realloc(x->log, cap * sizeof *n)) == NULL)
        return LSN_ERR_NOMEM;
    x->log = n;
    x->cap_log = cap;
    return 0;
}

int
lsn_msgidx_reserve(struct lsn_msgidx *x)
{
    if (log_reserve(x) != 0 || (2 * (x->n + 1) > x->mask + 1 && grow(x) != 0))
        return LSN_ERR_NOMEM;
    return 0;
}

int
lsn_msgidx_add(struct lsn_msgidx *x, uint64_t h, uint64_t num)
{
    if (lsn_msgidx_reserve(x) != 0)
        return LSN_ERR_NOMEM;
    place(x, h, num);
    x->log[x->n_log++] = (struct change){ h, num, 1 };
    return 0;
}

int
lsn_msgidx_del(struct lsn_msgidx *x, uint64_t h, uint64_t num)
{
    size_t i = find(x, h, num);

    if (i == SIZE_MAX)
        return 0;
    if (log_reserve(x) != 0)
        return LSN_ERR_NOMEM;
    remove_at(x, i);
    x->log[x->n_log++] = (struct change){ h, num, 0 };
    return 0;
}

int
lsn_msgidx_next(const struct lsn_msgidx *x, uint64_t h, size_t *pos, uint64_t *num)
{
    while (*pos <= x->mask) {
        const struct slot *sl = &x->slot[(h + *pos) & x->mask];
        if (sl->h == 0)
            return 0;
        (*pos)++;
        if (sl->h == h) {
            *num = sl->num;
            return 1;
        }
    }
    return 0;
}

size_t
lsn_msgidx_mark(const struct lsn_msgidx *x)
{
    return x->n_log;
}

/* Taking back a removal re-files an entry the table held a moment before,
 * with no more entries than then and no fewer slots: it always fits. */
void
lsn_msgidx_undo(struct lsn_msgidx *x, size_t mark)
{
    while (x->n_log > mark) {
        const struct change *c = &x->log[--x->n_log];
        size_t i;
        if (!c->added)
            place(x, c->h, c->num);
        else if ((i = find(x, c->h, c->num)) != SIZE_MAX)
            remove_at(x, i);
    }
}

void
lsn_msgidx_keep(struct lsn_msgidx *x)
{
    x->n_log = 0;
}

size_t
lsn_msgidx_count(const struct lsn_msgidx *x)
{
    return x->n;
}
