"""Differentiable closed-shell Kohn-Sham DFT on top of qpt.ops: functionals, E(D), F(D), SCF, iterations."""
from .energy import EnergyTerms, energy, energy_and_fock, fock
from .functionals import get_functional
from .iterations import PAPER_MIXING, IterationResult, dft_iterations
from .scf import ScfResult, run_scf

__all__ = ["EnergyTerms", "energy", "energy_and_fock", "fock", "get_functional", "PAPER_MIXING",
           "IterationResult", "dft_iterations", "ScfResult", "run_scf"]
