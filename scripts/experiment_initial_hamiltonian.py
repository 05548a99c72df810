"""The paper's experiment on the initial Hamiltonian: the same budget of training from H_init = F(D0) of
the minao guess (the default), from the core Hamiltonian, and from F(D0) plus a random symmetric
perturbation (std --perturbation Ha), each evaluated on a held-out label set next to its own W = 0
baseline (H = H_init through the same iterations).

    python scripts/experiment_initial_hamiltonian.py --dataset datasets/water-def2svp-b3lyp5-grid3.npz \
        --out experiments/initial-hamiltonian [--minutes 5] [--perturbation 0.01] [--n-eval 50]

Writes <out>/table.md, results.json and plot.png; each run in <out>/<initial Hamiltonian>.
"""
import os

import _experiment


def main():
    parser = _experiment.common_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--perturbation", type=float, default=0.01, help="std of the perturbation, Ha")
    parser.add_argument("--starts", default="minao,core,perturbed")
    args = parser.parse_args()
    rows = []
    for start in args.starts.split(","):
        config = _experiment.base_config(args, initial_hamiltonian=start, perturbation_ha=args.perturbation)
        trainer = _experiment.train(config, os.path.join(args.out, start))
        rows.append((start, _experiment.run_summary(trainer), _experiment.evaluate_run(trainer, args)))
        print(_experiment.write_results(args.out, rows, "H_init", args,
                                        f"perturbed: std {args.perturbation:g} Ha."), flush=True)
    _experiment.plot_bars(args.out, rows, "initial Hamiltonian")


if __name__ == "__main__":
    main()
