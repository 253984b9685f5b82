--- borough.csrf: protection against cross-site request forgery.
--
-- Every POST, PUT, PATCH and DELETE must carry a CSRF token unless its
-- route says `csrf = false` (webhooks, APIs with their own tokens); the
-- server checks it before the handler runs, and a request without a good
-- token gets 403 and changes nothing. A form carries the token in a hidden
-- field:
--
--   <form method="post">
--     {{ csrf_field() }}
--     ...
--   </form>
--
-- Scripts may send it in an X-CSRF-Token header instead (borough.csrf_token()).
-- The token is a signed double submit (see core/csrf.h): it works for
-- anonymous public forms, and lasts 12 hours.

local view = require "borough.view"
local i18n = require "borough.i18n"

local csrf = {}

--- csrf.field(): the hidden input that carries the token.
function csrf.field()
  return view.safe('<input type="hidden" name="csrf_token" value="' .. borough.csrf_token() .. '">')
end

view.globals.csrf_field = csrf.field
borough.csrf_field = csrf.field

--- The response to a refused request (called by the server instead of the handler).
function borough._csrf_refused(req)
  local title = borough.escape(i18n.t("error.csrf.title"))
  local body = ('<!DOCTYPE html>\n<html lang="%s"><head><meta charset="utf-8"><title>%s</title></head>'
                .. '<body><main><h1>%s</h1><p>%s</p></main></body></html>\n'):format(
    i18n.lang(), title, title, borough.escape(i18n.t("error.csrf.text")))
  return { status = 403, type = "text/html; charset=utf-8", body = body,
           headers = { ["Cache-Control"] = "no-store" } }
end

return csrf
