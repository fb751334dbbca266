/* Shapes and tensor views. */
#include "core/tensor.h"

#include <stdio.h>
#include <string.h>

#include "core/status.h"

dt_shape dt_shape_make(int ndim, const int64_t *dim)
{
    DT_ASSERT(ndim >= 0 && ndim <= DT_MAX_DIMS);
    dt_shape s = {.ndim = ndim};
    for (int i = 0; i < ndim; i++) s.dim[i] = dim[i];
    return s;
}

int64_t dt_shape_numel(const dt_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->dim[i];
    return n;
}

int dt_shape_equal(const dt_shape *a, const dt_shape *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dim[i] != b->dim[i]) return 0;
    return 1;
}

const char *dt_shape_str(const dt_shape *s, char *buf, int cap)
{
    int len = snprintf(buf, (size_t)cap, "(");
    for (int i = 0; i < s->ndim && len < cap; i++)
        len += snprintf(buf + len, (size_t)(cap - len), "%s%lld", i ? ", " : "",
                        (long long)s->dim[i]);
    if (len < cap) snprintf(buf + len, (size_t)(cap - len), ")");
    return buf;
}

dt_tensor dt_tensor_view(void *data, dt_dtype dtype, int ndim, const int64_t *shape)
{
    DT_ASSERT(ndim >= 0 && ndim <= DT_MAX_DIMS);
    dt_tensor t = {.data = data, .dtype = dtype, .device = DT_CPU, .ndim = ndim};
    for (int i = 0; i < ndim; i++) t.shape[i] = shape[i];
    return t;
}

int64_t dt_tensor_numel(const dt_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t dt_dtype_size(dt_dtype t) { return t == DT_U8 ? 1 : t == DT_U16 ? 2 : 4; }

const char *dt_dtype_name(dt_dtype t)
{
    switch (t) {
    case DT_F32: return "float32";
    case DT_I32: return "int32";
    case DT_U8: return "uint8";
    case DT_U16: return "uint16";
    }
    return "?";
}
