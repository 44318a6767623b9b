/* err.c: sentences for the LSN_ERR_* codes. */
#include "proto/err.h"

const char *
lsn_strerror(int err)
{
    switch (err) {
    case LSN_OK:
        return "success";
#define LSN_ERR_CASE(name, value, text) case name: return text;
    LSN_ERRORS(LSN_ERR_CASE)
#undef LSN_ERR_CASE
    default:
        return "unknown error";
    }
}
