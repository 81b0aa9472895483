/* TrafficTriage plugin: the preferences. See triage-prefs.h. */
#define _GNU_SOURCE 1          /* dladdr */
#include "triage-prefs.h"

#include <dlfcn.h>
#include <epan/prefs.h>
#include <wsutil/filesystem.h>

static triage_prefs_t triage_prefs = {
    .enabled = TRUE,
    .model = "",
    .extra_models = "",
    .threshold = TRIAGE_DEFAULT_THRESHOLD,
    .max_flows = TRIAGE_DEFAULT_MAX_FLOWS,
    .threshold_set = FALSE,
    .threshold_value = TT_MODEL_DEFAULT_THRESHOLD,
};

static triage_run *prefs_run;        /* where the models are loaded */
static char *bad_threshold;          /* last invalid threshold reported */

/* <dir of the loaded triage.so>/triage/category.ttm; else the same under the
 * personal then the global plugin dir. Returns the first candidate when none
 * exists, so the error message names where the model was expected. */
static char *
bundled_model_path(void)
{
    GPtrArray *cand = g_ptr_array_new_with_free_func(g_free);
    Dl_info info;
    if (dladdr((void *)&bundled_model_path, &info) && info.dli_fname) {
        char *dir = g_path_get_dirname(info.dli_fname);
        g_ptr_array_add(cand, g_build_filename(dir, TRIAGE_BUNDLED_MODEL_DIR,
                                               TRIAGE_BUNDLED_MODEL_FILE, NULL));
        g_free(dir);
    }
    g_ptr_array_add(cand, g_build_filename(get_plugins_pers_dir_with_version(), "epan",
                                           TRIAGE_BUNDLED_MODEL_DIR, TRIAGE_BUNDLED_MODEL_FILE, NULL));
    g_ptr_array_add(cand, g_build_filename(get_plugins_dir_with_version(), "epan",
                                           TRIAGE_BUNDLED_MODEL_DIR, TRIAGE_BUNDLED_MODEL_FILE, NULL));
    char *found = NULL;
    for (guint i = 0; i < cand->len && !found; i++)
        if (g_file_test(g_ptr_array_index(cand, i), G_FILE_TEST_IS_REGULAR))
            found = g_strdup(g_ptr_array_index(cand, i));
    if (!found)
        found = g_strdup(g_ptr_array_index(cand, 0));
    g_ptr_array_free(cand, TRUE);
    return found;
}

/* triage.threshold: empty = each model's own; a number in [0, 1]; anything
 * else is reported (once per text) and the previous value kept. */
static void
parse_threshold(void)
{
    const char *txt = triage_prefs.threshold ? triage_prefs.threshold : "";
    while (g_ascii_isspace(*txt))
        txt++;
    char *end = NULL;
    double thr = g_ascii_strtod(txt, &end);
    while (end && g_ascii_isspace(*end))
        end++;
    if (*txt == '\0') {
        triage_prefs.threshold_set = FALSE;             /* each model's own */
    } else if (end == txt || *end != '\0' || !(thr >= 0.0 && thr <= 1.0)) {
        if (g_strcmp0(bad_threshold, txt) != 0) {       /* say it once */
            ws_warning("TrafficTriage: threshold \"%s\" is not a number in [0, 1]; keeping %s",
                       txt, triage_prefs.threshold_set ? "the previous one" : "each model's own");
            g_free(bad_threshold);
            bad_threshold = g_strdup(txt);
        }
    } else {
        triage_prefs.threshold_set = TRUE;
        triage_prefs.threshold_value = thr;
    }
}

void
triage_prefs_apply(gboolean load_models)
{
    parse_threshold();
    if (!load_models)
        return;
    char *primary = (triage_prefs.model && *triage_prefs.model) ? g_strdup(triage_prefs.model) : bundled_model_path();
    if (triage_run_set_models(prefs_run, primary, triage_prefs.extra_models,
                              triage_prefs.max_flows ? triage_prefs.max_flows : TRIAGE_DEFAULT_MAX_FLOWS)) {
        /* one log line per model that failed, each time the set of files changes */
        const triage_slot *s;
        for (guint i = 0; (s = triage_run_slot(prefs_run, i)) != NULL; i++)
            if (s->error)
                ws_warning("%s", s->error);
    }
    g_free(primary);
}

/* Wireshark's apply callback: a triage preference changed. */
static void
prefs_changed(void)
{
    triage_prefs_apply(TRUE);
}

gboolean
triage_prefs_enabled(void)
{
    return triage_prefs.enabled;
}

double
triage_threshold(const triage_slot *s)
{
    return triage_prefs.threshold_set ? triage_prefs.threshold_value : s->threshold;
}

void
triage_prefs_register(int proto, triage_run *run)
{
    prefs_run = run;
    module_t *m = prefs_register_protocol(proto, prefs_changed);
    prefs_register_bool_preference(m, "enabled", "Enable TrafficTriage",
        "Classify TCP/UDP flows (off: no triage fields)", &triage_prefs.enabled);
    prefs_register_filename_preference(m, "model", "Category model file",
        "TrafficTriage model (.ttm) for triage.category; empty = the bundled model "
        "(triage/category.ttm next to the plugin)", &triage_prefs.model, FALSE);
    prefs_register_string_preference(m, "extra_models", "Extra model files",
        "';'-separated .ttm files with task tunnel (triage.tunnel) or platform/app (triage.app)",
        &triage_prefs.extra_models);
    prefs_register_string_preference(m, "threshold", "Confidence threshold",
        "Decimal in [0, 1]: a block whose top probability is below it reads \"unknown\"; "
        "empty = the threshold each model recommends (chosen on validation data; 0.5 if it names none)",
        &triage_prefs.threshold);
    prefs_register_uint_preference(m, "max_flows", "Maximum tracked flows",
        "Flows tracked at once per model; the least recently seen is closed beyond it",
        10, &triage_prefs.max_flows);
}

void
triage_prefs_shutdown(void)
{
    g_free(bad_threshold);
    bad_threshold = NULL;
}
