"""`qpt dataset`: a held-out label set from independent thermal MD; registered by qpt.commands."""
from __future__ import annotations

from qpt.data import thermal_settings as thermal

DEFAULT_GEOMETRIES = 200


def add_parser(commands) -> None:
    dataset = commands.add_parser("dataset", help="held-out label set: thermal MD geometries + converged SCF labels",
                                  description=_dataset.__doc__)
    dataset.add_argument("--molecule", default="water", help="catalog name, xyz file or xyz text (default water)")
    dataset.add_argument("--n", type=int, default=DEFAULT_GEOMETRIES,
                         help=f"number of geometries (default {DEFAULT_GEOMETRIES})")
    dataset.add_argument("--out", required=True, help="the set's npz file (parts are kept in <out>.parts meanwhile)")
    dataset.add_argument("--basis", default="def2-svp")
    dataset.add_argument("--xc", default="b3lyp5", help="functional: lda, pbe, b3lyp5 or b3lyp")
    dataset.add_argument("--grid-level", type=int, default=3, help="DFT grid level 0..9 (default 3)")
    dataset.add_argument("--seed", type=int, default=0, help="MD seed (the trajectories are never a run's)")
    dataset.add_argument("--temperature", type=float, default=thermal.DEFAULT_TEMPERATURE_K, help="MD temperature, K")
    dataset.add_argument("--md-timestep", type=float, default=thermal.DEFAULT_TIMESTEP_FS, help="MD time step, fs")
    dataset.add_argument("--md-friction", type=float, default=thermal.DEFAULT_FRICTION_PER_FS,
                         help="Langevin friction, 1/fs")
    dataset.add_argument("--md-spacing", type=float, default=thermal.DEFAULT_SPACING_FS, help="fs between frames")
    dataset.add_argument("--md-equilibration", type=float, default=thermal.DEFAULT_EQUILIBRATION_FS,
                         help="fs of MD before a trajectory's first frame")
    dataset.add_argument("--workers", type=int, help="processes building Systems and running MD ahead of the SCF")
    dataset.add_argument("--no-progress", action="store_true", help="no progress bar or lines")
    dataset.set_defaults(run=_dataset)


def _dataset(args):
    """Write (or complete) a held-out label set: geometries from Langevin MD on GFN2-xTB in trajectories no
    training run uses, labels from a tightly converged SCF (Fock matrix, overlap, orbital energies and
    coefficients, energy). Interrupted runs resume; nothing already on disk is recomputed."""
    from qpt.data.thermal_settings import ThermalSettings
    from qpt.eval.label_sets import LabelSetSpec, build_label_set

    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    spec = LabelSetSpec(args.molecule, args.basis, args.xc, args.grid_level, args.seed,
                        ThermalSettings(args.temperature, args.md_timestep, args.md_friction, args.md_spacing,
                                        args.md_equilibration))
    build_label_set(spec, args.n, args.out, workers=args.workers, progress=not args.no_progress)
    return 0
