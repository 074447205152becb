"""A read-only output folder: a one-line error naming the folder, exit code 2, nothing written."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys

import pytest


@contextlib.contextmanager
def read_only(folder):
    """chmod 555 for normal users; root ignores permission bits, so it gets the immutable attribute."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if not chattr or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("running as root on a filesystem without chattr +i: cannot make a folder read-only for root")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


def test_read_only_output_folder(tmp_path, good_dataset):
    out = tmp_path / "readonly"
    out.mkdir()
    cmd = [sys.executable, "-m", "styleinv_data.cli", "crop", str(good_dataset), str(out / "sub"),
           "--recipe", "faceforensics", "--no-progress"]
    with read_only(out):
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert list(out.iterdir()) == []
    assert result.returncode == 2, (result.stdout, result.stderr)
    err = result.stderr.strip().splitlines()
    assert len(err) == 1, err
    assert "output folder is not writable" in err[0] and str(out / "sub") in err[0]
