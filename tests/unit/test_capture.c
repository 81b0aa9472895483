/* The capture reader: innermost IP header, lengths from the header (also for
 * truncated frames), encapsulations, and a pcap file read end to end. */
#include <glib/gstdio.h>
#include <pcap/pcap.h>
#include <string.h>

#include "tt_capture.h"
#include "tt_test.h"

typedef struct {
    guint8 d[256];
    size_t n;
} frame;

static void put(frame *f, const void *p, size_t n) { memcpy(f->d + f->n, p, n); f->n += n; }
static void put16(frame *f, uint16_t v) { guint8 b[2] = { v >> 8, v & 0xff }; put(f, b, 2); }

static void ether(frame *f, uint16_t type)
{
    static const guint8 macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
    put(f, macs, 12);
    put16(f, type);
}

static void ipv4(frame *f, uint16_t total, uint8_t proto, uint8_t last_src, uint8_t last_dst, uint16_t frag)
{
    guint8 h[20] = { 0x45, 0, total >> 8, total & 0xff, 0, 1, frag >> 8, frag & 0xff, 64, proto, 0, 0,
                     192, 0, 2, last_src, 198, 51, 100, last_dst };
    put(f, h, 20);
}

static void ipv6(frame *f, uint16_t plen, uint8_t nh)
{
    guint8 h[40] = { 0x60, 0, 0, 0, plen >> 8, plen & 0xff, nh, 64 };
    h[8] = 0x20; h[9] = 0x01; h[10] = 0x0d; h[11] = 0xb8; h[23] = 1;
    h[24] = 0x20; h[25] = 0x01; h[26] = 0x0d; h[27] = 0xb8; h[39] = 2;
    put(f, h, 40);
}

static void udp(frame *f, uint16_t sport, uint16_t dport, uint16_t len)
{
    put16(f, sport); put16(f, dport); put16(f, len); put16(f, 0);
}

TT_TEST("/capture/ether-ipv4-udp-truncated", test_ether_ipv4_udp)
{
    frame f = { .n = 0 };
    ether(&f, 0x0800);
    ipv4(&f, 128, 17, 1, 2, 0);
    udp(&f, 5004, 5006, 108);
    tt_packet p;
    /* only 42 bytes captured: the IP header's length still counts */
    g_assert_true(tt_parse_frame(DLT_EN10MB, f.d, f.n, &p));
    g_assert_cmpuint(p.ip_len, ==, 128);
    g_assert_cmpuint(p.key.family, ==, 4);
    g_assert_cmpuint(p.key.proto, ==, 17);
    g_assert_cmpuint(p.key.sport, ==, 5004);
    g_assert_cmpuint(p.key.dport, ==, 5006);
    g_assert_cmpuint(p.key.src[3], ==, 1);
    g_assert_cmpuint(p.key.dst[0], ==, 198);
    /* cut inside the UDP ports: no flow */
    g_assert_false(tt_parse_frame(DLT_EN10MB, f.d, 14 + 20 + 2, &p));
}

TT_TEST("/capture/vlan-qinq", test_vlan_qinq)
{
    frame f = { .n = 0 };
    ether(&f, 0x88a8);
    put16(&f, 0x0064); put16(&f, 0x8100);
    put16(&f, 0x00c8); put16(&f, 0x0800);
    ipv4(&f, 60, 6, 3, 4, 0);
    put16(&f, 443); put16(&f, 50000);
    tt_packet p;
    g_assert_true(tt_parse_frame(DLT_EN10MB, f.d, f.n, &p));
    g_assert_cmpuint(p.ip_len, ==, 60);
    g_assert_cmpuint(p.key.proto, ==, 6);
    g_assert_cmpuint(p.key.sport, ==, 443);
}

TT_TEST("/capture/pppoe-mpls", test_pppoe_mpls)
{
    frame f = { .n = 0 };
    ether(&f, 0x8864);
    guint8 pppoe[6] = { 0x11, 0, 0, 1, 0, 0 };
    put(&f, pppoe, 6);
    put16(&f, 0x0021);
    ipv4(&f, 61, 17, 5, 6, 0);
    udp(&f, 53, 4000, 41);
    tt_packet p;
    g_assert_true(tt_parse_frame(DLT_EN10MB, f.d, f.n, &p));
    g_assert_cmpuint(p.ip_len, ==, 61);
    g_assert_cmpuint(p.key.sport, ==, 53);
    frame m = { .n = 0 };
    ether(&m, 0x8847);
    guint8 labels[8] = { 0, 1, 0, 64, 0, 2, 1, 64 };   /* two labels, the second with S=1 */
    put(&m, labels, 8);
    ipv4(&m, 90, 6, 5, 6, 0);
    udp(&m, 80, 5000, 70);
    g_assert_true(tt_parse_frame(DLT_EN10MB, m.d, m.n, &p));
    g_assert_cmpuint(p.ip_len, ==, 90);
    g_assert_cmpuint(p.key.proto, ==, 6);
}

TT_TEST("/capture/gtp-u-and-tso", test_gtp_tso)
{
    /* GTP-U T-PDU with the S flag (4 optional bytes) carrying IPv4/UDP */
    frame f = { .n = 0 };
    ether(&f, 0x0800);
    ipv4(&f, 20 + 8 + 12 + 28, 17, 1, 2, 0);
    udp(&f, 2152, 2152, 8 + 12 + 28);
    guint8 gtp[12] = { 0x32, 0xff, 0, 32, 0, 0, 0, 7, 0, 1, 0, 0 };
    put(&f, gtp, 12);
    ipv4(&f, 28, 17, 9, 10, 0);
    udp(&f, 7777, 8888, 8);
    tt_packet p;
    g_assert_true(tt_parse_frame(DLT_EN10MB, f.d, f.n, &p));
    g_assert_cmpuint(p.ip_len, ==, 28);
    g_assert_cmpuint(p.key.src[3], ==, 9);
    g_assert_cmpuint(p.key.sport, ==, 7777);
    /* an inner fragment: counted as the inner datagram (at its last fragment), never as the tunnel */
    f.d[14 + 20 + 8 + 12 + 6] = 0x20;   /* MF */
    g_assert_false(tt_parse_frame(DLT_EN10MB, f.d, f.n, &p));
    f.d[14 + 20 + 8 + 12 + 6] = 0;
    /* IPv4 total length 0 (segmentation offload): the captured length counts */
    frame t = { .n = 0 };
    ether(&t, 0x0800);
    ipv4(&t, 0, 6, 1, 2, 0);
    udp(&t, 443, 5000, 0);
    guint8 pad[52] = { 0 };
    put(&t, pad, sizeof pad);
    g_assert_true(tt_parse_frame(DLT_EN10MB, t.d, t.n, &p));
    g_assert_cmpuint(p.ip_len, ==, t.n - 14);

    /* GTP-U carrying an IPv6 packet that is not TCP/UDP (ESP): the ports are
     * the tunnel's, the addresses would be the inner ones: no flow (the
     * plugin skips it too: no TCP/UDP layer after the innermost IP) */
    frame e = { .n = 0 };
    ether(&e, 0x0800);
    ipv4(&e, 20 + 8 + 8 + 48, 17, 1, 2, 0);
    udp(&e, 2152, 2152, 8 + 8 + 48);
    guint8 gtp8[8] = { 0x30, 0xff, 0, 48, 0, 0, 0, 7 };
    put(&e, gtp8, 8);
    ipv6(&e, 8, 50);
    guint8 esp[8] = { 0, 0, 1, 0, 0, 0, 0, 1 };
    put(&e, esp, 8);
    g_assert_false(tt_parse_frame(DLT_EN10MB, e.d, e.n, &p));
    /* a GTP-U payload that is not IP at all stays the tunnel's UDP flow */
    e.d[14 + 20 + 8 + 8] = 0x00;
    g_assert_true(tt_parse_frame(DLT_EN10MB, e.d, e.n, &p));
    g_assert_cmpuint(p.ip_len, ==, 20 + 8 + 8 + 48);
    g_assert_cmpuint(p.key.sport, ==, 2152);
}

TT_TEST("/capture/ppi", test_ppi)
{
    /* PPI (link type 192): 8-byte header (here with 4 bytes of fields), then Ethernet */
    frame f = { .n = 0 };
    guint8 ppi[12] = { 0, 0, 12, 0, 1, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd };
    put(&f, ppi, 12);
    ether(&f, 0x0800);
    ipv4(&f, 84, 17, 1, 2, 0);
    udp(&f, 30490, 30490, 64);
    tt_packet p;
    g_assert_true(tt_parse_frame(192, f.d, f.n, &p));
    g_assert_cmpuint(p.ip_len, ==, 84);
    g_assert_cmpuint(p.key.sport, ==, 30490);
    f.d[2] = 200;                                    /* header longer than the frame */
    g_assert_false(tt_parse_frame(192, f.d, f.n, &p));
    f.d[2] = 12;
    f.d[4] = 192;                                    /* PPI inside PPI */
    g_assert_false(tt_parse_frame(192, f.d, f.n, &p));
}

TT_TEST("/capture/ipv6-extension-headers", test_ipv6_ext)
{
    frame f = { .n = 0 };
    ether(&f, 0x86dd);
    ipv6(&f, 8 + 8 + 20, 0);                 /* hop-by-hop, then routing, then UDP */
    guint8 hbh[8] = { 43, 0 }, rt[8] = { 17, 0 };
    put(&f, hbh, 8);
    put(&f, rt, 8);
    udp(&f, 3478, 3479, 20);
    tt_packet p;
    g_assert_true(tt_parse_frame(DLT_EN10MB, f.d, f.n, &p));
    g_assert_cmpuint(p.ip_len, ==, 40 + 36);
    g_assert_cmpuint(p.key.family, ==, 6);
    g_assert_cmpuint(p.key.sport, ==, 3478);
    g_assert_cmpuint(p.key.src[15], ==, 1);
    g_assert_cmpuint(p.key.dst[15], ==, 2);
    /* a later fragment is skipped */
    frame g = { .n = 0 };
    ether(&g, 0x86dd);
    ipv6(&g, 8 + 8, 44);
    guint8 fh[8] = { 17, 0, 0x00, 0x10 };    /* offset 2 (x 8 bytes) */
    put(&g, fh, 8);
    udp(&g, 1, 2, 8);
    g_assert_false(tt_parse_frame(DLT_EN10MB, g.d, g.n, &p));
}

TT_TEST("/capture/tunnels-fragments-non-ip", test_tunnels)
{
    /* IPv4 in IPv4: the inner header wins */
    frame f = { .n = 0 };
    ether(&f, 0x0800);
    ipv4(&f, 20 + 20 + 8 + 100, 4, 1, 2, 0);
    ipv4(&f, 20 + 8 + 100, 17, 7, 8, 0);
    udp(&f, 1111, 2222, 108);
    tt_packet p;
    g_assert_true(tt_parse_frame(DLT_EN10MB, f.d, f.n, &p));
    g_assert_cmpuint(p.ip_len, ==, 128);
    g_assert_cmpuint(p.key.src[3], ==, 7);
    g_assert_cmpuint(p.key.sport, ==, 1111);
    /* GRE with a key, carrying IPv6 */
    frame g = { .n = 0 };
    ether(&g, 0x0800);
    ipv4(&g, 20 + 8 + 40 + 8, 47, 1, 2, 0);
    put16(&g, 0x2000); put16(&g, 0x86dd);
    put16(&g, 0); put16(&g, 42);
    ipv6(&g, 8, 17);
    udp(&g, 53, 5353, 8);
    g_assert_true(tt_parse_frame(DLT_EN10MB, g.d, g.n, &p));
    g_assert_cmpuint(p.key.family, ==, 6);
    g_assert_cmpuint(p.ip_len, ==, 48);
    g_assert_cmpuint(p.key.dport, ==, 5353);
    /* a first IPv4 fragment waits for reassembly (stateless parse: skipped)... */
    frame h = { .n = 0 };
    ether(&h, 0x0800);
    ipv4(&h, 48, 17, 1, 2, 0x2000);
    udp(&h, 1, 2, 3000);
    guint8 body[20] = { 0 };
    put(&h, body, sizeof body);
    g_assert_false(tt_parse_frame(DLT_EN10MB, h.d, h.n, &p));
    /* ...unless it was truncated by the snap length: then, like Wireshark, it is a packet */
    g_assert_true(tt_parse_frame(DLT_EN10MB, h.d, h.n - 4, &p));
    g_assert_cmpuint(p.ip_len, ==, 48);
    g_assert_cmpuint(p.key.dport, ==, 2);
    /* not IP */
    frame a = { .n = 0 };
    ether(&a, 0x0806);
    guint8 arp[28] = { 0 };
    put(&a, arp, 28);
    g_assert_false(tt_parse_frame(DLT_EN10MB, a.d, a.n, &p));
}

TT_TEST("/capture/link-types", test_other_links)
{
    frame f = { .n = 0 };
    ipv4(&f, 40, 17, 1, 2, 0);
    udp(&f, 10, 20, 20);
    tt_packet p;
    g_assert_true(tt_parse_frame(DLT_RAW, f.d, f.n, &p));
    g_assert_cmpuint(p.ip_len, ==, 40);
    frame s = { .n = 0 };
    guint8 sll[14] = { 0, 0, 0, 1, 0, 6 };
    put(&s, sll, 14);
    put16(&s, 0x0800);
    ipv4(&s, 40, 17, 1, 2, 0);
    udp(&s, 10, 20, 20);
    g_assert_true(tt_parse_frame(DLT_LINUX_SLL, s.d, s.n, &p));
    g_assert_cmpuint(p.key.dport, ==, 20);
    frame n = { .n = 0 };
    guint8 af[4] = { 2, 0, 0, 0 };           /* AF_INET, host order (little-endian) */
    put(&n, af, 4);
    ipv4(&n, 40, 6, 1, 2, 0);
    udp(&n, 10, 20, 20);
    g_assert_true(tt_parse_frame(DLT_NULL, n.d, n.n, &p));
    g_assert_cmpuint(p.key.proto, ==, 6);
    g_assert_false(tt_parse_frame(147 /* user */, f.d, f.n, &p));
}

TT_TEST("/capture/read-file", test_read_file)
{
    char *path = tt_test_scratch("tt-test-capture.pcap");
    pcap_t *pd = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
    pcap_dumper_t *dump = pcap_dump_open(pd, path);
    g_assert_nonnull(dump);
    for (int i = 0; i < 5; i++) {
        frame f = { .n = 0 };
        ether(&f, i == 2 ? 0x0806 : 0x0800);
        ipv4(&f, 100 + i, 17, 1, 2, 0);
        udp(&f, 1000, 2000, 80);
        struct pcap_pkthdr h = { .caplen = (bpf_u_int32)f.n, .len = (bpf_u_int32)f.n + 60 };
        h.ts.tv_sec = 1700000000 + i;
        h.ts.tv_usec = 123456789;            /* nanoseconds in a nanosecond file */
        pcap_dump((u_char *)dump, &h, f.d);
    }
    pcap_dump_close(dump);
    pcap_close(pd);

    GError *e = NULL;
    tt_capture *c = tt_capture_open(path, &e);
    g_assert_no_error(e);
    tt_packet p;
    uint64_t frame_no;
    uint64_t frames[5];
    int n = 0;
    while (tt_capture_next(c, &p, &frame_no, &e) == 1) {
        frames[n] = frame_no;
        g_assert_cmpuint(p.ip_len, ==, 100 + frame_no - 1);
        g_assert_cmpfloat(p.ts, ==, tt_time(1700000000 + (int64_t)frame_no - 1, 123456789));
        n++;
    }
    g_assert_no_error(e);
    g_assert_cmpint(n, ==, 4);                 /* the ARP frame is skipped, numbering is kept */
    g_assert_cmpuint(frames[2], ==, 4);
    tt_capture_close(c);
    g_assert_null(tt_capture_open("/nonexistent.pcap", &e));
    g_assert_error(e, TT_ERROR, TT_ERROR_IO);
    g_clear_error(&e);
    /* a file that is not a capture */
    g_assert_true(g_file_set_contents(path, "hello, not a pcap", -1, NULL));
    g_assert_null(tt_capture_open(path, &e));
    g_assert_error(e, TT_ERROR, TT_ERROR_IO);
    g_clear_error(&e);
    g_remove(path);
    g_free(path);
}

/* A fragmented UDP datagram counts once, at its last fragment, with the
 * first fragment's ports and the last fragment's length (as Wireshark). */
TT_TEST("/capture/fragments", test_fragments)
{
    char *path = tt_test_scratch("tt-test-frag.pcap");
    pcap_t *pd = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
    pcap_dumper_t *dump = pcap_dump_open(pd, path);
    /* every frame captured whole (IP total length = 28 = what follows Ethernet) */
    struct { uint16_t total, frag; gboolean udp; } parts[] = {
        { 28, 0x2000, TRUE },          /* first: MF, offset 0, carries the UDP header */
        { 28, 0x2000 | 1, FALSE },     /* middle: offset 8 bytes */
        { 28, 2, FALSE },              /* last: offset 16 bytes, no MF */
        { 28, 0, TRUE },               /* an ordinary datagram afterwards */
    };
    for (int i = 0; i < 4; i++) {
        frame f = { .n = 0 };
        ether(&f, 0x0800);
        ipv4(&f, parts[i].total, 17, 1, 2, parts[i].frag);
        f.d[14 + 4] = 0x12;            /* IP id 0x1201 */
        if (parts[i].udp)
            udp(&f, 4500, 4501, 8);
        else
            udp(&f, 0xdead, 0xbeef, 0);  /* fragment payload bytes, not a header */
        struct pcap_pkthdr h = { .caplen = (bpf_u_int32)f.n, .len = (bpf_u_int32)f.n };
        h.ts.tv_sec = 1700000000 + i;
        pcap_dump((u_char *)dump, &h, f.d);
    }
    pcap_dump_close(dump);
    pcap_close(pd);
    tt_capture *c = tt_capture_open(path, NULL);
    g_assert_nonnull(c);
    tt_packet p;
    uint64_t frame_no;
    g_assert_cmpint(tt_capture_next(c, &p, &frame_no, NULL), ==, 1);
    g_assert_cmpuint(frame_no, ==, 3);
    g_assert_cmpuint(p.ip_len, ==, 28);
    g_assert_cmpuint(p.key.sport, ==, 4500);
    g_assert_cmpuint(p.key.dport, ==, 4501);
    g_assert_cmpint(tt_capture_next(c, &p, &frame_no, NULL), ==, 1);
    g_assert_cmpuint(frame_no, ==, 4);
    g_assert_cmpuint(p.ip_len, ==, 28);
    g_assert_cmpuint(p.key.sport, ==, 4500);
    g_assert_cmpint(tt_capture_next(c, &p, &frame_no, NULL), ==, 0);
    tt_capture_close(c);
    g_remove(path);
    g_free(path);
}
