"""The institutional cast: our exchange, other exchanges, services, mixer, market, bridge, miners, issuer.

Also the genesis: coins and tokens that existed before the simulated period, given to these institutions
(bitcoin: one visible genesis coinbase; ethereum: a genesis allocation listed in manifest.json; USDT: a
visible mint on the first day), and what the public knows about them (TagPack entries).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chainsleuth.world.account import USDT_CONTRACT
from chainsleuth.world.custody import Custodian
from chainsleuth.world.ids import P2PKH, P2SH, P2WPKH
from chainsleuth.world.sim import World
from chainsleuth.world.utxo import Payment, Wallet

BTC = 100_000_000
ETH = 10**9  # gwei
USDT = 10**6

OTHER_EXCHANGES = ("Kestrel Exchange", "Bluefin Markets", "Orbitex", "Satoshi Square", "Northwind Crypto")
SERVICES = (
    ("PayFlow", "payment_processor"),
    ("LuckyDice Casino", "gambling"),
    ("VaultWallet", "wallet_service"),
)


@dataclass
class Bridge:
    """A cross-chain bridge: bitcoin custody wallet, ethereum contract (holding ETH and USDT) and relayer."""

    entity: int
    btc_custody: int
    eth_contract: int
    relayer: int
    wallet: Wallet = field(default_factory=list)


@dataclass
class Cast:
    bridge: Bridge
    miners_btc: list[tuple[int, Wallet]]
    issuer: int
    issuer_eth: int
    treasury_eth: int


def tag(
    world: World,
    pack: str,
    chain: str,
    address: int,
    label: str,
    category: str,
    *,
    abuse: str | None = None,
    confidence: str = "service_data",
    source: str = "",
) -> None:
    """Record a public attribution of an address (written as a TagPack entry)."""
    book = world.btc_book if chain == "bitcoin" else world.eth_book
    world.public_tags.append(
        {
            "pack": pack,
            "chain": chain,
            "address": book.text(address),
            "label": label,
            "category": category,
            "abuse": abuse,
            "confidence": confidence,
            "source": source or f"https://sim.chainsleuth.invalid/{pack}",
        }
    )


def build_cast(world: World) -> Cast:
    """Create the institutions, fund them at genesis and publish their well-known addresses."""
    reg = world.registry
    cfg = world.config
    people = reg.n_people
    ours = reg.add("our_exchange", "Chainsleuth Exchange", "exchange")
    world.our_entity = ours
    world.ours = Custodian(world, ours, P2WPKH, hot_addresses=2)
    for i, name in enumerate(OTHER_EXCHANGES):
        entity = reg.add("exchange", name, "exchange")
        world.other_exchanges.append(Custodian(world, entity, (P2WPKH, P2SH, P2PKH)[i % 3], hot_addresses=1 + i % 2))
    for name, category in SERVICES:
        entity = reg.add("service", name, category)
        world.services[category] = Custodian(world, entity, P2WPKH)
    mixer = reg.add("mixer", "Blender-X", "mixing_service", illicit=True)
    world.services["mixer"] = Custodian(world, mixer, P2WPKH, hot_addresses=3)
    market = reg.add("darknet_market", "Hydrant Market", "market", illicit=True)
    world.services["market"] = Custodian(world, market, P2WPKH)
    b_ent = reg.add("bridge", "CrossLink Bridge", "defi_bridge")
    bridge = Bridge(
        b_ent,
        world.btc_address(b_ent, "custody", P2WPKH),
        world.eth_address(b_ent, "contract"),
        world.eth_address(b_ent, "relayer"),
    )
    miners: list[tuple[int, Wallet]] = []
    for name in ("AntHill Pool", "F3 Pool", "Granite Mining"):
        entity = reg.add("miner", name, "miner")
        miners.append((world.btc_address(entity, "mining", P2WPKH), []))
        world.eth.miners.append(world.eth_address(entity, "mining"))
    world.btc.miners = miners
    issuer = reg.add("service", "Tether-like USDT issuer", "defi_token")
    world.eth.usdt_contract = world.eth_address(issuer, "contract")
    world.eth_book.pin(world.eth.usdt_contract, USDT_CONTRACT)
    world.eth_book.owner[world.eth.zero] = reg.add("service", "zero address (mint and burn)", "defi_token")
    issuer_eth = world.eth_address(issuer, "treasury")
    treasury = world.eth_address(issuer, "treasury")

    # genesis: scale reserves with the population so withdrawals never starve
    ours_btc = int((300 + 0.4 * cfg.n_customers) * BTC)
    other_btc = int((400 + 0.15 * people / len(OTHER_EXCHANGES)) * BTC)
    payments = [Payment(world.ours.btc_cold, ours_btc, world.ours.cold_wallet)]
    for ex in world.other_exchanges:
        payments.append(Payment(ex.btc_cold, other_btc, ex.cold_wallet))
    for svc in world.services.values():
        payments.append(Payment(svc.btc_hot[0], int(200 * BTC + 0.01 * people * BTC), svc.hot_wallet))
    payments.append(Payment(bridge.btc_custody, 2_000 * BTC, bridge.wallet))
    for address, wallet in miners:
        payments.append(Payment(address, 500 * BTC, wallet))
    world.btc.genesis(payments)
    eth = world.eth
    eth.allocate(world.ours.eth_cold, int((5_000 + 6 * cfg.n_customers) * ETH))
    eth.allocate(world.ours.eth_hot, 2_000 * ETH)
    for ex in world.other_exchanges:
        eth.allocate(ex.eth_cold, int((8_000 + 3 * people / len(OTHER_EXCHANGES)) * ETH))
        eth.allocate(ex.eth_hot, 1_000 * ETH)
    for svc in world.services.values():
        eth.allocate(svc.eth_hot, int(2_000 * ETH + 0.2 * people * ETH))
    eth.allocate(bridge.eth_contract, 20_000 * ETH)
    eth.allocate(bridge.relayer, 100 * ETH)
    eth.allocate(issuer_eth, 100 * ETH)
    for miner in eth.miners:
        eth.allocate(miner, 5_000 * ETH)

    # first day: mint USDT and distribute it to the institutions (visible on chain)
    t0 = cfg.start_ts + 60
    holders = [
        world.ours.eth_cold,
        *[ex.eth_cold for ex in world.other_exchanges],
        *[s.eth_hot for s in world.services.values()],
        bridge.eth_contract,
    ]
    per_holder = int((20_000_000 + 1_500 * people + 10_000 * cfg.n_customers) * USDT)

    def mint(t: int) -> None:
        eth.mint(t, issuer_eth, treasury, per_holder * len(holders))
        eth.send_eth(t, issuer_eth, treasury, 20 * ETH)
        for holder in holders:
            eth.send_token(t, treasury, holder, per_holder)

    world.at(t0, mint)
    publish(world, bridge, miners)
    return Cast(bridge, miners, issuer, issuer_eth, treasury)


def publish(world: World, bridge: Bridge, miners: list[tuple[int, Wallet]]) -> None:
    """TagPack entries for what every investigator knows: institutions' hot and cold wallets."""
    reg = world.registry
    for custodian in [world.ours, *world.other_exchanges, *world.services.values()]:
        entity = reg.get(custodian.entity)
        pack = {"mixing_service": "mixers", "market": "darknet_markets"}.get(entity.category, "services")
        if entity.category == "exchange":
            pack = "exchanges"
        abuse = {"mixing_service": "money_laundering", "market": "dark_web"}.get(entity.category)
        for address in custodian.btc_hot:
            tag(world, pack, "bitcoin", address, entity.name, entity.category, abuse=abuse)
        tag(world, pack, "bitcoin", custodian.btc_cold, entity.name, entity.category, abuse=abuse)
        tag(world, pack, "ethereum", custodian.eth_hot, entity.name, entity.category, abuse=abuse)
        if entity.category == "exchange":
            tag(world, pack, "ethereum", custodian.eth_cold, entity.name, entity.category)
    name = reg.get(bridge.entity).name
    tag(world, "bridges", "bitcoin", bridge.btc_custody, name, "defi_bridge", confidence="ledger_immanent")
    tag(world, "bridges", "ethereum", bridge.eth_contract, name, "defi_bridge", confidence="ledger_immanent")
    for address, _ in miners:
        owner = reg.get(int(world.btc_book.owner[address]))
        tag(world, "miners", "bitcoin", address, owner.name, "miner", confidence="ledger_immanent")
    for address in world.eth.miners:
        owner = reg.get(int(world.eth_book.owner[address]))
        tag(world, "miners", "ethereum", address, owner.name, "miner", confidence="ledger_immanent")
