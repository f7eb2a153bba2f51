"""A tokenizer viewer that works in the static book (no kernel): every (text, tokenizer) pair is
tokenised in Python at build time and embedded as JSON in a :mod:`course.widgets` widget, whose
JavaScript only switches between them and colours the tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

PALETTE = ["#fde2a7", "#c8e6c9", "#bbdefb", "#f8bbd0", "#d1c4e9", "#ffccbc", "#b2ebf2"]


def show_piece(piece: bytes | str) -> str:
    """A token for display: text if it decodes, else its bytes in hex; whitespace made visible."""
    if isinstance(piece, bytes):
        try:
            piece = piece.decode("utf-8")
        except UnicodeDecodeError:
            return "⟨" + " ".join(f"{b:02x}" for b in piece) + "⟩"
    return piece.replace(" ", "␣").replace("\n", "↵\n").replace("\t", "⇥")


def tokenize_all(
    texts: Mapping[str, str], tokenizers: Mapping[str, Callable[[str], list[bytes | str]]]
) -> dict[str, dict[str, list[str]]]:
    """text name -> tokenizer name -> displayed tokens."""
    return {
        t: {k: [show_piece(p) for p in fn(text)] for k, fn in tokenizers.items()}
        for t, text in texts.items()
    }


def tokenizer_viewer(
    data: dict[str, dict[str, list[str]]],
    default_text: str,
    default_tok: str,
    texts: Mapping[str, str] | None = None,
):
    """A :mod:`course.widgets` widget: pick a text and a tokenizer, see the coloured tokens.

    ``data``: text name -> tokenizer name -> displayed tokens (from :func:`tokenize_all`); it must
    include a ``"character"`` tokenizer (used for tokens per character). ``texts`` (name -> raw
    text) is embedded too, so that tests can recompute the tokens from the page's data.
    """
    from course.widgets import html_widget, select

    text_names = list(data)
    toks = list(next(iter(data.values())))
    js = """
var toks = data.tokens[v.text][v.tok], chars = data.tokens[v.text]["character"].length;
var spans = toks.map(function (t, i) {
  return '<span style="background:' + data.palette[i % data.palette.length] + '">' + W.esc(t) + '</span>';
}).join("");
return '<div><b>' + W.num("tokenizer-viewer-count", toks.length) + '</b> tokens (' +
  (chars ? (toks.length / chars).toFixed(2) : "0") + ' per character)</div>' +
  '<div style="font-family:monospace;white-space:pre-wrap;line-height:1.7;max-height:22em;overflow:auto">' +
  spans + '</div>';
"""
    return html_widget(
        "tokenizer-viewer",
        [
            select("text", "text", text_names, default_text),
            select("tok", "tokenizer", toks, default_tok),
        ],
        js_update=js,
        data={"tokens": data, "texts": dict(texts or {}), "palette": PALETTE},
        fallback="Without JavaScript: see the figure below.",
    )
