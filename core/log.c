/*
 * log.c - formats log lines (text or JSON) and writes each with one write(2).
 */
#include "log.h"
#include "buf.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_json;
static atomic_int log_level = BO_LOG_INFO;
static atomic_int log_fd = 2;

static _Thread_local const char *request_id;

void bo_log_set_request(const char *id) { request_id = id; }

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void bo_log_set_json(int on) { atomic_store(&log_json, on); }
void bo_log_set_level(int level) { atomic_store(&log_level, level); }
void bo_log_set_fd(int fd) { atomic_store(&log_fd, fd); }

static void put_time(bo_buf *b)
{
    struct timeval tv;
    struct tm tm;
    char tmp[40];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(tmp + n, sizeof tmp - n, ".%03dZ", (int)(tv.tv_usec / 1000));
    bo_buf_puts(b, tmp);
}

/* Appends s as the inside of a JSON string. */
static void put_json_text(bo_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            bo_buf_putc(b, '\\');
            bo_buf_putc(b, (char)c);
        } else if (c < 0x20 || c == 0x7f) {
            char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            bo_buf_append(b, esc, 6);
        } else {
            bo_buf_putc(b, (char)c);
        }
    }
}

/* Text lines keep each event on one line: control characters become '?'. */
static void put_plain_text(bo_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bo_buf_putc(b, (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c);
    }
}

static void emit(bo_buf *b)
{
    bo_buf_putc(b, '\n');
    const char *p = b->data;
    size_t left = b->len;
    int fd = atomic_load(&log_fd);
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
}

void bo_logv(int level, const char *app, const char *fmt, va_list ap)
{
    if (level < atomic_load(&log_level))
        return;
    bo_buf msg, line;
    bo_buf_init(&msg);
    bo_buf_init(&line);
    bo_buf_vprintf(&msg, fmt, ap);

    if (atomic_load(&log_json)) {
        bo_buf_puts(&line, "{\"time\":\"");
        put_time(&line);
        bo_buf_printf(&line, "\",\"level\":\"%s\"", level_names[level]);
        if (app) {
            bo_buf_puts(&line, ",\"app\":\"");
            put_json_text(&line, app, strlen(app));
            bo_buf_putc(&line, '"');
        }
        if (request_id)
            bo_buf_printf(&line, ",\"id\":\"%s\"", request_id);
        bo_buf_puts(&line, ",\"msg\":\"");
        put_json_text(&line, msg.data, msg.len);
        bo_buf_puts(&line, "\"}");
    } else {
        put_time(&line);
        bo_buf_printf(&line, " %-5s ", level_names[level]);
        if (app)
            bo_buf_printf(&line, "[%s] ", app);
        if (request_id)
            bo_buf_printf(&line, "id=%s ", request_id);
        put_plain_text(&line, msg.data, msg.len);
    }
    emit(&line);
    bo_buf_free(&msg);
    bo_buf_free(&line);
}

void bo_log(int level, const char *app, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bo_logv(level, app, fmt, ap);
    va_end(ap);
}

void bo_log_access(const bo_log_request *r)
{
    bo_buf line;
    bo_buf_init(&line);
    const char *app = r->app ? r->app : "-";
    if (atomic_load(&log_json)) {
        bo_buf_puts(&line, "{\"time\":\"");
        put_time(&line);
        bo_buf_puts(&line, "\",\"level\":\"info\",\"app\":\"");
        put_json_text(&line, app, strlen(app));
        bo_buf_puts(&line, "\",\"method\":\"");
        put_json_text(&line, r->method, strlen(r->method));
        bo_buf_puts(&line, "\",\"path\":\"");
        put_json_text(&line, r->path, strlen(r->path));
        bo_buf_printf(&line, "\",\"status\":%d,\"ms\":%.3f,\"bytes\":%llu,\"id\":\"%s\",\"ip\":\"",
                      r->status, r->ms, r->bytes, r->request_id);
        put_json_text(&line, r->ip, strlen(r->ip));
        bo_buf_puts(&line, "\"}");
    } else {
        put_time(&line);
        bo_buf_printf(&line, " %s %s ", app, r->method);
        put_plain_text(&line, r->path, strlen(r->path));
        bo_buf_printf(&line, " %d %.3fms %lluB id=%s ip=%s", r->status, r->ms, r->bytes,
                      r->request_id, r->ip);
    }
    emit(&line);
    bo_buf_free(&line);
}
