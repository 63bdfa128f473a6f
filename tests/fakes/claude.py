"""A loopback stub of Anthropic's Messages API, driven by the real anthropic SDK (its base URL
pointed here): it checks the key header, keeps every request, answers a forced tool call from
a script (or a grounded verdict by default), fails on demand (429, 529, malformed answers,
slow answers), and emulates prompt caching: a prefix ending at a cache_control block is read
from the cache the second time it is sent.

https://docs.anthropic.com/en/api/messages and
https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching
"""

import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

KEY = "sk-ant-test-key-for-the-stub"
CHARS_PER_TOKEN = 4


@dataclass
class Scripted:
    """One answer: a tool input, an HTTP error status, a delay, or a malformed answer."""

    tool_input: dict | None = None
    status: int = 200
    delay: float = 0.0
    malformed: bool = False


@dataclass
class ClaudeStub:
    """The WSGI app; `requests` holds every JSON body received, `script` the next answers."""

    requests: list = field(default_factory=list)
    script: list = field(default_factory=list)
    cache: set = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ, start_response):
        request = Request(environ)
        response = self._answer(request)
        return response(environ, start_response)

    def _answer(self, request):
        if request.path != "/v1/messages" or request.method != "POST":
            return _error(404, "not_found_error", "Not found")
        # The SDK sends the key as x-api-key, or (2.x) as a bearer token.
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if KEY not in (request.headers.get("x-api-key"), bearer):
            return _error(401, "authentication_error", "invalid x-api-key")
        body = json.loads(request.get_data())
        with self.lock:
            self.requests.append(body)
            scripted = self.script.pop(0) if self.script else Scripted()
        if scripted.delay:
            time.sleep(scripted.delay)
        if scripted.status == 529:
            return _error(529, "overloaded_error", "Overloaded")
        if scripted.status == 429:
            return _error(
                429, "rate_limit_error", "Number of requests has exceeded your rate limit"
            )
        if scripted.status != 200:
            return _error(scripted.status, "api_error", "Internal server error")
        return _json(200, self._message(body, scripted))

    def _message(self, body, scripted):
        if scripted.malformed:
            content = [
                {
                    "type": "tool_use",
                    "id": _id("toolu"),
                    "name": "record_verdict",
                    "input": {"verdict": "maybe", "confidence": "high"},
                }
            ]
        else:
            answer = scripted.tool_input or default_verdict(body)
            content = [
                {"type": "tool_use", "id": _id("toolu"), "name": "record_verdict", "input": answer}
            ]
        return {
            "id": _id("msg"),
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": content,
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {**self._usage(body), "output_tokens": 60},
        }

    def _usage(self, body):
        """Input tokens, split as the API does: what was written to the cache, read from it,
        and the rest."""
        parts = [json.dumps(body.get("tools", [])), json.dumps(body.get("system", ""))]
        cached_upto, read, written = 0, 0, 0
        for message in body.get("messages", []):
            content = message.get("content")
            blocks = content if isinstance(content, list) else [{"text": str(content)}]
            for block in blocks:
                parts.append(block.get("text", ""))
                if block.get("cache_control"):
                    cached_upto = len(parts)
        tokens = [len(part) // CHARS_PER_TOKEN + 1 for part in parts]
        if cached_upto:
            prefix = hashlib.sha256("\x00".join(parts[:cached_upto]).encode()).hexdigest()
            size = sum(tokens[:cached_upto])
            with self.lock:
                if prefix in self.cache:
                    read = size
                else:
                    self.cache.add(prefix)
                    written = size
        rest = sum(tokens) - read - written
        return {
            "input_tokens": rest,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
        }

    def sent_text(self):
        """Everything every request carried, as one string (for redaction checks)."""
        with self.lock:
            return "\n".join(json.dumps(body) for body in self.requests)


def default_verdict(body):
    """`related`, quoting the first line of the log excerpt that says error or fail."""
    text = ""
    for message in body.get("messages", []):
        for block in message.get("content", []) if isinstance(message.get("content"), list) else []:
            text = block.get("text", text)
    text = text.split("\nLog excerpt:\n", 1)[-1]
    quoted = next(
        (
            line.strip()
            for line in text.splitlines()
            if ("error" in line.lower() or "fail" in line.lower()) and len(line.strip()) > 8
        ),
        text.splitlines()[0] if text else "",
    )
    return {
        "verdict": "related",
        "confidence": 0.8,
        "explanation": "The assertion the PR's change touches fails. The base branch passes.",
        "fix": "Return an empty list from parse() for empty input.",
        "evidence": [quoted],
    }


def serve_claude(stub):
    """(base URL, stop) of the stub on a free loopback port."""
    server = make_server("127.0.0.1", 0, stub, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()

    def stop():
        server.shutdown()
        thread.join()
        server.server_close()

    return f"http://127.0.0.1:{server.port}", stop


def _id(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def _json(status, data):
    return Response(
        json.dumps(data),
        status=status,
        content_type="application/json",
        headers={"request-id": _id("req")},
    )


def _error(status, kind, message):
    return _json(status, {"type": "error", "error": {"type": kind, "message": message}})
