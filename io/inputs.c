/* inputs.c - globs and directories to sorted, checked file lists. */
#include "io/inputs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fsutil.h"

static int push(sf_input_files *f, const char *path, size_t *cap)
{
    if (f->n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        char **p = realloc(f->paths, c * sizeof *p);
        if (!p)
            return SF_E_NOMEM;
        f->paths = p;
        *cap = c;
    }
    f->paths[f->n] = strdup(path);
    if (!f->paths[f->n])
        return SF_E_NOMEM;
    f->n++;
    return 0;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(const char *name, const char *dir, sf_input_files *f, size_t *cap,
                    sf_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return sf_error_set(err, SF_E_IO, "input '%s': cannot list '%s': %s", name, dir,
                            strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || e->d_name[0] == '_')
            continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (!p) {
            rc = SF_E_NOMEM;
            break;
        }
        snprintf(p, n, "%s/%s", dir, e->d_name);
        if (!sf_is_dir(p))
            rc = push(f, p, cap);
        free(p);
    }
    closedir(d);
    if (rc)
        return sf_error_set(err, rc, "input '%s': out of memory listing '%s'", name, dir);
    return 0;
}

int sf_inputs_is_stream(const char *path)
{
    if (strcmp(path, "-") == 0)
        return 1;
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    return S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode);
}

int sf_inputs_expand(const char *name, const char *path, sf_input_files *out, sf_error *err)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    int rc = 0;
    int stream = sf_inputs_is_stream(path);
    if (stream) {
        /* Read once by rank 0: not opened here (opening a FIFO waits for
         * its writer). */
        rc = push(out, path, &cap);
        if (!rc && !(out->sizes = calloc(1, sizeof *out->sizes)))
            rc = SF_E_NOMEM;
        if (!rc && !(out->streamed = calloc(1, 1)))
            rc = SF_E_NOMEM;
        if (!rc)
            out->streamed[0] = 1;
        if (!rc && strcmp(path, "-") != 0 && access(path, R_OK) != 0)
            rc = sf_error_set(err, SF_E_IO, "input '%s': cannot read '%s': %s", name, path,
                              strerror(errno));
        else if (rc)
            sf_error_set(err, rc, "input '%s': out of memory", name);
        if (rc)
            sf_inputs_free(out);
        return rc;
    }
    if (strncmp(path, "/dev/fd/", 8) == 0 && access(path, F_OK) != 0)
        return sf_error_set(err, SF_E_NOTFOUND, "input '%s': '%s' does not exist here: a "
                            "process substitution <(...) does not reach the ranks mpirun "
                            "starts; pipe into stdin (--input %s=-) or use a FIFO (mkfifo)",
                            name, path, name);
    if (strpbrk(path, "*?[")) {
        glob_t g;
        int grc = glob(path, GLOB_ERR, NULL, &g);
        if (grc == GLOB_NOMATCH)
            return sf_error_set(err, SF_E_NOTFOUND, "input '%s': no file matches '%s'", name,
                                path);
        if (grc != 0)
            return sf_error_set(err, SF_E_IO, "input '%s': cannot expand '%s'%s", name, path,
                                grc == GLOB_NOSPACE ? ": out of memory" : ": read error");
        for (size_t i = 0; i < g.gl_pathc && !rc; i++)
            rc = push(out, g.gl_pathv[i], &cap);
        globfree(&g);
        if (rc)
            sf_error_set(err, rc, "input '%s': out of memory", name);
    } else if (sf_is_dir(path)) {
        rc = list_dir(name, path, out, &cap, err);
        if (!rc && out->n == 0)
            rc = sf_error_set(err, SF_E_NOTFOUND, "input '%s': directory '%s' holds no input "
                              "files", name, path);
    } else {
        rc = push(out, path, &cap);
        if (rc)
            sf_error_set(err, rc, "input '%s': out of memory", name);
    }
    if (!rc)
        qsort(out->paths, out->n, sizeof *out->paths, cmp_path);
    if (!rc && (!(out->sizes = calloc(out->n ? out->n : 1, sizeof *out->sizes)) ||
                !(out->streamed = calloc(out->n ? out->n : 1, 1))))
        rc = sf_error_set(err, SF_E_NOMEM, "input '%s': out of memory", name);
    for (size_t i = 0; i < out->n && !rc; i++) {
        rc = sf_file_size(out->paths[i], &out->sizes[i], err);
        if (rc) {
            sf_error_prefix(err, "input '%s'", name);
            break;
        }
        int fd = open(out->paths[i], O_RDONLY);
        if (fd < 0)
            rc = sf_error_set(err, SF_E_IO, "input '%s': cannot open '%s': %s", name,
                              out->paths[i], strerror(errno));
        else
            close(fd);
    }
    if (rc)
        sf_inputs_free(out);
    return rc;
}

void sf_inputs_free(sf_input_files *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->paths[i]);
    free(f->paths);
    free(f->sizes);
    free(f->streamed);
    memset(f, 0, sizeof *f);
}
