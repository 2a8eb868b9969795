"""The CLI answers --help and input errors without importing PyTorch (a fraction of a second)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "e3nn", "scipy", "aiida")


def _modules_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    return set(p.stdout.split())


def test_building_the_parser_imports_no_heavy_package():
    loaded = _modules_after("from rhocat.cli.main import build_parser\nbuild_parser()")
    assert "rhocat.train.config" in loaded  # the parser does read the training presets
    assert not [m for m in HEAVY if m in loaded]


def test_help_and_a_missing_file_answer_without_torch(tmp_path):
    missing = tmp_path / "nothing.cif"
    code = (
        "import sys\nfrom rhocat.cli.main import main\n"
        f"sys.argv = ['rhocat', 'scf', {str(missing)!r}]\n"
        "try:\n    code = main()\nexcept SystemExit as e:\n    code = e.code\n"
        "assert code == 2, code\n"
    )
    assert "torch" not in _modules_after(code)


@pytest.mark.parametrize("name", ["load_model", "train_model", "FORMAT_VERSION", "TrainResult"])
def test_the_training_package_still_exports_its_names(name):
    import rhocat.train as t

    assert name in t.__all__ and name in dir(t)
    assert getattr(t, name) is not None


def test_an_unknown_name_of_the_training_package_is_an_attribute_error():
    import rhocat.train as t

    with pytest.raises(AttributeError, match="no_such_thing"):
        t.no_such_thing  # noqa: B018
    assert sorted(t.__all__) == sorted(t._WHERE)
