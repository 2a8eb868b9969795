"""Output paths: read-only, full, a file as parent, a symlink, a mount point.

Read-only and full file systems are real: small tmpfs mounts (the tests run as root,
as `make test` does on the reference machine); they skip, saying why, where mounting
is not allowed. Those tests carry no tool marker (tests/conftest.py): under $CI a skip
of a marked test fails the run, and a runner that may not mount is no missing tool.
The others need the UPF files (predict, acs) or pw.x (scf).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from ase.build import bulk

RHOCAT = [sys.executable, "-m", "rhocat.cli.main"]


def run(args, timeout=300):
    return subprocess.run(
        RHOCAT + [str(a) for a in args], capture_output=True, text=True, timeout=timeout
    )


def one_line_exit_2(p) -> str:
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    return p.stderr


def _mount(tmp_path, name, options):
    point = tmp_path / name
    point.mkdir()
    p = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({p.stderr.strip()}): not testable")
    return point


@pytest.fixture
def mounts(tmp_path):
    made = []

    def make(name, options):
        point = _mount(tmp_path, name, options)
        made.append(point)
        return point

    yield make
    for point in made:
        subprocess.run(["umount", str(point)], check=False)


@pytest.fixture
def si_file(tmp_path):
    path = tmp_path / "si.cif"
    bulk("Si", "diamond", a=5.43).write(path)
    return path


@pytest.fixture
def checkpoint(tmp_path):
    from rhocat.models import RadialModel
    from rhocat.train import save_checkpoint
    from rhocat.train.checkpoint import checkpoint_dict

    return save_checkpoint(tmp_path / "radial.pt", checkpoint_dict(RadialModel({}, [14, 6])))


def _fill(point):
    """Fill a small tmpfs to the last block (a real full disk)."""
    with open(point / "filler", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass


def test_read_only_location(si_file, checkpoint, mounts, tmp_path):
    ro = mounts("ro", "ro,size=64k")
    for cmd in (
        ["predict", checkpoint, si_file, "-o", ro / "si.save"],
        ["acs", si_file, "-o", ro / "si.save"],
        ["scf", si_file, "--workdir", ro / "w"],
        ["predict", checkpoint, si_file, "-o", tmp_path / "o", "--cube", ro / "si.cube"],
    ):
        err = one_line_exit_2(run(cmd))
        assert "Read-only file system" in err and str(ro) in err
    assert not (tmp_path / "o").exists()  # --cube failed: no restart folder either


def test_disk_full_leaves_nothing_half_written(si_file, checkpoint, mounts, tmp_path):
    full = mounts("full", "size=64k")  # Si's charge-density.dat is 1.9 MB
    err = one_line_exit_2(run(["predict", checkpoint, si_file, "-o", full / "si.save"]))
    assert "No space left on device" in err and "si.save" in err and ".tmp-" not in err
    assert list(full.iterdir()) == []
    err = one_line_exit_2(run(["acs", si_file, "-o", full / "si.save"]))
    assert "No space left on device" in err and list(full.iterdir()) == []
    # --cube into a full disk: the restart folder is not written either
    out = tmp_path / "ok.save"
    err = one_line_exit_2(
        run(["predict", checkpoint, si_file, "-o", out, "--cube", full / "si.cube"])
    )
    assert "No space left on device" in err
    assert not out.exists() and list(full.iterdir()) == []
    assert [q.name for q in tmp_path.iterdir() if q.name.startswith(".")] == []


def test_scf_workdir_on_a_full_disk(si_file, mounts):
    """`rhocat scf --workdir` where not even pw.in fits: one line, no half-written pw.in."""
    full = mounts("full", "size=16k")
    _fill(full)
    err = one_line_exit_2(run(["scf", si_file, "--ecutwfc", "20", "--workdir", full / "w"]))
    assert "No space left on device" in err and "pw.in" in err
    assert not (full / "w" / "pw.in").exists()
    assert [q.name for q in (full / "w").iterdir() if q.name.startswith(".")] == []


@pytest.mark.needs_pw
def test_parent_that_is_a_file(si_file, checkpoint, tmp_path):
    (tmp_path / "afile").write_text("x")
    for cmd in (
        ["predict", checkpoint, si_file, "-o", tmp_path / "afile" / "si.save"],
        ["acs", si_file, "-o", tmp_path / "afile" / "si.save"],
        ["scf", si_file, "--workdir", tmp_path / "afile" / "w"],
        ["predict", checkpoint, si_file, "-o", tmp_path / "o", "--cube", tmp_path / "afile/x"],
    ):
        err = one_line_exit_2(run(cmd))
        assert "afile" in err
    assert (tmp_path / "afile").read_text() == "x" and not (tmp_path / "o").exists()


@pytest.mark.needs_upf
def test_symlink_output_is_written_through(si_file, checkpoint, tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    p = run(["predict", checkpoint, si_file, "-o", link])
    assert p.returncode == 0, p.stderr
    assert link.is_symlink() and (target / "charge-density.dat").is_file()
    assert sorted(q.name for q in tmp_path.iterdir()) == ["link", "radial.pt", "si.cif", "target"]


def test_mount_point_output_is_written_into(si_file, checkpoint, mounts):
    point = mounts("mnt", "size=16m")
    p = run(["predict", checkpoint, si_file, "-o", point])
    assert p.returncode == 0, p.stderr
    assert sorted(q.name for q in point.iterdir()) == ["charge-density.dat", "prediction.json"]


@pytest.fixture
def results(tmp_path):
    """A real results folder of `rhocat evaluate` (one failed row: renders in a second)."""
    from rhocat.evaluate.results import ResultsDir

    res = ResultsDir(tmp_path / "results", "ab" * 32, {"model": "toy.pt"})
    res.write_row({"id": "x-1", "split": "test_binary", "status": "failed", "error": "no SCF"})
    return res.path


def test_report_output_that_cannot_be_written(results, mounts, tmp_path, capsys):
    """`rhocat report -o` into a read-only mount, a full disk, under a file, onto a folder:
    one line naming the path, exit 2, no file and no hidden temporary left."""
    from rhocat.cli.main import main

    ro = mounts("ro", "ro,size=64k")
    full = mounts("full", "size=16k")
    _fill(full)
    (tmp_path / "afile").write_text("x")
    cases = [
        (ro / "r.html", "Read-only file system"),
        (full / "r.html", "No space left on device"),
        (tmp_path / "afile" / "r.html", f"{tmp_path / 'afile'} is a file"),
        (tmp_path / "afile" / "sub" / "r.html", f"{tmp_path / 'afile'} is a file"),
        (tmp_path / "results", "is a folder"),
    ]
    for out, reason in cases:
        assert main(["report", str(results), "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert reason in err and str(out.parent if "folder" not in reason else out) in err, err
    assert list(ro.iterdir()) == [] and [q.name for q in full.iterdir()] == ["filler"]
    assert (tmp_path / "afile").read_text() == "x"
    assert [q.name for q in tmp_path.iterdir() if q.name.startswith(".")] == []
