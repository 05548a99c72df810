"""`qpt energy`: a Kohn-Sham DFT energy and its gradient through qpt.ops, checked against PySCF.

1. Builds the System (integrals, grid, minao guess) of a catalog molecule.
2. Converges the SCF with the kernel ops and compares the energy with PySCF's RKS on the same grid.
3. Evaluates the QPT loss E(D3(H)) from H = F(D0) (three differentiable Fock builds) and its gradient
   dE/dH with the kernel ops and with the pure-JAX reference ops, and times both.
"""
import time

import jax
import jax.numpy as jnp
import numpy as np

# qpt and PySCF agree to about 1e-12 Ha on the same grid (tests/dft); beyond this the check fails (exit 1).
AGREEMENT_TOLERANCE_HA = 1e-6


def add_parser(commands):
    parser = commands.add_parser("energy", help="DFT energy + gradient through qpt.ops, checked against PySCF")
    parser.add_argument("--molecule", default="water", help="catalog name, xyz file or xyz text")
    parser.add_argument("--basis", default="def2-svp")
    parser.add_argument("--xc", default="b3lyp5", help="lda, pbe, b3lyp5 or b3lyp")
    parser.add_argument("--grid-level", type=int, default=3)
    parser.add_argument("--jk", choices=("auto", "packed", "df", "direct"), default="auto",
                        help="two-electron engine (default auto: packed ERIs for small molecules, density fitting "
                             "above); PySCF's reference uses density fitting too when the engine is df")
    parser.add_argument("--auxbasis", help="density-fitting basis (default: PySCF's make_auxbasis)")
    parser.add_argument("--skip-reference", action="store_true", help="do not time the pure-JAX ops")
    parser.set_defaults(run=run)


def _timed(function, *args):
    jax.block_until_ready(function(*args))  # compile
    start = time.perf_counter()
    result = jax.block_until_ready(function(*args))
    return result, time.perf_counter() - start


def run(args):
    from pyscf import dft as pyscf_dft

    from qpt import dft, ops
    from qpt.dft.functionals import get_functional
    from qpt.ops import reference
    from qpt.system import Molecule, System

    functional = get_functional(args.xc)  # an unknown name fails here, before any integral is computed
    molecule = Molecule.get(args.molecule)
    start = time.perf_counter()
    system = System.from_molecule(molecule, basis=args.basis, grid_level=args.grid_level, jk=args.jk,
                                  auxbasis=args.auxbasis)
    print(f"System: {system.summary()}  (built in {time.perf_counter() - start:.1f} s)")

    print(f"SCF ({args.xc}) with qpt.ops:")
    start = time.perf_counter()
    result = dft.run_scf(system, args.xc, callback=lambda i, e, g: print(
        f"  iteration {i:3d}  E = {e:.10f} Ha  |[F,D]| = {g:.2e}", flush=True))
    scf_seconds = time.perf_counter() - start
    print(f"  {'converged' if result.converged else 'NOT converged'} in {result.iterations} iterations, "
          f"{scf_seconds:.1f} s (including compilation)")

    mf = pyscf_dft.RKS(molecule.to_pyscf(args.basis))
    if system.jk_engine == "df":
        mf = mf.density_fit(auxbasis=system.two_electron.auxbasis)
    mf.xc, mf.grids.level, mf.conv_tol, mf.verbose = functional.pyscf_xc, args.grid_level, 1e-11, 0
    start = time.perf_counter()
    pyscf_energy = mf.kernel()
    pyscf_seconds = time.perf_counter() - start
    difference = abs(result.energy - pyscf_energy)
    agree = mf.converged and difference <= AGREEMENT_TOLERANCE_HA
    print(f"  qpt   E = {result.energy:.10f} Ha ({functional.name})\n  PySCF E = {pyscf_energy:.10f} Ha "
          f"(xc {functional.pyscf_xc!r}, {pyscf_seconds:.1f} s)\n  |difference| = {difference:.2e} Ha: "
          + ("agree" if agree else f"DISAGREE (tolerance {AGREEMENT_TOLERANCE_HA:g} Ha"
             + ("" if mf.converged else "; PySCF did not converge") + ")"))

    initial_terms, h_init = dft.energy_and_fock(system, system.minao_density, args.xc)
    print("QPT loss E(D3(H)) from H = F(D0), and dE/dH (reverse mode through three Fock builds):")
    for name, backend in (("qpt.ops", ops), ("reference", reference)):
        if name == "reference" and (args.skip_reference or system.jk_engine == "direct"):
            continue  # the integral-direct engine has no pure-JAX twin
        loss = jax.jit(jax.value_and_grad(
            lambda h, s: dft.dft_iterations(s, h, args.xc, ops=backend).terms.total))
        (value, gradient), seconds = _timed(loss, h_init, system)
        print(f"  {name:10s} E = {float(value):.10f} Ha  |dE/dH| = {float(jnp.linalg.norm(gradient)):.6f}"
              f"  {seconds * 1e3:8.1f} ms per value+gradient")
    print(f"  (E(D0) = {float(initial_terms.total):.6f} Ha, converged E = {result.energy:.6f} Ha)")
    return 0 if result.converged and np.isfinite(result.energy) and agree else 1
