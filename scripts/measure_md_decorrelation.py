"""Measures how fast thermal MD geometries decorrelate, to choose the frame spacing of qpt's thermal
geometry streams (qpt.data.thermal.DEFAULT_SPACING_FS).

Method: for each molecule, `--trajectories` Langevin trajectories (GFN2-xTB via tblite, the settings of
qpt.data.thermal_settings: 500 K, 0.5 fs, friction 0.05/fs unless given) start from the equilibrium geometry,
are equilibrated (equilibration_fs) and then record every interatomic distance r_ij at every step for
`--picoseconds`. For each pair, the normalised autocorrelation C(tau) = <dr(t) dr(t + tau)> / <dr^2>
(dr = r - <r>, averaged over time origins and trajectories) is computed by FFT. Because bond
stretches and bends oscillate, C(tau) swings through zero long before the geometry is independent, so
the decorrelation time of a pair is the envelope's: the first lag after which |C| stays below
`--threshold` (default 0.1) for the rest of the window (`--window-fs`). The script prints, per molecule,
the median and the largest decorrelation time over pairs, and the pair with the largest.

    python scripts/measure_md_decorrelation.py --molecules water ethanol
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def distances_along_trajectory(molecule, settings, seed, n_steps):
    from ase import Atoms, units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import thermalize_momenta
    from tblite.ase import TBLite
    from threadpoolctl import threadpool_limits

    from qpt.data.thermal import _ANGSTROM_PER_BOHR

    threadpool_limits(1, user_api="openmp")  # as qpt.data.thermal runs tblite

    atoms = Atoms(molecule.symbols, positions=molecule.coordinates * _ANGSTROM_PER_BOHR)
    atoms.calc = TBLite(method="GFN2-xTB", charge=molecule.charge, multiplicity=molecule.spin + 1, verbosity=0)
    thermalize_momenta(atoms, settings.temperature_k, rng=np.random.default_rng([seed, 0]))
    dynamics = Langevin(atoms, settings.timestep_fs * units.fs, temperature_K=settings.temperature_k,
                        friction=settings.friction_per_fs / units.fs, fixcm=False,
                        rng=np.random.default_rng([seed, 1]))
    dynamics.run(settings.equilibration_steps)
    i, j = np.triu_indices(len(atoms), k=1)
    record = np.empty((n_steps, len(i)))
    for step in range(n_steps):
        dynamics.run(1)
        positions = atoms.get_positions()
        record[step] = np.linalg.norm(positions[i] - positions[j], axis=1)
    return record, list(zip(i, j))


def autocorrelation(series, max_lag):
    """Normalised autocorrelation [max_lag, pairs] of series [steps, pairs], by FFT (zero padded)."""
    x = series - series.mean(axis=0)
    n = len(x)
    spectrum = np.fft.rfft(x, n=2 * n, axis=0)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), axis=0)[:max_lag]
    acf /= (n - np.arange(max_lag))[:, None]   # unbiased: the number of time origins per lag
    return acf, acf[0]


def envelope_time(acf, threshold):
    """First lag index after which |acf| stays below threshold (len(acf) if never)."""
    above = np.nonzero(np.abs(acf) >= threshold)[0]
    return int(above[-1]) + 1 if len(above) else 0


def main(argv=None):
    from qpt.data.thermal import ThermalSettings
    from qpt.system import Molecule

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--molecules", nargs="+", default=["water", "ethanol"])
    parser.add_argument("--trajectories", type=int, default=4)
    parser.add_argument("--picoseconds", type=float, default=5.0, help="recorded time per trajectory")
    parser.add_argument("--window-fs", type=float, default=1000.0, help="longest lag considered")
    parser.add_argument("--threshold", type=float, default=0.1)
    parser.add_argument("--temperature", type=float, default=None, help="K (default: qpt's)")
    parser.add_argument("--friction", type=float, default=None, help="1/fs (default: qpt's)")
    args = parser.parse_args(argv)
    settings = ThermalSettings()
    if args.temperature is not None:
        settings = ThermalSettings(temperature_k=args.temperature, timestep_fs=settings.timestep_fs,
                                   friction_per_fs=settings.friction_per_fs, spacing_fs=settings.spacing_fs)
    if args.friction is not None:
        settings = ThermalSettings(temperature_k=settings.temperature_k, timestep_fs=settings.timestep_fs,
                                   friction_per_fs=args.friction, spacing_fs=settings.spacing_fs)
    dt = settings.timestep_fs
    n_steps = int(round(args.picoseconds * 1000 / dt))
    max_lag = int(round(args.window_fs / dt))
    print(f"Langevin {settings.temperature_k:g} K, dt {dt:g} fs, friction {settings.friction_per_fs:g}/fs; "
          f"{args.trajectories} trajectories x {args.picoseconds:g} ps after {settings.equilibration_steps * dt:g} fs "
          f"equilibration; |C| < {args.threshold:g} for all lags up to {args.window_fs:g} fs")
    print(f"{'molecule':<16} {'median pair [fs]':>16} {'slowest pair [fs]':>17}  slowest pair   [{'s':>4}]")
    for name in args.molecules:
        molecule = Molecule.get(name)
        start = time.perf_counter()
        acf_sum, variance_sum = 0.0, 0.0
        for seed in range(args.trajectories):
            record, pairs = distances_along_trajectory(molecule, settings, seed, n_steps)
            acf, variance = autocorrelation(record, max_lag)
            acf_sum, variance_sum = acf_sum + acf, variance_sum + variance
        normalised = acf_sum / variance_sum
        times = np.array([envelope_time(normalised[:, p], args.threshold) for p in range(len(pairs))]) * dt
        slowest = int(np.argmax(times))
        a, b = pairs[slowest]
        label = f"{molecule.symbols[a]}{a}-{molecule.symbols[b]}{b}"
        print(f"{name:<16} {np.median(times):>16.1f} {times[slowest]:>17.1f}  {label:<13} "
              f"[{time.perf_counter() - start:4.0f}]")


if __name__ == "__main__":
    main()
