/* TrafficTriage core: FlowPics as PNG pictures (libpng). */
#ifndef TT_PNG_H
#define TT_PNG_H

#include "tt_types.h"

G_BEGIN_DECLS

/* Write the FlowPic as an 8-bit grey PNG: time left to right, packet size
 * bottom (small) to top (large), white background, darker = more packets
 * (log scale). Each bin becomes scale x scale pixels (1..64). */
gboolean tt_png_write_flowpic(const char *path, const tt_spec *spec,
                              const tt_pixel *px, size_t n, uint32_t scale,
                              GError **error);

/* Pixels per bin for a picture a person looks at: about 256 pixels wide,
 * 1 to 8 per bin (1 for pictures of 256 bins or more). */
uint32_t tt_png_default_scale(const tt_spec *spec);

G_END_DECLS

#endif
