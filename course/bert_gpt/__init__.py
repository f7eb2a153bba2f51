"""Chapter 01-bert-gpt (BERT and GPT): the reference implementations.

Parts: :mod:`.blocks`, the graded blocks (proven against oracles in
``tests/test_bert_gpt_oracles.py``; ``autograder/chapters/bert_gpt/`` grades students against them);
:mod:`.weights`, real checkpoints renamed and loaded; :mod:`.widgets`, the book's explorers. The
package's names are the blocks' and, imported on first use, the other parts' (:mod:`course._parts`).
"""

from course._parts import lazy_parts
from course.bert_gpt.blocks import *  # noqa: F403  (every block under the package's name)
from course.bert_gpt.blocks import _flash_kernel  # noqa: F401  (the book prints its source)

__getattr__, __dir__ = lazy_parts(__name__, "weights", "widgets")
