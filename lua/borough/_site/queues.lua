--- The console's Outbox and jobs pages: every app's messages and
-- background jobs by state (queued, failed, stuck), one app's list, and
-- Retry and Cancel, as `borough outbox` and `borough jobs` have them.
-- Messages show what delivery needs (kind, template, reference, states,
-- Notify's delivery status, times): their recipient and personalisation
-- stay sealed.
local common = require "common"
local P, t = common.P, common.t

local M = {}

local KINDS = { outbox = true, jobs = true }
local STATES = {
  outbox = { "queued", "sending", "sent", "failed", "stuck" },
  jobs = { "queued", "running", "done", "failed", "stuck" },
}
local COLOURS = { queued = "grey", sending = "blue", running = "blue", sent = "green", done = "green",
                  failed = "red", stuck = "orange" }

local function list_href(kind, app, state)
  return "/_admin/queues/" .. kind .. "/" .. borough.urlencode(app) .. (state and ("?state=" .. state) or "")
end

function M.overview(req)
  local rows = {}
  for _, a in ipairs(common.apps()) do
    if not a.platform then
      local row = { name = a.name, title = a.title }
      for _, kind in ipairs({ "outbox", "jobs" }) do
        local n = P.queue_counts(kind, a.name)
        row[kind] = n and {
          queued = n.queued, failed = n.failed, stuck = n.stuck,
          queued_href = list_href(kind, a.name, "queued"), failed_href = list_href(kind, a.name, "failed"),
          stuck_href = list_href(kind, a.name, "stuck"), all_href = list_href(kind, a.name),
        } or nil
      end
      row.queues = { row.outbox or false, row.jobs or false }
      rows[#rows + 1] = row
    end
  end
  return common.page("queues", "admin/queues", { title = t("admin.queues.title"), apps = rows })
end

-- One item, ready for the page.
local function item_of(kind, app, it)
  local state = it.stuck and "stuck" or it.state
  local href = "/_admin/queues/" .. kind .. "/" .. borough.urlencode(app) .. "/" .. it.id
  local can_retry = it.state == "failed" and not it.purged or it.stuck
  local can_cancel = it.state == "queued" or (kind == "jobs" and it.stuck)
  local what
  if kind == "outbox" then
    what = t("admin.queues.message", { kind = it.name, template = it.detail, reference = it.reference })
  else
    what = t(it.detail == "every" and "admin.queues.tick" or "admin.queues.job", { name = it.name })
  end
  return {
    id = it.id, what = what, args = kind == "jobs" and it.detail ~= "every" and it.reference or nil,
    state = t("admin.queues.state." .. state), colour = COLOURS[state] or "grey",
    made = common.when(it.made_ms),
    next = it.state == "queued" and it.next_ms > 0 and common.when(it.next_ms) or nil,
    last = it.last_ms > 0 and common.when(it.last_ms) or nil,
    attempts = kind == "jobs" and t("admin.queues.attempt_of", { n = it.attempts, max = it.max_attempts })
               or common.counted("admin.queues.attempts", it.attempts),
    status = it.status and t("admin.queues.delivery", { status = it.status, at = it.status_at or "" }) or nil,
    purged = it.purged, error = it.error,
    retry = can_retry and { action = href .. "/retry", label = t("admin.queues.retry", { id = it.id }) } or nil,
    cancel = can_cancel and { action = href .. "/cancel", label = t("admin.queues.cancel", { id = it.id }) } or nil,
  }
end

local function list_page(req, kind, app, done, problem, status)
  local _, by_name = common.apps()
  local state = req.query.state
  local ok_state = false
  for _, s in ipairs(STATES[kind]) do ok_state = ok_state or s == state end
  if not ok_state then state = nil end
  local page = common.page_number(req)
  local n = P.queue_counts(kind, app) or { queued = 0, active = 0, done = 0, failed = 0, stuck = 0 }
  local counts = { queued = n.queued, sending = n.active, running = n.active, sent = n.done, done = n.done,
                   failed = n.failed, stuck = n.stuck }
  local filters = { { text = t("admin.queues.all"), href = list_href(kind, app), current = not state } }
  for _, s in ipairs(STATES[kind]) do
    filters[#filters + 1] = { text = t("admin.queues.filter", { state = t("admin.queues.state." .. s), n = counts[s] }),
                              href = list_href(kind, app, s), current = s == state }
  end
  local total = state and counts[state] or (n.queued + n.active + n.done + n.failed)
  local items = {}
  for _, it in ipairs(P.queue(kind, app, state, (page - 1) * common.PER_PAGE, common.PER_PAGE)) do
    items[#items + 1] = item_of(kind, app, it)
  end
  local a = by_name[app]
  return common.page("queues", "admin/queue", {
    title = t("admin.queues." .. kind .. ".title", { app = a and a.title or app }), kind = kind, app = app,
    filters = filters, items = items, done = done, problem = problem,
    pagination = common.pages(list_href(kind, app), { state = state }, page, total),
  }, status)
end

local function params(req)
  local kind, app = req.params.kind, req.params.app
  if not KINDS[kind] or not app:find("^[%w_][%w%._-]*$") then return nil end
  return kind, app
end

function M.list(req)
  local kind, app = params(req)
  if not kind then return borough.status(404) end
  return list_page(req, kind, app)
end

local function change(req, retry)
  local kind, app = params(req)
  local id = math.tointeger(tonumber(req.params.id))
  if not kind or not id then return borough.status(404) end
  local ok, code, why = (retry and P.retry or P.cancel)(kind, app, id)
  if not ok and code == "missing" then return borough.status(404) end
  if not ok then return list_page(req, kind, app, nil, why, 409) end
  return list_page(req, kind, app, t((retry and "admin.queues.done.retry." or "admin.queues.done.cancel.") .. kind, { id = id }))
end

function M.retry(req) return change(req, true) end
function M.cancel(req) return change(req, false) end

return M
