/*
 * dashboard.c — the web dashboard's static files (producer-api/dashboard:
 * HTML, JS, CSS; no build step), served by klok-api under /dashboard/.
 *
 * The files of dashboard.dir are read once at start into memory (at most
 * DASH_FILES_MAX regular files of DASH_FILE_MAX bytes each; names of
 * [A-Za-z0-9._-] only, no dot first), so a request never touches the file
 * system: no path from a URL is ever opened.  An empty dashboard.dir turns
 * the dashboard off (404).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api_int.h"
#include "sched/log.h"

#define SUB "dashboard"
#define DASH_FILES_MAX 32
#define DASH_FILE_MAX (1024 * 1024)

typedef struct dash_file_s {
        char name[64];
        const char *type;
        char *data;
        size_t len;
} dash_file_t;

static dash_file_t files[DASH_FILES_MAX];
static int nfiles;

static bool name_ok(const char *name) {
        if (!name[0] || name[0] == '.' || strlen(name) >= sizeof(files[0].name))
                return false;
        for (const char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
                      *p == '-'))
                        return false;
        return true;
}

static const char *type_of(const char *name) {
        static const struct {
                const char *ext, *type;
        } types[] = {{".html", "text/html; charset=utf-8"},
                     {".js", "text/javascript; charset=utf-8"},
                     {".css", "text/css; charset=utf-8"},
                     {".svg", "image/svg+xml"},
                     {".png", "image/png"},
                     {".ico", "image/x-icon"}};
        const char *dot = strrchr(name, '.');
        for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
                if (!strcmp(dot, types[i].ext))
                        return types[i].type;
        return NULL;
}

/* Read path (a regular file of at most DASH_FILE_MAX bytes) into f. */
static int file_load(dash_file_t *f, const char *path, char *errstr,
                     size_t errstr_size) {
        FILE *fp = fopen(path, "rb");
        struct stat st;
        if (!fp || fstat(fileno(fp), &st) || st.st_size > DASH_FILE_MAX) {
                snprintf(errstr, errstr_size, "%s: %s", path,
                         !fp ? "cannot open" : "larger than 1 MiB");
                if (fp)
                        fclose(fp);
                return -1;
        }
        f->len = (size_t)st.st_size;
        f->data = malloc(f->len ? f->len : 1);
        size_t got = f->data ? fread(f->data, 1, f->len, fp) : 0;
        fclose(fp);
        if (!f->data || got != f->len) {
                snprintf(errstr, errstr_size, "%s: short read", path);
                free(f->data);
                f->data = NULL;
                return -1;
        }
        return 0;
}

int api_dashboard_load(const char *dir, char *errstr, size_t errstr_size) {
        if (!dir[0])
                return 0;
        DIR *d = opendir(dir);
        if (!d) {
                snprintf(errstr, errstr_size,
                         "dashboard.dir \"%s\" cannot be read", dir);
                return -1;
        }
        struct dirent *de;
        int rc = 0;
        while (rc == 0 && (de = readdir(d))) {
                char path[2048];
                struct stat st;
                if (!name_ok(de->d_name) || !type_of(de->d_name))
                        continue;
                /* name_ok: under 64 bytes; dir: under 1024 (config). */
                if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
                                     de->d_name) >= sizeof(path) ||
                    stat(path, &st) || !S_ISREG(st.st_mode))
                        continue;
                if (nfiles == DASH_FILES_MAX) {
                        snprintf(errstr, errstr_size,
                                 "dashboard.dir: more than %d files",
                                 DASH_FILES_MAX);
                        rc = -1;
                        break;
                }
                dash_file_t *f = &files[nfiles];
                memcpy(f->name, de->d_name, strlen(de->d_name) + 1);
                f->type = type_of(de->d_name);
                if ((rc = file_load(f, path, errstr, errstr_size)) == 0)
                        nfiles++;
        }
        closedir(d);
        if (rc == 0)
                sched_info(SUB, "%d files from %s at /dashboard/", nfiles,
                           dir);
        return rc;
}

void api_dashboard_free(void) {
        for (int i = 0; i < nfiles; i++)
                free(files[i].data);
        nfiles = 0;
}

enum MHD_Result api_dashboard_handle(api_req_t *req, const char *name) {
        if (!strcmp(name, "/")) /* "/dashboard" */
                return api_reply(req, 308, "text/plain", "", 0);
        if (!*name)
                name = "index.html";
        for (int i = 0; i < nfiles; i++) {
                if (strcmp(files[i].name, name))
                        continue;
                return api_reply(req, 200, files[i].type, files[i].data,
                                 files[i].len);
        }
        return api_reply_error(req, 404, "not_found", "no such resource",
                               NULL);
}
