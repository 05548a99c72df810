"""The paper's experiment on the DFT iterations in the loss: the same budget of training with 1, 2, 4, 8
and 16 Kohn-Sham iterations after D1 = dm(H) (mixing 0.5 in each but the last; 2 is the paper's scheme),
each evaluated on a held-out label set next to its W = 0 baseline. More iterations cost more per step
(fewer steps in the budget) and leave the network less to do.

    python scripts/experiment_iterations.py --dataset datasets/water-def2svp-b3lyp5-grid3.npz \
        --out experiments/iterations [--minutes 5] [--iterations 1,2,4,8,16] [--n-eval 50]

Writes <out>/table.md, results.json and plot.png; each run in <out>/iterations-<k>.
"""
import os

import _experiment


def main():
    parser = _experiment.common_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", default="1,2,4,8,16")
    args = parser.parse_args()
    rows = []
    for count in (int(k) for k in args.iterations.split(",")):
        trainer = _experiment.train(_experiment.base_config(args, dft_iterations=count),
                                    os.path.join(args.out, f"iterations-{count}"))
        rows.append((count, _experiment.run_summary(trainer), _experiment.evaluate_run(trainer, args)))
        print(_experiment.write_results(args.out, rows, "iterations", args), flush=True)
    _experiment.plot_bars(args.out, rows, "DFT iterations in the loss")


if __name__ == "__main__":
    main()
