"""Tests for tests/support/browser.py: where the browser tier's Chromium comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import browser


@pytest.fixture
def no_chromium_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(browser.CHROMIUM_ENV, raising=False)
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.setattr(browser, "CHROMIUM_CANDIDATES", ())


def test_a_named_binary_wins_over_the_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    named = tmp_path / "chrome"
    named.write_text("#!/bin/sh\n")
    named.chmod(0o755)
    monkeypatch.setenv(browser.CHROMIUM_ENV, str(named))

    assert browser.find_chromium() == str(named)


def test_a_named_binary_that_does_not_exist_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(browser.CHROMIUM_ENV, str(tmp_path / "missing"))

    with pytest.raises(browser.BrowserUnavailableError, match="is not an executable file"):
        browser.find_chromium()


@pytest.mark.usefixtures("no_chromium_anywhere")
def test_without_root_a_missing_browser_names_the_package_and_installs_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    installed: list[list[str]] = []
    monkeypatch.setattr(browser, "running_as_root", lambda: False)
    monkeypatch.setattr(browser, "install_debian_packages", lambda packages: installed.append(list(packages)))

    with pytest.raises(browser.BrowserUnavailableError) as raised:
        browser.ensure_chromium()

    assert "sudo apt-get install chromium" in str(raised.value)
    assert installed == []


@pytest.mark.usefixtures("no_chromium_anywhere")
def test_as_root_a_missing_browser_is_installed_from_debian(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    installed: list[list[str]] = []
    binary = tmp_path / "chromium"

    def install(packages: list[str]) -> None:
        installed.append(list(packages))
        binary.write_text("#!/bin/sh\n")
        binary.chmod(0o755)

    monkeypatch.setattr(browser, "running_as_root", lambda: True)
    monkeypatch.setattr(browser, "install_debian_packages", install)
    monkeypatch.setattr(browser, "CHROMIUM_CANDIDATES", (str(binary),))

    assert browser.ensure_chromium() == str(binary)
    assert installed == [["chromium"]]
