-- The platform's own app (core/app.h, BO_SITE_APP "_site"): the site's
-- front door at "/" when no app holds the root, and the admin console at
-- /_admin whatever holds it. The server loads it like any app, from this
-- folder, sandboxed like any app; only it receives the console's private
-- functions (core/ladmin.c), each a front end to an action the command
-- line has too.
--
-- The console is for the site's admin: the role admin in this app,
-- given with `borough user role EMAIL _site admin` (or by single sign-on's
-- mapping, `borough sso map GROUP _site admin`); holding admin anywhere,
-- this role included, needs two-factor codes for a password sign-in.
-- Every action is a POST with a CSRF token, and writes a platform audit
-- row naming the admin.
local app = borough.app {
  title = "Services", mount = "/", public = true,
  -- A reload waits for the server to judge the new version of the app.
  limits = { time = 300 },
}

borough.messages("en", require "messages.en")
borough.messages("cy", require "messages.cy")

local front_door = require "front_door"
local apps = require "apps"
local people = require "people"
local queues = require "queues"
local audit = require "audit"
local health = require "health"
local tokens = require "tokens"

app:get("/", front_door)

local ADMIN = { role = "admin" }

app:get("/_admin", ADMIN, require "console")

-- Apps: versions, reloads and their outcome; reload and roll back.
app:get("/_admin/apps", ADMIN, apps.list)
app:post("/_admin/apps/:name/reload", ADMIN, apps.reload)
app:post("/_admin/apps/:name/rollback", ADMIN, apps.rollback)

-- People: accounts, roles and where each came from; the actions on one.
app:get("/_admin/people", ADMIN, people.list)
app:get("/_admin/people/new", ADMIN, people.new)
app:post("/_admin/people/new", ADMIN, people.add)
app:get("/_admin/people/:email", ADMIN, people.show)
app:post("/_admin/people/:email/disable", ADMIN, people.disable)
app:post("/_admin/people/:email/enable", ADMIN, people.enable)
app:post("/_admin/people/:email/sessions-end", ADMIN, people.end_sessions)
app:post("/_admin/people/:email/two-factor-reset", ADMIN, people.reset_two_factor)
app:post("/_admin/people/:email/password", ADMIN, people.password)
app:post("/_admin/people/:email/roles", ADMIN, people.add_role)
app:post("/_admin/people/:email/roles/remove", ADMIN, people.remove_role)

-- Outbox and jobs of every app: queued, failed and stuck; retry, cancel.
app:get("/_admin/queues", ADMIN, queues.overview)
app:get("/_admin/queues/:kind/:app", ADMIN, queues.list)
app:post("/_admin/queues/:kind/:app/:id/retry", ADMIN, queues.retry)
app:post("/_admin/queues/:kind/:app/:id/cancel", ADMIN, queues.cancel)

-- The platform audit log, and the check of its hash chain.
app:get("/_admin/audit", ADMIN, audit.list)
app:post("/_admin/audit/verify", ADMIN, audit.verify)

-- API tokens for apps' data feeds: list, make (shown once), revoke.
app:get("/_admin/tokens", ADMIN, tokens.list)
app:get("/_admin/tokens/new", ADMIN, tokens.new)
app:post("/_admin/tokens/new", ADMIN, tokens.create)
app:get("/_admin/tokens/:id/revoke", ADMIN, tokens.confirm)
app:post("/_admin/tokens/:id/revoke", ADMIN, tokens.revoke)

-- What /healthz and /metrics say, in words.
app:get("/_admin/health", ADMIN, health)

return app
