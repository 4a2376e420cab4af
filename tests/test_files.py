"""Files written for the user are never overwritten without --force and never left partial."""

from __future__ import annotations

import os

import pytest

from backprop_cli import files
from backprop_cli.errors import IOFailure, UsageError


def test_writes_a_new_file(tmp_path) -> None:
    target = tmp_path / "out.txt"
    files.write_new_file(str(target), "hello")
    assert target.read_text() == "hello"


def test_keeps_an_existing_file_without_force(tmp_path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("precious")
    with pytest.raises(UsageError, match="already exists; not overwritten"):
        files.write_new_file(str(target), "new")
    assert target.read_text() == "precious"
    files.write_new_file(str(target), "new", force=True)
    assert target.read_text() == "new"


def test_failure_leaves_no_partial_file(tmp_path, monkeypatch) -> None:
    target = tmp_path / "out.txt"

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    monkeypatch.setattr(os, "link", broken_replace)
    with pytest.raises(IOFailure, match=r"out\.txt: cannot be written: disk full"):
        files.write_new_file(str(target), "data")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(IOFailure, match=r"out\.txt: cannot be written: disk full"):
        files.write_new_file(str(target), "data", force=True)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch) -> None:
    target = tmp_path / "out.txt"

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.write_new_file(str(target), "data")
    assert list(tmp_path.iterdir()) == []


def test_a_file_created_meanwhile_is_not_overwritten(tmp_path, monkeypatch) -> None:
    """Another process creates the file between the existence check and the rename."""
    target = tmp_path / "out.txt"
    real_fsync = os.fsync

    def create_meanwhile(fd):
        real_fsync(fd)
        target.write_text("theirs")

    monkeypatch.setattr(os, "fsync", create_meanwhile)
    with pytest.raises(UsageError, match="already exists; not overwritten"):
        files.write_new_file(str(target), "ours")
    assert target.read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_without_hard_links_the_file_is_still_written(tmp_path, monkeypatch) -> None:
    def no_links(src, dst):
        raise PermissionError("hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    target = tmp_path / "out.txt"
    files.write_new_file(str(target), "data")
    assert target.read_text() == "data"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_refuses_a_directory_and_a_missing_folder(tmp_path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        files.write_new_file(str(tmp_path), "x")
    with pytest.raises(UsageError, match="the folder does not exist"):
        files.write_new_file(str(tmp_path / "no" / "out.txt"), "x")
