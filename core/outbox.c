/*
 * outbox.c - GOV.UK Notify's settings (notify.conf) and the outbox table
 * every app keeps (see outbox.h); the sender is notify.c.
 */
#include "outbox.h"
#include "jwt.h"
#include "log.h"
#include "nodes.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONF_MAX (64 * 1024)

const char bo_notify_outbox_schema[] =
    "CREATE TABLE IF NOT EXISTS _borough_outbox (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  kind TEXT NOT NULL,\n"
    "  recipient TEXT NOT NULL,\n"
    "  template_id TEXT NOT NULL,\n"
    "  body TEXT NOT NULL,\n"
    "  reference TEXT NOT NULL UNIQUE,\n"
    "  state TEXT NOT NULL,\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  next_at INTEGER NOT NULL,\n"
    "  claimed_by TEXT,\n"
    "  last_try INTEGER,\n"
    "  created_at TEXT NOT NULL,\n"
    "  created_ms INTEGER NOT NULL,\n"
    "  sent_at TEXT,\n"
    "  notify_id TEXT,\n"
    "  status TEXT,\n"
    "  status_at TEXT,\n"
    "  poll_at INTEGER,\n"
    "  polls INTEGER NOT NULL DEFAULT 0,\n"
    "  error TEXT\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS _borough_outbox_due ON _borough_outbox (state, next_at);\n"
    "CREATE INDEX IF NOT EXISTS _borough_outbox_notify_id ON _borough_outbox (notify_id);\n"
    "CREATE INDEX IF NOT EXISTS _borough_outbox_poll ON _borough_outbox (poll_at) WHERE poll_at IS NOT NULL;\n"
    "CREATE INDEX IF NOT EXISTS _borough_outbox_last_try ON _borough_outbox (last_try);\n" BO_NODES_SCHEMA;

void bo_notify_aad(char *out, size_t cap, const char *app, const char *column)
{
    snprintf(out, cap, "%s/_borough_outbox/%s", app, column);
}

/* ---- settings ---- */

static void app_conf_init(bo_notify_app_conf *a)
{
    memset(a, 0, sizeof *a);
    a->base_url = bo_strdup(BO_NOTIFY_DEFAULT_URL);
    a->rate_limit = 3000;
    a->timeout_s = 30;
    a->retry_s = 10;
    a->poll_s = 60;
    a->give_up_s = 86400;
    a->purge_s = 7 * 86400;
}

static void app_conf_free(bo_notify_app_conf *a)
{
    free(a->app);
    free(a->api_key);
    free(a->base_url);
    free(a->callback_token);
}

static void app_conf_copy(bo_notify_app_conf *dst, const bo_notify_app_conf *src, const char *app)
{
    *dst = *src;
    dst->app = app ? bo_strdup(app) : NULL;
    dst->api_key = src->api_key ? bo_strdup(src->api_key) : NULL;
    dst->base_url = bo_strdup(src->base_url);
    dst->callback_token = src->callback_token ? bo_strdup(src->callback_token) : NULL;
}

void bo_notify_conf_unref(bo_notify_conf *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    app_conf_free(&c->defaults);
    for (unsigned i = 0; i < c->napps; i++)
        app_conf_free(&c->apps[i]);
    free(c->apps);
    free(c->error);
    free(c);
}

static bool parse_seconds(const char *v, double max, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= 0 && d <= max))
        return false;
    *out = d;
    return true;
}

/* Sets one key of a; NULL, or why the value is refused. */
static const char *set_key(bo_notify_app_conf *a, const char *key, const char *v)
{
    if (strcmp(key, "api_key") == 0) {
        if (bo_notify_key_parse(v, a->service_id, a->secret) < 0)
            return "api_key is not a Notify API key (it looks like name-<service id>-<secret>)";
        free(a->api_key);
        a->api_key = bo_strdup(v);
    } else if (strcmp(key, "base_url") == 0) {
        if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
            return "base_url must start with https:// (or http://)";
        size_t n = strlen(v);
        while (n > 8 && v[n - 1] == '/')
            n--;
        free(a->base_url);
        a->base_url = bo_strndup(v, n);
    } else if (strcmp(key, "callback_token") == 0) {
        if (strlen(v) < 16)
            return "callback_token must be at least 16 characters (Notify asks for 10; make it long and random)";
        free(a->callback_token);
        a->callback_token = bo_strdup(v);
    } else if (strcmp(key, "rate_limit") == 0) {
        double d;
        if (!parse_seconds(v, 1000000, &d) || d < 1 || d != (int)d)
            return "rate_limit must be a whole number of requests per minute";
        a->rate_limit = (int)d;
    } else if (strcmp(key, "timeout") == 0) {
        if (!parse_seconds(v, 600, &a->timeout_s) || a->timeout_s <= 0)
            return "timeout must be a number of seconds, more than 0 and at most 600";
    } else if (strcmp(key, "retry_delay") == 0) {
        if (!parse_seconds(v, 3600, &a->retry_s) || a->retry_s <= 0)
            return "retry_delay must be a number of seconds, more than 0 and at most 3600";
    } else if (strcmp(key, "poll_after") == 0) {
        if (!parse_seconds(v, 86400, &a->poll_s))
            return "poll_after must be a number of seconds (0: never poll)";
    } else if (strcmp(key, "give_up_after") == 0) {
        if (!parse_seconds(v, 30 * 86400, &a->give_up_s) || a->give_up_s <= 0)
            return "give_up_after must be a number of seconds, at most 30 days";
    } else if (strcmp(key, "purge_after") == 0) {
        if (!parse_seconds(v, 3660 * 86400, &a->purge_s))
            return "purge_after must be a number of seconds, at most 10 years (0: as soon as a message is done)";
    } else {
        return "unknown setting (the settings are api_key, base_url, callback_token, rate_limit, timeout, "
               "retry_delay, poll_after, give_up_after and purge_after)";
    }
    return NULL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

bo_notify_conf *bo_notify_conf_parse(const char *text, size_t len, char *err, size_t errlen)
{
    bo_notify_conf *c = bo_calloc(1, sizeof *c);
    atomic_init(&c->refs, 1);
    app_conf_init(&c->defaults);
    bo_notify_app_conf *cur = &c->defaults;
    char *copy = bo_strndup(text, len);
    int lineno = 0;
    for (char *line = copy, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        for (char *h = line; (h = strchr(h, '#'));) {     /* a comment: "#" at the start or after a space */
            if (h == line || h[-1] == ' ' || h[-1] == '\t') {
                *h = '\0';
                break;
            }
            h++;
        }
        char *s = trim(line);
        if (!*s)
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            char *name = end ? (*end = '\0', trim(s + 1)) : NULL;
            if (!end || !*name || *trim(end + 1) || strchr(name, '/')) {
                snprintf(err, errlen, "notify.conf:%d: a section is an app's name in brackets, like [grants]", lineno);
                goto fail;
            }
            for (unsigned i = 0; i < c->napps; i++)
                if (strcmp(c->apps[i].app, name) == 0) {
                    snprintf(err, errlen, "notify.conf:%d: [%s] appears twice", lineno, name);
                    goto fail;
                }
            c->apps = bo_realloc(c->apps, sizeof *c->apps * (c->napps + 1));
            app_conf_copy(&c->apps[c->napps], &c->defaults, name);
            cur = &c->apps[c->napps++];
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "notify.conf:%d: expected key = value", lineno);
            goto fail;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        const char *why = set_key(cur, key, value);
        if (why) {
            snprintf(err, errlen, "notify.conf:%d: %s", lineno, why);
            goto fail;
        }
    }
    free(copy);
    return c;
fail:
    free(copy);
    bo_notify_conf_unref(c);
    return NULL;
}

const bo_notify_app_conf *bo_notify_conf_app(const bo_notify_conf *c, const char *app)
{
    for (unsigned i = 0; i < c->napps; i++)
        if (strcmp(c->apps[i].app, app) == 0)
            return &c->apps[i];
    return &c->defaults;
}

static pthread_mutex_t conf_lock = PTHREAD_MUTEX_INITIALIZER;
static bo_notify_conf *conf_cur;
static char *conf_dir;
static uint64_t conf_checked;
static struct stat conf_st;
static bool conf_exists;
static uint64_t conf_version;

/* Reads path into a new conf; a missing file is the defaults. */
static bo_notify_conf *conf_read(const char *path, bool exists)
{
    char err[512];
    bo_notify_conf *c = NULL;
    if (exists) {
        FILE *f = fopen(path, "rb");
        char *text = bo_malloc(CONF_MAX + 1);
        size_t n = f ? fread(text, 1, CONF_MAX + 1, f) : 0;
        if (!f)
            snprintf(err, sizeof err, "%s: %s", path, strerror(errno));
        else if (n > CONF_MAX)
            snprintf(err, sizeof err, "%s: over %d KiB", path, CONF_MAX / 1024);
        else
            c = bo_notify_conf_parse(text, n, err, sizeof err);
        if (f)
            fclose(f);
        free(text);
        if (!c)
            bo_log(BO_LOG_ERROR, NULL, "%s; no message is sent until it is put right", err);
        else if (conf_st.st_mode & 077)
            bo_log(BO_LOG_WARN, NULL, "%s can be read by other users: it holds API keys (chmod 600 it)", path);
    }
    if (!c) {
        c = bo_calloc(1, sizeof *c);
        atomic_init(&c->refs, 1);
        app_conf_init(&c->defaults);
        if (exists)
            c->error = bo_strdup(err);
    }
    return c;
}

bo_notify_conf *bo_notify_conf_get(const char *data_dir)
{
    pthread_mutex_lock(&conf_lock);
    uint64_t now = bo_now_ms();
    if (!conf_cur || strcmp(conf_dir, data_dir) != 0 || now - conf_checked >= 1000) {
        conf_checked = now;
        char *path = bo_sprintf("%s/notify.conf", data_dir);
        struct stat st;
        bool exists = stat(path, &st) == 0;
        bool changed = !conf_cur || strcmp(conf_dir, data_dir) != 0 || exists != conf_exists ||
                       (exists && (st.st_mtim.tv_sec != conf_st.st_mtim.tv_sec ||
                                   st.st_mtim.tv_nsec != conf_st.st_mtim.tv_nsec ||
                                   st.st_size != conf_st.st_size || st.st_ino != conf_st.st_ino));
        if (changed) {
            conf_exists = exists;
            if (exists)
                conf_st = st;
            bo_notify_conf *c = conf_read(path, exists);
            c->version = ++conf_version;
            bo_notify_conf_unref(conf_cur);
            conf_cur = c;
            free(conf_dir);
            conf_dir = bo_strdup(data_dir);
        }
        free(path);
    }
    bo_notify_conf *c = conf_cur;
    atomic_fetch_add(&c->refs, 1);
    pthread_mutex_unlock(&conf_lock);
    return c;
}

void bo_notify_conf_forget(void)
{
    pthread_mutex_lock(&conf_lock);
    bo_notify_conf_unref(conf_cur);
    conf_cur = NULL;
    free(conf_dir);
    conf_dir = NULL;
    pthread_mutex_unlock(&conf_lock);
}
