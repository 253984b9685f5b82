--- The console's Health page: what /healthz and /metrics say, in words
-- (the figures `borough status` prints): how long the server has run,
-- requests, errors and how fast they were answered, outbox and jobs,
-- database sizes, and when the TLS certificate runs out; then each app's.
local common = require "common"
local P, t = common.P, common.t

local function latency(ms)
  if ms == nil then return nil end
  if ms < 0 then return t("admin.health.over", { ms = "10 s" }) end
  return ms < 1000 and (("%g ms"):format(ms)) or (("%g s"):format(ms / 1000))
end

-- The figures of one app (or all) as sentences.
local function words(f)
  local out = {
    requests = t("admin.health.requests", { n = common.number(f.requests), client = common.number(f.client_errors),
                                            server = common.number(f.server_errors) }),
    handler_errors = common.counted("admin.health.handler_errors", f.handler_errors),
    outbox = t("admin.health.outbox", { waiting = common.number(f.outbox_waiting), failed = common.number(f.outbox_failed) }),
    jobs = t("admin.health.jobs", { waiting = common.number(f.jobs_waiting), failed = common.number(f.jobs_failed) }),
  }
  if f.p50 then
    out.latency = t("admin.health.latency", { p50 = latency(f.p50), p95 = latency(f.p95), p99 = latency(f.p99) })
  else
    out.latency = t("admin.health.no_requests")
  end
  return out
end

return function(req)
  local st = P.status()
  local cert
  if st.cert_expires then
    local left = st.cert_expires * 1000 - st.now_ms
    cert = left > 0 and t("admin.health.cert", { when = common.when(st.cert_expires * 1000), left = common.span(left) })
      or t("admin.health.cert_expired", { when = common.when(st.cert_expires * 1000) })
  else
    cert = t("admin.health.no_tls")
  end
  local apps = {}
  for _, a in ipairs(st.apps) do
    local w = words(a)
    w.title = a.platform and t("admin.people.site_app") or a.title
    w.name = a.name
    w.state = a.serving and t("admin.health.serving", { generation = a.generation, version = (a.version or ""):sub(1, 12) })
      or t("admin.health.unavailable", { error = a.error or "" })
    w.serving = a.serving
    w.db = a.db_bytes >= 0 and common.size(a.db_bytes) or t("admin.health.no_db")
    apps[#apps + 1] = w
  end
  return common.page("health", "admin/health", {
    title = t("admin.health.title"), all = words(st.all),
    up = t("admin.health.up", { span = common.span(st.now_ms - st.started_ms), since = common.when(st.started_ms) }),
    workers = common.counted("admin.health.workers", st.workers) .. ", "
      .. common.counted("admin.health.open", st.open_connections),
    platform_db = common.size(st.platform_db_bytes), cert = cert, cert_warning = st.cert_expires
      and st.cert_expires * 1000 - st.now_ms < 14 * 86400 * 1000 or nil,
    apps = apps,
  })
end
