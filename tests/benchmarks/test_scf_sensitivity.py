"""benchmarks/scf_sensitivity.py: which starts it runs, and its refusals."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import scf_sensitivity  # noqa: E402


def test_default_starts_are_the_scaled_acs_then_the_blends():
    names = scf_sensitivity.start_names()
    assert names[:4] == ["acs*(1-0.003)", "acs*(1-0.001)", "acs*(1+0.001)", "acs*(1+0.003)"]
    assert names[4:] == [f"acs+{s}*pred" for s in ("0", "0.25", "0.5", "0.75", "1")]


def test_no_scales_leaves_only_the_perturbed_acs():
    eps = scf_sensitivity.parse_floats("-0.001,0.001")
    assert eps == (-0.001, 0.001)
    assert scf_sensitivity.parse_floats("") == ()
    assert scf_sensitivity.start_names(eps, ()) == ["acs*(1-0.001)", "acs*(1+0.001)"]


@pytest.mark.parametrize(
    ("eps", "message"),
    [("0,0.001", "the ACS itself"), ("0.001,x", "could not convert")],
)
def test_bad_eps_is_refused_before_any_file_is_read(eps, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        scf_sensitivity.main(["missing.pt", "--ids", "x", "--eps", eps, "--data",
                              str(tmp_path / "none"), "-o", str(tmp_path / "o.json")])  # fmt: skip
    assert exc.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


@pytest.mark.needs_pw
def test_the_acs_from_file_replays_pw_atomic_start_without_paw(tmp_path):
    """Diamond Si (no PAW species): the ACS read from file at the atomic threshold needs
    exactly pw.x's own atomic start's iterations; --skip-atomic leaves that run out."""
    from ase.build import bulk

    from rhocat.pretrained import load_pretrained
    from rhocat.qe.pseudo import load_family
    from rhocat.qe.scf import run_scf
    from tests.conftest import LOW_CUTOFF, entry_sample

    atoms = bulk("Si", "diamond", a=5.43)
    family = load_family("debian-pbe")
    truth = run_scf(atoms, family=family, overrides=LOW_CUTOFF, workdir=tmp_path / "truth")
    assert truth.converged
    sample = entry_sample(atoms, "Si", parameters=truth.parameters)
    model = load_pretrained()
    both = scf_sensitivity.sensitivity(
        model, sample, family, tmp_path / "a", 1, epsilons=(), scales=(0.0,)
    )
    assert list(both) == ["pw.x atomic", "acs+0*pred"]
    assert both["pw.x atomic"] == both["acs+0*pred"] == truth.iterations
    only = scf_sensitivity.sensitivity(
        model, sample, family, tmp_path / "b", 1, epsilons=(1e-3,), scales=(), atomic=False
    )
    assert list(only) == ["acs*(1+0.001)"] and only["acs*(1+0.001)"] is not None


@pytest.mark.needs_pw
def test_startingwfc_adds_one_atomic_run_and_no_starts_means_no_prediction(tmp_path):
    """bcc Cr (PAW): pw.x's atomic start with startingwfc = 'atomic' runs next to the
    default one; without --eps and --scales nothing else runs (no model is needed)."""
    from ase.build import bulk

    from rhocat.qe.inputs import pw_parameters
    from rhocat.qe.pseudo import load_family
    from tests.conftest import LOW_CUTOFF, entry_sample

    atoms = bulk("Cr", "bcc", a=2.88)
    family = load_family("debian-pbe")
    sample = entry_sample(
        atoms, "Cr", parameters=pw_parameters(atoms, family, overrides=LOW_CUTOFF)
    )
    out = scf_sensitivity.sensitivity(
        None, sample, family, tmp_path, 1, epsilons=(), scales=(), startingwfc="atomic"
    )
    assert list(out) == ["pw.x atomic", "pw.x atomic, startingwfc=atomic"]
    assert all(isinstance(v, int) and v > 0 for v in out.values())
    inputs = sorted(p.read_text() for p in tmp_path.rglob("*.in"))
    assert sum("startingwfc" in text and "'atomic'" in text for text in inputs) == 1
