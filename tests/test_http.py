"""b2release.http: the one retry policy, against a scripted HTTP server on 127.0.0.1."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import Iterator

import pytest

from b2release import http
from b2release.errors import RemoteError
from b2release.http import (
    BACKOFF_CAP_S,
    RETRY_AFTER_CAP_S,
    USER_AGENT,
    HttpClient,
    backoff_delay,
    parse_retry_after,
)
from tests.fixtures.loopback import LoopbackServer

SECRET = "SIGSECRETVALUE123"


@dataclass
class Reply:
    """One scripted answer: a status with headers and body, or a misbehaviour."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    action: str = ""  # "" | "drop" (close without answering) | "short" (body breaks off) | "slow"


class Scripted:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path with query, headers)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.server: LoopbackServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def then(self, *replies: Reply) -> Scripted:
        self.replies.extend(replies)
        return self

    def next_reply(self, method: str, path: str, headers: dict[str, str]) -> Reply:
        with self.lock:
            self.requests.append((method, path, headers))
            return self.replies.pop(0) if self.replies else Reply()


def _handler(script: Scripted) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep the test output clean
            pass

        def _answer(self) -> None:
            reply = script.next_reply(self.command, self.path, dict(self.headers))
            if reply.action == "drop":
                self.close_connection = True
                return
            if reply.action == "slow":
                script.stop.wait(2.0)  # longer than the client's timeout; ends when the test does
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.action == "short":
                self.send_header("Content-Length", str(len(reply.body) + 100))
                self.end_headers()
                self.wfile.write(reply.body)
                self.wfile.flush()
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = _answer

    return Handler


@pytest.fixture
def server() -> Iterator[Scripted]:
    script = Scripted()
    script.server = LoopbackServer(_handler(script))
    script.server.start()
    try:
        yield script
    finally:
        script.stop.set()
        script.server.stop()


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The client's waits, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(http, "sleep", recorded.append)
    return recorded


def body(response) -> bytes:
    return response.content


def client(**kw) -> HttpClient:
    kw.setdefault("timeout", 5.0)
    kw.setdefault("retries", 3)
    return HttpClient(**kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- parse_retry_after and backoff_delay -------------------------------------------------------
def test_retry_after_parsing():
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(" 12 ") == 12.0
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("1.5") is None  # delta-seconds are whole numbers
    assert parse_retry_after("999999") == RETRY_AFTER_CAP_S == 300.0  # capped
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


def test_retry_after_as_an_http_date_is_capped_and_never_negative():
    now = 1445412470.0  # 2015-10-21T07:27:50Z
    assert parse_retry_after("Wed, 21 Oct 2015 09:28:00 GMT", now=now) == RETRY_AFTER_CAP_S  # two hours away
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now=now) == 0.0  # already past
    assert parse_retry_after(formatdate(now + 42, usegmt=True), now=now) == 42.0


@pytest.fixture
def tokyo_time() -> Iterator[None]:
    """The process's local time zone is not UTC (a build agent in Tokyo)."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is POSIX only")
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


def test_retry_after_in_gmt_does_not_depend_on_the_local_time_zone(tokyo_time):
    now = 1445412470.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 10.0  # IMF-fixdate
    assert parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", now=now) == 10.0  # obsolete RFC 850 form


def test_retry_after_in_asctime_form_is_utc(tokyo_time):
    assert parse_retry_after("Wed Oct 21 07:28:00 2015", now=1445412470.0) == 10.0


def test_retry_after_date_relative_to_the_clock_when_no_now_is_given():
    wait = parse_retry_after(formatdate(time.time() + 120, usegmt=True))
    assert wait is not None and 100 <= wait <= 120


def test_backoff_is_exponential_and_capped():
    assert [backoff_delay(n) for n in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff_delay(10) == BACKOFF_CAP_S == 30.0
    assert backoff_delay(100) == 30.0  # no overflow for a huge attempt number
    assert backoff_delay(3, base=0.5, cap=3.0) == 3.0


# --- the client against the scripted server ----------------------------------------------------
def test_a_plain_success_is_handed_to_handle(server, waits):
    with client() as c:
        assert c.call("GET", server.url + "/a?x=1", display="thing", handle=body) == b"ok"
        assert (c.counters.requests, c.counters.retries) == (1, 0)
    method, path, headers = server.requests[0]
    assert (method, path) == ("GET", "/a?x=1")
    assert headers["User-Agent"] == USER_AGENT
    assert waits == []


def test_extra_headers_are_sent(server, waits):
    with client(headers={"Authorization": "Bearer abc"}) as c:
        c.call("POST", server.url + "/p", display="thing", handle=body, json={"a": 1})
    assert server.requests[0][2]["Authorization"] == "Bearer abc"


def test_429_waits_what_retry_after_asks_in_seconds(server, waits):
    server.then(Reply(429, {"Retry-After": "7"}), Reply(body=b"done"))
    with client() as c:
        assert c.call("GET", server.url + "/x", display="thing", handle=body) == b"done"
        assert (c.counters.requests, c.counters.retries) == (2, 1)
    assert waits == [7.0]


def test_503_with_retry_after_as_an_http_date_is_capped(server, waits):
    server.then(Reply(503, {"Retry-After": formatdate(time.time() + 3600, usegmt=True)}), Reply())
    with client() as c:
        c.call("GET", server.url + "/x", display="thing", handle=body)
    assert waits == [RETRY_AFTER_CAP_S]


def test_retry_after_as_a_near_http_date(server, waits):
    server.then(Reply(429, {"Retry-After": formatdate(time.time() + 60, usegmt=True)}), Reply())
    with client() as c:
        c.call("GET", server.url + "/x", display="thing", handle=body)
    assert len(waits) == 1 and 50 <= waits[0] <= 60


def test_an_unreadable_retry_after_falls_back_to_the_backoff(server, waits):
    server.then(Reply(429, {"Retry-After": "later please"}), Reply(500), Reply())
    with client() as c:
        c.call("GET", server.url + "/x", display="thing", handle=body)
    assert waits == [1.0, 2.0]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 599])
def test_transient_statuses_are_retried_then_succeed(server, waits, status):
    server.then(Reply(status), Reply(status), Reply(body=b"finally"))
    handled: list[int] = []

    def handle(response):
        handled.append(response.status_code)
        return response.content

    with client() as c:
        assert c.call("GET", server.url + "/x", display="thing", handle=handle) == b"finally"
    assert handled == [200]  # handle never sees a transient answer
    assert waits == [1.0, 2.0]
    assert len(server.requests) == 3


def test_backoff_grows_to_its_cap_and_attempts_are_bounded(server, waits):
    server.then(*[Reply(503) for _ in range(8)])
    with client(retries=6) as c, pytest.raises(RemoteError) as info:
        c.call("GET", server.url + "/x", display="OSV query batch 1 of 2", handle=body)
    assert info.value.message == "OSV query batch 1 of 2 failed after 7 attempts: HTTP 503"
    assert info.value.details == {"attempts": 7}
    assert info.value.exit_code == 3
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert len(server.requests) == 7


def test_rate_limiting_that_never_ends_names_it(server, waits):
    server.then(*[Reply(429, {"Retry-After": "1"}) for _ in range(3)])
    with client(retries=2) as c, pytest.raises(RemoteError) as info:
        c.call("GET", server.url + "/x", display="thing", handle=body)
    assert info.value.message == "thing failed after 3 attempts: HTTP 429 (rate limited)"
    assert waits == [1.0, 1.0]


def test_no_retries_means_one_attempt(server, waits):
    server.then(Reply(500))
    with client(retries=0) as c, pytest.raises(RemoteError, match="thing failed after 1 attempts: HTTP 500"):
        c.call("GET", server.url + "/x", display="thing", handle=body)
    assert waits == [] and len(server.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 418])
def test_a_non_transient_status_goes_to_handle_without_retry(server, waits, status):
    server.then(Reply(status, body=b"nope"))
    with client() as c:
        assert c.call("GET", server.url + "/x", display="thing",
                      handle=lambda r: (r.status_code, r.content)) == (status, b"nope")
        assert c.counters.retries == 0
    assert waits == [] and len(server.requests) == 1


def test_an_error_raised_by_handle_is_final(server, waits):
    def handle(response):
        raise RemoteError(f"thing: HTTP {response.status_code}")

    server.then(Reply(403))
    with client() as c, pytest.raises(RemoteError, match="thing: HTTP 403"):
        c.call("GET", server.url + "/x", display="thing", handle=handle)
    assert len(server.requests) == 1 and waits == []


def test_redirects_are_not_followed(server, waits):
    server.then(Reply(302, {"Location": "/elsewhere?sig=" + SECRET}, body=b""))
    with client() as c:
        result = c.call("GET", server.url + "/x", display="thing",
                        handle=lambda r: (r.status_code, r.headers["Location"]))
    assert result == (302, "/elsewhere?sig=" + SECRET)
    assert [path for _, path, _ in server.requests] == ["/x"]  # nobody went to /elsewhere


def test_a_dropped_connection_is_retried(server, waits):
    server.then(Reply(action="drop"), Reply(body=b"second time lucky"))
    with client() as c:
        assert c.call("GET", server.url + "/x", display="thing", handle=body) == b"second time lucky"
        assert c.counters.retries == 1
    assert waits == [1.0]
    assert len(server.requests) == 2


def test_a_body_that_breaks_off_is_retried(server, waits):
    server.then(Reply(body=b"partial", action="short"), Reply(body=b"whole"))
    with client() as c:
        assert c.call("GET", server.url + "/x", display="thing", handle=body) == b"whole"
    assert waits == [1.0]


def test_connections_that_keep_dropping_fail_after_bounded_attempts(server, waits):
    server.then(*[Reply(action="drop") for _ in range(3)])
    with client(retries=2) as c, pytest.raises(RemoteError) as info:
        c.call("GET", server.url + "/x", display="thing", handle=body)
    assert info.value.message.startswith("thing failed after 3 attempts: connection failed (")
    assert waits == [1.0, 2.0]


def test_a_timeout_is_retried_and_reported(server, waits):
    server.then(Reply(action="slow"), Reply(body=b"fast"))
    with client(timeout=0.2) as c:
        assert c.call("GET", server.url + "/x", display="thing", handle=body) == b"fast"
    assert waits == [1.0]

    server.then(Reply(action="slow"))
    with client(timeout=0.2, retries=0) as c, pytest.raises(RemoteError) as info:
        c.call("GET", server.url + "/x", display="thing", handle=body)
    assert info.value.message == "thing failed after 1 attempts: no answer within 0.2s (ReadTimeout)"


# --- secrets never reach a message ------------------------------------------------------------
def test_messages_and_log_lines_never_carry_the_query_string(server, waits, capsys, monkeypatch):
    from b2release import log

    for name in (log.LOGGER_NAME, "azure", "urllib3"):  # setup() changes process-wide loggers
        logger = logging.getLogger(name)
        for attr in ("handlers", "level", "propagate"):
            monkeypatch.setattr(logger, attr, getattr(logger, attr))
    log.setup("text", 1, "cid")
    server.then(*[Reply(503) for _ in range(3)])
    url = f"{server.url}/c/blob.zip?sv=2024-01-01&sig={SECRET}"
    with client(retries=2) as c, pytest.raises(RemoteError) as info:
        c.call("GET", url, display=f"{server.url}/c/blob.zip", handle=body)
    assert server.requests[0][1].endswith("sig=" + SECRET)  # the server did get the SAS
    err = capsys.readouterr().err
    assert "retrying in 1s" in err  # the warnings were logged ...
    assert SECRET not in err and SECRET not in info.value.message  # ... without the query string
    assert "/c/blob.zip failed after 3 attempts" in info.value.message


@pytest.mark.parametrize("where", ["refused", "invalid-url", "timeout", "drop"])
def test_exception_texts_that_hold_the_url_are_reduced_to_their_class(server, waits, where):
    if where == "refused":
        url = f"http://127.0.0.1:{free_port()}/x?sig={SECRET}"
    elif where == "invalid-url":
        url = f"http://127.0.0.1:99999/x?sig={SECRET}"  # a port no URL may have
    else:
        url = f"{server.url}/x?sig={SECRET}"
        server.then(*[Reply(action="slow" if where == "timeout" else "drop") for _ in range(2)])
    with client(retries=1, timeout=0.2) as c, pytest.raises(RemoteError) as info:
        c.call("GET", url, display="download x", handle=body)
    assert SECRET not in info.value.message and SECRET not in str(info.value.to_dict())
    assert info.value.message.startswith("download x")
    # No chained exception either: a traceback (-v) would print the requests exception, URL and all.
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__ or info.value.__context__ is None
