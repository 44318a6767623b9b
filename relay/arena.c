/* arena.c: the memory of the response being built.  Handlers allocate
 * what a response points to here, and keep decoded messages and fetched
 * items it borrows from; it is all freed once the response is encoded. */
#include <stdlib.h>

#include "proto/err.h"
#include "relay/arena.h"

/* ---------------------------------------------------------- arena */

void *
lsn_arena_alloc(struct lsn_relay *r, size_t n)
{
    void *p;

    if (r->n_arena == r->cap_arena) {
        size_t cap = r->cap_arena ? 2 * r->cap_arena : 64;
        void **a = realloc(r->arena, cap * sizeof *a);
        if (a == NULL)
            return NULL;
        r->arena = a;
        r->cap_arena = cap;
    }
    if ((p = calloc(1, n ? n : 1)) == NULL)
        return NULL;
    r->arena[r->n_arena++] = p;
    return p;
}

int
lsn_arena_keep(struct lsn_relay *r, ProtobufCMessage *m)
{
    if (r->n_pbs == r->cap_pbs) {
        size_t cap = r->cap_pbs ? 2 * r->cap_pbs : 16;
        ProtobufCMessage **a = realloc(r->pbs, cap * sizeof *a);
        if (a == NULL) {
            lsn_pb_free(m);
            return LSN_ERR_NOMEM;
        }
        r->pbs = a;
        r->cap_pbs = cap;
    }
    r->pbs[r->n_pbs++] = m;
    return 0;
}

void
lsn_relay_response_free(struct lsn_relay *r)
{
    for (size_t i = 0; i < r->n_pbs; i++)
        lsn_pb_free(r->pbs[i]);
    r->n_pbs = 0;
    for (size_t i = 0; i < r->n_arena; i++)
        free(r->arena[i]);
    r->n_arena = 0;
    lsn_store_items_free(r->items, r->n_items);
    r->items = NULL;
    r->n_items = 0;
}
