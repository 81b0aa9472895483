/* Fuzz target: the capture frame parser tt_parse_frame.
 *
 * Byte 0 picks the link type (Ethernet, raw IP in its three numberings,
 * Linux cooked SLL and SLL2, BSD loopback NULL and LOOP, and one the parser
 * does not know); the rest is the frame, as captured (any length: snaplen
 * truncation included). libFuzzer's buffer has exactly that size, so
 * AddressSanitizer catches any read past the frame.
 *
 * Invariants for a frame parsed as TCP/UDP: protocol 6 or 17, family 4 or 6,
 * an IPv4 key has zeros beyond its 4 address bytes and ip_len >= 20, an IPv6
 * one ip_len >= 40; the same frame parses the same way twice; the parser
 * never accepts a frame under an unknown link type.
 */
#include "fuzz_common.h"

#include "tt_capture.h"

static const int linktypes[] = { 1, 12, 101, 228, 229, 113, 276, 0, 108, 147 };
#define N_LINKTYPES (sizeof linktypes / sizeof linktypes[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int lt = linktypes[data[0] % N_LINKTYPES];
    const guint8 *frame = data + 1;
    size_t len = size - 1;
    tt_packet p, q;
    memset(&p, 0xa5, sizeof p);
    memset(&q, 0x5a, sizeof q);
    gboolean ok = tt_parse_frame(lt, frame, len, &p);
    gboolean ok2 = tt_parse_frame(lt, frame, len, &q);
    FUZZ_CHECK(ok == ok2);
    if (lt == 147)
        FUZZ_CHECK(!ok);
    if (!ok)
        return 0;
    FUZZ_CHECK(p.key.proto == 6 || p.key.proto == 17);
    FUZZ_CHECK(p.key.family == 4 || p.key.family == 6);
    FUZZ_CHECK(p.key.pad[0] == 0 && p.key.pad[1] == 0);
    if (p.key.family == 4) {
        FUZZ_CHECK(p.ip_len >= 20 && p.ip_len <= 65535);
        for (int i = 4; i < 16; i++)
            FUZZ_CHECK(p.key.src[i] == 0 && p.key.dst[i] == 0);
    } else {
        FUZZ_CHECK(p.ip_len >= 40 && p.ip_len <= 40 + 65535);
    }
    FUZZ_CHECK(memcmp(&p.key, &q.key, sizeof p.key) == 0 && p.ip_len == q.ip_len);
    return 0;
}
