"""Compiled qpt kernels: loads the native modules and registers their XLA FFI targets with JAX.

The CPU module is always built. The CUDA module exists when the build found nvcc; it links cudart
statically, so it imports on machines without a GPU and its targets are registered for platform "CUDA"
(they only run when JAX has a CUDA device).
"""
import importlib
import pkgutil

import jax

# Run from the repository root (`python -m pytest`, `python -m qpt`), Python finds this source folder before
# the installed package, and the compiled modules are only in the installed one: extend_path adds every
# qpt_kernels folder on sys.path to this package's path, so `_cpu` is found wherever the build put it.
__path__ = pkgutil.extend_path(__path__, __name__)

from . import _cpu  # noqa: E402

_cuda = None
try:
    _cuda = importlib.import_module("qpt_kernels._cuda")
except ImportError as error:  # built without nvcc, or cudart could not load
    _cuda_import_error = str(error)
else:
    _cuda_import_error = None

_REGISTERED = {"cpu": [], "CUDA": []}


def _register_all():
    for name, capsule in _cpu.registrations().items():
        jax.ffi.register_ffi_target(name, capsule, platform="cpu")
        _REGISTERED["cpu"].append(name)
    if _cuda is not None:
        for name, capsule in _cuda.registrations().items():
            jax.ffi.register_ffi_target(name, capsule, platform="CUDA")
            _REGISTERED["CUDA"].append(name)


_register_all()


def build_info() -> dict:
    """What this build of the kernels contains: version, compiler, CUDA and the registered FFI targets."""
    info = {
        "version": _cpu.version,
        "compiler": _cpu.compiler,
        "cuda_compiled": _cuda is not None,
        "targets": {platform: sorted(names) for platform, names in _REGISTERED.items()},
    }
    if _cuda is not None:
        info["cuda_version"] = _cuda.cuda_version
        info["cuda_architectures"] = _cuda.cuda_architectures
    elif _cuda_import_error is not None:
        info["cuda_import_error"] = _cuda_import_error
    return info
