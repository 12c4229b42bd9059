"""A tiny HTTP service with Prometheus metrics, run in two versions behind nginx by the rollout demo and tests."""
