"""Where one QPT training step spends its time, how many kernel calls it makes, and what tabulating the grid
(qpt.ops.tabulate_grid) changes, both ways in one run.

    python bench/step_profile.py [--molecules uracil,ethanol,benzene,aspirin] [--jk auto] [--repeats 3]
                                 [--json profile.json]

For each molecule, two configurations of the same step on the same System:
- "evaluated": every qpt_density_on_grid / qpt_potential_matrix call evaluates the AO blocks on the fly,
  so each grid pass is one AO evaluation (the step as it was before the tables);
- "tabulated": the step tabulates each geometry's grid once (qpt_tabulate_grid, the one AO evaluation)
  and its passes (qpt_*_tabulated) read the table.

1. Kernel calls per stage, counted in the compiled programs (XLA custom calls by FFI target): the quantum
   features, the DFT iterations forward, forward + backward, and the whole jitted training step (the
   trainer's own, qpt.train.trainer.make_train_step: batch of one, one-device mesh, tiny model). Grid passes
   are the density and potential calls of either kind; AO evaluations are the on-the-fly passes plus the
   tabulations.
2. Seconds per stage (min of --repeats after compilation), and per single grid pass of each kind, next to
   the dense GEMM of one pass, (G x N) @ (N x N) in float64 by XLA on this machine: the roofline a pass
   without screening would have (screening skips some of that work, the AO evaluation and the gradient
   terms add some).
3. The loss and its parameter gradient from both configurations, and their largest differences.

A script, not a benchmark: its output is the table for the README and the issue notes.
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
from qpt.dft.xc import grid_table_size, tabulate_system_grid
from qpt.model import TokenLayout, get_model_config, hamiltonian_correction, init_params
from qpt.system import Molecule, System
from qpt.train.features import quantum_features
from qpt.train.optimizer import make_optimizer
from qpt.train.parallel import make_data_mesh
from qpt.train.trainer import make_train_step

_TARGET = re.compile(r'custom_call_target="(qpt_[a-z_]+)"')
PASS_TARGETS = ("qpt_density_on_grid", "qpt_potential_matrix", "qpt_density_on_grid_tabulated",
                "qpt_potential_matrix_tabulated")
EVALUATING_TARGETS = ("qpt_density_on_grid", "qpt_potential_matrix", "qpt_tabulate_grid")
CONFIGURATIONS = ("evaluated", "tabulated")


def kernel_calls(function, *args) -> collections.Counter:
    """FFI targets called by the compiled `function` (one count per call site of the optimised program)."""
    text = jax.jit(function).lower(*args).compile().as_text()
    return collections.Counter(_TARGET.findall(text))


def jitted_seconds(function, *args, repeats):
    """Best time of the jitted `function` on `args` (bench/inputs.py: one warm-up call, then `repeats`)."""
    compiled = jax.jit(function)
    return best_seconds(lambda: jax.block_until_ready(compiled(*args)), repeats)


def profile(name, args):
    """Counts, stage seconds, single-pass seconds and the loss/gradient check of one molecule."""
    molecule = Molecule.get(name)
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
    table_bytes = grid_table_size(system, "float64")

    def tabulated(s):
        return tabulate_system_grid(s, ops, "float64")

    def features(s, tabulate):
        return quantum_features(tabulated(s) if tabulate else s, token_ids, positions, functional, ops=ops)

    hamiltonian = jax.jit(lambda p, f: f.initial_hamiltonian + hamiltonian_correction(p, model, f.inputs))(
        params, jax.jit(lambda s: features(s, False))(system))

    def forward(h, s, tabulate):
        return dft_iterations(tabulated(s) if tabulate else s, h, functional, ops=ops).terms.total

    step_args = (params, optimizer.init(params), stack_systems([system]), token_ids, positions[None],
                 np.float64(1e-4))
    result = {"formula": molecule.formula, "nao": system.nao, "points": int(system.grid.coords.shape[0]),
              "jk": system.jk_engine, "system_build_seconds": build, "table_bytes": table_bytes,
              "counts": {}, "seconds": {}}
    updates = {}
    for configuration in CONFIGURATIONS:
        tabulate = configuration == "tabulated"
        step = make_train_step(model, functional, optimizer, ops=ops, dft_dtype="float64", mesh=make_data_mesh(1),
                               grid_table_bytes=table_bytes if tabulate else 0)
        stages = {
            "features (H_init, biases)": (lambda s, t=tabulate: features(s, t), (system,)),
            "DFT iterations, forward": (lambda h, s, t=tabulate: forward(h, s, t), (hamiltonian, system)),
            "DFT iterations, forward + backward": (
                jax.value_and_grad(lambda h, s, t=tabulate: forward(h, s, t)), (hamiltonian, system)),
        }
        counts = {stage: kernel_calls(f, *a) for stage, (f, a) in stages.items()}
        counts["training step"] = collections.Counter(_TARGET.findall(step.lower(*step_args).compile().as_text()))
        seconds = {stage: jitted_seconds(f, *a, repeats=args.repeats) for stage, (f, a) in stages.items()}
        seconds["training step"] = best_seconds(lambda: jax.block_until_ready(step(*step_args)), args.repeats)
        new_params, _, stats = step(*step_args)
        updates[configuration] = (float(stats.loss), new_params)
        result["counts"][configuration] = {k: dict(v) for k, v in counts.items()}
        result["seconds"][configuration] = seconds

    (loss_a, params_a), (loss_b, params_b) = updates["evaluated"], updates["tabulated"]
    # The step returns updated parameters; their difference over the same update is the gradient's (Adam's
    # first step divides by |g|, so parameter differences bound the gradient differences' effect).
    result["loss_difference"] = abs(loss_a - loss_b)
    result["parameter_difference"] = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(
        jax.tree_util.tree_leaves(params_a), jax.tree_util.tree_leaves(params_b)))
    grad = jax.jit(jax.grad(lambda h, s, t: forward(h, s, t)), static_argnums=2)
    result["dft_gradient_difference"] = float(jnp.max(jnp.abs(grad(hamiltonian, system, False)
                                                             - grad(hamiltonian, system, True))))

    d0 = jnp.asarray(system.minao_density)
    table = jax.jit(lambda s: ops.tabulate_grid(s.basis, s.grid))(system)
    rho, grad_rho = ops.density_on_grid(system.basis, system.grid, d0)
    ao = jnp.ones((system.grid.coords.shape[0], system.nao))
    single = {
        "density_on_grid": jitted_seconds(lambda d: ops.density_on_grid(system.basis, system.grid, d), d0,
                                        repeats=args.repeats),
        "potential_matrix": jitted_seconds(lambda r, g: ops.potential_matrix(system.basis, system.grid, r, g),
                                         rho, grad_rho, repeats=args.repeats),
        "density_on_grid (tabulated)": jitted_seconds(lambda t, d: ops.density_on_grid(system.basis, t, d), table,
                                                    d0, repeats=args.repeats),
        "potential_matrix (tabulated)": jitted_seconds(
            lambda t, r, g: ops.potential_matrix(system.basis, t, r, g), table, rho, grad_rho, repeats=args.repeats),
        "tabulate_grid": jitted_seconds(lambda s: ops.tabulate_grid(s.basis, s.grid), system, repeats=args.repeats),
        "dense GEMM (G x N) @ (N x N)": jitted_seconds(lambda a, d: a @ d, ao, d0, repeats=args.repeats),
    }
    result["single_call_seconds"] = single
    return result


def passes(counts):
    return sum(counts.get(t, 0) for t in PASS_TARGETS)


def evaluations(counts):
    return sum(counts.get(t, 0) for t in EVALUATING_TARGETS)


def report(r):
    print(f"\n## {r['formula']}: N = {r['nao']}, {r['points']} grid points, J/K engine {r['jk']}, "
          f"table {r['table_bytes'] / 1e6:.0f} MB; System build {r['system_build_seconds']:.2f} s\n")
    targets = sorted({t for c in r["counts"].values() for stage in c.values() for t in stage})
    print("| configuration | stage | seconds | grid passes | AO evaluations | " + " | ".join(targets) + " |")
    print("| --- | --- | ---: | ---: | ---: |" + " ---: |" * len(targets))
    for configuration in CONFIGURATIONS:
        for stage, counts in r["counts"][configuration].items():
            cells = " | ".join(str(counts.get(t, 0)) for t in targets)
            print(f"| {configuration} | {stage} | {r['seconds'][configuration][stage]:.3f} | {passes(counts)} | "
                  f"{evaluations(counts)} | {cells} |")
    print("\n| one call | ms |\n| --- | ---: |")
    for name, value in r["single_call_seconds"].items():
        print(f"| {name} | {value * 1e3:.1f} |")
    print(f"\nloss difference {r['loss_difference']:.1e} Ha, updated-parameter difference "
          f"{r['parameter_difference']:.1e}, dE/dH difference {r['dft_gradient_difference']:.1e}")


def summary(results):
    print("\n| molecule | N | points | step evaluated (s) | step tabulated (s) | speed-up | AO evaluations "
          "| pass evaluated (ms) | pass tabulated (ms) | dense GEMM (ms) | tabulated pass / GEMM |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for r in results:
        s, single = r["seconds"], r["single_call_seconds"]
        before, after = s["evaluated"]["training step"], s["tabulated"]["training step"]
        evaluated = 0.5 * (single["density_on_grid"] + single["potential_matrix"])
        tabulated = 0.5 * (single["density_on_grid (tabulated)"] + single["potential_matrix (tabulated)"])
        gemm = single["dense GEMM (G x N) @ (N x N)"]
        ao = (f"{evaluations(r['counts']['evaluated']['training step'])} -> "
              f"{evaluations(r['counts']['tabulated']['training step'])}")
        print(f"| {r['formula']} | {r['nao']} | {r['points']} | {before:.3f} | {after:.3f} | {before / after:.2f}x | "
              f"{ao} | {evaluated * 1e3:.1f} | {tabulated * 1e3:.1f} | {gemm * 1e3:.1f} | {tabulated / gemm:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--molecules", default="uracil", help="comma-separated catalog names or xyz files")
    parser.add_argument("--basis", default="def2-svp")
    parser.add_argument("--xc", default="b3lyp5")
    parser.add_argument("--grid-level", type=int, default=3)
    parser.add_argument("--jk", default="auto", choices=("auto", "packed", "df", "direct"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()
    results = []
    for name in args.molecules.split(","):
        results.append(profile(name, args))
        report(results[-1])
    summary(results)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
