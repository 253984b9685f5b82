/*
 * cookie.c - fuzzes how a request's cookies are read (core/lreq.c), the
 * CSRF check of a form's token against the borough_csrf cookie (core/csrf.c)
 * and the session lookup by the borough_session cookie (core/session.c).
 *
 * The input is lines: "C" + a Cookie header value (up to 8), "S" + text
 * after a cookie that holds the real session token (made at start in a
 * platform database under /tmp), "T" + a CSRF token, "B" + what the token
 * is bound to, "N" + a cookie name to look up. Every cookie looked up must
 * be what a plain reference reader of the headers finds (name=value pairs
 * split on ';', the first of a name wins, the value without trailing
 * spaces); the session is found only for exactly the real token; a CSRF
 * token passes only if it is the one made for that nonce, binding and
 * time, and the genuine one passes.
 */
#include "fuzz.h"

#include "csrf.h"
#include "http.h"
#include "lreq.h"
#include "platformdb.h"
#include "session.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static bo_db *db;
static char real_token[BO_SESSION_TOKEN_CHARS + 1];
static const bo_session_limits lim = { 30 * 60 * 1000, 12 * 3600 * 1000 };
static const unsigned char key[BO_CSRF_KEY_BYTES] = "0123456789abcdef0123456789abcdef";
static const int64_t now = 1700000000;

static void remove_db(void)
{
    bo_db_close(db);
    static const char *const files[] = { "borough.db", "borough.db-wal", "borough.db-shm" };
    char path[128];
    for (size_t i = 0; i < BO_COUNT(files); i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void setup(void)
{
    char err[512];
    snprintf(dir, sizeof dir, "/tmp/borough-fuzz-cookie-%d", (int)getpid());
    mkdir(dir, 0700);
    FUZZ_CHECK(bo_platformdb_open(&db, dir, err, sizeof err) == 0);
    atexit(remove_db);
    FUZZ_CHECK(bo_db_exec_script(db, "INSERT INTO users (id, email, name, password_hash, created_ms, password_ms) "
                                     "VALUES (1, 'jo@example.gov.uk', 'Jo', 'x', 0, 0);"
                                     "INSERT INTO user_roles (user_id, app, role) VALUES (1, 'cases', 'assessor');", err, sizeof err) == 0);
    int64_t id;
    FUZZ_CHECK(bo_session_create(db, 1, "10.0.0.1", &lim, real_token, &id, err, sizeof err) == 0);
}

static void add_header(bo_http_request *r, const char *name, const char *value, size_t n)
{
    if (r->nheaders == BO_HTTP_MAX_HEADERS)
        return;
    bo_http_header *h = &r->headers[r->nheaders++];
    h->name = (uint32_t)r->raw.len;
    h->name_len = (uint32_t)strlen(name);
    bo_buf_append(&r->raw, name, h->name_len + 1);
    h->value = (uint32_t)r->raw.len;
    h->value_len = (uint32_t)n;
    bo_buf_append(&r->raw, value, n);
    bo_buf_putc(&r->raw, '\0');
}

/* The reference reader: the first cookie called name, or NULL. */
static const char *ref_cookie(const bo_http_request *r, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (unsigned i = 0; i < r->nheaders; i++) {
        const bo_http_header *h = &r->headers[i];
        if (h->name_len != 6 || strncasecmp(bo_http_str(r, h->name), "cookie", 6) != 0)
            continue;
        const char *v = bo_http_str(r, h->value);
        size_t n = h->value_len, p = 0;
        while (p < n) {
            size_t start = p;
            while (p < n && v[p] != ';')
                p++;
            size_t end = p++;                       /* one pair: v[start..end) */
            while (start < end && v[start] == ' ')
                start++;
            const char *eq = memchr(v + start, '=', end - start);
            if (!eq)
                continue;
            if ((size_t)(eq - v) - start == nl && memcmp(v + start, name, nl) == 0) {
                size_t vend = end;
                while (vend > (size_t)(eq - v) + 1 && v[vend - 1] == ' ')
                    vend--;
                *len = vend - (size_t)(eq - v) - 1;
                return eq + 1;
            }
        }
    }
    return NULL;
}

static void check_cookie(const bo_http_request *r, const char *name)
{
    size_t len = 0, ref_len = 0;
    const char *v = bo_lreq_cookie(r, name, &len);
    const char *ref = ref_cookie(r, name, &ref_len);
    if (!ref != !v)
        fprintf(stderr, "cookie %s: ours %s, the reference's %s\n", name, v ? "found" : "none", ref ? "found" : "none");
    FUZZ_CHECK(!ref == !v);
    if (v)
        FUZZ_CHECK(v == ref && len == ref_len);
}

static void check_csrf(const char *nonce, const char *binding, const char *token, size_t n)
{
    char good[BO_CSRF_TOKEN_MAX];
    bo_csrf_token(key, nonce, binding, now, good);
    FUZZ_CHECK(bo_csrf_check(key, nonce, binding, good, strlen(good), now) == 0);
    int rc = bo_csrf_check(key, nonce, binding, token, n, now);
    FUZZ_CHECK(rc == 0 || rc == BO_EINVAL || rc == BO_ETIMEDOUT);
    if (rc == BO_EINVAL)
        return;
    /* It passed (or only its time failed): it is the token made for its time. */
    int64_t t = 0;
    size_t i = 0;
    while (i < n && token[i] >= '0' && token[i] <= '9')
        t = t * 10 + (token[i++] - '0');
    FUZZ_CHECK(i >= 1 && i <= 12 && i < n && token[i] == '.');
    char made[BO_CSRF_TOKEN_MAX];
    bo_csrf_token(key, nonce, binding, t, made);
    const char *dot = strchr(made, '.');
    FUZZ_CHECK(n - i == strlen(dot) && memcmp(token + i, dot, n - i) == 0);
    FUZZ_CHECK((rc == 0) == (t <= now + 300 && now - t <= BO_CSRF_MAX_AGE));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!db)
        setup();
    /* A request as the parser leaves it; its cookies are added below. */
    static const char head[] = "GET /page?x=1&lang=xx HTTP/1.1\r\nHost: a\r\n\r\n";
    bo_http_request r;
    bo_http_parser p;
    bo_http_request_init(&r);
    bo_http_parser_init(&p, &r);
    size_t used;
    FUZZ_CHECK(bo_http_parse(&p, head, sizeof head - 1, &used) == BO_HTTP_HEAD);
    const char *token = NULL, *binding = "", *extra_name = NULL;
    size_t token_len = 0;
    char *bind_copy = NULL, *name_copy = NULL;
    const char *s = (const char *)data, *end = s + size;
    unsigned cookies = 0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        if (n >= 1 && s[0] == 'C' && cookies < 8) {
            add_header(&r, cookies++ % 2 ? "cookie" : "Cookie", s + 1, n - 1);
        } else if (n >= 1 && s[0] == 'S' && cookies < 8) {
            char v[256];
            size_t k = (size_t)snprintf(v, sizeof v, "borough_session=%s", real_token);
            size_t more = n - 1 < sizeof v - k ? n - 1 : sizeof v - k;
            memcpy(v + k, s + 1, more);
            add_header(&r, "Cookie", v, k + more);
            cookies++;
        } else if (n >= 1 && s[0] == 'T') {
            token = s + 1;
            token_len = n - 1;
        } else if (n >= 1 && s[0] == 'B' && !bind_copy) {
            bind_copy = bo_strndup(s + 1, n - 1);
            binding = bind_copy;
        } else if (n >= 1 && s[0] == 'N' && !name_copy) {
            name_copy = bo_strndup(s + 1, n - 1);
            extra_name = name_copy;
        }
        s = nl ? nl + 1 : end;
    }
    static const char *const names[] = { "borough_csrf", "borough_session", "borough_lang", "" };
    for (size_t i = 0; i < BO_COUNT(names); i++)
        check_cookie(&r, names[i]);
    if (extra_name)
        check_cookie(&r, extra_name);
    const char *lang = bo_lreq_lang(&r);
    FUZZ_CHECK(!lang || strcmp(lang, "en") == 0 || strcmp(lang, "cy") == 0);

    /* The session: found exactly for the real token. */
    size_t slen;
    const char *sv = bo_lreq_cookie(&r, "borough_session", &slen);
    if (sv) {
        bo_user *u = bo_session_lookup(db, sv, slen, "cases", &lim);
        bool real = slen == strlen(real_token) && memcmp(sv, real_token, slen) == 0;
        FUZZ_CHECK(real == (u != NULL));
        FUZZ_CHECK(!u || (u->id == 1 && bo_user_has_role(u, "assessor", 8)));
        free(u);
    }

    /* The CSRF check, with the cookie's nonce when it has the shape of one. */
    size_t nlen;
    const char *nv = bo_lreq_cookie(&r, "borough_csrf", &nlen);
    char nonce[BO_CSRF_NONCE_LEN + 1] = "00112233445566778899aabbccddeeff";
    if (nv && bo_csrf_nonce_ok(nv, nlen)) {
        memcpy(nonce, nv, BO_CSRF_NONCE_LEN);
        nonce[BO_CSRF_NONCE_LEN] = '\0';
    }
    if (token)
        check_csrf(nonce, binding, token, token_len);
    free(bind_copy);
    free(name_copy);
    bo_http_request_free(&r);
    return 0;
}
