"""report.html in a real browser: headless Chromium renders it from disk with no network.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``, stdlib
only): the test loads the page, clicks its controls as a user would (the log-log / linear toggle,
a column header, the phase filter), reads the DOM and takes screenshots. Every page must load
with no script error, no dialog (the ``<script>`` layer name stays text) and no request:
Chromium's network log holds none (a control page with an external image proves the check sees
requests). A 500-layer page of synthetic spectra (fast mode) is loaded too; its size and load
time are printed (``pytest -s``). Skipped, with the reason, when Chromium is not installed
(``scripts/setup-dev.sh`` installs it).
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from rmtfit.pipeline import analyze
from rmtfit.report import write_outputs
from rmtfit.report._html import SECTIONS
from rmtfit.spectra import Spectra, Spectrum


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


class Browser:
    """Headless Chromium on a DevTools pipe: navigate, evaluate, screenshot; events are kept."""

    def __init__(self, tmp: Path, width: int = 1280, height: int = 1800) -> None:
        profile = tmp / f"profile-{len(list(tmp.iterdir()))}"
        self.netlog = profile.with_suffix(".netlog.json")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4
        shell = f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}'
        # bash, not sh: dash accepts only single-digit descriptors in redirections
        cmd = ["bash", "-c", shell, CHROMIUM, *FLAGS, "--remote-debugging-pipe"]
        cmd += [f"--user-data-dir={profile}", f"--log-net-log={self.netlog}", "about:blank"]
        self._log = open(tmp / f"{profile.name}.stderr", "w")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            cmd, pass_fds=(to_chrome_r, from_chrome_w), stdout=self._log, stderr=self._log
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        target = next(
            t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page"
        )
        attached = self.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)
        self.session = attached["sessionId"]
        for domain in ("Page.enable", "Runtime.enable"):
            self.send(domain, session=self.session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            session=self.session,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _message(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_chrome], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("Chromium did not answer on the DevTools pipe")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, session: str | None = None, timeout: float = 60, **params) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._message(timeout)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self._message(deadline - time.monotonic())
            self.events.append(event)
            if event.get("method") == method:
                return event
        raise TimeoutError(method)

    def open(self, page: Path) -> float:
        """Load ``page``; returns the wall time until its script marked it ready (seconds)."""
        start = time.perf_counter()
        self.send("Page.navigate", session=self.session, url=page.as_uri())
        self.wait_for("Page.loadEventFired")
        while not self.evaluate("document.documentElement.dataset.ready === '1'"):
            if time.perf_counter() - start > 60:
                raise TimeoutError(f"{page}: the page's script never finished")
            time.sleep(0.02)
        return time.perf_counter() - start

    def evaluate(self, expression: str):
        result = self.send(
            "Runtime.evaluate", session=self.session, expression=expression, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, *, full_page: bool = False) -> np.ndarray:
        params = {"format": "png"}
        if full_page:
            height = self.evaluate("document.documentElement.scrollHeight")
            width = self.evaluate("document.documentElement.scrollWidth")
            params["clip"] = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", session=self.session, **params)["data"]
        path.write_bytes(base64.b64decode(data))
        from matplotlib.image import imread

        return imread(path)

    def problems(self) -> list[str]:
        """Script errors, console errors and dialogs seen so far."""
        bad = []
        for event in self.events:
            method = event.get("method")
            params = event.get("params", {})
            if method == "Runtime.exceptionThrown":
                bad.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                bad.append(json.dumps(params.get("args"))[:500])
            elif method == "Page.javascriptDialogOpening":
                bad.append(f"dialog: {params.get('message')}")
        return bad

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        self._log.close()


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


@pytest.fixture
def browser(tmp_path):
    b = Browser(tmp_path)
    yield b
    b.close()


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory, analysis_factory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "report"
    write_outputs(analysis_factory("full"), out)
    return out


def _ink(pixels: np.ndarray) -> float:
    return float(np.std(pixels[..., :3]))


def test_interactive_page_draws_and_toggles_log_log(report_dir, browser, tmp_path, xss_name):
    browser.open(report_dir / "report.html")
    dom = browser.evaluate("document.documentElement.outerHTML")
    for section in SECTIONS:
        assert f'id="{section}"' in dom, section
    assert browser.evaluate("document.scripts.length") == 2  # the data block and the page's script
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # the name is text, not an element
    names = browser.evaluate(
        "Array.from(document.querySelectorAll('#layer-table tbody tr')).map(r => r.dataset.name)"
    )
    assert xss_name in names
    canvas = "document.getElementById('esd-canvas')"
    assert browser.evaluate(f"{canvas}.dataset.scale") == "log"
    before = browser.screenshot(tmp_path / "log.png")
    assert before.shape[:2] == (1800, 1280)
    assert _ink(before) > 0.05
    browser.evaluate("document.querySelector(\"button[data-scale='lin']\").click()")
    assert browser.evaluate(f"{canvas}.dataset.scale") == "lin"
    pressed = "document.querySelector(\"button[data-scale='lin']\").getAttribute('aria-pressed')"
    assert browser.evaluate(pressed) == "true"
    esd_box = browser.evaluate(
        f"(() => {{ const r = {canvas}.getBoundingClientRect(); "
        "return [r.left, r.top + window.scrollY, r.width, r.height]; })()"
    )
    browser.evaluate(f"{canvas}.scrollIntoView()")
    top = browser.evaluate("window.scrollY")
    after = browser.screenshot(tmp_path / "linear.png")
    x, y, w, h = (int(v) for v in esd_box)
    y -= int(top)
    linear = after[y : y + h, x : x + w, :3]
    browser.evaluate("document.querySelector(\"button[data-scale='log']\").click()")
    loglog = browser.screenshot(tmp_path / "log-again.png")[y : y + h, x : x + w, :3]
    assert _ink(linear) > 0.02 and _ink(loglog) > 0.02  # both axes drew something
    assert np.mean(np.abs(linear - loglog)) > 0.005  # and not the same picture
    assert browser.problems() == []
    assert page_requests(browser.netlog) == []


def test_table_sorts_filters_and_selects(report_dir, browser):
    browser.open(report_dir / "report.html")
    rows = "Array.from(document.querySelectorAll('#layer-table tbody tr'))"
    visible = f"{rows}.filter(r => !r.hidden).map(r => Number(r.dataset.id))"
    assert browser.evaluate(visible) == [0, 1, 2, 3, 4]
    header = "Array.from(document.querySelectorAll('#layer-table th')).find(h => h.textContent.startsWith('α (classical)'))"
    browser.evaluate(f"{header}.click()")
    alphas = browser.evaluate(f"{rows}.map(r => r.dataset.alpha).filter(a => a !== '').map(Number)")
    assert alphas == sorted(alphas) and len(alphas) == 4
    browser.evaluate(f"{header}.click()")
    alphas = browser.evaluate(f"{rows}.map(r => r.dataset.alpha).filter(a => a !== '').map(Number)")
    assert alphas == sorted(alphas, reverse=True)
    phases = browser.evaluate(f"{rows}.map(r => r.dataset.phase)")
    wanted = next(p for p in phases if p)
    browser.evaluate(
        f"(() => {{ const s = document.getElementById('f-phase'); s.value = '{wanted}'; "
        "s.dispatchEvent(new Event('input')); })()"
    )
    shown = browser.evaluate(f"{rows}.filter(r => !r.hidden).map(r => r.dataset.phase)")
    assert shown == [wanted] * phases.count(wanted)
    assert browser.evaluate("document.getElementById('f-count').textContent") == (
        f"showing {phases.count(wanted)} of 5 layers"
    )
    browser.evaluate(f"{rows}.find(r => r.dataset.id === '2').click()")
    assert browser.evaluate("document.getElementById('esd-canvas').dataset.layer") == "2"
    assert browser.evaluate("document.querySelector('article.layer.selected').id") == "layer-2"
    assert browser.problems() == []


def _synthetic_spectra(n_layers: int, seed: int = 0) -> Spectra:
    """``n_layers`` Wishart and heavy-tailed spectra of a few shapes (eigenvalues from an SVD)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_layers):
        n, m = (256, 64 + 32 * (i % 4))
        w = rng.standard_normal((n, m)) if i % 3 else rng.standard_t(2.5, size=(n, m))
        evals = np.sort(np.linalg.svd(w / np.sqrt(n), compute_uv=False) ** 2)
        out.append(Spectrum(f"blocks.{i}.mlp.fc{i % 2}.weight", "linear", n, m, evals))
    return Spectra(tuple(out), (), source="synthetic-500.safetensors")


def test_a_500_layer_page_loads_quickly_and_stays_small(tmp_path, browser, capsys):
    analysis = analyze(_synthetic_spectra(500), fast=True, quiet=True, progress=False)
    start = time.perf_counter()
    outputs = write_outputs(analysis, tmp_path / "big")
    write_s = time.perf_counter() - start
    size = outputs.html.stat().st_size
    load_s = browser.open(outputs.html)
    pixels = browser.screenshot(tmp_path / "big.png", full_page=False)
    assert _ink(pixels) > 0.05
    assert browser.evaluate("document.querySelectorAll('#layer-table tbody tr').length") == 500
    browser.evaluate("document.querySelector(\"button[data-scale='lin']\").click()")
    browser.evaluate("document.getElementById('esd-next').click()")
    assert browser.evaluate("document.getElementById('esd-canvas').dataset.layer") == "1"
    assert browser.problems() == []
    assert page_requests(browser.netlog) == []
    with capsys.disabled():
        print(f"\n500-layer fast page: {size / 1e6:.2f} MB, written in {write_s:.2f} s, "
              f"loaded and drawn in {load_s:.2f} s")  # fmt: skip
    assert size < 3e6  # a few MB, not one PNG per layer
    assert load_s < 15


def test_network_log_check_sees_a_page_request(tmp_path):
    page = tmp_path / "control.html"
    page.write_text('<html><body><img src="http://rmtfit-test.invalid/x.png"></body></html>')
    browser = Browser(tmp_path)
    try:
        browser.send("Page.navigate", session=browser.session, url=page.as_uri())
        browser.wait_for("Page.loadEventFired")
    finally:
        browser.close()
    assert "http://rmtfit-test.invalid/x.png" in page_requests(browser.netlog)
