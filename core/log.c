/*
 * log.c - formats log lines (text or JSON) and writes them with write(2).
 *
 * A worker batches its access lines: they collect in a buffer of its own
 * and go out together once per turn of its loop (bo_log_flush), in writes
 * of whole lines of at most PIPE_BUF bytes, so that lines of different
 * threads never interleave even on a pipe. Any other line of that thread
 * flushes the batch first, which keeps each thread's lines in order.
 * One write(2) per request cost a third of the throughput of a small
 * request (docs/performance.md).
 */
#include "log.h"
#include "buf.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_json;
static atomic_int log_level = BO_LOG_INFO;

static _Thread_local const char *request_id;
static _Thread_local bo_buf *batch;      /* this thread's access lines, when it batches */
static _Thread_local time_t stamp_second = -1;
static _Thread_local char stamp[24];     /* "2026-11-25T23:24:30" of stamp_second */

void bo_log_set_request(const char *id) { request_id = id; }

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void bo_log_set_json(int on) { atomic_store(&log_json, on); }
void bo_log_set_level(int level) { atomic_store(&log_level, level); }

static void put_time(bo_buf *b)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (tv.tv_sec != stamp_second) {
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        stamp_second = tv.tv_sec;
    }
    bo_buf_puts(b, stamp);
    int ms = (int)(tv.tv_usec / 1000);
    char tail[6] = { '.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 'Z', 0 };
    bo_buf_append(b, tail, 5);
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

static void write_out(const char *p, size_t left)
{
    while (left > 0) {
        ssize_t n = write(STDERR_FILENO, p, left);
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
}

void bo_log_flush(void)
{
    if (!batch || batch->len == 0)
        return;
    /* Whole lines, at most PIPE_BUF bytes a write (a longer line alone). */
    const char *p = batch->data, *end = batch->data + batch->len;
    while (p < end) {
        const char *cut = p;
        for (;;) {
            const char *nl = memchr(cut, '\n', (size_t)(end - cut));
            const char *next = nl ? nl + 1 : end;
            if (cut > p && next - p > PIPE_BUF)
                break;
            cut = next;
            if (cut == end || next - p >= PIPE_BUF)
                break;
        }
        write_out(p, (size_t)(cut - p));
        p = cut;
    }
    bo_buf_reset(batch, 64 * 1024);
}

void bo_log_batch_begin(void)
{
    if (!batch) {
        batch = bo_malloc(sizeof *batch);
        bo_buf_init(batch);
    }
}

void bo_log_batch_end(void)
{
    if (!batch)
        return;
    bo_log_flush();
    bo_buf_free(batch);
    free(batch);
    batch = NULL;
}

static void emit(bo_buf *b)
{
    bo_buf_putc(b, '\n');
    bo_log_flush();
    write_out(b->data, b->len);
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
    bo_buf own, *out = batch ? batch : &own;
    if (!batch)
        bo_buf_init(&own);
    const char *app = r->app ? r->app : "-";
    if (atomic_load(&log_json)) {
        bo_buf_puts(out, "{\"time\":\"");
        put_time(out);
        bo_buf_puts(out, "\",\"level\":\"info\",\"app\":\"");
        put_json_text(out, app, strlen(app));
        bo_buf_puts(out, "\",\"method\":\"");
        put_json_text(out, r->method, strlen(r->method));
        bo_buf_puts(out, "\",\"path\":\"");
        put_json_text(out, r->path, strlen(r->path));
        bo_buf_printf(out, "\",\"status\":%d,\"ms\":%.3f,\"bytes\":%llu,\"id\":\"%s\",\"ip\":\"",
                      r->status, r->ms, r->bytes, r->request_id);
        put_json_text(out, r->ip, strlen(r->ip));
        bo_buf_puts(out, "\"}");
    } else {
        put_time(out);
        bo_buf_printf(out, " %s %s ", app, r->method);
        put_plain_text(out, r->path, strlen(r->path));
        bo_buf_printf(out, " %d %.3fms %lluB id=%s ip=%s", r->status, r->ms, r->bytes,
                      r->request_id, r->ip);
    }
    if (batch) {
        bo_buf_putc(batch, '\n');
        if (batch->len >= 64 * 1024)
            bo_log_flush();
        return;
    }
    emit(&own);
    bo_buf_free(&own);
}
