/*
 * queues.h - the outbox (notify.h) and the background jobs (jobs.h) of an
 * app as an operator sees them. Each app keeps both in its own database;
 * these read and change them from outside the app, on a connection of
 * their own, for two front ends: `borough outbox` and `borough jobs`
 * (cmd_queue.c) and the admin console's Outbox and jobs page (ladmin.c).
 *
 * A message shows only what delivery needs: its kind, template,
 * reference, states, Notify's delivery status and the times. Its
 * recipient and personalisation stay sealed: nothing here opens them.
 *
 * Retry and cancel, each recorded in the platform audit log naming who:
 *  - a failed message or job is queued again at once, its attempts
 *    counted afresh (a message whose personal details were already
 *    purged cannot be: there is nothing left to send);
 *  - a stuck one (sending or running for BO_QUEUE_STUCK_MS, longer than
 *    any attempt may take: its process died) is given back: a job is
 *    queued again; a message is looked up at Notify by its reference
 *    before it is posted again (notify.c), so it is never sent twice;
 *  - a queued one (waiting for its first try or a retry) can be
 *    cancelled: it fails for good with "cancelled by WHO"; so can a stuck
 *    job.
 * Each change is one UPDATE guarded by the state it was judged in, so it
 * never undoes what the sender or a job runner did in between.
 */
#ifndef BO_QUEUES_H
#define BO_QUEUES_H

#include "db.h"

#include <stdint.h>

typedef enum bo_queue {
    BO_QUEUE_OUTBOX,
    BO_QUEUE_JOBS,
} bo_queue;

#define BO_QUEUE_STUCK_MS (15 * 60 * 1000LL)

/* One message or job. Strings are borrowed for the call. */
typedef struct bo_queue_item {
    int64_t id;
    const char *state;     /* outbox: queued, sending, sent, failed; jobs: queued, running, done, failed */
    bool stuck;            /* sending or running for BO_QUEUE_STUCK_MS */
    const char *name;      /* outbox: the kind (email, sms, letter); jobs: the handler's name */
    const char *detail;    /* outbox: the template's id; jobs: "job", or "every" for a schedule's tick */
    const char *reference; /* outbox: the message's reference; jobs: its arguments (JSON) */
    int attempts;
    int max_attempts;      /* jobs; 0 for messages */
    int64_t made_ms;
    int64_t next_ms;       /* when a queued one may go next */
    int64_t last_ms;       /* outbox: its last try; jobs: when it started or finished; 0: never */
    const char *status;    /* outbox: Notify's delivery status ("delivered", ...), or NULL */
    const char *status_at; /* outbox: when Notify gave it (as Notify wrote it), or NULL */
    const char *error;
    bool purged;           /* outbox: its recipient and personalisation are gone */
} bo_queue_item;

typedef int (*bo_queue_fn)(void *ud, const bo_queue_item *it);

/* How many there are in each state. */
typedef struct bo_queue_counts {
    unsigned queued;
    unsigned active;       /* sending or running */
    unsigned done;         /* sent or done */
    unsigned failed;
    unsigned stuck;        /* of the active ones */
} bo_queue_counts;

/* The word for q in messages and audit rows: "outbox" or "jobs". */
const char *bo_queue_name(bo_queue q);

/* Opens data_dir/<app>/app.db on a connection of its own (no app
   authorizer: the platform's tables are written). Returns 0 and *out
   (close with bo_db_close), BO_ENOENT when the app has no database yet,
   or another BO_E* code, with err. */
int bo_queue_open(bo_db **out, const char *data_dir, const char *app, char *err, size_t errlen);

/* The names of the apps under data_dir that have a database, sorted (a
   new array of new strings); returns how many, or -1 with err. */
int bo_queue_apps(const char *data_dir, char ***names, char *err, size_t errlen);

/* Calls fn for the items of q newest first, skipping offset, at most
   limit; filter is NULL (all), a state, or "stuck". An app without the
   table has none. Returns 0, fn's first non-zero, or BO_EDB with err. */
int bo_queue_list(bo_db *db, bo_queue q, const char *filter, unsigned offset, unsigned limit, bo_queue_fn fn,
                  void *ud, char *err, size_t errlen);
int bo_queue_count(bo_db *db, bo_queue q, bo_queue_counts *out, char *err, size_t errlen);

/* Retry and cancel item id of app's q (see above), writing the audit row
   to platform as who. Return 0, or BO_ENOENT (no such item), BO_EINVAL
   (not in a state that allows it; err says which it is in), BO_EDB, with
   err. */
int bo_queue_retry(bo_db *db, bo_db *platform, const char *who, bo_queue q, const char *app, int64_t id,
                   char *err, size_t errlen);
int bo_queue_cancel(bo_db *db, bo_db *platform, const char *who, bo_queue q, const char *app, int64_t id,
                    char *err, size_t errlen);

#endif
