/* Image augmentation: rotation, shift and mirroring of single samples. */
#include "data/augment.h"

#include <math.h>
#include <string.h>

int dt_augment_active(const dt_augment *a)
{
    return a->shift > 0 || a->hflip || a->rotate_deg > 0.0;
}

/* A uniform number in [0, 1) from a 32-bit word. */
static double unit(uint32_t u) { return (double)u / 4294967296.0; }

/* Pixel (y, x) of one channel plane (h, w), 0 outside. */
static float at(const float *plane, int64_t h, int64_t w, int64_t y, int64_t x)
{
    return y >= 0 && y < h && x >= 0 && x < w ? plane[y * w + x] : 0.0f;
}

/* dst(h,w) = src(h,w) rotated by `rad` about the centre, bilinear. */
static void rotate_plane(const float *src, float *dst, int64_t h, int64_t w, double rad)
{
    const double cy = 0.5 * (double)(h - 1), cx = 0.5 * (double)(w - 1);
    const double cs = cos(rad), sn = sin(rad);
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++) {
            /* The source point that lands on (y, x). */
            const double sx = cs * ((double)x - cx) + sn * ((double)y - cy) + cx;
            const double sy = -sn * ((double)x - cx) + cs * ((double)y - cy) + cy;
            const double fx = floor(sx), fy = floor(sy);
            const int64_t x0 = (int64_t)fx, y0 = (int64_t)fy;
            const double ax = sx - fx, ay = sy - fy;
            const double top = (1 - ax) * at(src, h, w, y0, x0) + ax * at(src, h, w, y0, x0 + 1);
            const double bot =
                (1 - ax) * at(src, h, w, y0 + 1, x0) + ax * at(src, h, w, y0 + 1, x0 + 1);
            dst[y * w + x] = (float)((1 - ay) * top + ay * bot);
        }
}

/* dst(h,w) = src shifted by (dy, dx), optionally mirrored, zero fill. */
static void shift_plane(const float *src, float *dst, int64_t h, int64_t w, int64_t dy,
                        int64_t dx, int flip)
{
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++) {
            const int64_t sx = flip ? w - 1 - x : x;
            dst[y * w + x] = at(src, h, w, y - dy, sx - dx);
        }
}

void dt_augment_image(const dt_augment *a, const dt_rng *rng, int64_t sample, float *x,
                      int64_t c, int64_t h, int64_t w, float *tmp)
{
    uint32_t u[4];
    dt_rng_block(rng, (uint64_t)sample, u);
    const int64_t plane = h * w, span = 2 * a->shift + 1;
    const int64_t dx = a->shift ? (int64_t)(u[1] % (uint32_t)span) - a->shift : 0;
    const int64_t dy = a->shift ? (int64_t)(u[2] % (uint32_t)span) - a->shift : 0;
    const int flip = a->hflip && (u[3] >> 31);
    const double rad = a->rotate_deg * (2.0 * unit(u[0]) - 1.0) * M_PI / 180.0;

    for (int64_t k = 0; k < c; k++) {
        float *p = x + k * plane, *t = tmp + k * plane;
        if (a->rotate_deg > 0.0) {
            rotate_plane(p, t, h, w, rad);
            memcpy(p, t, (size_t)plane * sizeof(float));
        }
        if (dx || dy || flip) {
            shift_plane(p, t, h, w, dy, dx, flip);
            memcpy(p, t, (size_t)plane * sizeof(float));
        }
    }
}
