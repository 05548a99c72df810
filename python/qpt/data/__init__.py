"""Geometry sources as deterministic streams (index -> geometry) and held-out label sets.

- qpt.data.gaussian: Gaussian displacements of the equilibrium geometry.
- qpt.data.thermal: frames of Langevin MD on GFN2-xTB (ASE + tblite), the default training distribution.
- qpt.data.label_set: `qpt dataset` files (geometries from independent MD, converged SCF labels).
"""
