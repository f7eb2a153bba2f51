"""Chapter 03-llama (LLaMA internals): the reference implementations.

Parts: :mod:`.blocks`, the graded blocks (proven against Hugging Face in
``tests/test_llama_oracles.py``; ``autograder/chapters/llama/`` grades students against them);
:mod:`.triton_rmsnorm`, the fused RMSNorm kernel (imported by itself: Triton reads
``TRITON_INTERPRET`` when the module loads); :mod:`.catalogue`, the published LLaMA configurations;
:mod:`.weights`, SmolLM2-135M in the course's classes. The package's names are the blocks' and,
imported on first use, the catalogue's and the weights' (:mod:`course._parts`).
"""

from course._parts import lazy_parts
from course.llama.blocks import *  # noqa: F403  (every block under the package's name)

__getattr__, __dir__ = lazy_parts(__name__, "catalogue", "weights")
