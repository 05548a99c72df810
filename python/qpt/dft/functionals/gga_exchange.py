"""GGA exchange components, B88 and PBE, through the spin-scaling relation (unpolarised).

For a closed shell e_x = -(3/4)(3/pi)^(1/3) rho^(4/3) F(y), where F is the enhancement factor and
y = x_s^2 the squared spin reduced gradient of libxc, x_s = |grad rho_s| / rho_s^(4/3) with rho_s = rho/2,
so y = 2^(2/3) sigma / rho^(8/3). Every F here is analytic in y, hence in sigma, at sigma = 0.
"""
import math

import jax.numpy as jnp

from qpt.dft.functionals.functional import Component
from qpt.dft.functionals.lda import SLATER_COEFFICIENT
from qpt.dft.functionals.safe_math import inverse_cbrt, x_asinh_x_of_square

# Spin-resolved LDA exchange prefactor of libxc (X_FACTOR_C): e_x,s = -C rho_s^(4/3) per spin channel.
_SPIN_LDA_COEFFICIENT = 1.5 * (3.0 / (4.0 * math.pi)) ** (1.0 / 3.0)

B88_BETA = 0.0042
B88_GAMMA = 6.0

PBE_KAPPA = 0.804
PBE_MU = 0.2195149727645171
# s = X2S * x_s converts libxc's x_s to PBE's s = |grad rho| / (2 (3 pi^2)^(1/3) rho^(4/3)).
_X2S = 1.0 / (2.0 * (6.0 * math.pi**2) ** (1.0 / 3.0))


def spin_reduced_gradient_squared(rho, sigma):
    """y = x_s^2 = 2^(2/3) sigma / rho^(8/3) for rho > 0."""
    return 2.0 ** (2.0 / 3.0) * sigma * inverse_cbrt(rho) ** 8


def _gga_exchange(enhancement):
    def energy_density(rho, sigma):
        y = spin_reduced_gradient_squared(rho, sigma)
        return -SLATER_COEFFICIENT * rho * jnp.cbrt(rho) * enhancement(y)

    return energy_density


def b88_enhancement(y):
    """Becke 1988: F = 1 + beta/C y / (1 + gamma beta x asinh x), x = sqrt(y)."""
    denominator = 1.0 + B88_GAMMA * B88_BETA * x_asinh_x_of_square(y)
    return 1.0 + (B88_BETA / _SPIN_LDA_COEFFICIENT) * y / denominator


def pbe_exchange_enhancement(y):
    """Perdew, Burke, Ernzerhof 1996: F = 1 + kappa - kappa^2 / (kappa + mu s^2)."""
    s_squared = _X2S * _X2S * y
    return 1.0 + PBE_KAPPA - PBE_KAPPA * PBE_KAPPA / (PBE_KAPPA + PBE_MU * s_squared)


b88_exchange = _gga_exchange(b88_enhancement)
pbe_exchange = _gga_exchange(pbe_exchange_enhancement)

# Thresholds: libxc 7's default dens_threshold of each functional.
B88 = Component(
    "GGA_X_B88", is_gga=True, density_threshold=1e-15, screen_spin_density=True, formula=b88_exchange
)
PBE_X = Component(
    "GGA_X_PBE", is_gga=True, density_threshold=1e-15, screen_spin_density=True, formula=pbe_exchange
)
