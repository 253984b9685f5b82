--- borough.jobs: background work, durable in the app's own database.
--
--   app:job("send_reminder", function(args, job) ... end)     -- a handler for one-off work
--   jobs.enqueue("send_reminder", { case_id = 42 })           -- queue it (joins db.tx)
--   app:every("every day at 07:00", function(job) ... end)    -- recurring work
--
-- The workers run each job as a coroutine with the app's limits (it may
-- call http.request or borough.sleep), retry a job that raises an error
-- with a growing delay, and record the last error. A recurring job runs
-- once per tick of its schedule across the whole server: the tick is
-- claimed in SQLite and becomes a job row in the same transaction (see
-- core/jobs.c). This module checks declarations and schedules; the global
-- `jobs` is this table.

local P = borough._jobs          -- the C half: insert (core/jobs.c)
local options = require "borough.options"

local jobs = {}

local handlers = {}              -- name -> true: what jobs.enqueue may name

local DEFAULT_ATTEMPTS, DEFAULT_BACKOFF = 5, 30

local days = {
  monday = 1, tuesday = 2, wednesday = 3, thursday = 4, friday = 5, saturday = 6, sunday = 7,
}
local units = { second = 1, minute = 60, hour = 3600 }

-- "09:30" -> minutes after midnight, or nil.
local function clock(text)
  local h, m = text:match("^(%d%d?):(%d%d)$")
  h, m = tonumber(h), tonumber(m)
  if not h or h > 23 or m > 59 then return nil end
  return h * 60 + m
end

-- A set of days from "day", "weekday", "weekend", "monday",
-- "monday and thursday", "monday, wednesday and friday": a bit mask
-- (bit 0 is Monday), or nil.
local function day_set(text)
  if text == "day" then return 127 end
  if text == "weekday" then return 31 end
  if text == "weekend" then return 96 end
  local mask = 0
  for word in (text:gsub(",", " "):gsub(" and ", " ")):gmatch("%S+") do
    local d = days[word]
    if not d then return nil end
    mask = mask | (1 << (d - 1))
  end
  return mask ~= 0 and mask or nil
end

--- jobs.parse(text): the schedule a text describes, or nil and why.
-- { every = seconds } for intervals (ticks fall on multiples of the interval
-- since 1970-01-01 UTC, so "every 15 minutes" ticks at :00, :15, :30, :45),
-- or { at = minutes after midnight, days = mask } for times of day, in UK
-- time (GMT or BST as the date has it).
function jobs.parse(text)
  if type(text) ~= "string" then return nil, "a schedule is a string such as \"every 15 minutes\"" end
  local s = text:lower():gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
  local n, unit = s:match("^every (%d+) (%a+)$")
  if not n then
    unit = s:match("^every (%a+)$")
    if unit and units[unit] then n = "1" end
  end
  if n and unit then
    local seconds = units[unit] or units[unit:gsub("s$", "")]
    n = tonumber(n)
    if seconds and n >= 1 and n * seconds <= 7 * 86400 and (n == 1 or unit:sub(-1) == "s") then
      return { every = n * seconds }
    end
  end
  local when, at = s:match("^every (.-) at (%d%d?:%d%d)$")
  if not when and s == "every day" then when, at = "day", "00:00" end
  if when then
    local mask, minutes = day_set(when), clock(at)
    if mask and minutes then return { at = minutes, days = mask } end
    if mask then return nil, ("%q is not a time of day: write it as 24-hour HH:MM, like 07:00 or 18:30"):format(at) end
  end
  return nil, ("%q is not a schedule borough understands: write it like \"every 15 minutes\", "
               .. "\"every day at 07:00\", \"every weekday at 08:30\" or \"every monday and thursday at 09:00\"")
              :format(text)
end

local option_types = { name = "string", attempts = "number", backoff = "number" }

-- Checks the options of app:job / app:every; mistakes name the app's line.
local function check_options(what, opts)
  options.check(what, opts, option_types)
  local attempts = opts.attempts or DEFAULT_ATTEMPTS
  if math.type(attempts) == "float" then attempts = math.tointeger(attempts) end
  if not attempts or attempts < 1 or attempts > 100 then
    options.fail(what, "attempts must be a whole number from 1 to 100")
  end
  local backoff = opts.backoff or DEFAULT_BACKOFF
  if backoff <= 0 or backoff > 86400 then
    options.fail(what, "backoff must be a number of seconds, more than 0 and at most 86400")
  end
  return attempts, backoff
end

--- app:job(name, [opts,] fn): declares the handler of the one-off jobs
-- named name; fn(args, job) runs for each. opts: attempts (5), backoff
-- (30: seconds before the second attempt, doubling after each failure).
function jobs.declare(app, name, opts, fn)
  if fn == nil then fn, opts = opts, {} end
  if type(name) ~= "string" or not name:find("^[%a_][%w_.%-]*$") or #name > 100 then
    options.fail("app:job", "the name must be a string of letters, digits and _ . - such as \"send_reminder\"")
  end
  local what = ("app:job(%q)"):format(name)
  local attempts, backoff = check_options(what, opts)
  if opts.name then options.fail(what, "a job's name is its first argument") end
  if type(fn) ~= "function" then options.fail(what, "the handler must be a function") end
  if handlers[name] then options.fail(what, "a job of that name is already declared") end
  handlers[name] = true
  app.jobs[#app.jobs + 1] = { name = name, fn = fn, attempts = attempts, backoff = backoff }
end

--- app:every(schedule, [opts,] fn): recurring work; fn(job) runs once per
-- tick across the whole server, job.tick being the tick's time (os.time()
-- seconds). opts: name (the schedule's name, by default its text),
-- attempts (5), backoff (30).
function jobs.every(app, schedule, opts, fn)
  if fn == nil then fn, opts = opts, {} end
  local what = ("app:every(%s)"):format(type(schedule) == "string" and ("%q"):format(schedule) or "...")
  local spec, why = jobs.parse(schedule)
  if not spec then options.fail("app:every", why) end
  local attempts, backoff = check_options(what, opts)
  if type(fn) ~= "function" then options.fail(what, "the handler must be a function") end
  local name = opts.name or schedule
  for _, s in ipairs(app.schedules) do
    if s.name == name then
      options.fail(what, "another schedule has the same name; give one of them { name = \"...\" }")
    end
  end
  app.schedules[#app.schedules + 1] = {
    name = name, text = schedule, fn = fn, every = spec.every, at = spec.at, days = spec.days,
    attempts = attempts, backoff = backoff,
  }
end

local enqueue_options = { delay = "number", attempts = "number", backoff = "number" }

--- jobs.enqueue(name, args, [opts]): queues a run of the job handler
-- declared as name, with args (a table json.encode can write, or nil).
-- Inside db.tx it joins the transaction: the job exists only if the
-- transaction commits. Returns the job's id. opts: delay (seconds before it
-- may run), attempts and backoff (those of app:job by default).
function jobs.enqueue(name, args, opts)
  if type(name) ~= "string" or not handlers[name] then
    options.fail("jobs.enqueue", ("no job named %s (declare it with app:job(name, fn))")
                 :format(type(name) == "string" and ("%q"):format(name) or "of type " .. type(name)))
  end
  opts = options.check("jobs.enqueue", opts, enqueue_options)
  local ok, text = pcall(json.encode, args == nil and json.null or args)
  if not ok then options.fail("jobs.enqueue", "the arguments cannot be stored: " .. tostring(text)) end
  return P.insert(name, text, opts.delay or 0, opts.attempts, opts.backoff)
end

return jobs
