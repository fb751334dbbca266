/* The bump allocator. */
#include "core/arena.h"

#include <stdlib.h>

#include "core/status.h"

#define DT_ARENA_ALIGN 64

size_t dt_arena_aligned(size_t bytes)
{
    return (bytes + DT_ARENA_ALIGN - 1) & ~(size_t)(DT_ARENA_ALIGN - 1);
}

void dt_arena_init(dt_arena *a, size_t cap)
{
    a->cap = dt_arena_aligned(cap ? cap : DT_ARENA_ALIGN);
    a->base = aligned_alloc(DT_ARENA_ALIGN, a->cap);
    if (!a->base) {
        dt_error_set(DT_ERR_NOMEM, "arena of %zu bytes", a->cap);
        DT_ASSERT(a->base != NULL);
    }
    a->used = a->peak = 0;
}

void dt_arena_free(dt_arena *a)
{
    free(a->base);
    a->base = NULL;
    a->cap = a->used = 0;
}

void *dt_arena_alloc(dt_arena *a, size_t bytes)
{
    const size_t need = dt_arena_aligned(bytes);
    DT_ASSERT(a->used + need <= a->cap);
    void *p = a->base + a->used;
    a->used += need;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

float *dt_arena_floats(dt_arena *a, size_t count)
{
    return dt_arena_alloc(a, count * sizeof(float));
}

void dt_arena_reset(dt_arena *a) { a->used = 0; }
