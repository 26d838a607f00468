/* test_commit.c - atomic output commit of io/commit.h, in a fresh mkdtemp
 * directory per test: staging under _temporary/RUNID, commit with manifest
 * and _SUCCESS, overwrite that keeps the old output until the commit,
 * refusals that leave everything untouched, and abort. File-system state is
 * checked with plain stat/readdir calls, independently of io/fsutil. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/error.h"
#include "io/commit.h"
#include "io/filelist.h"
#include "io/fsutil.h"

typedef struct fixture {
    char dir[256];
    char out[300]; /* dir/out: the output directory the tests commit */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    const char *base = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/sf_commit_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->out, sizeof f->out, "%s/out", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sf_error err;
    int rc = sf_rmtree(f->dir, &err);
    free(f);
    return rc == 0 ? 0 : -1;
}

static char *path_of(const char *a, const char *b)
{
    static char buf[4][600];
    static int k;
    char tmp[sizeof buf[0]];
    snprintf(tmp, sizeof tmp, "%s/%s", a, b); /* a may be an earlier result */
    char *p = buf[k++ % 4];
    memcpy(p, tmp, sizeof tmp);
    return p;
}

static int is_dir(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static void write_text(const char *p, const char *text)
{
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

static void assert_file_text(const char *p, const char *want)
{
    FILE *fp = fopen(p, "rb");
    assert_non_null(fp);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
}

/* Entry names of a directory, sorted and joined with ','. */
static void listing(const char *dir, char *out, size_t cap)
{
    char names[32][256];
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        assert_true(n < 32);
        snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    }
    closedir(d);
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[256];
            memcpy(t, names[j], sizeof t);
            memcpy(names[j], names[j - 1], sizeof t);
            memcpy(names[j - 1], t, sizeof t);
        }
    }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strncat(out, ",", cap - strlen(out) - 1);
        strncat(out, names[i], cap - strlen(out) - 1);
    }
}

static void assert_listing(const char *dir, const char *want)
{
    char got[2048];
    listing(dir, got, sizeof got);
    assert_string_equal(got, want);
}

/* Stages what a run writes: a partition directory with a part file. */
static void stage_files(const sf_output_stage *st, const char *text)
{
    char *part_dir = path_of(st->tmpdir, "date=2025-08-01");
    assert_int_equal(mkdir(part_dir, 0777), 0);
    write_text(path_of(part_dir, "part-00000.csv"), text);
}

/* An existing committed output holding old.csv. */
static void make_old_output(const fixture *f)
{
    assert_int_equal(mkdir(f->out, 0777), 0);
    write_text(path_of(f->out, "old.csv"), "old\n");
    write_text(path_of(f->out, "_SUCCESS"), "");
    write_text(path_of(f->out, "_MANIFEST.json"), "{\"old\": true}");
}

static void test_prepare_on_new_output_stages_under_temporary_runid(void **state)
{
    fixture *f = *state;
    sf_output_stage st;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_output_prepare(&st, f->out, 0, "run1", &err), 0);
    assert_string_equal(st.out, f->out);
    assert_string_equal(st.root, f->out);
    assert_string_equal(st.tmpdir, path_of(f->out, "_temporary/run1"));
    assert_int_equal(st.replacing, 0);
    assert_int_equal(st.created, 1);
    assert_true(is_dir(st.tmpdir));
    assert_listing(f->out, "_temporary");
    assert_listing(path_of(f->out, "_temporary"), "run1");
    sf_output_stage_free(&st);
}

static void test_prepare_creates_missing_parent_directories(void **state)
{
    fixture *f = *state;
    char out[400];
    snprintf(out, sizeof out, "%s/a/b/out", f->dir);
    sf_output_stage st;
    sf_error err;
    assert_int_equal(sf_output_prepare(&st, out, 0, "r", &err), 0);
    assert_true(is_dir(path_of(out, "_temporary/r")));
    sf_output_stage_free(&st);
}

static void test_commit_moves_staged_files_and_writes_markers(void **state)
{
    fixture *f = *state;
    sf_output_stage st;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_output_prepare(&st, f->out, 0, "run1", &err), 0);
    stage_files(&st, "a,b\n1,2\n");
    const char *manifest = "{\"rows\": 1}\n";
    assert_int_equal(sf_output_commit(&st, manifest, strlen(manifest), &err), 0);
    assert_listing(f->out, "_MANIFEST.json,_SUCCESS,date=2025-08-01");
    assert_file_text(path_of(f->out, "_MANIFEST.json"), manifest);
    assert_file_text(path_of(f->out, "_SUCCESS"), "");
    assert_file_text(path_of(f->out, "date=2025-08-01/part-00000.csv"), "a,b\n1,2\n");
    assert_false(exists(path_of(f->out, "_temporary")));
    sf_output_stage_free(&st);
}

static void test_commit_keeps_temporary_holding_another_runs_files(void **state)
{
    fixture *f = *state;
    sf_output_stage st;
    sf_error err;
    assert_int_equal(sf_output_prepare(&st, f->out, 0, "mine", &err), 0);
    assert_int_equal(mkdir(path_of(f->out, "_temporary/other"), 0777), 0);
    stage_files(&st, "x\n");
    assert_int_equal(sf_output_commit(&st, "{}", 2, &err), 0);
    assert_listing(path_of(f->out, "_temporary"), "other");
    assert_true(exists(path_of(f->out, "_SUCCESS")));
    sf_output_stage_free(&st);
}

static void test_existing_output_without_overwrite_is_exists_and_untouched(void **state)
{
    fixture *f = *state;
    make_old_output(f);
    sf_output_stage st;
    memset(&st, 0, sizeof st);
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_output_prepare(&st, f->out, 0, "run2", &err), SF_E_EXISTS);
    assert_int_equal(err.code, SF_E_EXISTS);
    char want[600];
    snprintf(want, sizeof want, "output '%s' already exists; use --overwrite to replace it "
             "(only after the new output is complete)", f->out);
    assert_string_equal(err.msg, want);
    assert_listing(f->out, "_MANIFEST.json,_SUCCESS,old.csv");
    assert_listing(f->dir, "out");
    sf_output_stage_free(&st);
}

static void test_existing_empty_directory_without_overwrite_is_exists(void **state)
{
    fixture *f = *state;
    assert_int_equal(mkdir(f->out, 0777), 0);
    sf_output_stage st;
    memset(&st, 0, sizeof st);
    sf_error err;
    assert_int_equal(sf_output_prepare(&st, f->out, 0, "r", &err), SF_E_EXISTS);
    assert_listing(f->out, "");
    sf_output_stage_free(&st);
}

static void test_overwrite_keeps_old_output_until_commit(void **state)
{
    fixture *f = *state;
    make_old_output(f);
    sf_output_stage st;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_output_prepare(&st, f->out, 1, "run3", &err), 0);
    char root[400];
    snprintf(root, sizeof root, "%s.shardflow-run3", f->out);
    assert_string_equal(st.root, root);
    assert_string_equal(st.tmpdir, path_of(root, "_temporary/run3"));
    assert_int_equal(st.replacing, 1);
    assert_int_equal(st.created, 1);
    stage_files(&st, "new\n");
    /* Until the commit, OUT is exactly the old output. */
    assert_listing(f->out, "_MANIFEST.json,_SUCCESS,old.csv");
    assert_file_text(path_of(f->out, "old.csv"), "old\n");

    assert_int_equal(sf_output_commit(&st, "{\"new\": 1}", 10, &err), 0);
    assert_listing(f->out, "_MANIFEST.json,_SUCCESS,date=2025-08-01");
    assert_file_text(path_of(f->out, "_MANIFEST.json"), "{\"new\": 1}");
    assert_file_text(path_of(f->out, "date=2025-08-01/part-00000.csv"), "new\n");
    assert_listing(f->dir, "out"); /* no staging root or old copy left */
    sf_output_stage_free(&st);
}

static void test_overwrite_of_an_empty_directory_is_allowed(void **state)
{
    fixture *f = *state;
    assert_int_equal(mkdir(f->out, 0777), 0);
    sf_output_stage st;
    sf_error err;
    assert_int_equal(sf_output_prepare(&st, f->out, 1, "r", &err), 0);
    stage_files(&st, "n\n");
    assert_int_equal(sf_output_commit(&st, "{}", 2, &err), 0);
    assert_listing(f->out, "_MANIFEST.json,_SUCCESS,date=2025-08-01");
    assert_listing(f->dir, "out");
    sf_output_stage_free(&st);
}

static void test_overwrite_refuses_a_directory_that_is_not_an_output(void **state)
{
    fixture *f = *state;
    assert_int_equal(mkdir(f->out, 0777), 0);
    write_text(path_of(f->out, "thesis.tex"), "precious");
    sf_output_stage st;
    memset(&st, 0, sizeof st);
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_output_prepare(&st, f->out, 1, "r", &err), SF_E_INVAL);
    char want[600];
    snprintf(want, sizeof want, "refusing to overwrite '%s': it does not look like a "
             "shardflow output (no _SUCCESS or _MANIFEST.json, not empty)", f->out);
    assert_string_equal(err.msg, want);
    assert_listing(f->out, "thesis.tex");
    assert_file_text(path_of(f->out, "thesis.tex"), "precious");
    assert_listing(f->dir, "out");
    sf_output_stage_free(&st);
}

static void test_output_path_that_is_a_file_is_an_error(void **state)
{
    fixture *f = *state;
    write_text(f->out, "file");
    const int modes[] = {0, 1};
    for (size_t i = 0; i < 2; i++) {
        sf_output_stage st;
        memset(&st, 0, sizeof st);
        sf_error err;
        sf_error_clear(&err);
        assert_int_equal(sf_output_prepare(&st, f->out, modes[i], "r", &err), SF_E_INVAL);
        char want[600];
        snprintf(want, sizeof want, "output '%s' exists and is not a directory", f->out);
        assert_string_equal(err.msg, want);
        assert_file_text(f->out, "file");
        sf_output_stage_free(&st);
    }
    assert_listing(f->dir, "out");
}

static void test_abort_removes_staged_files_and_the_output_it_created(void **state)
{
    fixture *f = *state;
    sf_output_stage st;
    sf_error err;
    assert_int_equal(sf_output_prepare(&st, f->out, 0, "r", &err), 0);
    stage_files(&st, "partial");
    sf_output_abort(&st);
    assert_false(exists(f->out));
    assert_listing(f->dir, "");
    sf_output_stage_free(&st);
}

static void test_abort_of_overwrite_leaves_existing_output_intact(void **state)
{
    fixture *f = *state;
    make_old_output(f);
    sf_output_stage st;
    sf_error err;
    assert_int_equal(sf_output_prepare(&st, f->out, 1, "r", &err), 0);
    stage_files(&st, "partial");
    sf_output_abort(&st);
    assert_listing(f->dir, "out");
    assert_listing(f->out, "_MANIFEST.json,_SUCCESS,old.csv");
    assert_file_text(path_of(f->out, "old.csv"), "old\n");
    sf_output_stage_free(&st);
}

static void test_failed_commit_of_overwrite_leaves_old_output(void **state)
{
    fixture *f = *state;
    make_old_output(f);
    sf_output_stage st;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_output_prepare(&st, f->out, 1, "r", &err), 0);
    /* The staging directory vanished (e.g. removed by hand mid-run). */
    assert_int_equal(rmdir(st.tmpdir), 0);
    assert_int_equal(sf_output_commit(&st, "{}", 2, &err), SF_E_IO);
    assert_int_equal(err.code, SF_E_IO);
    char want[600];
    snprintf(want, sizeof want, "cannot list '%s': No such file or directory", st.tmpdir);
    assert_string_equal(err.msg, want);
    assert_listing(f->out, "_MANIFEST.json,_SUCCESS,old.csv");
    sf_output_abort(&st);
    assert_listing(f->dir, "out");
    sf_output_stage_free(&st);
}

static void test_paths_match_prepare_without_touching_the_disk(void **state)
{
    fixture *f = *state;
    sf_output_stage st;
    char out_slash[400];
    snprintf(out_slash, sizeof out_slash, "%s//", f->out);
    assert_int_equal(sf_output_paths(&st, out_slash, 0, "r9"), 0);
    assert_string_equal(st.out, f->out);
    assert_string_equal(st.root, f->out);
    assert_string_equal(st.tmpdir, path_of(f->out, "_temporary/r9"));
    assert_int_equal(st.replacing, 0);
    sf_output_stage_free(&st);

    assert_int_equal(sf_output_paths(&st, f->out, 1, "r9"), 0);
    char root[400];
    snprintf(root, sizeof root, "%s.shardflow-r9", f->out);
    assert_string_equal(st.root, root);
    assert_string_equal(st.tmpdir, path_of(root, "_temporary/r9"));
    assert_int_equal(st.replacing, 1);
    sf_output_stage_free(&st);
    assert_listing(f->dir, "");
}

static void test_trailing_slash_names_the_same_output(void **state)
{
    fixture *f = *state;
    make_old_output(f);
    char out_slash[400];
    snprintf(out_slash, sizeof out_slash, "%s/", f->out);
    sf_output_stage st;
    sf_error err;
    assert_int_equal(sf_output_prepare(&st, out_slash, 1, "r", &err), 0);
    stage_files(&st, "new\n");
    assert_int_equal(sf_output_commit(&st, "{}", 2, &err), 0);
    assert_listing(f->dir, "out");
    assert_file_text(path_of(f->out, "date=2025-08-01/part-00000.csv"), "new\n");
    sf_output_stage_free(&st);
}

static void test_stage_free_twice_is_safe(void **state)
{
    (void)state;
    sf_output_stage st;
    assert_int_equal(sf_output_paths(&st, "x", 0, "r"), 0);
    sf_output_stage_free(&st);
    sf_output_stage_free(&st);
    sf_output_stage_free(NULL);
}

/* ---- write modes, rollback of only what a run made, the manifest ---- */

/* Writes text to dir/rel, creating rel's directories. */
static void put(const char *dir, const char *rel, const char *text)
{
    char path[700], sub[700];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    snprintf(sub, sizeof sub, "%s", path);
    *strrchr(sub, '/') = '\0';
    sf_error err;
    assert_int_equal(sf_mkdirs(sub, &err), 0);
    write_text(path, text);
}

static ino_t inode_of(const char *p)
{
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    return st.st_ino;
}

/* The whole file, NUL-terminated, in *data (caller frees). */
static void read_all(const char *p, char **data)
{
    size_t len = 0;
    sf_error err;
    *data = NULL;
    assert_int_equal(sf_read_file(p, data, &len, &err), 0);
}

static const char *const OLD_MANIFEST =
    "{\"run_id\": \"r0\", \"files\": [\n"
    "  {\"path\": \"date=2025-08-01/part-00000.csv\", \"rows\": 1, \"bytes\": 4},\n"
    "  {\"path\": \"date=2025-08-02/part-00000.csv\", \"rows\": 2, \"bytes\": 4}]}\n";

/* A committed output of run r0 with two partitions. */
static void make_partitioned_output(const fixture *f)
{
    put(f->out, "date=2025-08-01/part-00000.csv", "d01\n");
    put(f->out, "date=2025-08-02/part-00000.csv", "d02\n");
    write_text(path_of(f->out, "_MANIFEST.json"), OLD_MANIFEST);
    write_text(path_of(f->out, "_SUCCESS"), "");
    write_text(path_of(f->out, "_METRICS.json"), "{\"old\": 1}");
}

static const char *const NEW_MANIFEST =
    "{\"run_id\": \"r1\", \"files\": [\n"
    "  {\"path\": \"date=2025-08-02/part-00000.csv\", \"rows\": 5, \"bytes\": 8},\n"
    "  {\"path\": \"date=2025-08-03/part-00000.csv\", \"rows\": 3, \"bytes\": 8}]}\n";

static void test_mode_names_parse_and_print(void **state)
{
    (void)state;
    const char *names[] = {"error", "overwrite", "overwrite-partitions", "append"};
    for (int i = 0; i < 4; i++) {
        sf_commit_mode m;
        assert_int_equal(sf_commit_mode_parse(names[i], &m), 0);
        assert_int_equal((int)m, i);
        assert_string_equal(sf_commit_mode_name(m), names[i]);
    }
    sf_commit_mode m;
    assert_int_equal(sf_commit_mode_parse("replace", &m), SF_E_INVAL);
}

static void test_overwrite_partitions_replaces_only_the_partitions_written(void **state)
{
    fixture *f = *state;
    make_partitioned_output(f);
    ino_t kept_inode = inode_of(path_of(f->out, "date=2025-08-01/part-00000.csv"));
    sf_output_stage st;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_output_prepare(&st, f->out, SF_COMMIT_OVERWRITE_PARTITIONS, "r1", &err),
                     0);
    assert_int_equal(st.replacing, 1);
    put(st.tmpdir, "date=2025-08-02/part-00000.csv", "new d02\n");
    put(st.tmpdir, "date=2025-08-03/part-00000.csv", "new d03\n");
    write_text(path_of(st.tmpdir, "_METRICS.json"), "{\"new\": 1}");
    /* Until the commit OUT is the old output. */
    assert_listing(f->out, "_MANIFEST.json,_METRICS.json,_SUCCESS,date=2025-08-01,"
                           "date=2025-08-02");
    assert_int_equal(sf_output_commit(&st, NEW_MANIFEST, strlen(NEW_MANIFEST), &err), 0);
    assert_listing(f->out, "_MANIFEST.json,_METRICS.json,_SUCCESS,date=2025-08-01,"
                           "date=2025-08-02,date=2025-08-03");
    /* Untouched: the very same file. Replaced: only the new file. */
    assert_file_text(path_of(f->out, "date=2025-08-01/part-00000.csv"), "d01\n");
    assert_true(inode_of(path_of(f->out, "date=2025-08-01/part-00000.csv")) == kept_inode);
    assert_listing(path_of(f->out, "date=2025-08-02"), "part-00000.csv");
    assert_file_text(path_of(f->out, "date=2025-08-02/part-00000.csv"), "new d02\n");
    assert_file_text(path_of(f->out, "date=2025-08-03/part-00000.csv"), "new d03\n");
    assert_file_text(path_of(f->out, "_METRICS.json"), "{\"new\": 1}");
    assert_file_text(path_of(f->out, "_SUCCESS"), "");
    assert_listing(f->dir, "out");
    assert_int_equal(st.merged.files_total, 3);
    assert_int_equal(st.merged.files_kept, 1);
    assert_int_equal(st.merged.files_dropped, 1);
    assert_int_equal(st.merged.rows_total, 9);
    /* The manifest lists every file with the run that wrote it. */
    char *m;
    read_all(path_of(f->out, "_MANIFEST.json"), &m);
    sf_filelist fl = SF_FILELIST_INIT;
    assert_int_equal(sf_filelist_from_manifest(m, strlen(m), &fl, &err), 0);
    assert_int_equal(fl.n, 3);
    assert_string_equal(fl.v[0].path, "date=2025-08-01/part-00000.csv");
    assert_string_equal(fl.v[0].run_id, "r0");
    assert_string_equal(fl.v[1].path, "date=2025-08-02/part-00000.csv");
    assert_string_equal(fl.v[1].run_id, "r1");
    assert_int_equal(fl.v[1].rows, 5);
    assert_string_equal(fl.v[2].run_id, "r1");
    assert_non_null(strstr(m, "\"write_mode\": \"overwrite-partitions\""));
    sf_filelist_free(&fl);
    free(m);
    sf_output_stage_free(&st);
}

static void test_append_adds_run_unique_files_and_replaces_none(void **state)
{
    fixture *f = *state;
    make_partitioned_output(f);
    sf_error err;
    sf_error_clear(&err);
    const char *runs[] = {"r1", "r2"};
    for (int k = 0; k < 2; k++) {
        sf_output_stage st;
        assert_int_equal(sf_output_prepare(&st, f->out, SF_COMMIT_APPEND, runs[k], &err), 0);
        put(st.tmpdir, "date=2025-08-02/part-00000.csv", "more\n");
        put(st.tmpdir, "_bad_records/part-00000.jsonl", "{}\n");
        write_text(path_of(st.tmpdir, "_METRICS.json"), "{}");
        const char *man = "{\"run_id\": \"x\", \"files\": [{\"path\": "
                          "\"date=2025-08-02/part-00000.csv\", \"rows\": 1, \"bytes\": 5}]}";
        assert_int_equal(sf_output_commit(&st, man, strlen(man), &err), 0);
        sf_output_stage_free(&st);
    }
    assert_listing(path_of(f->out, "date=2025-08-01"), "part-00000.csv");
    assert_listing(path_of(f->out, "date=2025-08-02"),
                   "part-00000-r1.csv,part-00000-r2.csv,part-00000.csv");
    assert_file_text(path_of(f->out, "date=2025-08-02/part-00000.csv"), "d02\n");
    assert_file_text(path_of(f->out, "date=2025-08-02/part-00000-r2.csv"), "more\n");
    assert_listing(path_of(f->out, "_bad_records"), "part-00000-r1.jsonl,part-00000-r2.jsonl");
    char *m;
    read_all(path_of(f->out, "_MANIFEST.json"), &m);
    sf_filelist fl = SF_FILELIST_INIT;
    assert_int_equal(sf_filelist_from_manifest(m, strlen(m), &fl, &err), 0);
    assert_int_equal(fl.n, 4);
    assert_string_equal(fl.v[1].path, "date=2025-08-02/part-00000-r1.csv");
    assert_string_equal(fl.v[1].run_id, "r1");
    assert_string_equal(fl.v[3].path, "date=2025-08-02/part-00000.csv");
    assert_string_equal(fl.v[3].run_id, "r0");
    /* "runs": the three runs that built the output, oldest first. */
    const char *rl = strstr(m, "\"runs\": [");
    assert_non_null(rl);
    const char *r0 = strstr(rl, "\"run_id\": \"r0\"");
    const char *r1 = strstr(rl, "\"run_id\": \"r1\"");
    const char *r2 = strstr(rl, "\"run_id\": \"r2\"");
    assert_non_null(r0);
    assert_non_null(r1);
    assert_non_null(r2);
    assert_true(r0 < r1 && r1 < r2);
    sf_filelist_free(&fl);
    free(m);
    assert_listing(f->dir, "out");
}

static void test_append_to_a_new_output_creates_it(void **state)
{
    fixture *f = *state;
    sf_output_stage st;
    sf_error err;
    assert_int_equal(sf_output_prepare(&st, f->out, SF_COMMIT_APPEND, "r1", &err), 0);
    assert_int_equal(st.replacing, 0);
    put(st.tmpdir, "date=2025-08-02/part-00000.csv", "x\n");
    assert_int_equal(sf_output_commit(&st, NEW_MANIFEST, strlen(NEW_MANIFEST), &err), 0);
    assert_listing(path_of(f->out, "date=2025-08-02"), "part-00000-r1.csv");
    assert_listing(f->out, "_MANIFEST.json,_SUCCESS,date=2025-08-02");
    sf_output_stage_free(&st);
}

static void test_merge_modes_refuse_an_output_without_manifest(void **state)
{
    fixture *f = *state;
    make_old_output(f);
    assert_int_equal(unlink(path_of(f->out, "_MANIFEST.json")), 0);
    sf_output_stage st;
    memset(&st, 0, sizeof st);
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_output_prepare(&st, f->out, SF_COMMIT_APPEND, "r", &err), SF_E_INVAL);
    assert_non_null(strstr(err.msg, "has no _MANIFEST.json"));
    assert_listing(f->dir, "out");
    sf_output_stage_free(&st);
}

static void test_failed_commit_into_new_output_removes_only_what_it_moved(void **state)
{
    fixture *f = *state;
    sf_output_stage st;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_output_prepare(&st, f->out, SF_COMMIT_ERROR, "r", &err), 0);
    put(st.tmpdir, "date=2025-08-01/part-00000.csv", "mine\n");
    put(st.tmpdir, "date=2025-08-09/part-00000.csv", "mine\n");
    /* Something this run did not make appears in OUT meanwhile. */
    put(f->out, "date=2025-08-09/part-00000.csv", "theirs\n");
    assert_int_equal(sf_output_commit(&st, "{}", 2, &err), SF_E_IO);
    assert_non_null(strstr(err.msg, "cannot rename"));
    sf_output_abort(&st);
    /* Rollback took back its own entries and left the other's. */
    assert_listing(f->out, "date=2025-08-09");
    assert_file_text(path_of(f->out, "date=2025-08-09/part-00000.csv"), "theirs\n");
    sf_output_stage_free(&st);
}

static void test_overwrite_swaps_in_a_tree_and_leaves_no_old_copy(void **state)
{
    fixture *f = *state;
    make_partitioned_output(f);
    sf_output_stage st;
    sf_error err;
    assert_int_equal(sf_output_prepare(&st, f->out, SF_COMMIT_OVERWRITE, "r1", &err), 0);
    put(st.tmpdir, "date=2025-08-03/part-00000.csv", "n\n");
    assert_int_equal(sf_output_commit(&st, "{}", 2, &err), 0);
    assert_listing(f->out, "_MANIFEST.json,_SUCCESS,date=2025-08-03");
    assert_file_text(path_of(f->out, "_MANIFEST.json"), "{}");
    assert_listing(f->dir, "out");
    sf_output_stage_free(&st);
}

static void test_two_rename_fallback_commits_the_same_tree(void **state)
{
    fixture *f = *state;
    make_partitioned_output(f);
    ino_t kept = inode_of(path_of(f->out, "date=2025-08-01/part-00000.csv"));
    sf_output_stage st;
    sf_error err;
    assert_int_equal(sf_output_prepare(&st, f->out, SF_COMMIT_OVERWRITE_PARTITIONS, "r1", &err),
                     0);
    st.two_renames = 1; /* as on NFS or Lustre */
    put(st.tmpdir, "date=2025-08-02/part-00000.csv", "new d02\n");
    assert_int_equal(sf_output_commit(&st, NEW_MANIFEST, strlen(NEW_MANIFEST), &err), 0);
    assert_int_equal(st.exchanged, 0);
    assert_listing(f->out, "_MANIFEST.json,_SUCCESS,date=2025-08-01,date=2025-08-02");
    assert_true(inode_of(path_of(f->out, "date=2025-08-01/part-00000.csv")) == kept);
    assert_file_text(path_of(f->out, "date=2025-08-02/part-00000.csv"), "new d02\n");
    assert_listing(f->dir, "out"); /* neither the .old tree nor the staging left */
    sf_output_stage_free(&st);
}

static void test_output_lost_between_fallback_renames_is_put_back(void **state)
{
    fixture *f = *state;
    /* A run killed between OUT -> ROOT.old and ROOT -> OUT. */
    char old[400], root[400];
    snprintf(old, sizeof old, "%s.shardflow-20260101T000000-7.old", f->out);
    snprintf(root, sizeof root, "%s.shardflow-20260101T000000-7", f->out);
    assert_int_equal(mkdir(old, 0777), 0);
    write_text(path_of(old, "_SUCCESS"), "");
    write_text(path_of(old, "old.csv"), "old\n");
    assert_int_equal(mkdir(root, 0777), 0);
    write_text(path_of(root, "new.csv"), "new\n");
    sf_output_stage st;
    sf_error err;
    assert_int_equal(sf_output_prepare(&st, f->out, SF_COMMIT_OVERWRITE, "r9", &err), 0);
    assert_non_null(strstr(st.note, "put back"));
    assert_file_text(path_of(f->out, "old.csv"), "old\n");
    sf_output_abort(&st);
    assert_listing(f->dir, "out");
    assert_listing(f->out, "_SUCCESS,old.csv");
    sf_output_stage_free(&st);
}

/* keep_replaced: the commit leaves the replaced tree at ROOT; three
 * callers each list it alike and remove their share (place modulo 3),
 * and the committing one removes the rest with ROOT. */
static void test_replaced_tree_left_and_removed_in_shares(void **state)
{
    fixture *f = *state;
    make_partitioned_output(f);
    put(f->out, "date=2025-08-03/part-00000.csv", "d03\n");
    sf_output_stage st;
    sf_error err;
    assert_int_equal(sf_output_prepare(&st, f->out, SF_COMMIT_OVERWRITE, "r1", &err), 0);
    st.keep_replaced = 1;
    put(st.tmpdir, "date=2025-08-09/part-00000.csv", "n\n");
    assert_int_equal(sf_output_commit(&st, "{}", 2, &err), 0);
    assert_int_equal(st.replaced_left, 1);
    assert_listing(f->out, "_MANIFEST.json,_SUCCESS,date=2025-08-09");
    assert_listing(st.root, "_MANIFEST.json,_METRICS.json,_SUCCESS,date=2025-08-01,"
                            "date=2025-08-02,date=2025-08-03");
    char **names[3];
    size_t n[3];
    for (int r = 0; r < 3; r++) {
        assert_int_equal(sf_output_list_replaced(&st, &names[r], &n[r]), 0);
        assert_int_equal(n[r], 6);
    }
    assert_string_equal(names[0][0], "_MANIFEST.json"); /* sorted */
    assert_string_equal(names[0][5], "date=2025-08-03");
    sf_output_drop_share(&st, names[1], n[1], 1, 3); /* places 1 and 4 */
    assert_listing(st.root, "_MANIFEST.json,_SUCCESS,date=2025-08-01,date=2025-08-03");
    sf_output_drop_share(&st, names[2], n[2], 2, 3); /* 2 and 5 */
    assert_listing(st.root, "_MANIFEST.json,date=2025-08-01");
    sf_output_drop_share(&st, names[0], n[0], 0, 3); /* 0 and 3 */
    assert_listing(st.root, "");
    sf_output_drop_replaced(&st);
    assert_int_equal(st.replaced_left, 0);
    assert_listing(f->dir, "out");
    assert_file_text(path_of(f->out, "date=2025-08-09/part-00000.csv"), "n\n");
    sf_output_stage_free(&st);
}

/* A stage that replaced nothing lists nothing and leaves nothing to
 * remove: its ROOT is the output itself. */
static void test_nothing_replaced_lists_nothing_and_removes_nothing(void **state)
{
    fixture *f = *state;
    sf_output_stage st;
    sf_error err;
    assert_int_equal(sf_output_prepare(&st, f->out, SF_COMMIT_OVERWRITE, "r1", &err), 0);
    st.keep_replaced = 1;
    stage_files(&st, "x\n");
    assert_int_equal(sf_output_commit(&st, "{}", 2, &err), 0);
    assert_int_equal(st.replaced_left, 0);
    char **names = NULL;
    size_t n = 7;
    assert_int_equal(sf_output_list_replaced(&st, &names, &n), 0);
    assert_int_equal(n, 0);
    assert_null(names);
    sf_output_drop_share(&st, names, n, 0, 1);
    sf_output_drop_replaced(&st);
    assert_listing(f->out, "_MANIFEST.json,_SUCCESS,date=2025-08-01");
    sf_output_stage_free(&st);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_prepare_on_new_output_stages_under_temporary_runid),
        T(test_prepare_creates_missing_parent_directories),
        T(test_commit_moves_staged_files_and_writes_markers),
        T(test_commit_keeps_temporary_holding_another_runs_files),
        T(test_existing_output_without_overwrite_is_exists_and_untouched),
        T(test_existing_empty_directory_without_overwrite_is_exists),
        T(test_overwrite_keeps_old_output_until_commit),
        T(test_overwrite_of_an_empty_directory_is_allowed),
        T(test_overwrite_refuses_a_directory_that_is_not_an_output),
        T(test_output_path_that_is_a_file_is_an_error),
        T(test_abort_removes_staged_files_and_the_output_it_created),
        T(test_abort_of_overwrite_leaves_existing_output_intact),
        T(test_failed_commit_of_overwrite_leaves_old_output),
        T(test_paths_match_prepare_without_touching_the_disk),
        T(test_trailing_slash_names_the_same_output),
        T(test_stage_free_twice_is_safe),
        T(test_mode_names_parse_and_print),
        T(test_overwrite_partitions_replaces_only_the_partitions_written),
        T(test_append_adds_run_unique_files_and_replaces_none),
        T(test_append_to_a_new_output_creates_it),
        T(test_merge_modes_refuse_an_output_without_manifest),
        T(test_failed_commit_into_new_output_removes_only_what_it_moved),
        T(test_overwrite_swaps_in_a_tree_and_leaves_no_old_copy),
        T(test_two_rename_fallback_commits_the_same_tree),
        T(test_output_lost_between_fallback_renames_is_put_back),
        T(test_replaced_tree_left_and_removed_in_shares),
        T(test_nothing_replaced_lists_nothing_and_removes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
