"""Build a router again from the configuration a deployment recorded (a manual rollback, hours later)."""

from __future__ import annotations

from typing import Any

from tools.traffic.base import RouterError, TrafficRouter


def router_from_config(config: dict[str, Any], *, kubernetes_executor: Any = None) -> TrafficRouter:
    kind = config.get("kind")
    if kind == "nginx":
        from tools.traffic.nginx import NginxRouter, NginxRouterConfig

        return NginxRouter(NginxRouterConfig.model_validate(config))
    if kind == "alb":
        from tools.traffic.alb import AlbRouter, AlbRouterConfig

        return AlbRouter(AlbRouterConfig.model_validate(config))
    if kind == "kubernetes":
        from tools.traffic.kubernetes import KubernetesRouter, KubernetesRouterConfig

        if kubernetes_executor is None:
            raise RouterError("the Kubernetes router acts only through the catalogue's typed kubectl actions, "
                              "and no action executor is wired for it yet")
        return KubernetesRouter(KubernetesRouterConfig.model_validate(config), kubernetes_executor)
    raise RouterError(f"the deployment recorded an unknown router {kind!r}: it cannot be rolled back from here")
