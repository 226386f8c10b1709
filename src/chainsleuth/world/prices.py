"""Daily reference prices (USD): geometric random walks for BTC and ETH, near-pegs for USDT and EUR."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import numpy.typing as npt

from chainsleuth.world.ledger import DECIMALS


class Prices:
    """One USD price per asset and simulated day."""

    def __init__(self, rng: np.random.Generator, start: dt.date, days: int) -> None:
        self.start = start
        self.days = days
        steps_btc = rng.normal(0.0005, 0.03, days)
        steps_eth = 0.8 * steps_btc + rng.normal(0.0, 0.02, days)
        self.table: dict[str, npt.NDArray[np.float64]] = {
            "BTC": np.round(42_000 * np.exp(np.cumsum(steps_btc)), 2),
            "ETH": np.round(2_300 * np.exp(np.cumsum(steps_eth)), 2),
            "USDT": np.round(1.0 + rng.normal(0, 0.0005, days), 4),
            "USD": np.ones(days),
            "EUR": np.round(1.09 * np.exp(np.cumsum(rng.normal(0, 0.003, days))), 4),
        }
        self._start_ts = int(dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC).timestamp())

    def day(self, t: int) -> int:
        return min(self.days - 1, max(0, (t - self._start_ts) // 86_400))

    def usd(self, asset: str, t: int) -> float:
        """USD price of one unit of ``asset`` on the day of ``t``."""
        price: float = self.table[asset][self.day(t)].item()
        return price

    def usd_value(self, asset: str, units: int, t: int) -> float:
        """USD value of an integer amount (internal units) at the day's price, rounded to cents."""
        return float(round(units / 10 ** DECIMALS[asset] * self.usd(asset, t), 2))

    def units(self, asset: str, usd: float, t: int) -> int:
        """Integer amount of ``asset`` worth ``usd`` on the day of ``t``."""
        return max(1, int(usd / self.usd(asset, t) * 10 ** DECIMALS[asset]))

    def write(self, path: Path) -> int:
        with path.open("w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh, lineterminator="\n")
            out.writerow(["date", "asset", "usd"])
            rows = 0
            for d in range(self.days):
                date = (self.start + dt.timedelta(days=d)).isoformat()
                for asset in ("BTC", "ETH", "USDT", "EUR"):
                    out.writerow([date, asset, f"{self.table[asset][d]:.4f}".rstrip("0").rstrip(".")])
                    rows += 1
        return rows
