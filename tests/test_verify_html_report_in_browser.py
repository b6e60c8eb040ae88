"""The HTML report of ``idiscore verify`` in a real browser (headless Chromium driven by
selenium): the page shows the audit's counts, sorts, filters and opens a file's details with
before/after thumbnails and the blanked box outlined. A screenshot is saved as an artifact
(``tmp_path``; also to ``$IDISCORE_REPORT_SCREENSHOT`` when set, which is how the README's
picture is made)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file
from verify_corpus import write_planted

from idiscore.batch import BatchOptions, run_batch
from idiscore.core import Profile
from idiscore.defaults import create_core, get_dicom_rule_sets
from idiscore.image_processing import Criterion, PIILocation, SquareArea
from idiscore.operators import Keep
from idiscore.pseudonyms import Pseudonymizer
from idiscore.rules import Rule, RuleSet
from idiscore.verify import VerifyOptions, run_verify
from idiscore.verify.html import render_html, write_html
from idiscore.verify.preview import changed_boxes, png_data_uri

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _report(tmp_path: Path) -> tuple[Path, object]:
    """A run with leaks (a profile keeping the request attributes, which only the planted
    files have) and pixel cleaning, verified."""
    source = tmp_path / "in"
    write_planted(source / "planted", "explicit-defined")
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copyfile(str(get_testdata_file(name)), source / name)
    holes = RuleSet(
        [Rule("RequestAttributesSequence", Keep()), Rule("RequestedProcedureID", Keep())],
        name="keeps the request",
    )
    profile = Profile([get_dicom_rule_sets().basic_profile, holes], name="weakened")
    banner = PIILocation(
        areas=[SquareArea(origin_x=8, origin_y=4, width=60, height=12)],
        criterion=Criterion({"Modality": "CT", "Rows": 128, "Columns": 128}),
    )
    core = create_core(profile, [banner], pseudonymizer=Pseudonymizer(b"html"))
    assert run_batch(core, [source], BatchOptions(output=tmp_path / "out")).ok
    summary = run_verify(
        source, tmp_path / "out", VerifyOptions(dciodvfy=False, previews=True), keep_results=True
    )
    return write_html(summary, tmp_path / "verify.html"), summary


def test_report_is_self_contained(tmp_path: Path) -> None:
    path, summary = _report(tmp_path)
    text = path.read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text and "<link" not in text and ' src="http' not in text
    assert "Quillfeather" not in text and "Wrexbury" not in text  # no value, ever
    assert text.count("data:image/png;base64,") >= 2
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    ct = next(r for r in summary.results if r.input.endswith("CT_small.dcm"))  # type: ignore[attr-defined]
    assert ct.preview["boxes"], "the blanked banner is outlined"
    [x0, y0, x1, y1] = ct.preview["boxes"][0]
    assert (x0, y0, x1, y1) == (8, 4, 68, 16)  # CT_small is 128 px: thumbnail scale 1


def test_png_and_boxes() -> None:
    import numpy as np

    image = np.zeros((3, 4), dtype=np.uint8)
    assert png_data_uri(image).startswith("data:image/png;base64,iVBORw0KGgo")
    mask = np.zeros((10, 10), dtype=bool)
    mask[1:3, 1:4] = True
    mask[6:9, 5:6] = True
    assert changed_boxes(mask) == [(1, 1, 4, 3), (5, 6, 6, 9)]
    assert "</script><script>alert" not in render_html(_fake_summary("</script><script>alert"))


def _fake_summary(name: str) -> object:
    from idiscore.verify.audit import PairResult
    from idiscore.verify.runner import VerifySummary

    summary = VerifySummary(results=[PairResult(name, None, status="leak")])
    summary.counts["leak"] = 1
    return summary


def _driver() -> object:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("chromium and chromedriver are not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1400"):  # fmt: skip
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def test_report_in_headless_chromium(tmp_path: Path) -> None:
    path, summary = _report(tmp_path)
    driver = _driver()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    try:
        driver.get(path.as_uri())  # type: ignore[attr-defined]
        find = driver.find_element  # type: ignore[attr-defined]
        counts = summary.counts  # type: ignore[attr-defined]
        for status in ("clean", "kept", "not_verified", "problem", "leak"):
            assert find(By.ID, f"count-{status}").text == str(counts[status])
        assert find(By.ID, "count-total").text == "4"
        assert counts["leak"] >= 2
        assert find(By.ID, "verdict").text == "NOT clean"
        rows = driver.find_elements(By.CSS_SELECTOR, "#files tr.file")  # type: ignore[attr-defined]
        assert len(rows) == 4 and find(By.ID, "shown").text == "4"
        # sorted worst first: the leaks on top; click the status header: best first
        assert rows[0].find_element(By.CSS_SELECTOR, "td").text == "leak"
        find(By.CSS_SELECTOR, "th[data-key=status]").click()
        first = driver.find_elements(By.CSS_SELECTOR, "#files tr.file td")[0]  # type: ignore[attr-defined]
        assert first.text != "leak"
        # filter by status, then by text
        Select(find(By.ID, "status-filter")).select_by_value("leak")
        assert find(By.ID, "shown").text == str(counts["leak"])
        Select(find(By.ID, "status-filter")).select_by_value("")
        find(By.ID, "filter").send_keys("CT_small")
        assert find(By.ID, "shown").text == "1"
        # the CT's details: its thumbnails, the banner outlined
        driver.find_elements(By.CSS_SELECTOR, "#files tr.file")[0].click()  # type: ignore[attr-defined]
        images = driver.find_elements(By.CSS_SELECTOR, "tr.detail .thumb img")  # type: ignore[attr-defined]
        assert len(images) == 2
        assert all(driver.execute_script("return arguments[0].naturalWidth", i) == 128  # type: ignore[attr-defined]
                   for i in images)  # fmt: skip
        assert driver.find_elements(By.CSS_SELECTOR, "tr.detail svg rect")  # type: ignore[attr-defined]
        find(By.ID, "filter").clear()
        find(By.ID, "filter").send_keys("planted")
        driver.find_elements(By.CSS_SELECTOR, "#files tr.file")[0].click()  # type: ignore[attr-defined]
        detail = find(By.CSS_SELECTOR, "tr.detail").text
        assert "id in (0040,0275)[0]/(0040,1001)" in detail
        screenshot = tmp_path / "verify-report.png"
        find(By.ID, "filter").send_keys(Keys.CONTROL, "a", Keys.DELETE)  # every file again
        assert find(By.ID, "shown").text == "4"
        for name in ("image1", "CT_small"):
            row = next(
                r
                for r in driver.find_elements(By.CSS_SELECTOR, "#files tr.file")  # type: ignore[attr-defined]
                if name in r.text
            )
            row.click()
        assert driver.save_screenshot(str(screenshot))  # type: ignore[attr-defined]
        assert screenshot.stat().st_size > 10_000
        wanted = os.environ.get("IDISCORE_REPORT_SCREENSHOT")
        if wanted:
            shutil.copyfile(screenshot, wanted)
    finally:
        driver.quit()  # type: ignore[attr-defined]
