"""Damaged or tampered System files (issue 20, defect 8): every one is a ValueError naming the file, found
from the .npy headers before the arrays are decompressed; before the fix an int32 overlap loaded silently."""
import io
import json
import zipfile

import numpy as np
import pytest

from qpt.system import System


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("system") / "water.npz"
    System.from_molecule("water", basis="sto-3g", grid_level=0).save(path)
    with np.load(path, allow_pickle=False) as file:
        return path, {name: file[name] for name in file.files}


def _rewrite(tmp_path, arrays, **changes):
    arrays = dict(arrays, **changes)
    arrays = {name: value for name, value in arrays.items() if value is not None}
    path = tmp_path / "tampered.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("name,value", [
    ("overlap", lambda a: a.astype(np.int32)),
    ("overlap", lambda a: a[:-1]),
    ("two_electron.eri", lambda a: a[:-5]),
    ("basis.exponents", lambda a: a.astype(np.float32)),
    ("grid.weights", lambda a: a[:-1]),
    ("atom_coords", lambda a: a[:, :2]),
    ("nuclear_repulsion", lambda a: np.array([a, a])),
    ("minao_density", lambda a: None),
])
def test_tampered_arrays_are_refused(saved, tmp_path, name, value):
    path, arrays = saved
    tampered = _rewrite(tmp_path, arrays, **{name: value(arrays[name])})
    with pytest.raises(ValueError, match="tampered.npz"):
        System.load(tampered)


def test_extra_arrays_are_refused(saved, tmp_path):
    path, arrays = saved
    with pytest.raises(ValueError, match="unexpected arrays"):
        System.load(_rewrite(tmp_path, arrays, extra=np.zeros(2)))


@pytest.mark.parametrize("change", [dict(nao=99), dict(n_occ=0), dict(grid_level=42), dict(symbols=["H", "H"]),
                                    dict(charge="0"), dict(basis_name="no-such-basis")])
def test_inconsistent_metadata_is_refused(saved, tmp_path, change):
    path, arrays = saved
    metadata = json.loads(str(arrays["metadata"]))
    metadata.update(change)
    with pytest.raises(ValueError, match="tampered.npz|not a valid"):
        System.load(_rewrite(tmp_path, arrays, metadata=np.array(json.dumps(metadata))))


@pytest.mark.parametrize("cut", [0, 10, 100, 1000, -200, -20])
def test_truncated_files_are_refused(saved, tmp_path, cut):
    path, _ = saved
    data = path.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[:cut] if cut >= 0 else data[:len(data) + cut])
    with pytest.raises(ValueError, match="truncated.npz"):
        System.load(truncated)


def test_corrupted_member_data_is_refused(saved, tmp_path):
    path, arrays = saved
    # A compressed archive whose overlap member has flipped bytes: the zip CRC or zlib catches it on reading.
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    data = bytearray(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("overlap.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
    data[start:start + 16] = bytes(16)
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged.npz"):
        System.load(damaged)


def test_object_arrays_are_refused_without_unpickling(saved, tmp_path):
    path, arrays = saved
    tampered = tmp_path / "pickled.npz"
    np.savez(tampered, **dict(arrays, overlap=np.array([{"a": 1}], dtype=object)))
    with pytest.raises(ValueError, match="pickled.npz"):
        System.load(tampered)
