/* tt_bench_engine: the plugin's per-packet work without Wireshark (issue 7,
 * scaling). Runs plugin/triage-run.c, the layer packet-triage.c calls, on
 * the packets of captures, as the plugin does in tshark -2 / the GUI:
 *
 *   pass 1  triage_run_add() for every packet (flow table, block buffers,
 *           classification of every block that closes), then
 *           triage_run_flush() (the end-of-pass hook: every flow's last block)
 *   pass 2  triage_run_result() + triage_run_flow() for every packet (what
 *           the display of a visited frame looks up)
 *
 *   tt_bench_engine [--rounds R] MODEL.ttm CAPTURE...
 *
 * The captures are parsed into memory first (not timed). Times are thread
 * CPU time (the machine is shared), best of R rounds (default 3). Prints one
 * Markdown row per capture: packets, flows, blocks classified, ns per packet
 * for each pass and in total, and the classification's share; per-packet
 * cost must stay flat as packets and concurrent flows grow.
 */
#include "triage-run.h"
#include "tt_capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long rss_kb(const char *what)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = 0;
    size_t n = strlen(what);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, what, n) == 0)
            v = atol(line + n + 1);
    if (f)
        fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    int rounds = 3, a = 1;
    if (a + 1 < argc && strcmp(argv[a], "--rounds") == 0) {
        rounds = atoi(argv[a + 1]);
        a += 2;
    }
    if (argc - a < 2) {
        fprintf(stderr, "usage: %s [--rounds R] MODEL.ttm CAPTURE...\n", argv[0]);
        return 2;
    }
    const char *model = argv[a++];
    tt_blas_single_thread();

    printf("| capture | packets | flows (directed) | blocks classified | pass 1 ns/pkt | pass 2 ns/pkt | total ns/pkt "
           "| total s | RSS growth MiB |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (; a < argc; a++) {
        GError *err = NULL;
        tt_capture *c = tt_capture_open(argv[a], &err);
        if (!c) {
            fprintf(stderr, "%s\n", err->message);
            return 1;
        }
        GArray *pk = g_array_new(FALSE, FALSE, sizeof(tt_packet));
        tt_packet p;
        uint64_t frame;
        int r;
        while ((r = tt_capture_next(c, &p, &frame, &err)) == 1)
            g_array_append_val(pk, p);
        tt_capture_close(c);
        if (r < 0) {
            fprintf(stderr, "%s\n", err->message);
            return 1;
        }
        const tt_packet *pkts = (const tt_packet *)pk->data;
        size_t n = pk->len;
        triage_ref *refs = g_new(triage_ref, n * TRIAGE_MAX_MODELS);

        double best1 = 1e30, best2 = 1e30;
        guint64 flows = 0, blocks = 0;
        long rss_growth = 0;
        for (int round = 0; round < rounds; round++) {
            triage_run *run = triage_run_new();
            triage_run_set_models(run, model, "", 200000);
            if (run->slots[0].model == NULL) {
                fprintf(stderr, "%s\n", run->slots[0].error);
                return 1;
            }
            GArray *closed = g_array_new(FALSE, FALSE, sizeof(triage_closed));
            long rss0 = rss_kb("VmRSS");
            double t0 = cpu_now();
            for (size_t i = 0; i < n; i++) {
                g_array_set_size(closed, 0);
                triage_run_add(run, &pkts[i], &refs[i * TRIAGE_MAX_MODELS], closed);
            }
            triage_run_flush(run);
            double t1 = cpu_now();
            long rss1 = rss_kb("VmRSS");
            guint64 found = 0;
            for (size_t i = 0; i < n; i++) {
                const triage_ref *rf = &refs[i * TRIAGE_MAX_MODELS];
                if (rf->flow && triage_run_result(run, 0, rf->flow, rf->block))
                    found++;
                (void)triage_run_flow(run, 0, rf->flow);
            }
            double t2 = cpu_now();
            if (found != n)
                fprintf(stderr, "%s: %" G_GUINT64_FORMAT " of %zu packets without a result\n", argv[a], n - found, n);
            tt_engine_stats st;
            tt_engine_get_stats(run->slots[0].eng, &st);
            flows = st.flows_created;
            blocks = st.blocks_closed - st.blocks_too_few;
            best1 = MIN(best1, t1 - t0);
            best2 = MIN(best2, t2 - t1);
            rss_growth = MAX(rss_growth, rss1 - rss0);
            g_array_free(closed, TRUE);
            triage_run_free(run);
        }
        const char *base = strrchr(argv[a], '/');
        printf("| %s | %zu | %" G_GUINT64_FORMAT " | %" G_GUINT64_FORMAT " | %.0f | %.0f | %.0f | %.3f | %.1f |\n",
               base ? base + 1 : argv[a], n, flows, blocks, 1e9 * best1 / n, 1e9 * best2 / n,
               1e9 * (best1 + best2) / n, best1 + best2, rss_growth / 1024.0);
        fflush(stdout);
        g_free(refs);
        g_array_free(pk, TRUE);
    }
    return 0;
}
