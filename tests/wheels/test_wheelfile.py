"""The promises of wheelcache._wheels.wheelfile: names parse, and only real wheels validate."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import pickle
import stat
import tracemalloc
import zipfile
from typing import TYPE_CHECKING

import pytest
from packaging.tags import Tag
from packaging.version import Version

from wheelcache._errors import CacheError, InvalidWheelError
from wheelcache._fs.fsutil import CHUNK_SIZE
from wheelcache._wheels.wheelfile import (
    WheelInfo,
    parse_wheel_name,
    read_chunks,
    validate_wheel,
)
from wheelfactory import corrupt_crc, make_wheel, remove_members, truncate, write_zip

if TYPE_CHECKING:
    import pathlib

WHEEL_NAME = "demo-1.0-py3-none-any.whl"


def rejection(path: pathlib.Path) -> InvalidWheelError:
    with pytest.raises(InvalidWheelError) as caught:
        validate_wheel(path)
    return caught.value


def can_symlink(directory: pathlib.Path) -> bool:
    probe = directory / "symlink-probe"
    try:
        probe.symlink_to(directory)
    except (OSError, NotImplementedError):
        return False
    probe.unlink()
    return True


# --- parse_wheel_name ---------------------------------------------------------------------------


def test_parse_wheel_name_reports_normalised_name_version_build_and_tags() -> None:
    info = parse_wheel_name("Foo.Bar_baz-1.0.0-7rc-py2.py3-none-any.whl")

    assert info == WheelInfo(
        filename="Foo.Bar_baz-1.0.0-7rc-py2.py3-none-any.whl",
        name="foo-bar-baz",  # type: ignore[arg-type]
        version=Version("1.0"),
        build=(7, "rc"),
        tags=frozenset({Tag("py2", "none", "any"), Tag("py3", "none", "any")}),
    )


def test_parse_wheel_name_gives_empty_build_tag_when_absent() -> None:
    assert parse_wheel_name(WHEEL_NAME).build == ()


def test_parse_wheel_name_is_memoised() -> None:
    assert parse_wheel_name(WHEEL_NAME) is parse_wheel_name(WHEEL_NAME)


@pytest.mark.parametrize(
    "filename",
    [
        pytest.param("", id="empty"),
        pytest.param("demo-1.0-py3-none-any.zip", id="wrong-extension"),
        pytest.param("demo-1.0-py3-none-any", id="no-extension"),
        pytest.param("demo-py3-none-any.whl", id="too-few-parts"),
        pytest.param("demo-1.0-1-2-py3-none-any.whl", id="too-many-parts"),
        pytest.param("demo-one.point.oh-py3-none-any.whl", id="invalid-version"),
        pytest.param("demo-1.0-x1-py3-none-any.whl", id="build-tag-not-starting-with-digit"),
        pytest.param("de mo-1.0-py3-none-any.whl", id="invalid-project-name"),
        pytest.param("dir/demo-1.0-py3-none-any.whl", id="a-path-not-a-name"),
    ],
)
def test_parse_wheel_name_rejects_invalid_names_with_a_value_error(filename: str) -> None:
    with pytest.raises(InvalidWheelError) as caught:
        parse_wheel_name(filename)

    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, CacheError)
    assert caught.value.path == filename
    assert str(caught.value).startswith(f"{filename}: not a valid wheel: bad file name")


# --- validate_wheel: valid wheels ---------------------------------------------------------------


def test_valid_wheel_is_accepted_and_described_by_its_name(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path, "Foo.Bar", "2.0", "py2.py3-none-any", build="3", payload_size=4096)

    info = validate_wheel(path)

    assert info.filename == path.name == "Foo_Bar-2.0-3-py2.py3-none-any.whl"
    assert info.name == "foo-bar"
    assert info.version == Version("2.0")
    assert info.build == (3, "")
    assert info.tags == {Tag("py2", "none", "any"), Tag("py3", "none", "any")}


def test_validate_wheel_accepts_a_path_given_as_a_string(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path)

    assert validate_wheel(str(path)).name == "demo"  # type: ignore[arg-type]


def test_symlink_to_a_valid_wheel_is_accepted(tmp_path: pathlib.Path) -> None:
    if not can_symlink(tmp_path):
        pytest.skip("this filesystem cannot hold symbolic links")
    target = make_wheel(tmp_path / "real")
    link = tmp_path / target.name
    link.symlink_to(target)

    assert validate_wheel(link) == validate_wheel(target)


def test_metadata_version_equal_but_spelled_differently_is_accepted(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path, version="1.0", metadata_version="1.0.0")

    assert validate_wheel(path).version == Version("1.0.0")


def test_metadata_name_matching_after_normalisation_is_accepted(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path, "foo-bar", metadata_name="Foo_Bar")

    assert validate_wheel(path).name == "foo-bar"


# --- validate_wheel: what is not a wheel file at all --------------------------------------------


def test_missing_file_is_rejected(tmp_path: pathlib.Path) -> None:
    assert rejection(tmp_path / WHEEL_NAME).problem == "no such file"


def test_directory_is_rejected(tmp_path: pathlib.Path) -> None:
    (tmp_path / WHEEL_NAME).mkdir()

    assert rejection(tmp_path / WHEEL_NAME).problem == "it is a directory, not a file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="this platform has no named pipes")
@pytest.mark.timeout(20)  # opening the pipe would block forever
def test_fifo_is_rejected_without_being_opened(tmp_path: pathlib.Path) -> None:
    fifo = tmp_path / WHEEL_NAME
    os.mkfifo(fifo)

    assert rejection(fifo).problem == "it is a named pipe, not a regular file"


def test_dangling_symlink_is_rejected(tmp_path: pathlib.Path) -> None:
    if not can_symlink(tmp_path):
        pytest.skip("this filesystem cannot hold symbolic links")
    link = tmp_path / WHEEL_NAME
    link.symlink_to(tmp_path / "gone.whl")

    assert rejection(link).problem == "it is a dangling symbolic link"


def test_unreadable_file_is_rejected(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("permissions do not stop this user (root?) reading files")
        assert rejection(path).problem == "cannot read the file (permission denied)"
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_permission_error_on_open_is_rejected(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_wheel(tmp_path)
    real_open = os.open

    def refuse(file: str | os.PathLike[str], flags: int, *args: int, **kwargs: int) -> int:
        if os.fspath(file) == os.fspath(path):
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)

    assert rejection(path).problem == "cannot read the file (permission denied)"


def test_empty_file_is_rejected(tmp_path: pathlib.Path) -> None:
    (tmp_path / WHEEL_NAME).touch()

    assert rejection(tmp_path / WHEEL_NAME).problem == "the file is empty"


def test_non_zip_file_is_rejected(tmp_path: pathlib.Path) -> None:
    (tmp_path / WHEEL_NAME).write_bytes(b"#!/bin/sh\necho not a wheel\n" * 100)

    assert rejection(tmp_path / WHEEL_NAME).problem == "it is not a zip archive"


@pytest.mark.parametrize("fraction", [0.01, 0.5, 0.99])
def test_truncated_zip_is_rejected(tmp_path: pathlib.Path, fraction: float) -> None:
    path = make_wheel(tmp_path, payload_size=64 * 1024)
    truncate(path, int(path.stat().st_size * fraction))

    assert rejection(path).problem.startswith("the zip archive is truncated or damaged")


# --- validate_wheel: damaged or unsafe members --------------------------------------------------


@pytest.mark.parametrize("payload_size", [0, 3 * CHUNK_SIZE + 5])
def test_member_failing_its_crc_is_rejected(tmp_path: pathlib.Path, payload_size: int) -> None:
    path = make_wheel(tmp_path, payload_size=payload_size)
    member = corrupt_crc(path)

    assert rejection(path).problem == f"member {member!r} fails its CRC check (its data is corrupt)"


def test_without_crc_checks_only_metadata_and_wheel_are_read(tmp_path: pathlib.Path) -> None:
    """check_crcs=False (bytes whose SHA-256 vouches for them): a damaged payload
    member passes; a damaged METADATA or WHEEL, a bad shape or a member whose
    local header lies about its name do not."""
    payload = make_wheel(tmp_path / "payload", payload_size=3 * CHUNK_SIZE + 5)
    corrupt_crc(payload, "demo/payload.bin")
    rejection(payload)  # by default every member is read
    assert validate_wheel(payload, check_crcs=False).name == "demo"

    for required in ("METADATA", "WHEEL"):
        damaged = make_wheel(tmp_path / required, payload_size=1000)
        member = corrupt_crc(damaged, f"demo-1.0.dist-info/{required}")
        with pytest.raises(InvalidWheelError) as caught:
            validate_wheel(damaged, check_crcs=False)
        assert caught.value.problem == (
            f"member {member!r} fails its CRC check (its data is corrupt)"
        )

    unsafe = make_wheel(tmp_path / "unsafe", files={"../evil.py": b"import os\n"})
    with pytest.raises(InvalidWheelError) as caught:
        validate_wheel(unsafe, check_crcs=False)
    assert "has an unsafe path" in caught.value.problem

    # Every member's local header must still agree with the zip directory: a
    # reader trusting local headers would otherwise see another name.
    lying = make_wheel(tmp_path / "lying", files={"demo/abc.py": b"x = 1\n"})
    data = bytearray(lying.read_bytes())
    with zipfile.ZipFile(lying) as archive:
        start = archive.getinfo("demo/abc.py").header_offset + 30
    assert data[start : start + 11] == b"demo/abc.py"
    data[start : start + 11] = b"../../ab.py"
    lying.write_bytes(data)
    with pytest.raises(InvalidWheelError) as caught:
        validate_wheel(lying, check_crcs=False)
    assert "member 'demo/abc.py' cannot be read" in caught.value.problem


def test_member_with_unreadable_compressed_data_is_rejected(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path, files={"demo/text.py": b"x = 1\n" * 1000})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo("demo/text.py")
    start = member.header_offset + 30 + len(member.filename)
    data[start : start + member.compress_size] = b"\xff" * member.compress_size
    path.write_bytes(data)

    assert rejection(path).problem.startswith("member 'demo/text.py' cannot be read (")


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        ("../evil.py", "it contains a '..' component"),
        ("demo/../../evil.py", "it contains a '..' component"),
        ("/etc/evil.py", "it is absolute"),
        ("C:/evil.py", "it starts with a drive letter"),
        ("demo\\..\\..\\evil.py", "it contains a backslash"),
    ],
)
def test_member_with_path_traversal_is_rejected(
    tmp_path: pathlib.Path, member: str, reason: str
) -> None:
    path = make_wheel(tmp_path, files={member: b"import os\n"})

    assert rejection(path).problem == f"member {member!r} has an unsafe path ({reason})"


def test_member_named_twice_is_rejected(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path)
    with zipfile.ZipFile(path) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    write_zip(path, [*members, ("demo/__init__.py", b"print('surprise')\n")])

    assert rejection(path).problem == "member 'demo/__init__.py' appears more than once"


# --- validate_wheel: the .dist-info directory ---------------------------------------------------


def test_wheel_without_dist_info_is_rejected(tmp_path: pathlib.Path) -> None:
    path = write_zip(tmp_path / WHEEL_NAME, {"demo/__init__.py": b""})

    assert rejection(path).problem == "there is no top-level .dist-info directory"


def test_dist_info_below_the_top_level_does_not_count(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path)
    with zipfile.ZipFile(path) as archive:
        members = [(f"demo/{info.filename}", archive.read(info)) for info in archive.infolist()]
    write_zip(path, members)

    assert rejection(path).problem == "there is no top-level .dist-info directory"


def test_wheel_with_two_dist_info_directories_is_rejected(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path, files={"other-1.0.dist-info/METADATA": b"Name: other\n"})

    assert rejection(path).problem == (
        "there are 2 top-level .dist-info directories"
        " ('demo-1.0.dist-info', 'other-1.0.dist-info'), not one"
    )


@pytest.mark.parametrize("required", ["METADATA", "WHEEL"])
def test_dist_info_lacking_a_required_file_is_rejected(
    tmp_path: pathlib.Path, required: str
) -> None:
    path = make_wheel(tmp_path)
    remove_members(path, f"demo-1.0.dist-info/{required}")

    assert rejection(path).problem == f"demo-1.0.dist-info/{required} is missing"


def test_dist_info_naming_another_project_is_rejected(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path, "other", metadata_name="demo", filename=WHEEL_NAME)

    assert rejection(path).problem == (
        "the .dist-info directory names project 'other' but the file name says 'demo'"
    )


def test_dist_info_naming_another_version_is_rejected(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path, version="2.0", metadata_version="1.0", filename=WHEEL_NAME)

    assert rejection(path).problem == (
        "the .dist-info directory names version '2.0' but the file name says '1.0'"
    )


def test_dist_info_with_escaped_name_and_equal_version_is_accepted(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path, "foo.bar", "1.0.0", filename="foo_bar-1.0-py3-none-any.whl")

    assert validate_wheel(path).name == "foo-bar"


def test_badly_named_dist_info_is_rejected(tmp_path: pathlib.Path) -> None:
    path = write_zip(
        tmp_path / WHEEL_NAME,
        {
            "demo.dist-info/METADATA": b"Name: demo\nVersion: 1.0\n",
            "demo.dist-info/WHEEL": b"Wheel-Version: 1.0\n",
        },
    )

    assert rejection(path).problem == (
        "the .dist-info directory 'demo.dist-info' is not named '{name}-{version}.dist-info'"
    )


# --- validate_wheel: METADATA and WHEEL ---------------------------------------------------------


def test_metadata_naming_another_project_is_rejected(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path, metadata_name="other")

    assert rejection(path).problem == "METADATA names project 'other' but the file name says 'demo'"


def test_metadata_naming_another_version_is_rejected(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path, metadata_version="1.1")

    assert rejection(path).problem == "METADATA names version '1.1' but the file name says '1.0'"


@pytest.mark.parametrize("field", ["Name", "Version"])
def test_metadata_lacking_name_or_version_is_rejected(tmp_path: pathlib.Path, field: str) -> None:
    path = make_wheel(tmp_path, **{f"metadata_{field.lower()}": ""})  # type: ignore[arg-type]

    assert rejection(path).problem == f"METADATA lacks a {field} field"


def test_metadata_field_names_are_case_insensitive(tmp_path: pathlib.Path) -> None:
    path = make_wheel(
        tmp_path,
        files={"demo-1.0.dist-info/METADATA": b"metadata-version: 2.1\nname: demo\nVERSION: 1.0\n"},
    )

    assert validate_wheel(path).name == "demo"


def test_wheel_file_lacking_wheel_version_is_rejected(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path, files={"demo-1.0.dist-info/WHEEL": b"Generator: hand\n"})

    assert rejection(path).problem == "WHEEL lacks a Wheel-Version field"


def test_wheel_file_with_unsupported_wheel_version_is_rejected(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path, files={"demo-1.0.dist-info/WHEEL": b"Wheel-Version: 2.0\n"})

    assert (
        rejection(path).problem == "WHEEL says Wheel-Version '2.0', but only version 1 is supported"
    )


# --- the error ----------------------------------------------------------------------------------


def test_error_message_names_the_file_and_every_problem_found(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path, metadata_name="other", metadata_version="9")

    error = rejection(path)

    assert error.path == str(path)
    assert str(error) == (
        f"{path}: not a valid wheel: METADATA names project 'other' but the file name says 'demo';"
        " METADATA names version '9' but the file name says '1.0'"
    )


def test_bad_file_name_and_bad_content_are_reported_together(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "demo.zip"
    path.write_bytes(b"not a zip at all")

    problems = rejection(path).problem.split("; ")

    assert problems[0].startswith("bad file name: ")
    assert problems[1:] == ["it is not a zip archive"]


def test_long_lists_of_problems_are_cut_short(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path, files={f"../evil{n}.py": b"" for n in range(15)})

    problems = rejection(path).problem.split("; ")

    assert len(problems) == 11
    assert problems[-1] == "and 5 more problems"


def test_invalid_wheel_error_pickles_round_trip(tmp_path: pathlib.Path) -> None:
    error = rejection(make_wheel(tmp_path, metadata_name="other"))

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is InvalidWheelError
    assert (copy.path, copy.problem, str(copy)) == (error.path, error.problem, str(error))


# --- streaming ----------------------------------------------------------------------------------


def test_read_chunks_streams_everything_in_bounded_pieces() -> None:
    data = os.urandom(10_000)

    chunks = list(read_chunks(io.BytesIO(data), 4096))

    assert [len(chunk) for chunk in chunks] == [4096, 4096, 1808]
    assert b"".join(chunks) == data


def test_validation_does_not_load_large_members_into_memory(tmp_path: pathlib.Path) -> None:
    size = 32 * CHUNK_SIZE
    path = make_wheel(tmp_path, payload_size=size)

    tracemalloc.start()
    try:
        validate_wheel(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 8 * CHUNK_SIZE


# --- the factory --------------------------------------------------------------------------------


def test_factory_is_deterministic(tmp_path: pathlib.Path) -> None:
    first = make_wheel(tmp_path / "a", "demo", "1.0", payload_size=10_000, seed=1)
    second = make_wheel(tmp_path / "b", "demo", "1.0", payload_size=10_000, seed=1)

    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("payload_size", [0, 10_000])
def test_factory_seed_changes_the_bytes(tmp_path: pathlib.Path, payload_size: int) -> None:
    first = make_wheel(tmp_path / "a", payload_size=payload_size, seed=1)
    second = make_wheel(tmp_path / "b", payload_size=payload_size, seed=2)

    assert first.read_bytes() != second.read_bytes()


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"name": "Foo.Bar-baz", "version": "2.0rc1"},
        {"build": "1abc"},
        {"tags": "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"},
        {"payload_size": 100_000, "seed": 7},
        {"files": {"demo/data/table.csv": b"a,b\n1,2\n"}},
    ],
)
def test_factory_wheels_are_valid(tmp_path: pathlib.Path, arguments: dict[str, object]) -> None:
    path = make_wheel(tmp_path, **arguments)  # type: ignore[arg-type]

    assert validate_wheel(path).filename == path.name


def test_factory_record_lists_every_member_with_its_hash_and_size(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path, payload_size=1000, files={"demo/extra.py": b"x = 1\n"})

    with zipfile.ZipFile(path) as archive:
        record = archive.read("demo-1.0.dist-info/RECORD").decode()
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
    rows = {row[0]: row[1:] for row in csv.reader(record.splitlines())}

    assert rows.pop("demo-1.0.dist-info/RECORD") == ["", ""]
    assert set(rows) == set(contents) - {"demo-1.0.dist-info/RECORD"}
    for name, (digest, size) in rows.items():
        expected = base64.urlsafe_b64encode(hashlib.sha256(contents[name]).digest()).rstrip(b"=")
        assert (digest, size) == (f"sha256={expected.decode()}", str(len(contents[name])))


def test_corrupt_crc_leaves_the_zip_directory_readable(tmp_path: pathlib.Path) -> None:
    path = make_wheel(tmp_path, payload_size=1000)

    member = corrupt_crc(path)

    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() == member == "demo/payload.bin"


def _add_zeros(wheel: pathlib.Path, megabytes: int) -> None:
    """Append a member of *megabytes* MiB of zeros (it deflates about 1000x)."""
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(wheel, "a", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("demo/zeros.bin", date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            for _ in range(megabytes):
                member.write(chunk)


def test_a_decompression_bomb_is_refused_before_it_is_inflated(tmp_path: pathlib.Path) -> None:
    from wheelcache import Source, WheelCache
    from wheelcache._wheels.wheelfile import INFLATE_ALLOWANCE, MAX_INFLATE_RATIO

    wheel = make_wheel(tmp_path, "demo", "1.0")
    _add_zeros(wheel, INFLATE_ALLOWANCE // (1 << 20) + 16)
    assert wheel.stat().st_size * MAX_INFLATE_RATIO < INFLATE_ALLOWANCE  # a bomb, not a big wheel

    with pytest.raises(InvalidWheelError, match="refused as a likely decompression bomb") as caught:
        validate_wheel(wheel)
    assert f"{MAX_INFLATE_RATIO} times its size" in caught.value.problem

    cache = WheelCache(tmp_path / "cache")
    with pytest.raises(InvalidWheelError, match="decompression bomb"):
        cache.add(Source("bomb"), wheel)
    assert list(cache.wheels()) == []
