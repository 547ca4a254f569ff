"""A small OpenAI-compatible HTTP server for the LLM tests, bound to 127.0.0.1.

``POST /v1/chat/completions`` answers in the shape the real API returns (``chat.completion``
with ``choices[0].message.content`` and ``usage``). Each request consumes the next scripted
behaviour (``script``), or the default one when the script is empty:

- ``Reply(content)``: 200 with ``content`` as the assistant message (any text, valid or not);
- ``Status(code, message)``: an error in the API's ``{"error": {...}}`` shape; ``{auth}`` in the
  message is replaced by the request's bearer token (as a careless server might echo it);
  429/5xx carry ``retry-after-ms`` so the client's retries are quick;
- ``Slow(seconds, then)``: wait, then behave like ``then`` (the client may have gone);
- a callable ``(body, headers) -> behaviour`` to answer from the request.

Every request body (parsed JSON), its raw text and headers are recorded, and ``max_in_flight``
tells how many requests were ever served at once.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FEATURES = ("maintainability", "security", "test_coverage", "documentation", "simplicity")


@dataclass(frozen=True)
class Reply:
    content: str
    prompt_tokens: int = 120
    completion_tokens: int = 40
    refusal: str | None = None


@dataclass(frozen=True)
class Status:
    code: int
    message: str = "simulated failure"
    headers: dict = field(default_factory=lambda: {"retry-after-ms": "5"})


@dataclass(frozen=True)
class Slow:
    seconds: float
    then: object = None


class FakeOpenAI:
    """``with FakeOpenAI() as server: ... server.base_url ...``."""

    def __init__(self, default=None) -> None:
        self.default = default if default is not None else Reply(mutation_reply())
        self.queue: deque = deque()
        self.bodies: list[dict] = []
        self.raw_bodies: list[str] = []
        self.headers: list[dict] = []
        self.paths: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                server._handle(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    # ---- scripting -------------------------------------------------------------------------
    def script(self, *behaviours) -> None:
        """Queue behaviours, one per coming request."""
        with self._lock:
            self.queue.extend(behaviours)

    @property
    def n_requests(self) -> int:
        with self._lock:
            return len(self.bodies)

    # ---- serving ---------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length", 0))).decode("utf-8")
        with self._lock:
            self.paths.append(h.path)
            self.raw_bodies.append(raw)
            self.bodies.append(json.loads(raw) if raw else {})
            self.headers.append(dict(h.headers))
            behaviour = self.queue.popleft() if self.queue else self.default
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if h.path != "/v1/chat/completions":
                behaviour = Status(404, f"unknown path {h.path}", {})
            body = self.bodies[-1] if raw else {}
            self._respond(h, behaviour, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and left
        finally:
            with self._lock:
                self.in_flight -= 1

    def _respond(self, h: BaseHTTPRequestHandler, behaviour, body: dict) -> None:
        while True:
            if callable(behaviour):
                behaviour = behaviour(body, dict(h.headers))
            elif isinstance(behaviour, Slow):
                if self._stop.wait(behaviour.seconds):
                    return
                behaviour = behaviour.then if behaviour.then is not None else self.default
            else:
                break
        if isinstance(behaviour, Status):
            token = h.headers.get("Authorization", "").removeprefix("Bearer ")
            payload = {"error": {"message": behaviour.message.replace("{auth}", token),
                                 "type": "server_error" if behaviour.code >= 500 else
                                 "invalid_request_error", "param": None,
                                 "code": str(behaviour.code)}}
            self._send(h, behaviour.code, payload, behaviour.headers)
            return
        with self._lock:
            n = len(self.bodies)
        payload = {
            "id": f"chatcmpl-fake{n}", "object": "chat.completion", "created": 1_700_000_000,
            "model": body.get("model", "fake"), "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "logprobs": None, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": behaviour.content,
                                     "refusal": behaviour.refusal}}],
            "usage": {"prompt_tokens": behaviour.prompt_tokens,
                      "completion_tokens": behaviour.completion_tokens,
                      "total_tokens": behaviour.prompt_tokens + behaviour.completion_tokens},
        }
        self._send(h, 200, payload, {})

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, code: int, payload: dict, headers: dict) -> None:
        data = json.dumps(payload).encode("utf-8")
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)


# ---- reply contents ----------------------------------------------------------------------------
def mutation_payload(weights=(0.3, 0.25, 0.2, 0.15, 0.1), threshold=0.5, style="strict",
                     meta: dict | None = None, memory_note="raised maintainability",
                     rationale="fewer false negatives") -> dict:
    """A well-formed mutation reply as a dict (edit it to make bad ones)."""
    meta = {"focus_metric": "false_negatives", "weight_step": 0.08, "threshold_step": 0.03,
            "exploration_scale": 0.7, "meta_rate": 0.25, "shrink": 0.8, "grow": 1.3,
            **(meta or {})}
    return {"task": {"weights": dict(zip(FEATURES, weights)), "threshold": threshold,
                     "review_style": style},
            "meta": meta, "memory_note": memory_note, "rationale": rationale}


def mutation_reply(**kw) -> str:
    """``mutation_payload(**kw)`` as the JSON text a model returns."""
    return json.dumps(mutation_payload(**kw))


def review_reply(recommendation="needs-work", score=6, strengths=("clear README",),
                 issues=("few tests",), summary="Solid but under-tested.") -> str:
    """A review reply as JSON text; tuples become lists, anything else is sent as given."""
    def as_list(v):
        return list(v) if isinstance(v, tuple) else v

    return json.dumps({"recommendation": recommendation, "score": score,
                       "strengths": as_list(strengths), "issues": as_list(issues),
                       "summary": summary})


Behaviour = Reply | Status | Slow | Callable[[dict, dict], object]
