#!/usr/bin/env python3
"""Background jobs: jobs.enqueue and app:job for one-off work, app:every for
recurring work; durable in the app's database, run by the workers with
retries, once per tick across workers, and visible in /metrics and on the
app's /_jobs page."""
import json
import os
import shutil
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lib import SLOW, Server, get, metrics, post_json, query, run, staff_cookie, test, wait_for

APP = '''
local app = borough.app { title = "Jobs", mount = "/jobs", public = true, allow_hosts = { "127.0.0.1" } }

local function note(what, value)
  db.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, what TEXT, value TEXT)")
  db.exec("INSERT INTO notes (what, value) VALUES (?, ?)", what, value)
end

app:job("greet", function(args, job)
  note("greet", args.name .. " " .. job.attempt .. "/" .. job.max_attempts)
end)

-- Fails until its attempt reaches args.succeed_on (never, if it is 0).
app:job("flaky", { attempts = 3, backoff = 0.2 }, function(args, job)
  note("flaky", tostring(job.attempt))
  if args.succeed_on == 0 or job.attempt < args.succeed_on then error("not yet (attempt " .. job.attempt .. ")") end
end)

app:job("slow", function(args, job)
  note("slow-start", tostring(job.attempt))
  borough.sleep(args.seconds)
  note("slow-end", tostring(job.attempt))
end)

app:job("fetch", function(args)
  local res, err = http.request { url = args.url }
  note("fetch", res and (res.status .. " " .. res.body) or err)
end)

%(extra)s

app:post("/enqueue/:name", { csrf = false }, function(req)
  local args = json.decode(req.body)
  local opts = args._opts
  args._opts = nil
  return borough.json({ id = jobs.enqueue(req.params.name, args, opts) })
end)

app:post("/rolled-back", { csrf = false }, function(req)
  pcall(db.tx, function()
    jobs.enqueue("greet", { name = "never" })
    error("changed my mind")
  end)
  return borough.json({ queued = db.one("SELECT count(*) AS n FROM _borough_jobs").n })
end)

app:get("/notes", function(req)
  local ok, rows = pcall(db.query, "SELECT what, value FROM notes ORDER BY id")
  return borough.json(ok and rows or json.array({}))
end)

app:get("/parse", function(req)
  local spec, err = jobs.parse(req.query.s)
  return borough.json(spec or { error = err })
end)

app:get("/write-jobs", function(req)
  return db.exec("DELETE FROM _borough_jobs")
end)

return app
'''


def jobs_app(extra=""):
    return {"jobs": {"app.lua": APP % {"extra": extra}}}


def notes(port, what=None):
    r = get(port, "/jobs/notes")
    assert r.status == 200, r
    return [n["value"] for n in json.loads(r.body) if what is None or n["what"] == what]


def job_rows(data_dir):
    return query(os.path.join(data_dir, "jobs", "app.db"), "SELECT * FROM _borough_jobs ORDER BY id")


@test
def a_queued_job_runs_once_with_its_arguments():
    with Server(jobs_app(), workers=2) as s:
        r = post_json(s.port, "/jobs/enqueue/greet", {"name": "Ada"})
        assert r.status == 200 and json.loads(r.body) == {"id": 1}, r
        assert wait_for(lambda: notes(s.port, "greet"), what="the job") == ["Ada 1/5"]
        time.sleep(0.6 * SLOW)
        assert notes(s.port, "greet") == ["Ada 1/5"]
        rows = job_rows(s.data_dir)
        assert [(j["name"], j["kind"], j["state"], j["attempts"], j["error"]) for j in rows] == \
            [("greet", "job", "done", 1, None)], rows
        assert json.loads(rows[0]["args"]) == {"name": "Ada"}
        m = metrics(s.port)
        assert m['borough_jobs_total{app="jobs",outcome="done"}'] == 1, m


@test
def a_job_queued_in_a_transaction_that_rolls_back_does_not_exist():
    with Server(jobs_app()) as s:
        r = post_json(s.port, "/jobs/rolled-back", {})
        assert r.status == 200 and json.loads(r.body) == {"queued": 0}, r


@test
def a_failing_job_is_retried_with_backoff_and_its_error_kept():
    with Server(jobs_app()) as s:
        post_json(s.port, "/jobs/enqueue/flaky", {"succeed_on": 3})
        post_json(s.port, "/jobs/enqueue/flaky", {"succeed_on": 0})
        wait_for(lambda: len(notes(s.port, "flaky")) == 6, what="six attempts")
        wait_for(lambda: all(j["state"] in ("done", "failed") for j in job_rows(s.data_dir)), what="both to end")
        done, failed = job_rows(s.data_dir)
        assert (done["state"], done["attempts"], done["error"]) == ("done", 3, None), done
        assert (failed["state"], failed["attempts"]) == ("failed", 3), failed
        assert failed["error"].endswith("app.lua:16: not yet (attempt 3)"), failed
        s.wait_log(r"job flaky #2 failed for good after 3 attempts: .*not yet \(attempt 3\)")
        s.wait_log(r"job flaky #1 failed \(attempt 1 of 3\); it runs again in 0\.2 s")
        m = metrics(s.port)
        assert m['borough_jobs_total{app="jobs",outcome="retry"}'] == 4, m
        assert m['borough_jobs_total{app="jobs",outcome="failed"}'] == 1, m
        wait_for(lambda: metrics(s.port)['borough_jobs{app="jobs",state="failed"}'] == 1, what="the gauge")
        assert get(s.port, "/jobs/_jobs").status == 303       # staff only: sign in first
        page = get(s.port, "/jobs/_jobs", staff_cookie(s, "jobs", ["admin"]))
        assert page.status == 200, page
        assert b"Background jobs" in page.body and b"not yet (attempt 3)" in page.body, page.body
        assert b"Failed: 1" in page.body and b"Done: 1" in page.body, page.body


@test
def jobs_may_wait_on_http_and_sleep_and_app_code_cannot_write_the_job_tables():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"hi")

        def log_message(self, *a):
            pass

    svc = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=svc.serve_forever, daemon=True).start()
    try:
        with Server(jobs_app()) as s:
            post_json(s.port, "/jobs/enqueue/slow", {"seconds": 0.3})
            post_json(s.port, "/jobs/enqueue/fetch", {"url": "http://127.0.0.1:%d/" % svc.server_address[1]})
            wait_for(lambda: notes(s.port, "fetch") == ["200 hi"], what="the fetch")
            wait_for(lambda: notes(s.port, "slow-end") == ["1"], what="the sleep")
            r = get(s.port, "/jobs/write-jobs")
            assert r.status == 500, r
            s.wait_log("not authorized")
    finally:
        svc.shutdown()
        svc.server_close()


@test
def jobs_survive_a_restart_and_a_crash():
    s = Server(jobs_app(), args=["--drain", "1"])
    s.start()
    try:
        post_json(s.port, "/jobs/enqueue/greet", {"name": "Later", "_opts": {"delay": 2 * SLOW}})
        assert s.stop() == 0
        rows = job_rows(s.data_dir)
        assert [(j["state"], j["attempts"]) for j in rows] == [("queued", 0)], rows
        s.start()
        assert wait_for(lambda: notes(s.port, "greet"), what="the delayed job") == ["Later 1/5"]
        # Killed while a job runs: the next server runs it again.
        post_json(s.port, "/jobs/enqueue/slow", {"seconds": 30})
        wait_for(lambda: notes(s.port, "slow-start") == ["1"], what="the slow job to start")
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait()
        s.log_file.close()
        assert [j["state"] for j in job_rows(s.data_dir)][-1] == "running"
        s.start()
        s.wait_log(r"1 job interrupted by a stop or crash queued again")
        wait_for(lambda: notes(s.port, "slow-start") == ["1", "2"], what="the slow job to run again")
        # A stop ends the run that waits, and gives its attempt back.
        s.signal(signal.SIGTERM)
        assert s.proc.wait(timeout=30 * SLOW) == 0
        s.log_file.close()
        slow = job_rows(s.data_dir)[-1]
        assert (slow["state"], slow["attempts"]) == ("queued", 1), slow
    finally:
        s.stop()
        shutil.rmtree(s.tmp, ignore_errors=True)


EVERY = '''
app:every("every 1 second", function(job)
  db.exec("CREATE TABLE IF NOT EXISTS ticks (tick INTEGER, attempt INTEGER)")
  db.exec("INSERT INTO ticks (tick, attempt) VALUES (?, ?)", job.tick, job.attempt)
end)
app:every("every day at 07:00", { name = "morning" }, function(job) end)
app:get("/ticks", function()
  local ok, rows = pcall(db.query, "SELECT tick FROM ticks ORDER BY tick")
  return borough.json(ok and rows or json.array({}))
end)
'''


@test
def a_recurring_job_runs_once_per_tick_across_workers():
    with Server(jobs_app(EVERY), workers=3) as s:
        def ticks():
            return [t["tick"] for t in json.loads(get(s.port, "/jobs/ticks").body)]
        wait_for(lambda: len(ticks()) >= 4, timeout=15, what="four ticks")
        t = ticks()
        assert len(t) == len(set(t)), "a tick ran twice: %r" % t
        # Ticks come in order, each once (a worker held up for longer than a
        # tick would skip it, never run it twice).
        assert t == sorted(t), t
        rows = [j for j in job_rows(s.data_dir) if j["kind"] == "every"]
        assert len({j["args"] for j in rows}) == len(rows), rows   # one job row per tick
        page = get(s.port, "/jobs/_jobs", staff_cookie(s, "jobs", ["admin"]))
        assert b"every 1 second" in page.body and b"morning" in page.body and b"every day at 07:00" in page.body


@test
def schedules_read_as_written():
    with Server(jobs_app()) as s:
        def parse(text):
            return json.loads(get(s.port, "/jobs/parse?s=" + text.replace(" ", "%20")).body)
        assert parse("every 15 minutes") == {"every": 900}
        assert parse("every minute") == {"every": 60}
        assert parse("Every 2 Hours") == {"every": 7200}
        assert parse("every 30 seconds") == {"every": 30}
        assert parse("every day at 07:00") == {"at": 420, "days": 127}
        assert parse("every weekday at 08:30") == {"at": 510, "days": 31}
        assert parse("every monday and thursday at 9:05") == {"at": 545, "days": 9}
        assert parse("every monday, wednesday and friday at 18:00") == {"at": 1080, "days": 21}
        assert parse("every day") == {"at": 0, "days": 127}
        assert parse("every day at 25:00")["error"] == \
            '"25:00" is not a time of day: write it as 24-hour HH:MM, like 07:00 or 18:30'
        assert parse("every fortnight")["error"].startswith(
            '"every fortnight" is not a schedule borough understands: write it like "every 15 minutes"')
        assert "error" in parse("every 1 minutes seconds")
    bad = '''local app = borough.app { public = true, mount = "/bad" }
app:every("at teatime", function() end)
return app'''
    with Server({"bad": {"app.lua": bad}}) as s:
        s.wait_log(r'bad/app.lua:2: app:every: "at teatime" is not a schedule borough understands')
    bad = '''local app = borough.app { public = true, mount = "/bad" }
app:job("x", function() end)
app:get("/", function() jobs.enqueue("y") end)
return app'''
    with Server({"bad": {"app.lua": bad}}) as s:
        assert get(s.port, "/bad/").status == 500
        s.wait_log(r'bad/app.lua:3: jobs.enqueue: no job named "y" \(declare it with app:job\(name, fn\)\)')


run()
