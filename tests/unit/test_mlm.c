/* Dynamic masking (data/mlm.h): the shares of a large draw, the positions
 * that may never be chosen, reproducibility from the key alone, and the
 * masking of a token set as the dataset reads it (fixed for evaluation,
 * new per epoch for training). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "data/convert.h"
#include "data/dataset.h"
#include "data/mlm.h"
#include "test_util.h"

#define VOCAB 8000
#define T 128
#define N 16384

/* Rows like packed pairs: [CLS] A [SEP] B [SEP] then padding, with an
 * [UNK] now and then. */
static void make_rows(float *x, int64_t *rows)
{
    const dt_rng r = dt_rng_make(7, DT_RNG_USER, 0, 0);
    for (int i = 0; i < N; i++) {
        rows[i] = 1000 + 3 * i;
        const int len = 20 + (int)dt_rng_below(&r, (uint64_t)i, T - 20);
        float *const xi = x + (int64_t)i * T;
        for (int p = 0; p < T; p++) {
            const uint64_t k = (uint64_t)i * T + (uint64_t)p + N;
            xi[p] = p < len ? (float)(DT_TOKEN_SPECIALS + dt_rng_below(&r, k, VOCAB - 5))
                            : (float)DT_TOKEN_PAD;
            if (p < len && dt_rng_below(&r, k + 7 * (uint64_t)N * T, 50) == 0)
                xi[p] = DT_TOKEN_UNK;
        }
        xi[0] = DT_TOKEN_CLS;
        xi[len / 2] = DT_TOKEN_SEP;
        xi[len - 1] = DT_TOKEN_SEP;
    }
}

/* Shares of one masking against the original x0. Tolerances: six to ten
 * standard deviations of a share at these counts: prob +-0.003 with 1.16 M
 * eligible positions (sd 0.0003), the shares of the chosen +-0.006 with
 * about 170,000 chosen (sd at most 0.001). */
static void check_shares(const dt_mlm *m, const float *x0, const float *x, const float *y)
{
    int64_t eligible = 0, chosen = 0, masked = 0, random = 0, kept = 0, bad = 0;
    int64_t bucket[10] = {0};
    for (int64_t k = 0; k < (int64_t)N * T; k++) {
        const int64_t id = (int64_t)x0[k];
        if (!dt_mlm_eligible(id)) {
            bad += y[k] != -1.0f || x[k] != x0[k];
            continue;
        }
        eligible++;
        if (y[k] == -1.0f) {
            bad += x[k] != x0[k];
            continue;
        }
        chosen++;
        bad += y[k] != x0[k];
        if (x[k] == (float)DT_TOKEN_MASK) masked++;
        else if (x[k] == x0[k]) kept++;
        else {
            random++;
            bad += !(x[k] >= DT_TOKEN_SPECIALS && x[k] < VOCAB && x[k] == (int)x[k]);
            bucket[((int64_t)x[k] - DT_TOKEN_SPECIALS) * 10 / (VOCAB - DT_TOKEN_SPECIALS)]++;
        }
    }
    printf("prob %.2f: chosen %.4f of %lld eligible; [MASK] %.4f, random %.4f, kept %.4f of "
           "%lld\n", m->prob, (double)chosen / (double)eligible, (long long)eligible,
           (double)masked / (double)chosen, (double)random / (double)chosen,
           (double)kept / (double)chosen, (long long)chosen);
    CHECK(bad == 0);
    CHECK(eligible > 1000000);
    CHECK_CLOSE((double)chosen / (double)eligible, m->prob, 0, 0.003);
    /* A random token equal to the original looks kept: 1 in VOCAB - 5. */
    const double same = 1.0 / (VOCAB - DT_TOKEN_SPECIALS);
    const double keep = 1.0 - m->mask - m->random;
    CHECK_CLOSE((double)masked / (double)chosen, m->mask, 0, 0.006);
    CHECK_CLOSE((double)random / (double)chosen, m->random * (1.0 - same), 0, 0.006);
    CHECK_CLOSE((double)kept / (double)chosen, keep + m->random * same, 0, 0.006);
    /* Uniform over the non-special ids: each tenth within 10% of its share. */
    for (int b = 0; random > 1000 && b < 10; b++)
        CHECK_CLOSE((double)bucket[b], (double)random / 10.0, 0.1, 0);
}

static void test_shares_and_keys(void)
{
    float *x0 = dt_calloc((size_t)N * T, sizeof(float));
    float *x = dt_calloc((size_t)N * T, sizeof(float));
    float *x2 = dt_calloc((size_t)N * T, sizeof(float));
    float *y = dt_calloc((size_t)N * T, sizeof(float));
    float *y2 = dt_calloc((size_t)N * T, sizeof(float));
    int64_t *rows = dt_calloc(N, sizeof(int64_t));
    make_rows(x0, rows);
    dt_mlm m;
    dt_mlm_init(&m, VOCAB, 42);
    CHECK(m.prob == 0.15 && m.mask == 0.8 && m.random == 0.1);
    CHECK_OK(dt_mlm_check(&m));

    memcpy(x, x0, (size_t)N * T * sizeof(float));
    dt_mlm_apply(&m, 3, rows, N, T, x, y);
    check_shares(&m, x0, x, y);

    /* The same key: the same masks, even cut into two "ranks" in reverse. */
    memcpy(x2, x0, (size_t)N * T * sizeof(float));
    dt_mlm_apply(&m, 3, rows + N / 2, N / 2, T, x2 + (int64_t)N / 2 * T, y2 + (int64_t)N / 2 * T);
    dt_mlm_apply(&m, 3, rows, N / 2, T, x2, y2);
    CHECK(memcmp(x, x2, (size_t)N * T * sizeof(float)) == 0);
    CHECK(memcmp(y, y2, (size_t)N * T * sizeof(float)) == 0);

    /* Another epoch, another seed, another row: other masks. */
    int64_t differ = 0;
    memcpy(x2, x0, (size_t)N * T * sizeof(float));
    dt_mlm_apply(&m, 4, rows, N, T, x2, y2);
    for (int64_t k = 0; k < (int64_t)N * T; k++) differ += y[k] != y2[k];
    CHECK(differ > N * 10);
    dt_mlm other = m;
    other.seed = 43;
    memcpy(x2, x0, (size_t)N * T * sizeof(float));
    dt_mlm_apply(&other, 3, rows, N, T, x2, y2);
    differ = 0;
    for (int64_t k = 0; k < (int64_t)N * T; k++) differ += y[k] != y2[k];
    CHECK(differ > N * 10);

    /* Other shares: half [MASK], half random, none kept. */
    dt_mlm half = m;
    half.prob = 0.3, half.mask = 0.5, half.random = 0.5;
    CHECK_OK(dt_mlm_check(&half));
    memcpy(x, x0, (size_t)N * T * sizeof(float));
    dt_mlm_apply(&half, 9, rows, N, T, x, y);
    check_shares(&half, x0, x, y);

    free(x0);
    free(x);
    free(x2);
    free(y);
    free(y2);
    free(rows);
}

static void test_bad_shares(void)
{
    dt_mlm m;
    dt_mlm_init(&m, VOCAB, 1);
    m.prob = 0.0;
    CHECK(dt_mlm_check(&m) == DT_ERR_CONFIG);
    CHECK(strstr(dt_error_message(), "data.mlm.prob") != NULL);
    dt_mlm_init(&m, VOCAB, 1);
    m.mask = 0.9;
    m.random = 0.2;
    CHECK(dt_mlm_check(&m) == DT_ERR_CONFIG);
    dt_mlm_init(&m, DT_TOKEN_SPECIALS, 1);
    CHECK(dt_mlm_check(&m) == DT_ERR_DATA);
}

/* A tiny vocabulary and two documents of ids, as spm_train and spm_encode
 * would leave them, in `dir`. */
static void write_corpus(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tok.vocab", dir);
    FILE *f = fopen(path, "w");
    const char *const special[5] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (int i = 0; i < 60; i++)
        if (i < 5) fprintf(f, "%s\t0\n", special[i]);
        else fprintf(f, "p%d\t-1\n", i);
    fclose(f);
    snprintf(path, sizeof path, "%s/tok.model", dir);
    f = fopen(path, "w");
    fputs("not a real model, but bytes with a checksum\n", f);
    fclose(f);
    for (int d = 0; d < 2; d++) {
        snprintf(path, sizeof path, "%s/doc%d.ids", dir, d);
        f = fopen(path, "w");
        for (int s = 0; s < 40; s++) {
            for (int k = 0; k < 5 + (s * 7 + d) % 11; k++)
                fprintf(f, "%s%d", k ? " " : "", 5 + (s * 13 + k * 5 + d) % 55);
            fprintf(f, "\n");
        }
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/list.txt", dir);
    f = fopen(path, "w");
    fprintf(f, "train doc0.ids\ntest doc1.ids\n");
    fclose(f);
}

/* The dataset masks what it reads: fixed for dt_dataset_read, per key for
 * dt_dataset_read_keyed, never touching [CLS], [SEP] or [PAD]. */
static void test_dataset_masking(void)
{
    char dir[] = "/tmp/dt-test-mlm.XXXXXX", list[600], out[600], model[600], vocab[600];
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    write_corpus(dir);
    snprintf(list, sizeof list, "%s/list.txt", dir);
    snprintf(out, sizeof out, "%s/set", dir);
    snprintf(model, sizeof model, "%s/tok.model", dir);
    snprintf(vocab, sizeof vocab, "%s/tok.vocab", dir);
    dt_convert_options o;
    dt_convert_options_init(&o);
    o.out_dir = out;
    o.tokenizer = model;
    o.tokenizer_vocab = vocab;
    const dt_text_options t = {.task = DT_TEXT_MLM, .seq_len = 32};
    CHECK_OK(dt_convert_token_ids(list, &t, &o));

    dt_dataset *ds = NULL;
    CHECK_OK(dt_dataset_open(out, "train", &ds));
    if (!ds) return;
    const dt_dataset_info *in = dt_dataset_get_info(ds);
    CHECK(in->label_kind == DT_LABEL_TOKENS && !in->labels_stored && in->vocab_size == 60);
    CHECK(in->y_dim == 32 && strcmp(in->objective, "mlm") == 0 && in->count > 4);
    const int n = in->count < 64 ? (int)in->count : 64;
    int64_t idx[64];
    for (int i = 0; i < n && i < 64; i++) idx[i] = i;
    static float x0[64 * 32], y0[64 * 32], x1[64 * 32], y1[64 * 32], x2[64 * 32], y2[64 * 32];
    CHECK_OK(dt_dataset_read(ds, idx, n, x0, y0));
    for (int k = 0; k < n * 32; k++) CHECK(y0[k] == -1.0f); /* no masking yet */
    CHECK(x0[0] == DT_TOKEN_CLS);

    dt_mlm m;
    dt_mlm_init(&m, 0, 5);
    m.prob = 0.5;
    CHECK_OK(dt_dataset_set_mlm(ds, &m));
    CHECK_OK(dt_dataset_read(ds, idx, n, x1, y1));
    CHECK_OK(dt_dataset_read(ds, idx, n, x2, y2));
    CHECK(memcmp(x1, x2, sizeof x1) == 0 && memcmp(y1, y2, sizeof y1) == 0);
    int targets = 0, changed = 0;
    for (int k = 0; k < n * 32; k++) {
        targets += y1[k] >= 0;
        changed += x1[k] != x0[k];
        if (!dt_mlm_eligible((int64_t)x0[k])) CHECK(y1[k] == -1.0f && x1[k] == x0[k]);
        if (y1[k] >= 0) CHECK(y1[k] == x0[k]);
    }
    CHECK(targets > 0 && changed > 0);
    CHECK_OK(dt_dataset_read_keyed(ds, 0, idx, n, x2, y2));
    CHECK(memcmp(y1, y2, sizeof y1) != 0);
    CHECK_OK(dt_dataset_read_keyed(ds, 1, idx, n, x1, y1));
    CHECK(memcmp(y1, y2, sizeof y1) != 0);
    dt_dataset_close(ds);

    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    test_shares_and_keys();
    test_bad_shares();
    test_dataset_masking();
    return dt_test_result();
}
