"""qpt: fast, differentiable Kohn-Sham DFT kernels for JAX.

Importing qpt turns on JAX's float64 mode: DFT energies must match PySCF to 1e-6 Ha, which float32
cannot do. Every op still accepts float32 inputs and returns float32 outputs.
"""
import jax

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"


def __getattr__(name):
    # qpt.Predictor without making `import qpt` load the whole stack.
    if name in ("Predictor", "Prediction"):
        import qpt.predict

        return getattr(qpt.predict, name)
    raise AttributeError(f"module 'qpt' has no attribute {name!r}")
