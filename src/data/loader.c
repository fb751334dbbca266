/* The loader: this rank's slice of each global batch, read ahead of time.
 *
 * Two slots hold batches. With prefetch, a worker thread fills the slot of
 * step s + 1 while the caller works on step s; dt_loader_next() hands out
 * one slot and asks for the next step in the other, which the caller gave
 * up by calling again. Without prefetch the same fill function runs in the
 * caller's thread, so both modes produce identical batches.
 *
 * A failure in the worker (a corrupt shard, a bad label) is stored in the
 * slot with its message, since error messages are per thread, and is
 * raised again on the caller's thread by dt_loader_next(). */
#include "data/loader.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MSG_CAP 2048

typedef enum slot_state {
    SLOT_IDLE,    /* free, or handed out to the caller */
    SLOT_PENDING, /* asked for, not yet taken by the worker */
    SLOT_BUSY,    /* being filled by the worker */
    SLOT_READY    /* filled; status says whether it worked */
} slot_state;

typedef struct slot {
    float *x, *y;
    int64_t *index;
    dt_batch meta;
    slot_state state;
    int64_t step; /* the step asked for */
    dt_status status;
    char msg[MSG_CAP];
} slot;

struct dt_loader {
    dt_dataset *ds;
    dt_loader_config cfg;
    int64_t n, steps;
    int64_t x_numel, y_dim;
    int64_t *order; /* the epoch's order of all n samples */
    int64_t epoch, next_step;
    int started;
    dt_status failed; /* sticky until the next start_epoch */
    char failed_msg[MSG_CAP];
    slot slots[2];

    int threaded, quit;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
};

/* Read step `step` of the current epoch into slot k. Touches only the
 * slot and reads the loader's fixed fields and epoch order. */
static void fill_slot(dt_loader *l, int k, int64_t step)
{
    slot *const s = &l->slots[k];
    const int64_t b = l->cfg.global_batch;
    const int64_t count = dt_sampler_batch_size(l->n, b, step);
    int64_t lo, hi;
    dt_sampler_slice(count, l->cfg.rank, l->cfg.world, &lo, &hi);

    s->meta = (dt_batch){.x = s->x, .y = s->y, .index = s->index, .n = (int)(hi - lo),
                         .global_n = count, .global_lo = lo, .epoch = l->epoch,
                         .step = step};
    memcpy(s->index, l->order + step * b + lo, (size_t)(hi - lo) * sizeof *s->index);
    /* Masked-LM sets draw a new mask per epoch (data/mlm.h). */
    s->status = dt_dataset_read_keyed(l->ds, (uint32_t)l->epoch, s->index, (int)(hi - lo),
                                      s->x, s->y);
    if (s->status != DT_OK) snprintf(s->msg, sizeof s->msg, "%s", dt_error_message());
}

static void *worker_main(void *arg)
{
    dt_loader *const l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        int k = -1;
        while (!l->quit && k < 0) {
            k = l->slots[0].state == SLOT_PENDING   ? 0
                : l->slots[1].state == SLOT_PENDING ? 1
                                                    : -1;
            if (k < 0) pthread_cond_wait(&l->work, &l->mu);
        }
        if (l->quit) break;

        l->slots[k].state = SLOT_BUSY;
        const int64_t step = l->slots[k].step;
        pthread_mutex_unlock(&l->mu);
        fill_slot(l, k, step);
        pthread_mutex_lock(&l->mu);
        l->slots[k].state = SLOT_READY;
        pthread_cond_broadcast(&l->done);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Ask the worker for `step` in its slot. Call with l->mu held. */
static void request(dt_loader *l, int64_t step)
{
    slot *const s = &l->slots[step % 2];
    DT_ASSERT(s->state == SLOT_IDLE);
    s->state = SLOT_PENDING;
    s->step = step;
    pthread_cond_signal(&l->work);
}

/* Cancel pending requests and wait out the one in progress, so that the
 * epoch order may change. */
static void quiesce(dt_loader *l)
{
    if (!l->threaded) return;
    pthread_mutex_lock(&l->mu);
    for (int k = 0; k < 2; k++)
        if (l->slots[k].state == SLOT_PENDING) l->slots[k].state = SLOT_IDLE;
    while (l->slots[0].state == SLOT_BUSY || l->slots[1].state == SLOT_BUSY)
        pthread_cond_wait(&l->done, &l->mu);
    l->slots[0].state = l->slots[1].state = SLOT_IDLE;
    pthread_mutex_unlock(&l->mu);
}

static dt_status check_config(const dt_dataset *ds, const dt_loader_config *c)
{
    if (c->global_batch < 1 || c->global_batch > INT32_MAX)
        return dt_error_set(DT_ERR_ARG, "global batch %lld is not in [1, 2^31)",
                            (long long)c->global_batch);
    if (c->world < 1 || c->rank < 0 || c->rank >= c->world)
        return dt_error_set(DT_ERR_ARG, "rank %d is not in a world of %d", c->rank, c->world);
    if (c->sampler != DT_SAMPLER_SEQUENTIAL && c->sampler != DT_SAMPLER_SHUFFLE)
        return dt_error_set(DT_ERR_ARG, "unknown sampler %d", (int)c->sampler);
    return DT_OK;
}

dt_status dt_loader_create(dt_dataset *ds, const dt_loader_config *cfg, dt_loader **out)
{
    *out = NULL;
    DT_TRY(check_config(ds, cfg));
    const dt_dataset_info *const info = dt_dataset_get_info(ds);

    for (int64_t i = 0; cfg->subset && i < cfg->subset_n; i++)
        if (cfg->subset[i] < 0 || cfg->subset[i] >= info->count)
            return dt_error_set(DT_ERR_ARG, "subset index %lld is outside the split's %lld "
                                "samples", (long long)cfg->subset[i], (long long)info->count);

    dt_loader *const l = dt_calloc(1, sizeof *l);
    l->ds = ds;
    l->cfg = *cfg;
    l->n = cfg->subset ? cfg->subset_n : info->count;
    l->steps = dt_sampler_steps(l->n, cfg->global_batch);
    l->x_numel = dt_shape_numel(&info->x_shape);
    l->y_dim = info->y_dim;
    l->order = dt_calloc((size_t)l->n, sizeof *l->order);

    /* The largest slice: earlier ranks get the extra sample. */
    const int64_t cap = (cfg->global_batch + cfg->world - 1) / cfg->world;
    for (int k = 0; k < 2; k++) {
        l->slots[k].x = dt_calloc((size_t)(cap * l->x_numel), sizeof(float));
        l->slots[k].y = dt_calloc((size_t)(cap * l->y_dim), sizeof(float));
        l->slots[k].index = dt_calloc((size_t)cap, sizeof(int64_t));
    }
    if (cfg->prefetch) {
        pthread_mutex_init(&l->mu, NULL);
        pthread_cond_init(&l->work, NULL);
        pthread_cond_init(&l->done, NULL);
        const int err = pthread_create(&l->thread, NULL, worker_main, l);
        if (err != 0) {
            dt_loader_destroy(l);
            return dt_error_set(DT_ERR_INTERNAL, "cannot start the loader thread: %s",
                                strerror(err));
        }
        l->threaded = 1;
    }
    *out = l;
    return DT_OK;
}

void dt_loader_destroy(dt_loader *l)
{
    if (!l) return;
    if (l->threaded) {
        pthread_mutex_lock(&l->mu);
        l->quit = 1;
        pthread_cond_broadcast(&l->work);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    if (l->cfg.prefetch) {
        pthread_cond_destroy(&l->done);
        pthread_cond_destroy(&l->work);
        pthread_mutex_destroy(&l->mu);
    }
    for (int k = 0; k < 2; k++) {
        free(l->slots[k].x);
        free(l->slots[k].y);
        free(l->slots[k].index);
    }
    free(l->order);
    free(l);
}

dt_status dt_loader_start_epoch(dt_loader *l, int64_t epoch, int64_t first_step)
{
    if (first_step < 0 || first_step > l->steps)
        return dt_error_set(DT_ERR_ARG, "step %lld is outside the %lld steps of an epoch",
                            (long long)first_step, (long long)l->steps);
    quiesce(l);
    if (!l->started || epoch != l->epoch)
        dt_sampler_order(l->cfg.sampler, l->cfg.seed, epoch, l->n, l->order);
    if ((!l->started || epoch != l->epoch) && l->cfg.subset)
        for (int64_t i = 0; i < l->n; i++) l->order[i] = l->cfg.subset[l->order[i]];
    l->epoch = epoch;
    l->next_step = first_step;
    l->started = 1;
    l->failed = DT_OK;
    if (l->threaded && first_step < l->steps) {
        pthread_mutex_lock(&l->mu);
        request(l, first_step);
        pthread_mutex_unlock(&l->mu);
    }
    return DT_OK;
}

/* Wait for the slot of step l->next_step and ask for the step after it. */
static slot *take_prefetched(dt_loader *l)
{
    const int64_t step = l->next_step;
    slot *const s = &l->slots[step % 2];
    pthread_mutex_lock(&l->mu);
    if (s->state == SLOT_IDLE) request(l, step);
    while (s->state != SLOT_READY) pthread_cond_wait(&l->done, &l->mu);
    DT_ASSERT(s->step == step);
    s->state = SLOT_IDLE; /* the caller's until its next call */
    if (s->status == DT_OK && step + 1 < l->steps) request(l, step + 1);
    pthread_mutex_unlock(&l->mu);
    return s;
}

dt_status dt_loader_next(dt_loader *l, dt_batch *b)
{
    if (!l->started)
        return dt_error_set(DT_ERR_ARG, "dt_loader_next called before dt_loader_start_epoch");
    if (l->failed != DT_OK) return dt_error_set(l->failed, "%s", l->failed_msg);
    if (l->next_step >= l->steps) {
        *b = (dt_batch){.x = l->slots[0].x, .y = l->slots[0].y, .index = l->slots[0].index,
                        .epoch = l->epoch, .step = l->steps};
        return DT_OK;
    }

    slot *s = &l->slots[0];
    if (l->threaded) s = take_prefetched(l);
    else fill_slot(l, 0, l->next_step);
    if (s->status != DT_OK) {
        l->failed = s->status;
        snprintf(l->failed_msg, sizeof l->failed_msg, "%s", s->msg);
        return dt_error_set(l->failed, "%s", l->failed_msg);
    }
    *b = s->meta;
    l->next_step++;
    return DT_OK;
}

int64_t dt_loader_steps_per_epoch(const dt_loader *l) { return l->steps; }
