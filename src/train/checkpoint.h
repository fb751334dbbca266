/* Checkpoints: HDF5 files any HDF5 tool can read.
 *
 * Layout (format "dtrain-checkpoint", version 1):
 *   /                  attributes format, version, dtrain_version, step,
 *                      epoch, step_in_epoch, seed, world_size, config (the
 *                      resolved config text), tokenizer_crc32 and
 *                      tokenizer_file (the training data's tokenizer, ""
 *                      for data without one)
 *   /params/LAYER/NAME float32 datasets in the parameter's shape
 *                      (e.g. /params/fc1/weight (256, 784))
 *   /optim             attributes kind, step; one float32 dataset per state
 *                      buffer (e.g. exp_avg, exp_avg_sq) over the flat
 *                      parameter vector, in /params order
 * The optimizer state is always the full vector, whoever held which part
 * of it: a sharded run (optim.shard) gathers the shards to the writer and
 * scatters them again on resume, so one file resumes sharded or not, on
 * any world size (docs/scaling.md).
 * The RNG needs no state (every stream is keyed by seed and step); the
 * sampler position is (epoch, step_in_epoch). Files are written to a
 * temporary name and renamed, so a crash never leaves half a checkpoint. */
#ifndef DT_TRAIN_CHECKPOINT_H
#define DT_TRAIN_CHECKPOINT_H

#include "data/dataset.h"
#include "nn/model.h"
#include "optim/optim.h"

#define DT_CHECKPOINT_FORMAT "dtrain-checkpoint"
#define DT_CHECKPOINT_VERSION 1

typedef struct dt_ckpt_meta {
    int64_t step, epoch, step_in_epoch;
    uint64_t seed;
    int64_t world_size;
    /* The tokenizer of the training data: CRC-32 as 8 hex digits and the
     * model file, both "" for data without one (and older checkpoints). */
    char tokenizer_crc[12];
    char tokenizer_file[512];
} dt_ckpt_meta;

/* Record the tokenizer of the data set `info` read from directory `dir`. */
void dt_ckpt_meta_set_tokenizer(dt_ckpt_meta *meta, const dt_dataset_info *info,
                                const char *dir);

/* Token ids only mean the same pieces under the same tokenizer: DT_OK when
 * the checkpoint `path` (its meta) and the data set (info, dir) have the
 * same tokenizer or neither has one; else an error naming both checksums
 * and files. `what` says what was attempted ("resuming from"). */
dt_status dt_checkpoint_check_tokenizer(const char *path, const dt_ckpt_meta *meta,
                                        const dt_dataset_info *info, const char *dir,
                                        const char *what);

/* What dt_checkpoint_init_from did. */
typedef struct dt_init_report {
    int loaded, fresh, unused; /* tensors taken, left as initialized, not in the model */
    int64_t values;            /* numbers taken */
    char fresh_names[512];     /* "LAYER/NAME, ..." (cut short when long) */
    char unused_names[512];
} dt_init_report;

/* Write model parameters, optimizer state (optim may be NULL) and meta. */
dt_status dt_checkpoint_save(const char *path, const dt_model *m, const dt_optim *o,
                             const dt_ckpt_meta *meta, const char *config_text);

/* Read into an existing model (and optimizer, if not NULL). Every parameter
 * must be present with its shape; errors name the file and the parameter. */
dt_status dt_checkpoint_load(const char *path, dt_model *m, dt_optim *o, dt_ckpt_meta *meta);

/* Fine-tuning: take every parameter (and buffer) of the model whose layer
 * and name are in the checkpoint, leaving the others as initialized; the
 * optimizer state is not read. A parameter of the same name but another
 * shape is an error naming both shapes. */
dt_status dt_checkpoint_init_from(const char *path, dt_model *m, dt_ckpt_meta *meta,
                                  dt_init_report *rep);

/* The same two with the optimizer state in host memory instead of in `o`
 * (which then only names the kind and its buffers): state[i] is buffer i
 * over all o->n parameters, as a sharded optimizer cannot hold it. Without
 * these, `o` must hold all of its state (unsharded). */
dt_status dt_checkpoint_save_state(const char *path, const dt_model *m, const dt_optim *o,
                                   const float *const *state, const dt_ckpt_meta *meta,
                                   const char *config_text);
dt_status dt_checkpoint_load_state(const char *path, dt_model *m, dt_optim *o,
                                   float *const *state, dt_ckpt_meta *meta);

#endif
