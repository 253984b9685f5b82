#!/usr/bin/env python3
"""Live updates: borough.events.publish and app:events streams
(Server-Sent Events), against the real server.

Events published by a request on one worker reach streams held on the
others; Last-Event-ID resumes (and a reset says when it cannot); heartbeats;
a client that never reads is dropped while the server's memory stays
bounded; caps answer 503 with Retry-After; sign-in, roles and the app's
choice of channels apply; a stream whose session ends is ended; a reload
ends streams cleanly and a new one runs the new version; a graceful stop
ends them at once; a stream takes its connection over; and in Chromium a
page's live region updates when another client submits."""
import json
import os
import re
import shutil
import signal
import socket
import time

from lib import (BOROUGH, SANITIZED, SLOW, Client, Server, borough, execute, get, metrics, query, reload, run,
                 staff_cookie, test, wait_for, write_tree)
from sselib import Stream
import pglib

APP = {"app.lua": '''
local app = borough.app { title = "Live", mount = "/live", roles = { "viewer", "manager" } }

app:events("/public", { public = true }, function(req) return { "measures" } end)
app:events("/staff", { role = "viewer" }, function(req) return { "measures", "staff" } end)
app:events("/choose", { public = true }, function(req)
  local c = req.query.channels
  if c == "none" then return nil end
  if c == "missing" then return borough.status(404) end
  local list = {}
  for name in (c or "measures"):gmatch("[^,]+") do list[#list + 1] = name end
  return list
end)

-- ?n= events on ?channel=, each with ?size= bytes of padding; ?tx=1 in one
-- transaction, ?tx=fail in one that is rolled back.
app:post("/publish", { public = true, csrf = false }, function(req)
  local n, size = tonumber(req.query.n or "1"), tonumber(req.query.size or "0")
  local pad = size > 0 and ("x"):rep(size) or nil
  local function go()
    local id
    for i = 1, n do id = borough.events.publish(req.query.channel or "measures", { n = i, pad = pad }) end
    return id
  end
  if req.query.tx then
    local id = db.tx(function()
      local id = go()
      if req.query.tx == "fail" then return nil, "undone" end
      return id
    end)
    return tostring(id)
  end
  return tostring(go())
end)

app:post("/bad", { public = true, csrf = false }, function(req)
  borough.events.publish("no spaces", {})
end)

return app
'''}

STREAMS_PER_WORKER = re.compile(r"GET /live/(?:public|staff|choose)\S* 200 .* id=\w+\.(\d+)-")


def publish(port, query="", timeout=10):
    r = Client(port, timeout).request("POST", "/live/publish" + query)
    assert r.status == 200, r
    return r


def open_stream(port, path="/live/public", headers=None, **kw):
    s = Stream(port, path, headers, **kw).head()
    return s


def worker_of_publish(server, n):
    """The worker that answered the nth publish (its access line)."""
    lines = wait_for(lambda: len(re.findall(r"POST /live/publish", server.log())) >= n and
                     re.findall(r"POST /live/publish\S* 200 .* id=\w+\.(\d+)-", server.log()),
                     what="the publish's log line")
    return lines[n - 1]


@test
def an_event_published_on_one_node_reaches_streams_on_the_others():
    # Nodes on one PostgreSQL database (docs/operations.md): a node's streams
    # read the events any node publishes, at its next look (a second at
    # most). On SQLite a data folder has one node: nothing to test.
    if not pglib.shared():
        return
    with Server({"live": APP}) as a:
        b = Server(a.apps_dir)
        os.makedirs(b.data_dir)
        for name in os.listdir(a.data_dir):           # the database line and the keys, as each node keeps them
            if os.path.isfile(os.path.join(a.data_dir, name)):
                shutil.copy(os.path.join(a.data_dir, name), os.path.join(b.data_dir, name))
        with b:
            on_a, on_b = open_stream(a.port), open_stream(b.port)
            publish(a.port)
            for st in (on_a, on_b):
                assert st.next_data() == ("measures", {"n": 1})
            publish(b.port, "?n=2")
            for st in (on_a, on_b):
                assert [st.next_data(), st.next_data()] == [("measures", {"n": 1}), ("measures", {"n": 2})]


@test
def an_event_published_on_one_worker_reaches_streams_on_every_worker():
    with Server({"live": APP}, workers=2) as s:
        streams = [open_stream(s.port) for _ in range(12)]
        for st in streams:
            assert st.status == 200, st.headers
            assert st.header("content-type") == "text/event-stream; charset=utf-8"
            assert st.header("cache-control") == "no-store"
            assert st.header("transfer-encoding") == "chunked"
        workers = set(wait_for(lambda: len(STREAMS_PER_WORKER.findall(s.log())) == 12 and
                               STREAMS_PER_WORKER.findall(s.log()), what="the streams' log lines"))
        assert workers == {"1", "2"}, "the kernel put every stream on one worker: %s" % workers
        # Publish until a publishing request lands on each worker, so that
        # each worker's streams have had an event from the other.
        seen_from, n = set(), 0
        while seen_from != {"1", "2"} and n < 40:
            n += 1
            publish(s.port, "?n=1")
            seen_from.add(worker_of_publish(s, n))
            for st in streams:
                channel, data = st.next_data()
                assert channel == "measures" and data == {"n": 1}, (channel, data)
        assert seen_from == {"1", "2"}, seen_from
        retries = {st.retry for st in streams}
        assert all(2000 <= r <= 5000 for r in retries), retries     # spread over 2 to 5 s
        m = metrics(s.port)
        assert m['borough_event_streams{app="live"}'] == 12, m
        for st in streams:
            st.close()
        wait_for(lambda: metrics(s.port)['borough_event_streams{app="live"}'] == 0, what="the streams closing")


@test
def events_carry_ids_the_channel_and_the_data_and_follow_only_their_channels():
    with Server({"live": APP}) as s:
        a = open_stream(s.port, "/live/choose?channels=a")
        ab = open_stream(s.port, "/live/choose?channels=a,b")
        publish(s.port, "?channel=b")
        publish(s.port, "?channel=a")
        ev = ab.next_event()
        assert ev["id"] == "1" and ev["event"] == "message", ev
        assert json.loads(ev["data"]) == {"channel": "b", "data": {"n": 1}}, ev
        assert ab.next_data() == ("a", {"n": 1})
        ev = a.next_event()
        assert ev["id"] == "2" and json.loads(ev["data"])["channel"] == "a", ev
        assert not a.pump(0.3) or not a.events          # b never came to a


@test
def an_event_exists_if_and_only_if_its_transaction_commits():
    with Server({"live": APP}) as s:
        st = open_stream(s.port)
        assert Client(s.port).request("POST", "/live/publish?tx=fail&n=3").text == "nil"
        publish(s.port, "?tx=1&n=2")
        assert st.next_data() == ("measures", {"n": 1})
        assert st.next_data() == ("measures", {"n": 2})
        assert [r["channel"] for r in query(os.path.join(s.data_dir, "live", "app.db"),
                                             "SELECT channel FROM _borough_events")] == ["measures"] * 2


@test
def last_event_id_resumes_after_the_event_named():
    with Server({"live": APP}) as s:
        publish(s.port, "?n=5")
        st = open_stream(s.port, headers={"Last-Event-ID": "2"})
        assert [st.next_event()["id"] for _ in range(3)] == ["3", "4", "5"]
        publish(s.port)
        assert st.next_event()["id"] == "6"
        st.close()
        # Without Last-Event-ID a stream begins with the next event.
        st = open_stream(s.port)
        assert not st.pump(0.3) or not st.events
        publish(s.port)
        assert st.next_event()["id"] == "7"
        # A page's own id (?last_event_id=, what live() writes): the events
        # after it, and the page's newest again since it is so recent.
        st = open_stream(s.port, "/live/public?last_event_id=6")
        assert [st.next_event()["id"] for _ in range(2)] == ["6", "7"]
        # Last-Event-ID wins over the page's id (a browser reconnecting).
        st = open_stream(s.port, "/live/public?last_event_id=1", {"Last-Event-ID": "6"})
        assert st.next_event()["id"] == "7"


@test
def a_resume_the_table_cannot_serve_gets_a_reset():
    with Server({"live": APP}) as s:
        # More than the table keeps: the oldest go as new ones come (a
        # round trip each on PostgreSQL: some seconds).
        publish(s.port, "?tx=1&n=10200", timeout=60)
        rows = query(os.path.join(s.data_dir, "live", "app.db"),
                     "SELECT min(id) AS lo, max(id) AS hi FROM _borough_events")[0]
        assert rows == {"lo": 177, "hi": 10200}, rows      # pruned at 10176: the last 10,000 kept
        n = 0
        for asked, why in (("5", "gone"), ("8000", "too many"), ("20000", "unknown")):
            st = open_stream(s.port, headers={"Last-Event-ID": asked})
            ev = st.next_event()
            assert ev["event"] == "borough-reset" and ev["id"] == str(10200 + n), ev
            assert json.loads(ev["data"]) == {"reason": why}, ev
            publish(s.port)
            n += 1
            assert st.next_event()["id"] == str(10200 + n), asked
        # Within what it keeps and no more than a thousand: sent again.
        st = open_stream(s.port, headers={"Last-Event-ID": "9900"})
        assert st.next_event()["id"] == "9901"


@test
def a_resume_before_the_app_has_a_database_does_not_crash_the_server():
    # An app that has never written has no database file yet: a stream that
    # asks to resume (the page's ?last_event_id=0, or a Last-Event-ID) gets
    # the stream, and the server goes on serving.
    with Server({"live": APP}) as s:
        assert not os.path.exists(os.path.join(s.data_dir, "live", "app.db"))
        page = open_stream(s.port, "/live/public?last_event_id=0")
        assert page.status == 200 and page.retry
        resumed = open_stream(s.port, headers={"Last-Event-ID": "3"})
        ev = resumed.next_event()
        assert ev["event"] == "borough-reset" and json.loads(ev["data"]) == {"reason": "unknown"}, ev
        assert get(s.port, "/healthz").status == 200
        publish(s.port)
        assert page.next_data() == ("measures", {"n": 1})
        assert resumed.next_data() == ("measures", {"n": 1})


@test
def heartbeats_keep_the_stream_open():
    with Server({"live": APP}, args=["--heartbeat", "0.3"]) as s:
        st = open_stream(s.port)
        wait_for(lambda: st.pump(0.2) and len(st.comments) >= 2, what="two heartbeats")
        assert st.comments[:2] == ["", ""], st.comments
        assert st.retry and not st.events


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


@test
def a_client_that_never_reads_is_dropped_and_memory_stays_bounded():
    with Server({"live": APP}) as s:
        slow = Stream(s.port, "/live/public", rcvbuf=4096)     # never read after this
        wait_for(lambda: metrics(s.port).get('borough_event_streams{app="live"}') == 1, what="the stream opening")
        publish(s.port, "?n=10&size=60000")                 # the server's buffers and pages warm
        before = rss_kib(s.proc.pid)
        for _ in range(4):                                  # 77 MB of events, 19 MB at a time
            publish(s.port, "?n=320&size=60000")
        # (the hub reads them after the publish answered: on PostgreSQL
        # without waiting for the database, so a moment later)
        dropped = 'borough_event_streams_ended_total{app="live",why="dropped"}'
        wait_for(lambda: metrics(s.port)[dropped] == 1, what="the slow stream dropped")
        after = rss_kib(s.proc.pid)
        if not SANITIZED:      # AddressSanitizer keeps freed memory in quarantine: RSS says nothing there
            assert after - before < 24 * 1024, "the server grew by %d KiB" % (after - before)
        m = metrics(s.port)
        assert m[dropped] == 1, m
        assert m['borough_event_streams{app="live"}'] == 0, m
        assert re.search(r"event stream dropped: the client reads too slowly", s.log())
        # The slow client finds its stream cut short, well before its end.
        total = 0
        slow.sock.settimeout(5 * SLOW)
        try:
            while True:
                chunk = slow.sock.recv(1 << 20)
                if not chunk:
                    break
                total += len(chunk)
        except ConnectionResetError:
            pass
        assert total < 16 * 1024 * 1024, total
        # Everyone else carries on.
        st = open_stream(s.port)
        publish(s.port)
        assert st.next_data() == ("measures", {"n": 1})


@test
def caps_per_app_and_per_worker_answer_503():
    app = {"app.lua": APP["app.lua"].replace('roles = { "viewer", "manager" }',
                                             'roles = { "viewer", "manager" }, limits = { streams = 2 }')}
    with Server({"live": app}) as s:
        a, b = open_stream(s.port), open_stream(s.port)
        c = Client(s.port).get("/live/public")
        assert c.status == 503 and c.header("retry-after") == "10", c
        assert b"the app's limit, limits.streams" in c.body, c.body
        a.close()
        wait_for(lambda: metrics(s.port)['borough_event_streams{app="live"}'] == 1, what="a stream closing")
        assert open_stream(s.port).status == 200
        m = metrics(s.port)
        assert m['borough_event_streams_ended_total{app="live",why="refused"}'] == 1, m
    with Server({"live": APP}, args=["--max-streams", "1"]) as s:
        kept = open_stream(s.port)
        assert kept.status == 200
        r = Client(s.port).get("/live/public")
        assert r.status == 503 and b"serve --max-streams" in r.body, r


@test
def sign_in_roles_and_the_apps_choice_apply_before_the_stream_starts():
    with Server({"live": APP}) as s:
        r = Client(s.port).get("/live/staff")
        assert r.status == 303 and "/live/_account/sign-in?next=" in r.header("location"), r
        cookie = staff_cookie(s, "live", roles=("manager",))
        r = Client(s.port).get("/live/staff", cookie)
        assert r.status == 403 and b"text/event-stream" not in r.body, r
        viewer = staff_cookie(s, "live", roles=("viewer",), email="vi@example.gov.uk")
        st = open_stream(s.port, "/live/staff", viewer)
        assert st.status == 200
        publish(s.port, "?channel=staff")
        assert st.next_data() == ("staff", {"n": 1})
        assert Client(s.port).get("/live/choose?channels=none").status == 403
        assert Client(s.port).get("/live/choose?channels=missing").status == 404
        r = Client(s.port).get("/live/choose?channels=a,no%20space")
        assert r.status == 500, r


@test
def a_stream_ends_when_its_session_ends_or_loses_the_role():
    with Server({"live": APP}, args=["--heartbeat", "0.3"]) as s:
        viewer = staff_cookie(s, "live", roles=("viewer",), email="vi@example.gov.uk")
        kept = open_stream(s.port, "/live/staff", viewer)
        gone = open_stream(s.port, "/live/staff", staff_cookie(s, "live", roles=("viewer",), email="jo@example.gov.uk"))
        # Signed out (elsewhere): the session's row goes.
        execute(os.path.join(s.data_dir, "borough.db"),
                "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE email = 'jo@example.gov.uk')")
        assert gone.wait_closed(5) and gone.ended, gone.comments
        assert "the session has ended, or lost the role" in gone.comments
        assert kept.pump(0.5)
        status, out, err = borough("user", "role", "vi@example.gov.uk", "live", "viewer", "--remove",
                                   "--data", s.data_dir)
        assert status == 0, err
        assert kept.wait_closed(5) and kept.ended


@test
def a_reload_ends_streams_cleanly_and_a_new_one_runs_the_new_version():
    with Server({"live": APP}, workers=2) as s:
        streams = [open_stream(s.port) for _ in range(6)]
        write_tree(os.path.join(s.apps_dir, "live"), {"app.lua": APP["app.lua"].replace(
            'function(req) return { "measures" } end', 'function(req) return { "measures-v2" } end', 1)})
        status, out, err = reload(s.data_dir, "live")
        assert status == 0, err
        for st in streams:
            assert st.wait_closed(5), st.comments
            assert st.ended and "the app was reloaded" in st.comments, st.comments
        # A browser reconnects with Last-Event-ID; the new version follows its own channel.
        st = open_stream(s.port, headers={"Last-Event-ID": "0"})
        publish(s.port, "?channel=measures")
        publish(s.port, "?channel=measures-v2")
        assert st.next_data() == ("measures-v2", {"n": 1})


@test
def a_graceful_stop_ends_streams_at_once():
    with Server({"live": APP}, workers=2, args=["--drain", "30"]) as s:
        streams = [open_stream(s.port) for _ in range(6)]
        t0 = time.time()
        s.signal(signal.SIGTERM)
        for st in streams:
            assert st.wait_closed(10), st.comments
            assert st.ended and "the server is stopping" in st.comments
        s.proc.wait(timeout=20 * SLOW)
        # Not held for the 30 s drain.
        assert time.time() - t0 < 10 * SLOW, time.time() - t0


@test
def a_stream_takes_its_connection_over():
    with Server({"live": APP}) as s:
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=5 * SLOW)
        sock.sendall(b"GET /live/public HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3 * SLOW)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        publish(s.port)
        data = b""
        while b"measures" not in data:
            data += sock.recv(65536)
        assert data.count(b"HTTP/1.1") == 1 and b"ok\n" not in data, data
        sock.close()
        # HEAD: the head alone; HTTP/1.0: the body ends at close.
        r = Client(s.port).request("HEAD", "/live/public")
        assert r.status == 200 and r.header("content-type").startswith("text/event-stream"), r
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=5 * SLOW)
        sock.sendall(b"GET /live/public HTTP/1.0\r\n\r\n")
        time.sleep(0.3 * SLOW)
        publish(s.port)
        data = b""
        while b"measures" not in data:
            data += sock.recv(65536)
        assert b"Transfer-Encoding" not in data and b"\nid: " in data, data
        sock.close()


@test
def publishing_mistakes_and_declaration_mistakes_are_named():
    with Server({"live": APP}) as s:
        r = Client(s.port).request("POST", "/live/bad")
        assert r.status == 500
        assert re.search(r"borough.events.publish: a channel is 1 to 128 letters", s.log()), s.log()[-2000:]
    bad = {"app.lua": 'local app = borough.app { public = true }\n'
                      'app:events("/x", { rol = "viewer" }, function() return { "a" } end)\nreturn app\n'}
    with Server({"bad": bad}) as s:
        r = get(s.port, "/bad/x")
        assert r.status == 503, r
        assert re.search(r"app\.lua:2: app:events\(\"/x\"\): unknown option 'rol'", s.log()), s.log()


MEASURES = {
    "app.lua": '''
local app = borough.app { title = "Measures", mount = "/measures", public = true }
local Measures = borough.entity "measures" { { "value", "text", required = true } }

app:get("/", function(req)
  return borough.view("index", { count = Measures:count() })
end)

app:post("/submit", { csrf = false }, function(req)
  db.tx(function()
    Measures:create { value = req.form.value }
    borough.events.publish("measures", {})
    return true
  end)
  return borough.redirect(borough.url("/"))
end)

app:events("/live", function(req) return { "measures" } end)

return app
''',
    "views": {"index.html": '''{% extends "govuk/template" %}
{% block pageTitle %}Measures{% endblock %}
{% block content %}
  <h1 class="govuk-heading-l">Measures</h1>
  <p id="count" class="govuk-body" data-borough-live="{{ live('/live') }}">{{ count }} measures submitted</p>
  <p class="govuk-body"><a class="govuk-link" href="{{ url('/') }}">Refresh</a></p>
{% endblock %}
'''},
}


@test
def a_page_with_a_live_region_updates_without_reload_in_chromium():
    from browserlib import ensure_tools, run_scenario, violations
    ensure_tools()
    with Server({"measures": MEASURES}, workers=2) as s:
        pages = run_scenario(s.port, [
            ["goto", "/measures/"],
            ["mark"],
            ["wait_stream"],
            ["request", "POST", "/measures/submit", "value=1"],
            ["wait_text", "#count", "1 measures submitted"],
            ["request", "POST", "/measures/submit", "value=2"],
            ["wait_text", "#count", "2 measures submitted"],
            ["expect_mark"],
            ["audit", "live"],
        ], os.path.join(s.tmp, "shots"))
        assert "2 measures submitted" in pages[0]["text"], pages[0]
        assert not violations(pages), violations(pages)
        # Without JavaScript the same page is whole, with its Refresh link.
        r = get(s.port, "/measures/")
        assert b'data-borough-live="/measures/live?last_event_id=2"' in r.body, r.body
        assert b">2 measures submitted<" in r.body and b">Refresh</a>" in r.body


if __name__ == "__main__":
    run()
