"""Held-out error against training wall time: one run (qpt train's defaults, --minutes budget) that keeps
a checkpoint every --every steps; each kept checkpoint is evaluated on a held-out label set, at the wall
time it was written (the run's summed step times: compilation and data waits included, evaluation not).

    python scripts/learning_curve.py --molecule uracil --dataset datasets/uracil-def2svp-b3lyp5-grid3.npz \
        --out experiments/curve-uracil --minutes 120 [--every 50] [--n-eval 50]

Writes <out>/table.md, results.json and plot.png (H MAE of the model and the W = 0 baseline against
minutes); the run itself is <out>/run.
"""
import glob
import os

import numpy as np

import _experiment
from qpt.train import checkpoint as checkpoints
from qpt.train.trainer import Trainer


def _plot(out, rows, molecule):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    minutes = [summary["train_seconds"] / 60 for _, summary, _ in rows]
    figure, axis = plt.subplots(figsize=(6, 4), constrained_layout=True)
    axis.plot(minutes, [e["model"]["hamiltonian_mae"] for _, _, e in rows], "o-", label="model")
    axis.plot(minutes, [e["baseline"]["hamiltonian_mae"] for _, _, e in rows], "--", color="tab:grey",
              label="W = 0 baseline")
    axis.set_yscale("log")
    axis.set_xlabel("training wall time [min]")
    axis.set_ylabel("held-out H MAE [µHa]")
    axis.set_title(f"{molecule}: held-out error while training")
    axis.legend()
    figure.savefig(os.path.join(out, "plot.png"), dpi=120)
    plt.close(figure)
    return True


def main():
    parser = _experiment.common_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, default=50, help="steps between kept checkpoints (default 50)")
    args = parser.parse_args()
    run_dir = os.path.join(args.out, "run")
    trainer = _experiment.train(_experiment.base_config(args, keep_checkpoints=True, checkpoint_every=args.every),
                                run_dir)
    step_seconds = np.asarray(trainer.history["step_seconds"])
    rows = []
    for path in sorted(glob.glob(os.path.join(run_dir, checkpoints.SNAPSHOT_PATTERN.replace("{step:06d}", "*")))):
        snapshot = Trainer.from_checkpoint(path, progress=False, log=lambda message: None)
        summary = _experiment.run_summary(snapshot)
        summary["train_seconds"] = float(step_seconds[:snapshot.step].sum())
        rows.append((f"{summary['train_seconds'] / 60:.1f} min", summary, _experiment.evaluate_run(snapshot, args)))
        print(_experiment.write_results(args.out, rows, "wall time", args), flush=True)
    _plot(args.out, rows, args.molecule)


if __name__ == "__main__":
    main()
