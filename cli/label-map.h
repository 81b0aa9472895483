/* traffictriage label: the one table from nDPI's answer for a flow to
 * TrafficTriage's five classes (voip, video, chat, browsing, file_transfer).
 * No nDPI dependency: rows are keyed by nDPI's protocol and category NAMES,
 * which stay stable across nDPI versions while their numbers do not. The
 * reasoning of every non-obvious row is in label-map.c, next to the row. */
#ifndef TT_LABEL_MAP_H
#define TT_LABEL_MAP_H

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    TT_MAP_ROW_MASTER = 0,     /* nDPI's master protocol (DNS in DNS.Wikipedia), or its only one (DNS) */
    TT_MAP_ROW_APP = 1,        /* nDPI's application protocol name (RTP, YouTube, SIP, ...) */
    TT_MAP_ROW_CATEGORY = 2    /* nDPI's category name (VoIP, Web, Download, ...) */
} tt_map_row_kind;

typedef struct {
    tt_map_row_kind kind;
    const char *name;          /* as nDPI names it */
    const char *media;         /* NULL, or only for flows whose media hint is this ("video") */
    const char *category;      /* NULL, or only for flows nDPI files under this category */
    const char *cls;           /* one of the five classes, or NULL: left out on purpose */
    const char *why;           /* the reasoning for a non-obvious row, else NULL */
} tt_map_row;

/* Class of a flow nDPI named: master = its master protocol (TLS in
 * TLS.YouTube; NULL or "" when there is none), app = its application protocol
 * (the more specific name: YouTube; the master when that is all nDPI knows),
 * category = nDPI's category name, media = NULL or "video" (an RTP flow whose
 * payload type is a video codec). The first MASTER row that names the master,
 * or the app when there is no master, decides, else the first APP row whose name (and media, if the row has one) fits,
 * else the category's row. Returns the class, or NULL when the flow is left
 * out; *row (may be NULL) gets the row that decided, or NULL when no row fits
 * (unmapped). */
const char *tt_label_map(const char *master, const char *app, const char *category, const char *media,
                         const tt_map_row **row);

/* The whole table, for tests and documentation. */
const tt_map_row *tt_label_map_rows(guint *n);

/* The five classes, in the trainer's order of the bundled model. */
extern const char *const tt_label_classes[5];

G_END_DECLS

#endif
