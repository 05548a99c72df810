"""The GPU check's bench table: each op on the GPU vs the same op's CPU kernel vs gpu4pyscf where that
computes the same thing, for water, uracil and aspirin (def2-svp, minao density, B3LYP5 on a grid of level
3, float64), and one QPT training step (uracil, tiny model).

    python bench/gpu_table.py [--json gpu_bench.json] [--molecules water uracil aspirin] [--repeats 5]

Run by scripts/gpu_check.sh. A time is the best of --repeats calls after a warm-up call (compilation and
host-device transfers excluded: the inputs are placed on each device first, and every call is waited for).
Each row also gives max |GPU - CPU| and, where gpu4pyscf ran, max |GPU - gpu4pyscf| (J/K; E_xc for the XC
potential, as the two grids are built separately; the loss for the training step), so a fast but wrong
kernel shows in the table.
gpu4pyscf (`gpu4pyscf-cuda13x`, optional) is called as its SCF code calls itself: scf.jk.get_jk with the
screening setup (_VHFOpt) built once outside the timing, dft.numint.NumInt.nr_rks on its own Grids of the
same level. It has no packed-ERI path: its direct get_jk stands beside `jk` too, computing the same J/K.
Without a GPU only the CPU column is filled, and the table says so.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import jax
import numpy as np
from inputs import best_seconds

jax.config.update("jax_enable_x64", True)

BASIS, XC, GRID_LEVEL = "def2-svp", "b3lyp5", 3
MOLECULES = ("water", "uracil", "aspirin")
TRAIN_MOLECULE, TRAIN_MODEL = "uracil", "tiny"


def _devices():
    cpu = jax.devices("cpu")[0]
    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    return cpu, (gpus[0] if gpus else None)


def _gpu4pyscf():
    """The gpu4pyscf modules the table uses, or the reason they cannot be used."""
    try:
        import cupy
        from gpu4pyscf.dft import Grids
        from gpu4pyscf.dft import numint as g4_numint
        from gpu4pyscf.scf import jk as g4_jk
    except Exception as error:  # not installed, or no usable CUDA for it
        return None, f"gpu4pyscf missing ({type(error).__name__}: {error})"
    return {"cupy": cupy, "Grids": Grids, "numint": g4_numint, "jk": g4_jk}, None


class _Case:
    """One molecule's inputs, built once with PySCF on the host."""

    def __init__(self, name):
        from pyscf.scf.hf import init_guess_by_minao

        from qpt.system import Molecule
        from qpt.system.basis import basis_shells_from_mol
        from qpt.system.grid import Grid

        self.name = name
        self.mol = Molecule.from_catalog(name).to_pyscf(BASIS)
        start = time.perf_counter()
        self.eri = self.mol.intor("int2e", aosym="s8")
        self.eri_seconds = time.perf_counter() - start
        self.density = init_guess_by_minao(self.mol)
        self.basis = basis_shells_from_mol(self.mol)
        self.grid = Grid.from_pyscf(self.mol, GRID_LEVEL)


def _qpt_functions():
    """op name -> (function of a _Case's arrays placed on a device, which inputs it takes)."""
    from qpt import ops
    from qpt.dft.functionals import get_functional
    from qpt.dft.xc import xc_energy_and_potential

    functional = get_functional(XC)

    def density_matrix(fock, x, n_occ):
        return ops.density_matrix(fock, x, n_occ)[0]

    return {
        "jk": (lambda c: jax.jit(ops.jk), lambda c: (c.eri, c.density)),
        "jk_direct": (lambda c: jax.jit(ops.jk_direct), lambda c: (c.basis, c.density)),
        "density_on_grid": (lambda c: jax.jit(ops.density_on_grid), lambda c: (c.basis, c.grid, c.density)),
        "potential_matrix": (lambda c: jax.jit(ops.potential_matrix),
                             lambda c: (c.basis, c.grid, c.grid.weights, c.grid.weights[:, None] * np.ones(3))),
        "xc_potential": (lambda c: jax.jit(lambda b, g, d: xc_energy_and_potential(functional, b, g, d, ops)),
                         lambda c: (c.basis, c.grid, c.density)),
        "density_matrix": (lambda c: jax.jit(lambda f, x: density_matrix(f, x, c.mol.nelectron // 2)),
                           lambda c: (_core_hamiltonian(c.mol), _orthogonalizer(c.mol))),
    }


def _core_hamiltonian(mol):
    return mol.intor_symmetric("int1e_kin") + mol.intor_symmetric("int1e_nuc")


def _orthogonalizer(mol):
    overlap = mol.intor_symmetric("int1e_ovlp")
    return np.linalg.inv(np.linalg.cholesky(overlap)).T


def _run_on(device, function, arguments, repeats):
    placed = jax.device_put(arguments, device)
    result = jax.block_until_ready(function(*placed))
    seconds = best_seconds(lambda: jax.block_until_ready(function(*placed)), repeats)
    return seconds, jax.tree_util.tree_map(np.asarray, result)


def _largest_difference(a, b):
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in
               zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def _gpu4pyscf_row(g4, op, case, qpt_result, repeats):
    """(seconds, max difference from qpt's GPU result, what was called) for ops gpu4pyscf also computes."""
    cupy = g4["cupy"]
    if op in ("jk", "jk_direct"):
        options = g4["jk"]._VHFOpt(case.mol).build()
        density = cupy.asarray(case.density)

        def call():
            result = g4["jk"].get_jk(case.mol, density, hermi=1, vhfopt=options)
            cupy.cuda.get_current_stream().synchronize()
            return result

        j, k = call()
        seconds = best_seconds(call, repeats)
        return seconds, _largest_difference(qpt_result, (j.get(), k.get())), "scf.jk.get_jk (direct)"
    if op == "xc_potential":
        grids = g4["Grids"](case.mol)
        grids.level = GRID_LEVEL
        grids.build()
        numint = g4["numint"].NumInt()
        density = cupy.asarray(case.density)

        def call():
            result = numint.nr_rks(case.mol, grids, XC, density, hermi=1)
            cupy.cuda.get_current_stream().synchronize()
            return result

        _, e_xc, _ = call()
        seconds = best_seconds(call, repeats)
        return seconds, abs(float(np.asarray(qpt_result[0])) - float(np.asarray(e_xc).ravel()[0])), \
            "dft.numint.NumInt.nr_rks (own grid; difference in E_xc)"
    return None


def _add_gpu4pyscf(row, g4, op, case, qpt_result, repeats):
    try:
        compared = _gpu4pyscf_row(g4, op, case, qpt_result, repeats)
    except Exception as error:  # gpu4pyscf's API moves; its failure must not hide qpt's numbers
        row["gpu4pyscf_error"] = f"{type(error).__name__}: {error}"
        return
    if compared is not None:
        seconds, difference, called = compared
        row.update(gpu4pyscf_ms=1e3 * seconds, gpu_vs_gpu4pyscf_max_abs=difference, gpu4pyscf_call=called)


def op_rows(cases, cpu, gpu, g4, repeats):
    functions = _qpt_functions()
    rows = []
    for case in cases:
        for op, (make, inputs) in functions.items():
            row = {"op": op, "molecule": case.name, "nao": int(case.mol.nao), "grid_points": case.grid.size}
            try:
                function, arguments = make(case), inputs(case)
                cpu_seconds, cpu_result = _run_on(cpu, function, arguments, repeats)
                row["cpu_ms"] = 1e3 * cpu_seconds
                if gpu is not None:
                    gpu_seconds, gpu_result = _run_on(gpu, function, arguments, repeats)
                    row["gpu_ms"] = 1e3 * gpu_seconds
                    row["gpu_vs_cpu_max_abs"] = _largest_difference(gpu_result, cpu_result)
                    row["speedup_vs_cpu"] = row["cpu_ms"] / row["gpu_ms"]
                    if g4 is not None:
                        _add_gpu4pyscf(row, g4, op, case, gpu_result, repeats)
            except Exception as error:  # one failing row must not hide the others
                row["error"] = f"{type(error).__name__}: {error}"
            rows.append(row)
            print(_format_row(row), flush=True)
            if "gpu4pyscf_error" in row:
                print(f"  gpu4pyscf failed on {op}: {row['gpu4pyscf_error']}", flush=True)
    return rows


def train_step_rows(cpu, gpu, repeats):
    """One QPT training step (quantum features, network, three Fock builds forward and backward, AdamW) on a
    one-device mesh of each platform, from one System built beforehand."""
    from qpt import ops
    from qpt.dft.functionals import get_functional
    from qpt.model import TokenLayout, get_model_config, init_params
    from qpt.system import Molecule, System
    from qpt.data.batch import stack_systems
    from qpt.train.optimizer import make_optimizer
    from qpt.train.parallel import make_data_mesh
    from qpt.train.trainer import make_train_step

    molecule = Molecule.from_catalog(TRAIN_MOLECULE)
    system = System.from_molecule(molecule, basis=BASIS, grid_level=GRID_LEVEL)
    layout = TokenLayout.from_molecule(molecule, BASIS)
    vocabulary = layout.vocabulary()
    model_config = get_model_config(TRAIN_MODEL)
    optimizer = make_optimizer(model_config.dtype)
    params = init_params(model_config, len(vocabulary))
    arguments = (params, optimizer.init(params), stack_systems([system]), layout.token_ids(vocabulary),
                 layout.positions(molecule)[None], np.float64(1e-4))
    row = {"op": f"train_step ({TRAIN_MODEL} model)", "molecule": TRAIN_MOLECULE, "nao": system.nao,
           "grid_points": system.grid.size}
    results = {}
    try:
        for name, device in (("cpu", cpu), ("gpu", gpu)):
            if device is None:
                continue
            with jax.default_device(device):
                step = make_train_step(model_config, get_functional(XC), optimizer, ops=ops, dft_dtype="float64",
                                       mesh=make_data_mesh(1))
                placed = jax.device_put(arguments, device)
                results[name] = jax.tree_util.tree_map(np.asarray, jax.block_until_ready(step(*placed)))
                row[f"{name}_ms"] = 1e3 * best_seconds(lambda: jax.block_until_ready(step(*placed)), repeats)
        if "gpu" in results:  # the step's loss, E(D3) in Ha
            row["gpu_vs_cpu_max_abs"] = abs(float(results["gpu"][2].loss) - float(results["cpu"][2].loss))
            row["speedup_vs_cpu"] = row["cpu_ms"] / row["gpu_ms"]
    except Exception as error:
        row["error"] = f"{type(error).__name__}: {error}"
    print(_format_row(row), flush=True)
    return [row]


def _cell(value, digits=1):
    if value is None:
        return "-"
    return f"{value:.1e}" if digits == "e" else f"{value:.{digits}f}"


HEADER = ("| op | molecule | nao | grid | qpt GPU ms | qpt CPU ms | GPU speed-up | gpu4pyscf GPU ms | "
          "max abs GPU-CPU | max abs GPU-gpu4pyscf |")


def _format_row(row):
    if "error" in row:
        return f"| {row['op']} | {row['molecule']} | {row['nao']} | {row['grid_points']} | error: {row['error']} |"
    return (f"| {row['op']} | {row['molecule']} | {row['nao']} | {row['grid_points']} | {_cell(row.get('gpu_ms'), 2)} | "
            f"{_cell(row.get('cpu_ms'), 2)} | {_cell(row.get('speedup_vs_cpu'))} | "
            f"{'error' if 'gpu4pyscf_error' in row else _cell(row.get('gpu4pyscf_ms'), 2)} | "
            f"{_cell(row.get('gpu_vs_cpu_max_abs'), 'e')} | "
            f"{_cell(row.get('gpu_vs_gpu4pyscf_max_abs'), 'e')} |")


def _write_atomically(path, text):
    """The whole file or none of it: a temporary file beside `path`, then os.replace onto it."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".gpu_bench.")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the table (and the machine it ran on) to this file")
    parser.add_argument("--molecules", nargs="+", default=list(MOLECULES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-train-step", action="store_true", help="leave out the training step")
    args = parser.parse_args(argv)

    import qpt_kernels

    cpu, gpu = _devices()
    g4, g4_missing = _gpu4pyscf() if gpu is not None else (None, None)
    notes = []
    if gpu is None:
        notes.append("JAX sees no GPU: CPU column only")
    if g4_missing:
        notes.append(g4_missing)
    print(f"qpt GPU bench: {BASIS}, {XC}, grid level {GRID_LEVEL}, float64, best of {args.repeats}; "
          f"GPU {gpu.device_kind if gpu is not None else 'none'}, CPU {platform.processor() or platform.machine()}")
    for note in notes:
        print(f"note: {note}")
    print(HEADER)
    print("| --- " * (HEADER.count("|") - 1) + "|")
    cases = [_Case(name) for name in args.molecules]
    rows = op_rows(cases, cpu, gpu, g4, args.repeats)
    if not args.no_train_step:
        rows += train_step_rows(cpu, gpu, max(2, args.repeats // 2))
    report = {
        "basis": BASIS, "xc": XC, "grid_level": GRID_LEVEL, "dtype": "float64", "repeats": args.repeats,
        "gpu": gpu.device_kind if gpu is not None else None, "jax": jax.__version__,
        "qpt_kernels": qpt_kernels.build_info(), "notes": notes,
        "eri_build_seconds": {case.name: case.eri_seconds for case in cases},
        "rows": rows,
    }
    if args.json:
        _write_atomically(args.json, json.dumps(report, indent=2, default=str))
        print(f"wrote {args.json}")
    return 1 if any("error" in row for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
