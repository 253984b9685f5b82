--- borough.payments: payment runs. What is due to be paid goes into a run
-- (a file for the finance system), each thing in exactly one run, however
-- often the button is pressed; a finance officer later marks the run paid.
--
--   local payments = borough.payments      -- name it in models.lua (it keeps its tables)
--
--   -- the page with the button carries a key made when it was shown
--   ctx.key = payments.key()
--
--   -- the button: the run of that key (made now, or the one made by the first press)
--   local run, how = payments.run(req.form.key, function()
--     local due = {}
--     for i, a in ipairs(Applications:where({ state = "approved" }, { per_page = 500 })) do
--       due[i] = { item = "application-" .. a.id, amount = a.amount }
--     end
--     return due
--   end)
--   -- run: { id, reference = "PR00001", items, total, state }; how: "made" or "again";
--   -- or nil and "There is nothing to pay" when everything due is in a run already
--
--   payments.items(run [, { after =, per_page = }])  -> the run's items, a page at a time
--   payments.paid(run, { each = function(item) ... end [, only = { "application-12", ... }] })
--                                          -> how many items were marked paid
--   payments.failed(run, { "application-12" })   -> the finance system could not pay these
--
-- A run and its items are records of the entities "payment_runs" and
-- "payment_items"; an item's `item` is unique, so nothing is ever in two
-- runs: a second run made at the same moment gets only what the first
-- did not take (both run in BEGIN IMMEDIATE transactions, one after the
-- other). The run's key is unique too: the same form sent twice (a double
-- click, a reload) gives the same run back. Making the run and marking it
-- paid are in the audit trail with the count and the total. `each` runs
-- inside the transaction that marks an item paid: what it does (a
-- workflow step, a remittance email) is kept or undone with the marking.

local fields = require "borough.fields"
local options = require "borough.options"

local M = {}

local Runs = borough.entity "payment_runs" {
  label = "payment run",
  { "reference", "text", unique = true },
  { "key", "text", required = true, unique = true, secret = true },
  { "items", "integer", default = 0, label = "Payments" },
  { "total", "money", default = 0 },
  { "state", "choice", options = { { "sent", "Sent to finance" }, { "paid", "Paid" } }, default = "sent", index = true },
  { "made_by", "text" },
  { "paid_by", "text" },
  { "paid_at", "datetime" },
}

local Items = borough.entity "payment_items" {
  label = "payment",
  { "run", "integer", required = true, index = true },
  { "item", "text", required = true, unique = true },
  { "amount", "money", required = true, min = 0 },
  { "state", "choice", options = { "in_run", "paid", "failed" }, default = "in_run" },
}
M.Runs, M.Items = Runs, Items

local function who()
  local user = borough.user and borough.user()
  return user and (user.name or user.email) or "system"
end

--- payments.key(): a key for the form of a run's button.
function M.key()
  return borough.token(16)
end

--- payments.run(key, due) -> run, "made" | "again", or nil and why.
-- due: a list of { item = "a unique name", amount = pence }, or a function
-- giving one (called inside the transaction, so it sees what other runs took).
function M.run(key, due)
  if type(key) ~= "string" or not key:find("^[%w_%-]+$") or #key < 16 then
    return nil, "The page has expired: go back to the payments page and try again"
  end
  return db.tx(function()
    local run = Runs:find { key = key }
    if run then return run, "again" end
    local list = type(due) == "function" and due() or due
    if type(list) ~= "table" then options.fail("payments.run", "due must be a list of { item =, amount = }") end
    local taken = {}
    for _, row in ipairs(db.query('SELECT "item" FROM "payment_items"')) do taken[row.item] = true end
    run = assert(Runs:create { key = key, made_by = who() })
    local n, total = 0, 0
    for _, d in ipairs(list) do
      if not taken[d.item] then
        local item, errors = Items:create { run = run.id, item = d.item, amount = d.amount }
        if not item then error("payments.run: " .. d.item .. ": " .. errors[1].message, 0) end
        taken[d.item], n, total = true, n + 1, total + item.amount
      end
    end
    if n == 0 then return nil, "There is nothing to pay: everything approved is in a payment run already" end
    return Runs:update(run.id, { reference = ("PR%05d"):format(run.id), items = n, total = total }), "made"
  end)
end

--- payments.items(run [, { after =, per_page = }]) -> its items, in order.
function M.items(run, opts)
  opts = opts or {}
  return Items:where({ run = run.id }, { after = opts.after, per_page = opts.per_page or 500 })
end

--- payments.paid(run, { each =, only = }) -> how many items were marked.
-- Marks the run's items paid (only those named, or all still in the run),
-- calling each(item) for every one in the same transaction; the run is
-- paid when none of its items is left waiting.
function M.paid(run, opts)
  opts = options.check("payments.paid", opts, { each = "function", only = "table" })
  local only
  if opts.only then
    only = {}
    for _, name in ipairs(opts.only) do only[name] = true end
  end
  return db.tx(function()
    local n, after = 0, nil
    repeat
      local page = Items:where({ run = run.id, state = "in_run" }, { after = after, per_page = 500 })
      for _, item in ipairs(page) do
        if not only or only[item.item] then
          Items:update(item.id, { state = "paid" })
          if opts.each then opts.each(item) end
          n = n + 1
        end
      end
      after = page[#page] and page[#page].id
    until not after
    if Items:count { run = run.id, state = "in_run" } == 0 then
      Runs:update(run.id, { state = "paid", paid_by = who(), paid_at = fields.iso_datetime(os.time()) })
    end
    return n
  end)
end

--- payments.failed(run, items): the finance system could not pay these
-- (their names); they stay out of every other run until the app decides.
function M.failed(run, names)
  return db.tx(function()
    for _, name in ipairs(names) do
      local item = Items:find { run = run.id, item = name }
      if item and item.state == "in_run" then Items:update(item.id, { state = "failed" }) end
    end
    if Items:count { run = run.id, state = "in_run" } == 0 then
      Runs:update(run.id, { state = "paid", paid_by = who(), paid_at = fields.iso_datetime(os.time()) })
    end
    return true
  end)
end

return M
