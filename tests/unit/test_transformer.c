/* Transformer layers: finite-difference gradients of attention (padding
 * mask, causal mask, both, several heads, dropout), layer norm over the
 * last axis, GELU per token, position and segment embeddings, the tied
 * head, the [CLS] pooler and the token cross-entropy with ignored labels;
 * forward values of attention against a reference written here in double;
 * what the masks hide; parameter counts of the BERT and GPT configs
 * against the Hugging Face formulas; and the errors of bad configs.
 *
 * Gradient checks follow test_gradcheck.c: L = sum_i w_i out_i with fixed
 * random w (or the loss itself), central differences with h = 1e-3 in
 * float32 and |a - n| <= 5e-4 + 1e-2 max(|a|, |n|). Token models read ids,
 * which have no gradient, so every layer under test sits behind the
 * embedding: checking the table's gradient checks what the layers pass
 * back to their inputs. */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/rng.h"
#include "nn/loss.h"
#include "nn/model.h"
#include "gradcheck_util.h"
#include "test_util.h"

#define EPS 1e-3f
#define B 3
#define T 6
#define C 4
#define V 8

/* Three packed pairs [CLS]=2 A [SEP]=3 B [SEP] [PAD]=0...: lengths 5, 6, 3. */
static const float k_ids[B * T] = {2, 5, 3, 6, 3, 0, 2, 7, 6, 3, 5, 3, 2, 4, 3, 0, 0, 0};
/* Token targets: -1 is no target. */
static const float k_labels[B * T] = {-1, 5, -1, 6, -1, -1, -1, 7, -1, -1, 5, -1,
                                      -1, 4, -1, -1, -1, -1};

typedef struct net {
    dt_cfg *cfg;
    dt_model *m;
    float x[B * T * C];
    float *w;
    int64_t index[B];
    float lengths[B];
    dt_pass pass;
    int64_t out_numel;
    int use_loss; /* objective: the token loss of k_labels instead of sum w out */
    dt_loss loss;
} net;

/* Build `yaml` for token ids (float_input 0) or (T, C) floats; lengths
 * non-NULL go into the pass. */
static int net_open(net *g, const char *yaml, int float_input, int training,
                    const float *lengths)
{
    memset(g, 0, sizeof *g);
    const int64_t dims[2] = {T, C};
    const dt_shape in = dt_shape_make(float_input ? 2 : 1, dims);
    CHECK_OK(dt_cfg_load_string(yaml, "transformer test", &g->cfg));
    if (!g->cfg) return 0;
    CHECK_OK(dt_model_build(g->cfg, &in, dt_backend_cpu(), &g->m));
    if (!g->m) return 0;
    dt_model_init_params(g->m, 5);
    dt_model_reserve(g->m, B);
    g->out_numel = dt_shape_numel(dt_model_out_shape(g->m));
    g->w = malloc((size_t)(B * g->out_numel) * sizeof(float));
    const dt_rng r = dt_rng_make(9, DT_RNG_USER, 3, 0);
    if (float_input) dt_rng_fill_uniform(&r, 0, g->x, B * T * C, -1.0f, 1.0f);
    else memcpy(g->x, k_ids, sizeof k_ids);
    dt_rng_fill_uniform(&r, 100000, g->w, B * g->out_numel, -1.0f, 1.0f);
    for (int i = 0; i < B; i++) g->index[i] = 20 + 3 * i;
    if (lengths) memcpy(g->lengths, lengths, sizeof g->lengths);
    g->pass = (dt_pass){.be = dt_backend_cpu(), .n = B, .index = g->index, .step = 4,
                        .seed = 99, .training = training,
                        .lengths = lengths ? g->lengths : NULL};
    return 1;
}

static void net_close(net *g)
{
    dt_model_destroy(g->m);
    dt_cfg_free(g->cfg);
    free(g->w);
}

/* The objective after a forward pass; with `grad`, its gradient with
 * respect to the output is written for backward. */
static double objective(net *g, int grad)
{
    dt_model_forward(g->m, g->x, &g->pass);
    const float *out = dt_model_output(g->m);
    float *dout = dt_model_output_grad(g->m);
    if (g->use_loss) {
        float *tmp = malloc((size_t)(B * g->out_numel) * sizeof(float));
        const dt_loss_sums s = dt_loss_compute(&g->loss, dt_backend_cpu(), out, k_labels, B,
                                               1.0f, grad ? dout : tmp);
        free(tmp);
        return s.loss;
    }
    if (grad) memcpy(dout, g->w, (size_t)(B * g->out_numel) * sizeof(float));
    double l = 0.0;
    for (int64_t i = 0; i < B * g->out_numel; i++) l += (double)g->w[i] * out[i];
    return l;
}

static double objective_value(void *g) { return objective(g, 0); }

/* Analytic gradients (one backward over zeroed gradients) against central
 * differences of every parameter. */
static void check_net(net *g, const char *label, float eps)
{
    dt_model *m = g->m;
    float *ana = malloc((size_t)m->n_params * sizeof(float));
    dt_model_zero_grads(m);
    objective(g, 1);
    dt_model_backward(m, &g->pass, NULL, NULL);
    memcpy(ana, m->grads, (size_t)m->n_params * sizeof(float));

    dt_gc_compare(m, ana, objective_value, g, eps, label);
    free(ana);
}

typedef struct grad_case {
    const char *label, *yaml;
    int float_input, training, lengths, loss;
    /* A larger step where float32 rounding of the objective dominates: the
     * layer norm before the tied head makes every logit O(1), so L sums
     * 144 terms of that size and its rounding, over 2h, would exceed the
     * tolerance at h = 1e-3 (the truncation error is still ~h^2). */
    float eps;
} grad_case;

#define EMB "  - {kind: embedding, name: emb, vocab: 8, dim: 4}\n"

static const grad_case k_cases[] = {
    {"attention 2 heads, padding mask (pad_from)",
     "layers:\n" EMB
     "  - {kind: attention, heads: 2, inputs: [emb, input], pad_from: input}\n",
     0, 0, 0, 0, 0},
    {"attention 1 head, causal",
     "layers:\n" EMB "  - {kind: attention, heads: 1, causal: true}\n", 0, 0, 0, 0, 0},
    {"attention 4 heads, causal and padding",
     "layers:\n" EMB
     "  - {kind: attention, heads: 4, causal: true, inputs: [emb, input], pad_from: input}\n",
     0, 0, 0, 0, 0},
    {"attention 2 heads, dropout (training)",
     "layers:\n" EMB
     "  - {kind: attention, heads: 2, dropout: 0.3, inputs: [emb, input], pad_from: input}\n",
     0, 1, 0, 0, 0},
    {"attention 2 heads, lengths from the pass",
     "layers:\n"
     "  - {kind: linear, per_token: true, units: 4, name: pre}\n"
     "  - {kind: attention, heads: 2}\n",
     1, 0, 1, 0, 0},
    {"layer_norm axis last, gelu per token",
     "layers:\n" EMB
     "  - {kind: linear, per_token: true, units: 5}\n"
     "  - {kind: layer_norm, axis: last}\n"
     "  - {kind: gelu}\n",
     0, 0, 0, 0, 0},
    {"position and segment embeddings",
     "layers:\n" EMB
     "  - {kind: position_embedding, name: pos, max_len: 9}\n"
     "  - {kind: segment_embedding, inputs: [pos, input], sep_id: 3}\n"
     "  - {kind: layer_norm, axis: last}\n",
     0, 0, 0, 0, 0},
    {"tied head (shared table)",
     "layers:\n" EMB
     "  - {kind: attention, heads: 2, inputs: [emb, input], pad_from: input}\n"
     "  - {kind: layer_norm, axis: last}\n"
     "  - {kind: linear, per_token: true, tie: emb}\n",
     0, 0, 0, 0, 3e-3f},
    {"tied head without layer norm",
     "layers:\n" EMB
     "  - {kind: attention, heads: 2, inputs: [emb, input], pad_from: input}\n"
     "  - {kind: linear, per_token: true, tie: emb}\n",
     0, 0, 0, 0, 0},
    {"[CLS] pooler and classifier",
     "layers:\n" EMB
     "  - {kind: attention, heads: 2, inputs: [emb, input], pad_from: input}\n"
     "  - {kind: select_token, index: 0}\n"
     "  - {kind: linear, units: 4}\n"
     "  - {kind: tanh}\n"
     "  - {kind: linear, units: 2}\n",
     0, 0, 0, 0, 0},
    {"token loss, ignored labels, tied head",
     "layers:\n" EMB
     "  - {kind: position_embedding, max_len: 6}\n"
     "  - {kind: attention, heads: 2, causal: true}\n"
     "  - {kind: linear, per_token: true, tie: emb}\n",
     0, 0, 0, 1, 0},
};

static void test_gradients(void)
{
    static const float lengths[B] = {4, 6, 2};
    for (size_t c = 0; c < sizeof k_cases / sizeof k_cases[0]; c++) {
        const grad_case *k = &k_cases[c];
        net g;
        if (net_open(&g, k->yaml, k->float_input, k->training, k->lengths ? lengths : NULL)) {
            g.use_loss = k->loss;
            if (k->loss)
                CHECK_OK(dt_loss_setup_tokens(NULL, dt_model_out_shape(g.m), V, T, &g.loss));
            check_net(&g, k->label, k->eps > 0 ? k->eps : EPS);
        }
        net_close(&g);
    }
}

/* The tied table's gradient gets both contributions also on an overwriting
 * pass (the first micro-step), whatever the buffer held before. */
static void test_tied_overwrite(void)
{
    net g;
    if (!net_open(&g, k_cases[7].yaml, 0, 0, NULL)) {
        net_close(&g);
        return;
    }
    dt_model *m = g.m;
    CHECK(m->n_params == V * C + 4 * (C * C + C) + 2 * C + V); /* the table counted once */
    CHECK(m->layers[0]->grad_accumulate && !m->layers[3]->grad_accumulate);
    float *ref = malloc((size_t)m->n_params * sizeof(float));
    dt_model_zero_grads(m);
    objective(&g, 1);
    dt_model_backward(m, &g.pass, NULL, NULL);
    memcpy(ref, m->grads, (size_t)m->n_params * sizeof(float));

    m->be->fill(m->grads, 7.0f, m->n_params);
    g.pass.overwrite_grads = 1;
    objective(&g, 1);
    dt_model_backward(m, &g.pass, NULL, NULL);
    double worst = 0.0;
    for (int64_t k = 0; k < m->n_params; k++) worst = fmax(worst, fabs(m->grads[k] - ref[k]));
    CHECK(worst < 1e-6);

    /* The head's output is x table^T + bias. */
    const dt_layer *ln = m->layers[2], *head = m->layers[3];
    const float *table = m->layers[0]->params[0].data, *bias = head->params[0].data;
    double e = 0.0;
    for (int r = 0; r < B * T; r++)
        for (int v = 0; v < V; v++) {
            double z = bias[v];
            for (int j = 0; j < C; j++) z += (double)ln->out[r * C + j] * table[v * C + j];
            e = fmax(e, fabs(z - head->out[r * V + v]));
        }
    CHECK(e < 1e-5);
    free(ref);
    net_close(&g);
}

/* Attention of one float input against a reference in double, computed
 * from the layer's own parameters: heads 2, causal, with lengths. */
static void test_attention_reference(void)
{
    static const float lengths[B] = {4, 6, 2};
    net g;
    if (!net_open(&g, "layers:\n  - {kind: attention, heads: 2, causal: true, name: a}\n", 1, 0,
                  lengths)) {
        net_close(&g);
        return;
    }
    const dt_layer *l = g.m->layers[0];
    const float *W = l->params[0].data, *bqkv = l->params[3].data;
    const float *Wo = l->params[6].data, *bo = l->params[7].data;
    dt_model_forward(g.m, g.x, &g.pass);
    const int D = C / 2;
    double worst = 0.0;
    for (int b = 0; b < B; b++) {
        double qkv[T][3 * C], ctx[T][C];
        for (int t = 0; t < T; t++)
            for (int o = 0; o < 3 * C; o++) {
                double s = bqkv[o];
                for (int j = 0; j < C; j++) s += (double)W[o * C + j] * g.x[(b * T + t) * C + j];
                qkv[t][o] = s;
            }
        for (int h = 0; h < 2; h++)
            for (int i = 0; i < T; i++) {
                int lim = (int)lengths[b];
                if (i + 1 < lim) lim = i + 1;
                double p[T], mx = -1e300, sum = 0.0;
                for (int j = 0; j < lim; j++) {
                    double s = 0.0;
                    for (int d = 0; d < D; d++) s += qkv[i][h * D + d] * qkv[j][C + h * D + d];
                    p[j] = s / sqrt((double)D);
                    mx = fmax(mx, p[j]);
                }
                for (int j = 0; j < lim; j++) sum += (p[j] = exp(p[j] - mx));
                for (int d = 0; d < D; d++) {
                    double s = 0.0;
                    for (int j = 0; j < lim; j++) s += p[j] / sum * qkv[j][2 * C + h * D + d];
                    ctx[i][h * D + d] = s;
                }
            }
        for (int t = 0; t < T; t++)
            for (int o = 0; o < C; o++) {
                double s = bo[o];
                for (int j = 0; j < C; j++) s += (double)Wo[o * C + j] * ctx[t][j];
                worst = fmax(worst, fabs(s - l->out[(b * T + t) * C + o]));
            }
    }
    CHECK(worst < 1e-5);
    net_close(&g);
}

/* What the masks hide: changing an input at a padded step (past the length)
 * or, with the causal mask, a later step leaves the outputs before it as
 * they were, bit for bit. */
static void test_mask_semantics(void)
{
    static const float lengths[B] = {4, 6, 2};
    static const char *const yamls[2] = {
        "layers:\n  - {kind: attention, heads: 2}\n",
        "layers:\n  - {kind: attention, heads: 2, causal: true}\n"};
    for (int causal = 0; causal < 2; causal++) {
        net g;
        if (!net_open(&g, yamls[causal], 1, 0, causal ? NULL : lengths)) {
            net_close(&g);
            continue;
        }
        float before[B * T * C];
        dt_model_forward(g.m, g.x, &g.pass);
        memcpy(before, dt_model_output(g.m), sizeof before);
        const int cut = causal ? 3 : 4; /* sample 0: steps from here are hidden */
        for (int t = cut; t < T; t++)
            for (int j = 0; j < C; j++) g.x[t * C + j] += 0.5f;
        dt_model_forward(g.m, g.x, &g.pass);
        const float *after = dt_model_output(g.m);
        CHECK(memcmp(before, after, (size_t)cut * C * sizeof(float)) == 0);
        int changed = 0; /* and the later steps do see the change */
        for (int j = cut * C; j < T * C; j++) changed += before[j] != after[j];
        CHECK(changed > 0);
        net_close(&g);
    }
}

/* Segments, position rows and the [CLS] selection by hand. */
static void test_embedding_values(void)
{
    float seg[B * T];
    dt_backend_cpu()->token_segments(k_ids, B, T, 3.0f, seg);
    static const float want[B * T] = {0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1};
    CHECK(memcmp(seg, want, sizeof want) == 0);

    net g;
    if (net_open(&g, "layers:\n" EMB "  - {kind: position_embedding, name: pos, max_len: 7}\n"
                 "  - {kind: segment_embedding, name: seg, inputs: [pos, input]}\n"
                 "  - {kind: select_token, index: -1}\n", 0, 0, NULL)) {
        dt_model_forward(g.m, g.x, &g.pass);
        const float *tok = g.m->layers[0]->params[0].data, *pos = g.m->layers[1]->params[0].data;
        const float *st = g.m->layers[2]->params[0].data, *out = dt_model_output(g.m);
        double e = 0.0;
        for (int b = 0; b < B; b++) /* the last step: segment 1 in every sample */
            for (int j = 0; j < C; j++) {
                const int id = (int)k_ids[b * T + T - 1];
                const double z = tok[id * C + j] + pos[(T - 1) * C + j] + st[1 * C + j];
                e = fmax(e, fabs(z - out[b * C + j]));
            }
        CHECK(e < 1e-6);
    }
    net_close(&g);
}

/* The token loss: a mean over targets is the caller's; the op sums the
 * targets' losses, counts them and their correct arg-maxes, and gives
 * rows without a target no gradient. */
static void test_token_loss(void)
{
    const int rows = 4, classes = 3;
    const float z[12] = {1, 2, 0.5f, 3, -1, 0, 0, 0, 4, 2, 2.5f, 1};
    const float y[4] = {1, -1, 2, 0};
    float dx[12];
    const dt_loss_sums s = dt_backend_cpu()->token_cross_entropy(z, y, rows, classes, 0.0f,
                                                                  0.5f, dx);
    double want = 0.0;
    for (int r = 0; r < rows; r++) {
        if (y[r] < 0) continue;
        double sum = 0.0;
        for (int j = 0; j < classes; j++) sum += exp(z[r * 3 + j]);
        want += log(sum) - z[r * 3 + (int)y[r]];
    }
    CHECK_CLOSE(s.loss, want, 1e-6, 1e-6);
    CHECK(s.targets == 3 && s.correct == 2); /* rows 0 and 2 right, row 3 wrong */
    CHECK(dx[3] == 0.0f && dx[4] == 0.0f && dx[5] == 0.0f);
    const double sum0 = exp(1.0) + exp(2.0) + exp(0.5);
    CHECK_CLOSE(dx[1], 0.5 * (exp(2.0) / sum0 - 1.0), 1e-5, 1e-6);

    dt_loss l;
    const int64_t d[2] = {T, V};
    const dt_shape out = dt_shape_make(2, d);
    CHECK_OK(dt_loss_setup_tokens(NULL, &out, V, T, &l));
    CHECK(dt_loss_count_targets(&l, k_labels, B) == 5);
    CHECK(dt_loss_setup_tokens(NULL, &out, V + 1, T, &l) == DT_ERR_SHAPE);
    CHECK(strstr(dt_error_message(), "(6, 9)") != NULL);
}

/* Parameter counts of the configs against Hugging Face's formulas:
 * BertForMaskedLM (embeddings V H + P H + 2 H + LN 2H; per layer attention
 * 4 (H^2 + H), two LNs 4H, feed-forward 2 H I + I + H; MLM transform
 * H^2 + H + LN 2H and decoder bias V, the decoder weight tied) and GPT-2
 * (wte V H, wpe P H, per block 2 LNs, attention 4 (H^2 + H), MLP 2 H I +
 * I + H; ln_f 2H; lm_head tied, no bias). */
static int64_t config_params(const char *name, int64_t steps)
{
    /* The source tree: this file is tests/unit/test_transformer.c in it. */
    char path[1024];
    const char *self = __FILE__, *at = strstr(self, "tests/unit/");
    snprintf(path, sizeof path, "%.*sexperiments/bert/%s", at ? (int)(at - self) : 0, self,
             name);
    dt_cfg *cfg = NULL;
    dt_model *m = NULL;
    CHECK_OK(dt_cfg_load_file(path, &cfg));
    if (cfg) CHECK_OK(dt_model_build(dt_cfg_get(cfg, "model"), &(dt_shape){1, {steps}},
                                     dt_backend_cpu(), &m));
    const int64_t n = m ? m->n_params : -1;
    dt_model_destroy(m);
    dt_cfg_free(cfg);
    return n;
}

static void test_param_counts(void)
{
    const int64_t Vb = 8000, H = 256, L = 4, I = 1024, P = 512;
    const int64_t layer = 4 * (H * H + H) + 4 * H + 2 * H * I + I + H;
    const int64_t bert = Vb * H + P * H + 2 * H + 2 * H + L * layer + H * H + H + 2 * H + Vb;
    CHECK(bert == 5413440);
    CHECK(config_params("bert-tiny.yaml", 128) == bert);
    CHECK(config_params("bert-tiny-prenorm.yaml", 128) == bert + 2 * H);
    const int64_t gpt = Vb * H + 128 * H + L * layer + 2 * H;
    CHECK(config_params("gpt-tiny.yaml", 128) == gpt);
}

static void expect_error(int line, const char *yaml, int float_input, const char *want)
{
    dt_cfg *cfg = NULL;
    dt_model *m = NULL;
    const int64_t dims[2] = {T, C};
    const dt_shape in = dt_shape_make(float_input ? 2 : 1, dims);
    CHECK_OK(dt_cfg_load_string(yaml, "bad.yaml", &cfg));
    const dt_status s = dt_model_build(cfg, &in, dt_backend_cpu(), &m);
    if (s == DT_OK || !strstr(dt_error_message(), want)) {
        fprintf(stderr, "%s:%d: expected an error with '%s', got %d: %s\n", __FILE__, line, want,
                s, s ? dt_error_message() : "");
        dt_test_failures++;
    }
    dt_model_destroy(m);
    dt_cfg_free(cfg);
}

static void test_errors(void)
{
    expect_error(__LINE__, "layers:\n" EMB "  - {kind: position_embedding, name: p, max_len: 5}\n",
                 0, "layer 'p' (position_embedding");
    expect_error(__LINE__, "layers:\n" EMB "  - {kind: position_embedding, max_len: 5}\n", 0,
                 "sequences of 6 steps for max_len 5");
    expect_error(__LINE__, "layers:\n" EMB "  - {kind: attention, heads: 3}\n", 0,
                 "3 heads for 4 channels");
    expect_error(__LINE__, "layers:\n  - {kind: attention, heads: 1}\n", 0, "(T, C)");
    expect_error(__LINE__, "layers:\n" EMB "  - {kind: linear, per_token: true, tie: nope}\n", 0,
                 "'nope'");
    expect_error(__LINE__, "layers:\n" EMB "  - {kind: linear, units: 8, tie: emb}\n", 0,
                 "(units, in) = (8, 24)");
    expect_error(__LINE__, "layers:\n" EMB "  - {kind: segment_embedding}\n", 0,
                 "inputs: [sequence, token ids]");
    expect_error(__LINE__, "layers:\n" EMB
                 "  - {kind: attention, heads: 2, inputs: [emb, input], pad_from: emb}\n", 0,
                 "pad_from");
    expect_error(__LINE__, "layers:\n" EMB "  - {kind: layer_norm, axis: first}\n", 0, "first");
}

/* only_targets: the decoder computes the rows with a target only. Its
 * loss, its outputs at those rows and every gradient equal the full
 * decoder's; the other rows are 0; and its gradients pass the
 * finite-difference check. */
static void test_only_targets(void)
{
    static const char *const yaml[2] = {
        "layers:\n" EMB
        "  - {kind: attention, heads: 2, inputs: [emb, input], pad_from: input}\n"
        "  - {kind: linear, per_token: true, tie: emb}\n",
        "layers:\n" EMB
        "  - {kind: attention, heads: 2, inputs: [emb, input], pad_from: input}\n"
        "  - {kind: linear, per_token: true, tie: emb, only_targets: true}\n"};
    net g[2];
    double loss[2];
    float *grads[2], *out[2];
    for (int k = 0; k < 2; k++) {
        if (!net_open(&g[k], yaml[k], 0, 1, NULL)) return;
        g[k].use_loss = 1;
        g[k].pass.targets = k_labels;
        CHECK_OK(dt_loss_setup_tokens(NULL, dt_model_out_shape(g[k].m), V, T, &g[k].loss));
        dt_model_zero_grads(g[k].m);
        loss[k] = objective(&g[k], 1);
        dt_model_backward(g[k].m, &g[k].pass, NULL, NULL);
        grads[k] = g[k].m->grads;
        out[k] = dt_model_output(g[k].m);
    }
    CHECK(g[0].m->n_params == g[1].m->n_params);
    CHECK(fabs(loss[0] - loss[1]) <= 1e-6 * fabs(loss[0]));
    for (int64_t i = 0; i < g[0].m->n_params; i++)
        CHECK(fabs(grads[0][i] - grads[1][i]) <= 1e-6 + 1e-5 * fabs(grads[0][i]));
    for (int r = 0; r < B * T; r++)
        for (int j = 0; j < V; j++) {
            const float want = k_labels[r] >= 0.0f ? out[0][r * V + j] : 0.0f;
            CHECK(fabs(out[1][r * V + j] - want) <= 1e-6);
        }
    check_net(&g[1], "tied head, only_targets, token loss", EPS);
    /* Without labels in the pass (prediction) every row is computed. */
    g[1].pass.targets = NULL;
    dt_model_forward(g[1].m, g[1].x, &g[1].pass);
    dt_model_forward(g[0].m, g[0].x, &g[0].pass);
    for (int64_t i = 0; i < B * g[0].out_numel; i++)
        CHECK(fabs(dt_model_output(g[1].m)[i] - dt_model_output(g[0].m)[i]) <= 1e-6);
    net_close(&g[0]);
    net_close(&g[1]);
}

int main(void)
{
    test_gradients();
    test_tied_overwrite();
    test_only_targets();
    test_attention_reference();
    test_mask_semantics();
    test_embedding_values();
    test_token_loss();
    test_param_counts();
    test_errors();
    return dt_test_result();
}
