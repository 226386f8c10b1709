"""``chainsleuth eval``: detection quality on AMLSim, the simulator's ground truth, Elliptic and AMLworld.

Every command writes ``<name>.json`` (all runs, all seeds) and ``<name>.md`` (mean ± std with the base rate)
into ``--out`` and prints the markdown table. Time-based splits and validation-chosen thresholds throughout;
see ``docs/detection.md`` for the protocols.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from chainsleuth.cli.console import console, stage_bar
from chainsleuth.monitor.evaluation.report import to_markdown, write_report

app = typer.Typer(help="Measure detection quality (time-based splits, thresholds from validation data).")

OutOpt = Annotated[Path, typer.Option("--out", help="Folder for the JSON and markdown results.")]
SeedsOpt = Annotated[int, typer.Option("--seeds", min=1, help="Number of seeds (mean and std are reported).")]


def _seeds(n: int) -> tuple[int, ...]:
    return tuple(range(n))


def _emit(report: dict[str, Any], out: Path, stem: str) -> None:
    jp, mp = write_report(report, out, stem)
    typer.echo(to_markdown(report))
    console.print(f"wrote {jp} and {mp}")


@app.command("amlsim")
def amlsim(
    directory: Annotated[Path, typer.Argument(help="An AMLSim sample folder (nodes.csv, transactions.csv).")],
    out: OutOpt = Path("eval-results"),
    seeds: SeedsOpt = 5,
    max_nodes: Annotated[int | None, typer.Option(help="Keep only nodes with id < N (a quick subsample).")] = None,
    max_step: Annotated[int | None, typer.Option(help="Keep only transactions up to this step.")] = None,
    gfp: Annotated[bool, typer.Option(help="Include IBM's GFP baseline when snapml is installed.")] = True,
) -> None:
    """Account classification on an IBM AMLSim sample: rules vs LightGBM (raw, graph, profile, GFP).

    Methods: the best single-threshold rule; LightGBM on raw degree and amount statistics, on all our features
    (graph), on the drift-robust set (profile: raw + lifetime habits + neighbours + exposure to accounts flagged
    earlier), and on IBM's GFP features with and without the same flagged-account exposure (when snapml is
    installed). Five label periods ending at the last step: three for training, one for validation, one for test.
    """
    from chainsleuth.monitor.evaluation.accounts import evaluate_accounts
    from chainsleuth.monitor.evaluation.amlsim import amlsim_task, load_amlsim
    from chainsleuth.monitor.evaluation.gfp import gfp_account_features, snapml_available

    with stage_bar("eval amlsim", 2) as step:
        step("loading the sample")
        task = amlsim_task(load_amlsim(directory, max_nodes=max_nodes, max_step=max_step),
                           name=f"amlsim/{directory.name}")  # fmt: skip
        extra = {}
        if gfp and snapml_available():
            extra["gfp"] = lambda e, t: gfp_account_features(e, t, task.config)
        step(f"training and scoring every method over {seeds} seeds")
        report = evaluate_accounts(task, seeds=_seeds(seeds), extra=extra)
    _emit(report, out, f"amlsim_{directory.name}")


@app.command("world")
def world(
    directory: Annotated[Path, typer.Argument(help="A world folder from `chainsleuth world generate`.")],
    out: OutOpt = Path("eval-results"),
    seeds: SeedsOpt = 5,
) -> None:
    """Recall per typology and false positives per 1,000 customers on the simulator's ground truth.

    Methods, all scored on the same test customers: the best single-threshold rule; LightGBM on raw, graph and
    profile features of the ledger's transfer graph; and the shipped rule library (rule_library: its active rules
    over the ledger up to the test time, batch engine, direct TagPack exposure only; a customer is alerted when
    at least one rule hits it in the test period). Snapshots at the 20/40/60/80 % quantiles of the illicit onsets;
    the validation and test periods are also scored weekly, as the detector runs, and a customer's score is its
    highest of the period (the threshold is chosen on the validation period's weekly highs).
    """
    from chainsleuth.monitor.evaluation.world import evaluate_world

    with stage_bar("eval world", 1) as step:
        step(f"features, rules and models over {seeds} seeds")
        report = evaluate_world(directory, seeds=_seeds(seeds))
    _emit(report, out, "world")


@app.command("elliptic")
def elliptic(
    directory: Annotated[Path, typer.Argument(help="Folder with the three elliptic_txs_*.csv files.")],
    out: OutOpt = Path("eval-results"),
    seeds: SeedsOpt = 5,
) -> None:
    """The published Elliptic protocol: random forest, train steps 1-34, test 35-49 (illicit F1)."""
    from chainsleuth.monitor.evaluation.elliptic import evaluate_elliptic, load_elliptic

    with stage_bar("eval elliptic", 2) as step:
        step("loading the data set")
        data = load_elliptic(directory)
        step(f"random forests over {seeds} seeds")
        report = evaluate_elliptic(data, seeds=_seeds(seeds))
    _emit(report, out, "elliptic")


@app.command("amlworld")
def amlworld(
    directory: Annotated[Path, typer.Argument(help="Folder with an AMLworld *_Trans.csv (and *_Patterns.txt).")],
    out: OutOpt = Path("eval-results"),
    seeds: SeedsOpt = 5,
) -> None:
    """Edge classification on IBM AMLworld: 60/20/20 time split, minority F1, recall per pattern."""
    from chainsleuth.monitor.evaluation.amlworld import evaluate_amlworld, find_amlworld_files, load_amlworld

    trans, patterns = find_amlworld_files(directory)
    with stage_bar("eval amlworld", 2) as step:
        step(f"loading {trans.name}")
        data = load_amlworld(trans, patterns)
        step(f"edge models over {seeds} seeds")
        report = evaluate_amlworld(data, seeds=_seeds(seeds))
    _emit(report, out, "amlworld")
