/* Fuzz target: the training-input parsers.
 *
 * The first byte chooses what the rest is:
 *   0 (mod 4)  manifest data lines: each line goes through
 *              tt_manifest_parse_line; every rule that parses is matched
 *              (tt_manifest_rule_match) against a few fixed packets and the
 *              rule's own endpoints, forward and reversed.
 *   1, 2, 3    a file given to tt_dataset_add_file (it dispatches on the first
 *              line, of the decompressed text when the file is xz: #ttmanifest,
 *              #ttseries v1/v2, otherwise FlowPic CSV) with a
 *              learned class list (1), a fixed one (2), or a FlowPic-CSV label
 *              that is not in the fixed list (3).
 * The file is written into a private temporary directory that also holds a
 * small valid capture, c.pcap, so manifests can name a real capture. '/' in
 * the input is replaced by '_': a manifest can only name files in that
 * directory (never /dev/stdin or anything outside).
 *
 * Invariants: a parsed rule has its strings and t_start <= t_end; a rule
 * matches its own endpoints; every sample of the dataset points inside the
 * packet array with a valid label, group, attrs and source; samples have
 * between min_packets and max_packets packets.
 */
#include "fuzz_common.h"

#include <math.h>
#include <unistd.h>

#include "tt_dataset.h"
#include "tt_test.h"

static char *g_dir, *g_in;

/* A pcap with 12 UDP/IPv4 packets of one flow and 3 TCP/IPv6 packets. */
static void write_capture(const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    uint32_t gh[6] = { 0xa1b2c3d4u, 0x00040002u, 0, 0, 65535, 1 };
    fwrite(gh, 4, 6, f);
    for (int i = 0; i < 15; i++) {
        uint8_t fr[128];
        memset(fr, 0, sizeof fr);
        size_t n;
        fr[12] = i < 12 ? 0x08 : 0x86;
        fr[13] = i < 12 ? 0x00 : 0xdd;
        uint8_t *ip = fr + 14;
        if (i < 12) {
            uint16_t tot = (uint16_t)(28 + 10 * i);
            ip[0] = 0x45; ip[2] = (uint8_t)(tot >> 8); ip[3] = (uint8_t)tot; ip[8] = 64; ip[9] = 17;
            ip[12] = 10; ip[15] = 1; ip[16] = 10; ip[19] = 2;
            ip[20] = 0x30; ip[21] = 0x39; ip[22] = 0x01; ip[23] = 0xbb;   /* 12345 -> 443 */
            n = 14 + 28 + 10 * (size_t)i;
            if (n > sizeof fr)
                n = sizeof fr;
        } else {
            ip[0] = 0x60; ip[5] = 20; ip[6] = 6; ip[7] = 64;
            ip[8] = 0x20; ip[9] = 0x01; ip[23] = 1;
            ip[24] = 0x20; ip[25] = 0x01; ip[39] = 2;
            ip[40] = 0x04; ip[41] = 0xd2; ip[42] = 0x00; ip[43] = 0x50;   /* 1234 -> 80 */
            n = 14 + 60;
        }
        uint32_t ph[4] = { 1000u + (uint32_t)i, (uint32_t)i * 1000u, (uint32_t)n, (uint32_t)n };
        fwrite(ph, 4, 4, f);
        fwrite(fr, 1, n, f);
    }
    fclose(f);
}

static void cleanup(void)
{
    char *cap = g_build_filename(g_dir, "c.pcap", NULL);
    unlink(cap);
    unlink(g_in);
    rmdir(g_dir);
    g_free(cap);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char tmpl[] = "/tmp/tt-fuzz-dataset.XXXXXX";
    g_dir = g_strdup(mkdtemp(tmpl));
    if (!g_dir)
        abort();
    char *cap = g_build_filename(g_dir, "c.pcap", NULL);
    write_capture(cap);
    g_free(cap);
    g_in = g_build_filename(g_dir, "in", NULL);
    atexit(cleanup);
    return 0;
}

static void check_rule(const tt_manifest_rule *r)
{
    FUZZ_CHECK(r->capture && r->label && r->group && r->attrs);
    FUZZ_CHECK(*r->capture && *r->label && *r->group && *r->attrs);
    FUZZ_CHECK(!(r->t_end < r->t_start));
    FUZZ_CHECK(r->proto == 0 || r->proto == 6 || r->proto == 17);

    /* A packet from a's endpoint to b's, inside the time range. */
    tt_packet p;
    memset(&p, 0, sizeof p);
    p.key.proto = r->proto ? r->proto : 6;
    int fam = !r->any_a ? r->a.family : !r->any_b ? r->b.family : 4;
    if (!r->any_a && !r->any_b && r->a.family != r->b.family)
        fam = 0;                   /* no packet has both ends */
    p.key.family = (uint8_t)fam;
    if (!r->any_a)
        memcpy(p.key.src, r->a.src, 16);
    if (!r->any_b)
        memcpy(p.key.dst, r->b.src, 16);
    p.key.sport = r->any_pa ? 7 : r->a.sport;
    p.key.dport = r->any_pb ? 9 : r->b.sport;
    p.ts = isfinite(r->t_start) ? r->t_start : isfinite(r->t_end) ? r->t_end : 0.0;
    if (fam) {
        FUZZ_CHECK(tt_manifest_rule_match(r, &p));
        tt_packet q = p;
        tt_key_reverse(&p.key, &q.key);
        FUZZ_CHECK(tt_manifest_rule_match(r, &q));
    }
    /* Outside the time range: never a match. */
    if (isfinite(r->t_end) && r->t_end < 1e300) {
        p.ts = r->t_end + fabs(r->t_end) * 1e-6 + 1.0;
        FUZZ_CHECK(!tt_manifest_rule_match(r, &p));
    }
    p.ts = NAN;                    /* compares false against any range */
    (void)tt_manifest_rule_match(r, &p);
}

static void fuzz_lines(const uint8_t *data, size_t size)
{
    char *text = g_strndup((const char *)data, size);
    char **lines = g_strsplit(text, "\n", 64);
    for (char **l = lines; *l; l++) {
        tt_manifest_rule r;
        GError *e = NULL;
        if (tt_manifest_parse_line(*l, &r, &e)) {
            check_rule(&r);
            tt_manifest_rule_clear(&r);
        } else {
            FUZZ_CHECK(e && e->domain == TT_ERROR);
            g_error_free(e);
            /* a failed parse leaves nothing to free, but clearing is allowed */
            tt_manifest_rule_clear(&r);
        }
    }
    g_strfreev(lines);
    g_free(text);
}

static void check_dataset(const tt_dataset *ds)
{
    for (guint i = 0; i < ds->samples->len; i++) {
        const tt_sample *s = &g_array_index(ds->samples, tt_sample, i);
        FUZZ_CHECK(s->label < ds->classes->len);
        FUZZ_CHECK(s->group < ds->groups->len);
        FUZZ_CHECK(s->attrs < ds->attrs->len);
        FUZZ_CHECK(s->source < ds->sources->len);
        FUZZ_CHECK(s->n >= 1 && s->n <= ds->spec.max_packets);
        FUZZ_CHECK(s->off + s->n <= ds->pkts->len);
        for (uint32_t k = 0; k < s->n; k++) {
            const tt_pkt *p = &g_array_index(ds->pkts, tt_pkt, s->off + k);
            FUZZ_CHECK(p->t >= 0.0f);
            FUZZ_CHECK(p->size >= 1);
        }
    }
    FUZZ_CHECK(ds->too_few->len == ds->classes->len);
    FUZZ_CHECK(ds->packets_labelled <= ds->packets_read);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] & 3;
    data++;
    size--;
    if (mode == 0) {
        fuzz_lines(data, size);
        return 0;
    }
    uint8_t *buf = g_malloc(size + 1);
    memcpy(buf, data, size);
    for (size_t i = 0; i < size; i++)
        if (buf[i] == '/')
            buf[i] = '_';
    FILE *f = fopen(g_in, "wb");
    if (!f)
        abort();
    if (size && fwrite(buf, 1, size, f) != size)
        abort();
    fclose(f);
    g_free(buf);

    tt_spec spec;
    tt_test_spec(&spec, 16, 5.0, 2, 64, 10.0);
    static const char *const fixed[] = { "voip", "video", "chat" };
    tt_dataset *ds = tt_dataset_new(&spec, mode == 1 ? NULL : fixed, mode == 1 ? 0 : 3);
    GError *e = NULL;
    gboolean ok = tt_dataset_add_file(ds, g_in, mode == 3 ? "other" : "video", &e);
    if (!ok) {
        FUZZ_CHECK(e != NULL && e->domain == TT_ERROR && e->message);
        g_error_free(e);
    } else {
        FUZZ_CHECK(e == NULL);
    }
    /* What was read before an error stays consistent too. */
    tt_dataset_finish(ds);
    check_dataset(ds);
    tt_dataset_free(ds);
    return 0;
}
