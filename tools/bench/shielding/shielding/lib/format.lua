-- Small formatting helpers shared by the handlers.
local fmt = {}

function fmt.trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

function fmt.today()
  return os.date("!%Y-%m-%d")
end

function fmt.when(t)
  return t and os.date("!%d %b %Y %H:%M", t) or ""
end

--- Age in years from "YYYY-MM-DD", or nil.
function fmt.age(dob)
  local y, m, d = (dob or ""):match("^(%d%d%d%d)-(%d%d)-(%d%d)$")
  if not y then return nil end
  local now = os.date("!*t")
  local age = now.year - tonumber(y)
  if now.month < tonumber(m) or (now.month == tonumber(m) and now.day < tonumber(d)) then age = age - 1 end
  return age
end

local function csv_field(v)
  v = tostring(v == nil and "" or v)
  if v:find('[",\n]') then v = '"' .. v:gsub('"', '""') .. '"' end
  return v
end

function fmt.csv(fields)
  local out = {}
  for i = 1, #fields do out[i] = csv_field(fields[i]) end
  return table.concat(out, ",") .. "\n"
end

return fmt
