/* Unit tests for the YAML config tree (src/core/config.c): loading nested
 * maps and sequences, every typed getter with defaults and ranges, the error
 * messages (file, line, dotted key), unknown-key detection with suggestions,
 * duplicate keys, syntax errors, command-line overrides, and a write/reload
 * round trip. */
#include "core/config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

/* Check that the last error message contains `needle`; print it if not. */
#define CHECK_MSG(needle)                                                      \
    do {                                                                       \
        if (!strstr(dt_error_message(), (needle))) {                           \
            fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__,  \
                    __LINE__, dt_error_message(), (needle));                   \
            dt_test_failures++;                                                \
        }                                                                      \
    } while (0)

static const char *const k_main_yaml = /* line numbers on the right */
    "# a test config\n"                /* 1 */
    "model:\n"                         /* 2 */
    "  name: mlp\n"                    /* 3 */
    "  layers:\n"                      /* 4 */
    "    - {type: dense, units: 128}\n" /* 5 */
    "    - type: dense\n"              /* 6 */
    "      units: 10\n"                /* 7 */
    "data:\n"                          /* 8 */
    "  shape: [1, 28, 28]\n"           /* 9 */
    "  files:\n"                       /* 10 */
    "    - a.h5\n"                     /* 11 */
    "    - b.h5\n"                     /* 12 */
    "  shuffle: Yes\n"                 /* 13 */
    "train:\n"                         /* 14 */
    "  epochs: 6e1\n"                  /* 15 */
    "  lr: 0.05\n"                     /* 16 */
    "  optimizer: adam\n"              /* 17 */
    "  note: ~\n"                      /* 18 */
    "  tag: 'null'\n"                  /* 19 */
    "  seed: -3\n";                    /* 20 */

static const char *const k_optimizers[] = {"sgd", "adam", "adamw", NULL};

static dt_cfg *load(const char *text)
{
    dt_cfg *root = NULL;
    CHECK_OK(dt_cfg_load_string(text, "test.yaml", &root));
    return root;
}

/* Read the layers of k_main_yaml, checking paths and lines on the way. */
static void read_model(dt_cfg *root)
{
    dt_cfg *model = NULL, *layers = NULL;
    const char *name = NULL;
    char buf[128];
    CHECK_OK(dt_cfg_require(root, "model", DT_CFG_MAP, &model));
    CHECK_OK(dt_cfg_str_req(model, "name", &name));
    CHECK(name && strcmp(name, "mlp") == 0);
    CHECK_OK(dt_cfg_require(model, "layers", DT_CFG_SEQ, &layers));
    CHECK(layers && layers->n_items == 2);
    if (!layers || layers->n_items != 2) return;

    const int64_t want_units[2] = {128, 10};
    for (int i = 0; i < 2; i++) {
        int64_t units = 0;
        const char *type = NULL;
        CHECK_OK(dt_cfg_str_req(layers->items[i], "type", &type));
        CHECK(type && strcmp(type, "dense") == 0);
        CHECK_OK(dt_cfg_int_req(layers->items[i], "units", 1, 1000000, &units));
        CHECK(units == want_units[i]);
    }
    const dt_cfg *units = dt_cfg_get(layers->items[1], "units");
    CHECK(strcmp(dt_cfg_path(units, buf, sizeof buf), "model.layers.1.units") == 0);
    CHECK(strcmp(dt_cfg_where(units, buf, sizeof buf), "test.yaml:7") == 0);
    CHECK(layers->items[0]->line == 5 && layers->line == 4);
    CHECK(strcmp(dt_cfg_path(root, buf, sizeof buf), "") == 0);
}

static void read_data(dt_cfg *root)
{
    dt_cfg *data = dt_cfg_get(root, "data");
    int64_t shape[4] = {0};
    const char *files[4] = {NULL};
    int n = 4, shuffle = 0;
    CHECK_OK(dt_cfg_int_list(data, "shape", shape, &n));
    CHECK(n == 3 && shape[0] == 1 && shape[1] == 28 && shape[2] == 28);
    n = 4;
    CHECK_OK(dt_cfg_str_list(data, "files", files, &n));
    CHECK(n == 2 && strcmp(files[0], "a.h5") == 0 && strcmp(files[1], "b.h5") == 0);
    CHECK_OK(dt_cfg_bool(data, "shuffle", 0, &shuffle));
    CHECK(shuffle == 1);

    n = 4;
    CHECK_OK(dt_cfg_int_list(data, "crop", shape, &n)); /* missing */
    CHECK(n == 0);
    n = 2;
    CHECK(dt_cfg_int_list(data, "shape", shape, &n) == DT_ERR_CONFIG);
    CHECK_MSG("test.yaml:9: key 'data.shape': expected a list of at most 2 integers, found 3");
}

static void read_train(dt_cfg *root)
{
    dt_cfg *train = dt_cfg_get(root, "train");
    int64_t epochs = 0, seed = 0, batch = 0;
    double lr = 0, wd = -1;
    int opt = -1, sched = -1, amp = -1;
    const char *note = NULL, *tag = NULL, *dir = NULL;

    CHECK_OK(dt_cfg_int_req(train, "epochs", 1, 1000, &epochs));
    CHECK(epochs == 60);
    CHECK_OK(dt_cfg_int(train, "seed", 0, INT64_MIN, INT64_MAX, &seed));
    CHECK(seed == -3);
    CHECK_OK(dt_cfg_float_req(train, "lr", 0.0, 10.0, &lr));
    CHECK_CLOSE(lr, 0.05, 1e-12, 0);
    CHECK_OK(dt_cfg_enum(train, "optimizer", "sgd", k_optimizers, &opt));
    CHECK(opt == 1);
    CHECK_OK(dt_cfg_str(train, "note", "dflt", &note)); /* a null is present, "" */
    CHECK(note && strcmp(note, "") == 0);
    CHECK_OK(dt_cfg_str(train, "tag", NULL, &tag)); /* quoted: the text itself */
    CHECK(tag && strcmp(tag, "null") == 0);

    /* Defaults for missing keys. */
    CHECK_OK(dt_cfg_int(train, "batch_size", 32, 1, 4096, &batch));
    CHECK(batch == 32);
    CHECK_OK(dt_cfg_float(train, "weight_decay", 1e-4, 0, 1, &wd));
    CHECK_CLOSE(wd, 1e-4, 1e-12, 0);
    CHECK_OK(dt_cfg_enum(train, "schedule", "adamw", k_optimizers, &sched));
    CHECK(sched == 2);
    CHECK_OK(dt_cfg_bool(train, "amp", 1, &amp));
    CHECK(amp == 1);
    CHECK_OK(dt_cfg_str(train, "dir", "runs", &dir));
    CHECK(dir && strcmp(dir, "runs") == 0);
}

static void test_load_and_getters(void)
{
    dt_cfg *root = load(k_main_yaml);
    if (!root) return;
    CHECK(root->kind == DT_CFG_MAP && root->n_items == 3);
    read_model(root);
    read_data(root);
    read_train(root);
    CHECK_OK(dt_cfg_check_unused(root));
    dt_cfg_free(root);
}

/* Scalar spellings each getter accepts and rejects. */
static void test_scalar_forms(void)
{
    dt_cfg *root = load("i1: '+7'\ni2: 1.5e1\ni3: 1.5\ni4: 99999999999999999999\n"
                        "i5: 0x10\nf1: -.inf\nf2: 1e-3\nf3: .nan\n"
                        "b1: OFF\nb2: 1\nb3: TRUE\nb4: no\n");
    int64_t i = 0;
    double f = 0;
    int b = -1;
    if (!root) return;
    CHECK_OK(dt_cfg_int(root, "i1", 0, INT64_MIN, INT64_MAX, &i));
    CHECK(i == 7);
    CHECK_OK(dt_cfg_int(root, "i2", 0, INT64_MIN, INT64_MAX, &i));
    CHECK(i == 15);
    CHECK(dt_cfg_int(root, "i3", 0, INT64_MIN, INT64_MAX, &i) == DT_ERR_CONFIG);
    CHECK(dt_cfg_int(root, "i4", 0, INT64_MIN, INT64_MAX, &i) == DT_ERR_CONFIG);
    CHECK(dt_cfg_int(root, "i5", 0, 0, INT64_MAX, &i) == DT_ERR_CONFIG);
    CHECK_MSG("test.yaml:5: key 'i5': expected an integer >= 0, found '0x10'");
    CHECK_OK(dt_cfg_float(root, "f1", 0, -INFINITY, INFINITY, &f));
    CHECK(isinf(f) && f < 0);
    CHECK_OK(dt_cfg_float(root, "f2", 0, 0, 1, &f));
    CHECK_CLOSE(f, 1e-3, 1e-12, 0);
    CHECK(dt_cfg_float(root, "f3", 0, -INFINITY, INFINITY, &f) == DT_ERR_CONFIG);
    CHECK_MSG("expected a number, found '.nan'");

    const char *bools[4] = {"b1", "b2", "b3", "b4"};
    const int want[4] = {0, 1, 1, 0};
    for (int k = 0; k < 4; k++) {
        CHECK_OK(dt_cfg_bool(root, bools[k], -1, &b));
        CHECK(b == want[k]);
    }
    dt_cfg_free(root);
}

static void test_value_errors(void)
{
    dt_cfg *root = load("model:\n  layers:\n    - units: 5\n    - units: abc\n"
                        "a: 2000000\nb: maybe\nc: [1, x]\nd: adm\ne: {x: 1}\nf:\ng: 0.5\n");
    dt_cfg *layers = NULL, *model = dt_cfg_get(root, "model");
    int64_t v = 0, list[4];
    int n = 4, e = -1;
    double x = 0;
    const char *s = NULL;
    CHECK_OK(dt_cfg_require(model, "layers", DT_CFG_SEQ, &layers));
    if (!layers || layers->n_items != 2) return;

    CHECK(dt_cfg_int(layers->items[1], "units", 1, 1, 1000000, &v) == DT_ERR_CONFIG);
    CHECK(strcmp(dt_error_message(), "test.yaml:4: key 'model.layers.1.units': expected an "
                                     "integer in [1, 1000000], found 'abc'") == 0);
    CHECK(dt_cfg_int(root, "a", 1, 1, 1000000, &v) == DT_ERR_CONFIG);
    CHECK_MSG("test.yaml:5: key 'a': expected an integer in [1, 1000000], found '2000000'");
    CHECK(dt_cfg_bool(root, "b", 0, &e) == DT_ERR_CONFIG);
    CHECK_MSG("test.yaml:6: key 'b': expected a boolean");
    CHECK(dt_cfg_int_list(root, "c", list, &n) == DT_ERR_CONFIG);
    CHECK_MSG("test.yaml:7: key 'c.1': expected an integer, found 'x'");
    CHECK(dt_cfg_enum(root, "d", NULL, k_optimizers, &e) == DT_ERR_CONFIG);
    CHECK_MSG("test.yaml:8: key 'd': expected one of 'sgd', 'adam', 'adamw', found 'adm' "
              "(did you mean 'adam'?)");
    CHECK(dt_cfg_str(root, "e", NULL, &s) == DT_ERR_CONFIG);
    CHECK_MSG("test.yaml:9: key 'e': expected a string, found a map");
    CHECK(dt_cfg_int(root, "f", 3, 0, 10, &v) == DT_ERR_CONFIG); /* empty is not missing */
    CHECK_MSG("test.yaml:10: key 'f': expected an integer in [0, 10], found an empty value");
    CHECK(dt_cfg_float(root, "g", 0, 1.0, 2.0, &x) == DT_ERR_CONFIG);
    CHECK_MSG("test.yaml:11: key 'g': expected a number in [1, 2], found '0.5'");
    CHECK(dt_cfg_int(dt_cfg_get(root, "a"), "k", 0, 0, 1, &v) == DT_ERR_CONFIG);
    CHECK_MSG("key 'a': expected a map (with key 'k')");
    dt_cfg_free(root);
}

static void test_missing_required(void)
{
    dt_cfg *root = load("\ntrain:\n  lr: 0.1\n");
    dt_cfg *train = dt_cfg_get(root, "train"), *node = NULL;
    int64_t v = 0;
    int e = 0;
    const char *s = NULL;
    CHECK(dt_cfg_int_req(train, "epochs", 1, 1000, &v) == DT_ERR_CONFIG);
    CHECK(strcmp(dt_error_message(), "test.yaml: missing key 'train.epochs' (expected an "
                                     "integer in [1, 1000] in the map at line 2)") == 0);
    CHECK(dt_cfg_str_req(root, "name", &s) == DT_ERR_CONFIG);
    CHECK_MSG("test.yaml: missing key 'name' (expected a string at the top level)");
    CHECK(dt_cfg_enum(train, "optimizer", NULL, k_optimizers, &e) == DT_ERR_CONFIG);
    CHECK_MSG("missing key 'train.optimizer' (expected one of 'sgd', 'adam', 'adamw'");
    CHECK(dt_cfg_require(root, "model", DT_CFG_MAP, &node) == DT_ERR_CONFIG && !node);
    CHECK_MSG("missing key 'model' (expected a map");
    CHECK(dt_cfg_require(root, "train", DT_CFG_SEQ, &node) == DT_ERR_CONFIG);
    CHECK_MSG("test.yaml:2: key 'train': expected a sequence, found a map");

    /* A NULL map: every key is missing. */
    CHECK(dt_cfg_get(NULL, "x") == NULL);
    CHECK_OK(dt_cfg_int(NULL, "x", 5, 0, 10, &v));
    CHECK(v == 5);
    CHECK(dt_cfg_float_req(NULL, "lr", 0, 1, &(double){0}) == DT_ERR_CONFIG);
    CHECK_MSG("missing key 'lr'");
    dt_cfg_free(root);
}

static void test_unknown_keys(void)
{
    dt_cfg *root = load("train:\n  epochz: 5\n  batch_size: 32\n");
    dt_cfg *train = dt_cfg_get(root, "train");
    int64_t v = 0;
    CHECK_OK(dt_cfg_int(train, "batch_size", 1, 1, 100, &v));
    CHECK_OK(dt_cfg_int(train, "epochs", 1, 1, 100, &v)); /* missing: default */
    CHECK(dt_cfg_check_unused(root) == DT_ERR_CONFIG);
    CHECK(strcmp(dt_error_message(), "test.yaml:2: unknown key 'train.epochz'; known keys "
                                     "here: batch_size, epochs (did you mean 'epochs'?)") == 0);
    dt_cfg_free(root);

    root = load("train:\n  a: 1\nzzzzzz: 1\n"); /* an unread section, no suggestion */
    CHECK_OK(dt_cfg_int(dt_cfg_get(root, "train"), "a", 0, 0, 9, &v));
    CHECK_OK(dt_cfg_int(root, "epochs", 0, 0, 9, &v));
    CHECK(dt_cfg_check_unused(root) == DT_ERR_CONFIG);
    CHECK_MSG("test.yaml:3: unknown key 'zzzzzz'; known keys here: epochs, train");
    CHECK(!strstr(dt_error_message(), "did you mean"));
    dt_cfg_free(root);

    /* A used map whose child nobody read; a sequence item never read. */
    root = load("model:\n  layers:\n    - units: 1\n      unitz: 2\n    - units: 3\n");
    dt_cfg *layers = dt_cfg_get(dt_cfg_get(root, "model"), "layers");
    CHECK_OK(dt_cfg_int(layers->items[0], "units", 0, 0, 9, &v));
    CHECK(dt_cfg_check_unused(root) == DT_ERR_CONFIG);
    CHECK_MSG("test.yaml:4: unknown key 'model.layers.0.unitz'; known keys here: units "
              "(did you mean 'units'?)");
    dt_cfg_mark_used(layers->items[0]);
    CHECK(dt_cfg_check_unused(root) == DT_ERR_CONFIG);
    CHECK_MSG("test.yaml:5: item 'model.layers.1'");
    dt_cfg_mark_used(layers);
    CHECK_OK(dt_cfg_check_unused(root));
    dt_cfg_free(root);

    root = load("a: {b: 1}\n"); /* a map read but none of its keys */
    CHECK(dt_cfg_get(root, "a") != NULL);
    CHECK(dt_cfg_check_unused(root) == DT_ERR_CONFIG);
    CHECK_MSG("test.yaml:1: unknown key 'a.b'; no keys are read here");
    dt_cfg_free(root);
}

/* Texts that must fail to load, with what the message must contain. */
static void test_bad_documents(void)
{
    static const struct {
        const char *text, *needle;
    } cases[] = {
        {"a: 1\nb:\n  c: 1\n  c: 2\n", "test.yaml:4: duplicate key 'b.c' (first at line 3)"},
        {"a: 1\n  b: 2\n", "test.yaml:2:4: mapping values are not allowed"},
        {"a: [1, 2\nb: 3\n", "(while parsing a flow sequence at line 1)"},
        {"- 1\n- 2\n", "test.yaml:1: top level: expected a map of keys and values, found a "
                       "sequence"},
        {"just text\n", "found 'just text'"},
        {"a: &x 1\nb: *x\n", "test.yaml:2: aliases (*x) are not supported"},
        {"a: 1\n---\nb: 2\n", "test.yaml:2: a second YAML document"},
        {"? [1, 2]\n: 3\n", "test.yaml:1: a map key must be a plain value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dt_cfg *root = (dt_cfg *)1;
        CHECK(dt_cfg_load_string(cases[i].text, "test.yaml", &root) == DT_ERR_CONFIG);
        CHECK(root == NULL);
        CHECK_MSG(cases[i].needle);
    }

    dt_cfg *root = NULL; /* comments only: an empty map */
    CHECK_OK(dt_cfg_load_string("# nothing here\n", "empty.yaml", &root));
    CHECK(root && root->kind == DT_CFG_MAP && root->n_items == 0);
    CHECK_OK(dt_cfg_check_unused(root));
    dt_cfg_free(root);
}

/* Write `text` to a new temporary file; returns its malloc'd name. */
static char *temp_file(const char *text)
{
    char *name = strdup("/tmp/dt_test_config_XXXXXX");
    const int fd = mkstemp(name);
    CHECK(fd >= 0);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return name;
}

static void test_files(void)
{
    char *good = temp_file("a: 1\nb:\n  c: x\n");
    char *bad = temp_file("a: 1\nb:\n  c: x\n  d: [1\n");
    dt_cfg *root = NULL;
    int64_t v = 0;

    CHECK_OK(dt_cfg_load_file(good, &root));
    CHECK(root && root->n_items == 2 && strcmp(root->source, good) == 0);
    CHECK(dt_cfg_int(dt_cfg_get(root, "b"), "c", 0, 0, 9, &v) == DT_ERR_CONFIG);
    CHECK_MSG(good);
    CHECK_MSG(":3: key 'b.c'");
    dt_cfg_free(root);

    CHECK(dt_cfg_load_file(bad, &root) == DT_ERR_CONFIG && root == NULL);
    CHECK_MSG(bad);
    CHECK(dt_cfg_load_file("/nonexistent/dir/x.yaml", &root) == DT_ERR_IO);
    CHECK_MSG("/nonexistent/dir/x.yaml");

    unlink(good);
    unlink(bad);
    free(good);
    free(bad);
}

static void test_overrides_apply(void)
{
    dt_cfg *root = load(k_main_yaml);
    int64_t v = 0, shape[4];
    int n = 4;
    double m = 0;
    char buf[64];
    if (!root) return;

    CHECK_OK(dt_cfg_override(root, "train.epochs=12"));
    CHECK_OK(dt_cfg_override(root, "model.opt.momentum=0.9"));
    CHECK_OK(dt_cfg_override(root, "model.layers.1.units=64"));
    CHECK_OK(dt_cfg_override(root, "data.shape=[3,32,32]"));
    CHECK_OK(dt_cfg_override(root, "train.sched={kind: cosine, warmup: 5}"));
    CHECK_OK(dt_cfg_override(root, "data.files.0=c.h5"));
    CHECK_OK(dt_cfg_override(root, "train.note=a=b"));

    dt_cfg *train = dt_cfg_get(root, "train"), *model = dt_cfg_get(root, "model");
    CHECK_OK(dt_cfg_int(train, "epochs", 0, 1, 100, &v));
    CHECK(v == 12);
    CHECK(strcmp(dt_cfg_where(dt_cfg_get(train, "epochs"), buf, sizeof buf), "command line") ==
          0);
    CHECK_OK(dt_cfg_float(dt_cfg_get(model, "opt"), "momentum", 0, 0, 1, &m));
    CHECK_CLOSE(m, 0.9, 1e-12, 0);
    dt_cfg *layers = dt_cfg_get(model, "layers");
    CHECK_OK(dt_cfg_int(layers->items[1], "units", 0, 1, 1000, &v));
    CHECK(v == 64);
    CHECK(layers->items[1]->n_items == 2); /* type is still there */
    CHECK_OK(dt_cfg_int_list(dt_cfg_get(root, "data"), "shape", shape, &n));
    CHECK(n == 3 && shape[0] == 3 && shape[2] == 32);
    dt_cfg *sched = dt_cfg_get(train, "sched");
    CHECK(sched && sched->kind == DT_CFG_MAP && sched->n_items == 2 && sched->line == 0);
    CHECK(strcmp(dt_cfg_get(dt_cfg_get(root, "data"), "files")->items[0]->value, "c.h5") == 0);
    CHECK(strcmp(dt_cfg_get(train, "note")->value, "a=b") == 0);

    /* An override nobody reads is reported like a misspelt key in a file. */
    CHECK_OK(dt_cfg_override(root, "train.epochz=3"));
    CHECK_OK(dt_cfg_int(train, "epochs", 0, 1, 100, &v));
    CHECK(dt_cfg_override(root, "train.lr=fast") == DT_OK);
    CHECK(dt_cfg_float(train, "lr", 0, 0, 1, &m) == DT_ERR_CONFIG);
    CHECK_MSG("command line: key 'train.lr': expected a number in [0, 1], found 'fast'");
    dt_cfg_free(root);
}

static void test_override_errors(void)
{
    static const struct {
        const char *arg, *needle;
    } cases[] = {
        {"train.epochs", "override 'train.epochs': expected KEY=VALUE"},
        {"=5", "the key before '=' is empty"},
        {"train..epochs=5", "empty component in key 'train..epochs'"},
        {"train.=5", "empty component"},
        {"model.layers.5.units=1", "index 5 is out of range for 'model.layers' (length 2)"},
        {"model.layers.2=1", "index 2 is out of range for 'model.layers' (length 2)"},
        {"model.layers.x=1", "'model.layers' is a sequence, and 'x' is not an index"},
        {"model.name.size=1", "'model.name' (test.yaml:3) is a scalar"},
        {"data.shape=[1,2", "override 'data.shape=[1,2': invalid YAML value: did not find"},
    };
    dt_cfg *root = load(k_main_yaml);
    if (!root) return;
    char *before = dt_cfg_to_string(root);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(dt_cfg_override(root, cases[i].arg) == DT_ERR_ARG);
        CHECK_MSG(cases[i].needle);
    }
    char *after = dt_cfg_to_string(root); /* failed overrides change nothing */
    CHECK(before && after && strcmp(before, after) == 0);
    free(before);
    free(after);

    dt_cfg_mark_used(root); /* everything from the file was read */
    CHECK_OK(dt_cfg_override(root, "train.epochz=3"));
    int64_t v = 0;
    CHECK_OK(dt_cfg_int(dt_cfg_get(root, "train"), "epochs", 0, 1, 100, &v));
    CHECK(dt_cfg_check_unused(root) == DT_ERR_CONFIG);
    CHECK_MSG("command line: unknown key 'train.epochz'; known keys here: epochs");
    CHECK_MSG("(did you mean 'epochs'?)");
    dt_cfg_free(root);
}

/* Two trees with the same shape, keys and values. */
static int same_tree(const dt_cfg *a, const dt_cfg *b)
{
    if (a->kind != b->kind || a->n_items != b->n_items) return 0;
    if ((a->key == NULL) != (b->key == NULL) || (a->key && strcmp(a->key, b->key) != 0)) return 0;
    if ((a->value == NULL) != (b->value == NULL)) return 0;
    if (a->value && strcmp(a->value, b->value) != 0) return 0;
    for (int i = 0; i < a->n_items; i++) {
        if (!same_tree(a->items[i], b->items[i])) return 0;
    }
    return 1;
}

static void test_round_trip(void)
{
    static const char *const tricky = "colon: 'a: b'\nhash: '#x'\nempty: ''\nnul: ~\n"
                                      "quoted_null: 'null'\ntilde: '~'\nmulti: \"l1\\nl2\"\n"
                                      "space: ' x '\nnum: '123'\nuni: 'h\xc3\xa9llo'\n"
                                      "dash: '- x'\nnone: {}\nlist: []\n'odd key': 1\n"
                                      "nested: [[1, 2], {a: [x, y]}]\n";
    dt_cfg *a = load(k_main_yaml), *b = NULL, *c = load(tricky), *d = NULL;
    if (!a || !c) return;
    CHECK_OK(dt_cfg_override(a, "model.layers.0={type: conv, shape: [3, 3]}"));
    CHECK_OK(dt_cfg_override(a, "extra.deep.key=value with spaces"));

    char *text = dt_cfg_to_string(a);
    CHECK(text != NULL);
    CHECK_OK(dt_cfg_load_string(text, "written.yaml", &b));
    CHECK(b && same_tree(a, b));

    char *path = temp_file("");
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        CHECK_OK(dt_cfg_write_yaml(c, f));
        fclose(f);
    }
    CHECK_OK(dt_cfg_load_file(path, &d));
    CHECK(d && same_tree(c, d));
    CHECK(d && strcmp(dt_cfg_get(d, "quoted_null")->value, "null") == 0);
    CHECK(d && strcmp(dt_cfg_get(d, "nul")->value, "") == 0);

    unlink(path);
    free(path);
    free(text);
    dt_cfg_free(a);
    dt_cfg_free(b);
    dt_cfg_free(c);
    dt_cfg_free(d);
}

int main(void)
{
    test_load_and_getters();
    test_scalar_forms();
    test_value_errors();
    test_missing_required();
    test_unknown_keys();
    test_bad_documents();
    test_files();
    test_overrides_apply();
    test_override_errors();
    test_round_trip();
    return dt_test_result();
}
