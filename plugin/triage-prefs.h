/* TrafficTriage plugin: the preferences, all in one struct, and what they
 * decide: which models are loaded and the threshold below which an answer
 * reads "unknown".
 *
 * Set with `-o triage.NAME:VALUE` or Edit > Preferences > Protocols >
 * TrafficTriage; listed by `tshark -G defaultprefs`. Wireshark calls the
 * apply callback when one changed, and the init routine applies them for
 * every file (Wireshark does not call apply callbacks of untouched
 * modules): the threshold is parsed there, once, and the models (re)loaded
 * when their files changed. Dissection reads only the parsed values,
 * through the functions below.
 */
#ifndef TRIAGE_PREFS_H
#define TRIAGE_PREFS_H

#include "ws-compat.h"   /* triage_pref_bool */
#include "triage-run.h"  /* triage_run, triage_slot */

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

    /* Parsed by triage_prefs_apply. */
    gboolean    threshold_set;   /* FALSE: each model's recommended threshold */
    double      threshold_value; /* when set: confidence below this => "unknown" */
} triage_prefs_t;

/* Register the preferences of protocol `proto`; the models they name are
 * loaded into `run` (the plugin's). */
void triage_prefs_register(int proto, triage_run *run);

/* Parse the threshold and, with load_models, (re)load the models if their
 * files changed (one log line per model that failed to load). */
void triage_prefs_apply(gboolean load_models);

/* triage.enabled */
gboolean triage_prefs_enabled(void);

/* The threshold below which a slot's answers read "unknown": triage.threshold
 * when set, else the one its model recommends. */
double triage_threshold(const triage_slot *s);

/* Free what the preferences keep (shutdown routine). */
void triage_prefs_shutdown(void);

#endif
