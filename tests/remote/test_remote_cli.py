"""The command's remote parts: --remote, --remote-mode, info, push, prune --remote."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from remote.remote_kit import SDIST, machine, record_keys, wheel_keys
from wheelcache import WheelCache
from wheelcache._cli.main import main
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

    from remote.conftest import S3


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def local(tmp_path: Path) -> Path:
    """A cache holding one wheel of an sdist source; nothing remote yet."""
    root = tmp_path / "local"
    WheelCache(root).add(SDIST, make_wheel(tmp_path / "w", "demo", "1.0"))
    return root


def test_info_shows_the_remote_its_mode_and_that_it_answered(
    capsys: pytest.CaptureFixture[str], s3: S3, local: Path
) -> None:
    status, out, _ = run(
        capsys,
        "--cache-dir",
        str(local),
        "--remote",
        s3.url,
        "--remote-mode",
        "read",
        "info",
        "--json",
    )
    assert status == 0
    assert json.loads(out)["remote"] == {
        "url": s3.url,
        "mode": "read",
        "answered": True,
        "problem": None,
        "rejected_objects": 0,
    }
    status, out, _ = run(capsys, "info", "--cache-dir", str(local), "--remote", s3.url)
    assert "Remote:" in out
    assert "answered" in out


def test_info_says_when_the_remote_did_not_answer(
    capsys: pytest.CaptureFixture[str], s3: S3, local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the discard port: closed
    monkeypatch.setenv("WHEELCACHE_REMOTE", s3.url)
    status, out, _ = run(capsys, "info", "--cache-dir", str(local), "--json")
    assert status == 0
    remote = json.loads(out)["remote"]
    assert remote["answered"] is False
    assert remote["problem"]


def test_push_uploads_every_current_local_revision(
    capsys: pytest.CaptureFixture[str], s3: S3, local: Path
) -> None:
    status, out, _ = run(capsys, "push", "--cache-dir", str(local), "--remote", s3.url, "--json")
    assert status == 0
    assert json.loads(out) == {"sources": 1, "wheels": 1, "uploaded": 1, "skipped": 0}
    objects = s3.objects()
    assert (len(wheel_keys(objects)), len(record_keys(objects))) == (1, 1)


def test_push_in_read_only_mode_fails_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], s3: S3, local: Path
) -> None:
    argv = ["push", "--cache-dir", str(local), "--remote", s3.url, "--remote-mode", "read"]
    status, _, err = run(capsys, *argv)
    assert status == 1
    assert "read-only" in err
    assert s3.objects() == {}


def test_push_without_a_remote_fails_with_a_message(
    capsys: pytest.CaptureFixture[str], local: Path
) -> None:
    status, _, err = run(capsys, "push", "--cache-dir", str(local))
    assert status == 1
    assert "no remote" in err


def test_prune_remote_uses_the_configured_remote(
    capsys: pytest.CaptureFixture[str],
    s3: S3,
    tmp_path: Path,
    local: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = machine(tmp_path, "a", s3.url)
    a.add(SDIST, make_wheel(tmp_path / "w2", "demo", "1.0"))
    assert a.flush(60)
    monkeypatch.setenv("WHEELCACHE_REMOTE", s3.url)
    status, out, _ = run(capsys, "prune", "--remote", "--max-age", "1d", "--json")
    assert status == 0
    assert json.loads(out)["kept_records"] == 1
    status, out, _ = run(capsys, "prune", "--remote", "--max-age", "0s", "--grace", "0s")
    assert status == 0
    assert "Removed 1 record and 1 wheel" in out
    assert s3.objects() == {}
    assert WheelCache(local).get(SDIST) is not None  # the local cache is untouched


@pytest.mark.e2e
@pytest.mark.usefixtures("hermetic_children")
def test_wheelcache_build_on_a_second_machine_pulls_instead_of_building(
    s3: S3, tmp_path: Path
) -> None:
    import sys
    import tarfile

    from procs import CONSOLE_SCRIPT, DEADLINE, run_command

    pytest.importorskip("flit_core", reason="building without isolation needs flit_core")
    project = tmp_path / "project"
    (project / "shared_demo").mkdir(parents=True)
    (project / "shared_demo" / "__init__.py").write_text('"""A shared demo."""\n')
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["flit_core>=3.9"]\nbuild-backend = "flit_core.buildapi"\n\n'
        '[project]\nname = "shared-demo"\nversion = "1.0"\ndescription = "A demo."\n'
    )
    sdist = tmp_path / "shared_demo-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for path in sorted(project.rglob("*")):
            if path.is_file():
                archive.add(path, f"shared_demo-1.0/{path.relative_to(project).as_posix()}")
    reports = []
    for name in ("a", "b"):
        done = run_command(
            [sys.executable, "-c", CONSOLE_SCRIPT, "--cache-dir", str(tmp_path / name),
             "--remote", s3.url, "build", "--no-isolation", "--json", str(sdist)],
            DEADLINE,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        reports.append(json.loads(done.stdout))
    assert (reports[0]["built"], reports[1]["built"]) == (True, False)
    assert reports[0]["sha256"] == reports[1]["sha256"]
    assert reports[1]["path"].startswith(str(tmp_path / "b"))


def test_a_missing_client_costs_one_warning_and_the_cache_works_locally(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    script = (
        "import sys, logging\n"
        "sys.modules['obstore'] = None  # as if the remote extra were not installed\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "from wheelcache import WheelCache, Source\n"
        "from pathlib import Path\n"
        f"c = WheelCache({str(tmp_path / 'c')!r}, remote='s3://bucket/x')\n"
        "for n in range(3):\n"
        "    assert c.get(Source(f'sha256:{n:064d}')) is None\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert done.stderr.count("unavailable") == 1
    assert "wheelcache[remote]" in done.stderr
