/*
 * notify.h - GOV.UK Notify: the deployment's Notify settings, the outbox
 * every app keeps in its own database, and the one sender that delivers
 * them all.
 *
 * notify.email/sms/letter (lua/borough/notify.lua over lnotify.c) write a
 * message to the app's outbox table (_borough_outbox) in the caller's
 * transaction, so a message exists if and only if the change that made it
 * committed. Its recipient and body (the whole message, personalisation
 * included) are sealed with the data folder's keys (crypto.h) as encrypted
 * fields are; the sender opens a body just before posting it, and once a
 * message is done (delivered or another final status, failed for good, or
 * a week past sending with no status) it purges both after the app's
 * purge_after, keeping the kind, template, reference, states and times. The sender runs on the main thread's loop, exactly one for the
 * whole server (workers never send): for each app with an API key it
 * claims queued rows in the app's database (state 'sending', claimed_by
 * this process's run id), posts them to Notify's v2 API with a fresh HS256
 * token each, within the key's rate limit (a sliding window of the last
 * requests, seeded from the outbox at start so a restart does not forget
 * the minute before it), and records the outcome: 'sent' with Notify's id,
 * queued again after a growing delay (429, 5xx, time-outs, network
 * failures), or 'failed' (any other 4xx). Rows a previous process left
 * 'sending' (it stopped or died mid-send) are first looked up at Notify by
 * their reference, which is unique per message: found, they are sent;
 * otherwise they are posted again. Delivery is therefore at least once,
 * and a duplicate (possible only if a process dies after Notify accepted a
 * post and before Notify shows it) carries the same reference. Delivery
 * status comes from Notify's callbacks (a built-in route of each app,
 * bearer-token checked) or, without a callback token, by polling.
 *
 * Settings live in <data>/notify.conf (see bo_notify_conf_parse), re-read
 * when the file changes. An app without an API key keeps its messages
 * queued and shows them on its outbox page.
 */
#ifndef BO_NOTIFY_H
#define BO_NOTIFY_H

#include "bo.h"
#include "db.h"

#include <stdatomic.h>
#include <uv.h>

struct bo_server;

#define BO_NOTIFY_DEFAULT_URL "https://api.notifications.service.gov.uk"

/* The settings of one app (its section merged over the top of the file). */
typedef struct bo_notify_app_conf {
    char *app;                 /* the section's app name; NULL for the defaults */
    char *api_key;             /* NULL: messages are kept, not sent */
    char service_id[37];       /* from a valid api_key */
    char secret[37];
    char *base_url;            /* without a trailing slash */
    char *callback_token;      /* NULL: no callbacks accepted; status is polled */
    int rate_limit;            /* requests per minute per key (Notify's: 3000) */
    double timeout_s;          /* one request to Notify */
    double retry_s;            /* delay before the first retry; doubles */
    double poll_s;             /* delay before the first status check; 0: never poll */
    double give_up_s;          /* a message not accepted by then fails */
    double purge_s;            /* a message done (delivered, failed) keeps its recipient and
                                  personalisation this long, then loses them */
} bo_notify_app_conf;

typedef struct bo_notify_conf {
    atomic_int refs;
    uint64_t version;          /* counts the readings of the file */
    bo_notify_app_conf defaults;
    bo_notify_app_conf *apps;
    unsigned napps;
    char *error;               /* why the file was not used, or NULL */
} bo_notify_conf;

/* Parses notify.conf text: lines of "key = value", "# comments", and
   "[app]" sections whose keys override the ones above them for that app.
   Keys: api_key, base_url, callback_token, rate_limit, timeout,
   retry_delay, poll_after, give_up_after, purge_after (seconds). Returns a new conf
   (one reference); on a mistake returns NULL with "notify.conf:LINE: why"
   in err. */
bo_notify_conf *bo_notify_conf_parse(const char *text, size_t len, char *err, size_t errlen);

/* The settings of the deployment using data_dir, read on first use and
   again when the file changes (checked at most once a second); any thread.
   A missing file is the defaults; a broken one is logged and the defaults
   used. Returns a new reference. */
bo_notify_conf *bo_notify_conf_get(const char *data_dir);
void bo_notify_conf_unref(bo_notify_conf *c);
/* The settings for app (its section, or the defaults). */
const bo_notify_app_conf *bo_notify_conf_app(const bo_notify_conf *c, const char *app);
/* Forgets the cached file (the server's end). */
void bo_notify_conf_forget(void);

/* The outbox table and its indexes; the platform's rights are needed. */
extern const char bo_notify_outbox_schema[];

/* The associated data of the outbox's sealed columns (recipient, body):
   "<app>/_borough_outbox/<column>", the scheme of encrypted entity fields,
   so `borough keys` and `borough export` treat them alike. */
void bo_notify_aad(char *out, size_t cap, const char *app, const char *column);

/* The sender, on the main loop. */
typedef struct bo_notify bo_notify;

/* Starts sending for the apps of s's catalog. */
void bo_notify_start(bo_notify **out, uv_loop_t *loop, struct bo_server *s);
/* Stops: exchanges in flight are abandoned (their rows stay 'sending' and
   are looked up by reference at the next start); freed once its handles
   have closed. */
void bo_notify_stop(bo_notify *n);

#endif
