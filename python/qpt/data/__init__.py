"""Geometry sources as deterministic streams (index -> geometry), held-out label sets, and the Systems
built from them (used by train, eval and predict alike).

- qpt.data.gaussian: Gaussian displacements of the equilibrium geometry.
- qpt.data.thermal: frames of Langevin MD on GFN2-xTB (ASE + tblite), the default training distribution.
- qpt.data.label_set: `qpt dataset` files (geometries from independent MD, converged SCF labels).
- qpt.data.samples: a geometry index -> a Sample (geometry, System, token positions), built ahead in worker
  processes (GeometryStream).
- qpt.data.batch: Systems of one molecule stacked into a batch (grids padded to a common size).
"""
