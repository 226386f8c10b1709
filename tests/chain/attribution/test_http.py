"""Attribution and clustering administration over HTTP (SQLite and PostgreSQL): pack and OFAC uploads, exports
that validate and re-import identically, clustering runs and quality, refusals, upload limits and audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from chainsleuth.chain.attribution.actorpack import parse_actorpack
from chainsleuth.chain.attribution.tagpack import parse_tagpack
from chainsleuth.config import Settings
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.audit import AuditEntry
from tests.web.helpers import loaded_world, password_of, web_client

from .conftest import OFAC, SMALL_PACK, require_shared
from .test_actorpack import ACTORS

UPLOAD_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def loaded(
    module_database_url: str, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Engine]]:
    with loaded_world(tiny_world, module_database_url, tmp_path_factory.mktemp("attribution-http"),
                      max_upload_bytes=UPLOAD_LIMIT) as world:  # fmt: skip
        yield world


@pytest.fixture(scope="module")
def client(loaded: tuple[Settings, Engine], tiny_world: Path) -> Iterator[TestClient]:
    with web_client(*loaded, tiny_world) as test_client:
        yield test_client


def _login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/token", data={"username": username, "password": password_of(username)})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _audited(engine: Engine, action: str) -> list[AuditEntry]:
    with session_scope(engine) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_import_packs_then_export_actorpack_validates_and_reimports_identically(
    client: TestClient, loaded: tuple[Settings, Engine], tmp_path: Path
) -> None:
    senior = _login(client, "senior")
    files = [("files", ("small.yaml", SMALL_PACK.encode(), "application/yaml")),
             ("files", ("test-actorpack.yaml", ACTORS.encode(), "application/yaml"))]  # fmt: skip
    response = client.post("/api/attribution/packs", files=files, headers=senior)
    assert response.status_code == 201, response.text
    reports = {r["kind"]: r for r in response.json()["reports"]}
    assert reports["actorpack"]["imported"] == 2
    assert reports["tagpack"]["imported"] == 3
    assert reports["tagpack"]["uri"] == "upload:small.yaml"
    again = client.post("/api/attribution/packs", files=files, headers=senior).json()["reports"]
    assert {r["status"] for r in again} == {"unchanged"}
    assert len(_audited(loaded[1], "tags.import")) == 4

    exported = client.get("/api/attribution/export/actorpack", headers=_login(client, "analyst"))
    assert exported.status_code == 200, exported.text
    assert "attachment" in exported.headers["content-disposition"]
    path = tmp_path / "round-actorpack.yaml"
    path.write_bytes(exported.content)
    pack = parse_actorpack(path)  # validates against the ActorPack schema and the taxonomies
    original = parse_actorpack(tmp_path.joinpath("orig-actorpack.yaml"), content=ACTORS.encode())
    assert [a.__dict__ | {"line": None} for a in pack.actors] == [a.__dict__ | {"line": None} for a in original.actors]
    upload = [("files", ("round-actorpack.yaml", exported.content, "application/yaml"))]
    reimported = client.post("/api/attribution/packs", headers=senior, files=upload)
    assert reimported.status_code == 201, reimported.text
    assert reimported.json()["reports"][0]["imported"] == 2
    assert client.get("/api/attribution/export/actorpack", headers=senior).content.count(b"- id:") == 2
    assert _audited(loaded[1], "actorpack.export")

    tags = client.get("/api/attribution/export/tagpack", params={"origin": "tagpack"}, headers=senior)
    assert tags.status_code == 200
    tag_path = tmp_path / "round.yaml"
    tag_path.write_bytes(tags.content)
    labels = {t.label for t in parse_tagpack(tag_path).tags}
    assert {"Huobi.com", "Kraken.com", "myelherwallel.com"} <= labels
    listed = client.get("/api/attribution/packs", headers=senior).json()["packs"]
    assert {"upload:small.yaml", "upload:test-actorpack.yaml"} <= {p["uri"] for p in listed}


def test_malformed_pack_names_file_and_line_and_writes_nothing(client: TestClient) -> None:
    senior = _login(client, "senior")
    bad = SMALL_PACK.replace("category: exchange\n  actor: kraken", "category: exchnage\n  actor: kraken")
    files = [("files", ("good.yaml", SMALL_PACK.replace("Small", "Other").encode(), "application/yaml")),
             ("files", ("bad.yaml", bad.encode(), "application/yaml"))]  # fmt: skip
    response = client.post("/api/attribution/packs", files=files, headers=senior)
    assert response.status_code == 422, response.text
    assert "bad.yaml" in response.text
    assert "exchnage" in response.text
    packs = client.get("/api/attribution/packs", headers=senior).json()["packs"]
    assert "upload:good.yaml" not in {p["uri"] for p in packs}


def test_uploads_beyond_the_limit_are_refused(client: TestClient) -> None:
    senior = _login(client, "senior")
    huge = SMALL_PACK.encode() + b"#" * (UPLOAD_LIMIT + 1)
    response = client.post("/api/attribution/packs", files=[("files", ("huge.yaml", huge))], headers=senior)
    assert response.status_code == 413, response.text


def test_ofac_upload(client: TestClient, loaded: tuple[Settings, Engine]) -> None:
    require_shared()
    senior = _login(client, "senior")
    xbt = (OFAC / "sanctioned_addresses_XBT.txt").read_bytes()
    response = client.post("/api/attribution/ofac", headers=senior, data={"list_date": "2024-05-01"},
                           files=[("files", ("sanctioned_addresses_XBT.txt", xbt))])  # fmt: skip
    assert response.status_code == 201, response.text
    (report,) = response.json()["reports"]
    assert report["kind"] == "ofac"
    assert report["imported"] == len([line for line in xbt.decode().splitlines() if line.strip()])
    assert _audited(loaded[1], "tags.import_ofac")
    wrong = client.post("/api/attribution/ofac", headers=senior, files=[("files", ("list.txt", xbt))])
    assert wrong.status_code == 422
    assert "sanctioned_addresses_" in wrong.text
    bad_date = client.post("/api/attribution/ofac", headers=senior, data={"list_date": "May 1st"},
                           files=[("files", ("sanctioned_addresses_XBT.txt", xbt))])  # fmt: skip
    assert bad_date.status_code == 422


def test_cluster_run_and_quality(client: TestClient, loaded: tuple[Settings, Engine]) -> None:
    admin = _login(client, "senior")
    run = client.post("/api/attribution/clusters/bitcoin/run", json={"full": True}, headers=admin)
    assert run.status_code == 200, run.text
    assert run.json()["mode"] == "full"
    assert run.json()["clusters"] > 0
    assert _audited(loaded[1], "cluster.run")
    bad = client.post("/api/attribution/clusters/bitcoin/run", json={"change": ["astrology"]}, headers=admin)
    assert bad.status_code == 422
    assert "astrology" in bad.text
    quality = client.post("/api/attribution/clusters/quality", params={"chain": "bitcoin"}, headers=admin)
    assert quality.status_code == 200, quality.text
    figures = quality.json()["bitcoin"]
    assert figures["clustering"]["pairwise_precision"] >= 0.99
    assert figures["clustering"]["pairwise_recall"] > figures["singletons_baseline"]["pairwise_recall"]
    assert _audited(loaded[1], "cluster.quality")
    unknown = client.post("/api/attribution/clusters/dogecoin/run", json={}, headers=admin)
    assert unknown.status_code == 404


def test_roles_are_refused_and_refusals_audited(client: TestClient, loaded: tuple[Settings, Engine]) -> None:
    pack = [("files", ("small.yaml", SMALL_PACK.encode(), "application/yaml"))]
    for user in ("auditor", "leresponse", "officer"):
        headers = _login(client, user)
        assert client.post("/api/attribution/packs", files=pack, headers=headers).status_code == 403
        assert client.post("/api/attribution/clusters/bitcoin/run", json={}, headers=headers).status_code == 403
    assert client.get("/api/attribution/export/actorpack", headers=_login(client, "officer")).status_code == 403
    assert client.post("/api/attribution/packs", files=pack).status_code == 401
    assert _audited(loaded[1], "access.refused")


def test_exported_tagpack_yaml_is_a_mapping(client: TestClient) -> None:
    body = client.get("/api/attribution/export/tagpack", headers=_login(client, "analyst")).content
    document = yaml.safe_load(body)
    assert {"title", "creator", "tags"} <= set(document)
