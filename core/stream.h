/*
 * stream.h - Server-Sent Events: the event streams a worker holds open and
 * its hub, which sends them the events apps publish.
 *
 * A stream begins as an ordinary request to a route of app:events (sign-in
 * and roles judged as for any route, then the app's function choosing the
 * channels), whose response body is a "borough.stream" (levents.h). Its
 * head goes out (200, text/event-stream, chunked), then the events the
 * client missed (Last-Event-ID, or the page's own last_event_id), and the
 * request ends: no Lua coroutine stays behind. From then on the connection
 * belongs to its stream, a small C object with the channels it follows and
 * the last id it was sent; it reads no more requests.
 *
 * The hub is one per worker. A kick of the server's bus (bus.h) wakes it;
 * once a second it also looks without one (a command or another process
 * may have published). For each app with streams it reads the new rows of
 * _borough_events through its own read-only connection, formats each
 * event once and appends it to every stream following its channel. The
 * queue of a stream is its connection's output: a client that reads too
 * slowly to keep it under BO_STREAM_QUEUE_MAX is dropped, so memory never
 * grows with a slow reader. Every heartbeat the hub sends a comment to each
 * stream and checks that the session behind it still stands (not signed
 * out, expired or disabled, and still with the route's role); a stream
 * whose session does not is ended.
 *
 * Streams end cleanly (the chunked body's end, then close): when the
 * generation they began on is retired (a reload: the browser reconnects,
 * with Last-Event-ID, to the new one), at a graceful stop (at once, not at
 * the drain deadline), and when their session ends. Caps: streams per
 * worker (serve --max-streams) and per app across workers (the manifest's
 * limits.streams); past either, 503 with Retry-After.
 */
#ifndef BO_STREAM_H
#define BO_STREAM_H

#include "bo.h"

struct bo_worker;
struct bo_request;
struct bo_gen;

typedef struct bo_hub bo_hub;
typedef struct bo_stream bo_stream;

/* A stream's queued output may not pass this: the client is dropped. */
#define BO_STREAM_QUEUE_MAX (256 * 1024)

/* Makes the worker's hub on its loop (before the loop runs) and joins the
   server's bus. */
bo_hub *bo_hub_new(struct bo_worker *w);
/* Leaves the bus and closes the hub's handles (the worker is stopping;
   its loop still runs). */
void bo_hub_close(bo_hub *h);
/* Frees the hub once its loop has ended. */
void bo_hub_free(bo_hub *h);

/* Ends every stream that began on generation g (retired by a reload or a
   replacement): each gets the end of its body and its connection closes. */
void bo_hub_retire(bo_hub *h, struct bo_gen *g);

/* Answers request r with an event stream following channels (" a b ",
   see bo_levents_channels): 503 when a cap is reached, else the head, the
   missed events, and the stream taking over the connection once the
   request ends. Runs no Lua. */
void bo_stream_respond(struct bo_request *r, const char *channels);

/* Ends the stream cleanly (its connection closes once the end is sent). */
void bo_stream_end(bo_stream *s, const char *why);
/* The connection of s is closing: s is forgotten and freed. */
void bo_stream_closed(bo_stream *s);

#endif
