"""Built-in molecular geometries (xyz lines, Angstrom), looked up by case-insensitive name.

Source: each geometry was built from standard bond lengths and angles, then relaxed with PySCF
B3LYP/def2-SVP (density fitting, grid level 2, scipy BFGS until every gradient component was below
3e-4 Hartree/bohr), so it is equilibrium-like in the QPT setting (B3LYP, def2-svp). Each molecule is
centred on its centre of mass with its principal axes along x, y, z (planar ones lie in the xy plane).
"""

_GEOMETRIES = {
    "h2": """
H    -0.380317    0.000000    0.000000
H     0.380317    0.000000    0.000000
""",
    "n2": """
N    -0.550194    0.000000    0.000000
N     0.550194    0.000000    0.000000
""",
    "methane": """
C     0.000000    0.000000    0.000000
H     0.634561    0.634561   -0.634561
H    -0.634561   -0.634561   -0.634561
H    -0.634561    0.634561    0.634561
H     0.634561   -0.634561    0.634561
""",
    "water": """
O    -0.000001    0.067291    0.000000
H    -0.757036   -0.534027    0.000000
H     0.757045   -0.534020    0.000000
""",
    # trans (anti) conformer, H-O-C-C dihedral 180 degrees
    "ethanol": """
C     1.265025   -0.245668    0.000000
C    -0.015421    0.568682    0.000000
O    -1.112622   -0.323599    0.000000
H    -1.926547    0.195023    0.000000
H    -0.033803    1.232397   -0.889700
H    -0.033803    1.232397    0.889700
H     2.149499    0.411013    0.000000
H     1.307173   -0.891791   -0.890840
H     1.307173   -0.891791    0.890840
""",
    # planar enol (Z)-3-hydroxyprop-2-enal with its intramolecular O-H...O bond
    "malondialdehyde": """
C     1.226295   -0.397485    0.000000
C    -0.002312   -1.147370    0.000000
C    -1.189148   -0.457747    0.000000
O     1.266345    0.841114    0.000000
O    -1.274053    0.850606    0.000000
H     2.181933   -0.968479    0.000000
H     0.006293   -2.237430    0.000000
H    -2.160468   -0.968585    0.000000
H    -0.320513    1.185832    0.000000
""",
    "benzene": """
C     1.398708    0.000000    0.000000
C     0.699331    1.211263    0.000000
C    -0.699331    1.211263    0.000000
C    -1.398708    0.000000    0.000000
C    -0.699331   -1.211263    0.000000
C     0.699331   -1.211263    0.000000
H     2.492091    0.000000    0.000000
H     1.246019    2.158187    0.000000
H    -1.246019    2.158187    0.000000
H    -2.492091    0.000000    0.000000
H    -1.246019   -2.158187    0.000000
H     1.246019   -2.158187    0.000000
""",
    # planar diketo tautomer, pyrimidine-2,4(1H,3H)-dione
    "uracil": """
N    -1.179069    1.018529    0.000000
C    -1.222484   -0.376649    0.000000
N     0.035862   -0.953309    0.000000
C     1.295447   -0.313834    0.000000
C     1.200953    1.147644    0.000000
C    -0.013408    1.745018    0.000000
O    -2.261035   -0.998963    0.000000
O     2.318174   -0.966811    0.000000
H    -2.084456    1.474939    0.000000
H     0.051132   -1.970610    0.000000
H     2.127408    1.718852    0.000000
H    -0.134957    2.830907    0.000000
""",
    # acid group in the ring plane, acetoxy group twisted out of it
    "aspirin": """
C    -0.837044   -0.484995    0.069197
C    -0.259563    0.776837    0.333494
C    -1.045860    1.930575    0.325436
C    -2.410698    1.850160    0.049955
C    -2.998400    0.610957   -0.222723
C    -2.215623   -0.541182   -0.210111
C    -0.031263   -1.737997    0.128666
O     1.155728   -1.815657    0.354209
O    -0.777919   -2.842526   -0.090182
O     1.064479    0.915889    0.680071
C     2.040432    0.747518   -0.280385
O     1.793956    0.686871   -1.450283
C     3.391328    0.668863    0.370244
H    -0.563636    2.885907    0.539989
H    -3.014450    2.760964    0.046450
H    -4.066184    0.541558   -0.440020
H    -2.665667   -1.513466   -0.411379
H    -0.168362   -3.597238   -0.032181
H     4.175422    0.777290   -0.388151
H     3.496517    1.433728    1.152949
H     3.472687   -0.319631    0.848768
""",
}

CATALOG_NAMES = tuple(sorted(_GEOMETRIES))


def catalog_xyz(name: str) -> str:
    """The `El x y z` lines (Angstrom) of a catalog molecule; ValueError naming the known ones otherwise."""
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in _GEOMETRIES:
        raise ValueError(f"unknown molecule {name!r}: the catalog knows {', '.join(CATALOG_NAMES)}")
    return _GEOMETRIES[key]
