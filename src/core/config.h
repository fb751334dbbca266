/* Configuration trees read from YAML (libyaml), with dotted overrides.
 *
 * A config is a tree of maps, sequences and scalars, each node remembering
 * the file and line it came from. Code reads it through typed getters that
 * mark each key as used; after everything has been read,
 * dt_cfg_check_unused() reports any key nobody asked for, so a misspelt key
 * is an error and never silently ignored.
 *
 * Overrides come from the command line as `a.b.c=value`; a sequence element
 * is addressed by its index (`model.layers.1.units=128`). The value is parsed
 * as YAML, so `data.shape=[1,28,28]` gives a sequence. */
#ifndef DT_CORE_CONFIG_H
#define DT_CORE_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

typedef enum dt_cfg_kind { DT_CFG_SCALAR, DT_CFG_MAP, DT_CFG_SEQ } dt_cfg_kind;

typedef struct dt_cfg dt_cfg;
struct dt_cfg {
    dt_cfg_kind kind;
    char *key;          /* key in the parent map; NULL for sequence items, root */
    char *value;        /* scalar text (NULL for maps and sequences) */
    int line;           /* 1-based line in `source`; 0 when set by an override */
    const char *source; /* file name, or "command line"; owned by the root */
    dt_cfg *parent;
    dt_cfg **items; /* children of a map or sequence, in document order */
    int n_items;
    int used; /* set by the getters */
};

/* Parse a YAML file / text. The root must be a map. On failure the message
 * names the file and line and what libyaml expected. *out is owned by the
 * caller: free with dt_cfg_free(). */
dt_status dt_cfg_load_file(const char *path, dt_cfg **out);
dt_status dt_cfg_load_string(const char *text, const char *source_name, dt_cfg **out);
void dt_cfg_free(dt_cfg *root);

/* Apply "dotted.key=value" (creating maps on the way when missing). */
dt_status dt_cfg_override(dt_cfg *root, const char *assignment);

/* A growing list of "key=value" assignments, each string malloc'd: the
 * overrides a command builds for the runs it starts. */
typedef struct dt_ovlist {
    char **v;
    int n, cap;
} dt_ovlist;

/* Append one assignment, formatted as printf does. */
void dt_ovlist_add(dt_ovlist *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dt_ovlist_free(dt_ovlist *l);

/* The dotted path of a node, e.g. "model.layers.2.units", into buf. */
const char *dt_cfg_path(const dt_cfg *node, char *buf, size_t cap);

/* Where a node came from, e.g. "mnist.yaml:12" or "command line". */
const char *dt_cfg_where(const dt_cfg *node, char *buf, size_t cap);

/* A child of a map by key, or NULL. Marks it used. A NULL map gives NULL. */
dt_cfg *dt_cfg_get(dt_cfg *map, const char *key);

/* Like dt_cfg_get but it is an error if missing or not of the given kind.
 * The error names the file, line and the dotted key. */
dt_status dt_cfg_require(dt_cfg *map, const char *key, dt_cfg_kind kind, dt_cfg **out);

/* Typed getters. For the plain forms a missing key gives the default; the
 * _req forms make it an error. A value of the wrong type or out of range is
 * always an error naming file:line, the key, what was expected and what was
 * found. `map` may be NULL (then every key is missing). */
dt_status dt_cfg_int(dt_cfg *map, const char *key, int64_t dflt, int64_t lo, int64_t hi,
                     int64_t *out);
dt_status dt_cfg_int_req(dt_cfg *map, const char *key, int64_t lo, int64_t hi, int64_t *out);
dt_status dt_cfg_float(dt_cfg *map, const char *key, double dflt, double lo, double hi,
                       double *out);
dt_status dt_cfg_float_req(dt_cfg *map, const char *key, double lo, double hi, double *out);
dt_status dt_cfg_bool(dt_cfg *map, const char *key, int dflt, int *out);
/* The returned string is owned by the tree. */
dt_status dt_cfg_str(dt_cfg *map, const char *key, const char *dflt, const char **out);
dt_status dt_cfg_str_req(dt_cfg *map, const char *key, const char **out);
/* One of `choices` (NULL-terminated); *out is the index. dflt may be NULL
 * for a required key. */
dt_status dt_cfg_enum(dt_cfg *map, const char *key, const char *dflt,
                      const char *const *choices, int *out);
/* A sequence of integers (or a single integer, read as a list of one). On
 * input *n is the capacity of `out`; on output the count. Missing: *n = 0. */
dt_status dt_cfg_int_list(dt_cfg *map, const char *key, int64_t *out, int *n);
/* A sequence of strings (or a single string); pointers owned by the tree. */
dt_status dt_cfg_str_list(dt_cfg *map, const char *key, const char **out, int *n);

/* Mark a whole subtree used (for sections read by someone else). */
void dt_cfg_mark_used(dt_cfg *node);

/* DT_ERR_CONFIG naming the first key that no getter read ("unknown key"),
 * with its file:line and the keys that are known in the same map. */
dt_status dt_cfg_check_unused(const dt_cfg *root);

/* An error about a node's value: "FILE:LINE: key 'a.b': expected X, found Y". */
dt_status dt_cfg_error(const dt_cfg *node, const char *expected, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write the tree (with overrides applied) as YAML. */
dt_status dt_cfg_write_yaml(const dt_cfg *root, FILE *out);
/* The same as a malloc'd string, owned by the caller. */
char *dt_cfg_to_string(const dt_cfg *root);

#endif
