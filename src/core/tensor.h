/* Tensors: a shape and a pointer into memory owned elsewhere.
 *
 * A dt_tensor never owns its data. Parameters and gradients are views into
 * the model's flat buffers, activations views into the model's activation
 * arena. Layout is row-major: NCHW for images, (B, T, C) for sequences,
 * (B, F) for features. Tensors are float32 (or int32); uint8 and uint16 occur
 * only as storage types of shard sets. */
#ifndef DT_CORE_TENSOR_H
#define DT_CORE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define DT_MAX_DIMS 5

typedef enum dt_dtype { DT_F32 = 0, DT_I32 = 1, DT_U8 = 2, DT_U16 = 3 } dt_dtype;
typedef enum dt_device { DT_CPU = 0, DT_CUDA = 1 } dt_device;

/* A shape without the batch dimension: what a layer produces per sample. */
typedef struct dt_shape {
    int ndim;
    int64_t dim[DT_MAX_DIMS];
} dt_shape;

typedef struct dt_tensor {
    void *data;
    dt_dtype dtype;
    dt_device device;
    int ndim;
    int64_t shape[DT_MAX_DIMS];
} dt_tensor;

dt_shape dt_shape_make(int ndim, const int64_t *dim);
int64_t dt_shape_numel(const dt_shape *s);
int dt_shape_equal(const dt_shape *a, const dt_shape *b);
/* "(1, 28, 28)" into buf. */
const char *dt_shape_str(const dt_shape *s, char *buf, int cap);

/* A view of `data` with the given shape. */
dt_tensor dt_tensor_view(void *data, dt_dtype dtype, int ndim, const int64_t *shape);
int64_t dt_tensor_numel(const dt_tensor *t);
size_t dt_dtype_size(dt_dtype t);
const char *dt_dtype_name(dt_dtype t);

#endif
