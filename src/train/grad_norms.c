/* The L2 norms of the gradient of each layer and of the whole model, as a
 * JSON fragment for the training records. */
#include "train/grad_norms.h"

#include <math.h>
#include <stdio.h>

static double layer_sumsq(const dt_model *m, const dt_layer *l)
{
    double s = 0.0;
    for (int k = 0; k < l->n_params; k++)
        s += m->be->sumsq(l->params[k].grad, dt_shape_numel(&l->params[k].shape));
    return s;
}

void dt_grad_norms_json(const dt_model *m, char *buf, size_t cap)
{
    double total = 0.0;
    for (int i = 0; i < m->n_layers; i++) total += layer_sumsq(m, m->layers[i]);
    int len = snprintf(buf, cap, "\"grad_norm\":%.6g,\"grad_norms\":{", sqrt(total));
    int first = 1;
    for (int i = 0; i < m->n_layers && len > 0 && (size_t)len < cap; i++) {
        const dt_layer *l = m->layers[i];
        if (!l->n_params) continue;
        char item[DT_NAME_CAP + 32];
        const int n = snprintf(item, sizeof item, "%s\"%s\":%.6g", first ? "" : ",", l->name,
                               sqrt(layer_sumsq(m, l)));
        if ((size_t)(len + n + 2) >= cap) break;
        len += snprintf(buf + len, cap - (size_t)len, "%s", item);
        first = 0;
    }
    if (len > 0 && (size_t)len + 1 < cap) snprintf(buf + len, cap - (size_t)len, "}");
}
