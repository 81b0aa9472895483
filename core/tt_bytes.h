/* TrafficTriage core: little-endian reading and writing of the model file's
 * fields (models/FORMAT.md), shared by the model (tt_model.c) and the trees
 * (tt_trees.c). Readers take a pointer the caller has bounds-checked. */
#ifndef TT_BYTES_H
#define TT_BYTES_H

#include <stdint.h>
#include <string.h>
#include <glib.h>

static inline uint32_t tt_rd32(const guint8 *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t tt_rd64(const guint8 *p) { return (uint64_t)tt_rd32(p) | ((uint64_t)tt_rd32(p + 4) << 32); }
static inline float tt_rdf32(const guint8 *p) { uint32_t u = tt_rd32(p); float f; memcpy(&f, &u, 4); return f; }
static inline double tt_rdf64(const guint8 *p) { uint64_t u = tt_rd64(p); double d; memcpy(&d, &u, 8); return d; }

static inline void tt_put32(GByteArray *b, uint32_t v)
{
    guint8 x[4] = { (guint8)v, (guint8)(v >> 8), (guint8)(v >> 16), (guint8)(v >> 24) };
    g_byte_array_append(b, x, 4);
}
static inline void tt_put64(GByteArray *b, uint64_t v) { tt_put32(b, (uint32_t)v); tt_put32(b, (uint32_t)(v >> 32)); }
static inline void tt_putf32(GByteArray *b, float f) { uint32_t u; memcpy(&u, &f, 4); tt_put32(b, u); }
static inline void tt_putf64(GByteArray *b, double d) { uint64_t u; memcpy(&u, &d, 8); tt_put64(b, u); }

#endif
