"""The eight AMLworld laundering patterns (Altman et al., 2023) among ring-controlled ethereum addresses and
accounts at our exchange: fan-in, fan-out, cycle, scatter-gather, gather-scatter, bipartite, stack, random.

Each pattern is a small directed graph. Nodes are either external addresses of the laundering ring or our
customers (``c:`` nodes: receiving means a USDT deposit to their deposit address, sending means a withdrawal,
or an internal transfer when the receiver is also a customer). Edges run in order, one step apart, and each
node sends its whole current balance split evenly over its remaining outgoing edges.
"""

from __future__ import annotations

from collections import Counter

from chainsleuth.world.account import GWEI
from chainsleuth.world.ledger import cid
from chainsleuth.world.truth import Incident
from chainsleuth.world.typologies.common import DAY, HOUR, Ctx, deposit_token, fund_eth

USDT = 10**6

#: pattern name -> (edges, funded source nodes); customer nodes start with ``c``.
PATTERNS: dict[str, tuple[list[tuple[str, str]], list[str]]] = {
    "fan_in": ([(f"s{i}", "c0") for i in range(5)], [f"s{i}" for i in range(5)]),
    "fan_out": ([("src", "c0")] + [("c0", f"d{i}") for i in range(5)], ["src"]),
    "cycle": ([("src", "c0"), ("c0", "x1"), ("x1", "x2"), ("x2", "c1"), ("c1", "c0")], ["src"]),
    "scatter_gather": ([("src", f"m{i}") for i in range(4)] + [(f"m{i}", "c0") for i in range(4)], ["src"]),
    "gather_scatter": (
        [(f"s{i}", "hub") for i in range(4)] + [("hub", f"c{i}") for i in range(3)],
        [f"s{i}" for i in range(4)],
    ),
    "bipartite": ([(f"a{i}", f"c{j}") for i in range(3) for j in range(3)], [f"a{i}" for i in range(3)]),
    "stack": (
        [(f"a{i}", f"b{j}") for i in range(3) for j in range(3)]
        + [(f"b{i}", f"c{j}") for i in range(3) for j in range(3)],
        [f"a{i}" for i in range(3)],
    ),
    "random": ([], ["n0", "n1"]),
}


def _random_edges(ctx: Ctx) -> list[tuple[str, str]]:
    """A random connected DAG over six ring addresses that ends in two customers."""
    rng = ctx.world.rng
    nodes = ["n0", "n1", "n2", "n3", "n4", "n5"]
    edges = [("n0", "n2"), ("n1", "n2")]
    for i in range(3, 6):
        for j in rng.choice(i, size=int(rng.integers(1, 3)), replace=False):
            edges.append((nodes[int(j)], nodes[i]))
    edges.sort(key=lambda e: int(e[1][1:]))
    return [*edges, ("n5", "c0"), ("n4", "c1")]


def aml_patterns(ctx: Ctx) -> None:
    """Install one incident per pattern, funded from a darknet vendor's market payouts."""
    w = ctx.world
    ring = w.registry.add("scam_operator", "laundering ring (AMLworld patterns)", "money_laundering", illicit=True)
    names = list(PATTERNS)
    for k, name in enumerate(names):
        edges, sources = PATTERNS[name]
        if name == "random":
            edges = _random_edges(ctx)
        inc = w.truth.new(
            "aml_pattern",
            f"AMLworld '{name.replace('_', '-')}' laundering pattern through ring "
            "addresses and accounts at our exchange.",
            pattern=name,
        )
        inc.perpetrators.append(ring)
        _install(ctx, inc, ring, edges, sources, ctx.day(0.15 + 0.09 * k, 6.0))


def _install(ctx: Ctx, inc: Incident, ring: int, edges: list[tuple[str, str]], sources: list[str], t0: int) -> None:
    w = ctx.world
    nodes = sorted({n for e in edges for n in e})
    customers = {
        n: ctx.customer(inc, "launderer", t0 - int(w.rng.integers(20, 90)) * DAY, occupation=job)
        for n, job in zip(
            [n for n in nodes if n.startswith("c")], ("student", "retail worker", "consultant"), strict=False
        )
    }
    addresses = {n: w.eth_address(ring) for n in nodes if not n.startswith("c")}
    out_left = Counter(src for src, _ in edges)
    market = w.services["market"]

    def fund(t: int) -> None:
        for n in sources:
            usd = float(w.rng.uniform(30_000, 90_000))
            inc.eth(t, market.pay_usdt(t, addresses[n], int(usd * USDT)))
            inc.amount_usd += usd
        for address in addresses.values():
            fund_eth(t, ctx, inc, address, gwei=GWEI // 20, exchange=0)

    def step(t: int, src: str, dst: str) -> None:
        left = out_left[src]
        out_left[src] -= 1
        if src in customers:
            acct = w.cust_account[customers[src]]
            units = w.balance(acct, "USDT") // max(1, left)
            if units <= 0:
                return
            if dst in customers:
                inc.event(w.internal(t, acct, w.cust_account[customers[dst]], "USDT", units))
            else:
                ev = inc.event(w.withdraw(t, acct, "USDT", units, addresses[dst]))
                if ev is not None:
                    inc.eth(t, ev.tx_hash)
            return
        units = int(w.eth.usdt[addresses[src]]) // max(1, left)
        if units <= 0:
            return
        if dst in customers:
            deposit_token(t, ctx, inc, addresses[src], customers[dst], units)
        else:
            inc.eth(t, w.eth.send_token(t, addresses[src], addresses[dst], units))

    w.at(t0 - DAY, fund)
    t = t0
    for src, dst in edges:
        w.at(t, step, src, dst)
        # customers can only send what has been credited: give their deposits a day to be booked
        t += DAY if dst in customers else 4 * HOUR
    nodes_out = {n: cid(c) for n, c in customers.items()}
    nodes_out.update({n: w.eth_book.text(a) for n, a in addresses.items()})
    inc.details["nodes"] = dict(sorted(nodes_out.items()))
