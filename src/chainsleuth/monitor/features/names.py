"""Human-readable feature names, so that reason codes read as sentences to an analyst, not column names."""

from __future__ import annotations

import re

_SIDE = {
    "src_out": "transfers sent by the sender",
    "src_in": "transfers received by the sender",
    "dst_in": "transfers received by the receiver",
    "dst_out": "transfers sent by the receiver",
    "out": "outgoing transfers",
    "in": "incoming transfers",
}
_STAT = {
    "count": "number of",
    "sum": "total value of",
    "mean": "mean value of",
    "max": "largest of",
    "min": "smallest of",
    "std": "spread (std) of values of",
}
_FIXED = {
    "amount": "amount of this transfer",
    "cycle2": "earlier transfers back from the receiver to the sender (2-cycles closed)",
    "cycle3": "time-ordered 3-cycles closed by this transfer",
    "scatter_gather": "other senders into the receiver fed by a common source (scatter-gather)",
    "gather_scatter": "senders-into times receivers-from the sender (gather-scatter paths)",
    "src_passthrough_delay": "time since the sender last received funds (pass-through delay)",
    "cycle_edges": "transfers of the account that closed a cycle",
    "sg_gather": "scatter-gather patterns gathered into the account",
    "sg_member": "scatter-gather patterns the account was an intermediate of",
    "gs_max": "largest gather-scatter pattern through the account",
    "passthrough_mean_delay": "mean time from receiving funds to sending them on",
    "fast_out_share": "share of inflow sent on within the fast window",
}
_LIFE = {
    "count": "number of {side} ever",
    "std": "spread (std) of the amounts of all {side}",
    "cv": "spread relative to the mean amount of all {side}",
    "distinct_amounts": "different amounts used in all {side}",
    "distinct_share": "different amounts per transfer among all {side} (low = one habitual amount)",
    "min_max_ratio": "smallest over largest amount of all {side}",
    "fan": "distinct counterparties of all {side}",
}
_KNOWN = {
    "count": "{side} with accounts already flagged as illicit",
    "share": "share of {side} that involve accounts already flagged as illicit",
    "amount_share": "share of the value of {side} that involves accounts already flagged as illicit",
    "partners": "distinct accounts already flagged as illicit among the counterparties of {side}",
}


def _profile(name: str) -> str | None:
    m = re.fullmatch(r"life_(out|in)_(\w+)", name)
    if m and m.group(2) in _LIFE:
        return _LIFE[m.group(2)].format(side=_SIDE[m.group(1)])
    m = re.fullmatch(r"known_(out|in)_(\w+)", name)
    if m and m.group(2) in _KNOWN:
        return _KNOWN[m.group(2)].format(side=_SIDE[m.group(1)])
    m = re.fullmatch(r"nbr_(out|in)_(mean|max)_(life_\w+)", name)
    if m:
        who = "receivers" if m.group(1) == "out" else "senders"
        return f"{m.group(2)} over the account's {who} of: {_profile(m.group(3))}"
    return None


def _window(w: str) -> str:
    n = int(w)
    for unit, size in (("day", 86_400), ("hour", 3_600)):
        if n >= size and n % size == 0:
            k = n // size
            return f"{k} {unit}{'s' if k != 1 else ''}"
    return f"{n} time units"


def describe(name: str) -> str:
    """``'src_out_fan_86400'`` -> ``'distinct counterparties of transfers sent by the sender in the last 1 day'``."""
    if name in _FIXED:
        return _FIXED[name]
    if name.startswith("exposure_"):
        return f"share of funds exposed to {name.removeprefix('exposure_').replace('_', ' ')}"
    profile = _profile(name)
    if profile is not None:
        return profile
    if name.startswith("gfp_"):
        return f"IBM Graph Feature Preprocessor feature {name.removeprefix('gfp_')}"
    m = re.fullmatch(r"(out|in)_edges_(mean|max)_(.+)", name)
    if m:
        side, agg, inner = m.groups()
        which = "outgoing" if side == "out" else "incoming"
        return f"{agg} over the account's {which} transfers of: {describe(inner)}"
    m = re.fullmatch(r"(src_out|src_in|dst_in|dst_out|out|in)_(count|sum|mean|min|max|std|fan|ratio)_(\d+)", name)
    if not m:
        return name.replace("_", " ")
    side, stat, w = m.groups()
    what = {"fan": "distinct counterparties of", "ratio": "distinct counterparties per transfer among"}.get(stat)
    what = what or _STAT[stat]
    return f"{what} {_SIDE[side]} in the last {_window(w)}"
