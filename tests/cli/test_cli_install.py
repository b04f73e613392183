"""``wheelcache install``: sources in, one line (or JSON) per distribution out."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from installkit import rich_wheel
from wheelcache._cli.main import main
from wheelcache._fs.fsutil import remove_tree
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

    from installkit import Venv

pytest.importorskip("installer")

LINE = re.compile(r"installed demo 1\.0 \((clone|hardlink|copy), \d+ ms\)")


@pytest.fixture(autouse=True)
def hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHEELCACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    for name in ("NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def imported(target: Path, code: str) -> str:
    """Run *code* with *target* on the path (a --target install), in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()


def test_install_prints_one_line_per_distribution_then_unchanged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    wheel = rich_wheel(tmp_path / "wheels")
    other = make_wheel(tmp_path / "other", "other", "2.0")
    target = tmp_path / "target"

    status, out, _ = run(capsys, "install", str(wheel), str(other), "--target", str(target))

    assert status == 0
    first, second = out.splitlines()
    assert LINE.fullmatch(first), first
    assert second.startswith("installed other 2.0 (")
    assert run(capsys, "install", str(wheel), "--target", str(target))[1] == "unchanged demo 1.0\n"
    assert imported(target, "import demo; print(demo.SEED)") == "0"


def test_install_defaults_to_the_active_virtual_environment(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    venv: Venv,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", str(venv.root))

    status, out, _ = run(capsys, "install", str(rich_wheel(tmp_path / "wheels", seed=4)))

    assert status == 0
    assert LINE.fullmatch(out.strip())
    assert venv.run(venv.script("demo")).stdout.split() == ["demo-main", "4"]
    assert venv.pip("check").returncode == 0


def test_install_without_an_environment_asks_for_python_or_target(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, err = run(capsys, "install", str(rich_wheel(tmp_path / "wheels")))

    assert status == 2
    assert out == ""
    assert "--python or --target" in err


def test_install_with_an_unusable_python_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    wheel = rich_wheel(tmp_path / "wheels")
    status, _, err = run(capsys, "install", str(wheel), "--python", str(tmp_path / "nope"))

    assert status == 2
    assert "cannot run the interpreter" in err


def test_python_and_target_together_are_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = run(capsys, "install", "x.whl", "--python", "p", "--target", "t")

    assert status == 2
    assert "not allowed with" in err


def test_install_warns_listing_unsatisfied_requirements(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    metadata = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: absent-dep>=1\n"
    wheel = make_wheel(tmp_path, "demo", "1.0", files={"demo-1.0.dist-info/METADATA": metadata})

    status, out, err = run(capsys, "install", str(wheel), "--target", str(tmp_path / "t"))

    assert status == 0
    assert LINE.fullmatch(out.strip())
    assert "warning: demo 1.0 requires absent-dep>=1" in err


def test_install_json_describes_each_distribution(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    wheel = rich_wheel(tmp_path / "wheels")

    status, out, _ = run(
        capsys, "install", str(wheel), "--target", str(tmp_path / "t"), "--link-mode", "copy",
        "--json",
    )  # fmt: skip

    assert status == 0
    document = json.loads(out)
    (item,) = document["installed"]
    assert (item["name"], item["action"], item["link_mode"]) == ("demo", "installed", "copy")
    assert item["source"] == {"kind": "wheel", "path": str(wheel), "key": item["source"]["key"]}
    assert item["wheel"]["sha256"] == item["source"]["key"].removeprefix("sha256:")
    assert document["target"] == str(tmp_path / "t")
    assert set(item) >= {"files", "seconds", "dist_info", "replaced", "unsatisfied", "built"}


def test_install_of_a_bad_source_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    status, _, err = run(capsys, "install", str(tmp_path / "notes.txt"), "--target", "t")

    assert status == 2
    assert "not an sdist" in err


def test_help_documents_install_and_its_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "install", "--help")

    assert status == 0
    for word in ("--link-mode", "--compile", "--no-isolation", "unsatisfied", "$VIRTUAL_ENV"):
        assert word in out.replace("\n", " ")


@pytest.mark.e2e
def test_install_builds_a_project_and_reinstalls_it_after_an_edit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("build")
    pytest.importorskip("flit_core")
    project = tmp_path / "proj"
    (project / "demo").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["flit_core>=3.4"]\nbuild-backend = "flit_core.buildapi"\n\n'
        '[project]\nname = "demo"\nversion = "1.0"\ndescription = "demo"\n'
    )
    code = project / "demo" / "__init__.py"
    code.write_text('"""Demo."""\nVALUE = 1\n')
    target = tmp_path / "target"
    argv = ["install", str(project), "--target", str(target), "--no-isolation"]

    status, out, _ = run(capsys, *argv)
    assert status == 0
    assert LINE.fullmatch(out.strip())
    assert imported(target, "import demo; print(demo.VALUE)") == "1"
    code.write_text('"""Demo."""\nVALUE = 2\n')

    status, out, _ = run(capsys, *argv)

    assert status == 0
    assert "replaced 1.0" in out
    assert imported(target, "import demo; print(demo.VALUE)") == "2"
    url = json.loads((target / "demo-1.0.dist-info" / "direct_url.json").read_text())
    assert url == {"url": project.as_uri(), "dir_info": {}}


def test_list_and_info_show_the_unpacked_trees_installs_made(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    wheel = rich_wheel(tmp_path / "wheels")
    other = make_wheel(tmp_path / "other", "other", "2.0")
    run(capsys, "install", str(wheel), "--target", str(tmp_path / "t"))
    run(capsys, "install", str(other), "--target", str(tmp_path / "t"))
    for manifest in (tmp_path / "cache" / "trees-v1").glob("*/*/manifest.json"):
        if b'"other"' in manifest.read_bytes():
            os.chmod(manifest.parent, 0o755)
            remove_tree(manifest.parent)  # as prune would, later

    _, out, _ = run(capsys, "list")
    _, as_json, _ = run(capsys, "list", "--json")
    _, info, _ = run(capsys, "info", "--json")

    header, demo_row, other_row, total = (re.split(r"\s{2,}", line) for line in out.splitlines())
    assert header[3] == "Unpacked"
    assert (demo_row[0], other_row[0]) == ("demo", "other")
    assert demo_row[3] != "-"
    assert other_row[3] == "-"
    assert "; 1 unpacked tree, " in " ".join(total)
    sizes = {w["name"]: w["tree_bytes"] for w in json.loads(as_json)["wheels"]}
    assert sizes["other"] is None
    assert sizes["demo"] == json.loads(info)["tree_bytes"] > 0
    assert json.loads(info)["trees"] == 1
