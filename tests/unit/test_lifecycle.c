/* test_lifecycle.c - mpi/lifecycle.h on one rank (MPI initialized as a
 * singleton): the run id's form, inputs expanded in order with their sizes,
 * staging, files gathered sorted, commit with _METRICS.json, _MANIFEST.json
 * and _SUCCESS, and a failed run's staging removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/fsutil.h"
#include "mpi/lifecycle.h"

static char dir[] = "/tmp/sf_lifecycle_XXXXXX";

static char *at(const char *rel)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, rel);
    return p;
}

static void put(const char *rel, const char *text)
{
    FILE *f = fopen(at(rel), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_run_id_names_the_utc_time_and_pid(void **state)
{
    (void)state;
    sf_lifecycle L;
    sf_life_init(&L, MPI_COMM_WORLD);
    assert_int_equal(L.rank, 0);
    assert_int_equal(L.nranks, 1);
    sf_life_runid(&L);
    /* 20250801T120000-4242 */
    assert_true(strlen(L.runid) > 16);
    assert_int_equal(L.runid[8], 'T');
    assert_int_equal(L.runid[15], '-');
    assert_int_equal(atol(L.runid + 16), (long)getpid());
    sf_life_end(&L, 0, "test");
}

static void test_inputs_expand_in_order_with_sizes(void **state)
{
    (void)state;
    assert_int_equal(mkdir(at("in"), 0777), 0);
    put("in/b.jsonl", "{}\n{}\n");
    put("in/a.jsonl", "{}\n");
    put("one.jsonl", "{\"x\":1}\n");
    sf_lifecycle L;
    sf_life_init(&L, MPI_COMM_WORLD);
    sf_error err;
    assert_int_equal(sf_life_expand(&L, "input", at("in"), &err), 0);
    assert_int_equal(sf_life_expand(&L, "input", at("one.jsonl"), &err), 0);
    assert_int_equal(sf_life_share(&L, NULL, &err), 0);
    assert_int_equal(L.inputs.n, 3);
    assert_non_null(strstr(L.inputs.paths[0], "in/a.jsonl"));
    assert_non_null(strstr(L.inputs.paths[1], "in/b.jsonl"));
    assert_non_null(strstr(L.inputs.paths[2], "one.jsonl"));
    assert_int_equal(L.inputs.sizes[0], 3);
    assert_int_equal(L.inputs.sizes[1], 6);
    assert_int_equal(L.inputs.sizes[2], 8);
    assert_int_equal(sf_life_expand(&L, "input", at("missing*.jsonl"), &err), SF_E_NOTFOUND);
    assert_int_equal(L.inputs.n, 3); /* a failed expansion adds nothing */
    sf_life_end(&L, 0, "test");
}

static void test_commit_writes_metrics_manifest_and_files_sorted(void **state)
{
    (void)state;
    sf_lifecycle L;
    sf_life_init(&L, MPI_COMM_WORLD);
    sf_life_runid(&L);
    sf_error err;
    const char *out = at("out");
    assert_int_equal(sf_life_stage(&L, out, SF_COMMIT_ERROR, 86400, &err), 0);
    assert_int_equal(sf_life_share(&L, out, &err), 0);
    assert_true(L.staged);
    char path[600];
    snprintf(path, sizeof path, "%s/b.csv", L.stage.tmpdir);
    assert_int_equal(sf_write_file_atomic(path, "x\n", 2, &err), 0);
    snprintf(path, sizeof path, "%s/a.csv", L.stage.tmpdir);
    assert_int_equal(sf_write_file_atomic(path, "y\n", 2, &err), 0);
    assert_int_equal(sf_life_add_file(&L, "b.csv", 1, 2), 0);
    assert_int_equal(sf_life_add_file(&L, "a.csv", 1, 2), 0);
    size_t n = 0;
    uint64_t *rss = NULL;
    sf_out_file *files = sf_life_gather(&L, &n, &rss);
    assert_int_equal(n, 2);
    assert_string_equal(files[0].path, "a.csv");
    assert_string_equal(files[1].path, "b.csv");
    assert_non_null(rss);
    assert_true(rss[0] > 0);
    sf_buf metrics = SF_BUF_INIT, manifest = SF_BUF_INIT;
    assert_int_equal(sf_buf_printf(&metrics, "{}\n"), 0);
    assert_int_equal(sf_buf_printf(&manifest, "{\"status\": \"committed\"}\n"), 0);
    assert_int_equal(sf_life_commit(&L, &metrics, &manifest, &err), 0);
    assert_false(L.staged);
    assert_true(exists(at("out/_SUCCESS")));
    assert_true(exists(at("out/_MANIFEST.json")));
    assert_true(exists(at("out/_METRICS.json")));
    assert_true(exists(at("out/a.csv")));
    assert_false(exists(at("out/_temporary")));
    sf_buf_free(&metrics);
    sf_buf_free(&manifest);
    free(files);
    free(rss);
    sf_life_end(&L, 0, "test");
    assert_true(exists(at("out/_SUCCESS"))); /* a committed run is left alone */
}

static void test_failed_run_removes_its_staging(void **state)
{
    (void)state;
    sf_lifecycle L;
    sf_life_init(&L, MPI_COMM_WORLD);
    sf_life_runid(&L);
    sf_error err;
    const char *out = at("failed");
    assert_int_equal(sf_life_stage(&L, out, SF_COMMIT_ERROR, 86400, &err), 0);
    assert_int_equal(sf_life_share(&L, out, &err), 0);
    assert_true(exists(L.stage.tmpdir));
    sf_life_end(&L, 1, "test");
    assert_false(exists(at("failed/_SUCCESS")));
    assert_false(exists(at("failed/_temporary")));
}

static void test_stage_holds_the_claim_until_end(void **state)
{
    (void)state;
    sf_lifecycle L, M;
    sf_life_init(&L, MPI_COMM_WORLD);
    sf_life_runid(&L);
    sf_error err;
    const char *out = at("claimed");
    assert_int_equal(sf_life_stage(&L, out, SF_COMMIT_ERROR, 86400, &err), 0);
    assert_non_null(L.claim);
    assert_true(exists(at("claimed.shardflow-claim")));
    /* A second run on the same output is refused while the first lives. */
    sf_life_init(&M, MPI_COMM_WORLD);
    snprintf(M.runid, sizeof M.runid, "%s", "20250101T000000-1");
    assert_int_equal(sf_life_stage(&M, out, SF_COMMIT_OVERWRITE, 86400, &err), SF_E_BUSY);
    assert_non_null(strstr(err.msg, "is being written by run"));
    assert_false(M.staged);
    sf_life_end(&M, 1, "test");
    assert_true(exists(at("claimed.shardflow-claim"))); /* not the refused run's to remove */
    assert_true(exists(L.stage.tmpdir));
    sf_life_end(&L, 1, "test");
    assert_null(L.claim);
    assert_false(exists(at("claimed.shardflow-claim")));
    assert_false(exists(at("claimed")));
}

int main(int argc, char **argv)
{
    /* Singleton MPI as root in a container needs Open MPI's consent. */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    MPI_Init(&argc, &argv);
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_id_names_the_utc_time_and_pid),
        cmocka_unit_test(test_inputs_expand_in_order_with_sizes),
        cmocka_unit_test(test_commit_writes_metrics_manifest_and_files_sorted),
        cmocka_unit_test(test_failed_run_removes_its_staging),
        cmocka_unit_test(test_stage_holds_the_claim_until_end),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sf_error err;
    sf_rmtree(dir, &err);
    MPI_Finalize();
    return rc;
}
