"""Local HTTP servers that answer in the Bedrock Converse, Vertex AI generateContent and OpenAI chat
completions wire formats, with scripted answers.

Tests drive the real provider code paths (langchain-aws and botocore,
langchain-google-vertexai and its REST transport, langchain-openai and the
openai client) against these. An answer is a dict, taken FIFO:
  {"args": {...}, "tool": "Name"}   a tool call (the first offered tool when "tool" is left out)
  {"calls": [{"tool": ..., "args": ...}, ...]}   several tool calls in one turn
  {"text": "..."}                   plain text
  {"error": (status, kind, message)}  an error in the provider's format
  {"hang": True}                    no answer until the server stops (a hung endpoint)
Any answer may add "stop" (the provider's stop reason, e.g. "max_tokens") and "usage" (token counts).
When the queue is empty, `strategy(provider, body)` answers (a scripted model); without one, a 503 error.
The server also serves an OAuth token endpoint (/token) for service-account credentials.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Strategy = Callable[[str, dict[str, Any]], dict[str, Any]]
DEFAULT_USAGE = {"bedrock": (120, 30), "vertex": (200, 40), "openai": (150, 35)}


class FakeModelServer:
    def __init__(self, strategy: Strategy | None = None, *, count_tokens: bool = False) -> None:
        self.answers: deque[dict[str, Any]] = deque()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []
        self.strategy = strategy
        self.count_tokens = count_tokens  # estimate tokens from the request (4 characters a token) instead of fixed counts
        self.token = "ya29.fake-access-token"
        self._stop = threading.Event()
        self._ids = 0
        self._lock = threading.Lock()
        self._seen_prefixes: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path.endswith("/token"):
                    return self._send(200, {}, {"access_token": server.token, "expires_in": 3600, "token_type": "Bearer"})
                body = json.loads(raw or b"{}")
                provider = "bedrock" if "/converse" in self.path else "openai" if "chat/completions" in self.path else "vertex"
                with server._lock:
                    server.requests.append((self.path, body))
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    answer = server.answers.popleft() if server.answers else None
                if answer is None:  # a test that scripted too few answers sees the model fail, not answer
                    answer = server.strategy(provider, body) if server.strategy else {"error": (503, "ServiceUnavailableException", "no scripted answer")}
                if answer.get("hang"):
                    server._stop.wait()
                    return
                status, headers, payload = getattr(server, f"_{provider}")(body, answer)
                self._send(status, headers, payload)

            def _send(self, status: int, headers: dict[str, str], payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for k, v in {"content-type": "application/json", "content-length": str(len(data)), **headers}.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout under test)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FakeModelServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def bodies(self) -> str:
        return "\n".join(json.dumps(b, ensure_ascii=False) for _, b in self.requests)

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._ids += 1
            return f"{prefix}_{self._ids}"

    @staticmethod
    def _calls(answer: dict[str, Any], default_tool: str) -> list[tuple[str, dict[str, Any]]]:
        if "calls" in answer:
            return [(c.get("tool") or default_tool, c.get("args") or {}) for c in answer["calls"]]
        if "args" in answer:
            return [(answer.get("tool") or default_tool, answer["args"])]
        return []

    def _usage(self, provider: str, body: dict[str, Any], answer: dict[str, Any], prefix: str) -> tuple[int, int, int]:
        """(input, output, cached input) tokens: scripted, estimated from the request, or fixed."""
        if "usage" in answer:
            u = answer["usage"]
            return int(u.get("input", 0)), int(u.get("output", 0)), int(u.get("cached", 0))
        if not self.count_tokens:
            tokens_in, tokens_out = DEFAULT_USAGE[provider]
            return tokens_in, tokens_out, 0
        tokens_in = max(1, len(json.dumps(body, ensure_ascii=False)) // 4)
        tokens_out = max(1, len(json.dumps({k: answer.get(k) for k in ("args", "calls", "text")}, ensure_ascii=False)) // 4)
        with self._lock:  # the stable prefix (system prompt, tools) is cached from its second use on
            cached = len(prefix) // 4 if prefix in self._seen_prefixes and len(prefix) >= 4096 else 0
            self._seen_prefixes.add(prefix)
        return tokens_in, tokens_out, min(cached, tokens_in)

    # ------------------------------------------------------------- Bedrock

    def _bedrock(self, body: dict[str, Any], answer: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        if "error" in answer:
            status, kind, message = answer["error"]
            return status, {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"}, {"message": message}
        tools = [t for t in (body.get("toolConfig") or {}).get("tools") or [] if "toolSpec" in t]
        calls = self._calls(answer, tools[0]["toolSpec"]["name"] if tools else "")
        if calls:
            content = [{"toolUse": {"toolUseId": self._next_id("tooluse"), "name": n, "input": a}} for n, a in calls]
            stop = "tool_use"
        else:
            content, stop = [{"text": answer.get("text", "")}], "end_turn"
        cached_prefix = json.dumps([body.get("system"), (body.get("toolConfig") or {}).get("tools")], sort_keys=True)
        has_cache_point = "cachePoint" in cached_prefix
        tokens_in, tokens_out, cached = self._usage("bedrock", body, answer, cached_prefix)
        cached = cached if has_cache_point else 0
        usage = {"inputTokens": tokens_in - cached, "outputTokens": tokens_out, "totalTokens": tokens_in + tokens_out,
                 "cacheReadInputTokens": cached, "cacheWriteInputTokens": 0}
        return 200, {}, {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": answer.get("stop", stop),
                         "usage": usage, "metrics": {"latencyMs": 12}}

    # -------------------------------------------------------------- Vertex

    def _vertex(self, body: dict[str, Any], answer: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        if "error" in answer:
            status, kind, message = answer["error"]
            return status, {}, {"error": {"code": status, "message": message, "status": kind}}
        declarations = [d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
        calls = self._calls(answer, declarations[0]["name"] if declarations else "")
        parts = [{"functionCall": {"name": n, "args": a}} for n, a in calls] or [{"text": answer.get("text", "")}]
        prefix = json.dumps([body.get("systemInstruction"), body.get("tools")], sort_keys=True)
        tokens_in, tokens_out, cached = self._usage("vertex", body, answer, prefix)
        usage = {"promptTokenCount": tokens_in, "candidatesTokenCount": tokens_out, "totalTokenCount": tokens_in + tokens_out}
        if cached:
            usage["cachedContentTokenCount"] = cached
        if answer.get("usage", {}).get("thinking"):
            usage["thoughtsTokenCount"] = int(answer["usage"]["thinking"])
            usage["totalTokenCount"] += usage["thoughtsTokenCount"]
        return 200, {}, {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": answer.get("stop", "STOP")}],
                         "usageMetadata": usage}

    # -------------------------------------------------------------- OpenAI

    def _openai(self, body: dict[str, Any], answer: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        if "error" in answer:
            status, kind, message = answer["error"]
            return status, {}, {"error": {"message": message, "type": kind, "code": kind}}
        tools = [t["function"]["name"] for t in body.get("tools") or [] if t.get("type") == "function"]
        calls = self._calls(answer, tools[0] if tools else "")
        message: dict[str, Any] = {"role": "assistant", "content": None if calls else answer.get("text", "")}
        if calls:
            message["tool_calls"] = [{"id": self._next_id("call"), "type": "function",
                                      "function": {"name": n, "arguments": json.dumps(a, ensure_ascii=False)}} for n, a in calls]
        prefix = json.dumps([body.get("messages", [])[:1], body.get("tools")], sort_keys=True)
        tokens_in, tokens_out, cached = self._usage("openai", body, answer, prefix)
        return 200, {}, {
            "id": self._next_id("chatcmpl"), "object": "chat.completion", "created": 1767225600, "model": body.get("model", ""),
            "choices": [{"index": 0, "message": message, "finish_reason": answer.get("stop", "tool_calls" if calls else "stop")}],
            "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out, "total_tokens": tokens_in + tokens_out,
                      "prompt_tokens_details": {"cached_tokens": cached}},
        }
