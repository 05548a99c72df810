"""What the training commands share: the run options (model, geometries, loss scheme, engine, ops) and
their conversion to a TrainConfig, the checks of --out, and the lines printed before and after training."""
from __future__ import annotations

import argparse
import os

from qpt.data import thermal_settings as thermal


def add_jk_arguments(parser):
    parser.add_argument("--jk", choices=("auto", "packed", "df", "direct"), default="auto",
                        help="two-electron engine of every System: auto (packed ERIs for small molecules, density "
                             "fitting above), packed, df or direct (default auto)")
    parser.add_argument("--auxbasis", help="density-fitting basis for --jk df/auto (default: PySCF's make_auxbasis, "
                                           "def2-universal-jkfit for def2 bases)")


def add_ops_argument(parser):
    parser.add_argument("--ops", choices=("kernels", "reference"), default="kernels",
                        help="DFT ops: qpt's kernels (default) or the pure-JAX reference ops")


def add_run_arguments(parser, *, grid_level, learning_rate):
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
    parser.add_argument("--mixing", type=mixing_weights,
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
    parser.add_argument("--grid-table-gib", type=float,
                        help="memory per device for the AO tables of a step's geometries (CPU; each grid pass then "
                             "reads the AO values instead of evaluating them, same results); 0: none (default 2)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or lines")
    add_jk_arguments(parser)
    add_ops_argument(parser)


def mixing_weights(text):
    try:
        return tuple(float(weight) for weight in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--mixing takes comma-separated numbers, got {text!r}") from None


def loss_scheme_values(args):
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


def ops_module(name):
    if name == "reference":
        from qpt.ops import reference

        return reference
    from qpt import ops

    return ops


def train_config(args, **overrides):
    from qpt.model import get_model_config
    from qpt.train.config import DEFAULT_GRID_TABLE_GIB, DEFAULT_SIGMA_BOHR, TrainConfig

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
                  grid_table_gib=DEFAULT_GRID_TABLE_GIB if args.grid_table_gib is None else args.grid_table_gib,
                  auxbasis=args.auxbasis, keep_checkpoints=args.keep_checkpoints, **loss_scheme_values(args))
    values.update(overrides)
    return TrainConfig(**values)


def describe(trainer, log):
    from qpt.model import parameter_count

    config, model = trainer.config, trainer.config.model
    length = (f"{trainer.schedule_steps} steps" if trainer.schedule_steps is not None
              else f"{config.minutes:g} min (run length set after timing the first steps)")
    resuming = f"; resuming at step {trainer.step}" if trainer.step else ""
    log(f"QPT training: {config.molecule.formula} {config.basis} {config.xc}, grid level {config.grid_level}, "
        f"J/K engine {engine_text(config.jk, trainer.layout.nao, config.auxbasis)}; "
        f"model d={model.d_model}, {model.n_layers} layers, {model.n_heads} heads "
        f"({parameter_count(trainer.params):,} parameters, {model.dtype}); loss: {config.loss_scheme.describe()}; "
        f"{length}, peak lr {config.learning_rate:g}{resuming}")
    if config.molecules is not None:
        log(f"{len(config.molecules)} training molecules"
            + (f" from {config.molecule_list}" if config.molecule_list else "") + f"; {trainer.describe_buckets()}")


def engine_text(jk, nao, auxbasis):
    from qpt.system.two_electron import choose_engine

    engine, why = choose_engine(jk, nao)
    return engine + (f" ({auxbasis})" if auxbasis and engine == "df" else "") + f" ({why})"


def finish_training(trainer, result, log):
    from qpt.train.plots import plot_loss_curve

    log(f"trained {result.steps} steps ({result.stopped_by}) in {result.seconds:.0f} s; "
        f"checkpoint {result.checkpoint}")
    plot_path = os.path.join(trainer.out_dir, "loss_curve.png")
    if plot_loss_curve(result.history, plot_path):
        log(f"loss curve: {plot_path}")
    else:
        log("loss curve skipped: matplotlib is not installed (pip install 'qpt[train]')")


def check_output_directory(out):
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out} exists and is not a directory")


def check_positive(name, value):
    if value is not None and not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
