"""`jaxsr demo` (jaxsr.demo): the page's logic without a browser, then the page itself in headless Chromium.

The logic tests need neither Gradio nor a browser. The browser test needs Gradio and Selenium (the demo
extra and the test driver, installed by .ci/run) and Debian's `chromium` + `chromium-driver` (apt-get,
also by .ci/run); it skips, saying which is missing, only where they cannot be installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import numpy as np
import pytest
import scipy.interpolate
import soundfile as sf

import jaxsr
from jaxsr import demo

REPO = pathlib.Path(__file__).resolve().parents[1]
RATE = 16_000


def _voice(seconds: float = 1.0, rate: int = RATE) -> np.ndarray:
    """A short voiced clip from jaxsr's embedded synthetic voices: speech-like, made here, nothing read."""
    from jaxsr.data.synthetic import voice_bank

    return voice_bank(rate, "test")[0][: int(seconds * rate)] * 0.8


def _wav(
    path: pathlib.Path, x: np.ndarray, rate: int = RATE, subtype: str = "FLOAT"
) -> pathlib.Path:
    sf.write(path, x, rate, subtype=subtype)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[pathlib.Path, np.ndarray]:
    x = _voice()
    return _wav(tmp_path_factory.mktemp("demo") / "voice.wav", x), x


# ----------------------------------------------------------------------------------- packaging, CLI
def test_gradio_is_imported_by_the_demo_page_alone():
    # `import jaxsr`, the CLI and even the demo module's logic must work without Gradio installed.
    code = (
        "import sys, jaxsr, jaxsr.cli, jaxsr.demo; jaxsr.demo.model_choices(); "
        "assert 'gradio' not in sys.modules, 'gradio imported'"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_without_gradio_one_line_and_exit_2():
    # A None entry in sys.modules makes `import gradio` fail as if it were not installed.
    code = "import sys; sys.modules['gradio'] = None; from jaxsr.cli import main; sys.exit(main(['demo']))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and 'pip install -e ".[demo]"' in lines[0]
        and 'pip install "jaxsr[demo]"' in lines[0]
    ), r.stderr


def test_demo_subcommand_and_extra(capsys):
    from jaxsr.cli import COMMANDS, main

    assert COMMANDS["demo"][0] == "jaxsr.demo"
    with pytest.raises(SystemExit) as e:
        main(["demo", "--help"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("usage: jaxsr demo")
    assert 'demo = ["gradio' in (REPO / "pyproject.toml").read_text()


# ------------------------------------------------------------------------------------ the page's logic
def test_model_picker_and_summary():
    names = demo.model_choices()
    assert {"speech-sr-x4-16k", "speech-denoise-16k", "speech-inpaint-16k"} <= set(names)
    text = demo.describe_model("speech-sr-x4-16k")
    assert (
        jaxsr.pretrained.manifest("speech-sr-x4-16k")["description"] in text
        and "4000 Hz in" in text
    )
    assert {"xla", "stablehlo"} <= set(demo.runtime_choices("speech-sr-x4-16k"))
    assert demo.task_of("speech-inpaint-16k") == "inpaint"
    bad = demo.describe_model(
        "speech-sr-x4-16"
    )  # a typo: the library's did-you-mean line, not a crash
    assert bad.startswith("**Error:**") and "speech-sr-x4-16k" in bad and "\n" not in bad


def test_sr_input_baselines_and_metrics_against_independent_references(clip):
    path, y = clip
    model = demo.load_model("speech-sr-x4-16k")
    p = demo.make_input(model, y[:, None], RATE, degrade=True, resampler="decimate_nofilter")
    # "decimate_nofilter" keeps every 4th sample, nothing else: the input is y[::4] exactly.
    assert p.rate == 4000 and p.audio.shape == (len(y) // 4, 1)
    np.testing.assert_array_equal(p.audio[:, 0], y[::4])
    np.testing.assert_array_equal(p.reference[:, 0], y)
    base = demo.baselines(model, p, len(y))
    assert list(base) == ["cubic spline", "sinc"]
    # Not-a-knot cubic spline through the knots at 0, 4, 8, ... (scipy's own), extrapolated at the end.
    knots = np.arange(len(p.audio)) * 4
    want = scipy.interpolate.CubicSpline(knots, p.audio[:, 0].astype(np.float64))(np.arange(len(y)))
    np.testing.assert_allclose(base["cubic spline"][:, 0], want, atol=1e-5)
    # Windowed sinc is band-limited: a 500 Hz tone sampled at 4 kHz comes back as the 16 kHz tone.
    t = np.arange(len(y)) / RATE
    tone = np.sin(2 * np.pi * 500 * t).astype(np.float32)
    tp = demo.Prepared(tone[::4, None], 4000.0)
    sinc = demo.baselines(model, tp, len(y))["sinc"][:, 0]
    mid = slice(
        1000, len(y) - 1000
    )  # away from the ends, where the signal is taken as zero outside
    assert np.max(np.abs(sinc[mid] - tone[mid])) < 1e-3
    # Metrics: SNR and SI-SDR by their textbook formulas, LSD is 0 against itself.
    est = y + 0.1 * np.random.default_rng(1).standard_normal(len(y)).astype(np.float32)
    s = demo.score(y[:, None], {"est": est[:, None], "same": y[:, None]})
    snr = 10 * np.log10(
        np.sum(y.astype(np.float64) ** 2) / np.sum((y - est).astype(np.float64) ** 2)
    )
    assert s["est"]["SNR"] == pytest.approx(snr, abs=1e-6)
    a, b = y - y.mean(), est - est.mean()
    proj = np.dot(b, a) / np.dot(a, a) * a
    assert s["est"]["SI-SDR"] == pytest.approx(
        10 * np.log10(np.sum(proj**2) / np.sum((b - proj) ** 2)), abs=1e-4
    )
    assert s["same"]["LSD"] == pytest.approx(0.0, abs=1e-9)
    assert "| est |" in demo.metrics_table(s)


def test_denoise_input_has_the_asked_snr_and_inpaint_the_asked_gaps(clip):
    _, y = clip
    stereo = np.stack([y, y[::-1]], axis=1)
    p = demo.make_input(
        demo.load_model("speech-denoise-16k"), stereo, RATE, degrade=True, noise="brown", snr_db=3.0
    )
    for c in range(2):
        noise = (p.audio[:, c] - stereo[:, c]).astype(np.float64)
        assert 10 * np.log10(
            np.mean(stereo[:, c].astype(np.float64) ** 2) / np.mean(noise**2)
        ) == pytest.approx(3.0, abs=1e-3)
    assert not np.allclose(
        p.audio[:, 0] - stereo[:, 0], p.audio[:, 1] - stereo[:, 1]
    )  # each channel its own noise

    model = demo.load_model("speech-inpaint-16k")
    p = demo.make_input(model, y[:, None], RATE, degrade=True, num_gaps=4, gap_ms=20)
    runs = np.diff(np.concatenate([[0], p.mask.astype(int), [0]]))
    starts, ends = np.flatnonzero(runs == 1), np.flatnonzero(runs == -1)
    assert len(starts) == 4 and np.all(ends - starts == 320)  # 20 ms at 16 kHz
    assert np.all(p.audio[p.mask, 0] == 0) and np.array_equal(p.audio[~p.mask, 0], y[~p.mask])
    fill = demo.baselines(model, p, len(y))["linear fill"][:, 0]
    known = np.flatnonzero(~p.mask)
    np.testing.assert_allclose(fill, np.interp(np.arange(len(y)), known, y[known]), atol=1e-6)
    # Not cut: the file's own runs of zeros are the gaps.
    z = y.copy()
    z[4000:4400] = 0
    p = demo.make_input(model, z[:, None], RATE, zero_gap_ms=5)
    assert p.mask[4000:4400].all() and p.mask.sum() == 400 and "1 gap(s)" in p.note


def test_a_press_restores_what_enhance_restores(clip, tmp_path):
    path, y = clip
    # A 24-bit stereo FLAC at 8 kHz for the x4 model: resampled to 4 kHz, its own band kept; the download
    # comes back as 24-bit FLAC.
    x8 = np.stack([y[::2], 0.5 * y[::2]], axis=1)
    src = _wav(tmp_path / "in.flac", x8, 8000, "PCM_24")
    r = demo.run_page("speech-sr-x4-16k", src, outdir=tmp_path / "out")
    x_read, rate = sf.read(src, dtype="float32", always_2d=True)
    want = jaxsr.enhance(demo.load_model("speech-sr-x4-16k"), x_read, sample_rate=rate)
    np.testing.assert_array_equal(r.restored, want)
    played, played_rate = sf.read(r.players["restored"], dtype="float32", always_2d=True)
    assert played_rate == RATE and np.array_equal(
        played, want
    )  # the player plays the exact samples
    info = sf.info(r.download)
    assert (
        r.download.endswith("in-restored.flac") and info.subtype == "PCM_24" and info.channels == 2
    )
    assert list(r.players) == [
        "input (8000 Hz)",
        "baseline: cubic spline",
        "baseline: sinc",
        "restored",
    ]
    assert (
        pathlib.Path(r.spectrogram).stat().st_size > 1000 and r.metrics == ""
    )  # no reference, no scores
    assert r.status.startswith("Restored 1.00 s") and "resampled from 8000 Hz" in r.status

    r = demo.run_page(
        "speech-denoise-16k", path, degrade=True, noise="white", snr_db=0, outdir=tmp_path / "dn"
    )
    assert set(r.players) == {"input (16000 Hz)", "original", "baseline: noisy input", "restored"}
    rows = {
        line.split("|")[1].strip(): float(line.split("|")[2]) for line in r.metrics.splitlines()[2:]
    }
    assert (
        rows["noisy input"] == pytest.approx(0.0, abs=0.01)
        and rows["restored"] > rows["noisy input"] + 3
    )


def _message(fn) -> str:
    with pytest.raises(Exception) as e:
        fn()
    text = demo.error_message(e.value)
    assert "\n" not in text
    return text


def test_errors_are_the_librarys_one_line_messages_and_the_next_press_works(
    clip, tmp_path, monkeypatch
):
    good, _ = clip
    press = lambda p, **kw: demo.run_page("speech-denoise-16k", p, outdir=tmp_path / "o", **kw)  # noqa: E731
    (tmp_path / "noise.wav").write_bytes(b"RIFF this is not audio at all" * 10)
    assert _message(lambda: press(tmp_path / "noise.wav")).startswith(
        "cannot decode audio file noise.wav:"
    )
    (tmp_path / "empty.wav").write_bytes(b"")
    assert (
        _message(lambda: press(tmp_path / "empty.wav"))
        == "empty.wav is empty (0 bytes); expected an audio file"
    )
    low = _wav(tmp_path / "low.wav", np.zeros(100, np.float32), 500)
    assert "sample_rate=500 Hz is outside the plausible range" in _message(lambda: press(low))
    # A plausible rate too, when the page makes the input itself (it resamples before enhance sees it).
    assert "outside the plausible range" in _message(lambda: press(low, degrade=True))
    nan = _wav(tmp_path / "nan.wav", np.array([0.1, np.nan, 0.2] * 100, np.float32))
    assert (
        _message(lambda: press(nan))
        == "nan.wav contains NaN or infinite samples; expected finite audio"
    )
    assert _message(lambda: press(None)).startswith("no audio")
    import jaxsr.inference.checks as checks

    monkeypatch.setattr(checks, "_physical_memory_bytes", lambda: 2**18)  # a 256 KiB machine
    assert "more than half of this machine's" in _message(lambda: press(good))
    assert "more than half of this machine's" in _message(lambda: press(good, degrade=True))
    monkeypatch.undo()
    assert press(good).status.startswith("Restored")


# ------------------------------------------------------------------------------------------- the page
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _browser_missing() -> str | None:
    for module, what in (
        ("gradio", 'Gradio (pip install -e ".[demo]")'),
        ("selenium", "Selenium (pip install selenium)"),
    ):
        if importlib.util.find_spec(module) is None:
            return f"{what} is not installed"
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not os.access(exe, os.X_OK):
            return f"{exe} is missing (apt-get install chromium chromium-driver; .ci/run does)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def page_url(tmp_path):
    missing = _browser_missing()  # before the server, which needs Gradio
    if missing:
        pytest.skip(f"browser test: {missing}")
    port = _free_port()
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jaxsr.demo", "--port", str(port), "--model", "speech-denoise-16k"],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the demo did not start: {(tmp_path / 'server.log').read_text()[-3000:]}"
                    )
                time.sleep(1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _chrome(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path, prefix='chromium-')}",
        "--window-size=1400,1700",
        # Any host but this machine resolves to nothing: the page must work without the outside.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ):
        o.add_argument(flag)
    o.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)


def _outside_requests(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        m = json.loads(entry["message"])["message"]
        if m["method"] == "Network.requestWillBeSent":
            u = urllib.parse.urlparse(m["params"]["request"]["url"])
            if u.scheme in ("http", "https", "ws", "wss") and u.hostname not in (
                "127.0.0.1",
                "localhost",
            ):
                urls.append(u.geturl())
    return urls


@pytest.mark.slow
def test_the_page_in_headless_chromium(page_url, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    x = _voice()
    good = _wav(tmp_path / "voice.wav", x)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVE but nothing else" * 8)
    shots = pathlib.Path(os.environ.get("JAXSR_DEMO_SHOTS") or tmp_path)
    driver = _chrome(tmp_path)
    try:
        driver.get(page_url)
        wait = WebDriverWait(driver, 120, poll_frequency=0.25)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#audio-in input[type=file]"))
        assert "speech-denoise-16k" in driver.find_element(By.ID, "summary").text

        def press(path: pathlib.Path, expect: str) -> str:
            before = driver.find_element(By.ID, "status").text
            driver.find_element(By.CSS_SELECTOR, "#audio-in input[type=file]").send_keys(str(path))
            time.sleep(
                1.5
            )  # the upload lands before the press (Gradio queues the press behind it anyway)
            driver.find_element(By.ID, "restore").click()
            wait.until(
                lambda d: (
                    d.find_element(By.ID, "status").text not in ("", before)
                    and d.find_element(By.ID, "status").text.startswith(("Done.", "Error:"))
                )
            )
            text = driver.find_element(By.ID, "status").text
            assert text.startswith(expect), text
            return text

        def fetched(slot: str) -> tuple[np.ndarray, int]:
            link = driver.find_element(
                By.CSS_SELECTOR, f"#player-{slot} a[data-testid=download-link]"
            )
            data = urllib.request.urlopen(link.get_attribute("href"), timeout=30).read()
            path = tmp_path / f"{slot}-{time.monotonic_ns()}.wav"
            path.write_bytes(data)
            return sf.read(path, dtype="float32")

        def clear_input() -> None:  # the x on the input player, so that the next upload replaces it
            driver.find_element(By.CSS_SELECTOR, "#audio-in button[aria-label=Clear]").click()
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#audio-in input[type=file]"))

        # 1. a clean 1 s clip, restored as is: the page returns what jaxsr.enhance returns.
        press(good, "Done.")
        y, rate = fetched("restored")
        want = jaxsr.enhance(jaxsr.load("speech-denoise-16k"), x, sample_rate=RATE)
        assert rate == RATE and y.shape == want.shape == (RATE,) and np.all(np.isfinite(y))
        np.testing.assert_allclose(y, want, atol=1e-5, rtol=0)
        driver.save_screenshot(str(shots / "demo-restored.png"))

        # 2. a broken file: the library's message on the page, the server still up.
        clear_input()
        text = press(bad, "Error:")
        assert "cannot decode audio file broken.wav" in text
        driver.save_screenshot(str(shots / "demo-error.png"))

        # 3. the next press works: the clean clip with noise made by the page, scored against the clean one.
        clear_input()
        driver.find_element(By.CSS_SELECTOR, "#degrade input[type=checkbox]").click()
        press(good, "Done.")
        assert "Added pink noise at 5 dB SNR" in driver.find_element(By.ID, "status").text
        metrics = driver.find_element(By.ID, "metrics").text
        assert "noisy input" in metrics and "restored" in metrics and "SI-SDR" in metrics
        noisy, _ = fetched("input")
        y, rate = fetched("restored")
        np.testing.assert_allclose(
            y,
            jaxsr.enhance(jaxsr.load("speech-denoise-16k"), noisy, sample_rate=RATE),
            atol=1e-5,
            rtol=0,
        )
        driver.save_screenshot(str(shots / "demo.png"))
        assert _outside_requests(driver) == []
    finally:
        driver.quit()
