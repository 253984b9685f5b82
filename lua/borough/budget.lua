--- borough.budget: sums of money that commitments must never go over,
-- even when many people commit at once.
--
--   local budget = borough.budget          -- name it in models.lua (it keeps its tables)
--
--   budget.set("small-business", 4000000000)            -- £40m, in pence
--   local line, why = budget.commit("small-business", "application-12", 1000000)
--   if not line then return nil, why end               -- "Only £4,000.00 of the budget is left ..."
--   budget.pay("application-12")                        -- the money went out
--   budget.release("application-12")                    -- or the commitment was undone
--   budget.get("small-business")  -> { name, total, committed, paid, remaining }
--
-- A budget is a record of the entity "budgets" (total, committed, paid);
-- each commitment a record of "budget_lines" (the budget, a reference that
-- names what it is for, the amount, and committed, paid or released). Both
-- are entities, so every change is in the audit trail and in exports.
--
-- The guard: budget.commit reads the budget, checks that the amount fits
-- in what remains, and adds it, in one transaction. Every db.tx begins
-- with BEGIN IMMEDIATE, which takes SQLite's write lock before the first
-- read, so two commitments (from two requests, two workers or two
-- processes) never both read the same remainder: the second waits, then
-- reads what the first left. So a budget cannot be overspent however many
-- people approve at once (tests/e2e/test_grants.py proves it with
-- approvals sent together to a server of several workers). Called inside
-- a transaction of the caller (a workflow step's `after`), the commitment
-- is kept or undone with the rest of it.
--
-- A reference is committed once: committing it again returns its line as
-- it is (a form sent twice commits once).

local fields = require "borough.fields"
local options = require "borough.options"

local M = {}

local Budgets = borough.entity "budgets" {
  label = "budget",
  { "name", "text", required = true, unique = true },
  { "total", "money", required = true, min = 0 },
  { "committed", "money", default = 0 },
  { "paid", "money", default = 0 },
}

local Lines = borough.entity "budget_lines" {
  label = "budget line",
  { "budget", "text", required = true, index = true },
  { "ref", "text", required = true, unique = true, label = "Reference" },
  { "amount", "money", required = true, min = 0 },
  { "state", "choice", options = { "committed", "paid", "released" }, default = "committed", index = true },
}
M.Budgets, M.Lines = Budgets, Lines

local function shown(b)
  return { name = b.name, total = b.total, committed = b.committed or 0, paid = b.paid or 0,
           remaining = b.total - (b.committed or 0) }
end

--- budget.set(name, total) -> the budget, or nil and errors. Makes it, or
-- changes its total (never below what is already committed).
function M.set(name, total)
  return db.tx(function()
    local b = Budgets:find { name = name }
    if not b then return Budgets:create { name = name, total = total } end
    local clean, errors = Budgets:validate({ total = total }, b)
    if not clean then return nil, errors end
    if clean.total < (b.committed or 0) then
      return nil, { { field = "total", message = ("The budget must be at least %s, the amount already committed")
                                                  :format(fields.format_money(b.committed)) } }
    end
    return Budgets:update(b.id, { total = clean.total })
  end)
end

--- budget.get(name) -> { name, total, committed, paid, remaining } (in
-- pence), or nil if there is no such budget.
function M.get(name)
  local b = Budgets:find { name = name }
  return b and shown(b) or nil
end

--- budget.commit(name, ref, amount) -> the line, or nil and why (no such
-- budget, or the amount does not fit in what remains). See above.
function M.commit(name, ref, amount)
  if math.type(amount) ~= "integer" or amount < 0 then
    options.fail("budget.commit", "the amount must be a whole number of pence, 0 or more")
  end
  return db.tx(function()
    local line = Lines:find { ref = ref }
    if line and line.state ~= "released" then return line end
    local b = Budgets:find { name = name }
    if not b then return nil, ("There is no budget called %s"):format(name) end
    local left = b.total - (b.committed or 0)
    if amount > left then
      return nil, ("This would take the budget over: %s of %s is left, and this is %s")
                  :format(fields.format_money(left), fields.format_money(b.total), fields.format_money(amount))
    end
    Budgets:update(b.id, { committed = (b.committed or 0) + amount })
    if line then return Lines:update(line.id, { budget = name, amount = amount, state = "committed" }) end
    return Lines:create { budget = name, ref = ref, amount = amount }
  end)
end

-- Moves a committed line to `state`, adjusting its budget's sums.
local function settle(ref, state)
  return db.tx(function()
    local line = Lines:find { ref = ref }
    if not line or line.state ~= "committed" then return nil, "There is no committed line " .. tostring(ref) end
    local b = Budgets:find { name = line.budget }
    if state == "paid" then
      Budgets:update(b.id, { paid = (b.paid or 0) + line.amount })
    else
      Budgets:update(b.id, { committed = b.committed - line.amount })
    end
    return Lines:update(line.id, { state = state })
  end)
end

--- budget.pay(ref): the committed amount was paid (it stays committed,
-- and counts as paid too).
function M.pay(ref) return settle(ref, "paid") end

--- budget.release(ref): the commitment is undone; its amount is free again.
function M.release(ref) return settle(ref, "released") end

return M
