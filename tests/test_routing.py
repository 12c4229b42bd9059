"""The supervisor's text classification (no LLM): trouble goes to the diagnostician, infrastructure to the planner."""

import pytest

from graphs.routing import classify_text


@pytest.mark.parametrize("text,agent", [
    ("스테이징 결제 페이지가 가끔 느린 것 같아요", "diagnostician"),
    ("terraform plan이 계속 lock 에러로 실패해요", "diagnostician"),
    ("api 서버 응답이 없어요", "diagnostician"),
    ("the checkout api is returning 502s since the deploy", "diagnostician"),
    ("orders service is down in prod", "diagnostician"),
    ("EKS 노드 수를 2개로 변경", "planner"),
    ("prod RDS 사양이 뭐야?", "planner"),
    ("staging 전체 내려줘", "planner"),
    ("how much does dev cost per month?", "planner"),
    ("double the worker nodes in staging", "planner"),
    ("tear down everything in dev for the weekend to save money", "planner"),
])
def test_classify_text(text, agent):
    assert classify_text(text) == agent
