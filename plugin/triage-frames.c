/* TrafficTriage plugin: the per-frame store. See triage-frames.h. */
#include <string.h>
#include "triage-frames.h"

#define FRAME_PAGE_SHIFT 16u                   /* 65536 frames per page */
#define FRAME_PAGE (1u << FRAME_PAGE_SHIFT)

static struct {
    guint32   stride;                 /* words per frame: 1 + slots */
    guint32   n_pages;
    guint32 **pages;                  /* NULL until a frame of the page is stored */
    GArray   *closed_log;             /* triage_frame_closed, sorted by num */
} frames;

void
triage_frames_reset(void)
{
    for (guint32 i = 0; i < frames.n_pages; i++)
        g_free(frames.pages[i]);
    g_free(frames.pages);
    frames.pages = NULL;
    frames.n_pages = 0;
    frames.stride = 0;
    if (frames.closed_log)
        g_array_free(frames.closed_log, TRUE);
    frames.closed_log = NULL;
}

/* The stored words of frame num, or NULL; `n_ids` > 0 allocates its page
 * (and, for the capture's first frame, fixes the stride). */
static guint32 *
frames_slot(guint32 num, guint32 n_ids)
{
    gboolean create = n_ids > 0;
    if (frames.stride == 0) {
        if (!create)
            return NULL;
        frames.stride = 1 + n_ids;
    }
    guint32 page = num >> FRAME_PAGE_SHIFT;
    if (page >= frames.n_pages) {
        if (!create)
            return NULL;
        guint32 n = MAX(page + 1, frames.n_pages * 2);
        frames.pages = g_renew(guint32 *, frames.pages, n);
        memset(frames.pages + frames.n_pages, 0, sizeof(guint32 *) * (n - frames.n_pages));
        frames.n_pages = n;
    }
    if (frames.pages[page] == NULL) {
        if (!create)
            return NULL;
        frames.pages[page] = g_malloc0(sizeof(guint32) * frames.stride * FRAME_PAGE);
    }
    return frames.pages[page] + (gsize)(num & (FRAME_PAGE - 1)) * frames.stride;
}

gboolean
triage_frames_get(guint32 num, triage_frame *fr)
{
    const guint32 *w = frames_slot(num, 0);
    if (w == NULL || !(w[0] & TRIAGE_FRAME_PRESENT))
        return FALSE;
    fr->status = w[0];
    fr->n_ids = MIN(frames.stride - 1, TRIAGE_MAX_MODELS);
    memset(fr->ids, 0, sizeof fr->ids);
    memcpy(fr->ids, w + 1, sizeof(guint32) * fr->n_ids);
    return TRUE;
}

void
triage_frames_put(guint32 num, const triage_frame *fr)
{
    guint32 *w = frames_slot(num, MAX(fr->n_ids, 1u));   /* a frame without models keeps one id word */
    w[0] = fr->status;
    memcpy(w + 1, fr->ids, sizeof(guint32) * MIN(frames.stride - 1, TRIAGE_MAX_MODELS));
}

/* Frames of the first pass come in order, so this appends; anything else is
 * inserted in place to keep the log sorted. */
void
triage_frames_log_closed(guint32 num, guint32 id)
{
    triage_frame_closed c = { num, id };
    if (frames.closed_log == NULL)
        frames.closed_log = g_array_new(FALSE, FALSE, sizeof(triage_frame_closed));
    GArray *a = frames.closed_log;
    guint i = a->len;
    while (i > 0 && g_array_index(a, triage_frame_closed, i - 1).num > num)
        i--;
    g_array_insert_val(a, i, c);
}

guint
triage_frames_closed(guint32 num, const triage_frame_closed **first)
{
    const GArray *a = frames.closed_log;
    guint lo = 0, hi = a ? a->len : 0;
    while (lo < hi) {                 /* the first entry of frame num (binary search) */
        guint mid = lo + (hi - lo) / 2;
        if (g_array_index(a, triage_frame_closed, mid).num < num)
            lo = mid + 1;
        else
            hi = mid;
    }
    guint n = 0;
    while (a && lo + n < a->len && g_array_index(a, triage_frame_closed, lo + n).num == num)
        n++;
    *first = n ? &g_array_index(a, triage_frame_closed, lo) : NULL;
    return n;
}
