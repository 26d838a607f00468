/* test_hostmem.c - whether a guest reports its free pages to its host,
 * read from a sysfs tree built here: a balloon (device 0x0005) with
 * feature bit 5 set says yes; the bit clear, another device with the bit,
 * a short feature string, no virtio devices, or no tree say no. */
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

#include "io/hostmem.h"

static char root[256];

static void put(const char *dev, const char *file, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bus/virtio/devices/%s", root, dev);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/bus/virtio/devices/%s/%s", root, dev, file);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_a_balloon_with_reporting_is_found(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/sf_hostmem_XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(root));
    char path[512];
    assert_int_equal(sf_hostmem_reports_free_pages(root), 0); /* no bus/virtio */
    snprintf(path, sizeof path, "%s/bus", root);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/bus/virtio", root);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/bus/virtio/devices", root);
    mkdir(path, 0700);
    assert_int_equal(sf_hostmem_reports_free_pages(root), 0); /* no devices */

    put("virtio0", "device", "0x0002\n"); /* a block device with bit 5 */
    put("virtio0", "features", "0010011001\n");
    assert_int_equal(sf_hostmem_reports_free_pages(root), 0);
    put("virtio1", "device", "0x0005\n"); /* a balloon without reporting */
    put("virtio1", "features", "0110000100000000\n");
    assert_int_equal(sf_hostmem_reports_free_pages(root), 0);
    put("virtio1", "features", "01100\n"); /* too short to hold bit 5 */
    assert_int_equal(sf_hostmem_reports_free_pages(root), 0);
    put("virtio1", "features", "0110000100000000\n");
    put("virtio2", "device", "0x0005\n"); /* a balloon that reports */
    put("virtio2", "features", "0110010100000000000000000000000010\n");
    assert_int_equal(sf_hostmem_reports_free_pages(root), 1);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(sf_hostmem_reports_free_pages(root), 0); /* gone */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_balloon_with_reporting_is_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
