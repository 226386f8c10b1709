"""ActorPack parsing, validation with file and line, and export."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from chainsleuth.chain.attribution.actorpack import parse_actorpack, write_actorpack
from chainsleuth.errors import MalformedFileError

WritePack = Callable[[str, str], Path]

ACTORS = """\
title: Test actors
creator: Test Team
description: Two actors
actors:
- id: huobi
  uri: https://www.huobi.com
  label: Huobi
  lastmod: 2024-01-01
  categories: [exchange]
  jurisdictions: [SC, CN]
  context:
    twitter_handle: HuobiGlobal
    uris: [https://www.huobi.com]
- id: lazarus
  uri: https://en.wikipedia.org/wiki/Lazarus_Group
  label: Lazarus Group
  lastmod: 2024-01-01
  categories: [perpetrator, hacking]
  jurisdictions: [KP]
  aliases: [APT38]
"""


def test_actors_parse_with_their_categories_jurisdictions_and_context(write_pack: WritePack) -> None:
    pack = parse_actorpack(write_pack("a-actorpack.yaml", ACTORS))
    assert [actor.id for actor in pack.actors] == ["huobi", "lazarus"]
    huobi, lazarus = pack.actors
    assert huobi.categories == ("exchange",)
    assert huobi.jurisdictions == ("SC", "CN")
    assert huobi.context is not None
    assert "HuobiGlobal" in huobi.context
    assert lazarus.aliases == ("APT38",)
    assert lazarus.line == 14


@pytest.mark.parametrize(
    ("replace", "by", "line", "words"),
    [
        ("categories: [exchange]", "categories: [exchnage]", 9, "unknown concept"),
        ("jurisdictions: [KP]", "jurisdictions: [XX]", 19, "unknown country"),
        ("  label: Huobi\n", "", 5, "'label'"),
        ("  aliases: [APT38]", "  aliases: APT38", 20, "list"),
        ("  aliases: [APT38]", "  colour: red", 20, "not allowed"),
    ],
)
def test_malformed_actorpacks_name_file_and_line(
    write_pack: WritePack, replace: str, by: str, line: int, words: str
) -> None:
    path = write_pack("bad-actorpack.yaml", ACTORS.replace(replace, by, 1))
    with pytest.raises(MalformedFileError) as caught:
        parse_actorpack(path)
    assert caught.value.path == str(path)
    assert caught.value.line == line, str(caught.value)
    assert words in str(caught.value)


def test_actorpack_round_trip(write_pack: WritePack, tmp_path: Path) -> None:
    pack = parse_actorpack(write_pack("a-actorpack.yaml", ACTORS))
    out = write_actorpack(tmp_path / "out-actorpack.yaml", title=pack.title, creator=pack.creator, actors=pack.actors)
    again = parse_actorpack(out)
    assert [actor.__dict__ | {"line": None} for actor in again.actors] == [
        actor.__dict__ | {"line": None} for actor in pack.actors
    ]
