/* Text, as SentencePiece token ids, into sets of token ids.
 *
 * Tokenizing is SentencePiece's job (spm_encode in datasets/brown.sh); this
 * converter reads its output, checks it against the tokenizer's vocabulary,
 * and cuts each document into samples of a fixed length T:
 *
 *   mlm    [CLS] A [SEP] B [SEP] [PAD]...: A is one or more whole sentences
 *          filling at most half of the T - 3 free positions, B the
 *          sentences after it filling the rest; the next pair starts after
 *          B. Masked-LM targets are made at load time, so no /y is stored.
 *   lm     the document as one stream, each sentence followed by [SEP], cut
 *          into windows of T; y[t] = x[t + 1], -1 past the document's end.
 *   class  [CLS] passage [SEP] [PAD]...: whole sentences filling at most
 *          T - 2 positions, labelled with the document's class.
 *
 * A sentence longer than a segment (mlm: (T - 3) / 2, class: T - 2) is split
 * into consecutive pieces that each count as a sentence; no token is lost.
 * Samples never cross documents. Everything counted on the way (documents,
 * sentences, tokens, [UNK] ids, empty lines, split sentences, padding) goes
 * into the manifest's "text" object, and the baseline a model has to beat
 * into "baseline": for mlm and lm the cross-entropy of the test targets
 * under the training split's unigram distribution (add-one smoothed), for
 * class the accuracy of always answering the training split's most common
 * class. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/convert_internal.h"
#include "data/mlm.h"

#define MIN_SEQ_LEN 8
#define MAX_SEQ_LEN 65536
#define MAX_CLASSES 1024

static const char *const g_split_names[2] = {"train", "test"};
static const char *const g_special_pieces[DT_TOKEN_SPECIALS] = {"[PAD]", "[UNK]", "[CLS]",
                                                               "[SEP]", "[MASK]"};

/* A growable array of int32. */
typedef struct ivec {
    int32_t *v;
    int64_t n, cap;
} ivec;

static void ivec_push(ivec *a, int32_t x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 4096;
        int32_t *const nv = realloc(a->v, (size_t)a->cap * sizeof *nv);
        DT_ASSERT(nv != NULL);
        a->v = nv;
    }
    a->v[a->n++] = x;
}

/* What was seen in one split. */
typedef struct text_stats {
    int64_t documents, sentences, empty_lines, tokens, unk, long_sentences;
    int64_t samples, positions, padding;
} text_stats;

/* One document: its pieces (sentences, or parts of long ones). */
typedef struct doc {
    char name[64];
    int split; /* 0 train, 1 test */
    int label; /* class index, or -1 */
    int64_t first, count; /* pieces [first, first + count) */
} doc;

/* Everything read: tokens of all pieces back to back. A piece ends a
 * sentence unless the sentence went on in the next piece. */
typedef struct corpus {
    int64_t vocab;
    int limit;       /* longest piece */
    ivec tokens;     /* all pieces' tokens */
    ivec start;      /* piece k is tokens [start[k], start[k + 1]) */
    ivec ends;       /* 1 where a piece ends its sentence */
    doc *docs;
    int n_docs, cap_docs;
    text_stats st[2];
} corpus;

static int64_t piece_len(const corpus *c, int64_t k)
{
    return c->start.v[k + 1] - c->start.v[k];
}

static void corpus_free(corpus *c)
{
    free(c->tokens.v);
    free(c->start.v);
    free(c->ends.v);
    free(c->docs);
}

/* ---- the tokenizer's vocabulary -------------------------------------- */

/* The vocabulary file spm_train writes (PIECE TAB SCORE per line, in id
 * order): its size, and the fixed special ids checked. */
static dt_status read_vocab(const char *path, int64_t *vocab)
{
    FILE *const f = fopen(path, "r");
    if (!f) return dt_error_set(DT_ERR_IO, "cannot open the tokenizer vocabulary %s: %s", path,
                                strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int64_t n = 0;
    dt_status s = DT_OK;
    while (s == DT_OK && getline(&line, &cap, f) >= 0) {
        line[strcspn(line, "\t\r\n")] = '\0';
        if (n < DT_TOKEN_SPECIALS && strcmp(line, g_special_pieces[n]) != 0)
            s = dt_error_set(DT_ERR_DATA, "tokenizer vocabulary %s: id %lld is \"%s\", expected "
                             "%s (train with --pad_id=0 --unk_id=1 --bos_id=2 --eos_id=3 "
                             "--pad_piece=[PAD] --unk_piece=[UNK] --bos_piece=[CLS] "
                             "--eos_piece=[SEP] --control_symbols=[MASK])", path,
                             (long long)n, line, g_special_pieces[n]);
        n++;
    }
    free(line);
    fclose(f);
    if (s == DT_OK && n <= DT_TOKEN_SPECIALS)
        s = dt_error_set(DT_ERR_DATA, "tokenizer vocabulary %s holds %lld pieces, fewer than the "
                         "specials and one more", path, (long long)n);
    *vocab = n;
    return s;
}

/* ---- reading token ids ----------------------------------------------- */

/* Append one sentence (tokens[0..n)) to the corpus as pieces of at most
 * c->limit tokens. */
static void add_sentence(corpus *c, const int32_t *tok, int64_t n, text_stats *st)
{
    st->sentences++;
    st->tokens += n;
    if (n > c->limit) st->long_sentences++;
    for (int64_t at = 0; at < n; at += c->limit) {
        const int64_t len = n - at < c->limit ? n - at : c->limit;
        for (int64_t i = 0; i < len; i++) ivec_push(&c->tokens, tok[at + i]);
        ivec_push(&c->ends, at + len == n);
        ivec_push(&c->start, (int32_t)c->tokens.n);
    }
}

/* Parse one line of ids into `line_ids`; checks range and specials. */
static dt_status parse_ids(const corpus *c, const char *path, int64_t no, char *text,
                           ivec *line_ids, text_stats *st)
{
    line_ids->n = 0;
    for (char *p = text;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '\0') return DT_OK;
        char *end;
        errno = 0;
        const long long v = strtoll(p, &end, 10);
        if (end == p || (*end != '\0' && *end != ' ' && *end != '\t') || errno) {
            const size_t len = strcspn(p, " \t");
            return dt_error_set(DT_ERR_DATA, "%s line %lld: \"%.*s\" is not a token id (expected "
                                "the output of spm_encode --output_format=id)", path,
                                (long long)no, (int)(len < 40 ? len : 40), p);
        }
        if (v < 0 || v >= c->vocab)
            return dt_error_set(DT_ERR_DATA, "%s line %lld: token id %lld is outside the "
                                "tokenizer's vocabulary [0, %lld)", path, (long long)no, v,
                                (long long)c->vocab);
        if (v != DT_TOKEN_UNK && v < DT_TOKEN_SPECIALS)
            return dt_error_set(DT_ERR_DATA, "%s line %lld: token id %lld is the special %s, "
                                "which text cannot contain", path, (long long)no, v,
                                g_special_pieces[v]);
        st->unk += v == DT_TOKEN_UNK;
        ivec_push(line_ids, (int32_t)v);
        p = end;
    }
}

/* Read one document's ids file: a sentence per non-empty line. */
static dt_status read_ids(corpus *c, const char *path, text_stats *st)
{
    FILE *const f = fopen(path, "r");
    if (!f) return dt_error_set(DT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ivec ids = {0};
    dt_status s = DT_OK;
    for (int64_t no = 1; s == DT_OK && getline(&line, &cap, f) >= 0; no++) {
        line[strcspn(line, "\r\n")] = '\0';
        s = parse_ids(c, path, no, line, &ids, st);
        if (s != DT_OK) break;
        if (ids.n == 0) st->empty_lines++;
        else add_sentence(c, ids.v, ids.n, st);
    }
    if (s == DT_OK && ferror(f)) s = dt_error_set(DT_ERR_IO, "cannot read %s", path);
    fclose(f);
    free(line);
    free(ids.v);
    return s;
}

/* ---- the document list ----------------------------------------------- */

/* Class names from "a,b,c" into names[] (pointers into `buf`). */
static int split_names(char *buf, const char **names)
{
    int n = 0;
    for (char *p = buf;;) {
        const size_t len = strcspn(p, ",");
        const int last = p[len] == '\0';
        p[len] = '\0';
        names[n++] = p;
        if (last) break;
        p += len + 1;
    }
    return n;
}

/* The base name of a path without its extension, for the manifest. */
static void doc_name(const char *path, char *out, size_t cap)
{
    const char *const slash = strrchr(path, '/');
    const char *const base = slash ? slash + 1 : path;
    const char *const dot = strrchr(base, '.');
    const int len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    snprintf(out, cap, "%.*s", len, base);
}

/* Labels of a class set: the list's CLASS field among the names. */
typedef struct labels {
    const char *names[MAX_CLASSES];
    int n;
} labels;

/* One line of the list: SPLIT FILE [CLASS]. */
static dt_status list_entry(corpus *c, const char *list, int64_t no, char *line,
                            const char *dir, const labels *lab, int need_label)
{
    char *save = NULL;
    const char *const split = strtok_r(line, " \t", &save);
    const char *const file = split ? strtok_r(NULL, " \t", &save) : NULL;
    const char *const cls = file ? strtok_r(NULL, " \t", &save) : NULL;
    if (!file)
        return dt_error_set(DT_ERR_DATA, "%s line %lld: expected SPLIT FILE [CLASS]", list,
                            (long long)no);
    const int sp = strcmp(split, "train") == 0 ? 0 : strcmp(split, "test") == 0 ? 1 : -1;
    if (sp < 0)
        return dt_error_set(DT_ERR_DATA, "%s line %lld: split \"%s\" is neither train nor test",
                            list, (long long)no, split);
    int label = -1;
    for (int k = 0; cls && k < lab->n; k++)
        if (strcmp(cls, lab->names[k]) == 0) label = k;
    if (need_label && label < 0)
        return dt_error_set(DT_ERR_DATA, "%s line %lld: class \"%s\" is not one of the %d "
                            "--class-names", list, (long long)no, cls ? cls : "(missing)",
                            lab->n);

    char path[4096];
    snprintf(path, sizeof path, "%s%s", file[0] == '/' ? "" : dir, file);
    if (c->n_docs == c->cap_docs) {
        c->cap_docs = c->cap_docs ? 2 * c->cap_docs : 256;
        doc *const nd = realloc(c->docs, (size_t)c->cap_docs * sizeof *nd);
        DT_ASSERT(nd != NULL);
        c->docs = nd;
    }
    doc *const d = &c->docs[c->n_docs++];
    *d = (doc){.split = sp, .label = label, .first = c->start.n - 1};
    doc_name(path, d->name, sizeof d->name);
    c->st[sp].documents++;
    DT_TRY(read_ids(c, path, &c->st[sp]));
    d->count = c->start.n - 1 - d->first;
    return DT_OK;
}

/* Read the list and every document it names. */
static dt_status read_list(corpus *c, const char *list, const labels *lab, int need_label)
{
    FILE *const f = fopen(list, "r");
    if (!f) return dt_error_set(DT_ERR_IO, "cannot open %s: %s", list, strerror(errno));
    char dir[4096];
    const char *const slash = strrchr(list, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - list + 1) : 0, list);

    ivec_push(&c->start, 0);
    char *line = NULL;
    size_t cap = 0;
    dt_status s = DT_OK;
    for (int64_t no = 1; s == DT_OK && getline(&line, &cap, f) >= 0; no++) {
        line[strcspn(line, "#\r\n")] = '\0';
        if (line[strspn(line, " \t")] == '\0') continue;
        s = list_entry(c, list, no, line, dir, lab, need_label);
    }
    fclose(f);
    free(line);
    if (s == DT_OK && c->st[0].sentences == 0)
        s = dt_error_set(DT_ERR_DATA, "%s: the training documents hold no sentences", list);
    return s;
}

/* ---- samples --------------------------------------------------------- */

/* Samples of one split as int32 rows: x (T ids) and y (T ids or 1 class). */
typedef struct rows {
    int64_t t, y_dim, n, cap;
    int32_t *x, *y;
} rows;

/* A new row: x all [PAD], y all -1. Returns its index. */
static int64_t rows_add(rows *r)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 1024;
        int32_t *const nx = realloc(r->x, (size_t)(r->cap * r->t) * sizeof *nx);
        int32_t *const ny = realloc(r->y, (size_t)(r->cap * r->y_dim) * sizeof *ny);
        DT_ASSERT(nx != NULL && ny != NULL);
        r->x = nx;
        r->y = ny;
    }
    for (int64_t k = 0; k < r->t; k++) r->x[r->n * r->t + k] = DT_TOKEN_PAD;
    for (int64_t k = 0; k < r->y_dim; k++) r->y[r->n * r->y_dim + k] = -1;
    return r->n++;
}

/* Copy pieces [k, k_end) to x from position `at`; returns the position after. */
static int64_t put_pieces(const corpus *c, int64_t k, int64_t k_end, int32_t *x, int64_t at)
{
    for (; k < k_end; k++)
        for (int64_t i = c->start.v[k]; i < c->start.v[k + 1]; i++) x[at++] = c->tokens.v[i];
    return at;
}

/* How many pieces from k on (at least one) fit into `room` tokens. */
static int64_t take(const corpus *c, int64_t k, int64_t k_end, int64_t room, int64_t *used)
{
    int64_t j = k, len = 0;
    while (j < k_end && (j == k || len + piece_len(c, j) <= room)) len += piece_len(c, j++);
    *used = len;
    return j;
}

/* [CLS] A [SEP] B [SEP] pairs of one document (A within half of T - 3). */
static void doc_mlm(const corpus *c, const doc *d, rows *r)
{
    const int64_t free_pos = r->t - 3, half = free_pos / 2, end = d->first + d->count;
    for (int64_t k = d->first; k < end;) {
        int64_t la, lb = 0;
        const int64_t a_end = take(c, k, end, half, &la);
        int64_t b_end = a_end;
        if (a_end < end && la + piece_len(c, a_end) <= free_pos)
            b_end = take(c, a_end, end, free_pos - la, &lb);
        const int64_t i = rows_add(r); /* before r->x is read: it may move */
        int32_t *const x = r->x + i * r->t;
        int64_t at = 0;
        x[at++] = DT_TOKEN_CLS;
        at = put_pieces(c, k, a_end, x, at);
        x[at++] = DT_TOKEN_SEP;
        if (b_end > a_end) {
            at = put_pieces(c, a_end, b_end, x, at);
            x[at++] = DT_TOKEN_SEP;
        }
        k = b_end;
    }
}

/* [CLS] passage [SEP] of one document, labelled with its class. */
static void doc_class(const corpus *c, const doc *d, rows *r)
{
    const int64_t end = d->first + d->count;
    for (int64_t k = d->first; k < end;) {
        int64_t len;
        const int64_t p_end = take(c, k, end, r->t - 2, &len);
        const int64_t i = rows_add(r);
        int32_t *const x = r->x + i * r->t;
        x[0] = DT_TOKEN_CLS;
        x[put_pieces(c, k, p_end, x, 1)] = DT_TOKEN_SEP;
        r->y[i] = d->label;
        k = p_end;
    }
}

/* The document as one stream (a [SEP] after each sentence) in windows of
 * T; each position's target is the next token of the stream. */
static void doc_lm(const corpus *c, const doc *d, rows *r)
{
    ivec stream = {0};
    for (int64_t k = d->first; k < d->first + d->count; k++) {
        for (int64_t i = c->start.v[k]; i < c->start.v[k + 1]; i++)
            ivec_push(&stream, c->tokens.v[i]);
        if (c->ends.v[k]) ivec_push(&stream, DT_TOKEN_SEP);
    }
    for (int64_t at = 0; at < stream.n; at += r->t) {
        const int64_t i = rows_add(r);
        for (int64_t k = 0; k < r->t && at + k < stream.n; k++) {
            r->x[i * r->t + k] = stream.v[at + k];
            if (at + k + 1 < stream.n) r->y[i * r->t + k] = stream.v[at + k + 1];
        }
    }
    free(stream.v);
}

/* Padding counts of a split's rows. */
static void count_rows(const rows *r, text_stats *st)
{
    st->samples = r->n;
    st->positions = r->n * r->t;
    for (int64_t i = 0; i < r->n * r->t; i++) st->padding += r->x[i] == DT_TOKEN_PAD;
}

/* ---- baselines ------------------------------------------------------- */

/* Whether id can be a target of the task (mlm: a maskable token; lm: any
 * token of the stream, [SEP] included). */
static int is_target(dt_text_task task, int32_t id)
{
    return task == DT_TEXT_MLM ? dt_mlm_eligible(id) : id >= 0 && id != DT_TOKEN_PAD;
}

/* The targets of a row set, one by one: mlm the eligible inputs, lm y. */
static void count_targets(dt_text_task task, const rows *r, int64_t vocab, double *count)
{
    const int32_t *const v = task == DT_TEXT_MLM ? r->x : r->y;
    for (int64_t i = 0; i < r->n * r->t; i++)
        if (v[i] >= 0 && v[i] < vocab && is_target(task, v[i])) count[v[i]] += 1.0;
}

/* Cross-entropy (nats) of the test targets under the training targets'
 * unigram distribution, add-one smoothed over the ids that can be targets. */
static cJSON *unigram_baseline(dt_text_task task, const rows *train, const rows *test,
                               int64_t vocab)
{
    double *const ptrain = dt_calloc((size_t)vocab, sizeof(double));
    double *const ptest = dt_calloc((size_t)vocab, sizeof(double));
    count_targets(task, train, vocab, ptrain);
    count_targets(task, test, vocab, ptest);
    double n_train = 0.0, n_test = 0.0, ids = 0.0, ce = 0.0;
    for (int64_t v = 0; v < vocab; v++) {
        n_train += ptrain[v];
        n_test += ptest[v];
        ids += is_target(task, (int32_t)v);
    }
    for (int64_t v = 0; v < vocab; v++)
        if (ptest[v] > 0) ce -= ptest[v] * log((ptrain[v] + 1.0) / (n_train + ids));
    ce = n_test > 0 ? ce / n_test : 0.0;

    cJSON *const b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "kind", "unigram");
    cJSON_AddNumberToObject(b, "cross_entropy", ce);
    cJSON_AddNumberToObject(b, "perplexity", exp(ce));
    cJSON_AddNumberToObject(b, "test_targets", n_test);
    cJSON_AddStringToObject(b, "estimated_on", "train");
    cJSON_AddStringToObject(b, "smoothing", "add-one");
    free(ptrain);
    free(ptest);
    return b;
}

/* Accuracy on the test split of always answering the training split's
 * most common class (ties: the lower index). */
static cJSON *majority_baseline(const rows *train, const rows *test, const labels *lab,
                                double *acc)
{
    int64_t count[MAX_CLASSES] = {0}, best = 0, hits = 0;
    for (int64_t i = 0; i < train->n; i++) count[train->y[i]]++;
    for (int k = 1; k < lab->n; k++)
        if (count[k] > count[best]) best = k;
    for (int64_t i = 0; i < test->n; i++) hits += test->y[i] == best;
    *acc = test->n ? (double)hits / (double)test->n : 0.0;

    cJSON *const b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "kind", "majority_class");
    cJSON_AddStringToObject(b, "class", lab->names[best]);
    cJSON_AddNumberToObject(b, "test_accuracy", *acc);
    cJSON_AddStringToObject(b, "estimated_on", "train");
    return b;
}

/* ---- tables and the manifest ----------------------------------------- */

/* Rows as a table in the storage types: x uint16 when the vocabulary
 * fits, else int32; y int32, or none for mlm (made at load time). */
static void rows_table(const rows *r, dt_text_task task, int64_t vocab, int classes,
                       dt_convert_table *t)
{
    const int narrow = vocab <= 65536;
    *t = (dt_convert_table){.x_shape = {1, {r->t}}, .x_dtype = narrow ? DT_U16 : DT_I32,
                            .x_scale = 1.0, .n = r->n,
                            .kind = task == DT_TEXT_CLASS ? DT_LABEL_CLASS : DT_LABEL_TOKENS,
                            .num_classes = task == DT_TEXT_CLASS ? classes : (int)vocab,
                            .y_dim = (int)r->y_dim};
    t->x_row = (size_t)r->t * (narrow ? 2 : 4);
    t->y_row = (size_t)r->y_dim * 4;
    t->x = dt_calloc((size_t)(r->n ? r->n : 1), t->x_row);
    for (int64_t i = 0; i < r->n * r->t; i++) {
        if (narrow) ((uint16_t *)t->x)[i] = (uint16_t)r->x[i];
        else ((int32_t *)t->x)[i] = r->x[i];
    }
    if (task == DT_TEXT_MLM) return;
    t->y = dt_calloc((size_t)(r->n ? r->n : 1), t->y_row);
    memcpy(t->y, r->y, (size_t)r->n * t->y_row);
}

static cJSON *stats_json(const text_stats *st)
{
    cJSON *const o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "documents", (double)st->documents);
    cJSON_AddNumberToObject(o, "sentences", (double)st->sentences);
    cJSON_AddNumberToObject(o, "tokens", (double)st->tokens);
    cJSON_AddNumberToObject(o, "unk_tokens", (double)st->unk);
    cJSON_AddNumberToObject(o, "empty_lines", (double)st->empty_lines);
    cJSON_AddNumberToObject(o, "long_sentences_split", (double)st->long_sentences);
    cJSON_AddNumberToObject(o, "samples", (double)st->samples);
    cJSON_AddNumberToObject(o, "padding_share",
                            st->positions ? (double)st->padding / (double)st->positions : 0.0);
    return o;
}

static const char *task_name(dt_text_task t)
{
    return t == DT_TEXT_MLM ? "mlm" : t == DT_TEXT_LM ? "lm" : "class";
}

/* "tokenizer" (file, size and checksum are added when it is copied in),
 * "text" and the label's objective. */
static void manifest_text(cJSON *m, const corpus *c, const dt_text_options *t,
                          const dt_convert_options *o)
{
    cJSON *const tok = cJSON_AddObjectToObject(m, "tokenizer");
    cJSON_AddStringToObject(tok, "kind", "sentencepiece");
    cJSON_AddStringToObject(tok, "source", o->tokenizer);
    cJSON_AddNumberToObject(tok, "vocab_size", (double)c->vocab);
    cJSON *const sp = cJSON_AddObjectToObject(tok, "special");
    for (int id = 0; id < DT_TOKEN_SPECIALS; id++)
        cJSON_AddNumberToObject(sp, g_special_pieces[id], id);

    cJSON_AddStringToObject(cJSON_GetObjectItem(m, "label"), "objective", task_name(t->task));
    cJSON *const text = cJSON_AddObjectToObject(m, "text");
    cJSON_AddStringToObject(text, "task", task_name(t->task));
    cJSON_AddNumberToObject(text, "seq_len", t->seq_len);
    if (t->task != DT_TEXT_LM) cJSON_AddNumberToObject(text, "longest_piece", c->limit);
    cJSON *const splits = cJSON_AddObjectToObject(text, "splits");
    for (int s = 0; s < 2; s++)
        cJSON_AddItemToObject(splits, g_split_names[s], stats_json(&c->st[s]));
    cJSON *const held = cJSON_AddArrayToObject(text, "test_documents");
    for (int i = 0; i < c->n_docs; i++)
        if (c->docs[i].split == 1)
            cJSON_AddItemToArray(held, cJSON_CreateString(c->docs[i].name));
}

static dt_status check_text_options(const char *list, const dt_text_options *t,
                                    const dt_convert_options *o)
{
    DT_TRY(dt_convert_check_options(o));
    if (!list) return dt_error_set(DT_ERR_ARG, "token ids need a document list");
    if (!o->tokenizer || !o->tokenizer_vocab)
        return dt_error_set(DT_ERR_ARG, "token ids need the tokenizer model and vocabulary");
    if (t->seq_len < MIN_SEQ_LEN || t->seq_len > MAX_SEQ_LEN)
        return dt_error_set(DT_ERR_ARG, "sequence length %d is outside [%d, %d]", t->seq_len,
                            MIN_SEQ_LEN, MAX_SEQ_LEN);
    if (t->task == DT_TEXT_CLASS && !o->class_names)
        return dt_error_set(DT_ERR_ARG, "a class task needs the class names");
    return DT_OK;
}

/* The samples of both splits, then the tables, baseline and manifest. */
static dt_status write_text(const char *list, corpus *c, const labels *lab,
                            const dt_text_options *t, const dt_convert_options *o)
{
    const int cls = t->task == DT_TEXT_CLASS;
    rows r[2] = {{.t = t->seq_len, .y_dim = cls ? 1 : t->seq_len},
                 {.t = t->seq_len, .y_dim = cls ? 1 : t->seq_len}};
    for (int i = 0; i < c->n_docs; i++) {
        const doc *const d = &c->docs[i];
        if (t->task == DT_TEXT_MLM) doc_mlm(c, d, &r[d->split]);
        else if (t->task == DT_TEXT_LM) doc_lm(c, d, &r[d->split]);
        else doc_class(c, d, &r[d->split]);
    }
    count_rows(&r[0], &c->st[0]);
    count_rows(&r[1], &c->st[1]);

    dt_convert_table tab[2];
    rows_table(&r[0], t->task, c->vocab, lab->n, &tab[0]);
    rows_table(&r[1], t->task, c->vocab, lab->n, &tab[1]);
    char source[4200];
    snprintf(source, sizeof source, "token-ids:%s (%s, T %d)", list, task_name(t->task),
             t->seq_len);
    const char *const in[3] = {list, o->tokenizer, o->tokenizer_vocab};
    cJSON *const m = dt_convert_manifest_new(o, &tab[0], source,
                                             dt_convert_string_array(in, 3),
                                             cls ? dt_convert_string_array(lab->names, lab->n)
                                                 : NULL);
    manifest_text(m, c, t, o);
    double acc = 0.0;
    if (r[1].n > 0) /* a baseline is measured on the test split */
        cJSON_AddItemToObject(m, "baseline", cls ? majority_baseline(&r[0], &r[1], lab, &acc)
                                                 : unigram_baseline(t->task, &r[0], &r[1],
                                                                    c->vocab));
    const dt_status s = dt_convert_write_tables(o, &tab[0], &tab[1], m);
    cJSON_Delete(m);
    for (int k = 0; k < 2; k++) {
        dt_convert_table_free(&tab[k]);
        free(r[k].x);
        free(r[k].y);
    }
    return s;
}

dt_status dt_convert_token_ids(const char *list, const dt_text_options *t,
                               const dt_convert_options *o)
{
    DT_TRY(check_text_options(list, t, o));
    corpus c = {0};
    labels lab = {.n = 0};
    int commas = 0;
    for (const char *p = o->class_names; p && *p; p++) commas += *p == ',';
    if (commas >= MAX_CLASSES)
        return dt_error_set(DT_ERR_ARG, "%d class names given, at most %d are supported",
                            commas + 1, MAX_CLASSES);
    char *names = o->class_names ? dt_strdup(o->class_names) : NULL;
    if (names) lab.n = split_names(names, lab.names);

    c.limit = t->task == DT_TEXT_MLM ? (t->seq_len - 3) / 2
              : t->task == DT_TEXT_CLASS ? t->seq_len - 2
                                         : INT32_MAX;
    dt_status s = read_vocab(o->tokenizer_vocab, &c.vocab);
    if (s == DT_OK) s = read_list(&c, list, &lab, t->task == DT_TEXT_CLASS);
    if (s == DT_OK) s = write_text(list, &c, &lab, t, o);
    corpus_free(&c);
    free(names);
    return s;
}
