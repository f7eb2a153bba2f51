"""Chapter 07-modern-llms (Modern LLM variants): the reference implementations.

Parts: :mod:`.blocks`, the graded blocks, built on ``course.llama`` (proven against Hugging Face in
``tests/test_modern_llms_oracles.py``; ``autograder/chapters/modern_llms/`` grades students against
them); :mod:`.catalogue`, released models' architectures; :mod:`.widgets`, the book's explorer. The
package's names are the blocks' and, imported on first use, the other parts' (:mod:`course._parts`).
"""

from course._parts import lazy_parts
from course.modern_llms.blocks import *  # noqa: F403  (every block under the package's name)

__getattr__, __dir__ = lazy_parts(__name__, "catalogue", "widgets")
