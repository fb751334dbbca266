/* The trainer: optimizer steps over data-parallel ranks, the epoch loop,
 * evaluation, checkpoints, progress and metrics.
 *
 * One step: each rank runs forward and backward over its slice of the global
 * batch (in `accumulation` micro-steps), with the loss scaled by 1/global
 * batch; during the last backward the reducer sums gradient buckets over all
 * ranks as soon as they are final; then every rank applies the same
 * optimizer update to identical parameters. With optim.shard the reducer
 * reduce-scatters instead, each rank updates its shard of the parameters
 * (the only part it holds optimizer state for) and an all-gather returns
 * the updated parameters to every rank (docs/scaling.md). */
#ifndef DT_TRAIN_TRAINER_H
#define DT_TRAIN_TRAINER_H

#include "dist/reducer.h"
#include "train/session.h"

typedef struct dt_eval_result {
    double loss;     /* mean per-sample loss */
    double accuracy; /* classification: fraction correct; else 0 */
    int64_t count;   /* samples evaluated over all ranks */
    double top5;     /* classification over more than 5 classes: label in the top 5 */
    double mean_iou; /* per-pixel classes: mean over classes of intersection / union */
    int64_t targets; /* token losses: target tokens evaluated (loss and accuracy are
                        means over them; perplexity = exp(loss)) */
} dt_eval_result;

typedef struct dt_step_result {
    double loss;     /* mean over the global batch (token losses: its target tokens) */
    double accuracy; /* classification: fraction of the global batch (targets) correct */
    int64_t global_n;
    int64_t targets; /* token losses: target tokens of the global batch; else global_n */
} dt_step_result;

typedef struct dt_trainer dt_trainer;

dt_status dt_trainer_create(dt_session *s, dt_trainer **out);
void dt_trainer_destroy(dt_trainer *t);

/* One optimizer step over this rank's n samples (x, y, global indices) of a
 * global batch of global_n. Collective. */
dt_status dt_trainer_step(dt_trainer *t, const float *x, const float *y, const int64_t *index,
                          int64_t n, int64_t global_n, dt_step_result *out);

/* Evaluate on a whole split; each sample counted exactly once over the
 * ranks. Collective. */
dt_status dt_trainer_evaluate(dt_trainer *t, dt_dataset *ds, dt_eval_result *out);

/* The full run: run directory, epochs, evaluation each epoch, checkpoints,
 * resume. On return *run_dir holds the run directory (caller frees). */
dt_status dt_trainer_fit(dt_trainer *t, dt_eval_result *final, char **run_dir);

dt_reducer_stats dt_trainer_reducer_stats(const dt_trainer *t);

/* Bytes of device (or host, on the CPU) memory one rank holds, the largest
 * over the ranks: parameters; gradients (with sharding, the full local
 * buffer backward writes plus the summed shard); optimizer state (its
 * shard, sharded) and scratch (lars, lamb); activations for the largest
 * batch reserved (training micro-batch or evaluation chunk). */
typedef struct dt_memory_report {
    int64_t params, grads, optim_state, optim_scratch, activations;
    int64_t total;
    int sharded;
} dt_memory_report;

/* Collective (the maximum over the ranks). */
dt_status dt_trainer_memory(dt_trainer *t, dt_memory_report *out);

/* One JSON object {"type":"memory",...} for metrics.jsonl, and one line
 * for a person, "parameters 1.2 MiB, ...". */
void dt_memory_report_json(const dt_memory_report *r, int ranks, char *buf, size_t cap);
void dt_memory_report_text(const dt_memory_report *r, char *buf, size_t cap);

/* The gradient noise scale estimated over the steps so far (see
 * train/noise_scale.h); logged with every train record of metrics.jsonl. */
struct dt_noise_scale;
const struct dt_noise_scale *dt_trainer_noise_scale(const dt_trainer *t);

#endif
