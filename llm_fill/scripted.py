"""A scripted stand-in for a model: an OpenAI-compatible `/chat/completions` server on
127.0.0.1 that answers from a script (tests, demos without a network or a key).

Public surface: `ScriptedModel` (`url`, `script`, `requests`, `close()`; a context manager).

    with ScriptedModel(["```envspec\\nheal(p, 0, 10)\\n```"]) as fake:
        envc fill SPEC --model openai/test-model --api-base {fake.url} ...

litellm reaches it through its real HTTP client (`--model openai/NAME --api-base URL`; no
key is needed, `envc fill` sends a placeholder to a server given by `--api-base`). Every
answer reports 100 prompt and 20 completion tokens.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Union

#: answers in order, or a function from a request's messages to the answer (None: a 500 error)
Script = Union[list, Callable[[list], Union[str, None]]]


class ScriptedModel:
    """An OpenAI-compatible `/chat/completions` endpoint answering from `script`.

    `script` is a list of answers, served in order, or a function from the request's
    messages to an answer; when the list is used up (or the function returns None) the
    server answers 500. Every request body is kept in `requests`."""

    def __init__(self, script: Script | None = None):
        self.requests: list[dict] = []
        self.script: Script = script if script is not None else []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                with fake.lock:
                    fake.requests.append(body)
                    if callable(fake.script):
                        answer = fake.script(body["messages"])
                    else:
                        answer = fake.script.pop(0) if fake.script else None
                if answer is None:
                    self._send(500, {"error": {"message": "the script has no more answers", "type": "server_error"}})
                    return
                self._send(200, {
                    "id": f"chatcmpl-{len(fake.requests)}", "object": "chat.completion", "created": 0,
                    "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": answer}}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                })

            def _send(self, code, payload):
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> ScriptedModel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
