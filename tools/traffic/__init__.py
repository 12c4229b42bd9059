"""Traffic routers: how a rollout moves traffic between the stable version and the candidate.

One interface (tools/traffic/base.py), one module per kind of router: nginx
weighted upstreams, AWS ALB weighted target groups, Kubernetes replicas
through typed kubectl actions. The rollout engine (agents/delivery/) never
knows which one it drives.
"""
