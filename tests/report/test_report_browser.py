"""report.html in a real browser: headless Chromium renders it from disk with no network.

Three checks: a screenshot that is not blank; the DOM after parsing has every section and shows
the ``<script>`` layer name as text; Chromium's network log holds no request made by the page
(a control page with an external image proves the log check sees such requests).
Skipped, with the reason, when Chromium is not installed (``scripts/setup-dev.sh`` installs it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rmtfit.report import write_outputs
from rmtfit.report._html import SECTIONS


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


CHROMIUM = _find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (scripts/setup-dev.sh installs Debian's `chromium`)",
)

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing can resolve, even if something tried
)


def _chromium(tmp: Path, page: Path, *extra: str) -> tuple[subprocess.CompletedProcess, Path]:
    """Run Chromium on ``page`` with a fresh profile and a network log; returns (process, log)."""
    profile = tmp / f"profile-{len(list(tmp.iterdir()))}"
    netlog = profile.with_suffix(".netlog.json")
    cmd = [
        CHROMIUM,
        *FLAGS,
        f"--user-data-dir={profile}",
        f"--log-net-log={netlog}",
        *extra,
        page.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    return proc, netlog


def page_requests(netlog: Path) -> list[str]:
    """URLs of requests started on behalf of a page (not Chromium's own background services)."""
    text = netlog.read_text()
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # a log cut short: close the events list
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if names.get(event["type"]) != "URL_REQUEST_START_JOB" or "url" not in params:
            continue
        # a file:// page's requests carry its opaque origin ('null') and a file:// isolation key;
        # Chromium's own background requests (time sync, sign-in probes) carry 'not an origin'
        if params.get("initiator") == "null" or "file://" in params.get(
            "network_isolation_key", ""
        ):
            urls.append(params["url"])
    return urls


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory, analysis_factory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "report"
    write_outputs(analysis_factory("full"), out)
    return out


def test_screenshot_renders_the_page(report_dir, tmp_path):
    shot = tmp_path / "report.png"
    proc, netlog = _chromium(
        tmp_path, report_dir / "report.html", f"--screenshot={shot}", "--window-size=1280,2000"
    )
    assert shot.is_file(), proc.stderr[-2000:]
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (2000, 1280)
    assert float(np.std(pixels[..., :3])) > 0.05  # text, tables and figures, not a blank page
    assert page_requests(netlog) == []


def test_dom_has_every_section_and_shows_the_script_name_as_text(report_dir, tmp_path, xss_name):
    proc, netlog = _chromium(tmp_path, report_dir / "report.html", "--dump-dom")
    dom = proc.stdout
    assert "</html>" in dom, proc.stderr[-2000:]
    for section in SECTIONS:
        assert f'id="{section}"' in dom, section
    assert "<script" not in dom.lower()  # parsed as text, no element was created
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert dom.count("<img ") >= 4
    assert page_requests(netlog) == []


def test_network_log_check_sees_a_page_request(tmp_path):
    page = tmp_path / "control.html"
    page.write_text('<html><body><img src="http://rmtfit-test.invalid/x.png"></body></html>')
    _, netlog = _chromium(tmp_path, page, "--dump-dom")
    assert "http://rmtfit-test.invalid/x.png" in page_requests(netlog)
