/* Configuration trees: reading YAML into dt_cfg nodes (libyaml's event API),
 * typed getters that mark what they read, dotted command-line overrides, the
 * check for keys nobody read, and writing a tree back out as YAML.
 *
 * Every node is allocated here as a dt_cfg_node: the public dt_cfg followed
 * by private bookkeeping. Besides the capacity of the item array it keeps the
 * keys a getter asked a map for and did not find, so that when a file says
 * 'epochz' and the code reads 'epochs' with a default, the unknown-key error
 * can still suggest 'epochs'. Nodes therefore must only be created by this
 * file (the header offers no other way to create them). */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define DT_CFG_CMDLINE "command line"
#define DT_CFG_MAX_DEPTH 200 /* nesting limit, so hostile input cannot blow the stack */
#define DT_CFG_PATH_CAP 512
#define DT_CFG_WHERE_CAP 600
#define DT_CFG_SHOW_MAX 80 /* longest scalar quoted in a message */

typedef struct dt_cfg_node {
    dt_cfg pub; /* first, so a dt_cfg * is also a dt_cfg_node * */
    int items_cap;
    char **asked; /* keys looked up in this map and missing */
    int n_asked;
    int asked_cap;
} dt_cfg_node;

static dt_cfg_node *node_priv(dt_cfg *c) { return (dt_cfg_node *)c; }

/* ---- Nodes ------------------------------------------------------------ */

/* Make room for `need` pointers in *arr (capacity *cap). */
static void grow_ptrs(void ***arr, int *cap, int need)
{
    if (need <= *cap) return;
    int new_cap = *cap ? *cap : 4;
    while (new_cap < need) new_cap *= 2;
    void **p = dt_calloc((size_t)new_cap, sizeof *p);
    if (*arr) memcpy(p, *arr, (size_t)*cap * sizeof *p);
    free(*arr);
    *arr = p;
    *cap = new_cap;
}

static dt_cfg *node_new(dt_cfg_kind kind, const char *source, int line)
{
    dt_cfg_node *n = dt_calloc(1, sizeof *n);
    n->pub.kind = kind;
    n->pub.source = source;
    n->pub.line = line;
    return &n->pub;
}

static void node_append(dt_cfg *parent, dt_cfg *child)
{
    dt_cfg_node *p = node_priv(parent);
    grow_ptrs((void ***)&parent->items, &p->items_cap, parent->n_items + 1);
    parent->items[parent->n_items++] = child;
    child->parent = parent;
}

/* Free a node and everything below it; `source` is not freed (the root owns
 * it, or it is the "command line" literal). */
static void node_free(dt_cfg *c)
{
    dt_cfg_node *n = node_priv(c);
    for (int i = 0; i < c->n_items; i++) node_free(c->items[i]);
    for (int i = 0; i < n->n_asked; i++) free(n->asked[i]);
    free(n->asked);
    free(c->items);
    free(c->key);
    free(c->value);
    free(n);
}

void dt_cfg_free(dt_cfg *root)
{
    if (!root) return;
    char *source = root->parent ? NULL : (char *)root->source;
    node_free(root);
    free(source);
}

static dt_cfg *find_child(const dt_cfg *map, const char *key)
{
    for (int i = 0; i < map->n_items; i++) {
        if (strcmp(map->items[i]->key, key) == 0) return map->items[i];
    }
    return NULL;
}

static int item_index(const dt_cfg *node)
{
    const dt_cfg *parent = node->parent;
    for (int i = 0; i < parent->n_items; i++) {
        if (parent->items[i] == node) return i;
    }
    return -1;
}

void dt_cfg_mark_used(dt_cfg *node)
{
    if (!node) return;
    node->used = 1;
    for (int i = 0; i < node->n_items; i++) dt_cfg_mark_used(node->items[i]);
}

/* ---- Paths and messages ----------------------------------------------- */

/* Append the path of `node` to buf at `pos`; returns the new end. */
static size_t path_put(const dt_cfg *node, char *buf, size_t cap, size_t pos)
{
    if (!node->parent) return pos;
    pos = path_put(node->parent, buf, cap, pos);

    char index[24];
    const char *name = node->key;
    if (!name) {
        snprintf(index, sizeof index, "%d", item_index(node));
        name = index;
    }
    const int w = snprintf(buf + pos, cap - pos, "%s%s", pos ? "." : "", name);
    return (w < 0 || pos + (size_t)w >= cap) ? cap - 1 : pos + (size_t)w;
}

const char *dt_cfg_path(const dt_cfg *node, char *buf, size_t cap)
{
    if (cap == 0) return buf;
    buf[0] = '\0';
    if (node) path_put(node, buf, cap, 0);
    return buf;
}

const char *dt_cfg_where(const dt_cfg *node, char *buf, size_t cap)
{
    const char *source = node->source ? node->source : "?";
    if (node->line > 0) {
        snprintf(buf, cap, "%s:%d", source, node->line);
    } else {
        snprintf(buf, cap, "%s", source);
    }
    return buf;
}

/* The dotted path of `key` inside `map`, into buf. */
static const char *child_path(const dt_cfg *map, const char *key, char *buf, size_t cap)
{
    char parent[DT_CFG_PATH_CAP];
    dt_cfg_path(map, parent, sizeof parent);
    snprintf(buf, cap, "%s%s%s", parent, parent[0] ? "." : "", key);
    return buf;
}

dt_status dt_cfg_error(const dt_cfg *node, const char *expected, const char *fmt, ...)
{
    char found[512], where[DT_CFG_WHERE_CAP], path[DT_CFG_PATH_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(found, sizeof found, fmt, ap);
    va_end(ap);

    dt_cfg_where(node, where, sizeof where);
    dt_cfg_path(node, path, sizeof path);
    if (!path[0]) {
        return dt_error_set(DT_ERR_CONFIG, "%s: top level: expected %s, found %s", where,
                            expected, found);
    }
    return dt_error_set(DT_ERR_CONFIG, "%s: key '%s': expected %s, found %s", where, path,
                        expected, found);
}

/* dt_cfg_error with the node itself as what was found: its text (cut after
 * DT_CFG_SHOW_MAX bytes) or its kind. */
static dt_status type_error(const dt_cfg *node, const char *expected)
{
    if (node->kind == DT_CFG_MAP) return dt_cfg_error(node, expected, "a map");
    if (node->kind == DT_CFG_SEQ) return dt_cfg_error(node, expected, "a sequence");
    if (!node->value[0]) return dt_cfg_error(node, expected, "an empty value");
    const int cut = strlen(node->value) > DT_CFG_SHOW_MAX;
    return dt_cfg_error(node, expected, "'%.*s%s'", DT_CFG_SHOW_MAX, node->value,
                        cut ? "..." : "");
}

/* A required key is absent from `map` (which may be NULL). */
static dt_status missing_error(const dt_cfg *map, const char *key, const char *expected)
{
    char path[DT_CFG_PATH_CAP];
    if (!map) return dt_error_set(DT_ERR_CONFIG, "missing key '%s' (expected %s)", key, expected);

    child_path(map, key, path, sizeof path);
    if (!map->parent) {
        return dt_error_set(DT_ERR_CONFIG, "%s: missing key '%s' (expected %s at the top level)",
                            map->source, path, expected);
    }
    if (map->line > 0) {
        return dt_error_set(DT_ERR_CONFIG,
                            "%s: missing key '%s' (expected %s in the map at line %d)",
                            map->source, path, expected, map->line);
    }
    return dt_error_set(DT_ERR_CONFIG, "%s: missing key '%s' (expected %s)", map->source, path,
                        expected);
}

static const char *kind_name(dt_cfg_kind kind)
{
    switch (kind) {
    case DT_CFG_MAP: return "a map";
    case DT_CFG_SEQ: return "a sequence";
    default: return "a scalar";
    }
}

/* ---- Parsing ---------------------------------------------------------- */

typedef struct dt_cfg_parser {
    yaml_parser_t yp;
    const char *source; /* stored in every node and named in messages */
    int cmdline;        /* an override's value: nodes get line 0 */
} dt_cfg_parser;

static int mark_line(const dt_cfg_parser *p, yaml_mark_t mark)
{
    return p->cmdline ? 0 : (int)mark.line + 1;
}

/* The message for libyaml's last error: "FILE:LINE:COL: problem (context)". */
static dt_status syntax_error(const dt_cfg_parser *p)
{
    const yaml_parser_t *y = &p->yp;
    if (y->error == YAML_MEMORY_ERROR) {
        return dt_error_set(DT_ERR_NOMEM, "%s: out of memory while parsing YAML", p->source);
    }
    const char *problem = y->problem ? y->problem : "invalid YAML";
    if (y->error == YAML_READER_ERROR) {
        return dt_error_set(DT_ERR_CONFIG, "%s: byte %zu: %s", p->source, y->problem_offset,
                            problem);
    }

    if (p->cmdline) { /* one short line: a position would add nothing */
        return dt_error_set(DT_ERR_CONFIG, "invalid YAML value: %s%s%s%s", problem,
                            y->context ? " (" : "", y->context ? y->context : "",
                            y->context ? ")" : "");
    }
    char context[256] = "";
    if (y->context) {
        snprintf(context, sizeof context, " (%s at line %zu)", y->context,
                 y->context_mark.line + 1);
    }
    return dt_error_set(DT_ERR_CONFIG, "%s:%zu:%zu: %s%s", p->source, y->problem_mark.line + 1,
                        y->problem_mark.column + 1, problem, context);
}

static dt_status next_event(dt_cfg_parser *p, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&p->yp, ev)) return syntax_error(p);
    return DT_OK;
}

/* Plain (unquoted) ~, null and the empty string are YAML's null. */
static int is_null_word(const char *s)
{
    return !s[0] || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

/* An unattached node for the event that starts it. A plain null scalar gets
 * the value "" so that every reader sees one spelling of "no value". */
static dt_status node_from_event(dt_cfg_parser *p, const yaml_event_t *ev, dt_cfg **out)
{
    const int line = mark_line(p, ev->start_mark);
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        const char *text = (const char *)ev->data.scalar.value;
        const int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        *out = node_new(DT_CFG_SCALAR, p->source, line);
        (*out)->value = dt_strdup(plain && is_null_word(text) ? "" : text);
        return DT_OK;
    }
    case YAML_MAPPING_START_EVENT: *out = node_new(DT_CFG_MAP, p->source, line); return DT_OK;
    case YAML_SEQUENCE_START_EVENT: *out = node_new(DT_CFG_SEQ, p->source, line); return DT_OK;
    case YAML_ALIAS_EVENT:
        return dt_error_set(DT_ERR_CONFIG, "%s:%d: aliases (*%s) are not supported in configs",
                            p->source, line, (const char *)ev->data.alias.anchor);
    default:
        return dt_error_set(DT_ERR_INTERNAL, "%s:%d: unexpected YAML event %d", p->source, line,
                            (int)ev->type);
    }
}

static dt_status parse_node(dt_cfg_parser *p, yaml_event_t *ev, dt_cfg *parent, char *key,
                            int depth, dt_cfg **out);

/* Take the key event of a map entry (consumed here): it must be a non-empty
 * scalar not already present in `map`. *key is malloc'd. */
static dt_status take_key(dt_cfg_parser *p, const dt_cfg *map, yaml_event_t *ev, char **key,
                          int *line)
{
    *line = mark_line(p, ev->start_mark);
    const int scalar = ev->type == YAML_SCALAR_EVENT;
    *key = scalar ? dt_strdup((const char *)ev->data.scalar.value) : NULL;
    yaml_event_delete(ev);

    char path[DT_CFG_PATH_CAP];
    if (!scalar) {
        return dt_error_set(DT_ERR_CONFIG, "%s:%d: a map key must be a plain value, not a map "
                            "or sequence", p->source, *line);
    }
    const dt_cfg *first = find_child(map, *key);
    dt_status s = DT_OK;
    if (!(*key)[0]) {
        s = dt_error_set(DT_ERR_CONFIG, "%s:%d: empty key", p->source, *line);
    } else if (first && first->line > 0) {
        s = dt_error_set(DT_ERR_CONFIG, "%s:%d: duplicate key '%s' (first at line %d)", p->source,
                         *line, child_path(map, *key, path, sizeof path), first->line);
    } else if (first) {
        s = dt_error_set(DT_ERR_CONFIG, "%s: duplicate key '%s'", p->source,
                         child_path(map, *key, path, sizeof path));
    }
    if (s != DT_OK) {
        free(*key);
        *key = NULL;
    }
    return s;
}

/* Read key/value pairs up to the end of the mapping into `map`. */
static dt_status parse_map(dt_cfg_parser *p, dt_cfg *map, int depth)
{
    for (;;) {
        yaml_event_t ev;
        DT_TRY(next_event(p, &ev));
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return DT_OK;
        }

        char *key = NULL;
        int line = 0;
        DT_TRY(take_key(p, map, &ev, &key, &line));
        dt_status s = next_event(p, &ev);
        if (s != DT_OK) {
            free(key);
            return s;
        }
        dt_cfg *child = NULL;
        DT_TRY(parse_node(p, &ev, map, key, depth, &child));
        child->line = line; /* report a map entry at its key, not its value */
    }
}

/* Read items up to the end of the sequence into `seq`. */
static dt_status parse_seq(dt_cfg_parser *p, dt_cfg *seq, int depth)
{
    for (;;) {
        yaml_event_t ev;
        DT_TRY(next_event(p, &ev));
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return DT_OK;
        }
        dt_cfg *item = NULL;
        DT_TRY(parse_node(p, &ev, seq, NULL, depth, &item));
    }
}

/* Build the node that starts with `ev` (consumed here), with its contents.
 * It takes `key` and is attached to `parent` before its contents are read,
 * so that after an error freeing the root frees everything. */
static dt_status parse_node(dt_cfg_parser *p, yaml_event_t *ev, dt_cfg *parent, char *key,
                            int depth, dt_cfg **out)
{
    dt_cfg *node = NULL;
    const dt_status s = node_from_event(p, ev, &node);
    yaml_event_delete(ev);
    if (s != DT_OK) {
        free(key);
        return s;
    }
    node->key = key;
    if (parent) node_append(parent, node);
    *out = node;

    if (depth >= DT_CFG_MAX_DEPTH) {
        return dt_error_set(DT_ERR_CONFIG, "%s:%d: nested more than %d levels deep", p->source,
                            node->line, DT_CFG_MAX_DEPTH);
    }
    if (node->kind == DT_CFG_MAP) return parse_map(p, node, depth + 1);
    if (node->kind == DT_CFG_SEQ) return parse_seq(p, node, depth + 1);
    return DT_OK;
}

/* Expect an event of `type` and drop it. */
static dt_status skip_event(dt_cfg_parser *p, yaml_event_type_t type)
{
    yaml_event_t ev;
    DT_TRY(next_event(p, &ev));
    const int line = mark_line(p, ev.start_mark);
    const int ok = ev.type == type;
    yaml_event_delete(&ev);
    if (ok) return DT_OK;
    if (type == YAML_STREAM_END_EVENT) {
        return dt_error_set(DT_ERR_CONFIG, "%s:%d: a second YAML document; a config is one "
                            "document", p->source, line);
    }
    return dt_error_set(DT_ERR_INTERNAL, "%s:%d: unexpected YAML event %d", p->source, line,
                        (int)ev.type);
}

/* Parse the one document of the stream. An empty stream gives an empty
 * scalar. On failure *out may hold a partial tree for the caller to free. */
static dt_status parse_document(dt_cfg_parser *p, dt_cfg **out)
{
    yaml_event_t ev;
    *out = NULL;
    DT_TRY(skip_event(p, YAML_STREAM_START_EVENT));
    DT_TRY(next_event(p, &ev));
    if (ev.type == YAML_STREAM_END_EVENT) {
        *out = node_new(DT_CFG_SCALAR, p->source, p->cmdline ? 0 : 1);
        (*out)->value = dt_strdup("");
        yaml_event_delete(&ev);
        return DT_OK;
    }
    yaml_event_delete(&ev); /* the document start */

    DT_TRY(next_event(p, &ev));
    DT_TRY(parse_node(p, &ev, NULL, NULL, 0, out));
    DT_TRY(skip_event(p, YAML_DOCUMENT_END_EVENT));
    return skip_event(p, YAML_STREAM_END_EVENT);
}

/* Parse `text`, or `file` when text is NULL, into a tree of any shape whose
 * nodes point at `source`. */
static dt_status parse_tree(const char *text, FILE *file, const char *source, int cmdline,
                            dt_cfg **out)
{
    dt_cfg_parser p = {.source = source, .cmdline = cmdline};
    if (!yaml_parser_initialize(&p.yp)) {
        return dt_error_set(DT_ERR_NOMEM, "%s: cannot start the YAML parser", source);
    }
    if (text) {
        yaml_parser_set_input_string(&p.yp, (const unsigned char *)text, strlen(text));
    } else {
        yaml_parser_set_input_file(&p.yp, file);
    }

    dt_cfg *root = NULL;
    const dt_status s = parse_document(&p, &root);
    yaml_parser_delete(&p.yp);
    if (s != DT_OK) {
        if (root) node_free(root);
        return s;
    }
    *out = root;
    return DT_OK;
}

/* Parse a config and check that its top level is a map (an empty document
 * counts as an empty map). The root owns a copy of `name`. */
static dt_status load(const char *text, FILE *file, const char *name, dt_cfg **out)
{
    char *source = dt_strdup(name);
    dt_cfg *root = NULL;
    dt_status s = parse_tree(text, file, source, 0, &root);
    if (s == DT_OK && root->kind == DT_CFG_SCALAR && !root->value[0]) {
        root->kind = DT_CFG_MAP;
        free(root->value);
        root->value = NULL;
    }
    if (s == DT_OK && root->kind != DT_CFG_MAP) {
        s = type_error(root, "a map of keys and values");
        node_free(root);
    }
    if (s != DT_OK) {
        free(source);
        return s;
    }
    *out = root;
    return DT_OK;
}

dt_status dt_cfg_load_string(const char *text, const char *source_name, dt_cfg **out)
{
    *out = NULL;
    return load(text, NULL, source_name ? source_name : "<string>", out);
}

dt_status dt_cfg_load_file(const char *path, dt_cfg **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return dt_error_set(DT_ERR_IO, "cannot open config '%s': %s", path, strerror(errno));
    const dt_status s = load(NULL, f, path, out);
    fclose(f);
    return s;
}

/* ---- Overrides -------------------------------------------------------- */

/* A path component that is a sequence index: decimal digits only. */
static int parse_index(const char *s, size_t len, int *out)
{
    if (len == 0 || len > 9) return 0;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

/* The item of sequence `seq` named by component `name`, or an error. */
static dt_status seq_item(dt_cfg *seq, const char *name, size_t len, int *index)
{
    char path[DT_CFG_PATH_CAP];
    dt_cfg_path(seq, path, sizeof path);
    if (!parse_index(name, len, index)) {
        return dt_error_set(DT_ERR_ARG, "'%s' is a sequence, and '%.*s' is not an index", path,
                            (int)len, name);
    }
    if (*index >= seq->n_items) {
        return dt_error_set(DT_ERR_ARG, "index %d is out of range for '%s' (length %d)", *index,
                            path, seq->n_items);
    }
    return DT_OK;
}

static dt_status through_scalar(const dt_cfg *node)
{
    char path[DT_CFG_PATH_CAP], where[DT_CFG_WHERE_CAP];
    return dt_error_set(DT_ERR_ARG, "'%s' (%s) is a scalar, not a map or sequence",
                        dt_cfg_path(node, path, sizeof path),
                        dt_cfg_where(node, where, sizeof where));
}

/* The child of `cur` named by component `name`; a missing map entry is
 * created as an empty map. */
static dt_status step_into(dt_cfg *cur, const char *name, size_t len, dt_cfg **next)
{
    if (cur->kind == DT_CFG_SCALAR) return through_scalar(cur);
    if (cur->kind == DT_CFG_SEQ) {
        int index = 0;
        DT_TRY(seq_item(cur, name, len, &index));
        *next = cur->items[index];
        return DT_OK;
    }

    char *key = strndup(name, len);
    if (!key) return dt_error_set(DT_ERR_NOMEM, "override key");
    *next = find_child(cur, key);
    if (*next) {
        free(key);
        return DT_OK;
    }
    *next = node_new(DT_CFG_MAP, DT_CFG_CMDLINE, 0);
    (*next)->key = key;
    node_append(cur, *next);
    return DT_OK;
}

/* Put `value` (taken) under `cur` as component `name`, replacing any node
 * there. On failure the caller still owns `value`. */
static dt_status place(dt_cfg *cur, const char *name, dt_cfg *value)
{
    int index = -1;
    if (cur->kind == DT_CFG_SCALAR) return through_scalar(cur);
    if (cur->kind == DT_CFG_SEQ) {
        DT_TRY(seq_item(cur, name, strlen(name), &index));
    } else {
        value->key = dt_strdup(name);
        const dt_cfg *old = find_child(cur, name);
        if (old) index = item_index(old);
    }

    if (index < 0) {
        node_append(cur, value);
        return DT_OK;
    }
    node_free(cur->items[index]);
    cur->items[index] = value;
    value->parent = cur;
    return DT_OK;
}

/* Walk `path` from `root` and put `value` there. Every component is checked
 * to be non-empty first; after that an error can only come from a node that
 * existed, before any map was created, so a failed override changes nothing. */
static dt_status graft(dt_cfg *root, const char *path, dt_cfg *value)
{
    for (const char *c = path;; c++) {
        const char *dot = strchr(c, '.');
        if (dot == c || !*c) return dt_error_set(DT_ERR_ARG, "empty component in key '%s'", path);
        if (!dot) break;
        c = dot;
    }

    dt_cfg *cur = root;
    const char *name = path;
    for (const char *dot; (dot = strchr(name, '.')) != NULL; name = dot + 1) {
        DT_TRY(step_into(cur, name, (size_t)(dot - name), &cur));
    }
    return place(cur, name, value);
}

void dt_ovlist_add(dt_ovlist *l, const char *fmt, ...)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = realloc(l->v, (size_t)l->cap * sizeof *l->v);
        DT_ASSERT(l->v);
    }
    va_list ap;
    va_start(ap, fmt);
    const int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *str = dt_calloc((size_t)len + 1, 1);
    va_start(ap, fmt);
    vsnprintf(str, (size_t)len + 1, fmt, ap);
    va_end(ap);
    l->v[l->n++] = str;
}

void dt_ovlist_free(dt_ovlist *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    *l = (dt_ovlist){0};
}

dt_status dt_cfg_override(dt_cfg *root, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    if (!eq) {
        return dt_error_set(DT_ERR_ARG, "override '%s': expected KEY=VALUE, e.g. train.epochs=10",
                            assignment);
    }
    if (eq == assignment) {
        return dt_error_set(DT_ERR_ARG, "override '%s': the key before '=' is empty", assignment);
    }

    char *path = strndup(assignment, (size_t)(eq - assignment));
    if (!path) return dt_error_set(DT_ERR_NOMEM, "override '%s'", assignment);
    dt_cfg *value = NULL;
    dt_status s = parse_tree(eq + 1, NULL, DT_CFG_CMDLINE, 1, &value);
    if (s == DT_OK) {
        s = graft(root, path, value);
        if (s != DT_OK) node_free(value);
    }
    free(path);
    if (s == DT_OK) return DT_OK;
    return dt_error_prefix(s == DT_ERR_NOMEM ? s : DT_ERR_ARG, "override '%s': ", assignment);
}

/* ---- Getters ---------------------------------------------------------- */

/* Remember that `key` was asked of `map` and not found. */
static void note_asked(dt_cfg *map, const char *key)
{
    dt_cfg_node *n = node_priv(map);
    for (int i = 0; i < n->n_asked; i++) {
        if (strcmp(n->asked[i], key) == 0) return;
    }
    grow_ptrs((void ***)&n->asked, &n->asked_cap, n->n_asked + 1);
    n->asked[n->n_asked++] = dt_strdup(key);
}

dt_cfg *dt_cfg_get(dt_cfg *map, const char *key)
{
    if (!map || map->kind != DT_CFG_MAP) return NULL;
    map->used = 1;
    dt_cfg *child = find_child(map, key);
    if (child) {
        child->used = 1;
    } else {
        note_asked(map, key);
    }
    return child;
}

/* dt_cfg_get for the typed getters, where `map` that is not a map is an
 * error rather than "missing". */
static dt_status lookup(dt_cfg *map, const char *key, dt_cfg **out)
{
    *out = NULL;
    if (map && map->kind != DT_CFG_MAP) {
        char expected[DT_CFG_PATH_CAP];
        snprintf(expected, sizeof expected, "a map (with key '%s')", key);
        return type_error(map, expected);
    }
    *out = dt_cfg_get(map, key);
    return DT_OK;
}

dt_status dt_cfg_require(dt_cfg *map, const char *key, dt_cfg_kind kind, dt_cfg **out)
{
    dt_cfg *node = NULL;
    *out = NULL;
    DT_TRY(lookup(map, key, &node));
    if (!node) return missing_error(map, key, kind_name(kind));
    if (node->kind != kind) return type_error(node, kind_name(kind));
    *out = node;
    return DT_OK;
}

/* A whole scalar as an integer: decimal, or scientific notation with an
 * integral value ("6e4"). Returns 0 when it is neither or overflows. */
static int parse_int(const char *s, int64_t *v)
{
    if (!s[0] || isspace((unsigned char)s[0])) return 0;
    char *end = NULL;
    errno = 0;
    const long long x = strtoll(s, &end, 10);
    if (*end == '\0') {
        *v = x;
        return errno != ERANGE;
    }

    if (!strpbrk(s, "eE") || strpbrk(s, "xX")) return 0;
    errno = 0;
    const double d = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(d) || d != floor(d)) return 0;
    if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) return 0;
    *v = (int64_t)d;
    return 1;
}

static const char *describe_int(int64_t lo, int64_t hi, char *buf, size_t cap)
{
    if (lo == INT64_MIN && hi == INT64_MAX) {
        snprintf(buf, cap, "an integer");
    } else if (hi == INT64_MAX) {
        snprintf(buf, cap, "an integer >= %lld", (long long)lo);
    } else if (lo == INT64_MIN) {
        snprintf(buf, cap, "an integer <= %lld", (long long)hi);
    } else {
        snprintf(buf, cap, "an integer in [%lld, %lld]", (long long)lo, (long long)hi);
    }
    return buf;
}

static dt_status read_int(const dt_cfg *node, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t v = 0;
    if (node->kind == DT_CFG_SCALAR && parse_int(node->value, &v) && v >= lo && v <= hi) {
        *out = v;
        return DT_OK;
    }
    char expected[128];
    return type_error(node, describe_int(lo, hi, expected, sizeof expected));
}

dt_status dt_cfg_int(dt_cfg *map, const char *key, int64_t dflt, int64_t lo, int64_t hi,
                     int64_t *out)
{
    dt_cfg *node = NULL;
    DT_TRY(lookup(map, key, &node));
    if (!node) {
        *out = dflt;
        return DT_OK;
    }
    return read_int(node, lo, hi, out);
}

dt_status dt_cfg_int_req(dt_cfg *map, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    dt_cfg *node = NULL;
    DT_TRY(lookup(map, key, &node));
    if (node) return read_int(node, lo, hi, out);
    char expected[128];
    return missing_error(map, key, describe_int(lo, hi, expected, sizeof expected));
}

/* A whole scalar as a number (strtod, plus YAML's .inf and .nan). */
static int parse_float(const char *s, double *v)
{
    const char *t = (s[0] == '+' || s[0] == '-') ? s + 1 : s;
    if (strcmp(t, ".inf") == 0 || strcmp(t, ".Inf") == 0 || strcmp(t, ".INF") == 0) {
        *v = s[0] == '-' ? -INFINITY : INFINITY;
        return 1;
    }
    if (strcmp(s, ".nan") == 0 || strcmp(s, ".NaN") == 0 || strcmp(s, ".NAN") == 0) {
        *v = NAN;
        return 1;
    }
    if (!s[0] || isspace((unsigned char)s[0])) return 0;
    char *end = NULL;
    errno = 0;
    *v = strtod(s, &end);
    return *end == '\0' && !(errno == ERANGE && fabs(*v) > 1.0);
}

static const char *describe_float(double lo, double hi, char *buf, size_t cap)
{
    const int no_lo = lo <= -HUGE_VAL, no_hi = hi >= HUGE_VAL;
    if (no_lo && no_hi) {
        snprintf(buf, cap, "a number");
    } else if (no_hi) {
        snprintf(buf, cap, "a number >= %g", lo);
    } else if (no_lo) {
        snprintf(buf, cap, "a number <= %g", hi);
    } else {
        snprintf(buf, cap, "a number in [%g, %g]", lo, hi);
    }
    return buf;
}

/* NaN is in no range, so it is always rejected. */
static dt_status read_float(const dt_cfg *node, double lo, double hi, double *out)
{
    double v = 0;
    if (node->kind == DT_CFG_SCALAR && parse_float(node->value, &v) && v >= lo && v <= hi) {
        *out = v;
        return DT_OK;
    }
    char expected[128];
    return type_error(node, describe_float(lo, hi, expected, sizeof expected));
}

dt_status dt_cfg_float(dt_cfg *map, const char *key, double dflt, double lo, double hi,
                       double *out)
{
    dt_cfg *node = NULL;
    DT_TRY(lookup(map, key, &node));
    if (!node) {
        *out = dflt;
        return DT_OK;
    }
    return read_float(node, lo, hi, out);
}

dt_status dt_cfg_float_req(dt_cfg *map, const char *key, double lo, double hi, double *out)
{
    dt_cfg *node = NULL;
    DT_TRY(lookup(map, key, &node));
    if (node) return read_float(node, lo, hi, out);
    char expected[128];
    return missing_error(map, key, describe_float(lo, hi, expected, sizeof expected));
}

dt_status dt_cfg_bool(dt_cfg *map, const char *key, int dflt, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    dt_cfg *node = NULL;
    DT_TRY(lookup(map, key, &node));
    if (!node) {
        *out = dflt;
        return DT_OK;
    }

    for (int i = 0; node->kind == DT_CFG_SCALAR && i < 4; i++) {
        if (strcasecmp(node->value, yes[i]) == 0 || strcasecmp(node->value, no[i]) == 0) {
            *out = strcasecmp(node->value, yes[i]) == 0;
            return DT_OK;
        }
    }
    return type_error(node, "a boolean (true/false, yes/no, on/off, 1/0)");
}

dt_status dt_cfg_str(dt_cfg *map, const char *key, const char *dflt, const char **out)
{
    dt_cfg *node = NULL;
    DT_TRY(lookup(map, key, &node));
    if (!node) {
        *out = dflt;
        return DT_OK;
    }
    if (node->kind != DT_CFG_SCALAR) return type_error(node, "a string");
    *out = node->value;
    return DT_OK;
}

dt_status dt_cfg_str_req(dt_cfg *map, const char *key, const char **out)
{
    dt_cfg *node = NULL;
    DT_TRY(lookup(map, key, &node));
    if (!node) return missing_error(map, key, "a string");
    if (node->kind != DT_CFG_SCALAR) return type_error(node, "a string");
    *out = node->value;
    return DT_OK;
}

/* Optimal-string-alignment distance (edits, with adjacent swaps counting
 * one); long strings are simply "far". */
static int edit_distance(const char *a, const char *b)
{
    enum { N = 64 };
    const size_t la = strlen(a), lb = strlen(b);
    if (la >= N || lb >= N) return N;
    int before[N] = {0}, prev[N] = {0}, cur[N] = {0};
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;

    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int v = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < v) v = prev[j] + 1;
            if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                before[j - 2] + 1 < v) {
                v = before[j - 2] + 1;
            }
            cur[j] = v;
        }
        memcpy(before, prev, sizeof prev);
        memcpy(prev, cur, sizeof cur);
    }
    return prev[lb];
}

/* The candidate closest to `word` if it is near enough to be a likely typo
 * (one edit for words of one or two characters, else two), or NULL. */
static const char *closest(const char *word, const char *const *cands, int n)
{
    const int limit = strlen(word) < 3 ? 1 : 2;
    const char *best = NULL;
    int best_d = limit + 1;
    for (int i = 0; i < n; i++) {
        const int d = edit_distance(word, cands[i]);
        if (d > 0 && d < best_d) {
            best = cands[i];
            best_d = d;
        }
    }
    return best;
}

static int count_choices(const char *const *choices)
{
    int n = 0;
    while (choices[n]) n++;
    return n;
}

/* "one of 'a', 'b', 'c'" into buf. */
static const char *describe_choices(const char *const *choices, char *buf, size_t cap)
{
    size_t pos = (size_t)snprintf(buf, cap, "one of");
    for (int i = 0; choices[i] && pos < cap; i++) {
        pos += (size_t)snprintf(buf + pos, cap - pos, "%s '%s'", i ? "," : "", choices[i]);
    }
    return buf;
}

dt_status dt_cfg_enum(dt_cfg *map, const char *key, const char *dflt,
                      const char *const *choices, int *out)
{
    char expected[512];
    describe_choices(choices, expected, sizeof expected);
    dt_cfg *node = NULL;
    DT_TRY(lookup(map, key, &node));
    if (!node && !dflt) return missing_error(map, key, expected);
    if (node && node->kind != DT_CFG_SCALAR) return type_error(node, expected);

    const char *text = node ? node->value : dflt;
    const int n = count_choices(choices);
    for (int i = 0; i < n; i++) {
        if (strcmp(text, choices[i]) == 0) {
            *out = i;
            return DT_OK;
        }
    }
    if (!node) {
        return dt_error_set(DT_ERR_INTERNAL, "default '%s' for key '%s' is not %s", dflt, key,
                            expected);
    }
    const char *guess = closest(text, choices, n);
    if (!guess) return type_error(node, expected);
    return dt_cfg_error(node, expected, "'%.*s' (did you mean '%s'?)", DT_CFG_SHOW_MAX, text,
                        guess);
}

/* The node for a list getter: a sequence of scalars or one scalar. Marks
 * the items used and checks the count against `cap`. NULL when missing. */
static dt_status list_node(dt_cfg *map, const char *key, const char *what, int cap,
                           dt_cfg **out)
{
    DT_TRY(lookup(map, key, out));
    dt_cfg *node = *out;
    if (!node) return DT_OK;

    char expected[128];
    snprintf(expected, sizeof expected, "a list of at most %d %s", cap, what);
    if (node->kind == DT_CFG_MAP) return type_error(node, expected);
    const int count = node->kind == DT_CFG_SEQ ? node->n_items : 1;
    if (count > cap) return dt_cfg_error(node, expected, "%d items", count);
    dt_cfg_mark_used(node);
    return DT_OK;
}

dt_status dt_cfg_int_list(dt_cfg *map, const char *key, int64_t *out, int *n)
{
    const int cap = *n;
    dt_cfg *node = NULL;
    *n = 0;
    DT_TRY(list_node(map, key, "integers", cap, &node));
    if (!node) return DT_OK;
    if (node->kind == DT_CFG_SCALAR) {
        DT_TRY(read_int(node, INT64_MIN, INT64_MAX, &out[0]));
        *n = 1;
        return DT_OK;
    }
    for (int i = 0; i < node->n_items; i++) {
        DT_TRY(read_int(node->items[i], INT64_MIN, INT64_MAX, &out[i]));
    }
    *n = node->n_items;
    return DT_OK;
}

dt_status dt_cfg_str_list(dt_cfg *map, const char *key, const char **out, int *n)
{
    const int cap = *n;
    dt_cfg *node = NULL;
    *n = 0;
    DT_TRY(list_node(map, key, "strings", cap, &node));
    if (!node) return DT_OK;
    if (node->kind == DT_CFG_SCALAR) {
        out[0] = node->value;
        *n = 1;
        return DT_OK;
    }
    for (int i = 0; i < node->n_items; i++) {
        const dt_cfg *item = node->items[i];
        if (item->kind != DT_CFG_SCALAR) return type_error(item, "a string");
        out[i] = item->value;
    }
    *n = node->n_items;
    return DT_OK;
}

/* ---- Unused keys ------------------------------------------------------ */

/* The first node, depth first in document order, that no getter read; the
 * children of a node that was not read are not looked at. */
static const dt_cfg *first_unused(const dt_cfg *node)
{
    for (int i = 0; i < node->n_items; i++) {
        const dt_cfg *c = node->items[i];
        if (!c->used) return c;
        const dt_cfg *u = first_unused(c);
        if (u) return u;
    }
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys code asked `map` for (found or not), sorted and unique. Returns
 * the count; *out is malloc'd, the strings belong to the tree. */
static int known_keys(const dt_cfg *map, const char ***out)
{
    const dt_cfg_node *n = (const dt_cfg_node *)map;
    const char **keys = dt_calloc((size_t)(map->n_items + n->n_asked), sizeof *keys);
    int count = 0;
    for (int i = 0; i < map->n_items; i++) {
        if (map->items[i]->used) keys[count++] = map->items[i]->key;
    }
    for (int i = 0; i < n->n_asked; i++) keys[count++] = n->asked[i];
    qsort(keys, (size_t)count, sizeof *keys, cmp_str);

    int unique = 0;
    for (int i = 0; i < count; i++) {
        if (unique == 0 || strcmp(keys[unique - 1], keys[i]) != 0) keys[unique++] = keys[i];
    }
    *out = keys;
    return unique;
}

/* "unknown key" for map entry `node`, listing the known keys of its map. */
static dt_status unknown_key_error(const dt_cfg *node)
{
    char where[DT_CFG_WHERE_CAP], path[DT_CFG_PATH_CAP], list[1024] = "";
    const char **keys = NULL;
    const int n = known_keys(node->parent, &keys);
    size_t pos = 0;
    for (int i = 0; i < n && pos < sizeof list; i++) {
        pos += (size_t)snprintf(list + pos, sizeof list - pos, "%s%s", i ? ", " : "", keys[i]);
    }

    char hint[DT_CFG_PATH_CAP] = "";
    const char *guess = closest(node->key, keys, n);
    if (guess) snprintf(hint, sizeof hint, " (did you mean '%s'?)", guess);
    const dt_status s = dt_error_set(DT_ERR_CONFIG, "%s: unknown key '%s'; %s%s%s",
                                     dt_cfg_where(node, where, sizeof where),
                                     dt_cfg_path(node, path, sizeof path),
                                     n ? "known keys here: " : "no keys are read here", list,
                                     hint);
    free(keys);
    return s;
}

dt_status dt_cfg_check_unused(const dt_cfg *root)
{
    const dt_cfg *node = root ? first_unused(root) : NULL;
    if (!node) return DT_OK;
    if (node->parent->kind == DT_CFG_MAP) return unknown_key_error(node);

    char where[DT_CFG_WHERE_CAP], path[DT_CFG_PATH_CAP];
    return dt_error_set(DT_ERR_CONFIG, "%s: item '%s' is never read (too many items?)",
                        dt_cfg_where(node, where, sizeof where),
                        dt_cfg_path(node, path, sizeof path));
}

/* ---- Writing ---------------------------------------------------------- */

/* Emit one event; returns libyaml's success flag. */
static int emit_scalar(yaml_emitter_t *em, const char *text, int is_value)
{
    /* Values that would read back as null are quoted so that they survive a
     * reload unchanged; everything else lets libyaml pick a safe style. */
    const yaml_scalar_style_t style =
        is_value && is_null_word(text) ? YAML_SINGLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;
    yaml_event_t ev;
    return yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text),
                                        1, 1, style) &&
           yaml_emitter_emit(em, &ev);
}

static int emit_node(yaml_emitter_t *em, const dt_cfg *node)
{
    yaml_event_t ev;
    if (node->kind == DT_CFG_SCALAR) return emit_scalar(em, node->value, 1);

    const int map = node->kind == DT_CFG_MAP;
    const int started =
        map ? yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE)
            : yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
    if (!started || !yaml_emitter_emit(em, &ev)) return 0;
    for (int i = 0; i < node->n_items; i++) {
        if (map && !emit_scalar(em, node->items[i]->key, 0)) return 0;
        if (!emit_node(em, node->items[i])) return 0;
    }
    const int ended = map ? yaml_mapping_end_event_initialize(&ev)
                          : yaml_sequence_end_event_initialize(&ev);
    return ended && yaml_emitter_emit(em, &ev);
}

/* The stream and document around the root. */
static int emit_stream(yaml_emitter_t *em, const dt_cfg *root)
{
    yaml_event_t ev;
    return yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
           yaml_emitter_emit(em, &ev) &&
           yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
           yaml_emitter_emit(em, &ev) && emit_node(em, root) &&
           yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(em, &ev) &&
           yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev) &&
           yaml_emitter_flush(em);
}

dt_status dt_cfg_write_yaml(const dt_cfg *root, FILE *out)
{
    yaml_emitter_t em;
    if (!yaml_emitter_initialize(&em)) {
        return dt_error_set(DT_ERR_NOMEM, "cannot start the YAML emitter");
    }
    yaml_emitter_set_output_file(&em, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1); /* never fold long scalars */

    const int ok = emit_stream(&em, root);
    const char *problem = em.problem ? em.problem : "write failed";
    dt_status s = DT_OK;
    if (!ok) {
        s = dt_error_set(em.error == YAML_MEMORY_ERROR ? DT_ERR_NOMEM : DT_ERR_IO,
                         "cannot write config as YAML: %s", problem);
    } else if (fflush(out) != 0 || ferror(out)) {
        s = dt_error_set(DT_ERR_IO, "cannot write config as YAML: %s", strerror(errno));
    }
    yaml_emitter_delete(&em);
    return s;
}

char *dt_cfg_to_string(const dt_cfg *root)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        dt_error_set(DT_ERR_NOMEM, "cannot open a memory stream");
        return NULL;
    }
    const dt_status s = dt_cfg_write_yaml(root, f);
    fclose(f);
    if (s != DT_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}
