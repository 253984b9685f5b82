/*
 * migrate.c - numbered SQL migrations, applied once and recorded (see
 * migrate.h).
 *
 * A script runs statement by statement through bo_db_run_app_script, so on
 * an app's connection it is judged as app SQL is (the authorizer; no
 * transaction statements, since the caller's transaction must hold the
 * whole upgrade; no VACUUM) and a failure names the line of the statement.
 * The record table is the platform's (_borough_migrations): scripts cannot
 * write it, the platform writes it with bo_db_set_platform on.
 */
#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SCRIPT_BYTES (16u << 20)

void bo_migrations_free(bo_migrations *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->list[i].name);
        free(m->list[i].sql);
    }
    free(m->list);
    free(m->dir);
    memset(m, 0, sizeof *m);
}

/* NNN_name.sql: three or more digits, '_', then lower-case letters, digits
   and '_'. Returns the number, or -1. */
static long parse_name(const char *file)
{
    size_t len = strlen(file), digits = 0;
    if (len < 5 || strcmp(file + len - 4, ".sql") != 0)
        return -1;
    while (isdigit((unsigned char)file[digits]))
        digits++;
    if (digits < 3 || digits > 9 || file[digits] != '_' || digits + 1 >= len - 4)
        return -1;
    for (size_t i = digits + 1; i < len - 4; i++)
        if (!(islower((unsigned char)file[i]) || isdigit((unsigned char)file[i]) || file[i] == '_'))
            return -1;
    return strtol(file, NULL, 10);
}

static char *read_whole(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > MAX_SCRIPT_BYTES) {
        if (errno == 0 || !S_ISREG(st.st_mode))
            errno = EINVAL;
        close(fd);
        return NULL;
    }
    char *text = bo_malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
        if (n <= 0) {
            if (n == 0)
                break;
            if (errno == EINTR)
                continue;
            free(text);
            close(fd);
            return NULL;
        }
        got += (size_t)n;
    }
    close(fd);
    text[got] = '\0';
    *len = got;
    return text;
}

static int compare_migrations(const void *a, const void *b)
{
    long x = strtol(((const bo_migration *)a)->name, NULL, 10);
    long y = strtol(((const bo_migration *)b)->name, NULL, 10);
    return x < y ? -1 : x > y;
}

/* Adds a migration named by its file name; takes ownership of sql. */
static int add_migration(bo_migrations *m, size_t *cap, const char *file, char *sql, size_t len, char *err,
                         size_t errlen)
{
    if (parse_name(file) < 0) {
        snprintf(err, errlen,
                 "%s/%s: a migration file is named NNN_name.sql (digits, then lower-case letters, "
                 "digits and _), like 002_split_address.sql", m->dir, file);
        free(sql);
        return BO_EINVAL;
    }
    if (m->n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        m->list = bo_realloc(m->list, *cap * sizeof *m->list);
    }
    bo_migration *mi = &m->list[m->n++];
    mi->name = bo_strndup(file, strlen(file) - 4);
    mi->sql = sql;
    mi->len = len;
    return 0;
}

static bool is_sql(const char *file)
{
    size_t n = strlen(file);
    return file[0] != '.' && n > 4 && strcmp(file + n - 4, ".sql") == 0;
}

static int read_snapshot(bo_migrations *m, const bo_snapshot *snap, char *err, size_t errlen)
{
    size_t cap = 0;
    for (unsigned i = 0; i < snap->nfiles; i++) {
        const bo_snapshot_file *f = &snap->files[i];
        if (strncmp(f->path, "migrations/", 11) != 0 || strchr(f->path + 11, '/') || !is_sql(f->path + 11))
            continue;
        int rc = add_migration(m, &cap, f->path + 11, bo_strndup(f->data, f->len), f->len, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int read_folder(bo_migrations *m, char *err, size_t errlen)
{
    DIR *d = opendir(m->dir);
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        snprintf(err, errlen, "%s: cannot read the folder: %s", m->dir, strerror(errno));
        return BO_EIO;
    }
    int rc = 0;
    size_t cap = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (!is_sql(e->d_name))
            continue;
        char *path = bo_sprintf("%s/%s", m->dir, e->d_name);
        size_t len = 0;
        char *sql = read_whole(path, &len);
        if (!sql) {
            snprintf(err, errlen, "%s: cannot read it: %s", path, strerror(errno));
            rc = BO_EIO;
        } else {
            rc = add_migration(m, &cap, e->d_name, sql, len, err, errlen);
        }
        free(path);
    }
    closedir(d);
    return rc;
}

int bo_migrations_read(bo_migrations *m, const char *app_dir, const bo_snapshot *snap, char *err,
                       size_t errlen)
{
    memset(m, 0, sizeof *m);
    m->dir = bo_sprintf("%s/migrations", app_dir);
    int rc = snap ? read_snapshot(m, snap, err, errlen) : read_folder(m, err, errlen);
    if (rc == 0 && m->n > 1) {
        qsort(m->list, m->n, sizeof *m->list, compare_migrations);
        for (size_t i = 1; i < m->n; i++) {
            if (compare_migrations(&m->list[i - 1], &m->list[i]) == 0) {
                snprintf(err, errlen, "%s: %s.sql and %s.sql have the same number; give each its own",
                         m->dir, m->list[i - 1].name, m->list[i].name);
                rc = BO_EINVAL;
                break;
            }
        }
    }
    if (rc < 0)
        bo_migrations_free(m);
    return rc;
}

/* Runs one statement of the platform's own (the record table). */
static int platform_exec(bo_db *db, const char *sql, const char *arg, const char *arg2, char *err,
                         size_t errlen)
{
    bool was = bo_db_set_platform(db, true);
    int rc = 0;
    bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, errlen);
    if (!stmt) {
        rc = BO_EDB;
    } else {
        if (arg)
            bo_stmt_bind_text_copy(stmt, 1, arg, -1);
        if (arg2)
            bo_stmt_bind_text_copy(stmt, 2, arg2, -1);
        if (bo_stmt_param_count(stmt) == 3) {          /* the time, for the record */
            char at[32];
            bo_iso_time(bo_unix_ms(), at, sizeof at);
            bo_stmt_bind_text_copy(stmt, 3, at, -1);
        }
        int step = bo_stmt_step(stmt);
        if (step != BO_DB_DONE && step != BO_DB_ROW) {
            snprintf(err, errlen, "%s", bo_db_errmsg(db));
            rc = (step);
        } else if (step == BO_DB_ROW) {
            rc = 1;
        }
        bo_stmt_reset(stmt);
    }
    bo_db_set_platform(db, was);
    return rc;
}

int bo_migrate_prepare(bo_db *db, char *err, size_t errlen)
{
    return platform_exec(db,
                         "CREATE TABLE IF NOT EXISTS _borough_migrations (\n"
                         "  name TEXT PRIMARY KEY,\n"
                         "  applied_at TEXT NOT NULL,\n"
                         "  how TEXT NOT NULL\n"
                         ")",
                         NULL, NULL, err, errlen);
}

static int is_recorded(bo_db *db, const char *name, char *err, size_t errlen)
{
    return platform_exec(db, "SELECT 1 FROM _borough_migrations WHERE name = ?", name, NULL, err, errlen);
}

int bo_migrate_apply(bo_db *db, const bo_migrations *m, bool baseline, unsigned *applied, char *err,
                     size_t errlen)
{
    *applied = 0;
    for (size_t i = 0; i < m->n; i++) {
        const bo_migration *mi = &m->list[i];
        const char *dir = m->dir ? m->dir : "built-in migration";
        int rc = is_recorded(db, mi->name, err, errlen);
        if (rc < 0)
            return rc;
        if (rc == 1)
            continue;
        if (!baseline) {
            int line = 0;
            char why[512];
            bool was = bo_db_set_platform(db, false);
            rc = bo_db_run_app_script(db, mi->sql, mi->len, &line, why, sizeof why);
            bo_db_set_platform(db, was);
            if (rc < 0) {
                snprintf(err, errlen, "%s/%s.sql:%d: %s", dir, mi->name, line, why);
                return rc;
            }
            (*applied)++;
        }
        rc = platform_exec(db,
                           "INSERT INTO _borough_migrations (name, how, applied_at) VALUES (?, ?, ?)",
                           mi->name, baseline ? "baseline" : "run", err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}
