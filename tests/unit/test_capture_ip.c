/* tt_capture_ip: the innermost IP packet of each packet the capture reader
 * returns (what `traffictriage label` hands to nDPI) is the header its key
 * and ip_len come from, through VLAN tags, IP-in-IP and GRE. */
#include <string.h>

#include "tt_capture.h"
#include "tt_test.h"

static uint16_t be16(const guint8 *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static const char *const files[] = { "tunnel.pcap", "vlan.pcap", "ipv6.pcap", "snap68.pcap" };

static void check_capture(gconstpointer entry)
{
    const char *name = *(const char *const *)entry;    /* an entry of files[] */
    char *path = g_test_build_filename(G_TEST_DIST, "captures", name, NULL);
    GError *e = NULL;
    tt_capture *c = tt_capture_open(path, &e);
    g_assert_no_error(e);
    const guint8 *ip;
    size_t len;
    g_assert_false(tt_capture_ip(c, &ip, &len));          /* nothing read yet */
    g_assert_null(ip);
    tt_packet p;
    uint64_t frame;
    int n = 0;
    while (tt_capture_next(c, &p, &frame, &e) == 1) {
        g_assert_true(tt_capture_ip(c, &ip, &len));
        g_assert_nonnull(ip);
        g_assert_cmpuint(ip[0] >> 4, ==, p.key.family);
        if (p.key.family == 4) {
            g_assert_cmpuint(len, >=, 20);
            g_assert_cmpuint(be16(ip + 2), ==, p.ip_len);
            g_assert_cmpmem(ip + 12, 4, p.key.src, 4);
            g_assert_cmpmem(ip + 16, 4, p.key.dst, 4);
        } else {
            g_assert_cmpuint(len, >=, 40);
            g_assert_cmpuint(40u + be16(ip + 4), ==, p.ip_len);
            g_assert_cmpmem(ip + 8, 16, p.key.src, 16);
            g_assert_cmpmem(ip + 24, 16, p.key.dst, 16);
        }
        g_assert_cmpuint(len, <=, p.ip_len);                /* no trailer beyond the IP packet */
        n++;
    }
    g_assert_no_error(e);
    g_assert_cmpint(n, >, 0);
    tt_capture_close(c);
    g_free(path);
}

TT_TEST_CASES_ISOLATED("/capture/innermost-ip", files, check_capture);
