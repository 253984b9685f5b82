--- borough.i18n: translations. Every string the platform shows goes through
-- a message table (lua/borough/messages/<lang>.lua); English and Welsh are
-- shipped.
--
--   borough.t("error_summary.title")              --> "There is a problem"
--   borough.t("pagination.page_number", { number = 3 })
--   {{ t("date_input.day") }}                      in a template
--
-- The language of a request is, in order: ?lang=cy (which also sets the
-- borough_lang cookie for the next pages), the borough_lang cookie, the
-- first of English and Welsh in the browser's Accept-Language, and the
-- app's own `lang` (borough.app{ lang = "cy" }), else English.
-- An app adds or overrides keys with borough.messages("cy", { ... }).

local i18n = {}

local tables = {}
for _, lang in ipairs({ "en", "cy" }) do
  local t = {}
  for k, v in pairs(require("borough.messages." .. lang)) do t[k] = v end
  tables[lang] = t
end
i18n.languages = { "en", "cy" }
i18n.names = { en = "English", cy = "Cymraeg" }

local app_default = "en"

--- i18n.set_default(lang): the app's language when a request asks for none.
function i18n.set_default(lang)
  if not tables[lang] then
    error(("unknown language '%s' (borough ships en and cy)"):format(tostring(lang)), 3)
  end
  app_default = lang
end

--- i18n.lang(): the language of the request running now.
function i18n.lang()
  return borough._lang() or app_default
end

--- i18n.t(key [, vars [, lang]]): the message in the request's language
-- (English when the key has no translation), with %{name} replaced by
-- vars.name. An unknown key is an error.
function i18n.t(key, vars, lang)
  lang = lang or i18n.lang()
  local s = tables[lang][key] or tables.en[key]
  if not s then error(("no message '%s'"):format(tostring(key)), 2) end
  if vars then
    s = s:gsub("%%{([%w_]+)}", function(name)
      local v = vars[name]
      return v ~= nil and tostring(v) or nil
    end)
  end
  return s
end

--- i18n.has(key): whether there is such a message (in English at least).
function i18n.has(key)
  return tables.en[key] ~= nil
end

--- i18n.add(lang, messages): adds or replaces messages of a language.
function i18n.add(lang, messages)
  if not tables[lang] then
    error(("unknown language '%s' (borough ships en and cy)"):format(tostring(lang)), 2)
  end
  if type(messages) ~= "table" then error("borough.messages: expected a table of key = text", 2) end
  for k, v in pairs(messages) do
    if type(k) ~= "string" or type(v) ~= "string" then
      error("borough.messages: keys and messages must be strings", 2)
    end
    tables[lang][k] = v
  end
end

-- In templates: {{ t("key") }} and {{ lang() }}.
local view = require "borough.view"
view.globals.t = i18n.t
view.globals.lang = i18n.lang

borough.t = i18n.t
borough.messages = i18n.add
borough.lang = i18n.lang

return i18n
