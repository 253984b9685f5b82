/*
 * ltest.c - borough._test_http for app tests (see ltest.h).
 *
 *   status, headers, body = borough._test_http(method, target, headers, body)
 *
 * sends one request with "Connection: close" (and Content-Length when there
 * is a body or the method is POST, PUT or PATCH), reads the whole response
 * and returns its status, its header fields as an array of { lower-case
 * name, value } in order, and its body (chunked framing removed). It blocks:
 * it is meant for the test runner's own thread, never a worker's.
 */
#include "ltest.h"
#include "bo.h"
#include "buf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <lauxlib.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define ANSWER_TIMEOUT_S 60
#define RESPONSE_MAX (256u * 1024 * 1024)

static int box_gc(lua_State *L)
{
    bo_buf_free(lua_touserdata(L, 1));
    return 0;
}

/* A buffer owned by a userdata on the stack, so a Lua error cannot leak it. */
static bo_buf *push_box(lua_State *L)
{
    bo_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
    bo_buf_init(b);
    if (luaL_newmetatable(L, "borough.test_buffer")) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

static bool clean(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return false;
    return true;
}

/* Sends req and reads until the server closes; returns NULL or why not. */
static const char *exchange(int port, const char *req, size_t len, bo_buf *in)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return strerror(errno);
    struct timeval tv = { ANSWER_TIMEOUT_S, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char *why = NULL;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        why = strerror(errno);
        goto out;
    }
    for (size_t sent = 0; sent < len;) {
        ssize_t n = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            why = strerror(errno);
            goto out;
        }
        sent += (size_t)n;
    }
    for (;;) {
        char *dst = bo_buf_reserve(in, 64 * 1024);
        ssize_t n = recv(fd, dst, 64 * 1024, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            why = errno == EAGAIN || errno == EWOULDBLOCK ? "no answer in time" : strerror(errno);
            goto out;
        }
        if (n == 0)
            break;
        in->len += (size_t)n;
        if (in->len > RESPONSE_MAX) {
            why = "the response is too large";
            goto out;
        }
    }
out:
    close(fd);
    return why;
}

/* Removes chunked framing in place; returns the body's length or -1. */
static long dechunk(char *p, size_t n)
{
    size_t r = 0, w = 0;
    for (;;) {
        char *end;
        if (r >= n)
            return -1;
        unsigned long size = strtoul(p + r, &end, 16);
        char *eol = memchr(p + r, '\n', n - r);
        if (end == p + r || !eol)
            return -1;
        r = (size_t)(eol - p) + 1;
        if (size == 0)
            return (long)w;
        if (size > n - r || n - r - size < 2)
            return -1;
        memmove(p + w, p + r, size);
        w += size;
        r += size + 2;
    }
}

static int test_http(lua_State *L)
{
    int port = (int)lua_tointeger(L, lua_upvalueindex(1));
    size_t mlen, tlen, blen;
    const char *method = luaL_checklstring(L, 1, &mlen);
    const char *target = luaL_checklstring(L, 2, &tlen);
    luaL_checktype(L, 3, LUA_TTABLE);
    const char *body = luaL_optlstring(L, 4, "", &blen);
    if (!clean(method, mlen) || strchr(method, ' ') || !clean(target, tlen) || strchr(target, ' '))
        return luaL_error(L, "a request method or path may not hold spaces or line breaks");

    bo_buf *req = push_box(L);
    bo_buf_append(req, method, mlen);
    bo_buf_putc(req, ' ');
    bo_buf_append(req, target, tlen);
    bo_buf_puts(req, " HTTP/1.1\r\nConnection: close\r\n");
    bool host = false;
    lua_pushnil(L);
    while (lua_next(L, 3)) {
        size_t nl, vl;
        if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
            return luaL_error(L, "request headers are strings: { [\"Name\"] = \"value\" }");
        const char *name = lua_tolstring(L, -2, &nl), *value = lua_tolstring(L, -1, &vl);
        if (!clean(name, nl) || !clean(value, vl))
            return luaL_error(L, "a request header may not hold a line break");
        if (strcasecmp(name, "content-length") != 0 && strcasecmp(name, "connection") != 0) {
            host |= strcasecmp(name, "host") == 0;
            bo_buf_append(req, name, nl);
            bo_buf_puts(req, ": ");
            bo_buf_append(req, value, vl);
            bo_buf_puts(req, "\r\n");
        }
        lua_pop(L, 1);
    }
    if (!host)
        bo_buf_puts(req, "Host: 127.0.0.1\r\n");
    if (blen || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0)
        bo_buf_printf(req, "Content-Length: %zu\r\n", blen);
    bo_buf_puts(req, "\r\n");
    bo_buf_append(req, body, blen);

    bo_buf *in = push_box(L);
    const char *why = exchange(port, req->data, req->len, in);
    if (why)
        return luaL_error(L, "%s %s: %s", method, target, why);
    char *p = in->data;
    size_t n = in->len;
    char *head_end = n ? memmem(p, n, "\r\n\r\n", 4) : NULL;
    int status;
    if (!head_end || n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || sscanf(p + 9, "%3d", &status) != 1)
        return luaL_error(L, "%s %s: the server's response is malformed", method, target);
    lua_pushinteger(L, status);
    lua_newtable(L);
    int headers = lua_gettop(L);
    bool chunked = false;
    long clen = -1;
    char *line = (char *)memchr(p, '\n', (size_t)(head_end - p)) + 1;
    int nh = 0;
    while (line < head_end + 2) {
        char *eol = memmem(line, (size_t)(head_end + 2 - line), "\r\n", 2);
        char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon) {
            char *v = colon + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            for (char *c = line; c < colon; c++)
                *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
            size_t nlen = (size_t)(colon - line), vlen = (size_t)(eol - v);
            if (nlen == 17 && memcmp(line, "transfer-encoding", 17) == 0 && vlen == 7 && memcmp(v, "chunked", 7) == 0)
                chunked = true;
            if (nlen == 14 && memcmp(line, "content-length", 14) == 0)
                clen = strtol(v, NULL, 10);
            lua_createtable(L, 2, 0);
            lua_pushlstring(L, line, nlen);
            lua_rawseti(L, -2, 1);
            lua_pushlstring(L, v, vlen);
            lua_rawseti(L, -2, 2);
            lua_rawseti(L, headers, ++nh);
        }
        line = eol + 2;
    }
    char *bp = head_end + 4;
    size_t bn = n - (size_t)(bp - p);
    bool bodiless = strcmp(method, "HEAD") == 0 || status == 204 || status == 304 || status < 200;
    if (bodiless) {
        bn = 0;
    } else if (chunked) {
        long got = dechunk(bp, bn);
        if (got < 0)
            return luaL_error(L, "%s %s: the chunked body is malformed", method, target);
        bn = (size_t)got;
    } else if (clen >= 0) {
        if ((size_t)clen > bn)
            return luaL_error(L, "%s %s: the body is shorter than its Content-Length", method, target);
        bn = (size_t)clen;
    }
    lua_pushlstring(L, bp, bn);
    return 3;
}

void bo_ltest_open(lua_State *L, int port, const char *mount)
{
    lua_getglobal(L, "borough");
    lua_pushinteger(L, port);
    lua_pushcclosure(L, test_http, 1);
    lua_setfield(L, -2, "_test_http");
    lua_pushstring(L, mount);
    lua_setfield(L, -2, "_test_mount");
    lua_pop(L, 1);
}
