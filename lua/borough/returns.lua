--- borough.returns: regular returns due by a deadline. A team sends its
-- figures each day by 16:00 (UK time); a return sent after that is late, and
-- a day past its deadline with none is missing. These are the sums for it,
-- in UK time whatever the server's clock says (GMT or BST as the date has it).
--
--   local returns = borough.returns
--   returns.today()                                   --> "2024-04-01" (the UK's date now)
--   returns.deadline("2024-04-01", "16:00")           --> "2024-04-01T15:00:00Z" (BST)
--   returns.status("2024-04-01", "16:00", sent_at)    --> "on_time", "late", "due" or "missing"
--   returns.days("2024-04-01", 3)                     --> { "2024-03-30", "2024-03-31", "2024-04-01" }
--
-- sent_at is the datetime the return came (as entities keep datetimes,
-- "2024-04-01T14:59:00Z"), or nil for none yet: then the day is "due" until
-- its deadline and "missing" after it. `now` (unix seconds, os.time() by
-- default) is the last argument of each, so a test can ask about any moment.

local fields = require "borough.fields"

local M = {}

local function days_of(date)
  local y, m, d = date:match("^(%d%d%d%d)-(%d%d)-(%d%d)$")
  if not y then error("borough.returns: a date is YYYY-MM-DD, not " .. tostring(date), 3) end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  -- days since 1970-01-01 (Howard Hinnant's days_from_civil), whatever the server's time zone
  y = m <= 2 and y - 1 or y
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * (m > 2 and m - 3 or m + 9) + 2) // 5 + d - 1
  return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
end

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

--- returns.today([now]) -> today's date in the UK, "YYYY-MM-DD".
function M.today(now)
  if not now then return fields.today() end
  return os.date("!%Y-%m-%d", now + fields.uk_offset(now))
end

--- returns.deadline(date, "HH:MM") -> that UK time on that date, as a UTC
-- datetime ("2024-04-01T15:00:00Z").
function M.deadline(date, hhmm)
  local h, mi = tostring(hhmm):match("^(%d%d?):(%d%d)$")
  if not h or tonumber(h) > 23 or tonumber(mi) > 59 then
    error("borough.returns: a deadline is HH:MM (24-hour UK time), not " .. tostring(hhmm), 2)
  end
  local local_t = days_of(date) * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60
  -- the offset at the UTC moment an hour before is the offset of the UK time
  return iso(local_t - fields.uk_offset(local_t - 3600))
end

--- returns.status(date, "HH:MM", sent_at [, now]) -> "on_time", "late"
-- (sent after the deadline), "due" (none yet, deadline to come) or
-- "missing" (none, deadline passed).
function M.status(date, hhmm, sent_at, now)
  local deadline = M.deadline(date, hhmm)
  if sent_at then return sent_at <= deadline and "on_time" or "late" end
  return iso(now or os.time()) <= deadline and "due" or "missing"
end

--- returns.days(last, n) -> the n dates that end with last, oldest first.
function M.days(last, n)
  local list, d = {}, days_of(last)
  for i = 1, n do list[i] = os.date("!%Y-%m-%d", (d - n + i) * 86400) end
  return list
end

return M
