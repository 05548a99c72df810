"""Writes python/qpt/data/molecule_sets/organic9.smi: small closed-shell organic molecules (H C N O F, 1-9
heavy atoms), QM9-like, each tagged train or heldout.

The molecules are built from fragment rules (below): a head group, a linker and a tail group joined by
bonds, plus single groups capped by hydrogen. Every candidate is canonicalised with RDKit, deduplicated,
checked to embed in 3D (qpt.data.smiles), and kept if it has at most 9 heavy atoms. A deterministic selection
(a sha256 of the canonical SMILES) keeps up to --per-size molecules of each heavy-atom count, so small and large
molecules are both present; the split puts a molecule in heldout when the first byte of another hash is below
--heldout-fraction * 256, so the split of a molecule never depends on what else is in the set.

    python scripts/generate_molecule_set.py [--per-size 40] [--heldout-fraction 0.2] [--out FILE]
"""
import argparse
import hashlib
import itertools
import os

from rdkit import Chem, RDLogger

from qpt.data.smiles import SmilesError, molecule_from_smiles

# Groups bonded through their first atom when a tail, their last atom when a head (SMILES read left to right).
GROUPS = ("C", "CC", "CCC", "C(C)C", "C(C)(C)C", "C=C", "C#C", "C1CC1", "C1CCC1", "C1CCOC1", "C1COC1",
          "c1ccccc1", "c1ccncc1", "c1cccnc1", "c1ccco1", "c1cc[nH]c1", "c1cnc[nH]1", "C1=CCC=C1", "CF",
          "C(F)(F)F", "CC#N", "COC", "CO", "C(C)=O", "C1CCNC1", "C1CN1", "C1CO1", "c1ncncn1")
LINKERS = ("", "O", "N", "C(=O)", "C(=O)O", "OC(=O)", "C(=O)N", "NC(=O)", "C#C", "C=C", "CO", "OC", "N(C)",
           "C(F)", "C(O)", "C(N)", "N=N", "C(=O)C(=O)", "OCO", "NC(=O)N")
CAPS = ("O", "N", "F", "C=O", "C(=O)O", "C(=O)N", "C#N", "OC", "NC", "C(F)(F)F", "C(=O)OC", "NC=O", "N(C)C",
        "C(=N)N", "OC=O", "[N+](=O)[O-]", "C(=O)F")
SMALL = ("O", "N", "C", "F", "C=O", "CO", "CN", "CF", "C#N", "C#C", "C=C", "CC", "OO", "NN", "C(=O)O", "NC=O",
         "C(F)F", "FC(F)(F)F", "C1CC1", "C1CO1", "O=C=O", "N#CC#N", "O=CC=O", "CC(=O)C", "OCCO", "NCCN")
MAX_HEAVY_ATOMS = 9
ELEMENTS = {"H", "C", "N", "O", "F"}
DEFAULT_OUT = os.path.join(os.path.dirname(__file__), "..", "python", "qpt", "data", "molecule_sets", "organic9.smi")


def candidates():
    yield from SMALL
    for group, cap in itertools.product(GROUPS, CAPS):
        yield group + cap
    for head, linker, tail in itertools.product(GROUPS, LINKERS, GROUPS):
        yield head + linker + tail


def canonical(smiles):
    parsed = Chem.MolFromSmiles(smiles)
    if parsed is None or any(atom.GetNumRadicalElectrons() for atom in parsed.GetAtoms()):
        return None
    if {atom.GetSymbol() for atom in parsed.GetAtoms()} - ELEMENTS:
        return None
    heavy = parsed.GetNumHeavyAtoms()
    return (Chem.MolToSmiles(parsed), heavy) if 1 <= heavy <= MAX_HEAVY_ATOMS else None


def digest(purpose, smiles):
    """Independent hashes for the selection and the split, so the split is not biased by what was selected."""
    return hashlib.sha256(f"{purpose}:{smiles}".encode()).digest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-size", type=int, default=40, help="molecules kept per heavy-atom count")
    parser.add_argument("--heldout-fraction", type=float, default=0.2)
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args()
    RDLogger.DisableLog("rdApp.*")  # most candidates of the fragment product are invalid; they are dropped
    by_size = {}
    for smiles in candidates():
        found = canonical(smiles)
        if found is not None:
            by_size.setdefault(found[1], set()).add(found[0])
    kept = []
    for size in sorted(by_size):
        chosen = []
        for smiles in sorted(by_size[size], key=lambda smiles: digest("select", smiles)):
            if len(chosen) == args.per_size:
                break
            try:
                molecule_from_smiles(smiles)
            except SmilesError:
                continue
            chosen.append(smiles)
        kept.extend((size, smiles) for smiles in chosen)
    threshold = args.heldout_fraction * 256
    lines = [f"# organic9: {len(kept)} molecules (H C N O F, 1-{MAX_HEAVY_ATOMS} heavy atoms); "
             "written by scripts/generate_molecule_set.py, do not edit by hand",
             "# SMILES split"]
    for size, smiles in kept:
        lines.append(f"{smiles} {'heldout' if digest("split", smiles)[0] < threshold else 'train'}")
    temporary = f"{args.out}.tmp{os.getpid()}"
    with open(temporary, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(temporary, args.out)
    counts = {size: sum(1 for s, _ in kept if s == size) for size in sorted(by_size)}
    heldout = sum(line.endswith("heldout") for line in lines[2:])
    print(f"wrote {args.out}: {len(kept)} molecules ({heldout} heldout); per heavy-atom count {counts}")


if __name__ == "__main__":
    main()
