"""Where one QPT training step spends its time, and how many kernel calls it makes.

    python bench/step_profile.py [--molecule uracil] [--jk auto] [--repeats 3] [--json profile.json]

1. Kernel calls per stage, counted in the compiled programs (XLA custom calls by FFI target): the quantum
   features, the DFT iterations forward, forward + backward, and the whole jitted training step. Every
   qpt_density_on_grid or qpt_potential_matrix call is one pass over the grid and one evaluation of the AO
   values on it (the kernels evaluate AO blocks on the fly), so their sum is the step's grid passes and AO
   evaluations.
2. Seconds per stage (min of --repeats after compilation) and per single op call on this System (one
   density_on_grid, one potential_matrix, one J/K of the engine, one density_matrix), so that count x
   single-call time estimates what each kind of call costs in the step, and the rest (the functional on the
   grid points, the network, the optimiser, XLA's own work) is the difference.

The training step is the trainer's own (qpt.train.trainer.make_train_step: batch of one, one-device mesh,
tiny model). A script, not a benchmark: its output is a table for the README and issue notes.
"""
import argparse
import collections
import json
import re
import time

import jax
import jax.numpy as jnp
import numpy as np
from inputs import best_seconds

from qpt import ops
from qpt.data.batch import stack_systems
from qpt.dft.functionals import get_functional
from qpt.dft.iterations import dft_iterations
from qpt.dft.two_electron import coulomb_exchange
from qpt.model import TokenLayout, get_model_config, hamiltonian_correction, init_params
from qpt.system import Molecule, System
from qpt.train.features import quantum_features
from qpt.train.optimizer import make_optimizer
from qpt.train.parallel import make_data_mesh
from qpt.train.trainer import make_train_step

_TARGET = re.compile(r'custom_call_target="(qpt_[a-z_]+)"')
GRID_TARGETS = ("qpt_density_on_grid", "qpt_potential_matrix")


def kernel_calls(function, *args) -> collections.Counter:
    """FFI targets called by the compiled `function` (one count per call site of the optimised program)."""
    text = jax.jit(function).lower(*args).compile().as_text()
    return collections.Counter(_TARGET.findall(text))


def jitted_seconds(function, *args, repeats):
    """Best time of the jitted `function` on `args` (bench/inputs.py: one warm-up call, then `repeats`)."""
    compiled = jax.jit(function)
    return best_seconds(lambda: jax.block_until_ready(compiled(*args)), repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--molecule", default="uracil")
    parser.add_argument("--basis", default="def2-svp")
    parser.add_argument("--xc", default="b3lyp5")
    parser.add_argument("--grid-level", type=int, default=3)
    parser.add_argument("--jk", default="auto", choices=("auto", "packed", "df", "direct"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()

    molecule = Molecule.get(args.molecule)
    start = time.perf_counter()
    system = System.from_molecule(molecule, basis=args.basis, grid_level=args.grid_level, jk=args.jk)
    build = time.perf_counter() - start
    layout = TokenLayout.from_molecule(molecule, args.basis)
    vocabulary = layout.vocabulary()
    token_ids, positions = layout.token_ids(vocabulary), layout.positions(molecule)
    functional = get_functional(args.xc)
    model = get_model_config("tiny")
    params = init_params(model, len(vocabulary))
    optimizer = make_optimizer(model.dtype)
    step = make_train_step(model, functional, optimizer, ops=ops, dft_dtype="float64", mesh=make_data_mesh(1))

    def features(s):
        return quantum_features(s, token_ids, positions, functional, ops=ops)

    hamiltonian = jax.jit(lambda p, f: f.initial_hamiltonian + hamiltonian_correction(p, model, f.inputs))(
        params, jax.jit(features)(system))

    def forward(h, s):
        return dft_iterations(s, h, functional, ops=ops).terms.total

    forward_backward = jax.value_and_grad(forward)
    step_args = (params, optimizer.init(params), stack_systems([system]), token_ids, positions[None],
                 np.float64(1e-4))
    stages = {
        "features (H_init, biases)": (features, (system,)),
        "DFT iterations, forward": (forward, (hamiltonian, system)),
        "DFT iterations, forward + backward": (forward_backward, (hamiltonian, system)),
    }
    counts = {name: kernel_calls(f, *a) for name, (f, a) in stages.items()}
    counts["training step"] = collections.Counter(
        _TARGET.findall(step.lower(*step_args).compile().as_text()))
    seconds = {name: jitted_seconds(f, *a, repeats=args.repeats) for name, (f, a) in stages.items()}
    seconds["training step"] = best_seconds(lambda: jax.block_until_ready(step(*step_args)), args.repeats)

    d0 = jnp.asarray(system.minao_density)
    rho, grad_rho = ops.density_on_grid(system.basis, system.grid, d0)
    _, _, orbitals = ops.density_matrix(system.core_hamiltonian, system.orthogonalizer, system.n_occ)
    factor = jnp.sqrt(2.0) * orbitals[:, :system.n_occ]
    single = {
        "density_on_grid": jitted_seconds(lambda d: ops.density_on_grid(system.basis, system.grid, d), d0,
                                        repeats=args.repeats),
        "potential_matrix": jitted_seconds(lambda r, g: ops.potential_matrix(system.basis, system.grid, r, g),
                                         rho, grad_rho, repeats=args.repeats),
        f"J/K ({system.jk_engine}), D only": jitted_seconds(lambda d: coulomb_exchange(system, d, ops=ops), d0,
                                                          repeats=args.repeats),
        f"J/K ({system.jk_engine}), with orbitals": jitted_seconds(
            lambda d, f: coulomb_exchange(system, d, ops=ops, density_factor=f), factor @ factor.T, factor,
            repeats=args.repeats),
        "density_matrix": jitted_seconds(lambda f: ops.density_matrix(f, system.orthogonalizer, system.n_occ),
                                       system.core_hamiltonian, repeats=args.repeats),
    }

    targets = sorted({t for c in counts.values() for t in c})
    print(f"{molecule.formula} {args.basis} {args.xc} grid {args.grid_level} ({system.grid.coords.shape[0]} points), "
          f"N = {system.nao}, J/K engine {system.jk_engine}; System build {build:.2f} s\n")
    print("| stage | seconds | grid passes (= AO evaluations) | " + " | ".join(targets) + " |")
    print("| --- | ---: | ---: |" + " ---: |" * len(targets))
    for name in counts:
        passes = sum(counts[name][t] for t in GRID_TARGETS)
        cells = " | ".join(str(counts[name][t]) for t in targets)
        print(f"| {name} | {seconds[name]:.3f} | {passes} | {cells} |")
    print("\n| one call | ms |\n| --- | ---: |")
    for name, value in single.items():
        print(f"| {name} | {value * 1e3:.1f} |")
    grid_pass = 0.5 * (single["density_on_grid"] + single["potential_matrix"])
    passes = sum(counts["training step"][t] for t in GRID_TARGETS)
    print(f"\ngrid passes in the step: {passes} x {grid_pass * 1e3:.0f} ms (mean single pass) = "
          f"{passes * grid_pass:.2f} s of the step's {seconds['training step']:.2f} s (estimate)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"counts": {k: dict(v) for k, v in counts.items()}, "seconds": seconds,
                       "single_call_seconds": single, "system_build_seconds": build}, handle, indent=1)


if __name__ == "__main__":
    main()
