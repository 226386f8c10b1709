"""The academy's HTTP router and CLI over the same API: access rules, a trainee's journey, public verification."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from chainsleuth.academy.service import Academy
from chainsleuth.cli.academy_cmd import app as academy_cli
from tests.academy.conftest import COHORT, PASSWORD, SECRET, complete_course, perfect_answer


def _login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_a_trainee_solves_phone_theft_and_gets_a_verifiable_certificate(client: TestClient, academy: Academy) -> None:
    assert client.get("/api/academy/courses").status_code == 401
    alice, bob = _login(client, "alice"), _login(client, "bob")
    teacher, other = _login(client, "instructor"), _login(client, "other-teacher")
    module = client.get("/api/academy/courses/blockchain-investigations/modules/tracing-and-taint", headers=alice)
    assert module.status_code == 200
    assert "<table>" in module.json()["html"]
    assert "answer" not in module.json()["quiz"][0]
    quiz = client.post(
        f"/api/academy/cohorts/{COHORT}/quizzes/tracing-and-taint",
        headers=alice,
        json={"answers": {"haircut": 1.5, "fifo": "3", "poison": "c", "policy-choice": ["a", "b", "d"]}},
    )
    assert quiz.status_code == 200
    assert quiz.json()["percent"] == 100
    start = client.post(f"/api/academy/cohorts/{COHORT}/exercises/phone-theft/start", headers=alice).json()
    assert start["submission_token"] == academy.token(COHORT, "alice")
    assert start["given"]["victim_address"]
    answer = perfect_answer(academy, "alice", "phone-theft")
    graded = client.post(f"/api/academy/cohorts/{COHORT}/exercises/phone-theft/submissions", headers=alice,
                         json={"answer": answer})  # fmt: skip
    assert graded.status_code == 200
    assert graded.json()["score"] == 100
    # bob sends alice's answer as his own: refused with the reason
    client.post(f"/api/academy/cohorts/{COHORT}/exercises/phone-theft/start", headers=bob)
    refused = client.post(f"/api/academy/cohorts/{COHORT}/exercises/phone-theft/submissions", headers=bob,
                          json={"answer": answer})  # fmt: skip
    assert refused.status_code == 403
    assert refused.json()["error"] == "answer_refused"
    assert "another trainee" in refused.json()["message"]
    # instructors only for their cohort
    assert client.get(f"/api/academy/cohorts/{COHORT}/progress", headers=other).status_code == 403
    assert client.get(f"/api/academy/cohorts/{COHORT}/progress", headers=alice).status_code == 403
    rows = client.get(f"/api/academy/cohorts/{COHORT}/progress", headers=teacher).json()
    assert {r["trainee"]: r["exercises"]["phone-theft"]["score"] for r in rows}["alice"] == 100
    # the rest of the course, then the certificate
    assert client.post(f"/api/academy/cohorts/{COHORT}/certificates/alice", headers=teacher).status_code == 403
    complete_course(academy, "alice", skip=("phone-theft",))
    issued = client.post(f"/api/academy/cohorts/{COHORT}/certificates/alice", headers=teacher)
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]
    pdf = client.get(f"/api/academy/cohorts/{COHORT}/trainees/alice/certificate.pdf", headers=alice)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert client.get(f"/api/academy/cohorts/{COHORT}/trainees/alice/certificate.pdf", headers=bob).status_code == 403
    public = client.get(f"/api/academy/verify/{code}").json()  # no login needed
    assert public["valid"]
    assert public["holder"] == "Alice Ångström"
    tampered = code[:-1] + ("A" if code[-1] != "A" else "B")
    assert not client.get(f"/api/academy/verify/{tampered}").json()["valid"]


def test_cli_courses_quiz_offline_grading_and_certificates(
    academy: Academy, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the CLI is exercised once; the API it calls is tested on both databases")
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(academy.dir.parent))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", str(engine.url))
    monkeypatch.setenv("CHAINSLEUTH_SECRET_KEY", SECRET)
    runner = CliRunner()
    listed = runner.invoke(academy_cli, ["courses", "list"])
    assert listed.exit_code == 0
    assert "tracing-and-taint" in listed.stdout
    answers = tmp_path / "quiz.yaml"
    answers.write_text("utxo-spend: b\naccount-model: [a, b, c]\nconfirmations: 6\n")
    graded = runner.invoke(academy_cli, ["quiz", "grade", "chains", "--answers", str(answers)])
    assert graded.exit_code == 0
    assert json.loads(graded.stdout)["percent"] == 100
    generated = runner.invoke(academy_cli, ["worlds", "generate", COHORT])
    assert generated.exit_code == 0
    assert all(r["reused"] for r in json.loads(generated.stdout))
    folder = tmp_path / "answers" / "bob"
    folder.mkdir(parents=True)
    (folder / "structuring.json").write_text(json.dumps(perfect_answer(academy, "bob", "structuring")))
    offline = runner.invoke(academy_cli, ["grade-offline", COHORT, "--answers", str(tmp_path / "answers")])
    assert offline.exit_code == 0
    assert json.loads(offline.stdout)[0]["score"] == 100
    complete_course(academy, "alice")
    pdf = tmp_path / "alice.pdf"
    issued = runner.invoke(academy_cli, ["certificate", "issue", COHORT, "alice", "--out", str(pdf)])
    assert issued.exit_code == 0, issued.output
    code = json.loads(issued.stdout)["code"]
    assert pdf.read_bytes().startswith(b"%PDF")
    assert runner.invoke(academy_cli, ["certificate", "verify", code]).exit_code == 0
    assert (
        runner.invoke(
            academy_cli, ["certificate", "verify", code[:-2] + ("QQ" if code[-2:] != "QQ" else "RR")]
        ).exit_code
        == 1
    )
