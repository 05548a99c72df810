"""qpt.npz_file: atomic writes with ordinary permissions, and damage reported as ValueError."""
import os
import stat

import numpy as np
import pytest

from qpt.npz_file import array_headers, read_npz, write_npz_atomically


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_follow_the_umask(tmp_path, umask):
    # Before the fix every file was 0600 (tempfile.mkstemp's mode), whatever the umask.
    previous = os.umask(umask)
    try:
        write_npz_atomically(tmp_path / "a.npz", {"x": np.zeros(2)})
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "a.npz").st_mode) == 0o666 & ~umask


def test_headers_come_without_reading_the_data(tmp_path):
    write_npz_atomically(tmp_path / "a.npz", {"x": np.zeros((2, 3), np.float32), "y": np.array("text")})
    headers = array_headers(tmp_path / "a.npz", "test file")
    assert headers["x"] == ((2, 3), np.dtype(np.float32)) and headers["y"][0] == ()


def test_a_text_file_is_not_an_npz(tmp_path):
    (tmp_path / "a.npz").write_text("hello")
    for read in (lambda p: array_headers(p, "test file"), lambda p: read_npz(p, "test file")):
        with pytest.raises(ValueError, match="a.npz is not a readable test file"):
            read(tmp_path / "a.npz")
