/* TrafficTriage plugin: all preferences in one struct.
 *
 * Set with `-o triage.NAME:VALUE` or Edit > Preferences > Protocols >
 * TrafficTriage; listed by `tshark -G defaultprefs`. The values are read by
 * the prefs-apply callback (packet-triage.c), which (re)loads the models and
 * parses the threshold; dissection code reads only the parsed copies below.
 */
#ifndef TRIAGE_PREFS_H
#define TRIAGE_PREFS_H

#include "ws-compat.h"   /* triage_pref_bool */
#include "triage-run.h"  /* triage_slot */

#define TRIAGE_DEFAULT_THRESHOLD   ""       /* each model's own (tt_model_threshold) */
#define TRIAGE_DEFAULT_MAX_FLOWS   200000u
#define TRIAGE_BUNDLED_MODEL_DIR   "triage"        /* next to triage.so */
#define TRIAGE_BUNDLED_MODEL_FILE  "category.ttm"

typedef struct {
    /* As registered with Wireshark (Wireshark owns the strings). */
    triage_pref_bool enabled;   /* triage.enabled */
    const char *model;          /* triage.model: file; "" = bundled model */
    const char *extra_models;   /* triage.extra_models: ';'-separated files */
    const char *threshold;      /* triage.threshold: decimal 0..1, as text; "" = each model's own */
    guint       max_flows;      /* triage.max_flows: flows tracked at once per model */

    /* Parsed by the apply callback. */
    gboolean    threshold_set;   /* FALSE: each model's recommended threshold */
    double      threshold_value; /* when set: confidence below this => "unknown" */
} triage_prefs_t;

/* The threshold below which a slot's answers read "unknown": triage.threshold when
 * set, else the one its model recommends (packet-triage.c). */
double triage_threshold(const triage_slot *s);

#endif
