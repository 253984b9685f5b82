--- borough.links: single-use links, sent by email or text message, that
-- open one record for whoever holds them (an invitation to apply, a
-- request for more information, a questionnaire).
--
--   local links = borough.links          -- name it in models.lua (it keeps its table)
--
--   -- sending: a token for the record, in a whole URL
--   local token = links.new("apply", application.id, { days = 28 })
--   notify.email { ..., personalisation = { link = borough.url("/apply/" .. token, { absolute = true }) } }
--
--   -- opening: the record's id, or why not and the page that says so
--   local id, why = links.find("apply", req.params.token)
--   if not id then return links.page(why) end
--
--   -- using: every link of the record is spent at once (in the same db.tx as the answers)
--   links.use("apply", application.id)
--
-- A token is 256 random bits (borough.token), so it cannot be guessed; the
-- table keeps only its SHA-256, so a copy of the database (a backup, a
-- stolen disk) holds no link that works. A link expires (after `days` or
-- `seconds`; 28 days unless given) and is spent when it is used: once the
-- record's answers are sent, every link to it answers with the page for a
-- used link. A record may have several links at once (an invitation and
-- its reminder each carry a new one, since the first is not kept).
--
-- links.page(why [, { contact = "..." }]) is the GOV.UK page for a link
-- that does not work, in the page's language, saying what to do:
--   "unknown"  (404) the link is not one we sent: check it was copied whole
--   "used"     (410) it was used already: nothing more to do
--   "expired"  (410) it is out of date: contact us for a new one
-- contact is the sentence that says how to reach the council ("Email
-- grants@barsetshire.gov.uk or call 0300 123 4567.").

local options = require "borough.options"
local fields = require "borough.fields"
local t = require("borough.i18n").t

local M = {}

local Links = borough.entity "single_use_links" {
  label = "link",
  indexes = { { "purpose", "subject" } },
  { "token_hash", "text", required = true, unique = true, secret = true },
  { "purpose", "text", required = true, pattern = "^[%w_%-]+$" },
  { "subject", "integer", required = true },
  { "expires_at", "datetime", required = true },
  { "used_at", "datetime" },
}
M.Links = Links

local function now() return fields.iso_datetime(os.time()) end

local new_options = { days = "number", seconds = "number" }

--- links.new(purpose, id [, { days =, seconds = }]) -> token
-- A new link to record `id` for `purpose` (a word naming what the link is
-- for: a token made for "apply" does not open "more-info"). Returns the
-- token to put in the URL; it is not kept, so send it now. Inside db.tx it
-- joins the transaction (so the link exists if and only if its message does).
function M.new(purpose, id, opts)
  opts = options.check("links.new", opts, new_options)
  if math.type(id) ~= "integer" then options.fail("links.new", "the record's id must be a whole number") end
  local token = borough.token()
  local life = opts.seconds or (opts.days or 28) * 86400
  assert(Links:create { token_hash = borough.sha256(token), purpose = purpose, subject = id,
                        expires_at = fields.iso_datetime(os.time() + math.floor(life)) })
  return token
end

--- links.find(purpose, token) -> id | nil, why
-- The id of the record the link opens, or nil and "unknown", "used" or
-- "expired".
function M.find(purpose, token)
  if type(token) ~= "string" or not token:find("^[%w_%-]+$") or #token < 20 or #token > 100 then
    return nil, "unknown"
  end
  local link = Links:find { token_hash = borough.sha256(token) }
  if not link or link.purpose ~= purpose then return nil, "unknown" end
  if link.used_at then return nil, "used" end
  if link.expires_at <= now() then return nil, "expired" end
  return link.subject
end

--- links.use(purpose, id): spends every link of the record for purpose.
function M.use(purpose, id)
  return db.tx(function()
    local at = now()
    for _, link in ipairs(Links:where({ purpose = purpose, subject = id, used_at = db.NULL }, { per_page = 500 })) do
      Links:update(link.id, { used_at = at })
    end
    return true
  end)
end

local statuses = { unknown = 404, used = 410, expired = 410 }

--- links.page(why [, { contact = }]) -> the response for a link that does
-- not work (the view borough/link, which an app view of that name replaces).
function M.page(why, opts)
  opts = options.check("links.page", opts, { contact = "string" })
  if not statuses[why] then options.fail("links.page", "why is \"unknown\", \"used\" or \"expired\"") end
  return borough.view("borough/link", { title = t("links." .. why .. ".title"), text = t("links." .. why .. ".text"),
                                        contact = opts.contact or t("links.contact") }, statuses[why])
end

return M
