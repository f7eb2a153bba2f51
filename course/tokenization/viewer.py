"""A tokenizer viewer that works in the static book (no kernel): every (text, tokenizer) pair is
tokenised in Python at build time and embedded as JSON; a few lines of JavaScript switch between
them. In Jupyter the same HTML output works in a trusted notebook.
"""

from __future__ import annotations

import html
import json
import uuid
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


def viewer_html(data: dict[str, dict[str, list[str]]], default_text: str, default_tok: str) -> str:
    """Self-contained HTML: two <select>s, a token count line and the coloured tokens."""
    uid = "tv" + uuid.uuid4().hex[:8]
    texts = list(data)
    toks = list(next(iter(data.values())))

    def options(names, chosen):
        return "".join(
            f'<option value="{html.escape(n)}"{" selected" if n == chosen else ""}>{html.escape(n)}'
            "</option>"
            for n in names
        )

    first = data[default_text][default_tok]
    spans = "".join(
        f'<span style="background:{PALETTE[i % len(PALETTE)]}">{html.escape(p)}</span>'
        for i, p in enumerate(first)
    )
    return f"""
<div id="{uid}" style="font-family:sans-serif;border:1px solid #ccc;padding:8px;border-radius:6px">
 <label>text <select class="tv-text">{options(texts, default_text)}</select></label>
 <label style="margin-left:1em">tokenizer <select class="tv-tok">{options(toks, default_tok)}</select></label>
 <div class="tv-count" style="margin:6px 0;font-weight:bold">{len(first)} tokens</div>
 <div class="tv-out" style="font-family:monospace;white-space:pre-wrap;line-height:1.7;max-height:22em;overflow:auto">{spans}</div>
</div>
<script>
(function() {{
  const data = {json.dumps(data, ensure_ascii=False)};
  const palette = {json.dumps(PALETTE)};
  const root = document.getElementById("{uid}");
  const textSel = root.querySelector(".tv-text"), tokSel = root.querySelector(".tv-tok");
  function render() {{
    const toks = data[textSel.value][tokSel.value];
    const out = root.querySelector(".tv-out");
    out.textContent = "";
    toks.forEach((t, i) => {{
      const s = document.createElement("span");
      s.textContent = t;
      s.style.background = palette[i % palette.length];
      out.appendChild(s);
    }});
    const chars = [...data[textSel.value]["character"]].length;
    root.querySelector(".tv-count").textContent =
      toks.length + " tokens (" + (toks.length / chars).toFixed(2) + " per character)";
  }}
  textSel.addEventListener("change", render);
  tokSel.addEventListener("change", render);
  render();
}})();
</script>
"""
