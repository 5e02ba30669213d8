"""HTTP benchmarks' plumbing: uvicorn servers in subprocesses, one POST, and the load generator.

The load generator is ``wrk`` (1 thread, a Lua script for the POST body) when it is installed,
else a small asyncio client (keep-alive HTTP/1.1, one coroutine per connection, uvloop when
available) run in its own process. Both report requests/s and latency percentiles; the result
names the tool used.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bench.core import run_worker

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def uvicorn_options() -> list[str]:
    """One worker, no access log, the fast loop and parser when installed."""
    options = ["--workers", "1", "--no-access-log"]
    if importlib.util.find_spec("uvloop"):
        options += ["--loop", "uvloop"]
    if importlib.util.find_spec("httptools"):
        options += ["--http", "httptools"]
    return options


@contextlib.contextmanager
def server(app: str, env: dict[str, str], *, ready_path: str = "/health") -> Iterator[str]:
    """Run ``uvicorn --factory APP`` on a free loopback port; yields its base URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *uvicorn_options(),
    ]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            command, env={**os.environ, **env}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield _wait_ready(proc, log, app, base + ready_path, base)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(
    proc: subprocess.Popen[bytes], log: IO[bytes], app: str, ready_url: str, base: str
) -> str:
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"{app} exited:\n{log.read().decode(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(ready_url, timeout=2) as response:
                if response.status == 200:
                    return base
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{app} did not start within 90 s")
        time.sleep(0.1)


def post_json(
    url: str, body: dict[str, Any], headers: dict[str, str], *, timeout: float = 60
) -> tuple[int, Any]:
    """One POST (outside any measurement: to check the answer before loading)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


@dataclass(frozen=True)
class LoadResult:
    tool: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def load(
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    seconds: float,
    connections: int,
    warmup: float,
) -> LoadResult:
    """Load ``url`` with the same POST for ``seconds`` after ``warmup`` seconds of the same."""
    spec = {
        "url": url,
        "body": body,
        "headers": headers,
        "seconds": seconds,
        "connections": connections,
        "warmup": warmup,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
        path = handle.name
    try:
        result = run_worker("load", path, timeout=seconds + warmup + 120)
    finally:
        Path(path).unlink(missing_ok=True)
    return LoadResult(
        tool=result["tool"],
        requests=int(result["requests"]),
        errors=int(result["errors"]),
        seconds=float(result["seconds"]),
        p50_ms=float(result["p50_ms"]),
        p99_ms=float(result["p99_ms"]),
    )


def run_load_from_spec(path: Path) -> None:
    """The worker side of :func:`load`: prints the result as JSON."""
    spec = json.loads(path.read_text())
    wrk = shutil.which("wrk")
    if wrk:
        if spec["warmup"]:
            _wrk(wrk, {**spec, "seconds": spec["warmup"]})
        result = _wrk(wrk, spec)
    else:
        if importlib.util.find_spec("uvloop"):
            import uvloop

            uvloop.install()
        if spec["warmup"]:
            asyncio.run(_python_load({**spec, "seconds": spec["warmup"]}))
        result = asyncio.run(_python_load(spec))
    print(json.dumps(result), flush=True)


_WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\": %d, \\"errors\\": %d, \\"seconds\\": %f, "
    .. "\\"p50_ms\\": %f, \\"p99_ms\\": %f}\\n",
    summary.requests, e.connect + e.read + e.write + e.timeout + e.status,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def _wrk(wrk: str, spec: dict[str, Any]) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", **spec["headers"]}
    lines = ['wrk.method = "POST"', f"wrk.body = [==[{json.dumps(spec['body'])}]==]"]
    lines += [f'wrk.headers["{k}"] = [==[{v}]==]' for k, v in headers.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + _WRK_DONE)
    try:
        proc = subprocess.run(
            [
                wrk,
                "-t1",
                f"-c{spec['connections']}",
                f"-d{max(1, round(spec['seconds']))}s",
                "-s",
                script.name,
                spec["url"],
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        Path(script.name).unlink(missing_ok=True)
    found = re.search(r"WRKJSON (\{.*\})", proc.stdout)
    if not found:
        raise RuntimeError(f"wrk printed no summary:\n{proc.stdout}\n{proc.stderr}")
    return {"tool": "wrk -t1", **json.loads(found.group(1))}


async def _python_load(spec: dict[str, Any]) -> dict[str, Any]:
    match = re.match(r"http://([^:/]+):(\d+)(/.*)", spec["url"])
    if not match:
        raise ValueError(f"not a loopback http URL: {spec['url']}")
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    payload = json.dumps(spec["body"]).encode()
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        *(f"{k}: {v}" for k, v in spec["headers"].items()),
    ]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
    latencies: list[float] = []
    errors = [0]
    started = time.perf_counter()
    deadline = started + spec["seconds"]

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                writer.write(request)
                header = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", header)
                if length is None:
                    raise RuntimeError("response without Content-Length")
                await reader.readexactly(int(length.group(1)))
                if header[9:12] != b"200":
                    errors[0] += 1
                latencies.append(time.perf_counter() - sent)
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(spec["connections"])))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    return {
        "tool": "python asyncio client",
        "requests": len(latencies),
        "errors": errors[0],
        "seconds": elapsed,
        "p50_ms": percentile(50),
        "p99_ms": percentile(99),
    }


def api_token(database_url: str) -> str | None:
    """A bearer token for the benchmark, once the service has tokens; ``None`` before.

    ``BENCH_API_TOKEN`` wins; otherwise, when the models have ``ApiToken``, the CLI
    (``continuity token create --role admin``) makes one and its last printed word is used.
    """
    if os.environ.get("BENCH_API_TOKEN"):
        return os.environ["BENCH_API_TOKEN"]
    import continuity.models

    if not hasattr(continuity.models, "ApiToken"):
        return None
    cli = Path(sys.executable).with_name("continuity")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "server.cli"]
    proc = subprocess.run(
        [*command, "token", "create", "--role", "admin", "--name", "bench"],
        env={**os.environ, "CONTINUITY_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if proc.returncode != 0:  # perhaps no --name option: try without
        proc = subprocess.run(
            [*command, "token", "create", "--role", "admin"],
            env={**os.environ, "CONTINUITY_DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
    words = proc.stdout.split()
    if proc.returncode != 0 or not words:
        raise RuntimeError(f"could not create an API token: {proc.stderr[-2000:]}")
    return words[-1]


def auth_headers(database_url: str) -> dict[str, str]:
    token = api_token(database_url)
    return {"Authorization": f"Bearer {token}"} if token else {}


def _env_value(value: int | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def server_env(database_url: str, **call_center: int | bool) -> dict[str, str]:
    """The product server's settings for a benchmark: no scheduler, production mode, and the
    call-center parameters given. The server stores its configured parameters in the
    database when it starts, over whatever the benchmark wrote there: the chain under load
    ran with the configured 5 days before delivery, five days of shipments instead of one."""
    return {
        "CONTINUITY_DATABASE_URL": database_url,
        "CONTINUITY_SCHEDULER_ENABLED": "false",
        "CONTINUITY_DEVELOPMENT": "false",
        **{f"CONTINUITY_{name.upper()}": _env_value(value) for name, value in call_center.items()},
    }
