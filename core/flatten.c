/* flatten.c - the flatten engine (rules in flatten.h).
 *
 * A record goes through four steps:
 *  1. build: the visitor events of core/jsonproj become a tree in the
 *     per-record arena; a repeated key reuses its first node, so the tree
 *     already holds the last value at the first place;
 *  2. annotate: one walk in document order names every leaf (a scalar, an
 *     empty container, or a container turned into text) and resolves its
 *     column, storing the leaves as cells in document order, so every
 *     subtree without an explode below it is one range of cells; it also
 *     counts the rows each subtree yields (saturating), which is the guard;
 *  3. rows: the explode points are enumerated recursively (only they
 *     branch), each row being the concatenation of ranges; a column seen
 *     twice in a row is a collision;
 *  4. commit: only an accepted record creates its provisional columns and
 *     feeds types, counts and first appearances.
 * A record of the common kind skips steps 1-3: with at most one explode
 * path, lists as indexes and no depth limit (direct_ok), its leaves come
 * straight from the visitor events, each leaf's column found through its
 * path's shape (kept across records; see shape), and make its one row, or
 * with an array at the explode path one row per element: the leaves before
 * the array, the element's, those after. Only a repeated key needs the
 * tree (last value at the first place): the direct pass stops at the first
 * repeat and the record is done again through steps 1-3. Either way the
 * leaves, columns and rows are the same.
 * Strings in cells point into the line, into the decoder's buffer or into
 * the record arena; all live until the next record.
 */
#include "core/flatten.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/decode.h"
#include "core/fmt.h"
#include "core/hash.h"
#include "core/jsonproj.h"

#define HASH_SEED 0x666c6174ULL
#define DROPPED UINT32_MAX /* column id of a leaf that gives no cell (known_only) */
#define NO_HINT (UINT32_MAX - 1)

enum { N_SCALAR, N_OBJECT, N_ARRAY };

/* Node flags set by the annotation walk. */
#define F_EXPLODE 1     /* a non-empty array exploded at its path */
#define F_HAS_EXPLODE 2 /* an explode happens strictly below */

typedef struct node {
    uint8_t kind;
    uint8_t flags;
    uint8_t indexed; /* object whose keys are in the key table */
    uint8_t keynul;  /* its key holds a NUL byte (an escaped U+0000) */
    uint32_t epoch;  /* bumped when a repeated key empties the node, so its
                      * old keys in the key table no longer match */
    sf_value v; /* N_SCALAR */
    const char *key; /* name in the parent object */
    size_t klen;
    struct node *first, *last, *next;
    uint64_t keysig; /* object: key_sig() of each of its keys, or-ed */
    uint32_t nchild;
    uint32_t lo, hi; /* its leaves, as cells [lo, hi) of the record */
} node;

typedef struct etrie {
    char *key;
    size_t klen;
    int32_t child, next;
    int ends; /* an explode path ends here */
    int seen; /* a record held this path (any value) */
} etrie;

typedef struct column {
    const char *name;
    size_t len;
    uint8_t type;
    uint8_t seen; /* bit 1 << t for every type t of a non-null value */
    uint64_t nonnull;
    uint64_t first;
    uint32_t ordinal;
    uint32_t hint_at, hint_gen; /* its leaf in the hints of record hint_gen */
    uint32_t shape; /* the direct pass's shape that caches it; 0: none yet */
} column;

/* A column seen for the first time in the current record. */
typedef struct prov {
    uint64_t hash;
    const char *name;
    size_t len;
    uint32_t ordinal; /* its first leaf in the record */
    uint32_t k;       /* its id is ncols + k */
    int used;
} prov;

/* A leaf name of the previous record and its column: records tend to
 * repeat the shape of the one before, so a leaf is first compared with the
 * previous record's leaf at a cursor, which skips hashing and probing the
 * dictionary. Where the shapes differ (one more array element), the leaf
 * found through the dictionary moves the cursor past that column's place
 * in the previous record, so the leaves after it match again. */
typedef struct hint {
    size_t off, len; /* name bytes in the hint's name buffer */
    uint32_t id;     /* a committed column or DROPPED; NO_HINT otherwise */
} hint;

/* A key of a wide object in the per-record key table (gen: the record it
 * belongs to, so the table empties by a counter bump). */
typedef struct kslot {
    uint64_t hash;
    const node *parent;
    node *child;
    uint32_t gen;
    uint32_t epoch; /* the parent's epoch when the key was added */
} kslot;

/* Objects with more keys than this find repeated keys through the key
 * table instead of a scan of their keys, so wide objects stay linear. */
#define SCAN_KEYS 16

/* A path of the direct pass (a key or an index below another path),
 * kept across records: records repeat their shape, so a leaf's column is
 * found by following the path's links from the previous record, with no
 * name built, hashed or compared. Shape 0 is the root. */
typedef struct shape {
    uint64_t hash;   /* of (parent, key), for the shape table */
    const char *key; /* its key, or its index as text; in f->names */
    uint32_t klen;
    uint32_t parent;
    uint32_t first;  /* the child that came first last time; 0: none */
    uint32_t next;   /* the sibling that came after it last time; 0: none */
    uint32_t col;    /* its committed column; NO_HINT until there is one */
    uint32_t index;  /* the array index its key spells, once met as one; else UINT32_MAX */
    uint32_t gen;    /* the last record (hgen), or element (egen) when under, that held it */
    int32_t trie;    /* its node in the explode trie (keys from the root), or -1 */
    uint8_t keynul;  /* the key holds a NUL byte */
    uint8_t at_explode; /* the explode path (one path only; see direct_ok) */
    uint8_t under;   /* below it: repeats are counted per element (egen) */
} shape;

/* Past this many paths the direct pass is turned off (keys that never
 * repeat, such as ids used as keys, would grow the table without end). */
#define MAX_SHAPES (1u << 18)

/* An open container of the direct pass. */
typedef struct frame {
    uint32_t shape;
    uint32_t expect; /* the child expected next (the last one's next) */
    uint32_t prev;   /* the last child met; 0: none yet */
    uint32_t nchild;
    uint8_t kind;
    uint8_t explode; /* the array at the explode path: its values are the elements */
} frame;

/* A callback's return that stops the direct pass: the record needs the
 * tree. Never leaves this file. */
#define NEED_TREE (-1000)
/* Records done through the tree after a direct pass that had to stop:
 * inputs whose records all repeat keys pay the stopped pass rarely. */
#define TREE_AFTER_STOP 15

/* The rest of a row: the node list from n on, then up. */
typedef struct cont {
    const node *n;
    const struct cont *up;
} cont;

struct sf_flatten {
    sf_flatten_opts o;
    char *sep, *join_sep;
    size_t seplen, joinlen;
    etrie *trie;
    size_t ntrie;
    int32_t enode[SF_FLATTEN_MAX_EXPLODE]; /* explode path i's trie node */
    sf_jsonproj *dec;
    /* columns */
    sf_hmap *dict; /* name -> uint32 id */
    column *cols;
    size_t ncols, colcap;
    sf_arena names;
    prov *prov; /* open addressing, power-of-two size */
    size_t provcap, nprov;
    uint32_t *provorder; /* provisional slots in id order */
    hint *hints[2];      /* leaf names of the previous [0] and current [1] record */
    size_t nhints[2], hintcap[2];
    sf_buf hintnames[2];
    size_t nresolved;    /* leaves resolved in the current record */
    size_t hcur;         /* the hint the next leaf is compared with */
    uint32_t hgen;       /* the current record's number, for hint_gen */
    /* the current record */
    sf_arena mem;
    node **stack;
    size_t depth, stackcap;
    kslot *kt; /* keys of wide objects, open addressing */
    size_t ktcap, ktn;
    uint32_t ktgen;
    node *root;
    const char *key;
    size_t klen;
    int keynul; /* the pending key holds a NUL byte */
    const char *line, *line_end; /* the current record's text */
    uint64_t dups;
    uint64_t colls;
    sf_buf name;  /* the name being built */
    sf_buf text;  /* JSON / joined text being built */
    sf_flatten_cell *leaves; /* cells of the leaves, document order */
    size_t nleaves, leafcap;
    sf_flatten_cell *cur; /* the row being assembled */
    size_t ncur, curcap;
    sf_flatten_cell *cells; /* every row of the record */
    size_t ncells, cellcap;
    size_t *rowat; /* nrows + 1 offsets into rows */
    const sf_flatten_cell *rows; /* leaves when the one row is the leaves, else NULL: cells */
    size_t nrows, rowcap;
    uint32_t *stamp; /* per column id: last row it was set in */
    size_t stampcap;
    uint32_t rowstamp;
    int direct_ok;     /* the options allow the direct pass */
    uint32_t tree_left; /* records still to build as trees after a stop */
    frame *frames;     /* the direct pass's open containers */
    size_t nframes, framecap;
    shape *shapes;     /* paths met by the direct pass */
    size_t nshapes, shapecap;
    uint32_t *stab;    /* shape table: (parent, key) -> shape, 0 empty */
    size_t stabcap;
    /* the direct pass's explode (one path): the record's leaves before the
     * array [0, epre), element i's from eat[i] to the next one or epost,
     * the rest from epost */
    int32_t explode_t; /* the path's trie node, or -1 */
    uint32_t egen;     /* bumped per record and per element */
    size_t *eat, neat, eatcap;
    size_t epre, epost;
    int eseen;         /* the record held the path (any value) */
    int leaves_row; /* the record's one row is its leaves (direct, no collision) */
    int named;      /* the direct pass named a leaf in this record (d_leaf_name) */
    int shared;     /* two shapes have cached one column: a direct record may
                     * collide, so its row goes through finish_row */
    int collided; /* SF_COLLISION_ERROR hit, on column collided_col */
    uint32_t collided_col;
    sf_flatten_stats stats;
};

/* ---- options ---- */

void sf_flatten_opts_init(sf_flatten_opts *o)
{
    memset(o, 0, sizeof *o);
    o->sep = ".";
    o->lists = SF_LISTS_INDEX;
    o->join_sep = ",";
    o->max_depth = -1;
    o->max_rows = SF_FLATTEN_MAX_ROWS_DEFAULT;
    o->on_collision = SF_COLLISION_ERROR;
}

const char *sf_lists_policy_name(sf_lists_policy p)
{
    switch (p) {
    case SF_LISTS_INDEX: return "index";
    case SF_LISTS_JOIN: return "join";
    case SF_LISTS_JSON: return "json";
    }
    return "unknown";
}

int sf_lists_policy_parse(const char *name, sf_lists_policy *p)
{
    for (int i = SF_LISTS_INDEX; i <= SF_LISTS_JSON; i++) {
        if (strcmp(name, sf_lists_policy_name((sf_lists_policy)i)) == 0) {
            *p = (sf_lists_policy)i;
            return 0;
        }
    }
    return SF_E_INVAL;
}

const char *sf_collision_policy_name(sf_collision_policy p)
{
    switch (p) {
    case SF_COLLISION_ERROR: return "error";
    case SF_COLLISION_FIRST: return "first";
    case SF_COLLISION_LAST: return "last";
    }
    return "unknown";
}

int sf_collision_policy_parse(const char *name, sf_collision_policy *p)
{
    for (int i = SF_COLLISION_ERROR; i <= SF_COLLISION_LAST; i++) {
        if (strcmp(name, sf_collision_policy_name((sf_collision_policy)i)) == 0) {
            *p = (sf_collision_policy)i;
            return 0;
        }
    }
    return SF_E_INVAL;
}

sf_type sf_flatten_type_merge(sf_type a, sf_type b)
{
    if (a == SF_NULL)
        return b;
    if (b == SF_NULL || a == b)
        return a;
    if ((a == SF_INT && b == SF_DOUBLE) || (a == SF_DOUBLE && b == SF_INT))
        return SF_DOUBLE;
    return SF_STRING;
}

/* ---- building and freeing ---- */

static int32_t trie_child(const sf_flatten *f, int32_t t, const char *k, size_t n)
{
    for (int32_t c = f->trie[t].child; c >= 0; c = f->trie[c].next) {
        if (f->trie[c].klen == n && memcmp(f->trie[c].key, k, n) == 0)
            return c;
    }
    return -1;
}

/* 1 if a key of the dotted path is all digits. */
static int path_has_index(const char *path)
{
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "."), d = strspn(p, "0123456789");
        if (n && d >= n)
            return 1;
        p += n + (p[n] == '.');
    }
    return 0;
}

/* Adds an explode path to the trie; 1 when it was there already. */
static int trie_add(sf_flatten *f, const char *path, sf_error *err)
{
    int32_t t = 0;
    const char *seg = path;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
        if (n == 0)
            return sf_error_set(err, SF_E_INVAL, "explode path '%s': empty key (keys are joined "
                                "with '.', e.g. orders.items)", path);
        int32_t c = trie_child(f, t, seg, n);
        if (c < 0) {
            c = (int32_t)f->ntrie++;
            etrie *e = &f->trie[c];
            e->key = malloc(n + 1);
            if (!e->key)
                return sf_error_set(err, SF_E_NOMEM, "out of memory");
            memcpy(e->key, seg, n);
            e->key[n] = '\0';
            e->klen = n;
            e->child = -1;
            e->ends = 0;
            /* Appended last among its siblings; order does not matter. */
            e->next = f->trie[t].child;
            f->trie[t].child = c;
        }
        t = c;
        if (!dot)
            break;
        seg = dot + 1;
    }
    if (f->trie[t].ends)
        return sf_error_set(err, SF_E_INVAL, "explode path '%s' is given twice", path);
    f->trie[t].ends = 1;
    f->enode[f->o.nexplode++] = t;
    return 0;
}

int sf_flatten_new(const sf_flatten_opts *o, sf_flatten **out, sf_error *err)
{
    *out = NULL;
    if (!o->sep || !o->sep[0])
        return sf_error_set(err, SF_E_INVAL, "the key separator must not be empty");
    if (o->nexplode > SF_FLATTEN_MAX_EXPLODE)
        return sf_error_set(err, SF_E_INVAL, "too many explode paths (%zu; at most %d)",
                            o->nexplode, SF_FLATTEN_MAX_EXPLODE);
    sf_flatten *f = calloc(1, sizeof *f);
    if (!f)
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    f->o = *o;
    f->o.explode = NULL;
    f->sep = strdup(o->sep);
    f->join_sep = strdup(o->join_sep ? o->join_sep : ",");
    sf_arena_init(&f->mem, 64 * 1024);
    sf_arena_init(&f->names, 16 * 1024);
    size_t maxnodes = 1;
    for (size_t i = 0; i < o->nexplode; i++) {
        maxnodes++;
        for (const char *q = o->explode[i]; *q; q++)
            maxnodes += *q == '.';
    }
    f->trie = calloc(maxnodes, sizeof *f->trie);
    f->dec = sf_jsonproj_new(NULL, 0);
    f->dict = sf_hmap_new(sizeof(uint32_t), 64);
    f->provcap = 64;
    f->prov = calloc(f->provcap, sizeof *f->prov);
    f->provorder = malloc(f->provcap * sizeof *f->provorder);
    f->stackcap = 64;
    f->stack = malloc(f->stackcap * sizeof *f->stack);
    f->ktgen = 1; /* calloc'd slots hold generation 0: empty */
    if (!f->sep || !f->join_sep || !f->trie || !f->dec || !f->dict || !f->prov ||
        !f->provorder || !f->stack) {
        sf_flatten_free(f);
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    }
    f->seplen = strlen(f->sep);
    f->joinlen = strlen(f->join_sep);
    f->trie[0].child = f->trie[0].next = -1;
    f->ntrie = 1;
    f->o.nexplode = 0; /* counted again by trie_add */
    for (size_t i = 0; i < o->nexplode; i++) {
        int rc = trie_add(f, o->explode[i], err);
        if (rc) {
            sf_flatten_free(f);
            return rc;
        }
    }
    if (f->o.max_rows == 0)
        f->o.max_rows = SF_FLATTEN_MAX_ROWS_DEFAULT;
    f->nshapes = 1; /* the root */
    f->shapecap = 64;
    f->shapes = calloc(f->shapecap, sizeof *f->shapes);
    f->stabcap = 64;
    f->stab = calloc(f->stabcap, sizeof *f->stab);
    if (!f->shapes || !f->stab) {
        sf_flatten_free(f);
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    }
    /* One explode path goes through the direct pass too, unless a key of
     * it could also be an array index (the shapes name both alike). */
    f->explode_t = f->o.nexplode == 1 && !path_has_index(o->explode[0]) ? f->enode[0] : -1;
    f->direct_ok = !o->tree_only && (f->o.nexplode == 0 || f->explode_t >= 0) &&
                   f->o.lists == SF_LISTS_INDEX && f->o.max_depth < 0;
    f->shapes[0].trie = f->o.nexplode ? 0 : -1;
    *out = f;
    return 0;
}

void sf_flatten_free(sf_flatten *f)
{
    if (!f)
        return;
    free(f->eat);
    for (size_t i = 0; i < f->ntrie; i++)
        free(f->trie[i].key);
    free(f->trie);
    free(f->sep);
    free(f->join_sep);
    sf_jsonproj_free(f->dec);
    sf_hmap_free(f->dict);
    free(f->cols);
    sf_arena_free(&f->names);
    free(f->prov);
    free(f->provorder);
    for (int k = 0; k < 2; k++) {
        free(f->hints[k]);
        sf_buf_free(&f->hintnames[k]);
    }
    sf_arena_free(&f->mem);
    free(f->stack);
    free(f->frames);
    free(f->shapes);
    free(f->stab);
    free(f->kt);
    sf_buf_free(&f->name);
    sf_buf_free(&f->text);
    free(f->leaves);
    free(f->cur);
    free(f->cells);
    free(f->rowat);
    free(f->stamp);
    free(f);
}

/* Grows *p (elements of size sz, capacity *cap) to hold need elements. */
static int grow(void *pp, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*(void **)pp, c * sz);
    if (!q)
        return SF_E_NOMEM;
    *(void **)pp = q;
    *cap = c;
    return 0;
}

/* sf_buf_append() with the common case (room enough) inline: names and
 * hints are appended a few bytes at a time, once per key. */
static inline int put(sf_buf *b, const char *p, size_t n)
{
    if (b->cap - b->n < n + 1 && sf_buf_reserve(b, n + 1) != 0)
        return SF_E_NOMEM;
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return 0;
}

/* ---- step 1: the tree, from visitor events ---- */

static uint64_t key_hash(const node *parent, const char *k, size_t n)
{
    return sf_hash_bytes(k, n, (uint64_t)(uintptr_t)parent);
}

/* The slot of key k of parent in the key table: where it is, or the empty
 * slot where it goes. */
static kslot *kt_slot(sf_flatten *f, const node *parent, const char *k, size_t n, uint64_t h)
{
    size_t mask = f->ktcap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        kslot *e = &f->kt[i];
        if (e->gen != f->ktgen)
            return e;
        if (e->hash == h && e->parent == parent && e->epoch == parent->epoch &&
            e->child->klen == n && memcmp(e->child->key, k, n) == 0)
            return e;
    }
}

static int kt_add(sf_flatten *f, node *parent, node *child)
{
    if ((f->ktn + 1) * 2 > f->ktcap) {
        size_t cap = f->ktcap ? f->ktcap * 2 : 256;
        kslot *old = f->kt;
        size_t oldcap = f->ktcap;
        f->kt = calloc(cap, sizeof *f->kt);
        if (!f->kt) {
            f->kt = old;
            return SF_E_NOMEM;
        }
        f->ktcap = cap;
        for (size_t i = 0; i < oldcap; i++) {
            if (old[i].gen != f->ktgen)
                continue;
            /* Any free slot of the probe sequence will do: entries are
             * never equal, stale ones (old epochs) included. */
            size_t j = (size_t)old[i].hash & (cap - 1);
            while (f->kt[j].gen == f->ktgen)
                j = (j + 1) & (cap - 1);
            f->kt[j] = old[i];
        }
        free(old);
    }
    uint64_t h = key_hash(parent, child->key, child->klen);
    kslot *e = kt_slot(f, parent, child->key, child->klen, h);
    e->hash = h;
    e->parent = parent;
    e->child = child;
    e->gen = f->ktgen;
    e->epoch = parent->epoch;
    f->ktn++;
    return 0;
}

/* One bit for a key, from its length and its first and last bytes: an
 * object's keys or-ed together tell most new keys from repeated ones. */
static inline uint64_t key_sig(const char *k, size_t n)
{
    unsigned x = (unsigned)n * 7u;
    if (n)
        x += (unsigned char)k[0] * 3u + (unsigned char)k[n - 1] * 5u;
    return 1ull << (x & 63);
}

/* The child of object parent with the pending key, or NULL. */
static node *find_key(sf_flatten *f, node *parent)
{
    if (!parent->indexed) {
        /* Most keys are new to their object: the signature says so
         * without comparing them with every earlier key. */
        if (!(parent->keysig & key_sig(f->key, f->klen)))
            return NULL;
        for (node *c = parent->first; c; c = c->next) {
            if (c->klen == f->klen && memcmp(c->key, f->key, f->klen) == 0)
                return c;
        }
        return NULL;
    }
    kslot *e = kt_slot(f, parent, f->key, f->klen, key_hash(parent, f->key, f->klen));
    return e->gen == f->ktgen ? e->child : NULL;
}

/* The node the next value goes to: a new one, or for a repeated key the
 * first one with that key, emptied (its old subtree stays in the arena). */
static node *place(sf_flatten *f)
{
    node *parent = f->depth ? f->stack[f->depth - 1] : NULL;
    if (parent && parent->kind == N_OBJECT) {
        node *c = find_key(f, parent);
        if (c) {
            f->dups++;
            c->first = c->last = NULL;
            c->nchild = 0;
            c->indexed = 0;
            c->keysig = 0;
            c->epoch++;
            return c;
        }
    }
    node *n = sf_arena_alloc(&f->mem, sizeof *n);
    if (!n)
        return NULL;
    memset(n, 0, sizeof *n);
    if (!parent) {
        f->root = n;
        return n;
    }
    if (parent->kind == N_OBJECT) {
        n->key = f->key;
        n->klen = f->klen;
        n->keynul = (uint8_t)f->keynul;
        parent->keysig |= key_sig(f->key, f->klen);
    }
    if (parent->last)
        parent->last->next = n;
    else
        parent->first = n;
    parent->last = n;
    parent->nchild++;
    if (parent->kind == N_OBJECT && (parent->indexed || parent->nchild > SCAN_KEYS)) {
        if (!parent->indexed) {
            for (node *c = parent->first; c; c = c->next) {
                if (kt_add(f, parent, c) != 0)
                    return NULL;
            }
            parent->indexed = 1;
        } else if (kt_add(f, parent, n) != 0) {
            return NULL;
        }
    }
    return n;
}

static int open_container(sf_flatten *f, int kind)
{
    node *n = place(f);
    if (!n || grow(&f->stack, &f->stackcap, f->depth + 1, sizeof *f->stack) != 0)
        return SF_E_NOMEM;
    n->kind = (uint8_t)kind;
    f->stack[f->depth++] = n;
    return 0;
}

static int ev_object(void *ctx) { return open_container(ctx, N_OBJECT); }
static int ev_array(void *ctx) { return open_container(ctx, N_ARRAY); }

static int ev_end(void *ctx)
{
    sf_flatten *f = ctx;
    f->depth--;
    return 0;
}

/* Whether key k holds a NUL byte. One comes only from an escape: a key
 * read from the line as it is has none (a raw NUL byte is never valid
 * JSON). */
static int key_has_nul(const sf_flatten *f, const char *k, size_t n)
{
    uintptr_t at = (uintptr_t)k;
    return !(at >= (uintptr_t)f->line && at < (uintptr_t)f->line_end) && n &&
           memchr(k, '\0', n) != NULL;
}

static int ev_key(void *ctx, const char *k, size_t n)
{
    sf_flatten *f = ctx;
    f->key = k;
    f->klen = n;
    f->keynul = key_has_nul(f, k, n);
    return 0;
}

static int ev_scalar(void *ctx, const sf_value *v)
{
    sf_flatten *f = ctx;
    node *n = place(f);
    if (!n)
        return SF_E_NOMEM;
    n->kind = N_SCALAR;
    n->v = *v;
    return 0;
}

/* ---- step 2: naming the leaves ---- */

/* Appends s as a JSON string the way Python's json.dumps(ensure_ascii=False)
 * writes it, so flatten's JSON text is the reference's byte for byte. */
static int json_string(sf_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (sf_buf_reserve(b, n + 2) != 0)
        return SF_E_NOMEM;
    b->p[b->n++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t k = 0;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            k = 2;
        } else if (c < 0x20) {
            esc[0] = '\\';
            k = 2;
            switch (c) {
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            default:
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                k = 6;
            }
        }
        if (k == 0) {
            if (sf_buf_append(b, &s[i], 1) != 0)
                return SF_E_NOMEM;
        } else if (sf_buf_append(b, esc, k) != 0) {
            return SF_E_NOMEM;
        }
    }
    return sf_buf_append(b, "\"", 1);
}

/* Appends a scalar as text: JSON form (quoted strings) or, for joins, the
 * bare form (strings as they are, null as nothing). */
static int scalar_text(sf_buf *b, const sf_value *v, int json)
{
    char num[SF_FMT_BUF];
    switch (v->type) {
    case SF_NULL: return json ? sf_buf_append(b, "null", 4) : 0;
    case SF_BOOL: return v->u.b ? sf_buf_append(b, "true", 4) : sf_buf_append(b, "false", 5);
    case SF_INT: return sf_buf_append(b, num, (size_t)sf_fmt_int(v->u.i, num));
    case SF_DOUBLE: return sf_buf_append(b, num, (size_t)sf_fmt_double(v->u.d, num));
    case SF_STRING:
        return json ? json_string(b, v->u.s.p, v->u.s.n) : sf_buf_append(b, v->u.s.p, v->u.s.n);
    default: return SF_E_INTERNAL;
    }
}

/* Compact JSON text of a subtree (no whitespace), recursively; the depth is
 * bounded by the decoder's nesting limit. */
static int json_text(sf_buf *b, const node *n)
{
    if (n->kind == N_SCALAR)
        return scalar_text(b, &n->v, 1);
    int obj = n->kind == N_OBJECT;
    int rc = sf_buf_append(b, obj ? "{" : "[", 1);
    for (const node *c = n->first; c && !rc; c = c->next) {
        if (c != n->first)
            rc = sf_buf_append(b, ",", 1);
        if (!rc && obj) {
            rc = json_string(b, c->key, c->klen);
            if (!rc)
                rc = sf_buf_append(b, ":", 1);
        }
        if (!rc)
            rc = json_text(b, c);
    }
    return rc ? rc : sf_buf_append(b, obj ? "}" : "]", 1);
}

/* The text in f->text as a string value kept in the record arena. */
static int text_value(sf_flatten *f, sf_value *v)
{
    char *p = sf_arena_memdup(&f->mem, f->text.n ? (const char *)f->text.p : "", f->text.n);
    if (!p)
        return SF_E_NOMEM;
    *v = sf_string(p, f->text.n);
    return 0;
}

/* Column id of the name in f->name: a known column, or a provisional one
 * numbered after them (created at commit). */
static int resolve_name(sf_flatten *f, uint32_t ordinal, uint32_t *id)
{
    const char *nm = f->name.n ? (const char *)f->name.p : "";
    size_t len = f->name.n;
    uint64_t h = sf_hash_bytes(nm, len, HASH_SEED);
    const uint32_t *known = sf_hmap_find(f->dict, nm, len, h);
    if (known) {
        *id = *known;
        return 0;
    }
    if (f->o.known_only) {
        *id = DROPPED;
        return 0;
    }
    if (f->nprov * 2 >= f->provcap) {
        size_t cap = f->provcap * 2;
        prov *np = calloc(cap, sizeof *np);
        uint32_t *order = malloc(cap * sizeof *order);
        if (!np || !order) {
            free(np);
            free(order);
            return SF_E_NOMEM;
        }
        for (size_t k = 0; k < f->nprov; k++) {
            const prov *e = &f->prov[f->provorder[k]];
            size_t s = (size_t)e->hash & (cap - 1);
            while (np[s].used)
                s = (s + 1) & (cap - 1);
            np[s] = *e;
            order[k] = (uint32_t)s;
        }
        free(f->prov);
        free(f->provorder);
        f->prov = np;
        f->provorder = order;
        f->provcap = cap;
    }
    size_t s = (size_t)h & (f->provcap - 1);
    for (; f->prov[s].used; s = (s + 1) & (f->provcap - 1)) {
        const prov *e = &f->prov[s];
        if (e->hash == h && e->len == len && memcmp(e->name, nm, len) == 0) {
            *id = (uint32_t)(f->ncols + e->k);
            return 0;
        }
    }
    char *copy = sf_arena_memdup(&f->mem, nm, len);
    if (!copy)
        return SF_E_NOMEM;
    prov *e = &f->prov[s];
    e->hash = h;
    e->name = copy;
    e->len = len;
    e->ordinal = ordinal;
    e->k = (uint32_t)f->nprov;
    e->used = 1;
    f->provorder[f->nprov] = (uint32_t)s;
    *id = (uint32_t)(f->ncols + f->nprov++);
    return 0;
}

/* resolve_name(), or the previous record's answer for the same leaf when
 * its name is the same. */
static int resolve(sf_flatten *f, uint32_t ordinal, uint32_t *id)
{
    const char *nm = f->name.n ? (const char *)f->name.p : "";
    size_t len = f->name.n, i = f->nresolved++, j = f->hcur;
    const hint *prev = j < f->nhints[0] ? &f->hints[0][j] : NULL;
    int rc = 0;
    if (prev && prev->id != NO_HINT && prev->len == len &&
        memcmp(f->hintnames[0].p + prev->off, nm, len) == 0) {
        *id = prev->id;
        f->hcur = j + 1;
    } else {
        if ((rc = resolve_name(f, ordinal, id)) != 0)
            return rc;
        /* Only a name compared equal is ever taken from a hint, so a stale
         * place here costs a dictionary lookup, never a wrong column. */
        if (*id < f->ncols && f->cols[*id].hint_gen == f->hgen - 1 && f->cols[*id].hint_gen)
            f->hcur = f->cols[*id].hint_at + 1;
    }
    if (grow(&f->hints[1], &f->hintcap[1], i + 1, sizeof *f->hints[1]) != 0)
        return SF_E_NOMEM;
    hint *h = &f->hints[1][i];
    h->off = f->hintnames[1].n;
    h->len = len;
    /* A provisional id is not the column's until its record is accepted. */
    h->id = *id == DROPPED || *id < f->ncols ? *id : NO_HINT;
    if (*id < f->ncols) {
        f->cols[*id].hint_at = (uint32_t)i;
        f->cols[*id].hint_gen = f->hgen;
    }
    f->nhints[1] = i + 1;
    return put(&f->hintnames[1], nm, len);
}

/* Adds a leaf with value v under the name in f->name (none when its
 * column is dropped). */
static int leaf_cell(sf_flatten *f, sf_value v)
{
    if (grow(&f->leaves, &f->leafcap, f->nleaves + 1, sizeof *f->leaves) != 0)
        return SF_E_NOMEM;
    uint32_t id;
    int rc = resolve(f, (uint32_t)f->nleaves, &id);
    if (rc || id == DROPPED)
        return rc;
    f->leaves[f->nleaves].col = id;
    f->leaves[f->nleaves].v = v;
    f->nleaves++;
    return 0;
}

/* Makes n a leaf with value v under the name in f->name. */
static int leaf(sf_flatten *f, node *n, sf_value v)
{
    n->lo = (uint32_t)f->nleaves;
    int rc = leaf_cell(f, v);
    n->hi = (uint32_t)f->nleaves;
    return rc;
}

/* Appends sep (below the top level) and a key or an index to the column
 * name being built. A key may hold U+0000 (valid JSON; nul says it does);
 * column names are text, so it is written as the escape "\u0000" instead
 * of cutting the name short. */
static int push_key(sf_flatten *f, const char *k, size_t n, int top, int nul)
{
    if (!top && put(&f->name, f->sep, f->seplen) != 0)
        return SF_E_NOMEM;
    if (!nul)
        return put(&f->name, k, n);
    const char *z;
    while ((z = n ? memchr(k, '\0', n) : NULL) != NULL) {
        size_t m = (size_t)(z - k);
        if (put(&f->name, k, m) != 0 || put(&f->name, "\\u0000", 6) != 0)
            return SF_E_NOMEM;
        k += m + 1;
        n -= m + 1;
    }
    return put(&f->name, k, n);
}

static uint64_t sat_mul(uint64_t a, uint64_t b, uint64_t cap)
{
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r) || r > cap)
        return cap;
    return r;
}

static int all_scalars(const node *n)
{
    for (const node *c = n->first; c; c = c->next) {
        if (c->kind != N_SCALAR)
            return 0;
    }
    return 1;
}

/* Names the leaves of n (its name is f->name, depth keys deep; et is its
 * explode-trie node, -1 off every explode path; elem says n is an element
 * of an exploded array, which is never exploded again). Sets *rows to the
 * rows n yields, saturated at max_rows + 1. */
static int annotate(sf_flatten *f, node *n, int depth, int32_t et, int elem, uint64_t *rows)
{
    uint64_t cap = f->o.max_rows + 1;
    int md = f->o.max_depth;
    int rc = 0;
    *rows = 1;
    if (et >= 0)
        f->trie[et].seen |= f->trie[et].ends;
    n->flags = 0;
    if (n->kind == N_SCALAR)
        return leaf(f, n, n->v);
    if (n->nchild == 0)
        return leaf(f, n, sf_null());
    int text = md >= 0 && depth > md && et < 0;
    if (n->kind == N_ARRAY && !text && !(et >= 0 && f->trie[et].ends && !elem)) {
        if (f->o.lists == SF_LISTS_JSON)
            text = 1;
        else if (f->o.lists == SF_LISTS_JOIN && all_scalars(n)) {
            f->text.n = 0;
            for (const node *c = n->first; c && !rc; c = c->next) {
                if (c != n->first)
                    rc = sf_buf_append(&f->text, f->join_sep, f->joinlen);
                if (!rc)
                    rc = scalar_text(&f->text, &c->v, 0);
            }
            sf_value v;
            if (!rc)
                rc = text_value(f, &v);
            return rc ? rc : leaf(f, n, v);
        }
    }
    if (text) {
        f->text.n = 0;
        sf_value v;
        rc = json_text(&f->text, n);
        if (!rc)
            rc = text_value(f, &v);
        return rc ? rc : leaf(f, n, v);
    }
    n->lo = (uint32_t)f->nleaves;
    size_t base = f->name.n;
    if (n->kind == N_ARRAY && et >= 0 && f->trie[et].ends && !elem) {
        /* Exploded: each element under the array's own name. */
        n->flags |= F_EXPLODE;
        uint64_t sum = 0;
        for (node *c = n->first; c && !rc; c = c->next) {
            uint64_t r;
            rc = annotate(f, c, depth, et, 1, &r);
            sum = sum + r > cap ? cap : sum + r;
        }
        *rows = sum;
    } else if (n->kind == N_ARRAY) {
        uint32_t i = 0;
        for (node *c = n->first; c && !rc; c = c->next, i++) {
            char idx[SF_FMT_BUF];
            int k = 1;
            if (i < 10) /* most arrays are short */
                idx[0] = (char)('0' + i);
            else
                k = sf_fmt_int((int64_t)i, idx);
            uint64_t r;
            rc = push_key(f, idx, (size_t)k, 0, 0);
            if (!rc)
                rc = annotate(f, c, depth + 1, -1, 0, &r);
            f->name.n = base;
        }
    } else {
        uint64_t prod = 1;
        for (node *c = n->first; c && !rc; c = c->next) {
            int32_t ct = et >= 0 ? trie_child(f, et, c->key, c->klen) : -1;
            uint64_t r;
            rc = push_key(f, c->key, c->klen, depth == 0, c->keynul);
            if (!rc)
                rc = annotate(f, c, depth + 1, ct, 0, &r);
            f->name.n = base;
            if (c->flags & (F_EXPLODE | F_HAS_EXPLODE)) {
                n->flags |= F_HAS_EXPLODE;
                prod = sat_mul(prod, r, cap);
            }
        }
        *rows = prod;
    }
    n->hi = (uint32_t)f->nleaves;
    return rc;
}

/* ---- step 3: rows ---- */

/* Makes room for column ids below n in the per-row stamps. */
static int stamp_room(sf_flatten *f, size_t n)
{
    if (n <= f->stampcap)
        return 0;
    size_t cap = f->stampcap ? f->stampcap : 64;
    while (cap < n)
        cap *= 2;
    uint32_t *s = realloc(f->stamp, cap * sizeof *s);
    if (!s)
        return SF_E_NOMEM;
    f->stamp = s;
    memset(f->stamp + f->stampcap, 0, (cap - f->stampcap) * sizeof *s);
    f->stampcap = cap;
    return 0;
}

/* The assembled row goes to the record's rows, a column seen twice in it
 * handled by the collision policy. */
static int finish_row(sf_flatten *f, const sf_flatten_cell *row, size_t n)
{
    if (f->collided)
        return 0;
    if (++f->rowstamp == 0) {
        memset(f->stamp, 0, f->stampcap * sizeof *f->stamp);
        f->rowstamp = 1;
    }
    if (grow(&f->cells, &f->cellcap, f->ncells + n + 1, sizeof *f->cells) != 0 ||
        grow(&f->rowat, &f->rowcap, f->nrows + 2, sizeof *f->rowat) != 0)
        return SF_E_NOMEM;
    size_t start = f->ncells;
    for (size_t i = 0; i < n; i++) {
        const sf_flatten_cell *c = &row[i];
        if (f->stamp[c->col] != f->rowstamp) {
            f->stamp[c->col] = f->rowstamp;
            f->cells[f->ncells++] = *c;
            continue;
        }
        if (f->o.on_collision == SF_COLLISION_ERROR) {
            f->collided = 1;
            f->collided_col = c->col;
            return 0;
        }
        f->colls++;
        /* Collisions are rare: the earlier cell is looked for. */
        for (size_t j = start; f->o.on_collision == SF_COLLISION_LAST && j < f->ncells; j++) {
            if (f->cells[j].col == c->col) {
                f->cells[j].v = c->v;
                break;
            }
        }
    }
    f->rowat[++f->nrows] = f->ncells;
    return 0;
}

static int append_leaves(sf_flatten *f, const node *n)
{
    size_t k = n->hi - n->lo;
    if (k == 0)
        return 0;
    if (grow(&f->cur, &f->curcap, f->ncur + k, sizeof *f->cur) != 0)
        return SF_E_NOMEM;
    memcpy(f->cur + f->ncur, f->leaves + n->lo, k * sizeof *f->cur);
    f->ncur += k;
    return 0;
}

/* Emits every row of the nodes from n on (only n itself when single),
 * followed by the continuation k. Recursion happens only at explode points
 * and objects holding one, so its depth is bounded by their nesting. */
static int emit(sf_flatten *f, const node *n, int single, const cont *k)
{
    for (; n; n = single ? NULL : n->next) {
        if (!(n->flags & (F_EXPLODE | F_HAS_EXPLODE))) {
            if (append_leaves(f, n) != 0)
                return SF_E_NOMEM;
            continue;
        }
        cont rest = {single ? NULL : n->next, k};
        if (n->flags & F_HAS_EXPLODE)
            return emit(f, n->first, 0, &rest);
        size_t mark = f->ncur;
        for (const node *e = n->first; e && !f->collided; e = e->next) {
            int rc = emit(f, e, 1, &rest);
            if (rc)
                return rc;
            f->ncur = mark;
        }
        return 0;
    }
    if (k)
        return emit(f, k->n, 0, k->up);
    return finish_row(f, f->cur, f->ncur);
}

/* ---- the direct pass: leaves named from the events, no tree ---- */

/* The shape of key k (n bytes) below parent: found in the shape table or
 * added to it (*out). */
static int shape_get(sf_flatten *f, uint32_t parent, const char *k, size_t n, int nul,
                     int keyed, uint32_t *out)
{
    uint64_t h = sf_hash_bytes(k, n, HASH_SEED + parent);
    size_t mask = f->stabcap - 1, i = (size_t)h & mask;
    for (; f->stab[i]; i = (i + 1) & mask) {
        const shape *e = &f->shapes[f->stab[i]];
        if (e->hash == h && e->parent == parent && e->klen == n && memcmp(e->key, k, n) == 0) {
            *out = f->stab[i];
            return 0;
        }
    }
    if (f->nshapes >= MAX_SHAPES) {
        f->direct_ok = 0;
        return NEED_TREE;
    }
    char *copy = sf_arena_memdup(&f->names, n ? k : "", n);
    if (!copy || grow(&f->shapes, &f->shapecap, f->nshapes + 1, sizeof *f->shapes) != 0)
        return SF_E_NOMEM;
    uint32_t id = (uint32_t)f->nshapes++;
    shape *e = &f->shapes[id];
    memset(e, 0, sizeof *e);
    e->hash = h;
    e->key = copy;
    e->klen = (uint32_t)n;
    e->parent = parent;
    e->col = NO_HINT;
    e->index = UINT32_MAX;
    e->keynul = (uint8_t)nul;
    const shape *up = &f->shapes[parent];
    e->trie = keyed && up->trie >= 0 ? trie_child(f, up->trie, k, n) : -1;
    e->at_explode = f->explode_t >= 0 && e->trie == f->explode_t;
    e->under = up->under || up->at_explode;
    f->stab[i] = id;
    if (f->nshapes * 2 > f->stabcap) {
        size_t cap = f->stabcap * 2;
        uint32_t *t = calloc(cap, sizeof *t);
        if (!t)
            return SF_E_NOMEM;
        for (size_t j = 1; j < f->nshapes; j++) {
            size_t s = (size_t)f->shapes[j].hash & (cap - 1);
            while (t[s])
                s = (s + 1) & (cap - 1);
            t[s] = (uint32_t)j;
        }
        free(f->stab);
        f->stab = t;
        f->stabcap = cap;
    }
    *out = id;
    return 0;
}

/* d_child's way when key k is not the expected child: the shape from the
 * table (or a new one), and the order learnt. keyed: k is an object key
 * (it may hold a NUL byte), not an index. */
static __attribute__((noinline)) int d_child_miss(sf_flatten *f, frame *p, const char *k,
                                                  size_t n, int keyed, uint32_t *out)
{
    int rc = shape_get(f, p->shape, k, n, keyed && key_has_nul(f, k, n), keyed, out);
    if (rc)
        return rc;
    if (!keyed) /* k is p->nchild as text (d_value) */
        f->shapes[*out].index = p->nchild;
    if (p->prev)
        f->shapes[p->prev].next = *out;
    else
        f->shapes[p->shape].first = *out;
    return 0;
}

/* Child c of the innermost open container p is met: noted, the order
 * followed on; NEED_TREE when it was met before in this record. */
static inline int d_take(sf_flatten *f, frame *p, uint32_t c, uint32_t *out)
{
    shape *s = &f->shapes[c];
    uint32_t g = s->under ? f->egen : f->hgen;
    if (s->gen == g)
        return NEED_TREE;
    s->gen = g;
    f->eseen |= s->at_explode;
    p->prev = c;
    p->expect = s->next;
    p->nchild++;
    *out = c;
    return 0;
}

/* The child of the innermost open container with key k: the one that
 * followed the previous child last time when its key is k, otherwise from
 * the table (and the order learnt). A child met twice in one record is a
 * repeated key: the record needs the tree. */
static inline int d_child(sf_flatten *f, const char *k, size_t n, int keyed, uint32_t *out)
{
    frame *p = &f->frames[f->nframes - 1];
    uint32_t c = p->expect;
    if (__builtin_expect(!c || f->shapes[c].klen != n || !sf_key_eq(f->shapes[c].key, k, n), 0)) {
        int rc = d_child_miss(f, p, k, n, keyed, &c);
        if (rc)
            return rc;
    }
    return d_take(f, p, c, out);
}

/* d_leaf's way for a shape with no committed column yet: its name built
 * from the open containers' shapes and resolved (cached once the column
 * is committed). */
static __attribute__((noinline)) int d_leaf_name(sf_flatten *f, uint32_t s, uint32_t *id)
{
    f->name.n = 0;
    f->named = 1;
    /* An exploded element's frame has the array's shape: named once. */
    for (size_t i = 1, last = 0; i <= f->nframes; i++) {
        size_t id = i < f->nframes ? f->frames[i].shape : s;
        if (id == last)
            continue;
        const shape *e = &f->shapes[id];
        if (push_key(f, e->key, e->klen, i == 1, e->keynul) != 0)
            return SF_E_NOMEM;
        last = id;
    }
    int rc = resolve_name(f, (uint32_t)f->nleaves, id);
    if (rc)
        return rc;
    if (*id < f->ncols) {
        f->shapes[s].col = *id;
        column *c = &f->cols[*id];
        if (c->shape && c->shape != s)
            f->shared = 1; /* {"a.b":1} and {"a":{"b":2}}: the same column */
        c->shape = s;
    }
    return 0;
}

/* A leaf of shape s: its cached column, or its name resolved. */
static inline int d_leaf(sf_flatten *f, uint32_t s, const sf_value *v)
{
    uint32_t id = f->shapes[s].col;
    if (f->nleaves >= f->leafcap &&
        grow(&f->leaves, &f->leafcap, f->nleaves + 1, sizeof *f->leaves) != 0)
        return SF_E_NOMEM;
    if (__builtin_expect(id == NO_HINT, 0)) {
        int rc = d_leaf_name(f, s, &id);
        if (rc || id == DROPPED)
            return rc;
    }
    f->leaves[f->nleaves].col = id;
    f->leaves[f->nleaves].v = *v;
    f->nleaves++;
    return 0;
}

/* The shape of the next value of the innermost open container: an array's
 * next index (an object's value was placed by its key). */
static inline int d_value(sf_flatten *f, uint32_t *s)
{
    frame *p = &f->frames[f->nframes - 1];
    if (p->kind == N_OBJECT) {
        *s = p->prev;
        return 0;
    }
    if (p->explode) {
        /* An element of the exploded array: under the array's own name,
         * its leaves from here on; its keys may repeat the last one's. */
        if (grow(&f->eat, &f->eatcap, f->neat + 1, sizeof *f->eat) != 0)
            return SF_E_NOMEM;
        f->eat[f->neat++] = f->nleaves;
        f->egen++;
        p->nchild++;
        *s = p->shape;
        return 0;
    }
    uint32_t i = p->nchild;
    /* The element that came next last time, known by its index: no text
     * made or compared. */
    if (p->expect && f->shapes[p->expect].index == i)
        return d_take(f, p, p->expect, s);
    char idx[SF_FMT_BUF];
    int k = 1;
    if (i < 10)
        idx[0] = (char)('0' + i);
    else
        k = sf_fmt_int((int64_t)i, idx);
    return d_child(f, idx, (size_t)k, 0, s);
}

static int d_open(sf_flatten *f, int kind)
{
    uint32_t s = 0;
    int rc = f->nframes ? d_value(f, &s) : 0;
    if (rc || grow(&f->frames, &f->framecap, f->nframes + 1, sizeof *f->frames) != 0)
        return rc ? rc : SF_E_NOMEM;
    frame *c = &f->frames[f->nframes++];
    c->shape = s;
    c->expect = f->shapes[s].first;
    c->prev = 0;
    c->nchild = 0;
    c->kind = (uint8_t)kind;
    /* An array at the explode path, unless it is itself an element. */
    c->explode = kind == N_ARRAY && f->shapes[s].at_explode && f->nframes > 1 &&
                 !(c - 1)->explode;
    if (c->explode)
        f->epre = f->nleaves;
    return 0;
}

static int d_object(void *ctx) { return d_open(ctx, N_OBJECT); }
static int d_array(void *ctx) { return d_open(ctx, N_ARRAY); }

/* An empty container below the top is a null under its own name. */
static int d_end(void *ctx)
{
    sf_flatten *f = ctx;
    const frame *c = &f->frames[--f->nframes];
    if (c->explode)
        f->epost = f->nleaves;
    if (c->nchild || !f->nframes)
        return 0;
    sf_value null = sf_null();
    return d_leaf(f, c->shape, &null);
}

static __attribute__((noinline)) int d_key_slow(sf_flatten *f, const char *k, size_t n)
{
    uint32_t s;
    return d_child(f, k, n, 1, &s);
}

/* The common key (the one that came next last time, short, not yet met in
 * this record) is taken here with no call, so the callback needs no
 * registers saved; anything else goes to the general way. */
static int d_key(void *ctx, const char *k, size_t n)
{
    sf_flatten *f = ctx;
    frame *p = &f->frames[f->nframes - 1];
    uint32_t c = p->expect;
    shape *s = &f->shapes[c];
    uint32_t g = s->under ? f->egen : f->hgen;
    if (c && s->klen == n && n <= 16 && sf_key_eq(s->key, k, n) && s->gen != g &&
        !s->at_explode) {
        s->gen = g;
        p->prev = c;
        p->expect = s->next;
        p->nchild++;
        return 0;
    }
    return d_key_slow(f, k, n);
}

/* A scalar outside any container is no record (the visit rejects it). */
static __attribute__((noinline)) int d_scalar_slow(sf_flatten *f, const sf_value *v)
{
    if (!f->nframes)
        return 0;
    uint32_t s;
    int rc = d_value(f, &s);
    return rc ? rc : d_leaf(f, s, v);
}

/* As d_key: an object's member whose column is known, with room for its
 * leaf, is placed here; anything else goes to the general way. */
static int d_scalar(void *ctx, const sf_value *v)
{
    sf_flatten *f = ctx;
    if (f->nframes && f->nleaves < f->leafcap) {
        const frame *p = &f->frames[f->nframes - 1];
        uint32_t id = f->shapes[p->prev].col;
        if (p->kind == N_OBJECT && id != NO_HINT) {
            f->leaves[f->nleaves].col = id;
            f->leaves[f->nleaves].v = *v;
            f->nleaves++;
            return 0;
        }
    }
    return d_scalar_slow(f, v);
}

/* ---- step 4: commit ---- */

static int add_column(sf_flatten *f, const char *name, size_t len, uint64_t first,
                      uint32_t ordinal, uint32_t *id)
{
    if (grow(&f->cols, &f->colcap, f->ncols + 1, sizeof *f->cols) != 0)
        return SF_E_NOMEM;
    char *copy = sf_arena_memdup(&f->names, name, len);
    if (!copy)
        return SF_E_NOMEM;
    uint64_t h = sf_hash_bytes(name, len, HASH_SEED);
    int inserted = 0;
    uint32_t *v = sf_hmap_upsert(f->dict, copy, len, h, &inserted);
    if (!v)
        return SF_E_NOMEM;
    if (!inserted) {
        *id = *v;
        return 0;
    }
    *v = (uint32_t)f->ncols;
    column *c = &f->cols[f->ncols];
    c->name = copy;
    c->len = len;
    c->type = SF_NULL;
    c->seen = 0;
    c->nonnull = 0;
    c->first = first;
    c->ordinal = ordinal;
    c->hint_at = c->hint_gen = 0;
    c->shape = 0;
    *id = (uint32_t)f->ncols++;
    return 0;
}

static int commit(sf_flatten *f, uint64_t order)
{
    for (size_t k = 0; k < f->nprov; k++) {
        prov *e = &f->prov[f->provorder[k]];
        uint32_t id;
        if (add_column(f, e->name, e->len, order, e->ordinal, &id) != 0)
            return SF_E_NOMEM;
    }
    /* A row of the direct pass without collisions is its leaves: one walk
     * (the tree's rows repeat and drop leaves, so they take two). */
    int same = f->leaves_row;
    for (size_t i = 0; i < f->nleaves; i++) {
        const sf_flatten_cell *cell = &f->leaves[i];
        column *c = &f->cols[cell->col];
        if (order < c->first) {
            c->first = order;
            c->ordinal = (uint32_t)i;
        }
        if (!same || cell->v.type == SF_NULL)
            continue;
        c->nonnull++;
        c->seen |= (uint8_t)(1u << cell->v.type);
        if (c->type != cell->v.type)
            c->type = (uint8_t)sf_flatten_type_merge((sf_type)c->type, (sf_type)cell->v.type);
    }
    for (size_t i = 0; !same && i < f->ncells; i++) {
        const sf_flatten_cell *cell = &f->cells[i];
        if (cell->v.type == SF_NULL)
            continue;
        column *c = &f->cols[cell->col];
        c->nonnull++;
        c->seen |= (uint8_t)(1u << cell->v.type);
        if (c->type != cell->v.type)
            c->type = (uint8_t)sf_flatten_type_merge((sf_type)c->type, (sf_type)cell->v.type);
    }
    f->stats.records++;
    f->stats.rows += f->nrows;
    f->stats.duplicate_keys += f->dups;
    f->stats.collisions += f->colls;
    return 0;
}

/* ---- a record ---- */

static void reset_record(sf_flatten *f)
{
    /* The last record's leaves become the hints (a rejected record's are
     * as good as any: only committed ids are kept). */
    if (f->nhints[1]) {
        hint *h = f->hints[0];
        size_t cap = f->hintcap[0];
        sf_buf b = f->hintnames[0];
        f->hints[0] = f->hints[1];
        f->hintcap[0] = f->hintcap[1];
        f->nhints[0] = f->nhints[1];
        f->hintnames[0] = f->hintnames[1];
        f->hints[1] = h;
        f->hintcap[1] = cap;
        f->hintnames[1] = b;
    }
    f->nhints[1] = 0;
    f->hintnames[1].n = 0;
    f->nresolved = 0;
    f->hcur = 0;
    f->hgen++;
    if (f->ktn) {
        if (++f->ktgen == 0) {
            memset(f->kt, 0, f->ktcap * sizeof *f->kt);
            f->ktgen = 1;
        }
        f->ktn = 0;
    }
    sf_arena_reset(&f->mem);
    if (f->nprov) {
        memset(f->prov, 0, f->provcap * sizeof *f->prov);
        f->nprov = 0;
    }
    f->depth = 0;
    f->nframes = 0;
    f->root = NULL;
    f->dups = f->colls = 0;
    f->nleaves = f->ncur = f->ncells = f->nrows = 0;
    f->collided = 0;
    f->leaves_row = 0;
    f->named = 0;
    f->rows = NULL;
    f->egen++;
    f->neat = 0;
    f->eseen = 0;
    f->name.n = 0;
}

/* Sets msg for the collision on f->collided_col. */
static int collision_reject(sf_flatten *f, char *msg, size_t msgcap)
{
    uint32_t id = f->collided_col;
    const char *nm = "";
    size_t n = 0;
    if (id < f->ncols) {
        nm = f->cols[id].name;
        n = f->cols[id].len;
    } else {
        const prov *e = &f->prov[f->provorder[id - f->ncols]];
        nm = e->name;
        n = e->len;
    }
    snprintf(msg, msgcap, "key collision: two paths give the column '%.*s' (see "
             "--on-collision)", (int)(n > 200 ? 200 : n), nm);
    f->nrows = 0;
    return 1 + SF_REJ_KEY_COLLISION;
}

static int too_many_rows(const sf_flatten *f, char *msg, size_t msgcap)
{
    snprintf(msg, msgcap, "too many rows: exploding the record gives more than %llu rows "
             "(the limit per record; see --max-rows-per-record)",
             (unsigned long long)f->o.max_rows);
    return 1 + SF_REJ_TOO_MANY_ROWS;
}

/* The rows of a record whose explode path held a non-empty array: per
 * element, the leaves before the array, the element's and those after. */
static int direct_explode_rows(sf_flatten *f)
{
    size_t pre = f->epre, post = f->epost, tail = f->nleaves - post;
    if (grow(&f->rowat, &f->rowcap, f->neat + 1, sizeof *f->rowat) != 0)
        return SF_E_NOMEM;
    for (size_t i = 0; i < f->neat && !f->collided; i++) {
        size_t lo = f->eat[i], hi = i + 1 < f->neat ? f->eat[i + 1] : post;
        size_t n = pre + (hi - lo) + tail;
        if (grow(&f->cur, &f->curcap, n, sizeof *f->cur) != 0)
            return SF_E_NOMEM;
        if (n) { /* an element and all around it may hold no leaf */
            memcpy(f->cur, f->leaves, pre * sizeof *f->cur);
            memcpy(f->cur + pre, f->leaves + lo, (hi - lo) * sizeof *f->cur);
            memcpy(f->cur + pre + (hi - lo), f->leaves + post, tail * sizeof *f->cur);
        }
        int rc = finish_row(f, f->cur, n);
        if (rc)
            return rc;
    }
    return 0;
}

/* The direct pass over the line: 0 with the record's rows made, NEED_TREE
 * when the record needs the tree, or what the visit returned. */
static int direct_record(sf_flatten *f, const char *line, size_t len, char *msg, size_t msgcap)
{
    sf_json_visitor vis = {d_object, d_end, d_array, d_end, d_key, d_scalar, f};
    int rc = sf_jsonproj_visit(f->dec, line, len, &vis, msg, msgcap);
    if (rc)
        return rc;
    if (f->eseen)
        f->trie[f->explode_t].seen = 1;
    if (f->neat > f->o.max_rows)
        return too_many_rows(f, msg, msgcap);
    if (stamp_room(f, f->ncols + f->nprov) != 0 ||
        grow(&f->rowat, &f->rowcap, 2, sizeof *f->rowat) != 0)
        return SF_E_NOMEM;
    f->rowat[0] = 0;
    if (f->neat)
        return direct_explode_rows(f);
    if (!f->named && !f->shared && f->nleaves) {
        /* Every leaf's column came from its shape, no two shapes share a
         * column and no shape repeats in a record (that needs the tree):
         * no collision can happen, so the row is the leaves as they are.
         * (A record without leaves takes finish_row: its row is empty, and
         * the leaves may not be allocated yet.) */
        f->rows = f->leaves;
        f->rowat[1] = f->nleaves;
        f->nrows = 1;
        f->leaves_row = 1;
        return 0;
    }
    rc = finish_row(f, f->leaves, f->nleaves);
    f->leaves_row = !rc && f->ncells == f->nleaves;
    return rc;
}

/* Steps 1-3 over the line. */
static int tree_record(sf_flatten *f, const char *line, size_t len, char *msg, size_t msgcap)
{
    sf_json_visitor vis = {ev_object, ev_end, ev_array, ev_end, ev_key, ev_scalar, f};
    int rc = sf_jsonproj_visit(f->dec, line, len, &vis, msg, msgcap);
    if (rc)
        return rc;
    /* An empty record still gives its row, with no cells. */
    uint64_t rows = 1;
    rc = f->root->nchild ? annotate(f, f->root, 0, 0, 0, &rows) : 0;
    if (rc)
        return rc;
    if (rows > f->o.max_rows)
        return too_many_rows(f, msg, msgcap);
    if (stamp_room(f, f->ncols + f->nprov) != 0 ||
        grow(&f->rowat, &f->rowcap, 2, sizeof *f->rowat) != 0)
        return SF_E_NOMEM;
    f->rowat[0] = 0;
    return emit(f, f->root, 1, NULL);
}

int sf_flatten_record(sf_flatten *f, const char *line, size_t len, uint64_t order, char *msg,
                      size_t msgcap)
{
    reset_record(f);
    f->line = line;
    f->line_end = line + len;
    int rc = NEED_TREE;
    if (f->direct_ok && f->tree_left == 0) {
        rc = direct_record(f, line, len, msg, msgcap);
        if (rc == NEED_TREE) {
            f->tree_left = TREE_AFTER_STOP;
            reset_record(f);
        }
    } else if (f->tree_left) {
        f->tree_left--;
    }
    if (rc == NEED_TREE)
        rc = tree_record(f, line, len, msg, msgcap);
    if (rc) {
        f->nrows = 0;
        return rc;
    }
    if (f->collided)
        return collision_reject(f, msg, msgcap);
    return commit(f, order);
}

size_t sf_flatten_nrows(const sf_flatten *f) { return f->nrows; }

const sf_flatten_cell *sf_flatten_row(const sf_flatten *f, size_t i, size_t *ncells)
{
    *ncells = f->rowat[i + 1] - f->rowat[i];
    return (f->rows ? f->rows : f->cells) + f->rowat[i];
}

const sf_flatten_stats *sf_flatten_get_stats(const sf_flatten *f) { return &f->stats; }

int sf_flatten_explode_seen(const sf_flatten *f, size_t i)
{
    return i < f->o.nexplode && f->trie[f->enode[i]].seen;
}

/* ---- the column dictionary ---- */

size_t sf_flatten_ncolumns(const sf_flatten *f) { return f->ncols; }

void sf_flatten_column_get(const sf_flatten *f, uint32_t id, sf_flatten_column *c)
{
    const column *k = &f->cols[id];
    c->name = k->name;
    c->len = k->len;
    c->type = (sf_type)k->type;
    c->nonnull = k->nonnull;
    c->first = k->first;
    c->ordinal = k->ordinal;
    c->seen = k->seen;
}

int64_t sf_flatten_column_find(const sf_flatten *f, const char *name, size_t len)
{
    const uint32_t *v = sf_hmap_find(f->dict, name, len, sf_hash_bytes(name, len, HASH_SEED));
    return v ? (int64_t)*v : -1;
}

int sf_flatten_column_add(sf_flatten *f, const sf_flatten_column *c, uint32_t *id)
{
    uint32_t k;
    size_t before = f->ncols;
    if (add_column(f, c->name, c->len, c->first, c->ordinal, &k) != 0)
        return SF_E_NOMEM;
    column *col = &f->cols[k];
    if (f->ncols == before && (c->first < col->first ||
                               (c->first == col->first && c->ordinal < col->ordinal))) {
        col->first = c->first;
        col->ordinal = c->ordinal;
    }
    col->type = (uint8_t)sf_flatten_type_merge((sf_type)col->type, c->type);
    col->seen |= c->seen;
    col->nonnull += c->nonnull;
    if (id)
        *id = k;
    return 0;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Record: per column, 8-byte little-endian length, first, nonnull, then
 * 4-byte ordinal, 1-byte type, then the name bytes. */
int sf_flatten_columns_encode(const sf_flatten *f, sf_buf *out)
{
    for (size_t i = 0; i < f->ncols; i++) {
        const column *c = &f->cols[i];
        if (sf_buf_reserve(out, 30 + c->len) != 0)
            return SF_E_NOMEM;
        unsigned char *p = out->p + out->n;
        put_u64(p, c->len);
        put_u64(p + 8, c->first);
        put_u64(p + 16, c->nonnull);
        p[24] = (unsigned char)(c->ordinal & 0xff);
        p[25] = (unsigned char)(c->ordinal >> 8);
        p[26] = (unsigned char)(c->ordinal >> 16);
        p[27] = (unsigned char)(c->ordinal >> 24);
        p[28] = c->type;
        p[29] = c->seen;
        memcpy(p + 30, c->name, c->len);
        out->n += 30 + c->len;
    }
    return 0;
}

int sf_flatten_columns_merge(sf_flatten *f, const unsigned char *rec, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        if (len - pos < 30)
            return SF_E_PARSE;
        const unsigned char *p = rec + pos;
        uint64_t n = get_u64(p);
        if (n > len - pos - 30 || p[28] > SF_STRING)
            return SF_E_PARSE;
        sf_flatten_column c;
        c.len = (size_t)n;
        c.first = get_u64(p + 8);
        c.nonnull = get_u64(p + 16);
        c.ordinal = (uint32_t)p[24] | (uint32_t)p[25] << 8 | (uint32_t)p[26] << 16 |
                    (uint32_t)p[27] << 24;
        c.type = (sf_type)p[28];
        c.seen = p[29];
        c.name = (const char *)p + 30;
        if (sf_flatten_column_add(f, &c, NULL) != 0)
            return SF_E_NOMEM;
        pos += 30 + c.len;
    }
    return 0;
}

typedef struct sort_entry {
    const column *c;
    uint32_t id;
} sort_entry;

static int cmp_first(const void *a, const void *b)
{
    const column *x = ((const sort_entry *)a)->c, *y = ((const sort_entry *)b)->c;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    if (x->ordinal != y->ordinal)
        return x->ordinal < y->ordinal ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

int sf_flatten_columns_order(const sf_flatten *f, uint32_t *order)
{
    sort_entry *e = malloc((f->ncols ? f->ncols : 1) * sizeof *e);
    if (!e)
        return SF_E_NOMEM;
    for (size_t i = 0; i < f->ncols; i++) {
        e[i].c = &f->cols[i];
        e[i].id = (uint32_t)i;
    }
    qsort(e, f->ncols, sizeof *e, cmp_first);
    for (size_t i = 0; i < f->ncols; i++)
        order[i] = e[i].id;
    free(e);
    return 0;
}
