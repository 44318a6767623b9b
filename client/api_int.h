/* api_int.h: the library's handles, shared by api.c and api_lifecycle.c
 * only (include/liaison.h keeps them opaque). */
#ifndef LSN_CLIENT_API_INT_H
#define LSN_CLIENT_API_INT_H

#include "client/client.h"

struct lsn_session {
    struct lsn_client *c;
};

struct lsn_received {
    const struct lsn_message *m;
    char id[33];
    char about[33];                  /* a feedback's in_reply_to, in hex */
    char supersedes[33];             /* "" unless an update of its sender's */
    char superseded_by[33];          /* "" unless its sender superseded it */
};

#endif
