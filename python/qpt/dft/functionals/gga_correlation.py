"""GGA correlation components, LYP and PBE, for closed shells (zeta = 0)."""
import math

import jax.numpy as jnp

from qpt.dft.functionals.functional import Component
from qpt.dft.functionals.lda import wigner_seitz_radius
from qpt.dft.functionals.safe_math import inverse_cbrt

# Lee, Yang, Parr 1988 in the Miehlich et al. 1989 form, libxc's parameters.
LYP_A = 0.04918
LYP_B = 0.132
LYP_C = 0.2533
LYP_D = 0.349
_LYP_CF = 0.3 * (3.0 * math.pi**2) ** (2.0 / 3.0)

# Perdew-Wang 1992 paramagnetic fit with the extra digits of libxc's LDA_C_PW_MOD, which PBE uses.
_PW_A = 0.0310907
_PW_ALPHA1 = 0.21370
_PW_BETA = (7.5957, 3.5876, 1.6382, 0.49294)

PBE_BETA = 0.06672455060314922
PBE_GAMMA = (1.0 - math.log(2.0)) / math.pi**2


def lyp_correlation(rho, sigma):
    """LYP for zeta = 0 in r = rho^(-1/3) and the total reduced gradient x_t^2 = sigma / rho^(8/3)."""
    r = inverse_cbrt(rho)
    xt_squared = sigma * r**8
    # Both spin channels carry half the density and a quarter of sigma, so x_s^2 = 2^(2/3) x_t^2.
    xs_squared = 2.0 ** (2.0 / 3.0) * xt_squared
    one_plus_dr = 1.0 + LYP_D * r
    omega = LYP_B * jnp.exp(-LYP_C * r) / one_plus_dr
    delta = (LYP_C + LYP_D / one_plus_dr) * r
    aux6 = 2.0 ** (-8.0 / 3.0)
    aux4 = aux6 / 4.0
    aux5 = aux4 / 18.0
    gradient_terms = (
        -xt_squared * ((47.0 - 7.0 * delta) / 72.0 - 2.0 / 3.0)
        - _LYP_CF
        + aux4 * (2.5 - delta / 18.0) * 2.0 * xs_squared
        + aux5 * (delta - 11.0) * 2.0 * xs_squared
        - aux6 * (5.0 / 6.0) * xs_squared
    )
    return rho * LYP_A * (-1.0 / one_plus_dr + omega * gradient_terms)


def pw92_correlation_per_particle(rho):
    """eps_c of the unpolarised electron gas (Perdew, Wang 1992, eq. 10), libxc's PW_MOD digits."""
    rs = wigner_seitz_radius(rho)
    sqrt_rs = jnp.sqrt(rs)
    b1, b2, b3, b4 = _PW_BETA
    denominator = 2.0 * _PW_A * sqrt_rs * (b1 + sqrt_rs * (b2 + sqrt_rs * (b3 + sqrt_rs * b4)))
    # log1p: at low density 1/denominator is ~1e-6, where log(1 + .) would keep only ~10 digits.
    return -2.0 * _PW_A * (1.0 + _PW_ALPHA1 * rs) * jnp.log1p(1.0 / denominator)


def pbe_correlation(rho, sigma):
    """PBE correlation for zeta = 0 (phi = 1): rho (eps_c^PW92 + H(r_s, t))."""
    eps_c = pw92_correlation_per_particle(rho)
    # t^2 = sigma / (2 k_s rho)^2 with k_s^2 = 4 k_F / pi and k_F = (3 pi^2 rho)^(1/3).
    t_squared = sigma * inverse_cbrt(rho) ** 7 * (math.pi / (16.0 * (3.0 * math.pi**2) ** (1.0 / 3.0)))
    # expm1: near the low-density limit eps_c / gamma is small and exp(.) - 1 would cancel.
    a = (PBE_BETA / PBE_GAMMA) / jnp.expm1(-eps_c / PBE_GAMMA)
    # PBE's t^2 (1 + A t^2) / (1 + A t^2 + A^2 t^4), rewritten with u = A t^2 so that no power of u above
    # the first appears: u^2 and its derivatives overflow float32 when t is large at low density.
    u = a * t_squared
    ratio = t_squared / (1.0 + u * (u / (1.0 + u)))
    h = PBE_GAMMA * jnp.log1p((PBE_BETA / PBE_GAMMA) * ratio)
    return rho * (eps_c + h)


# Thresholds: libxc 7's default dens_threshold of each functional.
LYP = Component(
    "GGA_C_LYP", is_gga=True, density_threshold=1e-14, screen_spin_density=False, formula=lyp_correlation
)
PBE_C = Component(
    "GGA_C_PBE", is_gga=True, density_threshold=1e-12, screen_spin_density=False, formula=pbe_correlation
)
