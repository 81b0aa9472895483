/* TrafficTriage core: FlowPics as PNG pictures (tt_png.h). */
#include "tt_png.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    GError **error;
    const char *path;
} png_err_ctx;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_err_ctx *cx = png_get_error_ptr(png);
    g_set_error(cx->error, TT_ERROR, TT_ERROR_IO, "writing %s: %s", cx->path, msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

gboolean tt_png_write_flowpic(const char *path, const tt_spec *spec,
                              const tt_pixel *px, size_t n, uint32_t scale,
                              GError **error)
{
    if (scale < 1 || scale > 64) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "scale %u out of range 1..64", scale);
        return FALSE;
    }
    uint32_t w = spec->time_bins, h = spec->size_bins;
    uint64_t W = (uint64_t)w * scale, H = (uint64_t)h * scale;
    if (W > 16384 || H > 16384) {
        g_set_error(error, TT_ERROR, TT_ERROR_LIMIT, "picture %" G_GUINT64_FORMAT " x %" G_GUINT64_FORMAT " too large", W, H);
        return FALSE;
    }
    float vmax = 0.0f;
    for (size_t i = 0; i < n; i++)
        if (px[i].v > vmax)
            vmax = px[i].v;
    /* Grey level per bin, 255 = empty. */
    guint8 *img = g_malloc((size_t)w * h);
    memset(img, 255, (size_t)w * h);
    for (size_t i = 0; i < n; i++) {
        if (px[i].idx >= (uint64_t)w * h || px[i].v <= 0.0f)
            continue;
        uint32_t row = px[i].idx / w, col = px[i].idx % w;
        double x = vmax > 0 ? log1p(px[i].v) / log1p(vmax) : 1.0;
        img[(size_t)(h - 1 - row) * w + col] = (guint8)(200.0 - 200.0 * x);   /* any packet is clearly visible */
    }
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot create %s: %s", path, g_strerror(errno));
        g_free(img);
        return FALSE;
    }
    png_err_ctx cx = { error, path };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &cx, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    guint8 *line = g_malloc((size_t)W);
    gboolean ok = FALSE;
    if (png && info && setjmp(png_jmpbuf(png)) == 0) {
        png_init_io(png, fp);
        png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, 8, PNG_COLOR_TYPE_GRAY,
                     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (uint32_t y = 0; y < h; y++) {
            for (uint32_t x = 0; x < w; x++)
                memset(line + (size_t)x * scale, img[(size_t)y * w + x], scale);
            for (uint32_t r = 0; r < scale; r++)
                png_write_row(png, line);
        }
        png_write_end(png, NULL);
        ok = TRUE;
    } else if (!png || !info) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "libpng could not start writing %s", path);
    }
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    if (fclose(fp) != 0 && ok) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "writing %s: %s", path, g_strerror(errno));
        ok = FALSE;
    }
    g_free(line);
    g_free(img);
    return ok;
}

uint32_t tt_png_default_scale(const tt_spec *spec)
{
    return spec->time_bins >= 256 ? 1 : MAX(1u, MIN(8u, 256u / spec->time_bins));
}
