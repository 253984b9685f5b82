/*
 * log.h - the server's log: one line per event on stderr, as text or JSON.
 * Every thread may log; lines go out in whole-line writes of at most
 * PIPE_BUF bytes, so lines from different workers never interleave. A
 * worker batches its access lines and flushes them once per loop turn.
 */
#ifndef BO_LOG_H
#define BO_LOG_H

#include <stdarg.h>

enum { BO_LOG_DEBUG, BO_LOG_INFO, BO_LOG_WARN, BO_LOG_ERROR };

/* Chooses the format of every later line: 0 text (the default), 1 JSON. */
void bo_log_set_json(int on);
void bo_log_set_level(int level);

/* Sets (or clears, with NULL) the request id this thread is serving; every
   line logged meanwhile carries it. The string must outlive the setting. */
void bo_log_set_request(const char *id);

/* Logs a line; app names the app it concerns, or NULL for the server. */
void bo_log(int level, const char *app, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void bo_logv(int level, const char *app, const char *fmt, va_list ap);

/* One access-log line per finished request. */
typedef struct bo_log_request {
    const char *app;        /* NULL when no app answered */
    const char *method;
    const char *path;       /* raw request target path, without the query */
    int status;
    double ms;              /* from head received to response queued */
    unsigned long long bytes; /* response bytes, head included */
    const char *request_id;
    const char *ip;
} bo_log_request;

void bo_log_access(const bo_log_request *r);

/* From now on this thread's access lines collect in a batch, written by
   bo_log_flush() (and before any other line of the thread). */
void bo_log_batch_begin(void);
/* Writes this thread's batch. */
void bo_log_flush(void);
/* Writes and frees this thread's batch; it writes each line at once again. */
void bo_log_batch_end(void);

#endif
