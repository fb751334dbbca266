/* A bump allocator for scratch memory that is freed all at once.
 *
 * Activations of one forward/backward pass and per-step scratch come from an
 * arena: allocation is a pointer increment (64-byte aligned), and
 * dt_arena_reset() releases everything. Capacity is fixed at creation; an
 * allocation beyond it is a broken invariant (the model sizes its arena from
 * the shapes it knows). */
#ifndef DT_CORE_ARENA_H
#define DT_CORE_ARENA_H

#include <stddef.h>

typedef struct dt_arena {
    char *base;
    size_t cap, used, peak;
} dt_arena;

void dt_arena_init(dt_arena *a, size_t cap);
void dt_arena_free(dt_arena *a);
/* Zero-initialised is NOT guaranteed. */
void *dt_arena_alloc(dt_arena *a, size_t bytes);
float *dt_arena_floats(dt_arena *a, size_t count);
void dt_arena_reset(dt_arena *a);
/* Bytes needed to hold `bytes` after alignment (for sizing an arena). */
size_t dt_arena_aligned(size_t bytes);

#endif
