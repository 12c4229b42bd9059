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
    # complaints relayed in a person's words, and asking someone to look, are trouble; a look with a change asked is a request
    ("Customers say the receipts stopped arriving this morning. Can someone look at the mailer in prod?", "diagnostician"),
    ("half the users get kicked out right after they log in since 9, can somebody look?", "diagnostician"),
    ("이미지 올리면 썸네일이 한참 뒤에 생기거나 아예 안 생긴다는 문의가 계속 와요", "diagnostician"),
    ("can you take a look at the rds size and bump it one class up", "planner"),
    ("어젯밤 정산 배치가 안 돌았어요. batch2 확인 부탁드려요", "diagnostician"),
    ("payments are flaky since this morning, some customers can't pay", "diagnostician"),
])
def test_classify_text(text, agent):
    assert classify_text(text) == agent


# Questions about a thing's health are incidents, in English and Korean (issue 13); a resource's name never outvotes a symptom.
@pytest.mark.parametrize("text", [
    "What is the issue with payment-processing-worker?",
    "what's wrong with redis?",
    "What is wrong with the checkout deployment",
    "why is checkout-api failing in the shop namespace?",
    "the orders pod keeps restarting",
    "the rds instance is not responding",
    "check what is going on in the shop namespace",
    "payments 상태 확인해줘",
    "api 왜 안 돼?",
    "worker가 계속 재시작돼",
    "결제 서버 응답이 없어",
    "redis is down",
    "eks nodes are NotReady and pods are pending",
    # what a person sees of an expired certificate, in a browser, in English and Korean
    "shop.example.com shows NET::ERR_CERT_DATE_INVALID since 9am",
    "shop.example.com 들어가면 '연결이 비공개로 설정되어 있지 않습니다' 경고가 떠요",
    "api.shop.co.kr 인증서가 만료된 것 같아요",
    # trouble that outweighs the change it blocks, and trouble told as what did not happen
    "스테이징 terraform apply가 계속 실패해요. 어제 network 모듈 정리하는 PR 머지된 뒤부터 그래요. 오늘 RDS max_connections 올려야 하는데 apply가 막혀 있어요.",
    "Nightly DB backups haven't landed in s3://shop-prod-db-backups for the last two nights",
    "12시 반부터 결제가 안 된다는 CS 문의가 계속 들어와요. 결제 API 좀 봐주세요.",
])
def test_health_questions_go_to_the_diagnostician(text):
    assert classify_text(text) == "diagnostician"


@pytest.mark.parametrize("text", [
    "Change the staging database instance class to db.t3.large for the load test next week",
    "can you bump the development MySQL one size up? the migration test suite keeps timing out on it",
    "스테이징 데이터베이스 max_connections 500으로 올려줘",
    "set max_connections to 500 on staging",
    "add one more redis node in production",
    "how many nodes does staging run?",
])
def test_requests_for_changes_stay_with_the_planner(text):
    assert classify_text(text) == "planner"
