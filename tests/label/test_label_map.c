/* The nDPI -> class table of `traffictriage label` (cli/label-map.c): every
 * row well formed, and what a few known nDPI answers become. No nDPI needed. */
#include <string.h>

#include "label-map.h"

static gboolean is_class(const char *c)
{
    for (guint i = 0; i < G_N_ELEMENTS(tt_label_classes); i++)
        if (strcmp(c, tt_label_classes[i]) == 0)
            return TRUE;
    return FALSE;
}

static gboolean same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void test_rows(void)
{
    guint n;
    const tt_map_row *rows = tt_label_map_rows(&n);
    g_assert_cmpuint(n, >, 10);
    for (guint i = 0; i < n; i++) {
        const tt_map_row *r = &rows[i];
        g_assert_nonnull(r->name);
        g_assert_cmpuint(strlen(r->name), >, 0);
        g_assert_true(r->cls == NULL || is_class(r->cls));
        if (!r->cls)                     /* every row that leaves flows out says why */
            g_assert_nonnull(r->why);
        for (guint j = 0; j < i; j++)    /* a row hidden behind an identical one would never decide */
            g_assert_false(rows[j].kind == r->kind && strcmp(rows[j].name, r->name) == 0 &&
                           same_text(rows[j].media, r->media) && same_text(rows[j].category, r->category));
    }
}

typedef struct {
    const char *master, *app, *category, *media;
    const char *want;          /* class, or NULL */
    gboolean by_rule;          /* a row decided (else: no row fits) */
} map_case;

static const map_case cases[] = {
    { NULL, "RTP", "Media", NULL, "voip", TRUE },
    { NULL, "RTP", "Media", "video", "video", TRUE },
    { NULL, "SRTP", "Media", NULL, "voip", TRUE },
    { NULL, "RTCP", "VoIP", NULL, "voip", TRUE },
    { "STUN", "WhatsAppCall", "VoIP", NULL, "voip", TRUE },
    { "STUN", "Telegram", "Chat", NULL, "voip", TRUE },          /* a chat app's relayed call */
    { NULL, "STUN", "Network", NULL, NULL, FALSE },               /* binding checks: no row */
    { NULL, "SIP", "VoIP", NULL, NULL, TRUE },                    /* signalling, not media */
    { NULL, "H323", "VoIP", NULL, NULL, TRUE },
    { NULL, "MGCP", "VoIP", NULL, NULL, TRUE },
    { "TLS", "YouTube", "Media", NULL, "video", TRUE },
    { "QUIC", "YouTubeUpload", "Media", NULL, "file_transfer", TRUE },
    { NULL, "IceCast", "Media", NULL, NULL, TRUE },
    { "DNS", "Wikipedia", "Web", NULL, NULL, TRUE },              /* a lookup, not a page */
    { NULL, "DNS", "Streaming", NULL, NULL, TRUE },
    { "TLS", "Wikipedia", "Web", NULL, "browsing", TRUE },
    { NULL, "HTTP", "Web", NULL, "browsing", TRUE },
    { "HTTP", "1kxun", "Streaming", NULL, "video", TRUE },
    { NULL, "NetFlix", "Video", NULL, "video", TRUE },
    { NULL, "Telegram", "Chat", NULL, "chat", TRUE },
    { "TLS", "Signal", "Chat", NULL, "chat", TRUE },
    { NULL, "FTP_DATA", "Download", NULL, "file_transfer", TRUE },
    { NULL, "FTP_CONTROL", "Download", NULL, NULL, TRUE },
    { NULL, "BitTorrent", "Download-FileTransfer-FileSharing", NULL, "file_transfer", TRUE },
    { NULL, "NFS", "DataTransfer", NULL, "file_transfer", TRUE },
    { NULL, "Spotify", "Music", NULL, NULL, FALSE },
    { "TLS", "Facebook", "SocialNetwork", NULL, NULL, FALSE },
    { NULL, "Unknown", "Unspecified", NULL, NULL, FALSE },
    { NULL, NULL, NULL, NULL, NULL, FALSE },
};

static void test_case(gconstpointer data)
{
    const map_case *c = data;
    const tt_map_row *row = (const tt_map_row *)1;
    const char *got = tt_label_map(c->master, c->app, c->category, c->media, &row);
    g_assert_cmpstr(got, ==, c->want);
    if (c->by_rule) {
        g_assert_nonnull(row);
        g_assert_true(same_text(row->cls, got));
    } else {
        g_assert_null(row);
    }
    g_assert_cmpstr(tt_label_map(c->master, c->app, c->category, c->media, NULL), ==, c->want);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/label/map/rows", test_rows);
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        const map_case *c = &cases[i];
        char *name = g_strdup_printf("/label/map/%s.%s/%s%s%s", c->master ? c->master : "-", c->app ? c->app : "-",
                                     c->category ? c->category : "-", c->media ? "/" : "", c->media ? c->media : "");
        g_test_add_data_func(name, c, test_case);
        g_free(name);
    }
    return g_test_run();
}
