"""Exchange-correlation functionals as pointwise pure-JAX functions (closed shell).

`get_functional(name).energy_density(rho, sigma)` gives e = rho * eps_xc per volume; v_xc and f_xc are
its autodiff derivatives, finite everywhere including rho = 0 and sigma = 0. Values match PySCF's libxc.
"""
from qpt.dft.functionals.functional import Component, Functional
from qpt.dft.functionals.hybrids import B3LYP, B3LYP5, LDA, PBE

_REGISTRY = {
    "lda": LDA,
    "lda,vwn": LDA,
    "svwn": LDA,
    "pbe": PBE,
    "b3lyp5": B3LYP5,
    "b3lyp": B3LYP,
}

KNOWN_NAMES = tuple(_REGISTRY)


def get_functional(name):
    """The Functional called `name` (case-insensitive, spaces ignored); see hybrids.py for what each is."""
    if not isinstance(name, str):
        raise TypeError(f"functional name must be a string, got {type(name).__name__}")
    key = name.replace(" ", "").lower()
    if key not in _REGISTRY:
        raise ValueError(f"unknown functional {name!r}; known: {', '.join(KNOWN_NAMES)}")
    return _REGISTRY[key]


def resolve_functional(xc) -> Functional:
    """`xc` as a Functional: a name (get_functional) or a Functional itself; the one place qpt.dft resolves it."""
    if isinstance(xc, Functional):
        return xc
    if isinstance(xc, str):
        return get_functional(xc)
    raise TypeError(f"xc must be a functional name or a qpt.dft.functionals.Functional, got {type(xc).__name__}")


__all__ = ["Component", "Functional", "KNOWN_NAMES", "get_functional", "resolve_functional"]
