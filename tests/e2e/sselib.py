"""Reading event streams (Server-Sent Events) from a running borough as they
arrive, for test_events.py and the browser test: the chunked body decoded
as it comes, its events parsed as a browser's EventSource parses them.

    s = Stream(port, "/live/stream")
    assert s.status == 200
    ev = s.next_event()          # {"id": "3", "event": "message", "data": "..."}
"""
import json
import re
import socket
import time

from lib import SLOW


class Stream:
    """One GET of an event stream on its own connection."""

    def __init__(self, port, path, headers=None, rcvbuf=None, timeout=10):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout * SLOW)
        self.sock.connect(("127.0.0.1", port))
        h = {"Host": "127.0.0.1", "Accept": "text/event-stream"}
        h.update(headers or {})
        head = "GET %s HTTP/1.1\r\n" % path + "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
        self.sock.sendall(head.encode())
        self.raw = b""           # bytes read, not yet decoded
        self.body = b""          # the body decoded, not yet parsed into events
        self.events = []         # events parsed, not yet taken
        self.comments = []       # comment lines seen (heartbeats, reasons)
        self.retry = None
        self.ended = False       # the chunked body's last chunk came
        self.closed = False      # the server closed the connection
        self.status, self.headers = None, {}

    def head(self):
        """Reads the head (status and headers); returns self."""
        while b"\r\n\r\n" not in self.raw:
            self._recv()
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers.setdefault(name.strip().lower(), []).append(value.strip())
        self._decode()
        return self

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[0] if v else None

    def _recv(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed = True
            raise EOFError("the server closed the stream")
        self.raw += chunk

    def _decode(self):
        """Moves whole chunks from raw to body (or all of raw when the body
        is not chunked), then parses the body's whole events."""
        if self.header("transfer-encoding") == "chunked":
            while not self.ended:
                m = re.match(rb"([0-9a-fA-F]+)\r\n", self.raw)
                if not m:
                    break
                size = int(m.group(1), 16)
                if len(self.raw) < m.end() + size + 2:
                    break
                self.body += self.raw[m.end():m.end() + size]
                assert self.raw[m.end() + size:m.end() + size + 2] == b"\r\n", self.raw[:100]
                self.raw = self.raw[m.end() + size + 2:]
                if size == 0:
                    self.ended = True
        else:
            self.body += self.raw
            self.raw = b""
        while b"\n\n" in self.body:
            block, self.body = self.body.split(b"\n\n", 1)
            ev = {"event": "message", "data": [], "id": None}
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "data":
                    ev["data"].append(value)
                elif name == "id":
                    ev["id"] = value
                elif name == "event":
                    ev["event"] = value
                elif name == "retry":
                    self.retry = int(value)
            if ev["data"]:
                ev["data"] = "\n".join(ev["data"])
                self.events.append(ev)

    def pump(self, timeout):
        """Reads what arrives within timeout seconds (stretched by SLOW);
        False once the server has closed the connection."""
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline and not self.closed:
            try:
                self._recv(max(0.01, deadline - time.time()))
            except (socket.timeout, TimeoutError):
                break
            except EOFError:
                break
            finally:
                self._decode()
        return not self.closed

    def next_event(self, timeout=5):
        """The next event, waiting up to timeout seconds; fails if none."""
        deadline = time.time() + timeout * SLOW
        while not self.events:
            if self.closed or time.time() > deadline:
                raise AssertionError("no event came (comments %r, ended %s, closed %s)"
                                     % (self.comments, self.ended, self.closed))
            self.pump(0.1)
        return self.events.pop(0)

    def next_data(self, timeout=5):
        """The next event's data, read as the platform's envelope:
        (channel, data)."""
        ev = self.next_event(timeout)
        doc = json.loads(ev["data"])
        return doc["channel"], doc["data"]

    def wait_closed(self, timeout=5):
        """True if the server closes the connection within timeout."""
        deadline = time.time() + timeout * SLOW
        while not self.closed and time.time() < deadline:
            self.pump(0.1)
        return self.closed

    def close(self):
        self.sock.close()
