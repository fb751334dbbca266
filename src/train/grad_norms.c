/* The L2 norms of the gradient of each layer and of the whole model, as a
 * JSON fragment for the training records. */
#include "train/grad_norms.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void dt_grad_norms_layer_sumsq(const dt_model *m, const float *grads, int64_t lo, int64_t len,
                               double *out)
{
    for (int i = 0; i < m->n_layers; i++) {
        const dt_layer *l = m->layers[i];
        out[i] = 0.0;
        for (int k = 0; k < l->n_params; k++) {
            const int64_t off = l->params[k].offset, n = dt_shape_numel(&l->params[k].shape);
            const int64_t a = off > lo ? off : lo;
            const int64_t e = off + n < lo + len ? off + n : lo + len;
            if (e > a) out[i] += m->be->sumsq(grads + (a - lo), e - a);
        }
    }
}

void dt_grad_norms_json_from(const dt_model *m, const double *layer_sumsq, char *buf,
                             size_t cap)
{
    double total = 0.0;
    for (int i = 0; i < m->n_layers; i++) total += layer_sumsq[i];
    int len = snprintf(buf, cap, "\"grad_norm\":%.6g,\"grad_norms\":{", sqrt(total));
    int first = 1;
    for (int i = 0; i < m->n_layers && len > 0 && (size_t)len < cap; i++) {
        const dt_layer *l = m->layers[i];
        if (!l->n_params) continue;
        char item[DT_NAME_CAP + 32];
        const int n = snprintf(item, sizeof item, "%s\"%s\":%.6g", first ? "" : ",", l->name,
                               sqrt(layer_sumsq[i]));
        if ((size_t)(len + n + 2) >= cap) break;
        len += snprintf(buf + len, cap - (size_t)len, "%s", item);
        first = 0;
    }
    if (len > 0 && (size_t)len + 1 < cap) snprintf(buf + len, cap - (size_t)len, "}");
}

void dt_grad_norms_json(const dt_model *m, char *buf, size_t cap)
{
    double *sq = dt_calloc((size_t)m->n_layers + 1, sizeof *sq);
    dt_grad_norms_layer_sumsq(m, m->grads, 0, m->n_params, sq);
    dt_grad_norms_json_from(m, sq, buf, cap);
    free(sq);
}
