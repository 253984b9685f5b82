-- Fake residents for the tests in tests/ (NHS numbers in the 999 test range, drama phone
-- numbers). It lives beside the app because tests/ is not part of what the app loads.
local m = require "models"
local S = {}

-- A valid fake NHS number from a serial number.
function S.nhs(n)
  local base = ("999%06d"):format(n)
  local sum = 0
  for i = 1, 9 do sum = sum + tonumber(base:sub(i, i)) * (11 - i) end
  local check = 11 - sum % 11
  if check == 11 then check = 0 end
  if check == 10 then return S.nhs(n + 500000) end
  return base .. check
end

local serial = 0
--- A resident on the list (values override the defaults).
function S.resident(values)
  serial = serial + 1
  local v = { nhs_number = S.nhs(serial), first_name = "Test", last_name = "Resident" .. serial,
              address = serial .. " Station Road", postcode = "LS1 4AB", phone = "07700 900" .. ("%03d"):format(serial) }
  for k, x in pairs(values or {}) do v[k] = x end
  return assert(m.Residents:create(v))
end

--- Empties the app's records between tests that count.
function S.clear()
  for _, t in ipairs { "workflow_moves", "referrals", "needs", "visits", "calls", "residents" } do
    db.exec("DELETE FROM " .. t)
  end
end

S.handler = { "callum@example.org", { name = "Callum Caller", roles = { "call_handler" } } }
S.officer = { "vera@example.org", { name = "Vera Visitor", roles = { "visiting_officer" } } }
S.manager = { "mina@example.org", { name = "Mina Manager", roles = { "manager" } } }

return S
