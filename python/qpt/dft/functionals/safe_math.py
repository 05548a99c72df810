"""NaN-free building blocks for pointwise functionals.

Autodiff evaluates every branch of a `jnp.where`, so a formula that is singular at rho = 0 or sigma = 0
poisons the gradient with 0 * inf = NaN even where its value is discarded. The cure used throughout is
the double-where trick: substitute a harmless input (rho = 1, sigma = 0) wherever the result will be
thrown away, evaluate the formula there, then select. Forward values, gradients, Hessians and JVPs all
stay finite.
"""
import jax
import jax.numpy as jnp

# In float32 no component is evaluated below this density (libxc's thresholds, 1e-15 to 1e-12, are for
# float64). There the second derivatives themselves outgrow float32 (max ~3.4e38): v2sigma2 scales as
# rho**(-4) (B88 at s = 0: ~4e-4 rho**(-4)) and overflows below rho ~3e-11. At 1e-9 the largest second
# derivative is still 1e4 below overflow. Points below it hold a negligible share of any molecular XC
# energy (energy density ~rho**(4/3) < 1e-12), far below float32's own rounding of the total.
FLOAT32_DENSITY_FLOOR = 1e-9

# Below this value of the scaled squared gradient y = x**2 the series of sqrt(y) * asinh(sqrt(y)) is used:
# the closed form has an infinite derivative at y = 0 (through sqrt), the series is analytic. With four
# terms the truncation error, ~0.03 y**5, is < 1e-21 relative to the result at y = 1e-4, also for the
# second derivative (error ~0.6 y**3 vs ~1/3).
_ASINH_SERIES_BELOW = 1e-4


def floating_inputs(rho, sigma):
    """rho and sigma as arrays of one common float dtype (float32 or float64), sigma defaulting to 0.

    Raises TypeError for other dtypes and ValueError for mismatched shapes, before any computation.
    """
    rho = jnp.asarray(rho)
    sigma = jnp.zeros_like(rho) if sigma is None else jnp.asarray(sigma)
    dtype = jnp.result_type(rho, sigma, float)
    if dtype not in (jnp.float32, jnp.float64):
        raise TypeError(f"functional inputs must be float32 or float64, got rho {rho.dtype}, sigma {sigma.dtype}")
    if rho.shape != sigma.shape:
        raise ValueError(f"rho and sigma must have the same shape, got {rho.shape} and {sigma.shape}")
    return rho.astype(dtype), sigma.astype(dtype)


def density_floor(threshold, dtype):
    """The density below which a component returns 0: libxc's threshold, raised for float32."""
    if dtype == jnp.float32:
        return max(threshold, FLOAT32_DENSITY_FLOOR)
    return threshold


def screened(formula, rho, sigma, keep, sigma_floor):
    """formula(rho, sigma) where `keep`, else 0, with finite derivatives everywhere.

    `formula` may assume rho > 0 and sigma >= 0. Discarded points are evaluated at (rho, sigma) = (1, 0),
    a regular point of every formula, so their (zero) cotangents never meet an infinity.

    sigma is raised to `sigma_floor` as libxc does (which also absorbs a negative sigma), but the raise is
    held constant under differentiation: derivatives are those of the formula at the raised sigma,
    exactly what libxc reports, rather than the zero slope of a hard clamp. That keeps v_sigma and the
    second derivatives continuous at sigma = 0, where a hard clamp would make them jump.
    """
    safe_rho = jnp.where(keep, rho, jnp.ones_like(rho))
    raise_by = jax.lax.stop_gradient(jnp.maximum(sigma_floor - sigma, 0.0))
    safe_sigma = jnp.where(keep, sigma + raise_by, jnp.zeros_like(sigma))
    value = jnp.where(keep, formula(safe_rho, safe_sigma), jnp.zeros_like(rho))
    # A NaN density fails every comparison, so `keep` would screen it to an energy of 0: a finite, wrong
    # answer. NaN in gives NaN out instead (rho + sigma is NaN exactly there, with finite derivatives elsewhere).
    return jnp.where(jnp.isnan(rho) | jnp.isnan(sigma), rho + sigma, value)


def inverse_cbrt(rho):
    """rho^(-1/3). Negative powers of rho are built as integer powers of it: their derivatives then
    stay integer powers of it too, whereas the derivative of sigma / rho^(8/3) divides by rho^(16/3),
    which underflows float32 at rho ~ 1e-8 (and 0 * inf = NaN follows)."""
    return 1.0 / jnp.cbrt(rho)


def x_asinh_x_of_square(y):
    """x * asinh(x) as a function of y = x**2 >= 0, analytic at y = 0 and finite for huge y."""
    small = y < _ASINH_SERIES_BELOW
    # Each branch sees only inputs it handles well (double where), so neither can send NaN backwards.
    y_small = jnp.where(small, y, jnp.zeros_like(y))
    y_large = jnp.where(small, jnp.ones_like(y), y)
    x = jnp.sqrt(y_large)
    closed_form = x * jnp.arcsinh(x)
    series = y_small * (1.0 + y_small * (-1.0 / 6.0 + y_small * (3.0 / 40.0 + y_small * (-5.0 / 112.0))))
    return jnp.where(small, series, closed_form)
