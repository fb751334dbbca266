/* Shard sets: a directory of HDF5 shards plus a manifest, split by split.
 *
 * Layout of a shard set directory:
 *   manifest.json          format "dtrain-shardset" version 1: source, input
 *                          shape and storage dtype, label kind and classes,
 *                          and per split the shards with sample counts and
 *                          CRC-32 checksums of each file
 *   train-00000.h5 ...     datasets /x (N, ...shape) and /y (N) or (N, dim)
 *   test-00000.h5 ...      (no /y where labels are made at load time)
 *   tokenizer.model        sets of token ids: the SentencePiece model that
 *                          made them, its CRC-32 in the manifest
 * A sample's global index within a split maps to (shard, row) through the
 * cumulative counts. Only the rows asked for are read (hyperslabs).
 *
 * HDF5 here is not built thread-safe: every HDF5 call in dtrain goes through
 * dt_h5_lock()/dt_h5_unlock() (core of data/h5.h) so the loader thread and
 * checkpoint writes never overlap. */
#ifndef DT_DATA_DATASET_H
#define DT_DATA_DATASET_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"

#define DT_SHARDSET_FORMAT "dtrain-shardset"
#define DT_SHARDSET_VERSION 1

typedef enum dt_label_kind {
    DT_LABEL_CLASS = 0,      /* y: one integer class per sample, stored int32 */
    DT_LABEL_REGRESSION = 1, /* y: y_dim floats per sample */
    /* y: a class per pixel, y_dim = height * width exact integers in
     * [0, num_classes) stored as float32 (semantic segmentation) */
    DT_LABEL_PIXEL_CLASS = 2,
    DT_LABEL_TOKENS = 3, /* y: y_dim = T per-token class ids as exact integers, -1 = no target */
} dt_label_kind;

typedef struct dt_dataset_info {
    int64_t count;    /* samples in this split */
    dt_shape x_shape; /* per sample, e.g. (1, 28, 28) or (13) */
    dt_dtype x_dtype; /* storage: DT_U8 (read back scaled by x_scale) or DT_F32 */
    float x_scale;    /* read value = stored value * x_scale (1/255 for bytes) */
    dt_label_kind label_kind;
    int num_classes; /* DT_LABEL_CLASS, DT_LABEL_PIXEL_CLASS; DT_LABEL_TOKENS: vocab or 0 */
    int y_dim;       /* floats per sample in y as read: 1 for classes */
    int n_shards;
    char source[256]; /* where the data came from, from the manifest */
    char name[64];    /* data set name from the manifest, e.g. "mnist-digits" */

    /* Sets of token ids (x holds ids; see docs/text.md). vocab_size 0: none. */
    int64_t vocab_size;
    int labels_stored;      /* 0: /y is absent and made at load time (masked LM) */
    char objective[16];     /* label.objective: "mlm", "lm", "class", or "" */
    char tokenizer[64];     /* the tokenizer model's file name in the set, or "" */
    uint32_t tokenizer_crc; /* its CRC-32, as the manifest records and open verifies */
} dt_dataset_info;

typedef struct dt_dataset dt_dataset;

/* Open one split ("train", "test") of the shard set in `dir`: reads and
 * checks the manifest (format, version), checks that every shard of the
 * split exists, has the recorded size and CRC-32, and holds /x and /y with
 * the recorded shapes. Errors name the file and what was expected. */
dt_status dt_dataset_open(const char *dir, const char *split, dt_dataset **out);
void dt_dataset_close(dt_dataset *ds);
const dt_dataset_info *dt_dataset_get_info(const dt_dataset *ds);

/* Read samples `index[0..n)` (global indices within the split, any order,
 * repeats allowed) into x (n x numel(x_shape) floats) and y (n x y_dim
 * floats; class labels as exact small integers). A class label outside
 * [0, num_classes) is DT_ERR_DATA naming the shard and row. Thread-safe with
 * respect to other HDF5 use in dtrain (takes the HDF5 lock). */
dt_status dt_dataset_read(dt_dataset *ds, const int64_t *index, int n, float *x, float *y);

/* The same for training: with masking set, the masks are keyed by `key`
 * (the epoch) instead of the fixed evaluation key. Without masking it is
 * dt_dataset_read. */
dt_status dt_dataset_read_keyed(dt_dataset *ds, uint32_t key, const int64_t *index, int n,
                                float *x, float *y);

/* Make masked-LM targets at every read from now on (see data/mlm.h): x
 * gets the masked ids and y the targets. Needs a set of token ids. */
struct dt_mlm;
dt_status dt_dataset_set_mlm(dt_dataset *ds, const struct dt_mlm *m);

/* Keep only rows[0..n) of the split (indices into the split as it is now,
 * e.g. the training part of a validation hold-out): afterwards the split
 * has n samples and sample i is row rows[i]. */
dt_status dt_dataset_restrict(dt_dataset *ds, const int64_t *rows, int64_t n);

#endif
