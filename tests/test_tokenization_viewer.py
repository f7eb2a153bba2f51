"""The chapter's tokenizer viewer (course/tokenization/widgets.py) in headless Chromium: every
(text, tokenizer) choice shows exactly the tokens that tiktoken / tokenizers / the course's
encoders give for the embedded text. ``check_tokenizer_viewer`` is the widget's reference check
(for tests/test_book.py::REFERENCE_CHECKS on the built page)."""

from __future__ import annotations

import json

from conftest import open_widget

from course.tokenization import corpora, gpt2, wordpiece
from course.tokenization import widgets as viewer


def _tokens_shown(drv, root) -> list[str]:
    return drv.execute_script(
        "return [...arguments[0].querySelectorAll('[data-role=output] span[style]')]"
        ".map(s => s.textContent)",
        root,
    )


def check_tokenizer_viewer(drv) -> None:
    from selenium.webdriver.support.ui import Select, WebDriverWait

    root = drv.find_element("css selector", '[data-widget="tokenizer-viewer"]')
    data = json.loads(
        drv.execute_script(
            "return arguments[0].querySelector('script[data-role=data]').textContent", root
        )
    )
    enc = gpt2.tiktoken_gpt2()
    for text_name, text in data["texts"].items():
        expected = {
            "character": [viewer.show_piece(c) for c in text],
            "GPT-2 (50257)": [
                viewer.show_piece(enc.decode_single_token_bytes(i))
                for i in enc.encode_ordinary(text)
            ],
            "BERT WordPiece (30522)": [
                viewer.show_piece(t) for t in wordpiece.wordpiece_tokenize(text)
            ],
        }
        for tok_name in data["tokens"][text_name]:
            for control, value in (("text", text_name), ("tok", tok_name)):
                el = root.find_element(
                    "css selector", f'[data-testid="tokenizer-viewer-{control}"]'
                )
                option = json.dumps(value, separators=(",", ":"))
                if el.get_attribute("value") != option:
                    before = root.get_attribute("data-updates")
                    Select(el).select_by_value(option)
                    WebDriverWait(drv, 30).until(
                        lambda d, b=before: root.get_attribute("data-updates") != b
                    )
            shown = _tokens_shown(drv, root)
            assert shown == data["tokens"][text_name][tok_name], (text_name, tok_name)
            count = drv.find_element("css selector", '[data-testid="tokenizer-viewer-count"]')
            assert float(count.get_attribute("data-value")) == len(shown)
            if tok_name in expected:
                assert shown == expected[tok_name], (text_name, tok_name)


def test_viewer_shows_the_reference_tokens(driver, tmp_path):
    texts = {
        "Shakespeare": corpora.shakespeare_plays()["hamlet"][2000:2300],
        "Chinese and emoji": "我喜歡看電影 🤗👍🏽 e\u0301 <b>&amp;</b>",
    }
    enc = gpt2.tiktoken_gpt2()
    tokenizers = {
        "character": list,
        "GPT-2 (50257)": lambda s: [
            enc.decode_single_token_bytes(i) for i in enc.encode_ordinary(s)
        ],
        "BERT WordPiece (30522)": wordpiece.wordpiece_tokenize,
    }
    widget = viewer.tokenizer_viewer(
        viewer.tokenize_all(texts, tokenizers), "Shakespeare", "GPT-2 (50257)", texts
    )
    open_widget(driver, tmp_path, widget)
    check_tokenizer_viewer(driver)
