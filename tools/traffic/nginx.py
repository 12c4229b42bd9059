"""The nginx router: weighted upstream servers in a file it owns, `nginx -t`, reload, verified by traffic.

The router owns two files included in nginx's http context: the upstream
(`upstream app { server ... weight=N; }`) and a generation marker (a `map`
that proxied answers carry in `X-Route-Generation`). A change writes the
upstream, bumps the generation, asks nginx to check the configuration and
reload, then waits until answers carry the new generation: only then is the
new routing live. Verification sends probe requests through nginx and reads
which version answered (`X-Version`).

Two modes: `weights` (the candidate gets a percentage of requests) and
`hosts` (the candidate replaces whole hosts, so a step is "1 of 3 hosts").

This router acts on a local nginx (the demo's and the tests' loopback
stage). A remote nginx needs the same steps as typed catalogue actions
(write the upstream file, `nginx -t`, `nginx -s reload`) on its host.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from functools import reduce
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from tools.traffic.base import RouteSnapshot, RouteVerification, RouterError, Share
from tools.traffic.local_nginx import fetch

GENERATION_VARIABLE = "$cloud_doctor_route_generation"
SERVER_LINE = re.compile(r"^\s*server\s+([^\s;]+)([^;]*);", re.MULTILINE)
RELOAD_DEADLINE_S = 10.0
CONFIRMATIONS = 5


class NginxRouterConfig(BaseModel):
    kind: Literal["nginx"] = "nginx"
    upstream: str = "app"
    upstream_file: Path
    generation_file: Path
    stable_version: str
    candidate_version: str
    stable_servers: list[str] = Field(min_length=1)
    candidate_servers: list[str] = Field(min_length=1)
    probe_url: str  # a URL served through this nginx
    mode: Literal["weights", "hosts"] = "weights"
    probes: int = Field(default=20, ge=1, le=500)
    binary: str
    conf: Path
    prefix: Path


class NginxCommandControl:
    """`nginx -t` and `nginx -s reload` for the nginx that `conf` and `prefix` describe (argv, no shell)."""

    def __init__(self, binary: str, conf: Path, prefix: Path):
        self.binary, self.conf, self.prefix = binary, conf, prefix

    async def _run(self, *args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(self.binary, *args, "-c", str(self.conf), "-p", str(self.prefix),
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        return proc.returncode or 0, err.decode(errors="replace").strip()

    async def test(self) -> None:
        code, err = await self._run("-t", "-q")
        if code != 0:
            raise RouterError(f"nginx -t refused the new configuration: {err[-400:]}")

    async def reload(self) -> None:
        code, err = await self._run("-s", "reload")
        if code != 0:
            raise RouterError(f"nginx -s reload failed: {err[-400:]}")


def render_upstream(name: str, servers: list[tuple[str, int]], note: str) -> str:
    weights = [w for _, w in servers]
    divisor = reduce(math.gcd, weights) or 1
    lines = [f"# Managed by Cloud Doctor (tools/traffic/nginx.py): {note}", f"upstream {name} {{"]
    lines += [f"    server {address} weight={weight // divisor};" for address, weight in servers]
    return "\n".join(lines + ["}", ""])


def render_generation(generation: int) -> str:
    return f'map $host {GENERATION_VARIABLE} {{ default "{generation}"; }}\n'


def parse_servers(text: str) -> list[dict[str, Any]]:
    """The `server` lines of an upstream file: address, weight, down/backup flags."""
    servers = []
    for match in SERVER_LINE.finditer(text):
        options = match.group(2)
        weight = re.search(r"weight=(\d+)", options)
        servers.append({"address": match.group(1), "weight": int(weight.group(1)) if weight else 1,
                        "down": " down" in f" {options}", "backup": " backup" in f" {options}"})
    return servers


class NginxRouter:
    kind = "nginx"

    def __init__(self, config: NginxRouterConfig, control: Any = None):
        self.cfg = config
        self.control = control or NginxCommandControl(config.binary, config.conf, config.prefix)
        self.unit = "percent" if config.mode == "weights" else "hosts"
        if config.mode == "hosts" and len(config.stable_servers) != len(config.candidate_servers):
            raise RouterError("hosts mode pairs each stable host with a candidate host: give as many of each")

    def total_units(self) -> int | None:
        return len(self.cfg.candidate_servers) if self.cfg.mode == "hosts" else None

    def config(self) -> dict[str, Any]:
        return self.cfg.model_dump(mode="json")

    # ------------------------------------------------------------ reading

    def _version_of(self, address: str) -> str | None:
        if address in self.cfg.stable_servers:
            return self.cfg.stable_version
        if address in self.cfg.candidate_servers:
            return self.cfg.candidate_version
        return None

    def _generation(self) -> int:
        try:
            match = re.search(r'default "(\d+)"', self.cfg.generation_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return 0
        return int(match.group(1)) if match else 0

    async def snapshot(self) -> RouteSnapshot:
        try:
            text = self.cfg.upstream_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise RouterError(f"cannot read {self.cfg.upstream_file}: {exc.strerror}") from None
        servers = [s for s in parse_servers(text) if not s["down"]]
        if not servers:
            raise RouterError(f"{self.cfg.upstream_file} routes to no server: nothing to roll out from")
        versions = sorted({self._version_of(s["address"]) or f"unknown ({s['address']})" for s in servers})
        summary = ", ".join(f"{s['address']} ({self._version_of(s['address']) or 'unknown'}) weight={s['weight']}" for s in servers)
        return RouteSnapshot(router=self.kind, data={"text": text, "versions": versions}, summary=f"{self.cfg.upstream}: {summary}")

    # ----------------------------------------------------------- changing

    def _servers_for(self, share: Share) -> list[tuple[str, int]]:
        stable, candidate = self.cfg.stable_servers, self.cfg.candidate_servers
        if self.cfg.mode == "hosts":
            units = share.units if share.units is not None else len(candidate)
            return [(a, 1) for a in candidate[:units]] + [(a, 1) for a in stable[units:]]
        percent = share.percent
        out = [(a, (100 - percent) * len(candidate)) for a in stable if percent < 100]
        return out + [(a, percent * len(stable)) for a in candidate if percent > 0]

    async def _write_and_reload(self, text: str) -> int:
        """Write the upstream, bump the generation, check, reload, wait until it is live; undo the files if refused."""
        previous_text = self.cfg.upstream_file.read_text(encoding="utf-8") if self.cfg.upstream_file.exists() else None
        previous_generation = self.cfg.generation_file.read_text(encoding="utf-8") if self.cfg.generation_file.exists() else None
        generation = self._generation() + 1
        self.cfg.upstream_file.write_text(text, encoding="utf-8")
        self.cfg.generation_file.write_text(render_generation(generation), encoding="utf-8")
        try:
            await self.control.test()
        except RouterError:
            for path, old in ((self.cfg.upstream_file, previous_text), (self.cfg.generation_file, previous_generation)):
                if old is not None:
                    path.write_text(old, encoding="utf-8")
            raise
        await self.control.reload()
        await self._wait_for_generation(generation)
        return generation

    async def _wait_for_generation(self, generation: int) -> None:
        """Poll until answers carry the new generation several times in a row: an old worker that is shutting
        down may still accept a connection or two after the reload."""
        deadline = time.monotonic() + RELOAD_DEADLINE_S
        seen, in_a_row = None, 0
        while time.monotonic() < deadline:
            try:
                _, headers = await asyncio.to_thread(fetch, self.cfg.probe_url, 2.0)
                seen = headers.get("x-route-generation")
            except OSError as exc:
                seen = f"no answer ({exc})"
            in_a_row = in_a_row + 1 if seen == str(generation) else 0
            if in_a_row >= CONFIRMATIONS:
                return
            if in_a_row == 0:
                await asyncio.sleep(0.02)
        raise RouterError(f"nginx did not load generation {generation} within {RELOAD_DEADLINE_S:g}s (answers show {seen})")

    async def shift(self, share: Share) -> None:
        await self._write_and_reload(render_upstream(self.cfg.upstream, self._servers_for(share),
                                                     f"{self.cfg.candidate_version} gets {share.label}"))

    async def promote(self) -> None:
        servers = [(a, 1) for a in self.cfg.candidate_servers]
        await self._write_and_reload(render_upstream(self.cfg.upstream, servers,
                                                     f"{self.cfg.candidate_version} promoted; {self.cfg.stable_version} retired"))

    async def restore(self, snapshot: RouteSnapshot) -> None:
        await self._write_and_reload(snapshot.data["text"])

    # ---------------------------------------------------------- verifying

    async def _probe(self, generation: int) -> tuple[dict[str, int], int, int]:
        """Versions that answered `probes` requests served by the live generation.

        An old worker keeps accepting until it has handled the reload signal, which on a loaded host can
        take seconds; its answers are not counted, and probing goes on until the live generation has
        answered `probes` times or the reload deadline passes (then the caller reports the stale workers)."""
        versions: dict[str, int] = {}
        failures = stale = 0
        deadline = time.monotonic() + RELOAD_DEADLINE_S
        while sum(versions.values()) + failures < self.cfg.probes and time.monotonic() < deadline:
            try:
                status, headers = await asyncio.to_thread(fetch, self.cfg.probe_url, 3.0)
            except OSError:
                failures += 1
                continue
            if headers.get("x-route-generation") != str(generation):
                stale += 1
                await asyncio.sleep(0.05)  # give the old workers time to drain
                continue
            if status >= 502 and "x-version" not in headers:  # nginx itself answered: no upstream reached
                failures += 1
                continue
            version = headers.get("x-version", "unknown")
            versions[version] = versions.get(version, 0) + 1
        return versions, failures, stale

    async def _verify(self, expected_text: str, allowed: set[str], required: set[str], what: str) -> RouteVerification:
        on_disk = self.cfg.upstream_file.read_text(encoding="utf-8")
        if on_disk != expected_text:
            return RouteVerification(verified=False, detail=f"{self.cfg.upstream_file} does not hold the {what} routing")
        generation = self._generation()
        versions, failures, stale = await self._probe(generation)  # only answers from the live generation count
        seen = ", ".join(f"{v}: {n}" for v, n in sorted(versions.items())) or "none"
        if sum(versions.values()) + failures < self.cfg.probes:
            return RouteVerification(verified=False, detail=f"{stale} probes were answered by an older generation than "
                                                            f"{generation}: old nginx workers still serve ({seen})")
        if failures:
            return RouteVerification(verified=False, detail=f"{failures} of {self.cfg.probes} probes got no answer from a version ({seen})")
        stray = set(versions) - allowed
        if stray:
            return RouteVerification(verified=False, detail=f"probes were answered by {', '.join(sorted(stray))}, "
                                                            f"which the {what} routing does not include ({seen})")
        missing = required - set(versions)
        if missing:
            return RouteVerification(verified=False, detail=f"no probe reached {', '.join(sorted(missing))} ({seen})")
        return RouteVerification(verified=True, detail=f"nginx serves generation {generation}; {self.cfg.probes} probes "
                                                       f"answered by {seen}")

    async def verify_shift(self, share: Share) -> RouteVerification:
        text = render_upstream(self.cfg.upstream, self._servers_for(share), f"{self.cfg.candidate_version} gets {share.label}")
        allowed = {self.cfg.stable_version, self.cfg.candidate_version}
        if share.percent >= 100 and (self.cfg.mode == "weights" or share.units == share.total):
            allowed = {self.cfg.candidate_version}
        required = {self.cfg.candidate_version} if self.cfg.mode == "hosts" or share.percent >= 50 else set()
        return await self._verify(text, allowed, required, f"{share.label} step's")

    async def verify_promoted(self) -> RouteVerification:
        text = render_upstream(self.cfg.upstream, [(a, 1) for a in self.cfg.candidate_servers],
                               f"{self.cfg.candidate_version} promoted; {self.cfg.stable_version} retired")
        return await self._verify(text, {self.cfg.candidate_version}, {self.cfg.candidate_version}, "promoted")

    async def verify_restored(self, snapshot: RouteSnapshot) -> RouteVerification:
        versions = set(snapshot.data.get("versions") or [])
        return await self._verify(snapshot.data["text"], versions, versions if len(versions) == 1 else set(), "restored")
