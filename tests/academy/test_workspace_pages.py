"""The trainee's workspace and the instructor's forms over HTTP (both databases): a trainee without
``chain.read`` traces and looks up accounts in their own sandbox only; an instructor creates a cohort, enrols,
sees refused submissions and revokes a certificate."""

from __future__ import annotations

import contextlib

from fastapi.testclient import TestClient

from chainsleuth.academy.grading import AnswerRefusedError
from chainsleuth.academy.service import Academy
from tests.academy.conftest import COHORT, complete_course, key_of
from tests.academy.test_web import _login, form_csrf

WS = f"/academy/cohorts/{COHORT}/workspace"


def test_a_trainee_works_the_phone_theft_in_their_workspace(client: TestClient, academy: Academy) -> None:
    key = key_of(academy.dir, "alice", "phone-theft")
    victim = key["given"]["victim_address"]
    assert client.get(WS, follow_redirects=False).status_code in (302, 303, 401)
    _login(client, "alice")
    # the platform's own pages do not know the sandbox (and police trainees lack chain.read anyway)
    assert client.get("/chain/bitcoin/address/" + victim).status_code in (403, 404)
    traced = client.get(f"{WS}/trace", params={"chain": "bitcoin", "target": victim, "policy": "poison"})
    assert traced.status_code == 200
    assert key["accounts"][0] in traced.text
    assert key["path"][1] in traced.text
    address = client.get(f"{WS}/address", params={"chain": "bitcoin", "address": victim})
    assert address.status_code == 200
    assert 'id="exposure"' in address.text
    assert 'id="cluster"' in address.text
    account = client.get(f"{WS}/accounts", params={"q": key["accounts"][0]})
    assert 'id="account-panel"' in account.text
    assert "deposit" in account.text
    assert "structuring-below-threshold" in client.get(f"{WS}/alerts").text
    bad = client.get(f"{WS}/trace", params={"chain": "bitcoin", "target": victim, "policy": "magic"})
    assert bad.status_code == 400
    assert "policy must be" in bad.text
    # bob's world is not reachable from alice's session, and bob's victim is unknown in hers
    bob_victim = key_of(academy.dir, "bob", "phone-theft")["given"]["victim_address"]
    other = client.get(f"{WS}/address", params={"chain": "bitcoin", "address": bob_victim})
    assert other.status_code == 404
    assert client.get("/academy/cohorts/other-cohort/workspace").status_code == 404


def test_instructor_forms(client: TestClient, academy: Academy) -> None:
    complete_course(academy, "alice")
    academy.start_exercise(COHORT, "bob", "phone-theft")
    with contextlib.suppress(AnswerRefusedError):  # the refusal is what this test looks for on the page
        academy.submit(COHORT, "bob", "phone-theft", {"token": academy.token(COHORT, "alice")})
    _login(client, "other-teacher")
    teach = client.get("/academy/teach")
    created = client.post(
        "/academy/teach",
        data={"csrf_token": form_csrf(teach.text), "name": "c2", "title": "Cohort two"},
        follow_redirects=False,
    )
    assert created.status_code == 303
    page = client.get(f"/academy/teach/{COHORT}")
    assert page.status_code == 403  # not their cohort
    _login(client, "instructor")
    page = client.get(f"/academy/teach/{COHORT}")
    assert "another trainee" in page.text  # bob's refused submission is visible
    token = form_csrf(page.text)
    enrolled = client.post(
        f"/academy/teach/{COHORT}/enrolments",
        data={"csrf_token": token, "trainee": "carol", "display_name": "Carol"},
        follow_redirects=False,
    )
    assert enrolled.status_code == 303
    assert "carol" in [t["trainee"] for t in academy.trainees(COHORT)]
    no_csrf = client.post(f"/academy/teach/{COHORT}/enrolments", data={"trainee": "dave", "display_name": "D"})
    assert no_csrf.status_code == 403
    academy.issue_certificate(COHORT, "alice", issued_by="instructor")
    code = academy.certificate_of(COHORT, "alice")["code"]
    revoked = client.post(
        f"/academy/teach/{COHORT}/certificates/alice/revoke",
        data={"csrf_token": token, "reason": "exam irregularity"},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert academy.verify_certificate(code).reason == "revoked"
