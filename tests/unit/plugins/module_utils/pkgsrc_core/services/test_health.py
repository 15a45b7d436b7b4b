"""Health checks against a real HTTP server on loopback and real commands."""
from __future__ import annotations

import http.server
import sys
import threading

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.services.health import (
    HealthCheckError, health, health_check_from_params, run_health_check)


class _Handler(http.server.BaseHTTPRequestHandler):
    answers = []  # (status, body) per request, the last one repeated

    def do_GET(self):  # noqa: N802  pylint: disable=invalid-name
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        data = body.encode()
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture()
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/health" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def _check(**params):
    sleeps = []
    result = run_health_check(health_check_from_params(params), sleep=sleeps.append)
    return result, sleeps


def test_http_healthy_after_retries(server):
    _Handler.answers = [(503, "starting"), (503, "starting"), (200, "ok: ready")]
    result, sleeps = _check(url=server, body="ready", retries=5, delay=0.5)
    assert result.healthy and result.attempts == 3 and sleeps == [0.5, 0.5]
    assert result.detail == "status 200, body holds 'ready'"


def test_http_unhealthy_says_what_it_saw(server):
    _Handler.answers = [(200, "degraded")]
    result, sleeps = _check(url=server, body="ready", retries=2, delay=1)
    assert not result.healthy and result.attempts == 3 and sleeps == [1, 1]
    assert "does not hold 'ready'" in result.detail
    _Handler.answers = [(302, "")]
    assert _check(url=server, retries=0)[0].detail == "status 302, expected 200"  # redirects not followed
    _Handler.answers = [(500, "boom")]
    assert _check(url=server, status=500, retries=0)[0].healthy


def test_http_nobody_listening():
    result, _sleeps = _check(url="http://127.0.0.1:9/", retries=1, delay=0, timeout=1)
    assert not result.healthy and result.detail.startswith("no answer")


def test_command_checks():
    ok, _sleeps = _check(command=[sys.executable, "-c", "raise SystemExit(3)"], rc=3, retries=0)
    assert ok.healthy and ok.detail == "exit 3"
    bad, sleeps = _check(command=[sys.executable, "-c", "import sys; sys.stderr.write('db down'); sys.exit(1)"],
                         retries=1, delay=0)
    assert not bad.healthy and bad.detail == "exit 1, expected 0 (db down)" and sleeps == [0]
    slow, _sleeps = _check(command=[sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.5, retries=0)
    assert not slow.healthy and "did not finish" in slow.detail
    missing, _sleeps = _check(command=["/nonexistent/check"], retries=0)
    assert not missing.healthy and "not found" in missing.detail


@pytest.mark.parametrize("params, message", [
    ({}, "neither"), ({"url": "http://x/", "command": ["true"]}, "both"), ({"url": "ftp://x/"}, "http"),
    ({"command": "true --now"}, "list of arguments"), ({"url": "http://x/", "retries": -1}, "retries"),
    ({"url": "http://x/", "timeout": "soon"}, "timeout"),
])
def test_bad_checks_are_refused(params, message):
    with pytest.raises(HealthCheckError, match=message):
        health_check_from_params(params)


def test_adapter_call_gives_a_message(server):
    _Handler.answers = [(200, "ok")]
    out = health({"url": server, "retries": 0})
    assert out["healthy"] and out["msg"].startswith("GET %s answers 200: healthy after 1 attempt" % server)
