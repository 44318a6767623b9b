/* limits.h: the protocol constants of the envelope format (docs/design.md
 * "Message format", docs/protocol.md "Limits").  Every reader, relay and
 * client alike, enforces the same numbers, so they live at the bottom
 * layer.  Changing one is a protocol change. */
#ifndef LSN_LIMITS_H
#define LSN_LIMITS_H

/* Cipher suite 1: X25519, BLAKE2b, XChaCha20-Poly1305-IETF, Ed25519.  The
 * only suite; any other value is refused, never downgraded. */
#define LSN_SUITE_1             1u

/* Recipient organisations per envelope (one wrap each). */
#define LSN_MAX_RECIPIENTS      256u

/* A whole encoded Envelope; a relay may configure a lower cap. */
#define LSN_ENVELOPE_MAX        (16u * 1024u * 1024u)

/* An encoded EnvelopeHeader: 256 recipients take about 24 KiB.  Must stay
 * below 65536, since H is a length-prefixed hash input. */
#define LSN_HEADER_MAX          (32u * 1024u)

/* Padded content: a power of two from LSN_PAD_MIN to LSN_PAD_MAX bytes,
 * so the largest envelope (8 MiB + header + tag + sig) fits the 16 MiB
 * cap; the encoded Alert is therefore at most LSN_PAD_MAX - 1 bytes
 * (sodium_pad always adds at least one byte). */
#define LSN_PAD_MIN             512u
#define LSN_PAD_MAX             (8u * 1024u * 1024u)
#define LSN_CONTENT_MAX         (LSN_PAD_MAX - 1u)

/* Clock skew tolerated between sender, relays and recipients (seconds). */
#define LSN_MAX_SKEW            300
/* Longest lifetime: expires - created (seconds): 30 days. */
#define LSN_MAX_TTL             (30 * 24 * 3600)

/* Timestamps are unix seconds in [0, LSN_TIME_MAX] (year 9999), so no
 * sum of a timestamp and a skew or TTL can overflow. */
#define LSN_TIME_MAX            253402300799LL

/* Field sizes of suite 1. */
#define LSN_MSG_ID_LEN          16u
#define LSN_KEY_LEN             32u   /* K, kek, k_enc, commit, X25519 keys */
#define LSN_WRAP_LEN            48u   /* K + Poly1305 tag */
#define LSN_NONCE_LEN           24u   /* XChaCha20 */
#define LSN_TAG_LEN             16u
#define LSN_SIG_LEN             64u

/* Name lengths as keys/util.h has them (the client asserts they agree):
 * org ids [a-z0-9-]{1,32}, device names [a-z0-9][a-z0-9._-]{0,63}. */
#define LSN_ENV_ORG_MAX         32u
#define LSN_ENV_DEVICE_MAX      64u

#endif
