"""Accuracy of a predicted Kohn-Sham Hamiltonian against a converged SCF label, in the units papers use.

Per geometry (then averaged over geometries: every geometry has the same number of entries, so the mean
of per-geometry MAEs is the MAE over all entries of the set):
- hamiltonian_mae (µHa): mean |F_pred - F_label| over all N^2 matrix elements in the AO basis. The
  "Hamiltonian MAE" of SchNOrb (Schütt et al., Nat. Commun. 10, 5024, 2019), PhiSNet and QHNet (Yu et al.,
  ICML 2023, Table 1), and of the QPT paper (Mathiasen et al., 2024, arXiv 2402.04030).
- orbital_energy_mae (µHa): mean |eps_pred - eps_label| over the n_occ occupied orbitals, eps the
  eigenvalues of F C = S C eps. The orbital energy MAE of SchNOrb and QHNet (occupied orbitals, as in
  QHNet's evaluation code).
- orbital_energy_mae_all (µHa): the same over all N orbitals, occupied and virtual: what the QPT code
  averaged for its reported orbital energy MAE (409.21 µHa for uracil).
- energy_mae (meV): |E_pred - E_label|, E_pred the energy of the prediction's density (QPT: E(D3)), the
  QPT paper's energy MAE.
- orbital_cosine: QHNet's orbital coefficient similarity: the mean over occupied orbitals of
  |c_pred . c_label| / (|c_pred| |c_label|) with c the AO coefficient vectors (1 is perfect; |.| because
  an eigenvector's sign is arbitrary).
The W = 0 baseline (H = H_init) is scored with the same functions (qpt.eval.evaluate).
"""
from __future__ import annotations

import numpy as np
from pyscf.data.nist import HARTREE2EV

MICRO_HARTREE_PER_HARTREE = 1e6
MEV_PER_HARTREE = HARTREE2EV * 1e3

METRICS = (
    ("hamiltonian_mae", "H MAE [µHa]", "{:.1f}"),
    ("orbital_energy_mae", "eps_occ MAE [µHa]", "{:.1f}"),
    ("orbital_energy_mae_all", "eps_all MAE [µHa]", "{:.1f}"),
    ("energy_mae", "E MAE [meV]", "{:.3f}"),
    ("orbital_cosine", "|cos| occ", "{:.6f}"),
)


def orbitals(fock, orthogonalizer):
    """(eps [N], C [N, N]) of F C = S C eps via X^T F X (X^T S X = I), ascending."""
    fock = np.asarray(fock, dtype=np.float64)
    x = np.asarray(orthogonalizer, dtype=np.float64)
    f_orth = x.T @ fock @ x
    eps, c_orth = np.linalg.eigh((f_orth + f_orth.T) / 2)
    return eps, x @ c_orth


def geometry_metrics(fock, energy, label, orthogonalizer, n_occ: int) -> dict:
    """Metrics of one prediction (Fock matrix and energy in Hartree) against one Label."""
    fock = np.asarray(fock, dtype=np.float64)
    eps, c = orbitals(fock, orthogonalizer)
    c_label = np.asarray(label.orbitals)[:, :n_occ]
    c = c[:, :n_occ]
    overlap = np.abs(np.sum(c * c_label, axis=0)) / (np.linalg.norm(c, axis=0) * np.linalg.norm(c_label, axis=0))
    return {
        "hamiltonian_mae": float(np.mean(np.abs(fock - label.fock))) * MICRO_HARTREE_PER_HARTREE,
        "orbital_energy_mae": float(np.mean(np.abs(eps[:n_occ] - label.orbital_energies[:n_occ])))
        * MICRO_HARTREE_PER_HARTREE,
        "orbital_energy_mae_all": float(np.mean(np.abs(eps - label.orbital_energies))) * MICRO_HARTREE_PER_HARTREE,
        "energy_mae": abs(float(energy) - label.energy) * MEV_PER_HARTREE,
        "orbital_cosine": float(np.mean(overlap)),
    }


def mean_metrics(per_geometry) -> dict:
    """Averages over geometries (MAEs of MAEs are MAEs: every geometry has the same number of entries)."""
    per_geometry = list(per_geometry)
    if not per_geometry:
        raise ValueError("no geometries to average")
    return {name: float(np.mean([m[name] for m in per_geometry])) for name, _, _ in METRICS}


def format_table(rows) -> str:
    """rows: [(name, mean metrics dict)] -> an aligned text table."""
    name_width = max(len("model"), *(len(name) for name, _ in rows))
    header = f"{'model':<{name_width}}  " + "  ".join(f"{title:>17}" for _, title, _ in METRICS)
    lines = [header, "-" * len(header)]
    for name, metrics in rows:
        cells = "  ".join(f"{fmt.format(metrics[key]):>17}" for key, _, fmt in METRICS)
        lines.append(f"{name:<{name_width}}  {cells}")
    return "\n".join(lines)
