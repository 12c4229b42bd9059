"""A local rollout stage: versions of the sample service behind our own nginx, on 127.0.0.1.

The demo and the tests use it the same way: start the stable version behind
nginx, start a candidate (good or faulty), and get the nginx router and the
Prometheus scrape provider for that pair. Every process it starts, it stops.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from samples.sample_service.launch import SampleService, start_sample_service
from tools.rollout_metrics import PrometheusScrapeProvider, ScrapeTarget
from tools.traffic.local_nginx import INSTALL_HINT, LocalNginx, find_nginx
from tools.traffic.nginx import NginxRouter, NginxRouterConfig, render_generation, render_upstream


class NginxMissing(RuntimeError):
    """nginx is not installed; the message says how to install it."""


class LocalStage:
    def __init__(self, stable_version: str = "v1", workdir: Path | None = None):
        if find_nginx() is None:
            raise NginxMissing(INSTALL_HINT)
        self._owns_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="cloud-doctor-stage-"))
        self.services: dict[str, SampleService] = {}
        self.stable = self.start_version(stable_version)
        try:
            self.nginx = LocalNginx.start(self.workdir / "nginx", render_upstream(
                "app", [(self.stable.address, 1)], f"{stable_version} (the stage's first version)"), render_generation(0))
        except BaseException:
            self.stable.stop()
            raise

    @property
    def url(self) -> str:
        return f"{self.nginx.url}/"

    def start_version(self, version: str, *, error_rate: float = 0.0, latency_ms: float = 0.0) -> SampleService:
        service = start_sample_service(version, error_rate=error_rate, latency_ms=latency_ms)
        self.services[version] = service
        return service

    def router(self, candidate: SampleService, *, probes: int = 20) -> NginxRouter:
        return NginxRouter(NginxRouterConfig(
            upstream_file=self.nginx.upstream_file, generation_file=self.nginx.generation_file,
            stable_version=self.stable.version, candidate_version=candidate.version,
            stable_servers=[self.stable.address], candidate_servers=[candidate.address], probe_url=self.url,
            probes=probes, binary=self.nginx.binary, conf=self.nginx.conf, prefix=self.nginx.workdir,
        ))

    def provider(self, candidate: SampleService) -> PrometheusScrapeProvider:
        def target(service: SampleService) -> ScrapeTarget:
            return ScrapeTarget(metrics_url=f"{service.url}/metrics", health_url=f"{service.url}/healthz")

        return PrometheusScrapeProvider({"stable": [target(self.stable)], "canary": [target(candidate)]})

    def promoted(self, candidate: SampleService) -> None:
        """After a promotion the candidate is the stable version; the retired one is stopped."""
        retired, self.stable = self.stable, candidate
        retired.stop()
        self.services.pop(retired.version, None)

    def retire(self, service: SampleService) -> None:
        service.stop()
        self.services.pop(service.version, None)

    def close(self) -> None:
        self.nginx.stop()
        for service in list(self.services.values()):
            service.stop()
        self.services.clear()
        if self._owns_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "LocalStage":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
