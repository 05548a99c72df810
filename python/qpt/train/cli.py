"""`qpt train`, `qpt eval` and `qpt demo`; registered on the main parser by qpt.cli via add_parsers()."""
from __future__ import annotations

import argparse
import os
import time

from qpt.data import thermal_settings as thermal

DEMO_MINUTES = 5.0
DEMO_GRID_LEVEL = 3
DEMO_TEST_GEOMETRIES = 8
DEMO_LEARNING_RATE = 1e-3
# Written into a demo's output directory: only a directory holding it may have its checkpoint replaced.
DEMO_MARKER = ".qpt-demo"
# Options that --resume honours (how to run, not what to train); every other one comes from the checkpoint.
_RESUME_OPTIONS = {"no_progress", "ops", "distributed", "coordinator_address", "num_processes", "process_id",
                   "peer_timeout"}


def add_parsers(commands) -> None:
    """Adds the train, eval and demo subcommands to an argparse subparsers object."""
    train = commands.add_parser("train", help="train a QPT model (the DFT energy is the loss)",
                                description=_train.__doc__)
    _add_run_arguments(train, grid_level=3, learning_rate=5e-4)
    train.add_argument("--out", required=True, help="run directory (checkpoint.npz, loss_curve.png, labels/)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run saved in --out with its stored settings (other options ignored)")
    train.add_argument("--distributed", action="store_true",
                       help="one of several processes (hosts): calls jax.distributed.initialize first; the mesh "
                            "spans every process' devices and process 0 writes the checkpoints")
    train.add_argument("--coordinator-address",
                       help="host:port of process 0 (default: $JAX_COORDINATOR_ADDRESS or cluster auto-detection)")
    train.add_argument("--num-processes", type=int, help="default: $JAX_NUM_PROCESSES or cluster auto-detection")
    train.add_argument("--process-id", type=int, help="default: $JAX_PROCESS_ID or cluster auto-detection")
    train.add_argument("--peer-timeout", type=int, default=30,
                       help="seconds without a heartbeat before a lost process ends the run with an error")
    train.set_defaults(run=_train, run_option_defaults={
        action.dest: action.default for action in train._actions
        if action.dest not in {"help", "out", "resume", *_RESUME_OPTIONS}})

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
    _add_ops_argument(evaluate)
    evaluate.set_defaults(run=_eval)

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
    _add_jk_arguments(demo)
    _add_ops_argument(demo)
    demo.set_defaults(run=_demo)


def _add_jk_arguments(parser):
    parser.add_argument("--jk", choices=("auto", "packed", "df", "direct"), default="auto",
                        help="two-electron engine of every System: auto (packed ERIs for small molecules, density "
                             "fitting above), packed, df or direct (default auto)")
    parser.add_argument("--auxbasis", help="density-fitting basis for --jk df/auto (default: PySCF's make_auxbasis, "
                                           "def2-universal-jkfit for def2 bases)")


def _add_ops_argument(parser):
    parser.add_argument("--ops", choices=("kernels", "reference"), default="kernels",
                        help="DFT ops: qpt's kernels (default) or the pure-JAX reference ops")


def _add_run_arguments(parser, *, grid_level, learning_rate):
    parser.add_argument("--molecule", default="water", help="catalog name, xyz file or xyz text (default water)")
    parser.add_argument("--basis", default="def2-svp")
    parser.add_argument("--xc", default="b3lyp5", help="functional: lda, pbe, b3lyp5 or b3lyp")
    parser.add_argument("--grid-level", type=int, default=grid_level, help="DFT grid level 0..9")
    parser.add_argument("--model", default="tiny", help="tiny, small, base or paper")
    parser.add_argument("--d-model", type=int, help="override the preset's width")
    parser.add_argument("--layers", type=int, help="override the preset's number of blocks")
    parser.add_argument("--heads", type=int, help="override the preset's attention heads (7 carry quantum biases)")
    parser.add_argument("--steps", type=int, help="training steps (schedule length)")
    parser.add_argument("--minutes", type=float, help="wall-time budget; without --steps it sets the run length")
    parser.add_argument("--seed", type=int, default=0, help="parameter init and geometry stream seed")
    parser.add_argument("--lr", type=float, default=learning_rate,
                        help=f"peak learning rate (default {learning_rate:g})")
    parser.add_argument("--warmup-steps", type=int, help="linear warmup (default 10%% of the steps, at most 1000)")
    parser.add_argument("--geometries", choices=("thermal", "gaussian"), default="thermal",
                        help="training geometries: frames of Langevin MD on GFN2-xTB (default) or Gaussian "
                             "displacements of the equilibrium geometry (--sigma)")
    parser.add_argument("--sigma", type=float, help="Gaussian geometries: displacement std in bohr (default 0.1)")
    parser.add_argument("--temperature", type=float, default=thermal.DEFAULT_TEMPERATURE_K,
                        help=f"thermal geometries: MD temperature in K (default {thermal.DEFAULT_TEMPERATURE_K:g})")
    parser.add_argument("--md-timestep", type=float, default=thermal.DEFAULT_TIMESTEP_FS,
                        help=f"thermal geometries: MD time step in fs (default {thermal.DEFAULT_TIMESTEP_FS:g})")
    parser.add_argument("--md-friction", type=float, default=thermal.DEFAULT_FRICTION_PER_FS,
                        help=f"thermal geometries: Langevin friction in 1/fs (default {thermal.DEFAULT_FRICTION_PER_FS:g})")
    parser.add_argument("--md-spacing", type=float, default=thermal.DEFAULT_SPACING_FS,
                        help=f"thermal geometries: fs between frames (default {thermal.DEFAULT_SPACING_FS:g})")
    parser.add_argument("--md-equilibration", type=float, default=thermal.DEFAULT_EQUILIBRATION_FS,
                        help=f"thermal geometries: fs of MD before the first frame "
                             f"(default {thermal.DEFAULT_EQUILIBRATION_FS:g})")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="network dtype")
    parser.add_argument("--dft-dtype", choices=("float64", "float32"), default="float64",
                        help="dtype of the DFT iterations in the loss")
    parser.add_argument("--checkpoint-every", type=int, default=100, help="steps between checkpoints")
    parser.add_argument("--keep-checkpoints", action="store_true",
                        help="also keep each checkpoint as checkpoint-step<N>.npz (for learning curves)")
    parser.add_argument("--dft-iterations", type=int,
                        help="Kohn-Sham iterations in the loss after D1 = dm(H) (default 2, the paper's; "
                             "default mixing 0.5 each, none in the last)")
    parser.add_argument("--mixing", type=_mixing_weights,
                        help="density-mixing weight of each iteration, comma separated (default 0.5,...,0.5,0)")
    parser.add_argument("--initial-hamiltonian", choices=("minao", "core", "perturbed"), default="minao",
                        help="H_init that the network corrects: F(D0) of the minao guess (default), the core "
                             "Hamiltonian, or F(D0) plus a random symmetric perturbation (--perturbation)")
    parser.add_argument("--perturbation", type=float, help="--initial-hamiltonian perturbed: std in Hartree of the "
                                                           "perturbation's off-diagonal elements (default 0.01)")
    parser.add_argument("--workers", type=int,
                        help="processes building Systems ahead of the trainer (default: the cores not driving a device)")
    parser.add_argument("--batch-size", type=int, default=1,
                        help="geometries per step, all devices together (default 1)")
    parser.add_argument("--devices", type=int, help="devices in the data-parallel mesh (default: all JAX sees)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or lines")
    _add_jk_arguments(parser)
    _add_ops_argument(parser)


def _mixing_weights(text):
    try:
        return tuple(float(weight) for weight in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--mixing takes comma-separated numbers, got {text!r}") from None


def _loss_scheme_values(args):
    """--dft-iterations/--mixing/--initial-hamiltonian/--perturbation as TrainConfig fields (mixing alone
    sets the iteration count)."""
    from qpt.train.scheme import DEFAULT_PERTURBATION_HA

    iterations = args.dft_iterations
    if iterations is None:
        iterations = len(args.mixing) if args.mixing is not None else 2
    if args.perturbation is not None and args.initial_hamiltonian != "perturbed":
        raise ValueError("--perturbation needs --initial-hamiltonian perturbed")
    return dict(dft_iterations=iterations, mixing=args.mixing, initial_hamiltonian=args.initial_hamiltonian,
                perturbation_ha=DEFAULT_PERTURBATION_HA if args.perturbation is None else args.perturbation)


def _ops(name):
    if name == "reference":
        from qpt.ops import reference

        return reference
    from qpt import ops

    return ops


def _train_config(args, **overrides):
    from qpt.model import get_model_config
    from qpt.train.config import DEFAULT_SIGMA_BOHR, TrainConfig

    sizes = {name: value for name, value in (("d_model", args.d_model), ("n_layers", args.layers),
                                             ("n_heads", args.heads)) if value is not None}
    values = dict(molecule=args.molecule, basis=args.basis, xc=args.xc, grid_level=args.grid_level,
                  model=get_model_config(args.model, **sizes), steps=args.steps, minutes=args.minutes, seed=args.seed,
                  learning_rate=args.lr, warmup_steps=args.warmup_steps,
                  geometries=args.geometries, sigma_bohr=DEFAULT_SIGMA_BOHR if args.sigma is None else args.sigma,
                  temperature_k=args.temperature, md_timestep_fs=args.md_timestep,
                  md_friction_per_fs=args.md_friction, md_spacing_fs=args.md_spacing,
                  md_equilibration_fs=args.md_equilibration,
                  network_dtype=args.dtype, dft_dtype=args.dft_dtype, checkpoint_every=args.checkpoint_every,
                  workers=args.workers, batch_size=args.batch_size, devices=args.devices, jk=args.jk,
                  auxbasis=args.auxbasis, keep_checkpoints=args.keep_checkpoints, **_loss_scheme_values(args))
    values.update(overrides)
    return TrainConfig(**values)


def _describe(trainer, log):
    from qpt.model import parameter_count

    config, model = trainer.config, trainer.config.model
    length = (f"{trainer.schedule_steps} steps" if trainer.schedule_steps is not None
              else f"{config.minutes:g} min (run length set after timing the first steps)")
    resuming = f"; resuming at step {trainer.step}" if trainer.step else ""
    log(f"QPT training: {config.molecule.formula} {config.basis} {config.xc}, grid level {config.grid_level}, "
        f"J/K engine {_engine_text(config.jk, trainer.layout.nao, config.auxbasis)}; "
        f"model d={model.d_model}, {model.n_layers} layers, {model.n_heads} heads "
        f"({parameter_count(trainer.params):,} parameters, {model.dtype}); loss: {config.loss_scheme.describe()}; "
        f"{length}, peak lr {config.learning_rate:g}{resuming}")


def _engine_text(jk, nao, auxbasis):
    from qpt.system.two_electron import choose_engine

    engine, why = choose_engine(jk, nao)
    return engine + (f" ({auxbasis})" if auxbasis and engine == "df" else "") + f" ({why})"


def _finish_training(trainer, result, log):
    from qpt.train.plots import plot_loss_curve

    log(f"trained {result.steps} steps ({result.stopped_by}) in {result.seconds:.0f} s; "
        f"checkpoint {result.checkpoint}")
    plot_path = os.path.join(trainer.out_dir, "loss_curve.png")
    if plot_loss_curve(result.history, plot_path):
        log(f"loss curve: {plot_path}")
    else:
        log("loss curve skipped: matplotlib is not installed (pip install 'qpt[train]')")


def _check_output_directory(out):
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out} exists and is not a directory")


def _check_positive(name, value):
    if value is not None and not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def _train(args):
    """Train a QPT model: H = H_init + W(network), loss = the DFT energy after differentiable Kohn-Sham
    iterations (the paper's two by default: E(D3))."""
    from qpt.train.checkpoint import FILE_NAME
    from qpt.train.trainer import Trainer

    _check_output_directory(args.out)
    if args.resume:
        ignored = sorted(f"--{dest.replace('_', '-')}" for dest, default in args.run_option_defaults.items()
                         if getattr(args, dest) != default)
        if ignored:
            raise ValueError(f"--resume continues the run with the settings stored in its checkpoint; "
                             f"{', '.join(ignored)} would be ignored: leave them out")
    if args.distributed:
        from qpt.train.parallel import initialize_distributed

        initialize_distributed(args.coordinator_address, args.num_processes, args.process_id,
                               heartbeat_timeout=args.peer_timeout)
    ops = _ops(args.ops)
    checkpoint = os.path.join(args.out, FILE_NAME)
    if args.resume:
        if not os.path.exists(checkpoint):
            raise ValueError(f"--resume: no checkpoint at {checkpoint}")
        trainer = Trainer.from_checkpoint(checkpoint, ops=ops, progress=not args.no_progress)
    else:
        if os.path.exists(checkpoint):
            raise ValueError(f"{checkpoint} exists: continue it with --resume or choose another --out")
        trainer = Trainer(_train_config(args), args.out, ops=ops, progress=not args.no_progress)
    if trainer.is_main_process:
        _describe(trainer, print)
    result = trainer.run()
    if trainer.is_main_process:
        _finish_training(trainer, result, print)
    return 0


def _eval(args):
    """Evaluate a checkpoint against converged SCF labels: those of a `qpt dataset` label set (--dataset), or
    of the run's own held-out geometries (computed once, cached on disk)."""
    from qpt.eval.evaluate import evaluate

    n_test = 10 if args.n_test is None and args.dataset is None else args.n_test
    if n_test is not None and n_test < 1:
        raise ValueError(f"--n-test must be >= 1, got {n_test}")
    result = evaluate(args.checkpoint, n_test, dataset=args.dataset, cache_dir=args.cache_dir, ops=_ops(args.ops),
                      scf_iterations=args.scf_iterations)
    print(result.table)
    if args.dataset is None:
        print(f"labels and predictions use the training run's J/K engine: {result.engine}")
    else:
        print(f"predictions use the training run's J/K engine ({result.engine}); the labels are the set's own")
    return 0


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
    _check_positive("--minutes", args.minutes)
    _check_output_directory(args.out)
    stale = os.path.join(args.out, FILE_NAME)
    marker = os.path.join(args.out, DEMO_MARKER)
    if os.path.exists(stale) and not os.path.exists(marker):
        raise ValueError(f"{stale} exists and is not a demo's: a demo would replace it; choose another --out")
    ops = _ops(args.ops)
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
    _describe(trainer, print)
    result = trainer.run()
    _finish_training(trainer, result, print)
    print(f"evaluating on {args.n_test} held-out geometries (labels: converged SCF, cached in {args.out}/labels)")
    evaluation = evaluate(trainer, args.n_test, ops=ops)
    print(evaluation.table)
    ratio = evaluation.baseline["hamiltonian_mae"] / evaluation.model["hamiltonian_mae"]
    print(f"the network lowers the H MAE {ratio:.1f}x below the W = 0 baseline "
          f"(total demo time {time.perf_counter() - start:.0f} s)")
    return 0 if ratio > 1.0 else 1
