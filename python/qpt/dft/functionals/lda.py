"""LDA components: Slater exchange and the VWN correlation fits (spin-unpolarised, as in libxc)."""
import math

import jax.numpy as jnp

from qpt.dft.functionals.functional import Component

# Unpolarised Slater exchange: e_x = -(3/4) (3/pi)^(1/3) rho^(4/3).
SLATER_COEFFICIENT = 0.75 * (3.0 / math.pi) ** (1.0 / 3.0)


def wigner_seitz_radius(rho):
    """r_s = (3 / (4 pi rho))^(1/3) for rho > 0."""
    return jnp.cbrt(3.0 / (4.0 * math.pi * rho))


def slater_exchange(rho, sigma):
    del sigma
    return -SLATER_COEFFICIENT * rho * jnp.cbrt(rho)


def _vwn_paramagnetic(amplitude, b, c, x0):
    """eps_c(rho) of one VWN fit (Vosko, Wilk, Nusair 1980, eq. 4.4) in x = sqrt(r_s), Hartree units."""
    q = math.sqrt(4.0 * c - b * b)
    x0_poly = x0 * x0 + b * x0 + c
    atan_coefficient = 2.0 * b / q - (b * x0 / x0_poly) * 2.0 * (b + 2.0 * x0) / q

    def eps_c(rho):
        rs = wigner_seitz_radius(rho)
        x = jnp.sqrt(rs)
        x_poly = rs + b * x + c
        arctan = jnp.arctan(q / (2.0 * x + b))
        return amplitude * (
            jnp.log(rs / x_poly)
            + atan_coefficient * arctan
            - (b * x0 / x0_poly) * jnp.log((x - x0) ** 2 / x_poly)
        )

    return eps_c


# Paramagnetic parameters as libxc has them (the original Rydberg values halved to Hartree).
_VWN5_EPS = _vwn_paramagnetic(0.0310907, 3.72744, 12.9352, -0.10498)
_VWN_RPA_EPS = _vwn_paramagnetic(0.0310907, 13.0720, 42.7198, -0.409286)


def vwn5_correlation(rho, sigma):
    del sigma
    return rho * _VWN5_EPS(rho)


def vwn_rpa_correlation(rho, sigma):
    del sigma
    return rho * _VWN_RPA_EPS(rho)


# Thresholds are libxc 7's default dens_threshold of each functional (PySCF 2.14 ships libxc 7.0.0).
SLATER = Component(
    "LDA_X", is_gga=False, density_threshold=1e-15, screen_spin_density=True, formula=slater_exchange
)
VWN5 = Component(
    "LDA_C_VWN", is_gga=False, density_threshold=1e-15, screen_spin_density=False, formula=vwn5_correlation
)
VWN_RPA = Component(
    "LDA_C_VWN_RPA", is_gga=False, density_threshold=1e-15, screen_spin_density=False, formula=vwn_rpa_correlation
)
