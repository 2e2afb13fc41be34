"""Through gunicorn: the server on a socket bound here, a real sign-in, concurrent keep-alive clients."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter
from urllib.parse import urlencode

import click
from flask import Flask

from omnistore import ROOT
from omnistore.core.extensions import db
from omnistore_tools.bench.measure import CpuMeter, Result, Run, Sample, _login_csrf, _server_ms
from omnistore_tools.bench.scenarios import HOST, USER_AGENT, Req

# --- mode 2: through gunicorn -----------------------------------------------------------------------


class Gunicorn:
    """`gunicorn app:app` on a socket bound here (127.0.0.1, a free port) and handed to it; stopped on exit."""

    def __init__(
        self,
        app: Flask,
        workers: int,
        threads: int,
        env: dict | None = None,
        worker_class: str = "sync",
        worker_connections: int = 1000,
    ):
        self.app = app
        self.worker_class = worker_class
        self.worker_connections = worker_connections
        self.extra_env = env or {}
        self.workers = workers
        self.threads = threads
        self.process = None
        self.port = None
        self._log = None

    def __enter__(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((HOST, 0))
            listener.listen(1024)
            self.port = listener.getsockname()[1]
            fd = listener.fileno()
            target = "app:app" if (ROOT / "app.py").exists() else "omnistore:create_app()"
            command = [
                sys.executable,
                "-m",
                "gunicorn",
                target,
                "--bind",
                f"fd://{fd}",
                "--chdir",
                str(ROOT),
                "--workers",
                str(self.workers),
                "--threads",
                str(self.threads),
                "--worker-class",
                self.worker_class,
                "--worker-connections",
                str(self.worker_connections),
                "--timeout",
                "120",
                "--graceful-timeout",
                "5",
                "--log-level",
                "warning",
            ]
            self._log = tempfile.TemporaryFile()
            self.process = subprocess.Popen(
                command,
                env=self._environment(),
                cwd=str(ROOT),
                pass_fds=(fd,),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        finally:
            listener.close()  # gunicorn holds its own copy
        try:
            self._wait_until_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _environment(self):
        config = self.app.config
        env = dict(os.environ)
        env.update(
            {
                "OMNISTORE_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
                "OMNISTORE_SECRET_KEY": config["SECRET_KEY"],  # one key for every worker
                "OMNISTORE_AUTO_SETUP": "0",
                "OMNISTORE_RATELIMIT_STORAGE_URI": config.get("RATELIMIT_STORAGE_URI") or "memory://",
                "OMNISTORE_API_RATE_LIMIT": "1000000 per minute",  # the bench is one client sending thousands
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def _wait_until_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise click.ClickException(f"gunicorn exited with status {self.process.returncode}:\n{self.log()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if _http(self.port, "GET", "/healthz")[0] == 200:
                    return
            time.sleep(0.1)
        raise click.ClickException(f"gunicorn did not answer within {timeout} s:\n{self.log()}")

    def log(self, lines=30):
        if self._log is None or self._log.closed:
            return ""
        self._log.seek(0)
        return "\n".join(self._log.read().decode("utf-8", "replace").splitlines()[-lines:])

    def __exit__(self, *_exc):
        process, self.process = self.process, None
        if process is not None:
            try:
                for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, sig)
                    try:
                        process.wait(timeout=wait)
                        break
                    except subprocess.TimeoutExpired:
                        continue
            finally:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
        return False


def _http(port, method, path, headers=None, body=None):
    """One request on a fresh connection: (status, [(name, value)], body)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def _cookies_from(headers, jar):
    for name, value in headers:
        if name.lower() == "set-cookie":
            pair = value.split(";", 1)[0]
            key, _, val = pair.partition("=")
            jar[key.strip()] = val.strip()
    return jar


def _cookie_header(jar):
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def http_login(port, email, password):
    """Sign in as a browser does: the sign-in page (session cookie + CSRF token), then the form POST, with the
    User-Agent the later requests send (Flask-Login's session protection compares them, as for a browser)."""
    jar = {}
    status, headers, body = _http(port, "GET", "/login", headers={"User-Agent": USER_AGENT})
    if status != 200:
        raise click.ClickException(f"GET /login through gunicorn answered {status}.")
    _cookies_from(headers, jar)
    form = urlencode({"email": email, "password": password, "csrf_token": _login_csrf(body.decode())})
    status, headers, body = _http(
        port,
        "POST",
        "/login",
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": _cookie_header(jar),
            "User-Agent": USER_AGENT,
        },
    )
    if status != 303:
        raise click.ClickException(f"Sign-in as {email} through gunicorn failed ({status}).")
    return _cookies_from(headers, jar)


class _Connection:
    """A minimal HTTP/1.1 keep-alive client connection (asyncio streams); reconnects when the server closes."""

    def __init__(self, port):
        self.port = port
        self.reader = self.writer = None

    async def close(self):
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def request(self, data: bytes):
        """Send `data`; return (status, headers (lower-case names; set-cookie as a list), body)."""
        reused = self.writer is not None
        try:
            return await self._exchange(data)
        except (ConnectionError, asyncio.IncompleteReadError):
            await self.close()
            if not reused:
                raise
            return await self._exchange(data)  # the server closed an idle keep-alive connection: once more

    async def _exchange(self, data):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        self.writer.write(data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, status = lines[0].split(" ", 2)[:2]
        status = int(status)
        headers = {"set-cookie": []}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "set-cookie":
                    headers[name].append(value.strip())
                else:
                    headers[name] = value.strip()
        closing = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
        if status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body, closing = await self.reader.read(), True
        if closing:
            await self.close()
        return status, headers, body

    async def _chunked(self):
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)


def _raw_request(req: Req, port, jar, extra):
    lines = [
        f"{req.method} {req.path} HTTP/1.1",
        f"Host: {HOST}:{port}",
        f"User-Agent: {USER_AGENT}",
        "Accept: text/html,application/json",
        "Connection: keep-alive",
    ]
    if jar:
        lines.append(f"Cookie: {_cookie_header(jar)}")
    lines += [f"{name}: {value}" for name, value in (*extra, *req.headers)]
    if req.body or req.method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(req.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + req.body


def _run_in_own_thread(coroutine):
    """asyncio.run in a thread of its own: the caller's thread may already run an event loop (pytest with
    Playwright's sync API, a notebook), and asyncio.run refuses to nest."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


async def _drive(port, pool, total, clients, jar, extra, seconds, result: Result | None):
    """`clients` connections send `total` requests from `pool` between them (or until `seconds` pass)."""
    issued = 0
    deadline = perf_counter() + seconds if seconds else None

    async def client():
        nonlocal issued
        connection = _Connection(port)
        own = dict(jar)  # each client keeps its cookie up to date, as a browser tab would
        try:
            while issued < total and (deadline is None or perf_counter() < deadline):
                req = pool[issued % len(pool)]
                issued += 1
                started = perf_counter()
                try:
                    status, headers, body = await connection.request(_raw_request(req, port, own, extra))
                except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                    await connection.close()
                    status, headers, body = 0, {"set-cookie": []}, repr(error).encode()
                elapsed = (perf_counter() - started) * 1000
                if headers["set-cookie"] and own:
                    _cookies_from([("set-cookie", c) for c in headers["set-cookie"]], own)
                if result is not None:
                    result.add(Sample(status, elapsed, _server_ms(headers.get("server-timing"))), body)
        finally:
            await connection.close()

    started = perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return perf_counter() - started


def run_gunicorn(app: Flask, run: Run, workers, threads, clients, echo):
    results = []
    with Gunicorn(app, workers, threads) as server:
        jar = http_login(server.port, run.email, run.password)
        auth = {None: ({}, ()), "staff": (jar, ()), "api": ({}, (("Authorization", f"Bearer {run.api_token}"),))}
        if any(s.auth == "admin" for s in run.scenarios):
            auth["admin"] = (http_login(server.port, run.admin_email, run.password), ())
        for scenario in run.scenarios:
            cookies, extra = auth[scenario.auth]

            def send(pool, count, result, cookies=cookies, extra=extra):
                count = count if result is not None else max(count, 2 * clients)  # warm every worker
                seconds = run.seconds if result is not None else None
                return _run_in_own_thread(_drive(server.port, pool, count, clients, cookies, extra, seconds, result))

            results.append(
                run.measure(scenario, send, echo, "gunicorn  ", CpuMeter(server.process.pid, engine=run.engine))
            )
    return results
