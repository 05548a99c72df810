"""The two types of the package: a libxc-style Component and a Functional that mixes them.

Both are frozen (hashable) dataclasses, so a Functional can be a static argument of `jax.jit`.
"""
from dataclasses import dataclass
from typing import Callable

import jax.numpy as jnp

from qpt.dft.functionals.safe_math import density_floor, floating_inputs, screened


@dataclass(frozen=True)
class Component:
    """One libxc functional (spin-unpolarised), e.g. Slater exchange or LYP correlation.

    `formula(rho, sigma)` is the energy per volume for rho > 0, sigma >= 0. Calling the component
    screens it the way libxc 7 does: the result is 0 below `density_threshold` (libxc's default
    `dens_threshold` for this functional). Exchange is screened on the spin density, as libxc's
    spin-scaled exchange is: it vanishes when rho / 2 <= threshold; correlation vanishes when
    rho < threshold. Like libxc, sigma is raised to at least sigma_threshold**2 = threshold**(8/3)
    (libxc's default sigma_threshold is dens_threshold**(4/3)); harmless for most, this floor is
    visible in PBE correlation at rho < 1e-9, where t^2 of the floor is no longer negligible.
    """

    libxc_name: str
    is_gga: bool
    density_threshold: float
    screen_spin_density: bool
    formula: Callable

    def __call__(self, rho, sigma=None):
        if self.is_gga and sigma is None:
            raise ValueError(f"{self.libxc_name} is a GGA: it needs sigma")
        rho, sigma = floating_inputs(rho, sigma)
        threshold = density_floor(self.density_threshold, rho.dtype)
        keep = rho / 2 > threshold if self.screen_spin_density else rho >= threshold
        return screened(self.formula, rho, sigma, keep, sigma_floor=threshold ** (8.0 / 3.0))


@dataclass(frozen=True)
class Functional:
    """An exchange-correlation functional for closed shells.

    name: the canonical registry name. exact_exchange: fraction a of Hartree-Fock exchange to add
    (E_x^HF scaled by a, i.e. -a/4 tr(D K)). components: (weight, Component) pairs summed pointwise.
    pyscf_xc: the `mf.xc` string with which PySCF computes this same functional (qpt's "lda" is PySCF's
    "lda,vwn", not its bare "lda"), for every comparison with PySCF.
    """

    name: str
    exact_exchange: float
    components: tuple
    pyscf_xc: str

    @property
    def is_gga(self):
        """Whether the energy density depends on sigma (so the grid needs density gradients)."""
        return any(component.is_gga for _, component in self.components)

    def energy_density(self, rho, sigma=None):
        """e(rho, sigma) = rho * eps_xc, energy per volume, so E_xc = sum_g w_g e_g.

        rho >= 0 is the total density and sigma = |grad rho|^2 (may be None for an LDA), arrays of one
        shape, float32 or float64 (the result has the same dtype). Pointwise pure JAX: jit, vmap, grad,
        jvp and Hessians all work and stay finite at rho = 0 and sigma = 0.
        """
        if self.is_gga and sigma is None:
            raise ValueError(f"{self.name} is a GGA: energy_density needs sigma")
        rho, sigma = floating_inputs(rho, sigma)
        total = jnp.zeros_like(rho)
        for weight, component in self.components:
            total = total + weight * component(rho, sigma)
        return total
