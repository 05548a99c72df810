"""What the experiment scripts share: train one configuration for a wall-time budget, evaluate it on a
held-out label set (`qpt dataset`), and write the table (markdown) and JSON of all runs.

Each script varies one thing of the QPT loss or of training (iterations, H_init, wall time) and keeps
everything else at `qpt train`'s defaults, so its rows differ in that one thing only.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import jax

jax.config.update("jax_enable_x64", True)

from qpt.eval.evaluate import evaluate  # noqa: E402
from qpt.train.config import TrainConfig  # noqa: E402
from qpt.train.trainer import Trainer  # noqa: E402

METRICS = (("hamiltonian_mae", "H MAE [µHa]", "{:.1f}"), ("orbital_energy_mae", "eps_occ MAE [µHa]", "{:.1f}"),
           ("energy_mae", "E MAE [meV]", "{:.3f}"), ("orbital_cosine", "occ. cosine", "{:.5f}"))


def write_text_atomically(path: str, text: str) -> None:
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)


def common_arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--molecule", default="water")
    parser.add_argument("--dataset", required=True, help="held-out label set from `qpt dataset` for the molecule")
    parser.add_argument("--n-eval", type=int, default=50, help="geometries of the set to evaluate on (default 50)")
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget of each run (default 5)")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (the demo's)")
    parser.add_argument("--out", required=True, help="directory for the runs, table.md, results.json, plot.png")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def base_config(args, **changes) -> TrainConfig:
    values = dict(molecule=args.molecule, model=args.model, minutes=args.minutes, learning_rate=args.lr,
                  seed=args.seed)
    values.update(changes)
    return TrainConfig(**values)


def train(config: TrainConfig, run_dir: str) -> Trainer:
    """Trains `config` in run_dir, or reuses the finished run there (the scripts can be re-run to complete
    an interrupted experiment without repeating its finished runs)."""
    checkpoint = os.path.join(run_dir, "checkpoint.npz")
    done = os.path.join(run_dir, "finished")
    if os.path.exists(done):
        return Trainer.from_checkpoint(checkpoint, progress=False)
    if os.path.exists(checkpoint):
        os.remove(checkpoint)  # an interrupted run: its budget is gone, start it again
    trainer = Trainer(config, run_dir, progress=False, log=lambda message: None)
    started = time.perf_counter()
    result = trainer.run()
    write_text_atomically(done, f"{result.steps} steps in {time.perf_counter() - started:.0f} s\n")
    return trainer


def evaluate_run(trainer_or_checkpoint, args) -> dict:
    result = evaluate(trainer_or_checkpoint, args.n_eval, dataset=args.dataset, log=lambda message: None)
    return {"model": result.model, "baseline": result.baseline, "engine": result.engine}


def run_summary(trainer: Trainer) -> dict:
    history = trainer.history
    seconds = float(sum(history["step_seconds"]))
    return {"steps": trainer.step, "train_seconds": seconds,
            "seconds_per_step": seconds / max(trainer.step, 1),
            "wait_share": float(sum(history["wait_seconds"])) / seconds if seconds else float("nan")}


def markdown_table(rows, label: str) -> str:
    """rows: [(name, summary, evaluation)] -> one markdown table, model and W = 0 baseline per metric."""
    header = [label, "steps", "s/step"] + [f"{title} model / W=0" for _, title, _ in METRICS]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, summary, evaluation in rows:
        cells = [str(name), str(summary["steps"]), f"{summary['seconds_per_step']:.2f}"]
        for key, _, fmt in METRICS:
            cells.append(f"{fmt.format(evaluation['model'][key])} / {fmt.format(evaluation['baseline'][key])}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_results(out: str, rows, label: str, args, note: str = "") -> str:
    table = markdown_table(rows, label)
    context = (f"{args.molecule}, def2-svp, B3LYP5, grid 3, model {args.model}, peak lr {args.lr:g}, "
               f"{args.minutes:g} min per run, evaluated on {args.n_eval} geometries of {args.dataset}. {note}")
    write_text_atomically(os.path.join(out, "table.md"), context.strip() + "\n\n" + table)
    payload = {"context": context, "label": label,
               "rows": [{"name": name, "summary": summary, "evaluation": evaluation}
                        for name, summary, evaluation in rows]}
    write_text_atomically(os.path.join(out, "results.json"), json.dumps(payload, indent=1))
    return table


def plot_bars(out: str, rows, label: str) -> bool:
    """H MAE of the model and the baseline per row (log scale); False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names = [str(name) for name, _, _ in rows]
    model = [evaluation["model"]["hamiltonian_mae"] for _, _, evaluation in rows]
    baseline = [evaluation["baseline"]["hamiltonian_mae"] for _, _, evaluation in rows]
    figure, axis = plt.subplots(figsize=(6, 4), constrained_layout=True)
    positions = range(len(names))
    axis.bar([p - 0.2 for p in positions], model, 0.4, label="model")
    axis.bar([p + 0.2 for p in positions], baseline, 0.4, label="W = 0 baseline", color="tab:grey")
    axis.set_xticks(list(positions), names)
    axis.set_yscale("log")
    axis.set_xlabel(label)
    axis.set_ylabel("held-out H MAE [µHa]")
    axis.legend()
    figure.savefig(os.path.join(out, "plot.png"), dpi=120)
    plt.close(figure)
    return True
