/* Training inputs: manifest lines, packet series, FlowPic CSV; every parse
 * error names its file and line. */
#include <glib/gstdio.h>
#include <string.h>

#include "tt_dataset.h"
#include "tt_test.h"

static char *tmp_file(const char *name, const char *text)
{
    char *path = tt_test_scratch(name);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

static tt_spec small_spec(void)
{
    tt_spec s;
    tt_spec_init_mini(&s, 16);
    s.block_seconds = 10.0;
    s.min_packets = 3;
    return s;
}

TT_TEST("/dataset/manifest-line", test_manifest_line)
{
    tt_manifest_rule r;
    GError *e = NULL;
    g_assert_true(tt_manifest_parse_line("a.pcap\tvoip\ts1\tudp\t10.0.0.1\t5060\t10.0.0.2\t*\t*\t100.5\tapp=x", &r, &e));
    g_assert_no_error(e);
    g_assert_cmpuint(r.proto, ==, 17);
    g_assert_false(r.any_a);
    g_assert_true(r.any_pb);
    g_assert_cmpfloat(r.t_end, ==, 100.5);
    tt_packet p;
    memset(&p, 0, sizeof p);
    p.key.family = 4;
    p.key.proto = 17;
    p.key.src[0] = 10; p.key.src[3] = 2; p.key.sport = 40000;
    p.key.dst[0] = 10; p.key.dst[3] = 1; p.key.dport = 5060;
    p.ts = 99.0;
    g_assert_true(tt_manifest_rule_match(&r, &p));       /* reverse direction matches too */
    p.ts = 101.0;
    g_assert_false(tt_manifest_rule_match(&r, &p));      /* after t_end */
    p.ts = 50.0;
    p.key.proto = 6;
    g_assert_false(tt_manifest_rule_match(&r, &p));
    p.key.proto = 17;
    p.key.dport = 5061;
    g_assert_false(tt_manifest_rule_match(&r, &p));
    tt_manifest_rule_clear(&r);

    g_assert_true(tt_manifest_parse_line("b.pcap\tvideo\tg\t*\t2001:db8::1\t*\t*\t*\t*\t*\t-", &r, NULL));
    memset(&p, 0, sizeof p);
    p.key.family = 6;
    p.key.proto = 6;
    p.key.dst[0] = 0x20; p.key.dst[1] = 0x01; p.key.dst[2] = 0x0d; p.key.dst[3] = 0xb8; p.key.dst[15] = 1;
    g_assert_true(tt_manifest_rule_match(&r, &p));
    tt_manifest_rule_clear(&r);

    const char *bad[] = {
        "too\tfew\tfields",
        "a\tb\tc\ticmp\t*\t*\t*\t*\t*\t*\t-",
        "a\tb\tc\tudp\t10.0.0.300\t*\t*\t*\t*\t*\t-",
        "a\tb\tc\tudp\t*\t70000\t*\t*\t*\t*\t-",
        "a\tb\tc\tudp\t*\t*\t*\t*\t10\t5\t-",
        "a\tb\tc\tudp\t*\t*\t*\t*\tnan\t*\t-",
        "\tb\tc\tudp\t*\t*\t*\t*\t*\t*\t-",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_false(tt_manifest_parse_line(bad[i], &r, &e));
        g_assert_error(e, TT_ERROR, TT_ERROR_FORMAT);
        g_clear_error(&e);
    }
}

/* A file that loads without an error, its class list sorted. */
static tt_dataset *load_ok(const char *path)
{
    const tt_spec s = small_spec();
    return tt_test_dataset(&s, path);
}

/* Each text written to path fails to load with a format error naming the file and a line. */
static void expect_format_errors(const char *path, const char *const *bad, size_t n)
{
    tt_spec s = small_spec();
    for (size_t i = 0; i < n; i++) {
        g_assert_true(g_file_set_contents(path, bad[i], -1, NULL));
        tt_dataset *ds = tt_dataset_new(&s, NULL, 0);
        GError *e = NULL;
        g_assert_false(tt_dataset_add_file(ds, path, NULL, &e));
        g_assert_error(e, TT_ERROR, TT_ERROR_FORMAT);
        g_assert_nonnull(strstr(e->message, path));
        g_assert_true(g_regex_match_simple(":[0-9]+:", e->message, 0, 0));
        g_error_free(e);
        tt_dataset_free(ds);
    }
}

TT_TEST("/dataset/series", test_series)
{
    char *path = tmp_file("tt-test.tts",
        "#ttseries v1\n"
        "# comment\n"
        "s1\tvoip\tf1\tapp=a\t0 0.1 0.2 0.3 0.4 11 11.1 11.2\t100 100 100 100 100 200 200 200\n"
        "s2\tvideo\tf2\t-\t5 5.5 6\t1500 1500 1500\n"
        "s2\tvideo\tf3\t-\t5 6\t1500 1500\n");
    tt_dataset *ds = load_ok(path);
    /* classes sorted: video, voip; s1 gives 2 blocks (5 + 3 packets), s2 one ok + one too short */
    g_assert_cmpstr(g_ptr_array_index(ds->classes, 0), ==, "video");
    g_assert_cmpuint(ds->samples->len, ==, 3);
    g_assert_cmpuint(g_array_index(ds->too_few, uint64_t, 0), ==, 1);
    const tt_sample *a = &g_array_index(ds->samples, tt_sample, 0);
    g_assert_cmpuint(a->label, ==, 1);
    g_assert_cmpuint(a->n, ==, 5);
    const tt_sample *b = &g_array_index(ds->samples, tt_sample, 1);
    g_assert_cmpuint(b->block_index, ==, 1);
    g_assert_cmpuint(b->n, ==, 3);
    const tt_pkt *pk = &g_array_index(ds->pkts, tt_pkt, b->off);
    g_assert_cmpfloat_with_epsilon(pk[0].t, 1.0f, 1e-5);    /* relative to the block window at 10 s */
    g_assert_cmpuint(pk[0].size, ==, 200);
    g_assert_cmpuint(ds->groups->len, ==, 2);
    /* every labelled flow has a record, also f3 whose only block had too few packets */
    g_assert_cmpuint(ds->flows->len, ==, 3);
    const tt_flow_rec *f1 = &g_array_index(ds->flows, tt_flow_rec, a->flow);
    g_assert_true(b->flow == a->flow);
    g_assert_cmpuint(f1->label, ==, 1);
    g_assert_cmpuint(f1->packets, ==, 8);
    g_assert_cmpuint(f1->blocks, ==, 2);
    g_assert_cmpuint(f1->blocks_ok, ==, 2);
    g_assert_cmpfloat_with_epsilon(f1->last_ts - f1->first_ts, 11.2, 1e-9);
    const tt_flow_rec *f3 = &g_array_index(ds->flows, tt_flow_rec, 2);
    g_assert_cmpuint(f3->label, ==, 0);
    g_assert_cmpuint(f3->packets, ==, 2);
    g_assert_cmpuint(f3->blocks_ok, ==, 0);
    char *app = tt_attr_get(g_ptr_array_index(ds->attrs, a->attrs), "app");
    g_assert_cmpstr(app, ==, "a");
    g_free(app);
    tt_dataset_free(ds);

    static const char *const bad[] = {
        "#ttseries v1\ns\tl\tf\t-\t1 2 3\t10 20\n",          /* counts differ */
        "#ttseries v1\ns\tl\tf\t-\t1 x 3\t10 20 30\n",        /* bad time */
        "#ttseries v1\ns\tl\tf\t-\t1 2 3\t10 0 30\n",         /* size 0 */
        "#ttseries v1\ns\tl\tf\t1 2 3\t10 20 30\n",           /* 5 fields */
    };
    expect_format_errors(path, bad, G_N_ELEMENTS(bad));
    g_remove(path);
    g_free(path);
}

/* The same flows as test_series in v2 (integer milliseconds): the same samples;
 * a v2 file whose section is cut short is an error naming the file and line. */
TT_TEST("/dataset/series-v2", test_series_v2)
{
    char *path = tmp_file("tt-test-v2.tts",
        "#ttseries v2 tick_ns=1000000\n"
        "#sections 1\n"
        "s1\tvoip\tf1\tapp=a\t0 100 100 100 100 10600 100 100\t100 100 100 100 100 200 200 200\n"
        "s2\tvideo\tf2\t-\t5000 500 500\t1500 1500 1500\n"
        "s2\tvideo\tf3\t-\t5000 1000\t1500 1500\n"
        "#end section=1 flows=3 packets=13\n");
    tt_dataset *ds = load_ok(path);
    g_assert_cmpuint(ds->samples->len, ==, 3);
    g_assert_cmpuint(g_array_index(ds->too_few, uint64_t, 0), ==, 1);
    g_assert_cmpuint(ds->flows->len, ==, 3);
    const tt_sample *b = &g_array_index(ds->samples, tt_sample, 1);
    g_assert_cmpuint(b->block_index, ==, 1);
    g_assert_cmpfloat_with_epsilon(g_array_index(ds->pkts, tt_pkt, b->off).t, 1.0f, 1e-5);
    tt_dataset_free(ds);

    static const char *const bad[] = {
        "#ttseries v2 tick_ns=1000000\ns\tl\tf\t-\t1 2 3\t10 20 30\n",               /* no #end */
        "#ttseries v2 tick_ns=1000000\ns\tl\tf\t-\t1 2 3\t10 20 30\n#end flows=1 packets=2\n",
        "#ttseries v2 tick_ns=1000000\ns\tl\tf\t-\t1 2.5 3\t10 20 30\n#end flows=1 packets=3\n",
        "#ttseries v2 tick_ns=1000000\n#sections 2\ns\tl\tf\t-\t1 2 3\t10 20 30\n#end flows=1 packets=3\n",
    };
    expect_format_errors(path, bad, G_N_ELEMENTS(bad));
    g_remove(path);
    g_free(path);
}

TT_TEST("/dataset/fixed-classes", test_fixed_classes)
{
    char *path = tmp_file("tt-test2.tts",
        "#ttseries v1\n"
        "s1\tchat\tf\t-\t0 1 2 3\t100 100 100 100\n"
        "s2\tother\tf\t-\t0 1 2 3\t100 100 100 100\n");
    tt_spec s = small_spec();
    const char *cls[] = { "chat", "voip" };
    tt_dataset *ds = tt_dataset_new(&s, cls, 2);
    g_assert_true(tt_dataset_add_file(ds, path, NULL, NULL));
    tt_dataset_finish(ds);
    g_assert_cmpuint(ds->classes->len, ==, 2);
    g_assert_cmpuint(ds->samples->len, ==, 1);
    g_assert_cmpuint(ds->unknown_label_blocks, ==, 1);
    tt_dataset_free(ds);
    g_remove(path);
    g_free(path);
}

TT_TEST("/dataset/label-attr", test_label_attr)
{
    char *path = tmp_file("tt-test3.tts",
        "#ttseries v1\n"
        "s1\tchat\tf\ttunnel=vpn;app=x\t0 1 2 3\t100 100 100 100\n"
        "s2\tvoip\tf\ttunnel=tor\t0 1 2 3\t100 100 100 100\n"
        "s3\tvoip\tf\tapp=y\t0 1 2 3\t100 100 100 100\n");
    tt_spec s = small_spec();
    tt_dataset *ds = tt_dataset_new(&s, NULL, 0);
    tt_dataset_set_label_attr(ds, "tunnel");
    g_assert_true(tt_dataset_add_file(ds, path, NULL, NULL));
    tt_dataset_finish(ds);
    g_assert_cmpuint(ds->classes->len, ==, 2);            /* tor, vpn; s3 has no tunnel attribute */
    g_assert_cmpstr(g_ptr_array_index(ds->classes, 0), ==, "tor");
    g_assert_cmpuint(ds->samples->len, ==, 2);
    g_assert_cmpuint(g_array_index(ds->samples, tt_sample, 0).label, ==, 1);
    tt_dataset_free(ds);
    /* only flows with tunnel != tor, labelled by their label column */
    ds = tt_dataset_new(&s, NULL, 0);
    const char *where[] = { "tunnel!=tor", NULL };
    tt_dataset_set_where(ds, where);
    g_assert_true(tt_dataset_add_file(ds, path, NULL, NULL));
    tt_dataset_finish(ds);
    g_assert_cmpuint(ds->samples->len, ==, 2);          /* s1 (vpn) and s3 (no tunnel attribute) */
    g_assert_cmpuint(ds->filtered_flows, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(ds->classes, 0), ==, "chat");
    tt_dataset_free(ds);
    ds = tt_dataset_new(&s, NULL, 0);
    const char *where2[] = { "tunnel=vpn", "app=x", NULL };
    tt_dataset_set_where(ds, where2);
    g_assert_true(tt_dataset_add_file(ds, path, NULL, NULL));
    g_assert_cmpuint(ds->samples->len, ==, 1);
    tt_dataset_free(ds);
    g_remove(path);
    g_free(path);
}

TT_TEST("/dataset/flowpic-csv", test_flowpic_csv)
{
    char *path = tmp_file("tt-test.csv",
        "cap1.pcap,10.0.0.1,1000,10.0.0.2,2000,UDP,0.0,4,0.0,1.0,2.0,3.0,,100,200,300,400\n"
        "cap2.pcap,10.0.0.1,1000,10.0.0.2,2000,UDP,0.0,3,0.0,1.0,2.0,100,200,300\n");
    tt_spec s = small_spec();
    tt_dataset *ds = tt_dataset_new(&s, NULL, 0);
    GError *e = NULL;
    g_assert_false(tt_dataset_add_file(ds, path, NULL, &e));      /* needs FILE:LABEL */
    g_assert_error(e, TT_ERROR, TT_ERROR_INVALID);
    g_clear_error(&e);
    g_assert_true(tt_dataset_add_file(ds, path, "chat", &e));
    g_assert_no_error(e);
    tt_dataset_finish(ds);
    g_assert_cmpuint(ds->samples->len, ==, 2);
    const tt_sample *a = &g_array_index(ds->samples, tt_sample, 0);
    g_assert_cmpuint(a->n, ==, 4);
    g_assert_cmpuint(g_array_index(ds->pkts, tt_pkt, a->off + 3).size, ==, 400);
    g_assert_cmpstr(g_ptr_array_index(ds->groups, a->group), ==, "cap1.pcap");
    tt_dataset_free(ds);
    g_assert_true(g_file_set_contents(path, "cap,1,2,3,4,UDP,0,3,0,1\n", -1, NULL));
    ds = tt_dataset_new(&s, NULL, 0);
    g_assert_false(tt_dataset_add_file(ds, path, "chat", &e));
    g_assert_error(e, TT_ERROR, TT_ERROR_FORMAT);
    g_clear_error(&e);
    tt_dataset_free(ds);
    g_remove(path);
    g_free(path);
}

/* A DATA argument: FILE:LABEL split at the last colon unless the whole names a
 * file; captures by suffix (labelled, grouped by base name), the rest by content. */
TT_TEST("/dataset/input", test_input)
{
    tt_spec s = small_spec();
    tt_dataset *ds = tt_dataset_new(&s, NULL, 0);
    GError *e = NULL;
    char *cap = g_test_build_filename(G_TEST_DIST, "captures", "long.pcap", NULL);
    char *arg = g_strconcat(cap, ":video", NULL);
    g_assert_true(tt_dataset_add_input(ds, arg, &e));
    g_assert_no_error(e);
    g_assert_true(tt_dataset_add_input(ds, cap, &e));             /* no label: "unlabelled" */
    g_assert_no_error(e);
    tt_dataset_finish(ds);
    g_assert_cmpuint(ds->groups->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(ds->groups, 0), ==, "long.pcap");
    g_assert_cmpuint(ds->classes->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(ds->classes, 0), ==, "unlabelled");
    g_assert_cmpstr(g_ptr_array_index(ds->classes, 1), ==, "video");
    g_assert_cmpuint(ds->samples->len, >, 0);
    tt_dataset_free(ds);

    /* a CSV whose own name has a colon: the whole argument is the file, so no label */
    char *csv = tmp_file("tt-test:odd.csv", "cap1.pcap,10.0.0.1,1000,10.0.0.2,2000,UDP,0.0,3,0.0,1.0,2.0,,100,200,300\n");
    ds = tt_dataset_new(&s, NULL, 0);
    g_assert_false(tt_dataset_add_input(ds, csv, &e));           /* FlowPic CSV needs a label */
    g_assert_error(e, TT_ERROR, TT_ERROR_INVALID);
    g_clear_error(&e);
    char *labelled = g_strconcat(csv, ":chat", NULL);
    g_assert_true(tt_dataset_add_input(ds, labelled, &e));
    g_assert_no_error(e);
    tt_dataset_finish(ds);
    g_assert_cmpuint(ds->samples->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(ds->classes, 0), ==, "chat");
    tt_dataset_free(ds);

    ds = tt_dataset_new(&s, NULL, 0);
    g_assert_false(tt_dataset_add_input(ds, "/nonexistent/x.pcap:chat", &e));
    g_assert_nonnull(e);
    g_clear_error(&e);
    tt_dataset_free(ds);
    g_remove(csv);
    g_free(labelled);
    g_free(csv);
    g_free(arg);
    g_free(cap);
}
