/*
 * levents.h - borough._events, the C half of lua/borough/events.lua: live
 * updates as app code makes them.
 *
 * An event is a row of the app's own table _borough_events (id, channel,
 * data, at_ms), written by publish in the caller's transaction, so an event
 * exists if and only if the change that made it commits; the ids increase
 * in commit order, which is what Last-Event-ID resumes by. Once the row is
 * committed the server's bus (bus.h) is kicked, and every worker's hub
 * (stream.c) reads the new rows and sends them to its streams. Rows are
 * kept ten minutes (and at most the last BO_EVENTS_KEEP), long enough for
 * a browser that lost its connection, or whose app was reloaded, to resume.
 *
 * A stream response is a userdata of the metatable "borough.stream"
 * holding the channels a connection follows; lreq.c turns it into the
 * event stream (stream.h).
 */
#ifndef BO_LEVENTS_H
#define BO_LEVENTS_H

#include "bo.h"

#include <lua.h>

#define BO_EVENTS_TABLE "_borough_events"
#define BO_EVENTS_KEEP 10000              /* rows kept at most */
#define BO_EVENTS_KEEP_MS (10 * 60 * 1000) /* and for at least this long */
#define BO_EVENT_DATA_MAX (64 * 1024)     /* bytes of one event's data */
#define BO_EVENT_CHANNEL_MAX 128          /* bytes of a channel's name */
#define BO_STREAM_CHANNELS_MAX 64         /* channels one stream follows */

/* Pushes borough._events: publish(channel, text) -> id, last_id() -> id,
   stream(channels) -> a stream response's body. */
int bo_levents_open(lua_State *L);

/* The channels of a stream body (a "borough.stream" userdata at idx) as
   " a b c " (each with a space either side), or NULL when it is not one. */
const char *bo_levents_channels(lua_State *L, int idx);

/* Whether s (len bytes) is a channel's name: 1 to BO_EVENT_CHANNEL_MAX
   letters, digits and _ - . : / */
bool bo_levents_channel_ok(const char *s, size_t len);

#endif
