--- The console's Audit page: the platform audit log (sign-ins, role
-- changes, exports, reads of encrypted fields, key rotations, and what
-- this console and the command line changed) filtered by who, app,
-- action and date, newest first; "Verify the chain" recomputes its hash
-- chain as `borough audit verify` does and says whether it is intact.
local common = require "common"
local P, t = common.P, common.t

local M = {}

local function page(req, verified, status)
  local q = req.query
  local f = {}
  for _, k in ipairs({ "who", "app", "action", "since", "until" }) do
    local v = (q[k] or ""):match("^%s*(.-)%s*$")
    f[k] = v ~= "" and v or nil
  end
  local pg = common.page_number(req)
  local rows, total = P.audit(f, (pg - 1) * common.PER_PAGE, common.PER_PAGE)
  local errors
  if not rows then
    errors = { { text = t("admin.audit.error.date"), href = f.since and "#since" or "#until" } }
    rows, total, status = {}, 0, 400
  end
  local list = {}
  for _, r in ipairs(rows) do
    list[#list + 1] = { id = r.id, when = common.stamp(r.at), who = r.who, action = r.action, app = r.app,
                        detail = r.detail }
  end
  local actions, apps = P.audit_names()
  local function choices(names, chosen)
    local items = { { value = "", text = t("admin.audit.any") } }
    for _, n in ipairs(names) do items[#items + 1] = { value = n, text = n, selected = n == chosen } end
    return items
  end
  local result
  if verified then
    result = verified.ok and t("admin.audit.intact", { rows = common.number(verified.rows), hash = verified.last })
      or t("admin.audit.tampered", { row = verified.bad, why = verified.message })
  end
  return common.page("audit", "admin/audit", {
    title = t("admin.audit.title"), f = f, rows = list, errors = errors,
    found = common.counted("admin.audit.found", total),
    actions = choices(actions, f.action), apps = choices(apps, f.app),
    verified = verified and { ok = verified.ok, text = result } or nil,
    pagination = common.pages("/_admin/audit", f, pg, total),
  }, status)
end

function M.list(req)
  return page(req)
end

function M.verify(req)
  return page(req, P.verify())
end

return M
