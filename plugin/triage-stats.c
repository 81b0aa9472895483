/* TrafficTriage plugin: the two Statistics reports. See triage-stats.h. */
#include "triage-stats.h"

#include <epan/stats_tree.h>
#include <epan/stat_tap_ui.h>
#include <wsutil/inet_addr.h>

/* ---- Categories: stats_tree ------------------------------------------- */

static const char *const st_flows = "Flows (counted once per category seen)";
static const char *const st_blocks = "Blocks";
static const char *const st_packets = "Packets";
static const char *const st_bytes = "Bytes (IP length)";
static const char *const st_status = "Blocks by status";
static const char *const st_nomodel = "Packets not classified (no model loaded)";

static void
categories_init(stats_tree *st)
{
    stats_tree_create_node(st, st_flows, 0, STAT_DT_INT, TRUE);
    stats_tree_create_node(st, st_blocks, 0, STAT_DT_INT, TRUE);
    stats_tree_create_node(st, st_packets, 0, STAT_DT_INT, TRUE);
    stats_tree_create_node(st, st_bytes, 0, STAT_DT_INT, TRUE);
    stats_tree_create_node(st, st_status, 0, STAT_DT_INT, TRUE);
}

static void
categories_count(stats_tree *st, const triage_tap_block *b, gboolean count_block)
{
    int id;
    if (b->flow == 0) {
        increase_stat_node(st, st_nomodel, 0, TRUE, (gint)b->packets);
        return;
    }
    if (b->counts_flow) {
        id = tick_stat_node(st, st_flows, 0, TRUE);
        tick_stat_node(st, b->category, id, FALSE);
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
    (void)pinfo; (void)edt; (void)flags;
    if (ti->has_current)
        categories_count(st, &ti->current, ti->current.first_in_block);
    for (guint i = 0; i < ti->n_closed; i++)
        categories_count(st, &ti->closed[i], TRUE);
    return TAP_PACKET_REDRAW;
}

/* ---- Flows: stat_tap_table --------------------------------------------- */

enum {
    COL_SRC, COL_DST, COL_SPORT, COL_DPORT, COL_PROTO, COL_FLOW, COL_BLOCK,
    COL_PACKETS, COL_BYTES, COL_CATEGORY, COL_CONFIDENCE, COL_STATUS, N_COLS
};

static stat_tap_table_item flows_fields[N_COLS] = {
    { TABLE_ITEM_STRING, TAP_ALIGN_LEFT,  "Source",      "%-39s" },
    { TABLE_ITEM_STRING, TAP_ALIGN_LEFT,  "Destination", "%-39s" },
    { TABLE_ITEM_UINT,   TAP_ALIGN_RIGHT, "Src port",    "%8u" },
    { TABLE_ITEM_UINT,   TAP_ALIGN_RIGHT, "Dst port",    "%8u" },
    { TABLE_ITEM_STRING, TAP_ALIGN_LEFT,  "Protocol",    "%-8s" },
    { TABLE_ITEM_UINT,   TAP_ALIGN_RIGHT, "Flow",        "%6u" },
    { TABLE_ITEM_UINT,   TAP_ALIGN_RIGHT, "Block",       "%5u" },
    { TABLE_ITEM_UINT,   TAP_ALIGN_RIGHT, "Packets",     "%7u" },
    { TABLE_ITEM_UINT,   TAP_ALIGN_RIGHT, "Bytes",       "%10u" },
    { TABLE_ITEM_STRING, TAP_ALIGN_LEFT,  "Category",    "%-13s" },
    { TABLE_ITEM_FLOAT,  TAP_ALIGN_RIGHT, "Confidence",  "%10.3f" },
    { TABLE_ITEM_STRING, TAP_ALIGN_LEFT,  "Status",      "%-17s" },
};

static tap_param flows_params[] = {
    { PARAM_FILTER, "filter", "Filter", NULL, TRUE }
};

static const char *const flows_table_name = "One row per flow and time block";

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
        flows_rows = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    g_hash_table_remove_all(flows_rows);
    stat_tap_table *table = stat_tap_find_table(ui, flows_table_name);
    if (table) {
        flows_reset(table);
        return;
    }
    table = stat_tap_init_table(flows_table_name, N_COLS, 0, NULL);
    stat_tap_add_table(ui, table);
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
        items[COL_CONFIDENCE].value.float_value = b->confidence;
        items[COL_STATUS].value.string_value = b->status;
        row = table->num_elements;
        stat_tap_init_table_row(table, row, N_COLS, items);
        guint64 *key = g_new(guint64, 1);
        *key = id;
        g_hash_table_insert(flows_rows, key, GUINT_TO_POINTER(row + 1));
    } else {
        row = GPOINTER_TO_UINT(v) - 1;
    }
    stat_tap_table_item_type *f = stat_tap_get_field_data(table, row, COL_PACKETS);
    f->value.uint_value += b->packets;
    stat_tap_set_field_data(table, row, COL_PACKETS, f);
    f = stat_tap_get_field_data(table, row, COL_BYTES);
    f->value.uint_value += (guint)b->bytes;
    stat_tap_set_field_data(table, row, COL_BYTES, f);
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
    if (ti->has_current && ti->current.flow != 0)
        flows_add(table, &ti->current);
    for (guint i = 0; i < ti->n_closed; i++)
        flows_add(table, &ti->closed[i]);
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

void
triage_stats_register(void)
{
    stats_tree_register_plugin(TRIAGE_TAP_NAME, "triage", "TrafficTriage/Categories", 0,
                               categories_packet, categories_init, NULL);
    register_stat_tap_table_ui(&flows_ui);
}
