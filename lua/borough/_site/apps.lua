--- The console's Apps page: each app's version (the content hash of the
-- source it loaded), generation, when that version was judged, the last
-- reload and its outcome, and what stops an app loading (file:line, as
-- `borough check` prints it); Reload and Roll back ask the server as
-- `borough reload APP [--rollback]` does and show its answer.
local common = require "common"
local P, t = common.P, common.t

local M = {}

local function page(outcome, status)
  local rows = {}
  for _, a in ipairs(P.catalog()) do
    local last = a.last
    rows[#rows + 1] = {
      name = a.name, title = a.platform and t("admin.people.site_app") or a.title, platform = a.platform,
      serving = a.serving, error = a.error,
      at = a.mount or a.host, version = a.version and a.version:sub(1, 12), generation = a.generation,
      since = a.loaded_ms > 0 and common.when(a.loaded_ms) or nil,
      last = last and {
        when = common.when(last.at_ms), error = last.error,
        text = t(last.ok and (last.rollback and "admin.apps.rolled_back" or "admin.apps.reloaded")
                 or (last.rollback and "admin.apps.rollback_refused" or "admin.apps.reload_refused"),
                 { generation = last.generation }),
      },
      reload_label = t("admin.apps.reload", { app = a.name }),
      rollback_label = a.previous_generation
        and t("admin.apps.rollback", { app = a.name, generation = a.previous_generation }) or nil,
      reload_action = "/_admin/apps/" .. borough.urlencode(a.name) .. "/reload",
      rollback_action = "/_admin/apps/" .. borough.urlencode(a.name) .. "/rollback",
    }
  end
  return common.page("apps", "admin/apps", { title = t("admin.apps.title"), apps = rows, outcome = outcome }, status)
end

function M.list(req)
  return page()
end

local function act(req, rollback)
  local name = req.params.name
  local res, why = P.reload(name, rollback)
  local outcome = { app = name, rollback = rollback }
  if not res then
    outcome.ok, outcome.lines = false, { t("admin.apps.no_answer", { why = why }) }
  else
    outcome.ok, outcome.lines = res.status == 0, {}
    for _, l in ipairs(res.lines) do outcome.lines[#outcome.lines + 1] = l.text end
  end
  outcome.heading = t((outcome.ok and "admin.apps.done." or "admin.apps.failed.") .. (rollback and "rollback" or "reload"),
                      { app = name })
  return page(outcome, res and 200 or 503)
end

function M.reload(req) return act(req, false) end
function M.rollback(req) return act(req, true) end

return M
