--- borough.rag: red, amber and green. A number judged against the
-- thresholds that turn it amber or red, the worst of several ratings, and
-- a rating as a GOV.UK tag that says its colour in words (so it is read
-- the same by a screen reader, a colour-blind reader and on paper).
--
--   local rag = borough.rag
--   rag.judge(12, { good = "lower", amber = 10, red = 20 })    --> "amber"
--   rag.judge(95, { good = "higher", amber = 90, red = 80 })   --> "green"
--   rag.worst { "green", "amber", nil, "red" }                 --> "red"
--   rag.tag("amber")                                           --> { text = "Amber", classes = "govuk-tag--orange" }
--
-- good = "lower": a number at or above amber is amber, at or above red is
-- red (staff absent, calls waiting). good = "higher": at or below amber is
-- amber, at or below red is red (beds free, stock in days). Either
-- threshold may be left out. A value that is no number is rated nil (no
-- rating), and so is a value of a measure with no thresholds.

local M = {}

M.ORDER = { "red", "amber", "green" }
local rank = { red = 3, amber = 2, green = 1 }
local colour = { red = "red", amber = "orange", green = "green" }

--- rag.judge(value, { good = "lower" | "higher", amber =, red = }) -> "red",
-- "amber", "green", or nil.
function M.judge(value, t)
  if type(value) ~= "number" or not t or (t.amber == nil and t.red == nil) then return nil end
  if t.good ~= "lower" and t.good ~= "higher" then
    error('borough.rag.judge: good must be "lower" or "higher", not ' .. tostring(t.good), 2)
  end
  local worse = t.good == "lower" and function(a, b) return a >= b end or function(a, b) return a <= b end
  if t.red ~= nil and worse(value, t.red) then return "red" end
  if t.amber ~= nil and worse(value, t.amber) then return "amber" end
  return "green"
end

--- rag.worst(list) -> the worst rating in the list (nil entries and unknown
-- words are passed over), or nil when there is none. Give the list's length
-- as n when it may end in nil.
function M.worst(list, n)
  local worst
  for i = 1, n or #list do
    local r = list[i]
    if rank[r] and (not worst or rank[r] > rank[worst]) then worst = r end
  end
  return worst
end

--- rag.label(rating) -> "Red", "Amber", "Green" in the page's language
-- ("Coch", "Ambr", "Gwyrdd"), or "None yet": the words borough.chart uses.
function M.label(rating)
  return borough.t("chart.rag." .. (rank[rating] and rating or "none"))
end

--- rag.tag(rating) -> the options of a GOV.UK tag (govukTag) for it.
function M.tag(rating)
  return { text = M.label(rating), classes = "govuk-tag--" .. (colour[rating] or "grey") }
end

--- rag.count(list) -> { red =, amber =, green = } (what chart.rag takes).
function M.count(list, n)
  local c = { red = 0, amber = 0, green = 0 }
  for i = 1, n or #list do
    if c[list[i]] then c[list[i]] = c[list[i]] + 1 end
  end
  return c
end

return M
