-- NHS numbers: ten digits, the last a modulus 11 check digit.
local nhs = {}

function nhs.normalise(s)
  local digits = (s or ""):gsub("[%s%-]", "")
  if not digits:match("^%d%d%d%d%d%d%d%d%d%d$") then return nil end
  return digits
end

function nhs.valid(s)
  local n = nhs.normalise(s)
  if not n then return false end
  local sum = 0
  for i = 1, 9 do sum = sum + tonumber(n:sub(i, i)) * (11 - i) end
  local check = 11 - sum % 11
  if check == 11 then check = 0 end
  return check ~= 10 and check == tonumber(n:sub(10, 10))
end

return nhs
