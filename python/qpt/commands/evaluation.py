"""`qpt eval`: a trained model against converged SCF labels, next to the W = 0 baseline (registered by
qpt.commands)."""
from __future__ import annotations

from qpt.commands.options import add_ops_argument, ops_module


def add_parser(commands) -> None:
    evaluate = commands.add_parser("eval", help="metrics of a trained model vs converged SCF on held-out geometries",
                                   description=_eval.__doc__)
    evaluate.add_argument("--checkpoint", required=True, help="checkpoint.npz or the run directory holding it")
    evaluate.add_argument("--dataset", help="a `qpt dataset` label set to evaluate on (default: the run's own "
                                            "held-out geometries, labels cached in --cache-dir)")
    evaluate.add_argument("--n-test", type=int,
                          help="held-out geometries (default: all of --dataset, else 10)")
    evaluate.add_argument("--scf-iterations", action="store_true",
                          help="also count PySCF's SCF iterations from the predicted density vs its default guess")
    evaluate.add_argument("--cache-dir", help="label cache (default: <run directory>/labels)")
    evaluate.add_argument("--molecules", help="a run trained with --molecules: the list whose heldout molecules "
                                              "to evaluate on (default: the run's own list)")
    evaluate.add_argument("--max-molecules", type=int, help="a run trained with --molecules: evaluate only the "
                                                            "first N held-out molecules")
    add_ops_argument(evaluate)
    evaluate.set_defaults(run=_eval)


def _eval(args):
    """Evaluate a checkpoint against converged SCF labels: those of a `qpt dataset` label set (--dataset), or
    of the run's own held-out geometries (computed once, cached on disk)."""
    from qpt.eval.evaluate import evaluate
    from qpt.train.trainer import Trainer

    if args.n_test is not None and args.n_test < 1:
        raise ValueError(f"--n-test must be >= 1, got {args.n_test}")
    trainer = Trainer.from_checkpoint(args.checkpoint, ops=ops_module(args.ops), progress=False)
    if trainer.config.molecules is not None:
        return _eval_heldout_molecules(args, trainer)
    if args.molecules is not None or args.max_molecules is not None:
        raise ValueError("--molecules and --max-molecules are for runs trained with --molecules")
    n_test = 10 if args.n_test is None and args.dataset is None else args.n_test
    result = evaluate(trainer, n_test, dataset=args.dataset, cache_dir=args.cache_dir, ops=ops_module(args.ops),
                      scf_iterations=args.scf_iterations)
    print(result.table)
    if args.dataset is None:
        print(f"labels and predictions use the training run's J/K engine: {result.engine}")
    else:
        print(f"predictions use the training run's J/K engine ({result.engine}); the labels are the set's own")
    return 0


def _eval_heldout_molecules(args, trainer):
    from qpt.eval.many_molecules import evaluate_heldout_molecules

    if args.dataset is not None or args.scf_iterations:
        raise ValueError("--dataset and --scf-iterations are for single-molecule runs; a --molecules run is "
                         "evaluated on its held-out molecules")
    if args.max_molecules is not None and args.max_molecules < 1:
        raise ValueError(f"--max-molecules must be >= 1, got {args.max_molecules}")
    result = evaluate_heldout_molecules(trainer, 2 if args.n_test is None else args.n_test,
                                        molecule_list=args.molecules, max_molecules=args.max_molecules,
                                        cache_dir=args.cache_dir, ops=ops_module(args.ops))
    print(result.table)
    return 0
