--- borough.questions: questions kept as data (in a record, edited by a
-- manager on a page, imported as JSON), asked by borough.flow as GOV.UK
-- questions, with the answers that mean someone cannot go on.
--
-- A question is a table JSON can hold:
--
--   { name = "trading", type = "boolean",
--     question = "Was the business trading on 11 March 2020?",
--     hint = "...",                                  -- optional
--     options = { "Retail", "Hospitality", "Leisure" },   -- for type "choice"
--     min = 0, max = 250,                            -- for numbers (money in pence)
--     optional = true,                               -- may be left unanswered
--     label = "Number of employees",                 -- the answer's name in messages (optional)
--     ineligible = { "no" },                         -- answers that mean the person cannot go on
--     reason = "You can only apply for a business that was trading then." }
--
-- Types: text, long_text, integer, number, money, boolean, choice, date,
-- email, phone, postcode. `ineligible` is for yes/no and choice
-- questions; for numbers, min and max refuse what is out of range.
--
--   local questions = borough.questions
--   local list, why = questions.check(json.decode(text), { taken = { "postcode" } })
--   flow pages: questions.pages(list, { title = "You cannot apply for this grant" })
--   questions.add(list, values) -> the list with a new question (from the
--     form questions.form: question, hint, type, options, ineligible,
--     reason, optional), or nil and errors for the form
--   questions.remove(list, name) -> the list without it
--   questions.describe(q) -> "Yes or no. Cannot go on: No"
--
-- questions.pages gives borough.flow's page entries: each question a page
-- of its own, declared as the flow's own field ({ name, type, ... }; keep
-- the answers in the flow's `answers` field), with `stop` for the
-- ineligible answers: the flow then shows the page with `title` and the
-- question's reason instead of the next question.

local fields = require "borough.fields"
local options = require "borough.options"
local entity = require "borough.entity"

local M = {}

local TYPES = {
  { "boolean", "Yes or no" }, { "choice", "One of a list" }, { "text", "Text" }, { "long_text", "Longer text" },
  { "integer", "A whole number" }, { "number", "A number" }, { "money", "An amount of money" }, { "date", "A date" },
  { "email", "An email address" }, { "phone", "A telephone number" }, { "postcode", "A postcode" },
}
local type_label = {}
for _, ty in ipairs(TYPES) do type_label[ty[1]] = ty[2] end

local keys = { name = "string", type = "string", question = "string", hint = "string", options = "table",
               min = "number", max = "number", optional = "boolean", ineligible = "table", reason = "string",
               label = "string" }

-- The field declaration of a question, for borough.form and the flow:
-- messages name the answer by its label ("Number of employees must be 250
-- or less"), or say "Select an answer" / "Enter an answer".
local function declaration(q)
  local pick = q.type == "boolean" or q.type == "choice"
  local d = { q.name, q.type, label = q.label or (q.question:gsub("%?$", "")):sub(1, 80),
              options = q.type == "choice" and q.options or nil, min = q.min, max = q.max,
              messages = not q.label and { required = pick and "Select an answer" or "Enter an answer" } or nil }
  return d
end

-- The stored values of the ineligible answers (false for "no", an
-- option's value), read as the question's field reads an answer.
local function ineligible_values(q)
  local ok, set = pcall(entity.fieldset, "question", { declaration(q) })
  if not ok then return nil, (tostring(set):gsub("^%S+:%d+: ", "")) end
  local out = {}
  for i, text in ipairs(q.ineligible or {}) do
    local f = set.field[q.name]
    local v, why = f.parse(f, text)
    if v == nil then return nil, ("'%s' is not an answer to this question%s"):format(tostring(text), why and (": " .. why) or "") end
    out[i] = v
  end
  return out
end

--- questions.check(list [, { taken = { names } }]) -> list | nil, message
-- Checks a list of questions (from JSON, say): every question has a name
-- of its own (not one of taken), a type, its words, options for a choice,
-- and ineligible answers only where they can be given, with a reason.
function M.check(list, opts)
  opts = opts or {}
  if type(list) ~= "table" then return nil, "The questions must be a list" end
  local taken = {}
  for _, n in ipairs(opts.taken or {}) do taken[n] = true end
  for i, q in ipairs(list) do
    local where = ("Question %d"):format(i)
    if type(q) ~= "table" then return nil, where .. " must be a table" end
    for k, v in pairs(q) do
      if not keys[k] then return nil, ("%s: unknown key '%s'"):format(where, tostring(k)) end
      if type(v) ~= keys[k] then return nil, ("%s: %s must be a %s"):format(where, k, keys[k]) end
    end
    if not (q.name and q.name:find("^[a-z][a-z0-9_]*$") and #q.name <= 40 and not q.name:find("__", 1, true)) then
      return nil, where .. ": name must be lower-case letters, digits and _"
    end
    if taken[q.name] then return nil, ("%s: the name %s is taken"):format(where, q.name) end
    taken[q.name] = true
    if not type_label[q.type or ""] then return nil, ("%s: type must be one of %s"):format(where, "boolean, choice, "
      .. "text, long_text, integer, number, money, date, email, phone, postcode") end
    if not (q.question and q.question:find("%S")) then return nil, where .. ": give the question's words" end
    if q.type == "choice" and (not q.options or #q.options == 0) then return nil, where .. ": a choice needs options" end
    if q.ineligible and #q.ineligible > 0 then
      if q.type ~= "boolean" and q.type ~= "choice" then
        return nil, where .. ": only yes or no and choice questions can have ineligible answers"
      end
      if not (q.reason and q.reason:find("%S")) then return nil, where .. ": say why those answers cannot go on (reason)" end
      local _, why = ineligible_values(q)
      if why then return nil, where .. ": " .. why end
    end
  end
  return list
end

--- questions.pages(list [, { title = }]) -> borough.flow page entries.
-- title: the heading of the page an ineligible answer leads to.
function M.pages(list, opts)
  opts = opts or {}
  local pages = {}
  for i, q in ipairs(list) do
    local entry = declaration(q)
    entry.question, entry.hint, entry.required = q.question, q.hint, not q.optional or nil
    local bad = q.ineligible and #q.ineligible > 0 and assert(ineligible_values(q))
    if bad then
      entry.stop = function(answers)
        local v = answers[q.name]
        for _, b in ipairs(bad) do
          if v == b then return { title = opts.title or "You cannot go on", text = q.reason } end
        end
      end
    end
    pages[i] = entry
  end
  return pages
end

--- questions.describe(q) -> a line that says what a question takes, and
-- which answers stop someone.
function M.describe(q)
  local out = type_label[q.type] or q.type
  if q.type == "choice" then out = out .. ": " .. table.concat(q.options, ", ") end
  if q.optional then out = out .. " (optional)" end
  if q.ineligible and #q.ineligible > 0 then out = out .. ". Cannot go on: " .. table.concat(q.ineligible, ", ") end
  return out
end

--- questions.form: the form that adds a question (borough.form of its own).
M.form = require("borough.form").new {
  { "question", "text", required = true, max_length = 200, question = "Question",
    hint = "As the person will read it, like: Was the business trading on 11 March 2020?" },
  { "hint", "text", max_length = 300, question = "Hint (optional)", hint = "Shown under the question" },
  { "type", "choice", required = true, options = TYPES, question = "What kind of answer?" },
  { "options", "long_text", max_length = 2000, question = "Options (for one of a list)", hint = "One option a line" },
  { "ineligible", "long_text", max_length = 2000, question = "Answers that mean someone cannot apply (optional)",
    hint = "One a line, as the options are written, or Yes or No" },
  { "reason", "long_text", max_length = 2000, question = "Why they cannot apply, and what they could do instead" },
  { "optional", "boolean", question = "Can it be left unanswered?" },
}

local function lines_of(text)
  local out = {}
  for line in (text or ""):gmatch("[^\r\n]+") do
    line = fields.trim(line)
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

-- A name for a question from its words: "Was the business trading?" -> "business_trading".
local small = { a = true, an = true, the = true, ["is"] = true, was = true, ["do"] = true, does = true, did = true,
                you = true, your = true, of = true, ["in"] = true, on = true, ["for"] = true, to = true, what = true,
                how = true, are = true, has = true, have = true }
local function name_for(text, list)
  local words = {}
  for w in text:lower():gsub("[^%w%s]", " "):gmatch("%a[%w]*") do
    if not small[w] and #words < 3 then words[#words + 1] = w end
  end
  local base = (#words > 0 and table.concat(words, "_") or "question"):sub(1, 30)
  local used = {}
  for _, q in ipairs(list) do used[q.name] = true end
  local name, n = base, 1
  while used[name] do n = n + 1; name = base .. "_" .. n end
  return name
end

--- questions.add(list, values [, { taken = }]) -> the list with the new
-- question at the end, or nil and errors in borough.form's shape (each
-- { field, text, href }, and by field).
function M.add(list, values, opts)
  local q = { question = values.question, hint = values.hint, type = values.type,
              optional = values.optional or nil }
  q.name = name_for(values.question, list)
  if q.type == "choice" then q.options = lines_of(values.options) end
  local bad = lines_of(values.ineligible)
  if #bad > 0 then q.ineligible, q.reason = bad, values.reason end
  local copy = {}
  for i, x in ipairs(list) do copy[i] = x end
  copy[#copy + 1] = q
  local ok, why = M.check(copy, opts)
  if not ok then
    local field = "question"
    if why:find("option") then field = "options"
    elseif why:find("reason") then field = "reason"
    elseif why:find("ineligible") or why:find("answer to") then field = "ineligible" end
    local msg = why:gsub("^Question %d+: ", "")
    msg = msg:sub(1, 1):upper() .. msg:sub(2)
    return nil, { { field = field, text = msg, href = "#" .. field }, [field] = msg }
  end
  return copy
end

--- questions.remove(list, name) -> the list without the question called name.
function M.remove(list, name)
  local out = {}
  for _, q in ipairs(list) do if q.name ~= name then out[#out + 1] = q end end
  return out
end

return M
