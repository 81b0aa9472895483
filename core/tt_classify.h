/* TrafficTriage core: classification, a block's way from packets to a label.
 *
 *   packets --tt_classify_packets--> tt_result (calibrated probabilities, top
 *   class) --tt_result_pool--> the conversation's answer (with the reverse
 *   direction's block) --tt_classify_label--> a class name, or "unknown" below
 *   the threshold (the one rule, tt_below_threshold).
 *
 * The model (tt_model.h) is what is classified with: its spec draws the
 * picture, its net and temperature give the probabilities, its META line
 * `threshold=` the threshold it recommends. Nothing here aborts.
 */
#ifndef TT_CLASSIFY_H
#define TT_CLASSIFY_H

#include "tt_model.h"

G_BEGIN_DECLS

/* Result of classifying one block. */
typedef struct {
    uint32_t top;               /* class index */
    float    confidence;        /* probs[top] */
    uint32_t n_classes;
    float    probs[TT_MAX_CLASSES];
} tt_result;

/* The conversation answer (issue #17): a one-way flow's block and the reverse
 * direction's block of the same index (the same 5-tuple, the other way) answer
 * together with the mean of their class probabilities, equal weights; the
 * pooled top class and its probability are the answer. b == NULL (the reverse
 * direction has no classified block of that index): out = *a, the block stands
 * alone. Results with different n_classes do not pool (out = *a). Ties go to
 * the lower class index, as in tt_softmax. out may be a or b. */
void tt_result_pool(const tt_result *a, const tt_result *b, tt_result *out);

/* Probabilities kept in one byte per class (p rounded to the nearest 1/255):
 * what the plugin stores per closed block, and what the CLI pools too, so
 * that both give the same conversation answer. q holds r->n_classes bytes. */
#define TT_RESULT_Q_ONE 255u
void tt_result_quantise(const tt_result *r, uint8_t *q);
/* The result of n_classes stored bytes (probabilities q / 255, top, confidence). */
void tt_result_dequantise(const uint8_t *q, uint32_t n_classes, tt_result *out);
/* tt_result_pool of two stored vectors (qb NULL: qa alone). */
void tt_result_pool_stored(const uint8_t *qa, const uint8_t *qb, uint32_t n_classes,
                           tt_result *out);

/* Per-thread classification state (workspace + pixel buffer). */
typedef struct tt_classifier tt_classifier;
tt_classifier *tt_classifier_new(const tt_model *m);
void tt_classifier_free(tt_classifier *c);
/* Build the block's FlowPic and run the net (sparse path). Returns FALSE if
 * the block has no usable pixel (all dropped by the size policy). */
gboolean tt_classify_packets(tt_classifier *c, const tt_pkt *pkts, size_t n,
                             tt_result *res);

/* ---- result -> label ------------------------------------------------------ */

/* The confidence below which a block's answer reads "unknown", as the model's
 * trainer recommends it (META line `threshold=T`, chosen on validation data;
 * `traffictriage train --threshold`), or TT_MODEL_DEFAULT_THRESHOLD when the
 * model names none or an invalid one. */
#define TT_MODEL_DEFAULT_THRESHOLD 0.5
double tt_model_threshold(const tt_model *m);

/* The one "unknown" rule: an answer whose confidence is below the threshold
 * reads "unknown" (the plugin's triage.category, `classify`, `render`, the
 * FlowPic export). A confidence equal to the threshold is an answer. */
static inline gboolean tt_below_threshold(double confidence, double threshold)
{
    return confidence < threshold;
}

#define TT_LABEL_UNKNOWN "unknown"
/* The label of an answer (top class, its confidence) of m under threshold:
 * m's class name, or TT_LABEL_UNKNOWN below the threshold or when top is not
 * one of m's classes. */
const char *tt_classify_label(const tt_model *m, uint32_t top, double confidence, double threshold);

/* A confidence as people read it, wherever the plugin or the CLI shows one
 * (fields, labels, the Flows table, the FlowPic export, `classify`, `render`):
 * 3 decimals, rounded down, so 3 significant digits for any top-class
 * probability of 5 or fewer classes (>= 0.2). The plugin's fields keep this
 * value (not the model's full float), so that -T fields, JSON and CSV exports
 * print 0.801 instead of 0.801101624965668; rounding down keeps
 * `triage.confidence >= T` in step with the status for any threshold T of up
 * to 3 decimals (0.4996 reads 0.499 and "low confidence" at 0.5). The 1e-6
 * lets a float just under k/1000 by representation error read k/1000. */
double tt_confidence_shown(double c);
/* The same in thousandths (tt_confidence_shown(c) == tt_confidence_milli(c) / 1000.0),
 * for text written without floating-point formatting ("%u.%03u"). */
unsigned tt_confidence_milli(double c);

G_END_DECLS

#endif
