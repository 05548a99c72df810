"""`qpt demo`, the main job: a tiny model trained on water for a few minutes, then measured against the W = 0
baseline on held-out geometries (registered by qpt.commands)."""
from __future__ import annotations

import os
import time

from qpt.commands.options import (add_jk_arguments, add_ops_argument, check_output_directory, check_positive,
                                  describe, finish_training, ops_module)

DEMO_MINUTES = 5.0
DEMO_GRID_LEVEL = 3
DEMO_TEST_GEOMETRIES = 8
DEMO_LEARNING_RATE = 1e-3
# Written into a demo's output directory: only a directory holding it may have its checkpoint replaced.
DEMO_MARKER = ".qpt-demo"


def add_parser(commands) -> None:
    demo = commands.add_parser("demo", help="train on water for a few minutes, then compare with the W = 0 baseline",
                               description=_demo.__doc__)
    demo.add_argument("--out", default="qpt-demo", help="output directory (default ./qpt-demo)")
    demo.add_argument("--minutes", type=float, default=DEMO_MINUTES,
                      help=f"training time budget (default {DEMO_MINUTES:g})")
    demo.add_argument("--grid-level", type=int, default=DEMO_GRID_LEVEL,
                      help=f"DFT grid level (default {DEMO_GRID_LEVEL}, PySCF's; 1 or 2 are faster on small CPUs)")
    demo.add_argument("--n-test", type=int, default=DEMO_TEST_GEOMETRIES,
                      help=f"held-out geometries (default {DEMO_TEST_GEOMETRIES})")
    demo.add_argument("--lr", type=float, default=DEMO_LEARNING_RATE, help="peak learning rate")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--no-progress", action="store_true", help="no progress bar or lines")
    add_jk_arguments(demo)
    add_ops_argument(demo)
    demo.set_defaults(run=_demo)


def _demo(args):
    """Train a tiny QPT model on water (def2-svp, B3LYP5) for a few minutes on the CPU, then compare it with
    the no-network baseline W = 0 on held-out geometries against converged SCF labels."""
    from qpt.eval.evaluate import evaluate
    from qpt.train.checkpoint import FILE_NAME
    from qpt.train.config import TrainConfig
    from qpt.train.trainer import Trainer

    start = time.perf_counter()
    if args.n_test < 1:
        raise ValueError(f"--n-test must be >= 1, got {args.n_test}")
    check_positive("--minutes", args.minutes)
    check_output_directory(args.out)
    stale = os.path.join(args.out, FILE_NAME)
    marker = os.path.join(args.out, DEMO_MARKER)
    if os.path.exists(stale) and not os.path.exists(marker):
        raise ValueError(f"{stale} exists and is not a demo's: a demo would replace it; choose another --out")
    ops = ops_module(args.ops)
    config = TrainConfig(molecule="water", basis="def2-svp", xc="b3lyp5", grid_level=args.grid_level,
                         model="tiny", minutes=args.minutes, seed=args.seed, learning_rate=args.lr, jk=args.jk,
                         auxbasis=args.auxbasis)
    os.makedirs(args.out, exist_ok=True)
    with open(marker, "w") as file:
        file.write("written by `qpt demo`: its checkpoint is retrained from scratch on every demo run\n")
    if os.path.exists(stale):
        os.remove(stale)  # a demo always trains from scratch; cached labels in <out>/labels are kept
    if config.grid_level < 3:
        print(f"note: grid level {config.grid_level} instead of PySCF's default 3 (faster; the labels use the same "
              "grid, so the comparison stays fair)")
    trainer = Trainer(config, args.out, ops=ops, progress=not args.no_progress)
    describe(trainer, print)
    result = trainer.run()
    finish_training(trainer, result, print)
    print(f"evaluating on {args.n_test} held-out geometries (labels: converged SCF, cached in {args.out}/labels)")
    evaluation = evaluate(trainer, args.n_test, ops=ops)
    print(evaluation.table)
    ratio = evaluation.baseline["hamiltonian_mae"] / evaluation.model["hamiltonian_mae"]
    print(f"the network lowers the H MAE {ratio:.1f}x below the W = 0 baseline "
          f"(total demo time {time.perf_counter() - start:.0f} s)")
    return 0 if ratio > 1.0 else 1
