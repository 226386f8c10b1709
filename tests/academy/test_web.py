"""The academy's pages (both databases): a trainee reads a module, passes its quiz, solves the phone-theft
exercise with a hint, another trainee's answer is refused, the instructor issues the certificate, the trainee
downloads it and anyone can verify it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from chainsleuth.academy.service import Academy
from tests.academy.conftest import COHORT, PASSWORD, complete_course, perfect_answer
from tests.web.helpers import csrf_from

_FIELD = re.compile(r'<form method="post"[^>]*>\s*<input type="hidden" name="csrf_token" value="([^"]+)"')


def form_csrf(html: str) -> str:
    """The CSRF token of the first form on the page (its hidden field, as a browser would send it)."""
    found = _FIELD.search(html)
    assert found is not None, "no CSRF field in a form"
    return found.group(1)


def _login(client: TestClient, username: str) -> None:
    client.cookies.clear()
    token = csrf_from(client.get("/login").text)
    answer = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token,
                                         "next": "/academy"}, follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text


def test_trainee_journey_through_the_pages(client: TestClient, academy: Academy) -> None:
    _login(client, "alice")
    home = client.get("/academy")
    assert home.status_code == 200
    assert "Trace the stolen USD 350,000" in home.text
    module = client.get(f"/academy/modules/tracing-and-taint?cohort={COHORT}")
    assert "<table>" in module.text
    assert 'name="q.haircut"' in module.text
    quiz = client.post(
        "/academy/modules/tracing-and-taint/quiz",
        data={"csrf_token": form_csrf(module.text), "cohort": COHORT, "q.haircut": "1.5", "q.fifo": "3",
              "q.poison": "c", "q.policy-choice": ["a", "b", "d"]},
    )  # fmt: skip
    assert quiz.status_code == 200
    assert "Quiz: 100.0 %" in quiz.text
    page = client.get(f"/academy/cohorts/{COHORT}/exercises/phone-theft")
    started = client.post(f"/academy/cohorts/{COHORT}/exercises/phone-theft/start",
                          data={"csrf_token": form_csrf(page.text)})  # fmt: skip
    assert started.status_code == 200
    assert academy.token(COHORT, "alice") in started.text
    hinted = client.post(f"/academy/cohorts/{COHORT}/exercises/phone-theft/hint",
                         data={"csrf_token": form_csrf(started.text)})  # fmt: skip
    assert 'id="hint"' in hinted.text
    answer = perfect_answer(academy, "alice", "phone-theft")
    form = {"csrf_token": form_csrf(hinted.text), "token": answer["token"], "accounts": ", ".join(answer["accounts"]),
            "amount_usd": str(answer["amount_usd"]), "path": "\n".join(answer["path"])}  # fmt: skip
    graded = client.post(f"/academy/cohorts/{COHORT}/exercises/phone-theft/submit", data=form)
    assert graded.status_code == 200
    assert re.search(r"Result: 90(\.0)? / 100", graded.text)
    assert answer["accounts"][0] in graded.text  # the explanation

    _login(client, "bob")
    page = client.get(f"/academy/cohorts/{COHORT}/exercises/phone-theft")
    started = client.post(f"/academy/cohorts/{COHORT}/exercises/phone-theft/start",
                          data={"csrf_token": form_csrf(page.text)})  # fmt: skip
    copied = {**form, "csrf_token": form_csrf(started.text), "token": academy.token(COHORT, "bob")}
    refused = client.post(f"/academy/cohorts/{COHORT}/exercises/phone-theft/submit", data=copied)
    assert refused.status_code == 403
    assert "another trainee" in refused.text
    assert client.get("/academy/teach").status_code == 403

    complete_course(academy, "alice", skip=("phone-theft",))
    _login(client, "instructor")
    cohort = client.get(f"/academy/teach/{COHORT}")
    assert "Alice" in cohort.text
    issued = client.post(f"/academy/teach/{COHORT}/certificates/alice", data={"csrf_token": form_csrf(cohort.text)})
    assert issued.status_code == 200
    assert "Certificate issued to alice" in issued.text
    _login(client, "alice")
    home = client.get("/academy")
    code = re.search(r"code <span class=\"mono\">([^<]+)</span>", home.text)
    assert code is not None
    pdf = client.get(f"/academy/cohorts/{COHORT}/certificate.pdf")
    assert pdf.content.startswith(b"%PDF")
    client.cookies.clear()
    public = client.get("/academy/verify", params={"code": code.group(1)})
    assert "Valid:" in public.text
    assert "Alice Ångström" in public.text
    issued_code = code.group(1)
    tampered = issued_code[:-1] + ("A" if issued_code[-1] != "A" else "B")
    assert "Not valid" in client.get("/academy/verify", params={"code": tampered}).text
