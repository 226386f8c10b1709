"""The cast of the world: every actor with an address or an account, and what it really is (ground truth).

People are numerous (one per ordinary customer for their personal wallet, plus the background population),
so they are an index range, not objects: indices ``[0, n_customers)`` are our ordinary customers' personal
wallets, ``[n_customers, n_people)`` the background population, and named entities follow.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from chainsleuth.world.ledger import cid


@dataclass(slots=True)
class Entity:
    """A named row of ground_truth/entities.csv."""

    index: int
    kind: str
    name: str
    category: str
    illicit: bool
    customer_id: str = ""

    @property
    def entity_id(self) -> str:
        return entity_id(self.index)


def entity_id(index: int) -> str:
    return f"X{index:07d}"


class Registry:
    """Entities by index."""

    def __init__(self, n_customers: int, n_background: int) -> None:
        self.n_customers = n_customers
        self.n_people = n_customers + n_background
        self.named: list[Entity] = []

    def add(self, kind: str, name: str, category: str, illicit: bool = False, customer_id: str = "") -> int:
        index = self.n_people + len(self.named)
        self.named.append(Entity(index, kind, name, category, illicit, customer_id))
        return index

    def get(self, index: int) -> Entity:
        return self.named[index - self.n_people]

    def rows(self) -> Iterator[tuple[str, str, str, str, bool, str]]:
        """All entities in index order, as entities.csv rows (streamed: there can be millions of people)."""
        for i in range(self.n_people):
            if i < self.n_customers:
                yield (entity_id(i), "person", f"customer {cid(i)} (own wallet)", "user", False, cid(i))
            else:
                yield (entity_id(i), "person", f"person {i - self.n_customers}", "user", False, "")
        for e in self.named:
            yield (e.entity_id, e.kind, e.name, e.category, e.illicit, e.customer_id)
