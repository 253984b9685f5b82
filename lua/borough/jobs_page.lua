--- borough.jobs_page: <mount>/_jobs, the app's schedules and recent jobs,
-- for staff with the role "admin" in the app.

local govuk = require "borough.govuk"
local staff = require "borough.staff_page"
local sql = require "borough.sql"

local M = {}

local kinds = {
  labels = { queued = "Waiting", running = "Running", done = "Done", failed = "Failed" },
  colours = { queued = "grey", running = "blue", done = "green", failed = "red" },
}

local function jobs_page(app, req)
  local list = staff.listing(req, {
    table = "_borough_jobs", path = "/_jobs", labels = kinds.labels, order = { "queued", "running", "done", "failed" },
    columns = "id, name, kind, args, state, attempts, max_attempts, run_at, "
              .. sql.epoch("created_at") .. " AS made, " .. sql.epoch("finished_at") .. " AS finished, error",
  })
  local next_at = {}
  if #app.schedules > 0 and sql.table_exists("_borough_schedules") then
    for _, s in ipairs(db.query("SELECT name, next_at FROM _borough_schedules")) do next_at[s.name] = s.next_at end
  end
  local schedules = {}
  for _, s in ipairs(app.schedules) do
    schedules[#schedules + 1] = {
      { text = s.name }, { text = s.text },
      { text = next_at[s.name] and staff.uk_clock(next_at[s.name]) or "not yet known" },
    }
  end
  local rows = {}
  for _, j in ipairs(list.rows) do
    local when = j.finished and ("Finished " .. staff.uk_clock(j.finished))
      or (j.state == "queued" and ("Runs from " .. staff.uk_clock(j.run_at // 1000)))
      or ("Made " .. staff.uk_clock(j.made))
    rows[#rows + 1] = {
      { text = tostring(j.id) },
      { html = borough.escape((j.kind == "every" and "Schedule " or "Job ") .. j.name)
               .. (j.kind == "job" and ("<br>" .. borough.escape(j.args)) or "") },
      { text = when },
      { html = tostring(staff.tag(kinds, j.state)) .. "<br>Attempt " .. j.attempts .. " of " .. j.max_attempts
               .. (j.error and ("<br>" .. borough.escape(j.error)) or "") },
    }
  end
  list.title = "Background jobs"
  list.schedules = #schedules > 0 and govuk.table {
    caption = "Schedules", captionClasses = "govuk-table__caption--m",
    head = { { text = "Name" }, { text = "Schedule" }, { text = "Next run (UK time)" } }, rows = schedules,
  } or nil
  list.jobs = #rows > 0 and govuk.table {
    caption = "Jobs, newest first", captionClasses = "govuk-table__caption--m",
    head = { { text = "Id" }, { text = "Job" }, { text = "When" }, { text = "State" } }, rows = rows,
  } or nil
  return borough.view("borough/jobs", list)
end

--- Adds the route to app with route(app, method, pattern, opts, handler).
function M.add_routes(app, route)
  route(app, "GET", "/_jobs", { role = "admin" }, function(req) return jobs_page(app, req) end)
end

return M
