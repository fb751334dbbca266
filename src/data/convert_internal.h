/* The shard-set writer of convert.c, shared with the text converter
 * (convert_text.c). Not part of the public data interface. */
#ifndef DT_DATA_CONVERT_INTERNAL_H
#define DT_DATA_CONVERT_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "data/convert.h"
#include "data/dataset.h"

/* A whole source in memory: n samples of x (stored bytes) and y. */
typedef struct dt_convert_table {
    dt_shape x_shape;
    dt_dtype x_dtype; /* DT_U8, DT_U16, DT_I32 or DT_F32 as stored */
    double x_scale;
    dt_label_kind kind;
    int num_classes; /* classes and tokens: labels are in [0, num_classes) */
    int y_dim;       /* 1 for classes */
    int64_t n;
    size_t x_row, y_row; /* bytes per sample */
    /* y: int32 labels (classes, tokens) or y_dim floats per sample; NULL
     * for token labels made at load time, written as a set without /y. */
    uint8_t *x, *y;
} dt_convert_table;

/* The manifest without "splits": format, name, source, inputs, x and
 * label. `names` (label names, may be NULL) and `inputs` are taken over. */
cJSON *dt_convert_manifest_new(const dt_convert_options *o, const dt_convert_table *t,
                               const char *source, cJSON *inputs, cJSON *names);

/* Replace the shard set in o->out_dir with the tables train and test (an
 * empty test table is left out) and manifest `m`, which gets "splits"; with
 * o->tokenizer set, its model (and vocabulary) is copied in first. */
dt_status dt_convert_write_tables(const dt_convert_options *o, const dt_convert_table *train,
                                  const dt_convert_table *test, cJSON *m);

/* The checks every converter starts with (output directory, shards). */
dt_status dt_convert_check_options(const dt_convert_options *o);

/* A JSON array of the strings s[0..n), NULL entries left out. */
cJSON *dt_convert_string_array(const char *const *s, int n);

void dt_convert_table_free(dt_convert_table *t);

#endif
