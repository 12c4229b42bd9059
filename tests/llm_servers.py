"""Local HTTP servers that answer in Bedrock Converse and Vertex AI generateContent wire formats.

Tests drive the real provider code paths (langchain-aws, langchain-google-vertexai,
botocore, the Vertex REST transport) against these, with scripted answers.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeModelServer:
    """Scripted answers, FIFO: {"args": {...}} (a tool/structured call), {"text": "..."}, or {"error": (status, kind, message)}."""

    def __init__(self) -> None:
        self.answers: deque[dict[str, Any]] = deque()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                server.requests.append((self.path, body))
                answer = server.answers.popleft() if server.answers else {"text": "no scripted answer"}
                if "/converse" in self.path:
                    status, headers, payload = server._bedrock(body, answer)
                else:
                    status, headers, payload = server._vertex(body, answer)
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in {"content-type": "application/json", "content-length": str(len(data)), **headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FakeModelServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def bodies(self) -> str:
        return "\n".join(json.dumps(b, ensure_ascii=False) for _, b in self.requests)

    # ------------------------------------------------------------- Bedrock

    @staticmethod
    def _bedrock(body: dict[str, Any], answer: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        if "error" in answer:
            status, kind, message = answer["error"]
            return status, {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"}, {"message": message}
        usage = {"inputTokens": 120, "outputTokens": 30, "totalTokens": 150}
        if "args" in answer:
            tools = (body.get("toolConfig") or {}).get("tools") or []
            name = answer.get("tool") or tools[0]["toolSpec"]["name"]
            content = [{"toolUse": {"toolUseId": "tooluse_1", "name": name, "input": answer["args"]}}]
            stop = "tool_use"
        else:
            content, stop = [{"text": answer["text"]}], "end_turn"
        return 200, {}, {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop,
                         "usage": usage, "metrics": {"latencyMs": 12}}

    # -------------------------------------------------------------- Vertex

    @staticmethod
    def _vertex(body: dict[str, Any], answer: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        if "error" in answer:
            status, kind, message = answer["error"]
            return status, {}, {"error": {"code": status, "message": message, "status": kind}}
        if "args" in answer:
            tools = body.get("tools") or []
            name = answer.get("tool") or tools[0]["functionDeclarations"][0]["name"]
            parts = [{"functionCall": {"name": name, "args": answer["args"]}}]
        else:
            parts = [{"text": answer["text"]}]
        return 200, {}, {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}],
                         "usageMetadata": {"promptTokenCount": 200, "candidatesTokenCount": 40, "totalTokenCount": 240}}
