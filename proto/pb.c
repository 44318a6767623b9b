/* pb.c: bounded, strict protobuf decoding (see pb.h for the contract). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/err.h"
#include "proto/pb.h"

/* Each allocation carries its size in front so frees need no state. */
struct budget {
    size_t used;
    size_t cap;
    int exceeded;
};

#define HDR 16  /* keeps the returned pointer 16-byte aligned */

static void *
budget_alloc(void *data, size_t size)
{
    struct budget *b = data;

    if (b != NULL) {
        if (size > b->cap || b->used > b->cap - size) {
            b->exceeded = 1;
            return NULL;
        }
        b->used += size;
    }
    unsigned char *p = malloc(size + HDR);
    if (p == NULL)
        return NULL;
    memcpy(p, &size, sizeof size);
    return p + HDR;
}

static void
budget_free(void *data, void *ptr)
{
    (void)data;
    if (ptr != NULL) {
        /* Decoded credentials hold secrets: wipe every block on release. */
        unsigned char *p = (unsigned char *)ptr - HDR;
        size_t size;
        memcpy(&size, p, sizeof size);
        sodium_memzero(p, size + HDR);
        free(p);
    }
}

static ProtobufCAllocator free_allocator = {
    .alloc = budget_alloc, .free = budget_free, .allocator_data = NULL,
};

/* True if msg or any message below it kept fields the schema lacks. */
static int
has_unknown_fields(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;

    if (msg->n_unknown_fields != 0)
        return 1;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)msg;

        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which;
            memcpy(&which, base + f->quantifier_offset, sizeof which);
            if (which != f->id)
                continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n;
            ProtobufCMessage **v;
            memcpy(&n, base + f->quantifier_offset, sizeof n);
            memcpy(&v, base + f->offset, sizeof v);
            for (size_t k = 0; k < n; k++)
                if (v[k] != NULL && has_unknown_fields(v[k]))
                    return 1;
        } else {
            ProtobufCMessage *sub;
            memcpy(&sub, base + f->offset, sizeof sub);
            if (sub != NULL && has_unknown_fields(sub))
                return 1;
        }
    }
    return 0;
}

/* A ProtobufCBuffer that compares what protobuf-c packs with the input
 * instead of storing it: re-encoding without a copy of the message. */
struct cmp_buffer {
    ProtobufCBuffer base;
    const uint8_t *want;
    size_t len, off;
    int differs;
};

static void
cmp_append(ProtobufCBuffer *b, size_t n, const uint8_t *data)
{
    struct cmp_buffer *c = (struct cmp_buffer *)b;

    /* protobuf-c appends an empty bytes field as (0, NULL): memcmp must
     * not see the NULL (undefined behaviour, which UBSan reports). */
    if (c->differs || n == 0)
        return;
    if (n > c->len - c->off || memcmp(c->want + c->off, data, n) != 0) {
        c->differs = 1;
        return;
    }
    c->off += n;
}

int
lsn_pb_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
              size_t len, size_t cap, ProtobufCMessage **out)
{
    struct budget b = { .used = 0, .cap = cap, .exceeded = 0 };
    ProtobufCAllocator alloc = {
        .alloc = budget_alloc, .free = budget_free, .allocator_data = &b,
    };
    struct cmp_buffer cmp = { .base = { .append = cmp_append } };
    ProtobufCMessage *msg = NULL;
    int r = LSN_ERR_MALFORMED;

    *out = NULL;
    if (len > cap)
        return LSN_ERR_TOO_LARGE;
    msg = protobuf_c_message_unpack(desc, &alloc, len, buf);
    if (msg == NULL) {
        r = b.exceeded ? LSN_ERR_TOO_LARGE : LSN_ERR_MALFORMED;
        goto out;
    }
    if (has_unknown_fields(msg))
        goto out;
    /* Canonical: packing the decoded message gives back exactly the input
     * (compared as it is packed, so no copy of it is made). */
    cmp.want = buf;
    cmp.len = len;
    if (protobuf_c_message_pack_to_buffer(msg, &cmp.base) != len ||
        cmp.differs || cmp.off != len)
        goto out;
    *out = msg;
    msg = NULL;
    r = 0;
out:
    if (msg != NULL)
        protobuf_c_message_free_unpacked(msg, &free_allocator);
    return r;
}

/* A minimal varint at buf[*off..len): 0, or -1 if truncated, longer than
 * ten bytes, over 64 bits, or not minimal (a last byte of zero). */
static int
varint_read(const uint8_t *buf, size_t len, size_t *off, uint64_t *v)
{
    uint64_t x = 0;

    if (*off < len && buf[*off] < 0x80) {   /* one byte: most tags and lengths */
        *v = buf[(*off)++];
        return 0;
    }

    for (size_t i = 0; i < 10 && *off + i < len; i++) {
        uint8_t b = buf[*off + i];
        if (i == 9 && b > 1)
            return -1;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            if (i > 0 && b == 0)
                return -1;
            *off += i + 1;
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* One field's value at buf[*off..len) (its tag read): the checks of its
 * kind, then out filled.  0 or -1. */
static int
scan_value(const uint8_t *buf, size_t len, size_t *off, uint64_t tag,
           enum lsn_pb_kind kind, struct lsn_pb_value *out)
{
    uint64_t v;

    if (varint_read(buf, len, off, &v) != 0)
        return -1;
    if (kind == LSN_PB_VARINT || kind == LSN_PB_VARINT32) {
        if ((tag & 7) != 0 || v == 0 || (kind == LSN_PB_VARINT32 && v > UINT32_MAX))
            return -1;
        out->u = v;
        return 0;
    }
    if ((tag & 7) != 2 || v > len - *off)
        return -1;
    if (v == 0 && (kind == LSN_PB_BYTES || kind == LSN_PB_STRING))
        return -1;
    if (kind == LSN_PB_STRING && memchr(buf + *off, 0, (size_t)v) != NULL)
        return -1;
    if (kind != LSN_PB_REPEATED)
        out->data = buf + *off;
    out->len = (size_t)v;
    *off += (size_t)v;
    return 0;
}

int
lsn_pb_scan(const uint8_t *buf, size_t len, const struct lsn_pb_field *spec,
            size_t n, struct lsn_pb_value *out)
{
    size_t off = 0, next = 0, start;

    memset(out, 0, n * sizeof *out);
    while (off < len) {
        uint64_t tag;
        size_t i;
        start = off;
        if (varint_read(buf, len, &off, &tag) != 0 || tag > UINT32_MAX)
            return LSN_ERR_MALFORMED;
        /* Ascending: only fields after the last one seen may follow, or
         * the next element of the repeated field just seen. */
        if (next > 0 && spec[next - 1].kind == LSN_PB_REPEATED &&
            spec[next - 1].number == (tag >> 3)) {
            i = next - 1;
        } else {
            for (i = next; i < n && spec[i].number != (tag >> 3); i++)
                ;
            if (i == n)
                return LSN_ERR_MALFORMED;
            next = i + 1;
        }
        if (scan_value(buf, len, &off, tag, spec[i].kind, &out[i]) != 0)
            return LSN_ERR_MALFORMED;
        if (spec[i].kind == LSN_PB_REPEATED) {
            if (out[i].count++ == 0)
                out[i].data = buf + start;
            out[i].len = (size_t)(buf + off - out[i].data);
        }
        out[i].present = 1;
    }
    return 0;
}

void
lsn_pb_next(const uint8_t **p, const uint8_t **elem, size_t *elem_len)
{
    size_t off = 0;
    uint64_t tag = 0, v = 0;

    /* The run was checked by lsn_pb_scan: these reads cannot fail. */
    (void)varint_read(*p, 10, &off, &tag);
    (void)varint_read(*p, off + 10, &off, &v);
    *elem = *p + off;
    *elem_len = (size_t)v;
    *p += off + (size_t)v;
}

void
lsn_pb_free(ProtobufCMessage *msg)
{
    if (msg != NULL)
        protobuf_c_message_free_unpacked(msg, &free_allocator);
}

int
lsn_pb_encode(const ProtobufCMessage *msg, uint8_t **out, size_t *out_len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1);

    *out = NULL;
    *out_len = 0;
    if (buf == NULL)
        return LSN_ERR_NOMEM;
    if (protobuf_c_message_pack(msg, buf) != n) {
        free(buf);
        return LSN_ERR_INTERNAL;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

int
lsn_pb_encode_secret(const ProtobufCMessage *msg, uint8_t **out, size_t *out_len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = sodium_malloc(n ? n : 1);

    *out = NULL;
    *out_len = 0;
    if (buf == NULL)
        return LSN_ERR_NOMEM;
    if (protobuf_c_message_pack(msg, buf) != n) {
        sodium_free(buf);
        return LSN_ERR_INTERNAL;
    }
    *out = buf;
    *out_len = n;
    return 0;
}
