/* TrafficTriage core: models and their file format (models/FORMAT.md). */
#include "tt_model.h"
#include "tt_bytes.h"

#include <math.h>
#include <string.h>

#define HEADER_SIZE 64u
#define MAX_SECTIONS 64u
#define MAX_NAME 128u
#define SPEC_RECORD 64u
#define LAYER_RECORD 44u
#define SECTION_MUST_UNDERSTAND 1u

#define TAG(a, b, c, d) ((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))
#define TAG_META TAG('M', 'E', 'T', 'A')
#define TAG_SPEC TAG('S', 'P', 'E', 'C')
#define TAG_CLAS TAG('C', 'L', 'A', 'S')
#define TAG_LAYR TAG('L', 'A', 'Y', 'R')
#define TAG_PARM TAG('P', 'A', 'R', 'M')
#define TAG_CALB TAG('C', 'A', 'L', 'B')
#define TAG_COMP TAG('C', 'O', 'M', 'P')
#define TAG_TREE TAG('T', 'R', 'E', 'E')

/* ---- little-endian helpers (the rest: tt_bytes.h) -------------------------- */

static void set64(GByteArray *b, size_t at, uint64_t v) { for (int i = 0; i < 8; i++) b->data[at + i] = (guint8)(v >> (8 * i)); }

/* ---- names ---------------------------------------------------------------- */

static gboolean valid_class_name(const char *s, size_t len)
{
    if (len == 0 || len > TT_MAX_CLASS_NAME)
        return FALSE;
    for (size_t i = 0; i < len; i++)
        if (!(g_ascii_isalnum(s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.'))
            return FALSE;
    return TRUE;
}

static gboolean valid_text(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return FALSE;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '"' || s[i] == '\\')
            return FALSE;
    return g_utf8_validate(s, -1, NULL);
}

static gboolean valid_task(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32)
        return FALSE;
    for (size_t i = 0; i < n; i++)
        if (!(g_ascii_islower(s[i]) || g_ascii_isdigit(s[i]) || s[i] == '_'))
            return FALSE;
    return TRUE;
}

/* ---- model object --------------------------------------------------------- */

void tt_model_free(tt_model *m)
{
    if (!m)
        return;
    g_free(m->name);
    g_free(m->task);
    if (m->classes)
        for (uint32_t i = 0; i < m->n_classes; i++)
            g_free(m->classes[i]);
    g_free(m->classes);
    g_free(m->meta);
    tt_net_free(m->net);
    tt_model_free(m->companion);
    tt_trees_free(m->trees);
    g_free(m);
}

gboolean tt_model_fuse(tt_model *m, tt_model *companion, GError **error)
{
    const tt_spec *a = &m->spec, *b = &companion->spec;
    if (m->companion || companion->companion) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "a fused model cannot be fused again");
        return FALSE;
    }
    if (companion->trees) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID,
                    "the companion holds trees: only the first model may (fuse first, then add trees)");
        return FALSE;
    }
    if (strcmp(m->task, companion->task) != 0) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "the tasks differ (%s, %s)", m->task, companion->task);
        return FALSE;
    }
    gboolean same = m->n_classes == companion->n_classes;
    for (uint32_t i = 0; same && i < m->n_classes; i++)
        same = strcmp(m->classes[i], companion->classes[i]) == 0;
    if (!same) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "the classes differ (names and order must be the same)");
        return FALSE;
    }
    if (a->block_seconds != b->block_seconds || a->idle_timeout != b->idle_timeout ||
        a->min_span != b->min_span || a->min_packets != b->min_packets || a->max_packets != b->max_packets) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID,
                    "the two cut flows differently (block length, idle timeout, minimum span, minimum or stored packets)");
        return FALSE;
    }
    m->companion = companion;
    return TRUE;
}

tt_model *tt_model_new(const char *name, const char *task, uint32_t n_classes,
                       const char *const *classes, const tt_spec *spec,
                       tt_net *net, GError **error)
{
    if (!name || !valid_text(name, MAX_NAME)) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "model name must be 1..%u printable characters", MAX_NAME);
        return NULL;
    }
    if (!task || !valid_task(task)) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "task name \"%s\" must be 1..32 of [a-z0-9_]", task ? task : "");
        return NULL;
    }
    if (n_classes < 2 || n_classes > TT_MAX_CLASSES) {
        g_set_error(error, TT_ERROR, TT_ERROR_LIMIT, "%u classes: a model needs 2..%u", n_classes, TT_MAX_CLASSES);
        return NULL;
    }
    for (uint32_t i = 0; i < n_classes; i++) {
        if (!classes[i] || !valid_class_name(classes[i], strlen(classes[i]))) {
            g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "class %u: name must be 1..%u of [A-Za-z0-9_.-]", i, TT_MAX_CLASS_NAME);
            return NULL;
        }
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(classes[i], classes[j]) == 0) {
                g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "class name \"%s\" appears twice", classes[i]);
                return NULL;
            }
    }
    if (!tt_spec_validate(spec, error))
        return NULL;
    if (!net || net->in_c != 1 || net->in_h != spec->size_bins || net->in_w != spec->time_bins) {
        g_set_error(error, TT_ERROR, TT_ERROR_SHAPE,
                    "the net's input (%u x %u) does not match the FlowPic of the input spec (%u x %u)",
                    net ? net->in_h : 0, net ? net->in_w : 0, spec->size_bins, spec->time_bins);
        return NULL;
    }
    if (net->n_out != n_classes) {
        g_set_error(error, TT_ERROR, TT_ERROR_SHAPE, "the net has %u outputs for %u classes", net->n_out, n_classes);
        return NULL;
    }
    tt_model *m = g_new0(tt_model, 1);
    m->name = g_strdup(name);
    m->task = g_strdup(task);
    m->n_classes = n_classes;
    m->classes = g_new0(char *, n_classes);
    for (uint32_t i = 0; i < n_classes; i++)
        m->classes[i] = g_strdup(classes[i]);
    m->spec = *spec;
    m->temperature = 1.0f;
    m->meta = g_strdup("");
    m->net = net;
    return m;
}

/* ---- writing -------------------------------------------------------------- */

static size_t section_begin(GByteArray *b, uint32_t tag, uint32_t flags)
{
    tt_put32(b, tag);
    tt_put32(b, flags);
    tt_put64(b, 0);                    /* length, patched by section_end */
    return b->len;
}

static void section_end(GByteArray *b, size_t start)
{
    set64(b, start - 8, (uint64_t)(b->len - start));
    static const guint8 zeros[8] = { 0 };
    if (b->len % 8)
        g_byte_array_append(b, zeros, 8 - b->len % 8);
}

GBytes *tt_model_to_bytes(tt_model *m, GError **error)
{
    for (size_t i = 0; i < m->net->n_params; i++)
        if (!isfinite(m->net->params[i])) {
            g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "parameter %zu is not finite: refusing to save", i);
            return NULL;
        }
    if (!isfinite(m->temperature) || m->temperature <= 0.0f) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "temperature %g must be positive", (double)m->temperature);
        return NULL;
    }
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, (const guint8 *)TT_MODEL_MAGIC, 8);
    tt_put32(b, TT_MODEL_VERSION);
    tt_put32(b, HEADER_SIZE);
    tt_put64(b, 0);                              /* total size, patched */
    static const guint8 zeros[32] = { 0 };
    g_byte_array_append(b, zeros, 32);        /* SHA-256, patched */
    GBytes *comp = NULL;
    if (m->companion && !(comp = tt_model_to_bytes(m->companion, error))) {
        g_byte_array_unref(b);
        return NULL;
    }
    tt_put32(b, 6 + (comp != NULL) + (m->trees != NULL));   /* sections */
    tt_put32(b, 0);

    size_t s = section_begin(b, TAG_META, SECTION_MUST_UNDERSTAND);
    GString *meta = g_string_new(NULL);
    g_string_append_printf(meta, "name=%s\ntask=%s\n", m->name, m->task);
    if (m->meta && *m->meta) {
        g_string_append(meta, m->meta);
        if (meta->str[meta->len - 1] != '\n')
            g_string_append_c(meta, '\n');
    }
    if (meta->len > TT_MODEL_MAX_META) {
        g_set_error(error, TT_ERROR, TT_ERROR_LIMIT, "metadata is %zu bytes, more than %u", meta->len, TT_MODEL_MAX_META);
        g_string_free(meta, TRUE);
        g_byte_array_unref(b);
        if (comp)
            g_bytes_unref(comp);
        return NULL;
    }
    g_byte_array_append(b, (const guint8 *)meta->str, (guint)meta->len);
    g_string_free(meta, TRUE);
    section_end(b, s);

    s = section_begin(b, TAG_SPEC, SECTION_MUST_UNDERSTAND);
    const tt_spec *sp = &m->spec;
    tt_putf64(b, sp->block_seconds);
    tt_putf64(b, sp->idle_timeout);
    tt_putf64(b, sp->min_span);
    tt_put32(b, sp->time_bins);
    tt_put32(b, sp->size_bins);
    tt_put32(b, sp->max_size);
    tt_put32(b, sp->min_packets);
    tt_put32(b, sp->max_packets);
    guint8 pol[4] = { sp->size_policy, sp->time_scale, sp->count_transform, 0 };
    g_byte_array_append(b, pol, 4);
    tt_putf32(b, sp->count_clip);
    g_byte_array_append(b, zeros, SPEC_RECORD - 52);
    section_end(b, s);

    s = section_begin(b, TAG_CLAS, SECTION_MUST_UNDERSTAND);
    tt_put32(b, m->n_classes);
    for (uint32_t i = 0; i < m->n_classes; i++) {
        uint32_t len = (uint32_t)strlen(m->classes[i]);
        tt_put32(b, len);
        g_byte_array_append(b, (const guint8 *)m->classes[i], len);
    }
    section_end(b, s);

    s = section_begin(b, TAG_LAYR, SECTION_MUST_UNDERSTAND);
    tt_put32(b, m->net->in_h);
    tt_put32(b, m->net->in_w);
    tt_put32(b, m->net->n_layers);
    for (uint32_t i = 0; i < m->net->n_layers; i++) {
        const tt_layer *l = &m->net->layers[i];
        tt_put32(b, l->kind);
        tt_put32(b, l->out_c); tt_put32(b, l->kh); tt_put32(b, l->kw); tt_put32(b, l->sh); tt_put32(b, l->sw);
        tt_put32(b, l->pad_t); tt_put32(b, l->pad_b); tt_put32(b, l->pad_l); tt_put32(b, l->pad_r);
        tt_putf32(b, l->rate);
    }
    section_end(b, s);

    s = section_begin(b, TAG_PARM, SECTION_MUST_UNDERSTAND);
    tt_put64(b, m->net->n_params);
    for (size_t i = 0; i < m->net->n_params; i++)
        tt_putf32(b, m->net->params[i]);
    section_end(b, s);

    s = section_begin(b, TAG_CALB, 0);
    tt_putf32(b, m->temperature);
    section_end(b, s);

    if (m->trees) {
        s = section_begin(b, TAG_TREE, SECTION_MUST_UNDERSTAND);
        GBytes *tb = tt_trees_to_bytes(m->trees);
        gsize tlen;
        const guint8 *td = g_bytes_get_data(tb, &tlen);
        g_byte_array_append(b, td, (guint)tlen);
        g_bytes_unref(tb);
        section_end(b, s);
    }

    if (comp) {
        s = section_begin(b, TAG_COMP, SECTION_MUST_UNDERSTAND);
        gsize clen;
        const guint8 *cd = g_bytes_get_data(comp, &clen);
        g_byte_array_append(b, cd, (guint)clen);
        section_end(b, s);
        g_bytes_unref(comp);
    }

    set64(b, 16, b->len);
    GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(ck, b->data + HEADER_SIZE, b->len - HEADER_SIZE);
    gsize dlen = 32;
    g_checksum_get_digest(ck, b->data + 24, &dlen);
    g_strlcpy(m->sha256, g_checksum_get_string(ck), sizeof m->sha256);
    g_checksum_free(ck);
    return g_byte_array_free_to_bytes(b);
}

gboolean tt_model_save_file(tt_model *m, const char *path, GError **error)
{
    GBytes *bytes = tt_model_to_bytes(m, error);
    if (!bytes)
        return FALSE;
    gsize len;
    const char *data = g_bytes_get_data(bytes, &len);
    GError *e = NULL;
    gboolean ok = g_file_set_contents(path, data, (gssize)len, &e);
    if (!ok) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot write model file %s: %s", path, e->message);
        g_error_free(e);
    }
    g_bytes_unref(bytes);
    return ok;
}

/* ---- reading -------------------------------------------------------------- */

#define FAIL(code, ...) do { g_set_error(error, TT_ERROR, code, __VA_ARGS__); goto fail; } while (0)

static gboolean parse_spec(const guint8 *p, uint64_t len, tt_spec *sp, GError **error)
{
    if (len != SPEC_RECORD) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "SPEC section is %" G_GUINT64_FORMAT " bytes, expected %u", len, SPEC_RECORD);
        return FALSE;
    }
    memset(sp, 0, sizeof *sp);
    sp->block_seconds = tt_rdf64(p);
    sp->idle_timeout = tt_rdf64(p + 8);
    sp->min_span = tt_rdf64(p + 16);
    sp->time_bins = tt_rd32(p + 24);
    sp->size_bins = tt_rd32(p + 28);
    sp->max_size = tt_rd32(p + 32);
    sp->min_packets = tt_rd32(p + 36);
    sp->max_packets = tt_rd32(p + 40);
    sp->size_policy = p[44];
    sp->time_scale = p[45];
    sp->count_transform = p[46];
    sp->count_clip = tt_rdf32(p + 48);
    GError *e = NULL;
    if (!tt_spec_validate(sp, &e)) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "input spec: %s", e->message);
        g_error_free(e);
        return FALSE;
    }
    return TRUE;
}

static tt_model *load_bytes(const guint8 *d, gsize len, gboolean is_companion, GError **error)
{
    tt_model *m = NULL;
    const guint8 *comp = NULL;
    uint64_t comp_len = 0;
    tt_trees *trees = NULL;
    const guint8 *tree = NULL;
    uint64_t tree_len = 0;
    tt_net *net = NULL;
    char **classes = NULL;
    uint32_t n_classes = 0;
    char *name = NULL, *task = NULL;
    GString *meta = NULL;
    tt_spec spec;
    float temperature = 1.0f;
    tt_layer *layers = NULL;
    const guint8 *parm = NULL;
    uint64_t parm_len = 0;
    gboolean have_spec = FALSE, have_meta = FALSE;
    uint32_t in_h = 0, in_w = 0, n_layers = 0;

    if (len < HEADER_SIZE)
        FAIL(TT_ERROR_FORMAT, "file is %" G_GSIZE_FORMAT " bytes, too short for a model header", len);
    if (memcmp(d, TT_MODEL_MAGIC, 8) != 0)
        FAIL(TT_ERROR_FORMAT, "not a TrafficTriage model (bad magic)");
    uint32_t version = tt_rd32(d + 8);
    if (version != TT_MODEL_VERSION)
        FAIL(TT_ERROR_VERSION, "model format version %u; this TrafficTriage reads version %u (retrain or upgrade)", version, TT_MODEL_VERSION);
    if (tt_rd32(d + 12) != HEADER_SIZE)
        FAIL(TT_ERROR_FORMAT, "header size %u, expected %u", tt_rd32(d + 12), HEADER_SIZE);
    uint64_t total = tt_rd64(d + 16);
    if (total != len)
        FAIL(TT_ERROR_FORMAT, "file is %" G_GSIZE_FORMAT " bytes but its header says %" G_GUINT64_FORMAT " (truncated or padded)", len, total);
    if (total > TT_MODEL_MAX_FILE)
        FAIL(TT_ERROR_LIMIT, "model file larger than %u bytes", TT_MODEL_MAX_FILE);

    GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(ck, d + HEADER_SIZE, len - HEADER_SIZE);
    guint8 digest[32];
    gsize dlen = sizeof digest;
    g_checksum_get_digest(ck, digest, &dlen);
    char hex[65];
    g_strlcpy(hex, g_checksum_get_string(ck), sizeof hex);
    g_checksum_free(ck);
    if (memcmp(digest, d + 24, 32) != 0)
        FAIL(TT_ERROR_CHECKSUM, "checksum mismatch: the file is corrupt");

    uint32_t n_sections = tt_rd32(d + 56);
    if (n_sections == 0 || n_sections > MAX_SECTIONS)
        FAIL(TT_ERROR_LIMIT, "%u sections (1..%u allowed)", n_sections, MAX_SECTIONS);

    uint64_t off = HEADER_SIZE;
    uint32_t seen = 0;
    for (uint32_t si = 0; si < n_sections; si++) {
        if (len - off < 16)
            FAIL(TT_ERROR_FORMAT, "section %u header runs past the end of the file", si);
        uint32_t tag = tt_rd32(d + off), flags = tt_rd32(d + off + 4);
        uint64_t slen = tt_rd64(d + off + 8);
        off += 16;
        if (slen > len - off)
            FAIL(TT_ERROR_FORMAT, "section %u (%.4s) is %" G_GUINT64_FORMAT " bytes, past the end of the file", si, (const char *)(d + off - 16), slen);
        const guint8 *p = d + off;
        /* One bit per known section. Reject a repeated section before parsing
         * it: parsing it again would overwrite (and leak) what the first one
         * allocated. */
        uint32_t known = tag == TAG_META ? 1 : tag == TAG_SPEC ? 2 : tag == TAG_CLAS ? 4 :
                         tag == TAG_LAYR ? 8 : tag == TAG_PARM ? 16 : tag == TAG_CALB ? 32 :
                         tag == TAG_COMP ? 64 : tag == TAG_TREE ? 128 : 0;
        if (known & seen)
            FAIL(TT_ERROR_FORMAT, "section %.4s appears twice", (const char *)(d + off - 16));
        switch (tag) {
        case TAG_META: {
            if (slen > TT_MODEL_MAX_META)
                FAIL(TT_ERROR_LIMIT, "metadata larger than %u bytes", TT_MODEL_MAX_META);
            char *text = g_strndup((const char *)p, slen);
            if (strlen(text) != slen || !g_utf8_validate(text, -1, NULL)) {
                g_free(text);
                FAIL(TT_ERROR_FORMAT, "metadata is not UTF-8 text");
            }
            meta = g_string_new(NULL);
            char **lines = g_strsplit(text, "\n", -1);
            g_free(text);
            for (char **l = lines; *l; l++) {
                if (g_str_has_prefix(*l, "name=") && !name)
                    name = g_strdup(*l + 5);
                else if (g_str_has_prefix(*l, "task=") && !task)
                    task = g_strdup(*l + 5);
                else if (**l)
                    g_string_append_printf(meta, "%s\n", *l);
            }
            g_strfreev(lines);
            have_meta = TRUE;
            break;
        }
        case TAG_SPEC:
            if (!parse_spec(p, slen, &spec, error))
                goto fail;
            have_spec = TRUE;
            break;
        case TAG_CLAS: {
            if (slen < 4)
                FAIL(TT_ERROR_FORMAT, "class section too short");
            n_classes = tt_rd32(p);
            if (n_classes < 2 || n_classes > TT_MAX_CLASSES)
                FAIL(TT_ERROR_LIMIT, "%u classes (2..%u allowed)", n_classes, TT_MAX_CLASSES);
            classes = g_new0(char *, n_classes + 1);
            uint64_t q = 4;
            for (uint32_t i = 0; i < n_classes; i++) {
                if (slen - q < 4)
                    FAIL(TT_ERROR_FORMAT, "class %u runs past its section", i);
                uint32_t l = tt_rd32(p + q);
                q += 4;
                if (l > slen - q)
                    FAIL(TT_ERROR_FORMAT, "class %u runs past its section", i);
                if (!valid_class_name((const char *)p + q, l))
                    FAIL(TT_ERROR_FORMAT, "class %u has an invalid name", i);
                classes[i] = g_strndup((const char *)p + q, l);
                q += l;
            }
            if (q != slen)
                FAIL(TT_ERROR_FORMAT, "class section has %" G_GUINT64_FORMAT " trailing bytes", slen - q);
            break;
        }
        case TAG_LAYR: {
            if (slen < 12)
                FAIL(TT_ERROR_FORMAT, "layer section too short");
            in_h = tt_rd32(p);
            in_w = tt_rd32(p + 4);
            n_layers = tt_rd32(p + 8);
            if (n_layers == 0 || n_layers > TT_MAX_LAYERS)
                FAIL(TT_ERROR_LIMIT, "%u layers (1..%u allowed)", n_layers, TT_MAX_LAYERS);
            if (slen != 12 + (uint64_t)n_layers * LAYER_RECORD)
                FAIL(TT_ERROR_FORMAT, "layer section is %" G_GUINT64_FORMAT " bytes for %u layers", slen, n_layers);
            layers = g_new0(tt_layer, n_layers);
            for (uint32_t i = 0; i < n_layers; i++) {
                const guint8 *r = p + 12 + (size_t)i * LAYER_RECORD;
                tt_layer *l = &layers[i];
                l->kind = tt_rd32(r);
                l->out_c = tt_rd32(r + 4); l->kh = tt_rd32(r + 8); l->kw = tt_rd32(r + 12);
                l->sh = tt_rd32(r + 16); l->sw = tt_rd32(r + 20);
                l->pad_t = tt_rd32(r + 24); l->pad_b = tt_rd32(r + 28);
                l->pad_l = tt_rd32(r + 32); l->pad_r = tt_rd32(r + 36);
                l->rate = tt_rdf32(r + 40);
                if (!tt_layer_kind_name(l->kind))
                    FAIL(TT_ERROR_FORMAT, "layer %u has unknown kind %u", i, l->kind);
                if (!isfinite(l->rate) || l->rate < 0.0f || l->rate >= 1.0f)
                    FAIL(TT_ERROR_FORMAT, "layer %u has dropout rate %g outside [0, 1)", i, (double)l->rate);
            }
            break;
        }
        case TAG_PARM:
            if (slen < 8)
                FAIL(TT_ERROR_FORMAT, "parameter section too short");
            parm_len = tt_rd64(p);
            if (parm_len > TT_MAX_PARAMS)
                FAIL(TT_ERROR_LIMIT, "%" G_GUINT64_FORMAT " parameters, more than %u", parm_len, TT_MAX_PARAMS);
            if (slen != 8 + parm_len * 4)
                FAIL(TT_ERROR_FORMAT, "parameter section is %" G_GUINT64_FORMAT " bytes for %" G_GUINT64_FORMAT " floats", slen, parm_len);
            parm = p + 8;
            break;
        case TAG_CALB:
            if (slen != 4)
                FAIL(TT_ERROR_FORMAT, "calibration section is %" G_GUINT64_FORMAT " bytes, expected 4", slen);
            temperature = tt_rdf32(p);
            if (!isfinite(temperature) || temperature <= 0.0f || temperature > 1000.0f)
                FAIL(TT_ERROR_FORMAT, "calibration temperature %g out of range (0, 1000]", (double)temperature);
            break;
        case TAG_COMP:   /* loaded once this model stands: tt_model_fuse checks the pair */
            if (is_companion)
                FAIL(TT_ERROR_FORMAT, "a fused model's companion holds a companion of its own");
            comp = p;
            comp_len = slen;
            break;
        case TAG_TREE:   /* parsed once the classes are known */
            if (is_companion)
                FAIL(TT_ERROR_FORMAT, "a fused model's companion holds trees");
            tree = p;
            tree_len = slen;
            break;
        default:
            if (flags & SECTION_MUST_UNDERSTAND)
                FAIL(TT_ERROR_VERSION, "section %.4s is required but unknown to this version", (const char *)(d + off - 16));
            break;
        }
        seen |= known;
        uint64_t padded = (slen + 7) & ~(uint64_t)7;
        if (padded > len - off)
            FAIL(TT_ERROR_FORMAT, "section %u (%.4s) padding runs past the end of the file", si, (const char *)(d + off - 16));
        off += padded;
    }
    if (off != len)
        FAIL(TT_ERROR_FORMAT, "%" G_GUINT64_FORMAT " bytes after the last section", (uint64_t)len - off);
    if (!have_meta || !have_spec || !classes || !layers || !parm)
        FAIL(TT_ERROR_FORMAT, "a required section (META, SPEC, CLAS, LAYR, PARM) is missing");
    if (!name || !valid_text(name, MAX_NAME))
        FAIL(TT_ERROR_FORMAT, "model name missing or invalid");
    if (!task || !valid_task(task))
        FAIL(TT_ERROR_FORMAT, "task name missing or invalid");
    if (in_h != spec.size_bins || in_w != spec.time_bins)
        FAIL(TT_ERROR_SHAPE, "the net's input %u x %u does not match the spec's FlowPic %u x %u", in_h, in_w, spec.size_bins, spec.time_bins);

    GError *e = NULL;
    net = tt_net_new(in_h, in_w, layers, n_layers, &e);
    if (!net) {
        g_set_error(error, TT_ERROR, TT_ERROR_SHAPE, "layer list: %s", e->message);
        g_error_free(e);
        goto fail;
    }
    if (net->n_params != parm_len)
        FAIL(TT_ERROR_SHAPE, "the layers need %zu parameters, the file holds %" G_GUINT64_FORMAT, net->n_params, parm_len);
    for (size_t i = 0; i < net->n_params; i++) {
        float v = tt_rdf32(parm + 4 * i);
        if (!isfinite(v))
            FAIL(TT_ERROR_FORMAT, "parameter %zu is NaN or infinite", i);
        net->params[i] = v;
    }
    m = tt_model_new(name, task, n_classes, (const char *const *)classes, &spec, net, &e);
    if (!m) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "%s", e->message);
        g_error_free(e);
        goto fail;
    }
    net = NULL;   /* owned by m */
    if (tree && !(trees = tt_trees_from_bytes(tree, (gsize)tree_len, n_classes, &e))) {
        g_set_error(error, TT_ERROR, e->code, "the trees (TREE section): %s", e->message);
        g_error_free(e);
        tt_model_free(m);
        m = NULL;
        goto fail;
    }
    m->trees = trees;
    m->temperature = temperature;
    g_free(m->meta);
    m->meta = g_string_free(meta, FALSE);
    meta = NULL;
    g_strlcpy(m->sha256, hex, sizeof m->sha256);
    tt_net_prepare(m->net);
    if (comp) {
        tt_model *c = load_bytes(comp, (gsize)comp_len, TRUE, &e);
        if (!c || !tt_model_fuse(m, c, &e)) {
            g_set_error(error, TT_ERROR, e->code, "the companion model (COMP section): %s", e->message);
            g_error_free(e);
            tt_model_free(c);
            tt_model_free(m);
            m = NULL;
            goto fail;
        }
    }
    g_strfreev(classes);
    g_free(layers);
    g_free(name);
    g_free(task);
    return m;

fail:
    tt_net_free(net);
    g_strfreev(classes);
    g_free(layers);
    g_free(name);
    g_free(task);
    if (meta)
        g_string_free(meta, TRUE);
    return NULL;
}

tt_model *tt_model_load_bytes(const guint8 *d, gsize len, GError **error)
{
    return load_bytes(d, len, FALSE, error);
}

tt_model *tt_model_load_file(const char *path, GError **error)
{
    gchar *data = NULL;
    gsize len = 0;
    GError *e = NULL;
    if (!g_file_get_contents(path, &data, &len, &e)) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot read model file %s: %s", path, e->message);
        g_error_free(e);
        return NULL;
    }
    tt_model *m = tt_model_load_bytes((const guint8 *)data, len, &e);
    g_free(data);
    if (!m) {
        g_set_error(error, TT_ERROR, e->code, "model file %s: %s", path, e->message);
        g_error_free(e);
    }
    return m;
}
