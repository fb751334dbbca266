/* A synthetic classification set for the MPI tests: n points in `dim`
 * dimensions drawn from N(0, 1), point i of class i % 3 with `shift` added
 * to coordinate i % 3, written as CSV and converted to the shard set
 * DIR/shards (class labels); dim <= 64. Header-only, like test_util.h. */
#ifndef DT_TEST_BLOBS_H
#define DT_TEST_BLOBS_H

#include <stdio.h>

#include "core/rng.h"
#include "data/convert.h"
#include "test_util.h"

static void dt_test_write_blobs(const char *dir, uint64_t seed, int n, int dim, float shift)
{
    char csv[300], out[300];
    float v[64];
    snprintf(csv, sizeof csv, "%s/points.csv", dir);
    FILE *f = fopen(csv, "w");
    const dt_rng r = dt_rng_make(seed, DT_RNG_USER, 0, 0);
    for (int i = 0; i < n; i++) {
        dt_rng_fill_normal(&r, (uint64_t)i * (uint64_t)dim, v, dim, 0.0f, 1.0f);
        v[i % 3] += shift;
        for (int j = 0; j < dim; j++) fprintf(f, "%.6f,", v[j]);
        fprintf(f, "%d\n", i % 3);
    }
    fclose(f);
    dt_convert_options o;
    dt_convert_options_init(&o);
    snprintf(out, sizeof out, "%s/shards", dir);
    o.out_dir = out;
    o.csv_classes = 1;
    CHECK_OK(dt_convert_csv(csv, NULL, &o));
}

#endif
