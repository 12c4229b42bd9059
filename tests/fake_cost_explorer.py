"""A local AWS Cost Explorer that answers GetCostForecast in its wire format (AWS JSON 1.1), for tests.

moto serves GetCostAndUsage but not GetCostForecast; this server speaks the
forecast's protocol exactly as botocore sends it (POST /, X-Amz-Target:
AWSInsightsIndexService.GetCostForecast, application/x-amz-json-1.1), keeps
every request it got, and answers from a table of amounts per Environment tag
value, or with an AWS error.
"""

from __future__ import annotations

from typing import Any

from tests.loopback_http import JsonHandler, LoopbackServer

_AMZ_JSON = "application/x-amz-json-1.1"


class FakeCostExplorer(LoopbackServer):
    def __init__(self, amounts: dict[str | None, float]):
        self.amounts = amounts  # Environment tag value (None: no filter) -> forecast amount
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.error: tuple[int, str, str] | None = None
        server = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = self.read_json()
                target = self.headers.get("X-Amz-Target", "")
                server.requests.append((target, body))
                if server.error is not None:
                    status, kind, message = server.error
                    return self._send(status, {"__type": kind, "message": message})
                if not target.endswith(".GetCostForecast"):
                    return self._send(400, {"__type": "UnknownOperationException", "message": target})
                tag = ((body.get("Filter") or {}).get("Tags") or {})
                env = (tag.get("Values") or [None])[0]
                amount = server.amounts.get(env)
                if amount is None:
                    return self._send(400, {"__type": "DataUnavailableException", "message": f"no cost data for {env}"})
                period = body["TimePeriod"]
                self._send(200, {"Total": {"Amount": f"{amount:.10f}", "Unit": "USD"},
                                 "ForecastResultsByTime": [{"TimePeriod": period, "MeanValue": f"{amount:.10f}"}]})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                self.send_json(status, payload, content_type=_AMZ_JSON)

        super().__init__(Handler)
