from __future__ import annotations

from chainsleuth.world.ids import P2PKH, P2SH, P2WPKH, AddressBook, Hasher, base58check, segwit_v0_address


def test_base58check_known_vector() -> None:
    assert base58check(0, bytes(20)) == "1111111111111111111114oLvT2"


def test_bech32_known_vector() -> None:
    # BIP-173 example
    program = bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")
    assert segwit_v0_address(program) == "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


def test_address_book_types_and_determinism() -> None:
    a = AddressBook("bitcoin", Hasher(3))
    b = AddressBook("bitcoin", Hasher(3))
    for kind in (P2PKH, P2SH, P2WPKH):
        a.new(1, "personal", kind)
        b.new(1, "personal", kind)
    texts = [a.text(i) for i in range(3)]
    assert texts == [b.text(i) for i in range(3)]
    assert texts[0].startswith("1")
    assert texts[1].startswith("3")
    assert texts[2].startswith("bc1q")
    eth = AddressBook("ethereum", Hasher(3))
    eth.new(1, "personal")
    text = eth.text(0)
    assert text.startswith("0x")
    assert len(text) == 42
    assert text == text.lower()


def test_address_book_grows() -> None:
    book = AddressBook("ethereum", Hasher(1), capacity=2)
    for i in range(10):
        book.new(i, "deposit")
    assert book.count == 10
    assert int(book.owner[9]) == 9
    assert int(book.tag[9]) == -1
