/* `dtrain info`: each layer's kind, inputs, output shape, parameters and
 * multiply-adds, and the totals. Parameter counts follow PyTorch's
 * conventions, so they can be checked against a PyTorch model one to one. */
#include <stdio.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"

/* 1234567 -> "1,234,567" */
static const char *group(int64_t v, char *buf, size_t cap)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", (long long)v);
    const int len = (int)strlen(raw);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < cap; i++) {
        if (i && (len - i) % 3 == 0 && raw[i - 1] != '-') buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = '\0';
    return buf;
}

static void print_layer(const dt_model *m, const dt_layer *l)
{
    char inputs[128] = "", shape[64], params[32], macs[32];
    int len = 0;
    for (int k = 0; k < l->n_in; k++)
        len += snprintf(inputs + len, sizeof inputs - (size_t)len, "%s%s", k ? "," : "",
                        l->in[k] < 0 ? "input" : m->layers[l->in[k]]->name);
    int64_t np = 0;
    for (int k = 0; k < l->n_params; k++) np += dt_shape_numel(&l->params[k].shape);
    printf("%-16s %-18s %-26s %-18s %14s %14s", l->name, l->ops->kind, inputs,
           dt_shape_str(&l->out_shape, shape, sizeof shape), group(np, params, sizeof params),
           group(l->ops->macs ? l->ops->macs(l) : 0, macs, sizeof macs));
    /* A borrowed weight is counted with its owner. */
    if (l->tied) printf("  (+ %s tied)", dt_shape_str(&l->tied->shape, shape, sizeof shape));
    printf("\n");
}

int dt_cmd_info(int argc, char **argv)
{
    static const char usage[] = "dtrain info CONFIG [key=value ...]";
    dt_cli cli;
    int rc = dt_cli_parse(argc, argv, usage, &cli);
    if (rc || cli.help) return rc;

    dt_comm *comm;
    dt_session *s;
    if ((rc = dt_cli_start(&argc, &argv, &cli, 0, &comm, &s))) return rc;

    const dt_model *m = s->model;
    char buf[64], a[32], b[32];
    if (dt_comm_rank(comm) == 0) {
        printf("model of %s, input %s per sample\n\n", cli.config,
               dt_shape_str(&m->in_shape, buf, sizeof buf));
        printf("%-16s %-18s %-26s %-18s %14s %14s\n", "layer", "kind", "inputs", "output",
               "parameters", "mult-adds");
        for (int i = 0; i < m->n_layers; i++) print_layer(m, m->layers[i]);
        printf("\ntotal: %s parameters (%.2f MB as float32), %s multiply-adds per sample\n",
               group(m->n_params, a, sizeof a), (double)m->n_params * 4 / 1e6,
               group(dt_model_macs(m), b, sizeof b));
        printf("loss %s, optimizer %s (lr %g)\n", dt_loss_name(s->loss.kind),
               dt_optim_name(s->optim->kind), s->optim->lr);
    }
    dt_cli_finish(comm, s);
    return 0;
}
