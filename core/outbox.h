/*
 * outbox.h - GOV.UK Notify's settings and the outbox every app keeps in its
 * own database: what the Notify sender (notify.h, on the main loop) and the
 * outbox insert of app code (lnotify.c) share.
 *
 * Settings live in <data>/notify.conf (see bo_notify_conf_parse), re-read
 * when the file changes. The outbox table holds each message with its
 * recipient and body sealed (crypto.h), under the associated data
 * bo_notify_aad names.
 */
#ifndef BO_OUTBOX_H
#define BO_OUTBOX_H

#include "bo.h"
#include "db.h"

#include <stdatomic.h>

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

#endif
