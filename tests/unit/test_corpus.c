/* The packet-series corpus (tt_corpus.h): blocks read from a corpus are the
 * blocks read from the captures it was written from (same packets, same
 * pictures), appending is idempotent, and a damaged corpus is an error that
 * names the file and where, never a crash or less data. */
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "tt_corpus.h"
#include "tt_dataset.h"
#include "tt_flowpic.h"
#include "tt_test.h"

/* The lab fixture's manifest (tests/fixtures/lab/manifest.ttm). */
static const char *fixtures(void)
{
    return g_test_get_filename(G_TEST_DIST, "fixtures", "lab", "manifest.ttm", NULL);
}

static char *tmp_path(const char *name)
{
    return tt_test_scratch(name);
}

static tt_spec spec_of(int which)
{
    tt_spec s;
    if (which == 0) {
        tt_spec_init_mini(&s, 32);          /* the bundled category model's input */
    } else {
        tt_spec_init_paper(&s);             /* the paper's 1500 x 1500, 60 s */
    }
    return s;
}

/* Write a corpus of the given manifests; returns flows added. */
static uint64_t write_corpus(const char *out, const char *const *manifests, gboolean append, uint32_t tick_ns,
                             uint32_t cut, const char *const *meta, GError **error)
{
    static const char *const section_meta[] = { "lab_commit=0123abc", NULL };
    tt_corpus_write_opts o = {
        .manifests = manifests,
        .meta = meta,
        .section_meta = section_meta,
        .append = append,
        .xz_preset = 6,
        .extract = { .tick = tick_ns ? (tt_tick){ tick_ns, 0 } : TT_TICK_DEFAULT, .max_block_packets = cut },
    };
    uint64_t added = 0;
    if (!tt_corpus_write(out, &o, &added, error))
        return G_MAXUINT64;
    return added;
}

/* A sample's identity independent of flow numbering: group, label, attrs,
 * its flow's start (to the millisecond), block index and packet sizes. */
static char *sample_key(const tt_dataset *ds, const tt_sample *s)
{
    GString *k = g_string_new(NULL);
    g_string_append_printf(k, "%s|%s|%s|%.3f|%u|%u|", (char *)g_ptr_array_index(ds->groups, s->group),
                           (char *)g_ptr_array_index(ds->classes, s->label),
                           (char *)g_ptr_array_index(ds->attrs, s->attrs),
                           g_array_index(ds->flows, tt_flow_rec, s->flow).first_ts, s->block_index, s->n);
    for (uint32_t i = 0; i < s->n; i++)
        g_string_append_printf(k, "%u ", g_array_index(ds->pkts, tt_pkt, s->off + i).size);
    return g_string_free(k, FALSE);
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every sample of a has one in b with the same packets and the same picture
 * (times exact when exact_times; else within a microsecond's rounding). */
static void assert_same_blocks(const tt_dataset *a, const tt_dataset *b, gboolean exact_times)
{
    g_assert_cmpuint(a->samples->len, ==, b->samples->len);
    g_assert_cmpuint(a->pkts->len, ==, b->pkts->len);
    g_assert_cmpuint(a->classes->len, ==, b->classes->len);
    for (guint c = 0; c < a->classes->len; c++)
        g_assert_cmpuint(g_array_index(a->too_few, uint64_t, c), ==, g_array_index(b->too_few, uint64_t, c));
    guint n = a->samples->len;
    GPtrArray *ka = g_ptr_array_new_with_free_func(g_free), *kb = g_ptr_array_new_with_free_func(g_free);
    GHashTable *ia = g_hash_table_new(g_str_hash, g_str_equal), *ib = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < n; i++) {
        char *x = sample_key(a, &g_array_index(a->samples, tt_sample, i));
        char *y = sample_key(b, &g_array_index(b->samples, tt_sample, i));
        g_ptr_array_add(ka, x);
        g_ptr_array_add(kb, y);
        g_hash_table_insert(ia, x, GUINT_TO_POINTER(i));
        g_hash_table_insert(ib, y, GUINT_TO_POINTER(i));
    }
    g_ptr_array_sort(ka, cmp_str);
    g_ptr_array_sort(kb, cmp_str);
    size_t cap = tt_flowpic_max_pixels(&a->spec, a->spec.max_packets);
    tt_pixel *pa = g_new(tt_pixel, cap), *pb = g_new(tt_pixel, cap);
    guint differ = 0;
    uint64_t packets = 0;
    for (guint i = 0; i < n; i++) {
        g_assert_cmpstr(g_ptr_array_index(ka, i), ==, g_ptr_array_index(kb, i));
        const tt_sample *sa = &g_array_index(a->samples, tt_sample, GPOINTER_TO_UINT(g_hash_table_lookup(ia, g_ptr_array_index(ka, i))));
        const tt_sample *sb = &g_array_index(b->samples, tt_sample, GPOINTER_TO_UINT(g_hash_table_lookup(ib, g_ptr_array_index(kb, i))));
        const tt_pkt *pka = &g_array_index(a->pkts, tt_pkt, sa->off), *pkb = &g_array_index(b->pkts, tt_pkt, sb->off);
        if (exact_times)
            g_assert_cmpmem(pka, sa->n * sizeof(tt_pkt), pkb, sb->n * sizeof(tt_pkt));
        for (uint32_t k = 0; k < sa->n; k++)     /* 2 x 0.5 us rounding, 2 ulp of an epoch double, float */
            g_assert_cmpfloat_with_epsilon(pka[k].t, pkb[k].t, 1.5e-6 + pka[k].t * 2.4e-7);
        size_t na = tt_flowpic_build(&a->spec, pka, sa->n, pa), nb = tt_flowpic_build(&b->spec, pkb, sb->n, pb);
        if (exact_times)
            g_assert_cmpmem(pa, na * sizeof(tt_pixel), pb, nb * sizeof(tt_pixel));
        else
            differ += na != nb || memcmp(pa, pb, na * sizeof(tt_pixel)) != 0;
        packets += sa->n;
    }
    /* rounded to the microsecond, a packet within ~1 us of a bin edge may change bins */
    if (!exact_times) {
        g_test_message("%u of %u pictures differ (%" G_GUINT64_FORMAT " packets)", differ, n, packets);
        g_assert_cmpuint(differ, <=, n / 20 + 1);
    }
    g_free(pa);
    g_free(pb);
    g_hash_table_destroy(ia);
    g_hash_table_destroy(ib);
    g_ptr_array_unref(ka);
    g_ptr_array_unref(kb);
}

/* Corpus blocks = capture blocks, for the 15 s mini-FlowPic and the paper's 60 s input:
 * bit for bit in units of 2^-22 s (the default) or 1 ns, within rounding in microseconds. */
typedef struct {
    const char *name;
    uint32_t tick;      /* the corpus's time unit in ns, 0: 2^-22 s */
} equal_case;
static const equal_case equal_cases[] = { { "pow2", 0 }, { "nanoseconds", 1 }, { "microseconds", 1000 } };

static void test_equal(gconstpointer data)
{
    const uint32_t tick = ((const equal_case *)data)->tick;
    const char *const manifests[] = { fixtures(), NULL };
    char *name = g_strdup_printf("eq-%u.ttseries.xz", tick);
    char *out = tmp_path(name);
    g_free(name);
    GError *e = NULL;
    uint64_t flows = write_corpus(out, manifests, FALSE, tick, 0, NULL, &e);
    g_assert_no_error(e);
    g_assert_cmpuint(flows, ==, 46);                  /* 23 labelled connections, both directions */
    for (int s = 0; s < 2; s++) {
        tt_spec spec = spec_of(s);
        tt_dataset *from_caps = tt_test_dataset(&spec, fixtures()), *from_corpus = tt_test_dataset(&spec, out);
        g_assert_cmpuint(from_caps->samples->len, >, 20);
        g_assert_cmpuint(from_corpus->flows->len, ==, from_caps->flows->len);
        assert_same_blocks(from_caps, from_corpus, tick != 1000);
        /* and in the same order, with the same flow numbers: training on either is the same run */
        for (guint i = 0; i < from_caps->samples->len; i++) {
            const tt_sample *a = &g_array_index(from_caps->samples, tt_sample, i);
            const tt_sample *b = &g_array_index(from_corpus->samples, tt_sample, i);
            g_assert_cmpuint(a->flow_id, ==, b->flow_id);
            g_assert_cmpuint(a->block_index, ==, b->block_index);
            g_assert_cmpuint(a->n, ==, b->n);
            g_assert_cmpstr(g_ptr_array_index(from_caps->groups, a->group), ==, g_ptr_array_index(from_corpus->groups, b->group));
            if (tick != 1000)
                g_assert_cmpmem(&g_array_index(from_caps->pkts, tt_pkt, a->off), a->n * sizeof(tt_pkt),
                                &g_array_index(from_corpus->pkts, tt_pkt, b->off), b->n * sizeof(tt_pkt));
        }
        tt_dataset_free(from_caps);
        tt_dataset_free(from_corpus);
    }
    g_unlink(out);
    g_free(out);
}
TT_TEST_CASES("/corpus/equal", equal_cases, test_equal);

/* With the cut at N packets per block, blocks stored with max_packets = N are unchanged. */
TT_TEST("/corpus/cut", test_cut)
{
    const char *const manifests[] = { fixtures(), NULL };
    char *out = tmp_path("cut.ttseries.xz");
    GError *e = NULL;
    write_corpus(out, manifests, FALSE, 0, 40, NULL, &e);
    g_assert_no_error(e);
    char *counts = tt_corpus_counts(out, "tunnel", &e);
    g_assert_no_error(e);
    g_assert_nonnull(strstr(counts, "\npackets\t"));
    for (int s = 0; s < 2; s++) {
        tt_spec spec = spec_of(s);
        spec.max_packets = 40;
        tt_dataset *from_caps = tt_test_dataset(&spec, fixtures()), *from_corpus = tt_test_dataset(&spec, out);
        g_assert_cmpuint(from_corpus->packets_read, <, from_caps->packets_labelled);   /* it did cut */
        assert_same_blocks(from_caps, from_corpus, TRUE);
        tt_dataset_free(from_caps);
        tt_dataset_free(from_corpus);
    }
    g_free(counts);
    g_unlink(out);
    g_free(out);
}

/* A manifest with the fixture lines of the sessions whose k is below max_k, captures absolute. */
static char *part_manifest(const char *name, int max_k)
{
    char *text = NULL;
    g_assert_true(g_file_get_contents(fixtures(), &text, NULL, NULL));
    char *dir = g_test_build_filename(G_TEST_DIST, "fixtures", "lab", NULL);
    GString *m = g_string_new("#ttmanifest v1\n");
    char **lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        if (!**l || **l == '#')
            continue;
        char *kpos = strstr(*l, ";k=");
        if (!kpos || atoi(kpos + 3) >= max_k)
            continue;
        g_string_append_printf(m, "%s/%s\n", dir, *l);
    }
    char *path = tmp_path(name);
    g_assert_true(g_file_set_contents(path, m->str, -1, NULL));
    g_string_free(m, TRUE);
    g_strfreev(lines);
    g_free(dir);
    g_free(text);
    return path;
}

static void write_bytes(const char *path, const char *data, gsize len)
{
    g_assert_true(g_file_set_contents(path, data, (gssize)len, NULL));
}

static char *file_sha(const char *path)
{
    char *data;
    gsize len;
    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    char *s = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
    g_free(data);
    return s;
}

TT_TEST("/corpus/append", test_append)
{
    char *part = part_manifest("part.ttm", 17), *all = part_manifest("all.ttm", 1000);
    char *one = tmp_path("one.ttseries.xz"), *two = tmp_path("two.ttseries.xz");
    const char *first[] = { part, NULL }, *both[] = { all, NULL };
    static const char *const meta[] = { "source=lab", "seed=42", NULL };
    GError *e = NULL;
    uint64_t n1 = write_corpus(two, first, TRUE, 0, 0, meta, &e);   /* --append on no file: a new one */
    g_assert_no_error(e);
    uint64_t n2 = write_corpus(two, both, TRUE, 0, 0, meta, &e);
    g_assert_no_error(e);
    g_assert_cmpuint(n1, >, 0);
    g_assert_cmpuint(n1 + n2, ==, 46);
    char *sha = file_sha(two);
    g_assert_cmpuint(write_corpus(two, both, TRUE, 0, 0, meta, &e), ==, 0);   /* nothing new */
    g_assert_no_error(e);
    char *sha_again = file_sha(two);
    g_assert_cmpstr(sha, ==, sha_again);

    tt_corpus_header h;
    tt_corpus_header_init(&h);
    uint64_t hb;
    g_assert_true(tt_corpus_header_read(two, &h, &hb, &e));
    g_assert_cmpuint(h.sections->len, ==, 2);
    g_assert_cmpuint(h.sessions->len, ==, 15);
    g_assert_cmpuint(h.tick.ns, ==, 0);
    g_assert_cmpint(h.tick.pow2, ==, -22);
    g_assert_nonnull(strstr(g_ptr_array_index(h.sections, 0), "lab_commit=0123abc"));
    tt_corpus_header_clear(&h);

    /* other file-level settings: refused */
    static const char *const seed2[] = { "source=lab", "seed=2", NULL };
    g_assert_cmpuint(write_corpus(two, both, TRUE, 0, 0, seed2, &e), ==, G_MAXUINT64);
    g_assert_error(e, TT_ERROR, TT_ERROR_INVALID);
    g_clear_error(&e);
    g_assert_cmpuint(write_corpus(two, both, TRUE, 0, 100, meta, &e), ==, G_MAXUINT64);
    g_assert_error(e, TT_ERROR, TT_ERROR_INVALID);
    g_clear_error(&e);

    /* a damaged corpus is not appended to (its bytes would be copied as they are) */
    char *data;
    gsize len;
    g_assert_true(g_file_get_contents(two, &data, &len, NULL));
    char *cut = tmp_path("cut-append.ttseries.xz");
    write_bytes(cut, data, len - 100);
    static const char *const none[] = { NULL };
    g_assert_cmpuint(write_corpus(cut, none, TRUE, 0, 0, meta, &e), ==, G_MAXUINT64);
    g_assert_error(e, TT_ERROR, TT_ERROR_FORMAT);
    g_assert_nonnull(strstr(e->message, "damaged"));
    g_clear_error(&e);
    g_unlink(cut);
    g_free(cut);
    g_free(data);

    /* appended = written at once */
    write_corpus(one, both, FALSE, 0, 0, meta, &e);
    g_assert_no_error(e);
    tt_spec spec = spec_of(0);
    tt_dataset *a = tt_test_dataset(&spec, one), *b = tt_test_dataset(&spec, two);
    assert_same_blocks(a, b, TRUE);
    tt_dataset_free(a);
    tt_dataset_free(b);
    char *ca = tt_corpus_counts(one, "tunnel", NULL), *cb = tt_corpus_counts(two, "tunnel", NULL);
    g_assert_nonnull(strstr(ca, "\nflows\t46\n"));
    g_assert_nonnull(strstr(cb, "\nflows\t46\n"));
    g_assert_nonnull(strstr(cb, "\nsections\t2\n"));
    g_assert_nonnull(strstr(cb, "\ncell\tvoip\tvpn\t1\t2\t"));
    for (char **p = (char *[]){ part, all, one, two, NULL }; *p; p++) {
        g_unlink(*p);
        g_free(*p);
    }
    g_free(ca);
    g_free(cb);
    g_free(sha);
    g_free(sha_again);
}

/* ---- damaged corpora ------------------------------------------------------------------ */

/* Loading fails with an error naming the file and a line or byte, and keeps no sample. */
static void assert_fails(const char *path, const char *what)
{
    tt_spec spec = spec_of(0);
    tt_dataset *ds = tt_dataset_new(&spec, NULL, 0);
    GError *e = NULL;
    gboolean ok = tt_dataset_add_file(ds, path, NULL, &e);
    if (ok)
        g_error("%s: loaded without an error", what);
    g_assert_nonnull(e);
    g_assert_true(e->domain == TT_ERROR);
    if (!strstr(e->message, path) || !(strstr(e->message, "byte") || g_regex_match_simple(":[0-9]+:", e->message, 0, 0)))
        g_error("%s: the error does not say where: %s", what, e->message);
    g_error_free(e);
    tt_dataset_free(ds);
}

static char *g_good, *g_good_text;                 /* made once by make_good, kept (tt_test_keep) */
static gsize g_good_len, g_good_text_len;

static void make_good(void)
{
    if (g_good)
        return;
    const char *const manifests[] = { fixtures(), NULL };
    char *p = tmp_path("good.ttseries.xz"), *half = part_manifest("half.ttm", 17);
    const char *first[] = { half, NULL };
    GError *e = NULL;
    write_corpus(p, first, TRUE, 0, 0, NULL, &e);
    write_corpus(p, manifests, TRUE, 0, 0, NULL, &e);
    g_assert_no_error(e);
    g_assert_true(g_file_get_contents(p, &g_good, &g_good_len, NULL));
    tt_test_keep(g_good);
    char *t = tmp_path("good.ttseries");
    write_corpus(t, manifests, FALSE, 0, 0, NULL, &e);
    g_assert_no_error(e);
    g_assert_true(g_file_get_contents(t, &g_good_text, &g_good_text_len, NULL));
    tt_test_keep(g_good_text);
    g_unlink(t);
    g_unlink(p);
    g_unlink(half);
    g_free(t);
    g_free(p);
    g_free(half);
}

TT_TEST("/corpus/bad/truncated", test_truncated)
{
    make_good();
    char *p = tmp_path("trunc.ttseries.xz");
    /* shorter than the xz magic: not recognisable, but never read as data */
    for (gsize len = 1; len < 6; len++) {
        write_bytes(p, g_good, len);
        tt_spec spec = spec_of(0);
        tt_dataset *ds = tt_dataset_new(&spec, NULL, 0);
        GError *e = NULL;
        g_assert_false(tt_dataset_add_file(ds, p, NULL, &e));
        g_assert_nonnull(strstr(e->message, p));
        g_error_free(e);
        tt_dataset_free(ds);
    }
    /* every cut of the compressed file from the magic on (the ends densely) */
    for (gsize len = 6; len < g_good_len; len += (len < 64 || len > g_good_len - 64) ? 1 : 211) {
        write_bytes(p, g_good, len);
        char *what = g_strdup_printf("cut at %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT, len, g_good_len);
        assert_fails(p, what);
        g_free(what);
    }
    /* cut exactly after the header stream + first section: a valid xz file, one section short */
    tt_corpus_header h;
    tt_corpus_header_init(&h);
    uint64_t hb;
    write_bytes(p, g_good, g_good_len);
    g_assert_true(tt_corpus_header_read(p, &h, &hb, NULL));
    tt_corpus_header_clear(&h);
    /* the section streams: find the second one by its magic */
    gsize second = 0;
    for (gsize i = hb + 6; i + 6 <= g_good_len && !second; i++)
        if (tt_is_xz(g_good + i, 6))
            second = i;
    g_assert_cmpuint(second, >, hb);
    write_bytes(p, g_good, second);
    assert_fails(p, "one section short");
    tt_spec spec = spec_of(0);
    tt_dataset *ds = tt_dataset_new(&spec, NULL, 0);
    GError *e = NULL;
    g_assert_false(tt_dataset_add_file(ds, p, NULL, &e));
    g_assert_nonnull(strstr(e->message, "declares 2 sections"));
    g_error_free(e);
    tt_dataset_free(ds);
    g_unlink(p);
    g_free(p);
}

TT_TEST("/corpus/bad/corrupted", test_corrupted)
{
    make_good();
    char *p = tmp_path("flip.ttseries.xz");
    char *copy = g_memdup2(g_good, g_good_len);
    for (gsize i = 0; i < g_good_len; i += (i < 64 || i > g_good_len - 64) ? 1 : 251) {
        for (int bit = 0; bit < 8; bit += 7) {
            copy[i] ^= (char)(1 << bit);
            write_bytes(p, copy, g_good_len);
            char *what = g_strdup_printf("bit %d of byte %" G_GSIZE_FORMAT " flipped", bit, i);
            assert_fails(p, what);
            g_free(what);
            copy[i] ^= (char)(1 << bit);
        }
    }
    g_free(copy);
    g_unlink(p);
    g_free(p);
}

/* Plain-text v2: what xz's checks cannot see, the #end lines and #sections do. */
TT_TEST("/corpus/bad/text", test_text_damage)
{
    make_good();
    char *p = tmp_path("bad.ttseries");
    const char *t = g_good_text;
    const char *end = strstr(t, "\n#end ");
    g_assert_nonnull(end);
    /* without its #end line */
    write_bytes(p, t, (gsize)(end - t + 1));
    assert_fails(p, "no #end");
    /* cut at the end of a data line in the middle */
    const char *mid = strchr(t + g_good_text_len / 2, '\n');
    write_bytes(p, t, (gsize)(mid - t + 1));
    assert_fails(p, "cut at a line end");
    /* one packet more in the first flow (a time and a size): its section's #end disagrees */
    char *copy = g_strndup(t, g_good_text_len);
    char *line = strstr(copy, "\ns42-") + 1, *eol = strchr(line, '\n');
    char *times_end = eol;                                              /* the tab before the sizes */
    while (*times_end != '\t')
        times_end--;
    GString *more = g_string_new_len(copy, times_end - copy);
    g_string_append(more, " 1");
    g_string_append_len(more, times_end, eol - times_end);
    g_string_append(more, " 100");
    g_string_append(more, eol);
    write_bytes(p, more->str, more->len);
    assert_fails(p, "one packet more");
    g_string_free(more, TRUE);
    /* a line dropped: fewer flows than its #end says */
    char *second = strchr(strstr(copy, "\ns42-") + 1, '\n');
    GString *s = g_string_new_len(copy, second - copy);
    g_string_append(s, strchr(second + 1, '\n'));
    write_bytes(p, s->str, s->len);
    assert_fails(p, "one flow less");
    g_string_free(s, TRUE);
    /* NUL byte inside a line */
    copy[end - t - 3] = 0;
    write_bytes(p, copy, g_good_text_len);
    assert_fails(p, "NUL byte");
    g_free(copy);
    g_unlink(p);
    g_free(p);
}

/* Bad v2 lines, each an error with file and line. */
TT_TEST("/corpus/bad/lines", test_bad_lines)
{
    static const char *const bad[] = {
        "#ttseries v2 tick_ns=1000\ng\tvoip\tf\t-\t1 2 x\t100 100 100\n#end flows=1 packets=3\n",
        "#ttseries v2 tick_ns=1000\ng\tvoip\tf\t-\t1 2 3\t100 0 100\n#end flows=1 packets=3\n",
        "#ttseries v2 tick_ns=1000\ng\tvoip\tf\t-\t1 2 3\t100 100\n#end flows=1 packets=3\n",
        "#ttseries v2 tick_ns=1000\ng\tvoip\tf\t-\t\t\n#end flows=1 packets=0\n",
        "#ttseries v2 tick_ns=1000\ng\tvoip\tf\t-\t9223372036854775807 1\t100 100\n#end flows=1 packets=2\n",
        "#ttseries v2 tick_ns=1000\ng\tvoip\tf\t-\t1 -99999999999999999999\t100 100\n#end flows=1 packets=2\n",
        "#ttseries v2 tick_ns=1000\ng\tvoip\tf\t-\t1 2\t100 65576\n#end flows=1 packets=2\n",
        "#ttseries v2 tick_ns=0\n",
        "#ttseries v2 tick_pow2=-41\n",
        "#ttseries v2 tick_pow2=-22\ng\tvoip\tf\t-\t9007199254740993 1\t100 100\n#end flows=1 packets=2\n",
        "#ttseries v2 zip=1\n",
        "#ttseries v3\n",
        "#ttseries v2\n#sections 1\ng\tvoip\tf\t-\t1 2\t100 100\n#end section=2 flows=1 packets=2\n",
        "#ttseries v2\n#sections 0\ng\tvoip\tf\t-\t1 2\t100 100\n#end flows=1 packets=2\n",
        "#ttseries v2\ng\tvoip\tf\t-\t1 2\t100 100\n#end flows=1\n",
        "#ttseries v2\n\tvoip\tf\t-\t1 2\t100 100\n#end flows=1 packets=2\n",
    };
    char *p = tmp_path("line.ttseries");
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        write_bytes(p, bad[i], strlen(bad[i]));
        char *what = g_strdup_printf("bad case %u", i);
        assert_fails(p, what);
        g_free(what);
    }
    /* and a good one: negative differences (time going back) are allowed, and the
     * times are tt_time() of the ticks */
    const char *good = "#ttseries v2 tick_ns=1000\n#sections 1\ng\tvoip\tf\t-\t1795723182379600 -5 10\t100 1500 65575\n"
                       "#end section=1 flows=1 packets=3\n";
    write_bytes(p, good, strlen(good));
    GError *e = NULL;
    tt_series_reader *r = tt_series_open(p, &e);
    tt_series_flow f;
    g_assert_cmpint(tt_series_next(r, &f, &e), ==, 1);
    g_assert_cmpuint(f.times->len, ==, 3);
    g_assert_cmpfloat(g_array_index(f.times, double, 0), ==, tt_time(1795723182, 379600000));
    g_assert_cmpfloat(g_array_index(f.times, double, 1), ==, tt_time(1795723182, 379595000));
    g_assert_cmpfloat(g_array_index(f.times, double, 2), ==, tt_time(1795723182, 379605000));
    g_assert_cmpuint(g_array_index(f.sizes, uint32_t, 2), ==, 65575);
    g_assert_cmpint(tt_series_next(r, &f, &e), ==, 0);
    g_assert_no_error(e);
    tt_series_close(r);
    const char *pow2 = "#ttseries v2 tick_pow2=-22\ng\tvoip\tf\t-\t12582912 1 -2\t100 100 100\n#end flows=1 packets=3\n";
    write_bytes(p, pow2, strlen(pow2));
    r = tt_series_open(p, &e);
    g_assert_cmpint(tt_series_next(r, &f, &e), ==, 1);
    g_assert_cmpfloat(g_array_index(f.times, double, 0), ==, 3.0);
    g_assert_cmpfloat(g_array_index(f.times, double, 1), ==, 3.0 + 1.0 / 4194304.0);
    g_assert_cmpfloat(g_array_index(f.times, double, 2), ==, 3.0 - 1.0 / 4194304.0);
    g_assert_cmpint(tt_series_next(r, &f, &e), ==, 0);
    g_assert_no_error(e);
    tt_series_close(r);
    g_unlink(p);
    g_free(p);
}
