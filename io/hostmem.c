/* hostmem.c - whether this machine's memory is given back to a host (see
 * hostmem.h). */
#include "io/hostmem.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BALLOON_DEVICE 5L /* virtio device id of a memory balloon */
#define BALLOON_F_REPORTING 5 /* its free page reporting feature bit */

/* The first line of path into buf (n bytes, its newline cut); 0 or -1. */
static int read_line(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fgets(buf, (int)n, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

int sf_hostmem_reports_free_pages(const char *sysroot)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/bus/virtio/devices", sysroot ? sysroot : "/sys");
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096 + 512], line[512];
        snprintf(path, sizeof path, "%s/%s/device", dir, e->d_name);
        if (read_line(path, line, sizeof line) != 0 || strtol(line, NULL, 0) != BALLOON_DEVICE)
            continue;
        snprintf(path, sizeof path, "%s/%s/features", dir, e->d_name);
        if (read_line(path, line, sizeof line) == 0 && strlen(line) > BALLOON_F_REPORTING)
            found = line[BALLOON_F_REPORTING] == '1';
    }
    closedir(d);
    return found;
}
