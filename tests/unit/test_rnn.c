/* Recurrent layers (rnn, lstm, gru) and the embedding: finite-difference
 * gradients, forward values against a reference written here in double
 * from PyTorch's equations, masking of padded steps, parameter counts.
 *
 * Gradient checks follow test_gradcheck.c: L = sum_i w_i out_i with fixed
 * random w, central differences with h = 1e-3 in float32 and the tolerance
 * |a - n| <= 5e-4 + 1e-2 max(|a|, |n|). The model input gets no gradient,
 * so the sequence passes through a linear layer first, and initial states
 * are linear layers of the input: checking those layers' weights checks
 * the gradients the recurrent layer writes into its inputs (the sequence,
 * h0 and c0). */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/rng.h"
#include "nn/model.h"
#include "gradcheck_util.h"
#include "test_util.h"

#define EPS 1e-3f
#define B 3
#define T 4
#define C 3

typedef struct net {
    dt_cfg *cfg;
    dt_model *m;
    float x[B * T * C];
    float *w;
    int64_t index[B];
    float lengths[B];
    dt_pass pass;
    int64_t out_numel;
} net;

static int net_open(net *g, const char *yaml, int steps, uint64_t seed, int training,
                    const float *lengths)
{
    memset(g, 0, sizeof *g);
    const int64_t dims[2] = {steps, C};
    const dt_shape in = dt_shape_make(2, dims);
    CHECK_OK(dt_cfg_load_string(yaml, "rnn test", &g->cfg));
    if (!g->cfg) return 0;
    CHECK_OK(dt_model_build(g->cfg, &in, dt_backend_cpu(), &g->m));
    if (!g->m) return 0;
    dt_model_init_params(g->m, seed);
    dt_model_reserve(g->m, B);
    g->out_numel = dt_shape_numel(dt_model_out_shape(g->m));
    g->w = malloc((size_t)(B * g->out_numel) * sizeof(float));
    const dt_rng r = dt_rng_make(seed, DT_RNG_USER, 2, 0);
    dt_rng_fill_uniform(&r, 0, g->x, B * steps * C, -1.0f, 1.0f);
    dt_rng_fill_uniform(&r, 100000, g->w, B * g->out_numel, -1.0f, 1.0f);
    for (int i = 0; i < B; i++) g->index[i] = 11 + 5 * i;
    if (lengths) memcpy(g->lengths, lengths, sizeof g->lengths);
    g->pass = (dt_pass){.be = dt_backend_cpu(), .n = B, .index = g->index, .step = 2,
                        .seed = 77, .training = training,
                        .lengths = lengths ? g->lengths : NULL};
    return 1;
}

static void net_close(net *g)
{
    dt_model_destroy(g->m);
    dt_cfg_free(g->cfg);
    free(g->w);
}

static double objective(net *g)
{
    dt_model_forward(g->m, g->x, &g->pass);
    const float *out = dt_model_output(g->m);
    double l = 0.0;
    for (int64_t i = 0; i < B * g->out_numel; i++) l += (double)g->w[i] * out[i];
    return l;
}

static double objective_of(void *g) { return objective(g); }

static void check_grads(const char *label, const char *yaml, int training, const float *len)
{
    net g;
    if (!net_open(&g, yaml, T, 5, training, len)) {
        net_close(&g);
        return;
    }
    dt_model *m = g.m;
    float *ana = malloc((size_t)m->n_params * sizeof(float));
    dt_model_zero_grads(m);
    dt_model_forward(m, g.x, &g.pass);
    memcpy(dt_model_output_grad(m), g.w, (size_t)(B * g.out_numel) * sizeof(float));
    dt_model_backward(m, &g.pass, NULL, NULL);
    memcpy(ana, m->grads, (size_t)m->n_params * sizeof(float));

    dt_gc_compare(m, ana, objective_of, &g, EPS, label);
    free(ana);
    net_close(&g);
}

/* The recurrent layer behind a linear layer; optional h0 (and c0) from
 * linear layers of the input. `opts` are the layer's keys. */
static void make_yaml(char *buf, size_t cap, const char *kind, const char *opts, int states,
                      int state_units)
{
    int len = snprintf(buf, cap,
                       "layers:\n"
                       "  - {kind: linear, units: %d, name: pre}\n"
                       "  - {kind: reshape, shape: [%d, %d], name: seq}\n",
                       T * C, T, C);
    if (states >= 1)
        len += snprintf(buf + len, cap - (size_t)len,
                        "  - {kind: linear, units: %d, name: h0, inputs: [input]}\n",
                        state_units);
    if (states >= 2)
        len += snprintf(buf + len, cap - (size_t)len,
                        "  - {kind: linear, units: %d, name: c0, inputs: [input]}\n",
                        state_units);
    snprintf(buf + len, cap - (size_t)len, "  - {kind: %s, hidden: 3, %s, inputs: [seq%s]}\n",
             kind, opts, states == 0 ? "" : states == 1 ? ", h0" : ", h0, c0");
}

typedef struct grad_case {
    const char *label, *kind, *opts;
    int states, state_units, training, masked;
} grad_case;

static const grad_case k_cases[] = {
    {"rnn tanh", "rnn", "return: sequence", 0, 0, 0, 0},
    {"rnn relu 2 layers last", "rnn", "nonlinearity: relu, layers: 2, return: last", 0, 0, 0,
     0},
    {"rnn 2 layers bidir h0", "rnn", "layers: 2, bidirectional: true, return: last", 1, 12, 0,
     0},
    {"lstm", "lstm", "return: sequence", 0, 0, 0, 0},
    {"lstm 2 layers bidir", "lstm", "layers: 2, bidirectional: true", 0, 0, 0, 0},
    {"lstm 2 layers bidir h0 c0 last", "lstm",
     "layers: 2, bidirectional: true, return: last", 2, 12, 0, 0},
    {"lstm h0 only", "lstm", "return: last", 1, 3, 0, 0},
    {"lstm forget_bias 1", "lstm", "return: last, forget_bias: 1.0", 0, 0, 0, 0},
    {"lstm 2 layers dropout (training)", "lstm", "layers: 2, dropout: 0.3", 0, 0, 1, 0},
    {"gru last", "gru", "return: last", 0, 0, 0, 0},
    {"gru 2 layers bidir h0", "gru", "layers: 2, bidirectional: true", 1, 12, 0, 0},
    {"rnn bidir masked", "rnn", "bidirectional: true", 0, 0, 0, 1},
    {"lstm 2 layers bidir masked h0 c0", "lstm", "layers: 2, bidirectional: true", 2, 12, 0,
     1},
    {"lstm bidir masked last", "lstm", "bidirectional: true, return: last", 0, 0, 0, 1},
    {"gru 2 layers bidir masked h0 last", "gru",
     "layers: 2, bidirectional: true, return: last", 1, 12, 0, 1},
};

static void test_gradients(void)
{
    static const float lengths[B] = {4, 2, 3};
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        const grad_case *c = &k_cases[i];
        char yaml[1024];
        make_yaml(yaml, sizeof yaml, c->kind, c->opts, c->states, c->state_units);
        check_grads(c->label, yaml, c->training, c->masked ? lengths : NULL);
    }
}

/* ---- forward values against a double-precision reference ---- */

static double sig(double x) { return 1.0 / (1.0 + exp(-x)); }

/* y = W v + b for W (rows, cols) in float, v in double. */
static void matvec(const float *w, const float *b, const double *v, int rows, int cols,
                   double *y)
{
    for (int r = 0; r < rows; r++) {
        double s = b[r];
        for (int j = 0; j < cols; j++) s += (double)w[r * cols + j] * v[j];
        y[r] = s;
    }
}

/* One direction of a one-layer cell over sample x (T, C): out (T, H) in time
 * order, PyTorch's equations. kind 0 rnn tanh, 1 lstm, 2 gru. */
static void reference(int kind, const dt_param *p, const float *x, int reverse, int H,
                      double *out)
{
    const int G = kind == 1 ? 4 : kind == 2 ? 3 : 1;
    double h[8] = {0}, c[8] = {0}, xi[32], gi[32], gh[32], v[8];
    for (int s = 0; s < T; s++) {
        const int t = reverse ? T - 1 - s : s;
        for (int j = 0; j < C; j++) xi[j] = x[t * C + j];
        matvec(p[0].data, p[2].data, xi, G * H, C, gi);
        matvec(p[1].data, p[3].data, h, G * H, H, gh);
        for (int j = 0; j < H; j++) {
            if (kind == 0) {
                v[j] = tanh(gi[j] + gh[j]);
            } else if (kind == 1) {
                const double i = sig(gi[j] + gh[j]), f = sig(gi[H + j] + gh[H + j]);
                const double g = tanh(gi[2 * H + j] + gh[2 * H + j]);
                const double o = sig(gi[3 * H + j] + gh[3 * H + j]);
                c[j] = f * c[j] + i * g;
                v[j] = o * tanh(c[j]);
            } else {
                const double r = sig(gi[j] + gh[j]), z = sig(gi[H + j] + gh[H + j]);
                const double n = tanh(gi[2 * H + j] + r * gh[2 * H + j]);
                v[j] = (1.0 - z) * n + z * h[j];
            }
        }
        for (int j = 0; j < H; j++) out[t * H + j] = h[j] = v[j];
    }
}

static void test_forward_reference(void)
{
    static const char *const kinds[] = {"rnn", "lstm", "gru"};
    for (int kind = 0; kind < 3; kind++) {
        char yaml[128];
        snprintf(yaml, sizeof yaml, "layers: [{kind: %s, hidden: 3, bidirectional: true}]",
                 kinds[kind]);
        net g;
        if (!net_open(&g, yaml, T, 9, 0, NULL)) {
            net_close(&g);
            continue;
        }
        dt_model_forward(g.m, g.x, &g.pass);
        const float *out = dt_model_output(g.m);
        const dt_layer *l = g.m->layers[0];
        CHECK(strcmp(l->params[4].name, "weight_ih_l0_reverse") == 0);
        for (int b = 0; b < B; b++)
            for (int d = 0; d < 2; d++) {
                double ref[T * 3];
                reference(kind, &l->params[4 * d], g.x + b * T * C, d, 3, ref);
                for (int t = 0; t < T; t++)
                    for (int j = 0; j < 3; j++)
                        CHECK_CLOSE(out[(b * T + t) * 6 + d * 3 + j], ref[t * 3 + j], 1e-5,
                                    1e-6);
            }
        net_close(&g);
    }
}

/* Padding: outputs at padded steps are 0, and the valid part of a padded
 * sample equals the output of the same layer on the sequence cut to its
 * length (which checks that the reverse direction starts at the last valid
 * step, and that the final state ignores the padding). */
static void test_mask_semantics(void)
{
    static const float lengths[B] = {4, 2, 3};
    const char *yaml = "layers: [{kind: lstm, hidden: 3, bidirectional: true, layers: 2}]";
    const char *yaml_last =
        "layers: [{kind: gru, hidden: 3, bidirectional: true, layers: 2, return: last}]";
    for (int variant = 0; variant < 2; variant++) {
        net full, cut;
        const char *y = variant ? yaml_last : yaml;
        if (!net_open(&full, y, T, 4, 0, lengths) || !net_open(&cut, y, 2, 4, 0, NULL)) {
            net_close(&full);
            net_close(&cut);
            continue;
        }
        dt_model_forward(full.m, full.x, &full.pass);
        /* Sample 1 (length 2) cut to 2 steps. */
        float xs[B * 2 * C] = {0};
        memcpy(xs, full.x + 1 * T * C, 2 * C * sizeof(float));
        memcpy(cut.x, xs, sizeof xs);
        dt_model_forward(cut.m, cut.x, &cut.pass);
        const float *a = dt_model_output(full.m), *c = dt_model_output(cut.m);
        if (variant == 0) {
            for (int t = 0; t < T; t++)
                for (int j = 0; j < 6; j++) {
                    const float v = a[(1 * T + t) * 6 + j];
                    if (t >= 2) CHECK(v == 0.0f);
                    else CHECK_CLOSE(v, c[t * 6 + j], 1e-6, 1e-7);
                }
        } else {
            for (int j = 0; j < 6; j++) CHECK_CLOSE(a[6 + j], c[j], 1e-6, 1e-7);
        }
        net_close(&full);
        net_close(&cut);
    }
}

static int64_t count_params(const char *yaml, int64_t steps, int64_t feat)
{
    dt_cfg *cfg = NULL;
    dt_model *m = NULL;
    const int64_t dims[3] = {1, steps, feat};
    const dt_shape in = dt_shape_make(3, dims);
    CHECK_OK(dt_cfg_load_string(yaml, "count", &cfg));
    CHECK_OK(dt_model_build(cfg, &in, dt_backend_cpu(), &m));
    const int64_t n = m ? m->n_params : -1;
    dt_model_destroy(m);
    dt_cfg_free(cfg);
    return n;
}

/* PyTorch's counts: 4h(in+h)+8h per LSTM layer and direction, 3h(in+h)+6h
 * GRU, h(in+h)+2h RNN. */
static void test_param_counts(void)
{
    CHECK(count_params("layers: [{kind: lstm, hidden: 256, layers: 2}]", 28, 28) == 819200);
    CHECK(count_params("layers: [{kind: gru, hidden: 64, bidirectional: true}]", 10, 5) ==
          2 * (3 * 64 * (5 + 64) + 6 * 64));
    CHECK(count_params("layers: [{kind: rnn, hidden: 32, layers: 3}]", 10, 2) ==
          (32 * (2 + 32) + 64) + 2 * (32 * (32 + 32) + 64));
}

/* Shape and config errors name what was expected and found. */
static void expect_error(const char *yaml, int nd, const int64_t *dims, const char *needle)
{
    dt_cfg *cfg = NULL;
    dt_model *m = NULL;
    const dt_shape in = dt_shape_make(nd, dims);
    CHECK_OK(dt_cfg_load_string(yaml, "bad", &cfg));
    const dt_status s = dt_model_build(cfg, &in, dt_backend_cpu(), &m);
    CHECK(s != DT_OK);
    if (s != DT_OK && !strstr(dt_error_message(), needle)) {
        fprintf(stderr, "%s:%d: message '%s' lacks '%s'\n", __FILE__, __LINE__,
                dt_error_message(), needle);
        dt_test_failures++;
    }
    dt_model_destroy(m);
    dt_cfg_free(cfg);
}

static void test_errors(void)
{
    const int64_t seq[2] = {28, 28}, flat[1] = {784};
    expect_error("layers: [{kind: lstm, hidden: 8}]", 1, flat, "(T, C) or (1, T, C)");
    expect_error("layers: [{kind: lstm, hidden: 8, max_length: 20}]", 2, seq,
                 "28 steps for max_length 20");
    expect_error("layers: [{kind: linear, units: 5, name: h0}, {kind: reshape, shape: [28,28],"
                 " inputs: [input], name: s}, {kind: gru, hidden: 8, inputs: [s, h0]}]",
                 2, seq, "expected (1, 8)");
    /* nonlinearity is a key of rnn only: for lstm it stays unread. */
    dt_cfg *cfg = NULL;
    dt_model *m = NULL;
    const dt_shape in = dt_shape_make(2, seq);
    CHECK_OK(dt_cfg_load_string("layers: [{kind: lstm, hidden: 8, nonlinearity: relu}]", "k",
                                &cfg));
    CHECK_OK(dt_model_build(cfg, &in, dt_backend_cpu(), &m));
    CHECK(dt_cfg_check_unused(cfg) != DT_OK && strstr(dt_error_message(), "nonlinearity"));
    dt_model_destroy(m);
    dt_cfg_free(cfg);
    expect_error("layers: [{kind: embedding, vocab: 10, dim: 4}]", 2, seq, "token ids");
}

/* Embedding: forward picks rows, out-of-range ids read zeros, and the
 * gradient through it matches finite differences. */
static void test_embedding(void)
{
    const char *yaml = "layers:\n"
                       "  - {kind: embedding, vocab: 5, dim: 3}\n"
                       "  - {kind: gru, hidden: 3, return: last}\n";
    dt_cfg *cfg = NULL;
    dt_model *m = NULL;
    const int64_t dims[1] = {T};
    const dt_shape in = dt_shape_make(1, dims);
    CHECK_OK(dt_cfg_load_string(yaml, "emb", &cfg));
    CHECK_OK(dt_model_build(cfg, &in, dt_backend_cpu(), &m));
    if (!m) {
        dt_cfg_free(cfg);
        return;
    }
    dt_model_init_params(m, 3);
    dt_model_reserve(m, B);
    const float ids[B * T] = {0, 4, 2, 2, 1, 1, 3, 7, 4, 0, 0, 2};
    int64_t index[B] = {0, 1, 2};
    dt_pass p = {.be = dt_backend_cpu(), .n = B, .index = index};
    dt_model_forward(m, ids, &p);
    const dt_layer *e = m->layers[0];
    CHECK(memcmp(e->out + 3 * 3, e->params[0].data + 2 * 3, 3 * sizeof(float)) == 0);
    CHECK(e->out[7 * 3] == 0.0f && e->out[7 * 3 + 2] == 0.0f); /* id 7 >= vocab */

    const float w[B * 3] = {0.3f, -0.7f, 0.2f, 1.0f, 0.5f, -0.4f, 0.9f, -0.1f, 0.6f};
    dt_model_zero_grads(m);
    dt_model_forward(m, ids, &p);
    memcpy(dt_model_output_grad(m), w, sizeof w);
    dt_model_backward(m, &p, NULL, NULL);
    int bad = 0;
    for (int64_t k = 0; k < 15; k++) { /* the table */
        const float p0 = m->params[k];
        double f[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            m->params[k] = p0 + (sgn ? -EPS : EPS);
            dt_model_forward(m, ids, &p);
            f[sgn] = 0.0;
            for (int i = 0; i < B * 3; i++) f[sgn] += (double)w[i] * dt_model_output(m)[i];
        }
        m->params[k] = p0;
        const double num = (f[0] - f[1]) / (2.0 * EPS);
        bad += fabs(m->grads[k] - num) > DT_GC_ATOL + DT_GC_RTOL * fabs(num);
    }
    CHECK(bad == 0);
    /* Rows of ids never used get no gradient: row 3 appears, 7 is out. */
    dt_model_destroy(m);
    dt_cfg_free(cfg);
}

/* Token sequences padded with id 0: pad_from derives the lengths from the
 * ids, so a padded sequence ends in the same state as the sequence cut to
 * its length, padding tokens get no gradient, and the gradient of the
 * embedding table through the masked LSTM matches finite differences. */
static const char *const k_pad_yaml =
    "layers:\n"
    "  - {kind: embedding, name: emb, vocab: 6, dim: 3}\n"
    "  - {kind: lstm, hidden: 3, bidirectional: true, return: last, inputs: [emb, input],\n"
    "     pad_from: input, pad_id: 0}\n";

static dt_model *build_tokens(dt_cfg **cfg, int64_t steps)
{
    dt_model *m = NULL;
    const dt_shape in = dt_shape_make(1, &steps);
    CHECK_OK(dt_cfg_load_string(k_pad_yaml, "pad", cfg));
    CHECK_OK(dt_model_build(*cfg, &in, dt_backend_cpu(), &m));
    if (m) {
        dt_model_init_params(m, 8);
        dt_model_reserve(m, B);
    }
    return m;
}

static double token_objective(dt_model *m, const float *ids, const dt_pass *p, const float *w)
{
    dt_model_forward(m, ids, p);
    double f = 0.0;
    for (int i = 0; i < B * 6; i++) f += (double)w[i] * dt_model_output(m)[i];
    return f;
}

static void test_pad_tokens(void)
{
    dt_cfg *cfg = NULL, *cfg2 = NULL;
    dt_model *m = build_tokens(&cfg, T), *cut = build_tokens(&cfg2, 2);
    if (!m || !cut) goto done;
    const float ids[B * T] = {3, 1, 0, 0, 2, 5, 4, 1, 5, 0, 0, 0};
    const float ids_cut[B * 2] = {3, 1, 2, 5, 5, 1};
    int64_t index[B] = {0, 1, 2};
    const dt_pass p = {.be = dt_backend_cpu(), .n = B, .index = index};
    dt_model_forward(m, ids, &p);
    dt_model_forward(cut, ids_cut, &p);
    for (int j = 0; j < 6; j++)
        CHECK_CLOSE(dt_model_output(m)[j], dt_model_output(cut)[j], 1e-6, 1e-7);

    const float w[B * 6] = {0.5f, -1, 0.3f, 0.8f, -0.2f, 0.6f, 1, 0.4f, -0.9f,
                            0.1f, 0.7f, -0.5f, -0.3f, 0.2f, 0.9f, -0.6f, 0.4f, 0.8f};
    dt_model_zero_grads(m);
    dt_model_forward(m, ids, &p);
    memcpy(dt_model_output_grad(m), w, sizeof w);
    dt_model_backward(m, &p, NULL, NULL);
    /* Row 0 of the table is the pad id: it never reaches the state. */
    CHECK(m->grads[0] == 0.0f && m->grads[1] == 0.0f && m->grads[2] == 0.0f);
    int bad = 0;
    for (int64_t k = 0; k < m->n_params; k++) {
        const float p0 = m->params[k];
        m->params[k] = p0 + EPS;
        const double hi = token_objective(m, ids, &p, w);
        m->params[k] = p0 - EPS;
        const double lo = token_objective(m, ids, &p, w);
        m->params[k] = p0;
        const double num = (hi - lo) / (2.0 * EPS);
        bad += fabs(m->grads[k] - num) >
               DT_GC_ATOL + DT_GC_RTOL * fmax(fabs(num), fabs(m->grads[k]));
    }
    CHECK(bad == 0);
done:
    dt_model_destroy(m);
    dt_model_destroy(cut);
    dt_cfg_free(cfg);
    dt_cfg_free(cfg2);
}

int main(void)
{
    test_gradients();
    test_forward_reference();
    test_mask_semantics();
    test_param_counts();
    test_errors();
    test_embedding();
    test_pad_tokens();
    return dt_test_result();
}
