"""The Gradio page of `jaxsr demo`: its layout (`build_page`) and the local server (`launch`). Every
press goes to `jaxsr.demo.logic.run_page`; this module only lays out what it returns."""

from __future__ import annotations

import logging
import os
from typing import Any

from jaxsr.demo.logic import (
    DEFAULT_MODEL,
    DEFAULT_RESAMPLER,
    NOISE_KINDS,
    describe_model,
    error_message,
    model_choices,
    run_page,
    runtime_choices,
    task_of,
)

log = logging.getLogger("jaxsr.demo")

INSTALL_HINT = (
    'the demo needs Gradio: pip install -e ".[demo]" (from a clone) or pip install "jaxsr[demo]"'
)
DEFAULT_PORT = 7860


def import_gradio() -> Any:
    """Gradio, with its analytics and update checks off (read when it is imported); ImportError with the
    install line when it is missing."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    try:
        import gradio
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return gradio


# Page order of the players: the input, the clean original (when the page made the input), the
# baselines, the restored audio. A task shows at most two baselines (sr: spline and sinc).
_PLAYER_SLOTS = ("input", "original", "baseline 1", "baseline 2", "restored")


def _slot_values(players: dict[str, str]) -> list[tuple[str, str | None]]:
    """(label, path) for each of `_PLAYER_SLOTS` from `PageResult.players` (None: the slot is hidden)."""
    labels = list(players)
    out = [(labels[0], players[labels[0]])]
    out.append(("original", players.get("original")))
    base = [k for k in labels if k.startswith("baseline: ")]
    out += [
        (
            base[i] if i < len(base) else f"baseline {i + 1}",
            players[base[i]] if i < len(base) else None,
        )
        for i in range(2)
    ]
    out.append(("restored", players["restored"]))
    return out


def build_page(default_model: str = DEFAULT_MODEL) -> Any:
    """The Gradio page (a `gradio.Blocks`); the work is `run_page`'s."""
    gr = import_gradio()
    from jaxsr.tasks.resampling import RESAMPLERS

    def controls_for(source: str) -> list[Any]:
        task = task_of(source)
        runtimes = runtime_choices(source)
        return [
            describe_model(source),
            gr.update(choices=runtimes, value=runtimes[0]),
            gr.update(visible=task == "sr"),
            gr.update(visible=task == "denoise"),
            gr.update(visible=task == "denoise"),
            gr.update(visible=task == "inpaint"),
            gr.update(visible=task == "inpaint"),
            gr.update(visible=task == "inpaint"),
        ]

    def press(
        source,
        runtime,
        precision,
        path,
        degrade,
        resampler,
        noise,
        snr_db,
        num_gaps,
        gap_ms,
        zero_gap_ms,
        progress=gr.Progress(),
    ):
        try:
            r = run_page(
                source,
                path,
                runtime=runtime,
                precision=precision,
                degrade=degrade,
                resampler=resampler,
                noise=noise,
                snr_db=snr_db,
                num_gaps=num_gaps,
                gap_ms=gap_ms,
                zero_gap_ms=zero_gap_ms,
                progress=lambda frac, text: progress(frac, desc=text),
            )
        except Exception as e:  # shown on the page; the server and the next press go on
            log.warning(
                "demo: %s",
                error_message(e),
                exc_info=not isinstance(
                    e, (ValueError, FileNotFoundError, MemoryError, ImportError)
                ),
            )
            hidden = [
                gr.update(value=None, label=name, visible=name in ("input", "restored"))
                for name in _PLAYER_SLOTS
            ]
            return [f"**Error:** {error_message(e)}", *hidden, None, "", None]
        players = [
            gr.update(value=p, label=label, visible=p is not None)
            for label, p in _slot_values(r.players)
        ]
        return [f"**Done.** {r.status}", *players, r.spectrogram, r.metrics, r.download]

    with gr.Blocks(title="jaxsr demo", analytics_enabled=False) as page:
        gr.Markdown(
            "# jaxsr: hear a restoration\nUpload or record audio, press **Restore**, listen and compare."
        )
        with gr.Row():
            model = gr.Dropdown(
                model_choices(),
                value=default_model,
                allow_custom_value=True,
                scale=3,
                label="Model: a packaged one, or type a training workdir or export folder",
                elem_id="model",
            )
            runtime = gr.Dropdown(
                runtime_choices(default_model),
                value="xla",
                label="Runtime",
                scale=1,
                elem_id="runtime",
            )
            precision = gr.Radio(
                ["float32", "bfloat16"],
                value="float32",
                label="Precision",
                scale=1,
                elem_id="precision",
            )
        summary = gr.Markdown(describe_model(default_model), elem_id="summary")
        task = task_of(default_model)
        with gr.Row():
            with gr.Column(scale=2):
                audio_in = gr.Audio(
                    sources=["upload", "microphone"],
                    type="filepath",
                    label="Your audio (any rate, mono or stereo)",
                    elem_id="audio-in",
                )
            with gr.Column(scale=1):
                degrade = gr.Checkbox(
                    False,
                    label="It is clean: make the degraded input from it (and score against it)",
                    elem_id="degrade",
                )
                resampler = gr.Dropdown(
                    list(RESAMPLERS),
                    value=DEFAULT_RESAMPLER,
                    visible=task == "sr",
                    label="sr: resampler that makes the low-rate input",
                )
                noise = gr.Dropdown(
                    list(NOISE_KINDS),
                    value="pink",
                    visible=task == "denoise",
                    label="denoise: noise",
                )
                snr_db = gr.Slider(
                    -5, 30, value=5, step=1, visible=task == "denoise", label="denoise: SNR (dB)"
                )
                num_gaps = gr.Slider(
                    1, 20, value=3, step=1, visible=task == "inpaint", label="inpaint: gaps to cut"
                )
                gap_ms = gr.Slider(
                    2,
                    100,
                    value=30,
                    step=1,
                    visible=task == "inpaint",
                    label="inpaint: gap length (ms)",
                )
                zero_gap_ms = gr.Slider(
                    1,
                    50,
                    value=5,
                    step=1,
                    visible=task == "inpaint",
                    label="inpaint, not cut: runs of zeros this long (ms) are the gaps",
                )
                button = gr.Button("Restore", variant="primary", elem_id="restore")
        status = gr.Markdown(elem_id="status")
        with gr.Row():
            players = [
                gr.Audio(
                    label=name,
                    type="filepath",
                    interactive=False,
                    visible=name in ("input", "restored"),
                    buttons=["download"],
                    elem_id=f"player-{name.replace(' ', '-')}",
                )
                for name in _PLAYER_SLOTS
            ]
        gr.Markdown("Spectrograms of the first channel, on one colour scale:")
        spectrogram = gr.Image(
            show_label=False,
            type="filepath",
            interactive=False,
            buttons=["download", "fullscreen"],
            elem_id="spectrograms",
        )
        metrics = gr.Markdown(elem_id="metrics")
        download = gr.File(
            label="Download the result (the input's format)", interactive=False, elem_id="download"
        )

        model.change(
            controls_for,
            model,
            [summary, runtime, resampler, noise, snr_db, num_gaps, gap_ms, zero_gap_ms],
        )
        button.click(
            press,
            [
                model,
                runtime,
                precision,
                audio_in,
                degrade,
                resampler,
                noise,
                snr_db,
                num_gaps,
                gap_ms,
                zero_gap_ms,
            ],
            [status, *players, spectrogram, metrics, download],
        )
    return page


# Fonts the browser has: Gradio's themes otherwise ask a font server for theirs, an outside request.
_SYSTEM_FONTS = ("ui-sans-serif", "system-ui", "sans-serif")
_SYSTEM_MONO = ("ui-monospace", "monospace")


def launch(page: Any, port: int = DEFAULT_PORT, *, block: bool = True, quiet: bool = False) -> Any:
    """Serve `page` on 127.0.0.1:`port`, never shared, with fonts the browser has (no outside request)."""
    gr = import_gradio()
    theme = gr.themes.Default(font=list(_SYSTEM_FONTS), font_mono=list(_SYSTEM_MONO))
    return page.launch(
        server_name="127.0.0.1",
        server_port=port,
        share=False,
        inbrowser=False,
        quiet=quiet,
        prevent_thread_lock=not block,
        ssr_mode=False,
        show_error=True,
        theme=theme,
        footer_links=[],
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
    )
