--- borough.notify_pages: the routes every app gets for its outbox.
--
--   GET  <mount>/_outbox           the messages of the app's outbox, for staff with the role "admin"
--   POST <mount>/_notify/callback  Notify's delivery receipts (bearer token)
--
-- The outbox page shows what was sent and what waits; with no API key
-- configured it is where messages are read instead of sent. It is never
-- public. Recipients and messages are kept sealed (core/notify.h): the page
-- opens those it shows, and the platform audit log records that it did. A
-- message done (delivered, failed) has lost them after notify.conf's
-- purge_after: the page says so.

local P = borough._notify
local govuk = require "borough.govuk"
local staff = require "borough.staff_page"

local M = {}

local kinds = {
  labels = { queued = "Waiting", sending = "Sending", sent = "Sent", failed = "Failed" },
  colours = { queued = "grey", sending = "blue", sent = "green", failed = "red" },
}

-- The personalisation of a message as "key: value" lines.
local function details(body)
  local doc = json.decode(body)
  if type(doc) ~= "table" or type(doc.personalisation) ~= "table" then return "" end
  local keys = {}
  for k in pairs(doc.personalisation) do keys[#keys + 1] = k end
  table.sort(keys)
  local lines = {}
  for _, k in ipairs(keys) do
    local v = doc.personalisation[k]
    if type(v) == "table" then v = table.concat(v, "; ") end
    lines[#lines + 1] = borough.escape(k .. ": " .. tostring(v))
  end
  return table.concat(lines, "<br>")
end

local function outbox_page(req)
  local list = staff.listing(req, {
    table = "_borough_outbox", path = "/_outbox", labels = kinds.labels,
    order = { "queued", "sending", "sent", "failed" },
    columns = "id, kind, recipient, template_id, body, reference, state, attempts, created_ms / 1000 AS made, "
              .. "status, error",
  })
  P.open(list.rows)
  local rows = {}
  for _, m in ipairs(list.rows) do
    local purged = m.recipient == ""
    rows[#rows + 1] = {
      { text = tostring(m.id) },
      { text = staff.uk_clock(m.made) },
      { html = borough.escape(m.kind) .. "<br>" .. borough.escape(purged and "(removed)" or m.recipient) },
      { html = "Template " .. borough.escape(m.template_id) .. "<br>"
               .. (purged and "Personal details removed" or details(m.body))
               .. "<br>Reference " .. borough.escape(m.reference) },
      { html = tostring(staff.tag(kinds, m.state)) .. (m.status and borough.escape(" (" .. m.status .. ")") or "")
               .. (m.error and ("<br>" .. borough.escape(m.error)) or "")
               .. (m.attempts > 1 and ("<br>" .. m.attempts .. " attempts") or "") },
    }
  end
  list.title = "Outbox"
  list.settings = P.settings()
  list.messages = #rows > 0 and govuk.table {
    caption = "Messages, newest first", captionClasses = "govuk-visually-hidden",
    head = { { text = "Id" }, { text = "Made" }, { text = "To" }, { text = "Message" }, { text = "State" } },
    rows = rows,
  } or nil
  return borough.view("borough/outbox", list)
end

-- Notify's delivery receipt: { id, reference, to, status, created_at,
-- completed_at, sent_at, notification_type, template_id, template_version }.
local function callback(req)
  if not P.callback_ok(req.headers.authorization) then
    return borough.status(401, "")
  end
  local doc = json.decode(req.body or "")
  if type(doc) ~= "table" or type(doc.id) ~= "string" or type(doc.status) ~= "string" then
    return borough.status(400, "")
  end
  local ref = type(doc.reference) == "string" and doc.reference or nil
  local at = doc.completed_at or doc.sent_at or doc.created_at
  P.record_status(doc.id, ref, doc.status, type(at) == "string" and at or nil)
  return borough.status(204, "")
end

--- Adds the routes to app with route(app, method, pattern, opts, handler).
function M.add_routes(app, route)
  route(app, "GET", "/_outbox", { role = "admin" }, outbox_page)
  route(app, "POST", "/_notify/callback", { public = true, csrf = false, max_body = 64 * 1024 }, callback)
end

return M
