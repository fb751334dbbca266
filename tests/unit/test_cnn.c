/* Forward values of the convolutional layers against direct definitions in
 * double, batch norm's running statistics against values computed here,
 * parameter counts and output shapes against PyTorch's formulas, the same
 * results on one and two threads, and the set-up errors for bad shapes.
 * (Backward passes are checked by finite differences in test_gradcheck.) */
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/config.h"
#include "core/rng.h"
#include "nn/model.h"
#include "test_util.h"

typedef struct net {
    dt_cfg *cfg;
    dt_model *m;
} net;

static dt_status net_open(net *t, const char *yaml, int64_t c, int64_t h, int64_t w, int rows)
{
    memset(t, 0, sizeof *t);
    const int64_t d[3] = {c, h, w};
    const dt_shape in = dt_shape_make(w ? 3 : 1, d);
    dt_status s = dt_cfg_load_string(yaml, "test", &t->cfg);
    if (s == DT_OK) s = dt_model_build(t->cfg, &in, dt_backend_cpu(), &t->m);
    if (s == DT_OK) {
        dt_model_init_params(t->m, 7);
        dt_model_reserve(t->m, rows);
    }
    return s;
}

static void net_close(net *t)
{
    dt_model_destroy(t->m);
    dt_cfg_free(t->cfg);
}

static float *uniform(int64_t n, uint32_t key)
{
    float *x = malloc((size_t)n * sizeof *x);
    const dt_rng r = dt_rng_make(11, DT_RNG_USER, key, 0);
    dt_rng_fill_uniform(&r, 0, x, n, -1.0f, 1.0f);
    return x;
}

static dt_pass pass_of(int64_t n, int training)
{
    static int64_t index[64];
    for (int i = 0; i < 64; i++) index[i] = i;
    return (dt_pass){.be = dt_backend_cpu(), .n = n, .index = index, .seed = 1,
                     .training = training};
}

/* y[n][o][oy][ox] = b[o] + sum over the group's channels and the kernel of
 * w[o][ci][ki][kj] x[n][g*cg+ci][oy*s-p+ki*d][ox*s-p+kj*d] */
static void test_conv_values(void)
{
    enum { N = 2, C = 4, H = 7, W = 6, OC = 6, G = 2, KH = 3, KW = 2, S = 2, P = 1, D = 2 };
    net t;
    CHECK_OK(net_open(&t, "layers: [{kind: conv2d, channels: 6, kernel: [3, 2], stride: 2, "
                          "padding: 1, dilation: 2, groups: 2}]", C, H, W, N));
    if (!t.m) return net_close(&t);
    const dt_layer *l = t.m->layers[0];
    const int64_t oh = (H + 2 * P - D * (KH - 1) - 1) / S + 1;
    const int64_t ow = (W + 2 * P - D * (KW - 1) - 1) / S + 1;
    CHECK(l->out_shape.dim[1] == oh && l->out_shape.dim[2] == ow);
    CHECK(t.m->n_params == OC * (C / G) * KH * KW + OC);
    float *x = uniform(N * C * H * W, 1);
    const dt_pass p = pass_of(N, 1);
    dt_model_forward(t.m, x, &p);
    const float *wt = l->params[0].data, *b = l->params[1].data, *y = dt_model_output(t.m);
    const int cg = C / G, og = OC / G;
    double worst = 0.0;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double s = b[o];
                    for (int ci = 0; ci < cg; ci++)
                        for (int ki = 0; ki < KH; ki++)
                            for (int kj = 0; kj < KW; kj++) {
                                const int iy = oy * S - P + ki * D, ix = ox * S - P + kj * D;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                const int c = (o / og) * cg + ci;
                                s += (double)wt[((o * cg + ci) * KH + ki) * KW + kj] *
                                     x[((n * C + c) * H + iy) * W + ix];
                            }
                    const double e = fabs(s - y[((n * OC + o) * oh + oy) * ow + ox]);
                    worst = e > worst ? e : worst;
                }
    CHECK(worst < 1e-5);
    free(x);
    net_close(&t);
}

/* The transposed convolution scatters: y[n][o][iy*s-p+ki*d][...] +=
 * w[c][o'][ki][kj] x[n][c][iy][ix], o = group * og + o'. */
static void test_deconv_values(void)
{
    enum { N = 2, C = 4, H = 3, W = 4, OC = 2, G = 2, K = 3, S = 2, P = 1, OP = 1 };
    net t;
    CHECK_OK(net_open(&t, "layers: [{kind: conv_transpose2d, channels: 2, kernel: 3, "
                          "stride: 2, padding: 1, output_padding: 1, groups: 2}]",
                      C, H, W, N));
    if (!t.m) return net_close(&t);
    const dt_layer *l = t.m->layers[0];
    const int64_t oh = (H - 1) * S - 2 * P + (K - 1) + OP + 1;
    const int64_t ow = (W - 1) * S - 2 * P + (K - 1) + OP + 1;
    CHECK(l->out_shape.dim[0] == OC && l->out_shape.dim[1] == oh && l->out_shape.dim[2] == ow);
    CHECK(l->params[0].shape.dim[0] == C && l->params[0].shape.dim[1] == OC / G);
    float *x = uniform(N * C * H * W, 2);
    const dt_pass p = pass_of(N, 1);
    dt_model_forward(t.m, x, &p);
    const float *wt = l->params[0].data, *b = l->params[1].data, *y = dt_model_output(t.m);
    double *ref = calloc((size_t)(N * OC * oh * ow), sizeof *ref);
    const int cg = C / G, og = OC / G;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int iy = 0; iy < H; iy++)
                for (int ix = 0; ix < W; ix++)
                    for (int oo = 0; oo < og; oo++)
                        for (int ki = 0; ki < K; ki++)
                            for (int kj = 0; kj < K; kj++) {
                                const int yy = iy * S - P + ki, xx = ix * S - P + kj;
                                if (yy < 0 || yy >= oh || xx < 0 || xx >= ow) continue;
                                const int o = (c / cg) * og + oo;
                                ref[((n * OC + o) * oh + yy) * ow + xx] +=
                                    (double)wt[((c * og + oo) * K + ki) * K + kj] *
                                    x[((n * C + c) * H + iy) * W + ix];
                            }
    double worst = 0.0;
    for (int64_t i = 0; i < N * OC * oh * ow; i++) {
        const double e = fabs(ref[i] + b[(i / (oh * ow)) % OC] - y[i]);
        worst = e > worst ? e : worst;
    }
    CHECK(worst < 1e-5);
    free(ref);
    free(x);
    net_close(&t);
}

/* Two training passes, then evaluation: running mean and variance follow
 * r = (1 - m) r + m * batch (unbiased variance), computed here in double. */
static void test_batchnorm_running(void)
{
    enum { N = 5, C = 3, H = 4, W = 2, HW = H * W };
    const double m = 0.25, eps = 1e-3;
    net t;
    CHECK_OK(net_open(&t, "layers: [{kind: batch_norm, momentum: 0.25, eps: 0.001}]", C, H, W,
                      N));
    if (!t.m) return net_close(&t);
    dt_layer *l = t.m->layers[0];
    CHECK(t.m->n_params == 2 * C && t.m->n_buffers == 2 * C);
    /* Non-trivial affine parameters. */
    for (int c = 0; c < C; c++) {
        l->params[0].data[c] = 0.5f + (float)c;
        l->params[1].data[c] = -0.25f * (float)c;
    }
    double rm[C] = {0, 0, 0}, rv[C] = {1, 1, 1};
    for (int pass = 0; pass < 2; pass++) {
        float *x = uniform(N * C * HW, 10 + (uint32_t)pass);
        for (int64_t i = 0; i < N * C * HW; i++) x[i] = x[i] * (1.0f + (float)pass) + 0.3f;
        const dt_pass p = pass_of(N, 1);
        dt_model_forward(t.m, x, &p);
        for (int c = 0; c < C; c++) {
            double s = 0, ss = 0;
            for (int n = 0; n < N; n++)
                for (int k = 0; k < HW; k++) s += x[(n * C + c) * HW + k];
            const double mu = s / (N * HW);
            for (int n = 0; n < N; n++)
                for (int k = 0; k < HW; k++) {
                    const double d = x[(n * C + c) * HW + k] - mu;
                    ss += d * d;
                }
            /* training output uses the biased batch variance */
            const double y0 = (l->params[0].data[c] * (x[c * HW] - mu) /
                               sqrt(ss / (N * HW) + eps)) + l->params[1].data[c];
            CHECK_CLOSE(dt_model_output(t.m)[c * HW], y0, 1e-5, 1e-5);
            rm[c] = (1 - m) * rm[c] + m * mu;
            rv[c] = (1 - m) * rv[c] + m * ss / (N * HW - 1);
        }
        free(x);
    }
    for (int c = 0; c < C; c++) {
        CHECK_CLOSE(l->bufs[0].data[c], rm[c], 1e-5, 1e-6);
        CHECK_CLOSE(l->bufs[1].data[c], rv[c], 1e-5, 1e-6);
    }
    /* Evaluation normalizes with the running statistics and leaves them. */
    float *x = uniform(N * C * HW, 20);
    const dt_pass p = pass_of(N, 0);
    dt_model_forward(t.m, x, &p);
    for (int64_t i = 0; i < N * C * HW; i++) {
        const int c = (int)((i / HW) % C);
        const double want = l->params[0].data[c] * (x[i] - rm[c]) / sqrt(rv[c] + eps) +
                            l->params[1].data[c];
        CHECK_CLOSE(dt_model_output(t.m)[i], want, 1e-5, 1e-5);
    }
    CHECK_CLOSE(l->bufs[0].data[0], rm[0], 1e-5, 1e-6);
    free(x);
    net_close(&t);
}

/* Output shapes and parameter counts by PyTorch's formulas. */
static void test_shapes_and_counts(void)
{
    static const struct {
        const char *yaml;
        int64_t c, h, w, oc, oh, ow, params;
    } k[] = {
        /* the course's exercise: (3*3*64 + 1) * 32 */
        {"layers: [{kind: conv2d, channels: 32, kernel: 3}]", 64, 8, 8, 32, 6, 6,
         (3 * 3 * 64 + 1) * 32},
        {"layers: [{kind: conv2d, channels: 8, kernel: 5, bias: false}]", 8, 9, 9, 8, 5, 5,
         5 * 5 * 8 * 8},
        {"layers: [{kind: max_pool2d, kernel: 3, stride: 2, ceil_mode: true}]", 2, 6, 6, 2, 3,
         3, 0},
        {"layers: [{kind: max_pool2d, kernel: 2, ceil_mode: true}]", 2, 5, 5, 2, 3, 3, 0},
        {"layers: [{kind: avg_pool2d, kernel: 3, stride: 2, padding: 1}]", 2, 7, 7, 2, 4, 4, 0},
        {"layers: [{kind: conv_transpose2d, channels: 4, kernel: 2, stride: 2}]", 3, 5, 5, 4,
         10, 10, 3 * 4 * 2 * 2 + 4},
        {"layers: [{kind: batch_norm}]", 16, 4, 4, 16, 4, 4, 32},
        {"layers: [{kind: layer_norm}]", 2, 3, 3, 2, 3, 3, 36},
        {"layers: [{kind: group_norm, groups: 4}]", 8, 3, 3, 8, 3, 3, 16},
        {"layers: [{kind: instance_norm}]", 8, 3, 3, 8, 3, 3, 0},
        {"layers: [{kind: upsample, scale: 2, mode: bilinear}]", 3, 4, 5, 3, 8, 10, 0},
        {"layers: [{kind: global_avg_pool}]", 7, 3, 3, 7, 1, 1, 0},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        net t;
        CHECK_OK(net_open(&t, k[i].yaml, k[i].c, k[i].h, k[i].w, 1));
        if (t.m) {
            const dt_shape *s = dt_model_out_shape(t.m);
            if (!(s->dim[0] == k[i].oc && s->dim[1] == k[i].oh && s->dim[2] == k[i].ow &&
                  t.m->n_params == k[i].params)) {
                char b[64];
                fprintf(stderr, "%s: output %s, %lld params\n", k[i].yaml,
                        dt_shape_str(s, b, sizeof b), (long long)t.m->n_params);
                dt_test_failures++;
            }
        }
        net_close(&t);
    }
}

/* Forward and backward of a convolution net on 2 threads equal those on 1
 * up to float rounding (samples are split over threads). */
static void test_threads(void)
{
    enum { N = 6 };
    const char *yaml = "layers: [{kind: conv2d, channels: 4, kernel: 3, padding: 1},\n"
                       "         {kind: batch_norm}, {kind: relu},\n"
                       "         {kind: conv2d, channels: 3, kernel: 1}]";
    float *out[2], *grad[2];
    for (int t = 0; t < 2; t++) {
        dt_backend_cpu_set_threads(t + 1);
        net m;
        CHECK_OK(net_open(&m, yaml, 2, 5, 5, N));
        if (!m.m) return net_close(&m);
        float *x = uniform(N * 50, 3);
        const dt_pass p = {.be = dt_backend_cpu(), .n = N, .index = pass_of(N, 1).index,
                           .training = 1, .overwrite_grads = 1};
        dt_model_forward(m.m, x, &p);
        const int64_t no = N * 75;
        out[t] = malloc(no * sizeof(float));
        memcpy(out[t], dt_model_output(m.m), no * sizeof(float));
        float *w = uniform(no, 4);
        memcpy(dt_model_output_grad(m.m), w, no * sizeof(float));
        dt_model_backward(m.m, &p, NULL, NULL);
        grad[t] = malloc((size_t)m.m->n_params * sizeof(float));
        memcpy(grad[t], m.m->grads, (size_t)m.m->n_params * sizeof(float));
        for (int64_t i = 0; t == 1 && i < no; i++) CHECK_CLOSE(out[1][i], out[0][i], 1e-5, 1e-6);
        for (int64_t i = 0; t == 1 && i < m.m->n_params; i++)
            CHECK_CLOSE(grad[1][i], grad[0][i], 1e-4, 1e-5);
        free(x);
        free(w);
        net_close(&m);
    }
    dt_backend_cpu_set_threads(1);
    for (int t = 0; t < 2; t++) {
        free(out[t]);
        free(grad[t]);
    }
}

/* A layer whose column block holds only a few samples (64 channels, 3x3,
 * 24x24: 2 samples per block) over a batch of 7, against each sample run
 * alone: outputs, the weight gradient summed over the chunks, and the input
 * gradient (checked through a 1x1 convolution in front). */
static void test_chunks(void)
{
    enum { N = 7, C = 64, HW = 24 * 24 };
    const char *yaml = "layers: [{kind: conv2d, channels: 64, kernel: 1},\n"
                       "         {kind: conv2d, channels: 8, kernel: 3, padding: 1}]";
    net t;
    CHECK_OK(net_open(&t, yaml, C, 24, 24, N));
    if (!t.m) return net_close(&t);
    const int64_t no = 8 * HW, np = t.m->n_params;
    float *x = uniform(N * C * HW, 5), *w = uniform(N * no, 6);
    float *out = malloc(N * no * sizeof(float)), *grad = calloc((size_t)np, sizeof(float));
    dt_pass p = pass_of(N, 1);
    p.overwrite_grads = 1;
    dt_model_forward(t.m, x, &p);
    memcpy(out, dt_model_output(t.m), N * no * sizeof(float));
    memcpy(dt_model_output_grad(t.m), w, N * no * sizeof(float));
    dt_model_backward(t.m, &p, NULL, NULL);
    memcpy(grad, t.m->grads, (size_t)np * sizeof(float));

    p.n = 1;
    for (int i = 0; i < N; i++) {
        p.overwrite_grads = i == 0;
        dt_model_forward(t.m, x + i * C * HW, &p);
        for (int64_t k = 0; k < no; k++)
            CHECK_CLOSE(dt_model_output(t.m)[k], out[i * no + k], 1e-5, 1e-5);
        memcpy(dt_model_output_grad(t.m), w + i * no, no * sizeof(float));
        dt_model_backward(t.m, &p, NULL, NULL);
    }
    double worst = 0.0;
    for (int64_t k = 0; k < np; k++) {
        const double e = fabs(t.m->grads[k] - grad[k]) / (1e-3 + fabs(grad[k]));
        worst = e > worst ? e : worst;
    }
    CHECK(worst < 1e-3);
    free(x);
    free(w);
    free(out);
    free(grad);
    net_close(&t);
}

/* Bilinear upsampling (align_corners false) of [[1, 2], [3, 4]] by 2, the
 * example of torch.nn.Upsample's documentation; nearest repeats pixels. */
static void test_upsample_values(void)
{
    static const float want[16] = {1.0f, 1.25f, 1.75f, 2.0f, 1.5f, 1.75f, 2.25f, 2.5f,
                                   2.5f, 2.75f, 3.25f, 3.5f, 3.0f, 3.25f, 3.75f, 4.0f};
    const float x[4] = {1, 2, 3, 4};
    for (int mode = 0; mode < 2; mode++) {
        net t;
        CHECK_OK(net_open(&t, mode ? "layers: [{kind: upsample, scale: 2, mode: bilinear}]"
                                   : "layers: [{kind: upsample, scale: 2}]", 1, 2, 2, 1));
        if (t.m) {
            const dt_pass p = pass_of(1, 0);
            dt_model_forward(t.m, x, &p);
            for (int i = 0; i < 16; i++)
                CHECK_CLOSE(dt_model_output(t.m)[i], mode ? want[i] : x[(i / 8) * 2 + (i % 4) / 2],
                            1e-6, 1e-6);
        }
        net_close(&t);
    }
}

/* LRN against its definition: y_c = x_c / (k + a/size sum x_j^2)^b over
 * channels j in [c - size/2, c + (size-1)/2] clipped to the channels. */
static void test_lrn_values(void)
{
    enum { N = 2, C = 6, HW = 3 };
    const int size = 4;
    const double a = 0.3, b = 0.75, k = 1.5;
    net t;
    CHECK_OK(net_open(&t, "layers: [{kind: lrn, size: 4, alpha: 0.3, beta: 0.75, k: 1.5}]", C,
                      1, 3, N));
    if (!t.m) return net_close(&t);
    float *x = uniform(N * C * HW, 9);
    const dt_pass p = pass_of(N, 0);
    dt_model_forward(t.m, x, &p);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int q = 0; q < HW; q++) {
                double s = 0.0;
                for (int j = c - size / 2; j <= c + (size - 1) / 2; j++) {
                    const double v = j >= 0 && j < C ? x[(n * C + j) * HW + q] : 0.0;
                    s += v * v;
                }
                const int o = (n * C + c) * HW + q;
                CHECK_CLOSE(dt_model_output(t.m)[o], x[o] / pow(k + a / size * s, b), 1e-5, 1e-6);
            }
    free(x);
    net_close(&t);
}

/* Bad shapes fail at set-up with the layer's name and the shapes. */
static void test_errors(void)
{
    static const struct {
        const char *yaml;
        int64_t c, h, w;
        const char *want[3];
    } k[] = {
        {"layers: [{kind: conv2d, name: big, channels: 4, kernel: 7}]", 1, 5, 5,
         {"'big'", "7x7", "5x5"}},
        {"layers: [{kind: conv2d, name: grp, channels: 4, kernel: 3, groups: 3}]", 6, 5, 5,
         {"'grp'", "groups 3", "(4)"}},
        {"layers: [{kind: conv2d, name: c1, channels: 4, kernel: 3}]", 10, 0, 0,
         {"'c1'", "(10)", "channels, height, width"}},
        {"layers: [{kind: max_pool2d, name: mp, kernel: 6}]", 2, 4, 4, {"'mp'", "6x6", "4x4"}},
        {"layers:\n"
         "  - {kind: conv2d, name: a, channels: 2, kernel: 3}\n"
         "  - {kind: conv2d, name: b, channels: 2, kernel: 1, inputs: [input]}\n"
         "  - {kind: concat, name: cat, inputs: [a, b]}\n",
         1, 6, 6, {"'cat'", "(2, 4, 4)", "(2, 6, 6)"}},
        {"layers:\n"
         "  - {kind: conv2d, name: a, channels: 2, kernel: 3, padding: 1}\n"
         "  - {kind: conv2d, name: b, channels: 3, kernel: 1, inputs: [input]}\n"
         "  - {kind: add, name: sum, inputs: [a, b]}\n",
         1, 6, 6, {"'sum'", "(2, 6, 6)", "(3, 6, 6)"}},
        {"layers: [{kind: group_norm, name: gn, groups: 3}]", 4, 2, 2, {"'gn'", "groups 3", "4"}},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        net t;
        const dt_status s = net_open(&t, k[i].yaml, k[i].c, k[i].h, k[i].w, 1);
        CHECK(s != DT_OK);
        const char *msg = dt_error_message();
        for (int j = 0; s != DT_OK && j < 3; j++)
            if (!strstr(msg, k[i].want[j])) {
                fprintf(stderr, "error for %s lacks \"%s\": %s\n", k[i].yaml, k[i].want[j], msg);
                dt_test_failures++;
            }
        net_close(&t);
    }
}

int main(void)
{
    dt_backend_cpu_set_threads(1);
    test_conv_values();
    test_deconv_values();
    test_batchnorm_running();
    test_shapes_and_counts();
    test_threads();
    test_chunks();
    test_upsample_values();
    test_lrn_values();
    test_errors();
    return dt_test_result();
}
