-- borough.payments: each thing in exactly one run, the same run for the
-- same key (a button pressed twice), marking paid; and imports that update.
local t = require "borough.test"
local payments = borough.payments
local m = require "models"

local function due(from, to)
  local list = {}
  for i = from, to do list[#list + 1] = { item = "case-" .. i, amount = 100 * i } end
  return list
end

t.test("a run takes what is due; pressing twice gives the same run; nothing is in two runs", function()
  local key = payments.key()
  local run, how = payments.run(key, due(1, 3))
  t.eq({ how, run.reference, run.items, run.total, run.state }, { "made", ("PR%05d"):format(run.id), 3, 600, "sent" })
  local again, how2 = payments.run(key, due(1, 5))
  t.eq({ again.id, how2, again.items }, { run.id, "again", 3 })
  local second = payments.run(payments.key(), function() return due(1, 5) end)
  t.eq({ second.items, second.total }, { 2, 900 }, "only 4 and 5")
  t.eq({ payments.run(payments.key(), due(1, 5)) }, { nil, "There is nothing to pay: everything approved is in a payment run already" })
  t.eq({ payments.run("short", due(6, 6)) }, { nil, "The page has expired: go back to the payments page and try again" })
  local items = payments.items(run)
  t.eq({ #items, items[1].item, items[3].amount }, { 3, "case-1", 300 })
  t.eq(payments.Runs:history(run.id)[2].after.total, 600, "the run's total is in the audit trail")
end)

t.test("a run is marked paid, each item in the same transaction as what the app does", function()
  local run = payments.run(payments.key(), due(10, 12))
  local seen = {}
  t.eq(payments.paid(run, { only = { "case-10" }, each = function(item) seen[#seen + 1] = item.item end }), 1)
  t.eq(payments.Runs:find(run.id).state, "sent", "two still waiting")
  t.ok(payments.failed(run, { "case-11" }))
  t.eq(payments.paid(run, { each = function(item) seen[#seen + 1] = item.item end }), 1)
  t.eq(seen, { "case-10", "case-12" })
  local now = payments.Runs:find(run.id)
  t.eq(now.state, "paid")
  t.ok(now.paid_at)
  local third = payments.run(payments.key(), due(20, 20))
  t.raises(function() payments.paid(third, { each = function() error("the email failed") end }) end, "the email failed")
  t.eq(payments.items(third)[1].state, "in_run", "undone with it")
end)

t.test("an import with key updates the records it finds and adds the others, never twice", function()
  local csv = "Team name\r\nEast\r\nWest\r\n"
  t.eq(m.Teams:import(csv, { key = "team_name" }).imported, 2)
  local summary = m.Teams:import("Team name\r\nEast\r\nWest\r\nEast\r\nCentral\r\n", { key = "team_name" })
  t.eq({ summary.imported, summary.updated, summary.rejected }, { 1, 3, 0 })
  t.eq(m.Teams:count { team_name = "East" }, 1)
  local cases = "Name,Ref,Amount\r\nFirst,K-1,10\r\nSecond,K-2,20\r\n"
  t.eq(m.Cases:import(cases, { key = "ref" }).imported, 2)
  summary = m.Cases:import("Name,Ref,Amount\r\nFirst again,K-1,11\r\nBad,K-3,ten\r\n", { key = "ref", skip_bad_rows = true })
  t.eq({ summary.imported, summary.updated, summary.rejected }, { 0, 1, 1 })
  t.eq(summary.rejects[1].line, 3)
  local first = m.Cases:find { ref = "K-1" }
  t.eq({ first.name, first.amount }, { "First again", 1100 })
  t.raises(function() m.Cases:import(cases, { key = "name" }) end, "key = \"name\" must be a unique field of cases")
  t.eq({ m.Cases:import("Name\r\nX\r\n", { key = "ref" }) }, { nil, "The file has no column for ref, which finds the records it updates" })
end)
