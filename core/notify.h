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
 * Settings live in <data>/notify.conf (outbox.h: bo_notify_conf_parse), re-read
 * when the file changes. An app without an API key keeps its messages
 * queued and shows them on its outbox page.
 */
#ifndef BO_NOTIFY_H
#define BO_NOTIFY_H

#include "bo.h"
#include "outbox.h"

#include <stdatomic.h>
#include <uv.h>

struct bo_server;

/* The sender, on the main loop. */
typedef struct bo_notify bo_notify;

/* Starts sending for the apps of s's catalog. */
void bo_notify_start(bo_notify **out, uv_loop_t *loop, struct bo_server *s);
/* Stops: exchanges in flight are abandoned (their rows stay 'sending' and
   are looked up by reference at the next start); freed once its handles
   have closed. */
void bo_notify_stop(bo_notify *n);

#endif
