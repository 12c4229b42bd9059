"""A local rollout stage for tests: the sample service v1 behind our own nginx (skips where nginx is absent)."""

from __future__ import annotations

import pytest

from agents.delivery.stage import LocalStage, NginxMissing


@pytest.fixture
def stage(tmp_path):
    try:
        with LocalStage("v1", workdir=tmp_path / "stage") as stage:
            yield stage
    except NginxMissing as exc:
        pytest.skip(str(exc))
