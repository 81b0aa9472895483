/* TrafficTriage plugin: the two Statistics reports. See triage-stats.h. */
#include "triage-stats.h"

#include <epan/stats_tree.h>
#include <epan/stat_tap_ui.h>
#include <wsutil/inet_addr.h>

/* Hash of the (flow << 32 | x) keys below. GLib's g_int64_hash keeps only the
 * low 32 bits, here the block or category number, so every flow's keys would
 * share a handful of buckets and each insert would walk all of them (a 1 M
 * packet -z triage,tree took 7x tshark's own time). Both halves count here. */
static guint
flow_key_hash(gconstpointer p)
{
    guint64 v = *(const guint64 *)p;
    return (guint)((v ^ (v >> 32)) * 0x9E3779B97F4A7C15ull >> 32);
}

/* ---- blocks a single pass leaves open ---------------------------------- */

/* The blocks whose packets came in pending and that no packet has closed
 * since, with their packet counts: at the end of a single pass, what neither
 * report can list (their results need tshark -2). */
typedef struct {
    GHashTable *blocks;          /* guint64 (flow << 32 | block) -> packets */
    guint64     packets;
} open_blocks;

static void
open_blocks_reset(open_blocks *o)
{
    if (o->blocks == NULL)
        o->blocks = g_hash_table_new_full(flow_key_hash, g_int64_equal, g_free, NULL);
    g_hash_table_remove_all(o->blocks);
    o->packets = 0;
}

static void
open_blocks_free(open_blocks *o)
{
    if (o->blocks)
        g_hash_table_destroy(o->blocks);
    o->blocks = NULL;
    o->packets = 0;
}

/* One tap record: blocks it closed leave, its own pending block gains a
 * packet. TRUE when the count changed. */
static gboolean
open_blocks_feed(open_blocks *o, const triage_tap_info *ti)
{
    gboolean changed = FALSE;
    for (guint i = 0; i < ti->n_closed; i++) {
        guint64 key = ((guint64)ti->closed[i].flow << 32) | ti->closed[i].block;
        gpointer n = g_hash_table_lookup(o->blocks, &key);
        if (n) {
            o->packets -= GPOINTER_TO_UINT(n);
            g_hash_table_remove(o->blocks, &key);
            changed = TRUE;
        }
    }
    if (ti->pending) {
        guint64 key = ((guint64)ti->current.flow << 32) | ti->current.block;
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(o->blocks, &key));
        guint64 *k = g_new(guint64, 1);
        *k = key;
        g_hash_table_insert(o->blocks, k, GUINT_TO_POINTER(n + 1));   /* frees k if present */
        o->packets++;
        changed = TRUE;
    }
    return changed;
}

/* ---- Categories: stats_tree ------------------------------------------- */

static const char *const st_flows = "Flows (per category: those with a block of it)";
static const char *const st_blocks = "Blocks";
static const char *const st_packets = "Packets";
static const char *const st_bytes = "Bytes (IP length)";
static const char *const st_status = "Blocks by status";
static const char *const st_nomodel = "Packets not classified (no model loaded)";
static const char *const st_pending = "Packets of unfinished blocks (use tshark -2)";

/* A live capture: no advice to use tshark -2 (triage_stats_set_live). */
static gboolean stats_live;

void
triage_stats_set_live(gboolean live)
{
    stats_live = live;
}

/* What one Categories tree has counted so far: the flows, and each flow's
 * categories (a flow counts once in total and once under each category its
 * blocks got, so the total equals the flows of the Flows table). One per
 * stats_tree instance (a GUI may show several). */
typedef struct {
    int         flows_id;        /* the Flows node */
    GHashTable *seen;            /* guint64 (flow << 32 | category index + 1, or 0 for the flow) */
    GPtrArray  *categories;      /* interned category names; index = position */
    open_blocks open;            /* single pass: blocks still open */
} categories_state;

static GHashTable *categories_states;   /* stats_tree * -> categories_state * */

static void
categories_state_free(gpointer p)
{
    categories_state *cs = p;
    g_hash_table_destroy(cs->seen);
    g_ptr_array_free(cs->categories, TRUE);
    open_blocks_free(&cs->open);
    g_free(cs);
}

static void
categories_init(stats_tree *st)
{
    if (categories_states == NULL)
        categories_states = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, categories_state_free);
    categories_state *cs = g_new0(categories_state, 1);
    cs->seen = g_hash_table_new_full(flow_key_hash, g_int64_equal, g_free, NULL);
    cs->categories = g_ptr_array_new();
    open_blocks_reset(&cs->open);
    g_hash_table_replace(categories_states, st, cs);   /* a re-init starts afresh */

    triage_stats_tree_drop_burst_columns(st);   /* no burst of flows or blocks */
    cs->flows_id = stats_tree_create_node(st, st_flows, 0, STAT_DT_INT, TRUE);
    stats_tree_create_node(st, st_blocks, 0, STAT_DT_INT, TRUE);
    stats_tree_create_node(st, st_packets, 0, STAT_DT_INT, TRUE);
    stats_tree_create_node(st, st_bytes, 0, STAT_DT_INT, TRUE);
    stats_tree_create_node(st, st_status, 0, STAT_DT_INT, TRUE);
}

static void
categories_cleanup(stats_tree *st)
{
    if (categories_states)
        g_hash_table_remove(categories_states, st);
}

/* TRUE the first time `key` is seen by this tree. */
static gboolean
categories_first(categories_state *cs, guint64 key)
{
    if (g_hash_table_contains(cs->seen, &key))
        return FALSE;
    guint64 *k = g_new(guint64, 1);
    *k = key;
    g_hash_table_add(cs->seen, k);
    return TRUE;
}

/* Index (+ 1) of an interned category name. */
static guint64
categories_index(categories_state *cs, const char *category)
{
    guint i;
    for (i = 0; i < cs->categories->len; i++)
        if (g_ptr_array_index(cs->categories, i) == category)
            return i + 1;
    g_ptr_array_add(cs->categories, (gpointer)category);
    return i + 1;
}

static void
categories_count(stats_tree *st, categories_state *cs, const triage_tap_block *b, gboolean count_block)
{
    int id;
    if (b->flow == 0) {
        increase_stat_node(st, st_nomodel, 0, TRUE, (gint)b->packets);
        return;
    }
    if (count_block && cs) {
        guint64 flow = (guint64)b->flow << 32;
        if (categories_first(cs, flow))
            tick_stat_node(st, st_flows, 0, TRUE);
        if (categories_first(cs, flow | categories_index(cs, b->category)))
            tick_stat_node(st, b->category, cs->flows_id, FALSE);
    }
    if (count_block) {
        id = tick_stat_node(st, st_blocks, 0, TRUE);
        tick_stat_node(st, b->category, id, FALSE);
        id = tick_stat_node(st, st_status, 0, TRUE);
        tick_stat_node(st, b->status, id, FALSE);
    }
    id = increase_stat_node(st, st_packets, 0, TRUE, (gint)b->packets);
    increase_stat_node(st, b->category, id, FALSE, (gint)b->packets);
    id = increase_stat_node(st, st_bytes, 0, TRUE, (gint)b->bytes);
    increase_stat_node(st, b->category, id, FALSE, (gint)b->bytes);
}

static tap_packet_status
categories_packet(stats_tree *st, packet_info *pinfo, epan_dissect_t *edt,
                  const void *data, triage_tap_flags_t flags)
{
    const triage_tap_info *ti = data;
    categories_state *cs = categories_states ? g_hash_table_lookup(categories_states, st) : NULL;
    (void)pinfo; (void)edt; (void)flags;
    if (ti->has_current)
        categories_count(st, cs, &ti->current, ti->current.first_in_block);
    for (guint i = 0; i < ti->n_closed; i++)
        categories_count(st, cs, &ti->closed[i], TRUE);
    /* live: the blocks still open are classified when the capture stops
     * (triage_stats_add_final), so no node for them */
    if (cs && open_blocks_feed(&cs->open, ti) && !stats_live)
        set_stat_node(st, st_pending, 0, TRUE, (gint)MIN(cs->open.packets, G_MAXINT));
    triage_stats_tree_blank_rate(st);   /* no flows per millisecond */
    return TAP_PACKET_REDRAW;
}

/* ---- Flows: stat_tap_table --------------------------------------------- */

enum {
    COL_SRC, COL_DST, COL_SPORT, COL_DPORT, COL_PROTO, COL_FLOW, COL_BLOCK,
    COL_PACKETS, COL_BYTES, COL_CATEGORY, COL_CONFIDENCE, COL_STATUS, COL_CONV, N_COLS
};

/* The columns as the GUI shows them (plain names and formats). The
 * registered copy, flows_fields, gets its names and formats from
 * flows_layout(): these in the GUI, padded to the widest value so far for
 * tshark's text table. */
static const stat_tap_table_item flows_plain[N_COLS] = {
    { TABLE_ITEM_STRING, TAP_ALIGN_LEFT,  "Source",      "%s" },
    { TABLE_ITEM_STRING, TAP_ALIGN_LEFT,  "Destination", "%s" },
    { TABLE_ITEM_UINT,   TAP_ALIGN_RIGHT, "Src port",    "%u" },
    { TABLE_ITEM_UINT,   TAP_ALIGN_RIGHT, "Dst port",    "%u" },
    { TABLE_ITEM_STRING, TAP_ALIGN_LEFT,  "Protocol",    "%s" },
    { TABLE_ITEM_UINT,   TAP_ALIGN_RIGHT, "Flow",        "%u" },
    { TABLE_ITEM_UINT,   TAP_ALIGN_RIGHT, "Block",       "%u" },
    { TABLE_ITEM_UINT,   TAP_ALIGN_RIGHT, "Packets",     "%u" },
    { TABLE_ITEM_UINT,   TAP_ALIGN_RIGHT, "Bytes",       "%u" },
    { TABLE_ITEM_STRING, TAP_ALIGN_LEFT,  "Category",    "%s" },
    { TABLE_ITEM_STRING, TAP_ALIGN_RIGHT, "Confidence",  "%s" },    /* confidence_text() */
    { TABLE_ITEM_STRING, TAP_ALIGN_LEFT,  "Status",      "%s" },
    { TABLE_ITEM_STRING, TAP_ALIGN_LEFT,  "Conversation", "%s" },  /* triage.conversation.category */
};
static stat_tap_table_item flows_fields[N_COLS];

static tap_param flows_params[] = {
    { PARAM_FILTER, "filter", "Filter", NULL, TRUE }
};

static const char *const flows_table_name = "One row per flow and time block";

/* tshark prints the table as: title, filter, the column names (each followed
 * by " |"), the table's own title, the rows (each value by its format and
 * " |"). In text mode the first column's name carries the lines that belong
 * above the header (what a row is; why rows are missing), the table's title
 * is a rule under the header, and every column is as wide as its widest
 * value. Text mode = no GUI dialog holds the table (stat_tap_table_ui's
 * refcount: the Qt dialog counts itself before its first init, tshark
 * never does); the GUI shows neither the table's title nor these lines. */
static struct {
    gboolean text;
    gboolean dirty;                  /* a width changed since the last layout */
    guint    width[N_COLS];
    guint    rows;
    guint64  no_model;               /* packets not classified: no model */
    guint    finals;                 /* blocks classified when a live capture stopped */
    char     format[N_COLS][16];
    char     name[N_COLS][48];
    char     first_name[1024];       /* lines above the header + the first column's name */
    char     rule[512];
} flows_text;
static open_blocks flows_open;       /* single pass: blocks still open */

static guint
digits(guint64 v)
{
    guint n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static void
flows_widen(int col, guint w)
{
    if (w > flows_text.width[col]) {
        flows_text.width[col] = w;
        flows_text.dirty = TRUE;
    }
}

/* The lines above the header, then the first column's name. */
static void
flows_explain(void)
{
    char *why = NULL;
    if (stats_live && flows_text.finals > 0)
        why = flows_text.finals == 1
            ? g_strdup("The last row is the block still open when the capture stopped, classified then"
                       " (as tshark -2 on\nthe saved capture would); its packets showed provisional results.\n")
            : g_strdup_printf("The last %u rows are the blocks still open when the capture stopped, classified then"
                              " (as tshark -2 on\nthe saved capture would); their packets showed provisional"
                              " results.\n", flows_text.finals);
    else if (stats_live && flows_open.packets > 0)
        why = g_strdup_printf("%s%" G_GUINT64_FORMAT " packets of blocks still open when the capture stopped (a live"
                              " capture lists a block once a later\npacket of its flow closes it; their packets"
                              " carry provisional results).\n",
                              flows_text.rows == 0 ? "No row: no block has finished. Not listed: " : "Not listed: ",
                              flows_open.packets);
    else if (flows_text.rows == 0 && flows_open.packets > 0)
        why = g_strdup_printf("No row: no block has finished. The %" G_GUINT64_FORMAT " TCP/UDP packets are all in blocks"
                              " still open at the end;\na single pass lists a block only once a later packet of its"
                              " flow closes it: run tshark -2 to list every block.\n", flows_open.packets);
    else if (flows_text.rows == 0 && flows_text.no_model > 0)
        why = g_strdup_printf("No row: no model is loaded, %" G_GUINT64_FORMAT " TCP/UDP packets were not classified"
                              " (see triage.status and the log).\n", flows_text.no_model);
    else if (flows_text.rows == 0)
        why = g_strdup("No row: no TCP/UDP packet was seen (that passed the filter, if one was given).\n");
    else if (flows_open.packets > 0)
        why = g_strdup_printf("Not listed: %" G_GUINT64_FORMAT " packets of blocks still open at the end (a single pass"
                              " lists a block only\nonce a later packet of its flow closes it: tshark -2 lists every"
                              " block).\n", flows_open.packets);
    else if (flows_text.no_model > 0)
        why = g_strdup_printf("Not listed: %" G_GUINT64_FORMAT " packets not classified (no model loaded).\n",
                              flows_text.no_model);
    snprintf(flows_text.first_name, sizeof flows_text.first_name, "%s:\n%s%s",
             flows_table_name, why ? why : "", flows_text.name[0]);
    g_free(why);
    flows_fields[0].column_name = flows_text.first_name;
}

/* Column names, formats and the rule, from the widths. */
static void
flows_layout(stat_tap_table *table)
{
    flows_text.dirty = FALSE;
    if (!flows_text.text) {
        memcpy(flows_fields, flows_plain, sizeof flows_fields);
        return;
    }
    GString *rule = g_string_new(NULL);
    for (int c = 0; c < N_COLS; c++) {
        const char *lead = c ? " " : "";
        int w = (int)flows_text.width[c];
        gboolean left = flows_fields[c].align == TAP_ALIGN_LEFT;
        switch (flows_fields[c].type) {
        case TABLE_ITEM_STRING:
            snprintf(flows_text.format[c], sizeof flows_text.format[c], "%s%%%s%ds", lead, left ? "-" : "", w);
            break;
        default:
            snprintf(flows_text.format[c], sizeof flows_text.format[c], "%s%%%du", lead, w);
            break;
        }
        snprintf(flows_text.name[c], sizeof flows_text.name[c], left ? "%s%-*s" : "%s%*s", lead, w,
                 flows_plain[c].column_name);
        flows_fields[c].field_format = flows_text.format[c];
        flows_fields[c].column_name = flows_text.name[c];
        for (size_t i = 0; i < strlen(flows_text.name[c]) + 1; i++)
            g_string_append_c(rule, '-');
        g_string_append_c(rule, '+');
    }
    g_strlcpy(flows_text.rule, rule->str, sizeof flows_text.rule);
    g_string_free(rule, TRUE);
    if (table)
        table->title = flows_text.rule;
    flows_explain();
}

/* The Confidence column's text: "0.912", as the triage.confidence field
 * reads (the block's confidence is already tt_confidence_shown()). A
 * string, not a TABLE_ITEM_FLOAT: Wireshark 4.0's Qt dialog prints a float
 * cell with 6 decimals whatever its format ("0.912000"). Every value has the
 * form 0.ddd or 1.000, so the dialog's text sort is the numeric order. Interned:
 * at most 1,001 strings, never freed. */
static const char *
confidence_text(double c)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%.3f", c);
    return g_intern_string(buf);
}

/* Row of each (flow, block) in the one flows table. The table itself is a
 * singleton owned by the registered stat_tap_table_ui; this index belongs to
 * it and is emptied whenever the table is reset. */
static GHashTable *flows_rows;   /* guint64 (flow << 32 | block) -> row + 1 */

static void
flows_free_item(stat_tap_table *table, guint row, guint column,
                stat_tap_table_item_type *field)
{
    (void)table; (void)row;
    if ((column == COL_SRC || column == COL_DST) && field->type == TABLE_ITEM_STRING) {
        g_free((char *)field->value.string_value);
        field->value.string_value = NULL;
    }
}

static void
flows_reset(stat_tap_table *table)
{
    for (guint r = 0; r < table->num_elements; r++) {
        for (guint c = 0; c < table->num_fields; c++)
            flows_free_item(table, r, c, &table->elements[r][c]);
        g_free(table->elements[r]);
    }
    g_free(table->elements);
    table->elements = NULL;
    table->num_elements = 0;
    if (flows_rows)
        g_hash_table_remove_all(flows_rows);
}

static void
flows_init(stat_tap_table_ui *ui)
{
    /* a new tap session: the index may describe a table that
     * free_stat_tables() has freed since (GUI dialog closed and reopened) */
    if (flows_rows == NULL)
        flows_rows = g_hash_table_new_full(flow_key_hash, g_int64_equal, g_free, NULL);
    g_hash_table_remove_all(flows_rows);
    memset(&flows_text, 0, sizeof flows_text);
    open_blocks_reset(&flows_open);
    flows_text.text = ui->refcount == 0;
    for (int c = 0; c < N_COLS; c++)
        flows_text.width[c] = (guint)strlen(flows_plain[c].column_name);
    stat_tap_table *table = NULL;
    if (ui->tables && ui->tables->len > 0)
        table = g_array_index(ui->tables, stat_tap_table *, 0);
    if (table) {
        flows_reset(table);
    } else {
        table = stat_tap_init_table(flows_table_name, N_COLS, 0, NULL);
        stat_tap_add_table(ui, table);
    }
    table->title = flows_table_name;
    flows_layout(table);
}

static char *
format_addr(const tt_key *k, const uint8_t *a)
{
    char buf[WS_INET6_ADDRSTRLEN + 1];
    if (k->family == 4)
        ws_inet_ntop4(a, buf, sizeof buf);
    else
        ws_inet_ntop6(a, buf, sizeof buf);
    return g_strdup(buf);
}

/* A block that closed after the reverse direction's block of the same index
 * (a single pass: live capture) pools with it; the partner's row, written
 * when it closed alone, takes the same conversation answer. */
static void
conv_update(stat_tap_table *table, const triage_tap_block *b)
{
    if (b->conv_mate == 0)
        return;
    guint64 id = ((guint64)b->conv_mate << 32) | b->block;
    gpointer v = g_hash_table_lookup(flows_rows, &id);
    if (v == NULL)
        return;
    guint row = GPOINTER_TO_UINT(v) - 1;
    stat_tap_table_item_type *f = stat_tap_get_field_data(table, row, COL_CONV);
    f->value.string_value = b->conv_category;   /* interned, as every value of the column */
    stat_tap_set_field_data(table, row, COL_CONV, f);
    flows_widen(COL_CONV, (guint)strlen(b->conv_category));
}

static void
flows_add(stat_tap_table *table, const triage_tap_block *b)
{
    guint64 id = ((guint64)b->flow << 32) | b->block;
    gpointer v = g_hash_table_lookup(flows_rows, &id);
    guint row;
    if (v == NULL) {
        stat_tap_table_item_type items[N_COLS];
        memset(items, 0, sizeof items);
        for (int c = 0; c < N_COLS; c++)
            items[c].type = flows_fields[c].type;
        const tt_key *k = b->key;
        items[COL_SRC].value.string_value = k ? format_addr(k, k->src) : g_strdup("");
        items[COL_DST].value.string_value = k ? format_addr(k, k->dst) : g_strdup("");
        items[COL_SPORT].value.uint_value = k ? k->sport : 0;
        items[COL_DPORT].value.uint_value = k ? k->dport : 0;
        items[COL_PROTO].value.string_value = k == NULL ? "" : k->proto == 6 ? "TCP" : "UDP";
        items[COL_FLOW].value.uint_value = b->flow;
        items[COL_BLOCK].value.uint_value = b->block;
        items[COL_CATEGORY].value.string_value = b->category;
        items[COL_CONFIDENCE].value.string_value = confidence_text(b->confidence);
        items[COL_STATUS].value.string_value = b->status;
        items[COL_CONV].value.string_value = b->conv_category ? b->conv_category : "";
        row = table->num_elements;
        stat_tap_init_table_row(table, row, N_COLS, items);
        guint64 *key = g_new(guint64, 1);
        *key = id;
        g_hash_table_insert(flows_rows, key, GUINT_TO_POINTER(row + 1));
        flows_text.rows++;
        flows_widen(COL_SRC, (guint)strlen(items[COL_SRC].value.string_value));
        flows_widen(COL_DST, (guint)strlen(items[COL_DST].value.string_value));
        flows_widen(COL_SPORT, digits(items[COL_SPORT].value.uint_value));
        flows_widen(COL_DPORT, digits(items[COL_DPORT].value.uint_value));
        flows_widen(COL_PROTO, (guint)strlen(items[COL_PROTO].value.string_value));
        flows_widen(COL_FLOW, digits(b->flow));
        flows_widen(COL_BLOCK, digits(b->block));
        flows_widen(COL_CONFIDENCE, (guint)strlen(items[COL_CONFIDENCE].value.string_value));
        flows_widen(COL_CATEGORY, (guint)strlen(b->category));
        flows_widen(COL_STATUS, (guint)strlen(b->status));
        flows_widen(COL_CONV, (guint)strlen(items[COL_CONV].value.string_value));
    } else {
        row = GPOINTER_TO_UINT(v) - 1;
    }
    conv_update(table, b);
    stat_tap_table_item_type *f = stat_tap_get_field_data(table, row, COL_PACKETS);
    f->value.uint_value += b->packets;
    stat_tap_set_field_data(table, row, COL_PACKETS, f);
    flows_widen(COL_PACKETS, digits(f->value.uint_value));
    f = stat_tap_get_field_data(table, row, COL_BYTES);
    f->value.uint_value += (guint)b->bytes;
    stat_tap_set_field_data(table, row, COL_BYTES, f);
    flows_widen(COL_BYTES, digits(f->value.uint_value));
}

static tap_packet_status
flows_packet(void *tapdata, packet_info *pinfo, epan_dissect_t *edt,
             const void *data, triage_tap_flags_t flags)
{
    stat_data_t *sd = tapdata;
    const triage_tap_info *ti = data;
    (void)pinfo; (void)edt; (void)flags;
    if (sd->stat_tap_data->tables == NULL || sd->stat_tap_data->tables->len == 0)
        return TAP_PACKET_DONT_REDRAW;
    stat_tap_table *table = g_array_index(sd->stat_tap_data->tables, stat_tap_table *, 0);
    guint rows = flows_text.rows;
    if (ti->has_current && ti->current.flow != 0)
        flows_add(table, &ti->current);
    else if (ti->has_current)
        flows_text.no_model++;
    for (guint i = 0; i < ti->n_closed; i++)
        flows_add(table, &ti->closed[i]);
    gboolean open_changed = open_blocks_feed(&flows_open, ti);
    if (flows_text.dirty)
        flows_layout(table);
    else if (flows_text.text && (rows != flows_text.rows || open_changed || flows_text.no_model))
        flows_explain();   /* the counts in the lines above the header */
    return TAP_PACKET_REDRAW;
}

static stat_tap_table_ui flows_ui = {
    REGISTER_PACKET_STAT_GROUP_UNSORTED,
    "TrafficTriage Flows",     /* the Qt menu does not split table titles on '/' */
    TRIAGE_TAP_NAME,
    "triage,flows",
    flows_init,
    flows_packet,
    flows_reset,
    flows_free_item,
    NULL,
    G_N_ELEMENTS(flows_fields), flows_fields,
    G_N_ELEMENTS(flows_params), flows_params,
    NULL,
    0
};

/* The blocks still open when a live capture stopped, classified then
 * (triage-display.c, from the end-of-capture draw): rows of the Flows table
 * and counts of every Categories tree, as if a packet had closed them. */
void
triage_stats_add_final(const triage_tap_block *blocks, guint n)
{
    triage_tap_info ti;
    memset(&ti, 0, sizeof ti);
    ti.closed = (triage_tap_block *)blocks;
    ti.n_closed = n;
    if (categories_states) {
        GHashTableIter it;
        gpointer st, cs;
        g_hash_table_iter_init(&it, categories_states);
        while (g_hash_table_iter_next(&it, &st, &cs)) {
            for (guint i = 0; i < n; i++)
                categories_count(st, cs, &blocks[i], TRUE);
            open_blocks_feed(&((categories_state *)cs)->open, &ti);
        }
    }
    stat_tap_table *table = NULL;
    if (flows_ui.tables && flows_ui.tables->len > 0 && flows_rows)
        table = g_array_index(flows_ui.tables, stat_tap_table *, 0);
    if (table == NULL)
        return;
    for (guint i = 0; i < n; i++)
        flows_add(table, &blocks[i]);
    flows_text.finals += n;
    open_blocks_feed(&flows_open, &ti);
    if (flows_text.dirty)
        flows_layout(table);
    else if (flows_text.text)
        flows_explain();
}

void
triage_stats_register(void)
{
    memcpy(flows_fields, flows_plain, sizeof flows_fields);
    stats_tree_register_plugin(TRIAGE_TAP_NAME, "triage", "TrafficTriage/Categories", 0,
                               categories_packet, categories_init, categories_cleanup);
    register_stat_tap_table_ui(&flows_ui);
}
