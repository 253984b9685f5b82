--- borough.bank: UK bank details, and the modulus check of a sort code and
-- account number.
--
-- Banks publish how their account numbers are made: Pay.UK (formerly
-- Vocalink) keeps the table of weights for every range of sort codes
-- (valacdos.txt) and the specification that says how to use it
-- ("Validating account numbers"). A number that fails the check cannot be a
-- real account at that sort code: most of the time a digit typed wrong, so
-- the person is asked to check it before a payment goes astray. A number
-- that passes could be real (nothing says the account exists).
--
--   local bank = borough.bank             -- name it in models.lua (it keeps its table)
--
--   M.Applications = borough.entity "applications" {
--     { "sort_code", "sort_code", encrypted = true },
--     { "account_number", "account_number", encrypted = true, validate = bank.validate },
--   }
--
--   bank.check("089999", "66374958")      -> true, "passed"
--   bank.check("089999", "66374959")      -> false, "failed"
--   bank.check("999999", "12345678")      -> true, "not in the table" (cannot be checked)
--   bank.load(valacdos_text [, scsubtab_text])  -> rows | nil, "line 12: ..."
--   bank.loaded()                          -> how many ranges the table has
--
-- The table is the operator's to supply (Pay.UK publishes it, with a new
-- version every few months; its terms are Pay.UK's): an app offers a page
-- where a manager uploads valacdos.txt, and scsubtab.txt (the sort code
-- substitutions of exception 5), and passes them to bank.load, which
-- replaces what was there in one transaction. Until a table is loaded only
-- the formats are checked (6 digits, 6 to 8 digits). tests/lua/council/
-- bank_sample.txt is a small sample, just the ranges the specification's
-- own test cases need.
--
-- The rules are those of the specification: MOD10, MOD11 and double
-- alternate (DBLAL) sums; one or two checks a range; and the exceptions 1
-- to 14 (weights replaced when certain digits are there, sort codes
-- substituted, a foreign currency account that cannot be checked, checks
-- of which either may pass, a check digit in the remainder). Account
-- numbers of 6 or 7 digits are read with 0s in front, as the
-- specification says.

local M = {}

local Weights = borough.entity "bank_weights" {
  label = "weight range",
  indexes = { { "sort_from", "sort_to" } },
  { "position", "integer", required = true },       -- the line of the file: a range's first check comes first
  { "sort_from", "text", required = true, pattern = "^%d%d%d%d%d%d$" },
  { "sort_to", "text", required = true, pattern = "^%d%d%d%d%d%d$" },
  { "method", "choice", options = { "MOD10", "MOD11", "DBLAL" }, required = true },
  { "weights", "text", required = true },            -- 14 whole numbers, u v w x y z a b c d e f g h
  { "exception", "integer" },
}

local Substitutions = borough.entity "bank_substitutions" {
  label = "sort code substitution",
  { "sort_code", "text", required = true, unique = true, pattern = "^%d%d%d%d%d%d$" },
  { "substitute", "text", required = true, pattern = "^%d%d%d%d%d%d$" },
}

M.Weights, M.Substitutions = Weights, Substitutions

-- ---- reading the files ----

-- One line of valacdos.txt: "089000 089999 MOD10 0 0 0 0 0 0 7 1 3 7 1 3 7 1"
-- (spaces or commas), the exception after the weights when there is one.
local function weight_row(line)
  local t = {}
  for word in line:gmatch("[^%s,]+") do t[#t + 1] = word end
  if #t ~= 17 and #t ~= 18 then return nil, "a line has two sort codes, MOD10, MOD11 or DBLAL, 14 weights "
                                            .. "and perhaps an exception" end
  if not (t[1]:find("^%d%d%d%d%d%d$") and t[2]:find("^%d%d%d%d%d%d$")) then
    return nil, "the first two values must be sort codes of 6 digits"
  end
  for i = 4, #t do
    if not t[i]:find("^%-?%d+$") then return nil, ("'%s' is not a whole number"):format(t[i]) end
  end
  return { sort_from = t[1], sort_to = t[2], method = t[3], weights = table.concat(t, " ", 4, 17),
           exception = t[18] }
end

-- The lines of a file given as text, or as a file of req.files (an
-- upload page): read with borough.csv.upload, which takes a line of
-- valacdos.txt (no quotes) as a row, its commas, if any, splitting it.
local function lines(source)
  if type(source) == "string" then return (source .. "\n"):gmatch("([^\r\n]*)\r?\n") end
  local reader, why = borough.csv.upload(source)
  if not reader then error(why, 0) end
  return function()
    local row = reader:next()
    if row then return table.concat(row, " ") end
    if row == false then return "" end
  end
end

--- Loads the weight table (the text of valacdos.txt, or the file of an
-- upload page: req.files.table) and, if given, the sort code substitutions
-- (scsubtab.txt: "938173 938017" a line, text or a file too),
-- replacing the tables there were, in one transaction. Returns the number
-- of ranges, or nil and "line N: what is wrong".
function M.load(valacdos, scsubtab)
  if type(valacdos) ~= "string" and not (type(valacdos) == "table" and valacdos._index) then
    error("bank.load: give the text of valacdos.txt, or the uploaded file", 2)
  end
  return db.tx(function()
    db.exec('DELETE FROM "bank_weights"')
    local n = 0
    for line in lines(valacdos) do
      n = n + 1
      if line:find("%S") then
        local row, why = weight_row(line)
        if not row then return nil, ("line %d: %s"):format(n, why) end
        row.position = n
        local ok, errors = Weights:create(row)
        if not ok then return nil, ("line %d: %s"):format(n, errors[1].message) end
      end
    end
    if Weights:count() == 0 then return nil, "the file has no ranges of sort codes" end
    if scsubtab then
      db.exec('DELETE FROM "bank_substitutions"')
      n = 0
      for line in lines(scsubtab) do
        n = n + 1
        local from, to = line:match("^%s*(%d+)[%s,]+(%d+)%s*$")
        if line:find("%S") then
          local ok, errors = Substitutions:create { sort_code = from or "", substitute = to or "" }
          if not ok then return nil, ("substitutions, line %d: %s"):format(n, errors[1].message) end
        end
      end
    end
    return Weights:count()
  end)
end

--- How many ranges the loaded table has (0: none, so only formats are checked).
function M.loaded()
  return Weights:count()
end

-- ---- the check ----

-- The 14 digits u v w x y z a b c d e f g h of a sort code and an account
-- number of 8 digits.
local function digits_of(sort_code, account)
  local s, d = sort_code .. account, {}
  for i = 1, 14 do d[i] = s:byte(i) - 48 end
  return d
end

local A, B, C, G, H = 7, 8, 9, 13, 14     -- where a, b, c, g and h are

local function zero_u_to_b(w)
  local out = {}
  for i = 1, 14 do out[i] = i <= B and 0 or w[i] end
  return out
end

-- Whether one check (a row of the table) passes.
local function passes(row, d)
  local w, ex = row.w, row.exception
  if ex == 2 and d[A] ~= 0 then
    w = d[G] ~= 9 and { 0, 0, 1, 2, 5, 3, 6, 4, 8, 7, 10, 9, 3, 1 } or { 0, 0, 0, 0, 0, 0, 0, 0, 8, 7, 10, 9, 3, 1 }
  elseif ex == 7 and d[G] == 9 then
    w = zero_u_to_b(w)
  elseif ex == 10 and (d[A] * 10 + d[B] == 9 or d[A] * 10 + d[B] == 99) and d[G] == 9 then
    w = zero_u_to_b(w)
  end
  local sum = 0
  for i = 1, 14 do
    local p = d[i] * w[i]
    if row.method == "DBLAL" then sum = sum + p // 10 + p % 10 else sum = sum + p end
  end
  if ex == 1 then sum = sum + 27 end
  if ex == 4 then return sum % 11 == d[G] * 10 + d[H] end
  if ex == 5 then
    if row.method == "MOD11" then
      local r = sum % 11
      if r == 0 then return d[G] == 0 end
      return r ~= 1 and 11 - r == d[G]
    end
    local r = sum % 10
    if r == 0 then return d[H] == 0 end
    return 10 - r == d[H]
  end
  return sum % (row.method == "MOD11" and 11 or 10) == 0
end

-- The ranges of the table that hold a sort code: one or two checks.
local function rows_for(sort_code)
  local rows = Weights:where({ sort_from = { le = sort_code }, sort_to = { ge = sort_code } },
                             { order = "position", per_page = 2 })
  for _, r in ipairs(rows) do
    r.w = {}
    for n in r.weights:gmatch("%-?%d+") do r.w[#r.w + 1] = tonumber(n) end
  end
  return rows
end

-- The sort code a check uses: exceptions 5, 8 and 9 use another.
local function sort_for(row, sort_code)
  if row.exception == 5 then
    local s = Substitutions:find { sort_code = sort_code }
    return s and s.substitute or sort_code
  end
  if row.exception == 8 then return "090126" end
  if row.exception == 9 then return "309634" end
  return sort_code
end

--- bank.check(sort_code, account_number) -> ok, how
-- ok is false only when the specification says the account number cannot
-- be right for the sort code. how is "passed", "failed", "not in the table"
-- (the sort code is in no range, or no table is loaded: nothing to check
-- against) or "foreign currency" (exception 6: cannot be checked). Values
-- may have spaces and dashes; a wrong format is an error of the caller
-- (read them as sort_code and account_number fields first).
function M.check(sort_code, account)
  sort_code = tostring(sort_code):gsub("[%s%-]", "")
  account = tostring(account):gsub("[%s%-]", "")
  if not sort_code:find("^%d%d%d%d%d%d$") or not account:find("^%d%d%d%d%d%d%d?%d?$") then
    error("bank.check: a sort code is 6 digits and an account number 6 to 8", 2)
  end
  account = ("0"):rep(8 - #account) .. account
  local rows = rows_for(sort_code)
  if #rows == 0 then return true, "not in the table" end
  local first, second = rows[1], rows[2]
  local d = digits_of(sort_code, account)
  if first.exception == 6 and d[A] >= 4 and d[A] <= 8 and d[G] == d[H] then return true, "foreign currency" end
  local function run(row, digits)
    return passes(row, digits or digits_of(sort_for(row, sort_code), account))
  end
  local ok
  if not second then
    ok = run(first)
    if not ok and first.exception == 14 and (d[H] == 0 or d[H] == 1 or d[H] == 9) then
      ok = run(first, digits_of(sort_code, "0" .. account:sub(1, 7)))   -- h dropped, a 0 in front
    end
  elseif first.exception == 2 or first.exception == 10 or first.exception == 12 then
    ok = run(first) or run(second)            -- exceptions 2 & 9, 10 & 11, 12 & 13: either check will do
  elseif second.exception == 3 and (d[C] == 6 or d[C] == 9) then
    ok = run(first)                           -- exception 3: c of 6 or 9 skips the second check
  else
    ok = run(first) and run(second)
  end
  return ok, ok and "passed" or "failed"
end

--- A field validator: validate = bank.validate on the account number
-- field (declared after the sort code, so the record has it) refuses an
-- account number that fails the modulus check for the record's sort code.
function M.validate(account, record)
  local sort_code = record and record.sort_code
  if type(sort_code) ~= "string" or not sort_code:find("^%d%d%d%d%d%d$") then return nil end
  if not M.check(sort_code, account) then
    return "Enter a valid combination of sort code and account number (your bank statement shows them)"
  end
end

return M
