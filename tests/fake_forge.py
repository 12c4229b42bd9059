"""A local stand-in for the GitHub and GitLab REST APIs: records pull/merge requests, checks tokens.

Speaks the wire format the delivery uses: GitHub `POST /repos/{owner}/{repo}/pulls` with a Bearer token,
GitLab `POST /projects/{url-encoded path}/merge_requests` with `PRIVATE-TOKEN`; both answer 201 with the
created object, 401 without the right token.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from tests.loopback_http import JsonHandler, LoopbackServer

TOKEN = "test-token-not-a-secret"


class FakeForge(LoopbackServer):
    def __init__(self) -> None:
        self.requests: list[dict] = []
        forge = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.read_json()
                github = re.fullmatch(r"/repos/([^/]+)/([^/]+)/pulls", self.path)
                gitlab = re.fullmatch(r"/projects/([^/]+)/merge_requests", self.path)
                if github and self.headers.get("Authorization") == f"Bearer {TOKEN}":
                    number = len(forge.requests) + 1
                    forge.requests.append({"kind": "github", "project": f"{github[1]}/{github[2]}", "body": body,
                                           "headers": dict(self.headers)})
                    self._answer(201, {"number": number, "html_url": f"https://github.test/{github[1]}/{github[2]}/pull/{number}"})
                elif gitlab and self.headers.get("PRIVATE-TOKEN") == TOKEN:
                    iid = len(forge.requests) + 1
                    forge.requests.append({"kind": "gitlab", "project": unquote(gitlab[1]), "body": body,
                                           "headers": dict(self.headers)})
                    self._answer(201, {"iid": iid, "web_url": f"https://gitlab.test/{unquote(gitlab[1])}/-/merge_requests/{iid}"})
                elif github or gitlab:
                    self._answer(401, {"message": "Bad credentials"})
                else:
                    self._answer(404, {"message": "Not Found"})

            def _answer(self, status: int, data: dict) -> None:
                self.send_json(status, data)

        super().__init__(Handler)
