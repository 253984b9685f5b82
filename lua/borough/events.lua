--- borough.events: live updates. A change publishes an event on a channel;
-- pages that follow the channel learn of it at once, through an event
-- stream (Server-Sent Events), and read afresh what they show.
--
--   -- where the change is made (a request or a job), in its transaction:
--   db.tx(function()
--     local m = Measures:create(req.form)
--     borough.events.publish("measures", { id = m.id })
--     return m
--   end)
--
--   -- the stream: who may follow it (as any route), and which channels
--   app:events("/live", { role = { "viewer", "manager" } }, function(req)
--     return { "measures" }
--   end)
--
--   <!-- the page: the region is read again from the page when an event comes -->
--   <div id="totals" data-borough-live="{{ live('/live') }}"> ... </div>
--   <a class="govuk-link" href="">Refresh</a>
--
-- publish(channel, data) writes a row of the app's table _borough_events
-- in the caller's transaction (db.tx): the event exists if and only if the
-- change commits, and is sent when it commits. data is anything json.encode
-- writes (a table, a string, a number, nil), at most 64 KiB once encoded.
-- Publish what changed (ids, counts), not personal data: every stream that
-- follows the channel gets the event as it is, and a page reads the rest
-- through its own routes, where roles and row rules apply.
--
-- app:events(path, [opts,] fn) declares GET <path>: sign-in and roles are
-- checked as for any route (opts.public, opts.role), then fn(req) returns
-- the channels this connection follows (a list of names: letters, digits
-- and _ - . : /), chosen for this person (a channel per record they may
-- read, say), or a response to refuse (borough.status(404)); nil is 403.
-- The stream then belongs to the server, not to fn: it costs no Lua while
-- it is open. Each event reaches the browser as
--   id: 42
--   data: {"channel":"measures","data":{"id":7}}
-- A browser that reconnects sends Last-Event-ID and gets what it missed
-- (the table keeps ten minutes of events); when that is gone it gets an
-- event of type borough-reset and should read everything afresh.
--
-- live(path) in a template (events.url in Lua) is the URL of the stream at
-- path with the id of the newest event, so that the page's stream begins
-- where the page was made. vendor/src/borough-live.mjs, which every page of
-- govuk/template loads, does the rest: each element with an id and
-- data-borough-live="<that URL>" is replaced by the element of the same id
-- in the page fetched again (or in data-borough-src, a lighter page) when an
-- event arrives; data-borough-channels="a b" narrows the channels that
-- refresh it. Without JavaScript the page is an ordinary page: give it a
-- Refresh link.

local options = require "borough.options"
local view = require "borough.view"

local C = borough._events
local events = {}

--- events.publish(channel, data) -> the event's id.
function events.publish(channel, data)
  if type(channel) ~= "string" then
    options.fail("borough.events.publish", "the channel must be a string such as \"measures\"")
  end
  if data == nil then data = json.null end
  return C.publish(channel, json.encode(data))
end

--- events.last_id() -> the id of the newest event (0 before the first).
function events.last_id()
  return C.last_id()
end

--- events.url(path) -> the URL of the app's stream at path, beginning
-- after the newest event: what data-borough-live holds.
function events.url(path)
  return borough.url(path) .. "?last_event_id=" .. C.last_id()
end

view.globals.live = events.url

local route_options = { public = "boolean", role = "role" }

--- events.route(pattern, [opts,] fn) -> the checked options and the
-- handler of a stream route (app:events in borough/init.lua declares it).
function events.route(pattern, opts, fn)
  if fn == nil then fn, opts = opts, nil end
  local what = ("app:events(%q)"):format(tostring(pattern))
  opts = options.check(what, opts, route_options)
  if type(fn) ~= "function" then options.fail(what, "the last argument must be a function(req) returning the channels") end
  return opts, function(req)
    local channels = fn(req)
    if channels == nil then return borough._forbidden(req) end
    if type(channels) == "table" and channels[1] == nil and channels.status then return channels end
    if type(channels) ~= "table" then
      error(("%s: the function must return a list of channels or a response, not a %s"):format(what, type(channels)), 0)
    end
    return { status = 200, body = C.stream(channels) }
  end
end

return events
