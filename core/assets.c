/*
 * assets.c - the platform's front-end assets and the deployment's look (see
 * assets.h).
 */
#include "assets.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SITE_CONF_MAX (64 * 1024)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bo_assets *assets;
static bo_site *site;

/* Reads a small whole file into a new NUL-terminated string, or NULL. */
static char *read_small(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = bo_malloc(max + 1);
    size_t n = fread(buf, 1, max + 1, f);
    fclose(f);
    if (n > max) {
        free(buf);
        errno = EFBIG;
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

const bo_assets *bo_assets_get(const char *lib_dir)
{
    pthread_mutex_lock(&lock);
    if (!assets) {
        bo_assets *a = bo_calloc(1, sizeof *a);
        char *public_dir = bo_sprintf("%s/../vendor/public", lib_dir);
        char *vpath = bo_sprintf("%s/VERSION", public_dir);
        char *v = read_small(vpath, 200, NULL);
        if (v) {
            v[strcspn(v, "\r\n")] = '\0';
            bool ok = v[0] != '\0' && v[0] != '.' && strchr(v, '/') == NULL;
            char *dir = ok ? bo_sprintf("%s/%s", public_dir, v) : NULL;
            a->root = dir ? realpath(dir, NULL) : NULL;
            free(dir);
        }
        if (!a->root) {
            bo_log(BO_LOG_WARN, NULL, "front-end assets are not built (run make deps): pages will have no styles");
            free(v);
            v = bo_strdup("");
        }
        a->version = v;
        a->prefix = bo_sprintf("/assets/%s", v);
        free(vpath);
        free(public_dir);
        assets = a;
    }
    pthread_mutex_unlock(&lock);
    return assets;
}

/* ---- site.conf ---- */

static bool valid_colour(const char *v)
{
    size_t n = strlen(v);
    if (v[0] != '#' || (n != 4 && n != 7))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!strchr("0123456789abcdefABCDEF", v[i]))
            return false;
    return true;
}

static bool valid_file_name(const char *v)
{
    if (!v[0] || v[0] == '.' || strlen(v) > 100)
        return false;
    for (const char *p = v; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_'))
            return false;
    return true;
}

/* A value is printable text without quotes or angle brackets: it lands in
   HTML and CSS. */
static bool valid_text(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == '"' || *p == '\\')
            return false;
    return true;
}

static bool valid_url(const char *v)
{
    return valid_text(v) && strchr(v, ' ') == NULL &&
           (v[0] == '/' || strncmp(v, "https://", 8) == 0 || strncmp(v, "http://", 7) == 0);
}

bool bo_public_url_valid(const char *v)
{
    const char *p = strncmp(v, "https://", 8) == 0 ? v + 8 : strncmp(v, "http://", 7) == 0 ? v + 7 : NULL;
    if (!p)
        return false;
    size_t host = 0;
    if (*p == '[') {                       /* an IPv6 address */
        while (p[host + 1] && strchr("0123456789abcdefABCDEF:.", p[host + 1]))
            host++;
        if (host == 0 || p[host + 1] != ']')
            return false;
        host += 2;
    } else {
        while (p[host] && (isalnum((unsigned char)p[host]) || p[host] == '-' || p[host] == '.')) {
            if (p[host] == '.' && (host == 0 || p[host - 1] == '.'))
                return false;
            host++;
        }
        if (host == 0 || p[0] == '-')
            return false;
    }
    p += host;
    if (*p == ':') {                       /* a port: 1 to 65535 */
        unsigned long port = 0;
        size_t n = 0;
        while (isdigit((unsigned char)p[1 + n]) && n < 6)
            port = port * 10 + (unsigned long)(p[1 + n++] - '0');
        if (n == 0 || port == 0 || port > 65535)
            return false;
        p += 1 + n;
    }
    if (*p && *p != '/')
        return false;
    for (; *p; p++)                        /* a path, without a query or fragment */
        if (!(isalnum((unsigned char)*p) || strchr("/-._~%!$&'()*+,;=:@", *p)))
            return false;
    return true;
}

void bo_site_free(bo_site *s)
{
    free(s->name);
    free(s->public_url);
    free(s->url);
    free(s->logo);
    free(s->colour);
    free(s->link_colour);
    free(s->site_dir);
    free(s->css);
    free(s->error);
    memset(s, 0, sizeof *s);
}

static void make_css(bo_site *s)
{
    char *vars = bo_sprintf("%s%s%s%s%s%s", s->colour ? "--govuk-brand-colour:" : "", s->colour ? s->colour : "",
                            s->colour ? ";" : "", s->link_colour ? "--govuk-link-colour:" : "",
                            s->link_colour ? s->link_colour : "", s->link_colour ? ";" : "");
    char *header = s->colour ? bo_sprintf(".govuk-generic-header{background:%s}\n", s->colour) : bo_strdup("");
    free(s->css);
    s->css = bo_sprintf("/* The deployment's colours, from site.conf. */\n%s%s%s%s", vars[0] ? ":root{" : "",
                        vars, vars[0] ? "}\n" : "", header);
    free(vars);
    free(header);
    uint64_t h = bo_fnv1a(s->css, strlen(s->css));
    snprintf(s->etag, sizeof s->etag, "\"%016llx\"", (unsigned long long)h);
}

int bo_site_parse(bo_site *s, const char *text, size_t len)
{
    memset(s, 0, sizeof *s);
    s->name = bo_strdup("");
    s->url = bo_strdup("/");
    size_t i = 0;
    int line = 0;
    while (i < len) {
        line++;
        size_t end = i;
        while (end < len && text[end] != '\n')
            end++;
        char buf[1024];
        size_t n = end - i < sizeof buf - 1 ? end - i : sizeof buf - 1;
        memcpy(buf, text + i, n);
        buf[n] = '\0';
        i = end + 1;
        char *p = buf;
        while (*p == ' ' || *p == '\t')
            p++;
        char *q = p + strlen(p);
        while (q > p && (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\r'))
            *--q = '\0';
        if (!*p || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            s->error = bo_sprintf("site.conf:%d: expected key = value", line);
            return BO_EPARSE;
        }
        char *k = p, *v = eq + 1;
        for (q = eq; q > k && (q[-1] == ' ' || q[-1] == '\t'); q--)
            ;
        *q = '\0';
        while (*v == ' ' || *v == '\t')
            v++;
        char **field = NULL;
        bool ok = true;
        if (strcmp(k, "name") == 0) {
            field = &s->name;
            ok = valid_text(v);
        } else if (strcmp(k, "url") == 0) {
            field = &s->url;
            ok = valid_url(v);
        } else if (strcmp(k, "logo") == 0) {
            ok = valid_file_name(v);
            if (ok) {
                free(s->logo);
                s->logo = bo_sprintf("/assets/site/%s", v);
                continue;
            }
        } else if (strcmp(k, "colour") == 0 || strcmp(k, "color") == 0) {
            field = &s->colour;
            ok = valid_colour(v);
        } else if (strcmp(k, "link_colour") == 0 || strcmp(k, "link_color") == 0) {
            field = &s->link_colour;
            ok = valid_colour(v);
        } else if (strcmp(k, "public_url") == 0) {
            field = &s->public_url;
            ok = bo_public_url_valid(v);
            s->bad_public_url = !ok;
        } else if (strcmp(k, "database") == 0) {
            continue;       /* where the data is: read by db.c */
        } else {
            s->error = bo_sprintf("site.conf:%d: unknown setting '%s' (name, url, logo, colour, link_colour, "
                                  "public_url, database)", line, k);
            return BO_EPARSE;
        }
        if (!ok) {
            s->error = bo_sprintf("site.conf:%d: '%s' is not a valid %s%s", line, v, k,
                                  s->bad_public_url ? " (like https://grants.example.gov.uk)" : "");
            return BO_EPARSE;
        }
        free(*field);
        *field = bo_strdup(v);
    }
    make_css(s);
    return 0;
}

const bo_site *bo_site_get(const char *data_dir)
{
    pthread_mutex_lock(&lock);
    if (!site) {
        bo_site *s = bo_calloc(1, sizeof *s);
        char *path = bo_sprintf("%s/site.conf", data_dir);
        size_t len = 0;
        char *text = read_small(path, SITE_CONF_MAX, &len);
        if (!text && errno != ENOENT)
            bo_log(BO_LOG_WARN, NULL, "%s: %s; using the defaults", path, strerror(errno));
        if (bo_site_parse(s, text ? text : "", text ? len : 0) < 0) {
            char *why = s->error;
            bool bad_url = s->bad_public_url;
            s->error = NULL;
            if (!bad_url)              /* (a bad public_url stops the server instead: server.c) */
                bo_log(BO_LOG_ERROR, NULL, "%s/%s; using the defaults", data_dir, why);
            bo_site_free(s);
            bo_site_parse(s, "", 0);
            s->error = why;
            s->bad_public_url = bad_url;
        }
        free(text);
        char *dir = bo_sprintf("%s/site", data_dir);
        s->site_dir = realpath(dir, NULL);
        free(dir);
        free(path);
        site = s;
    }
    pthread_mutex_unlock(&lock);
    return site;
}
