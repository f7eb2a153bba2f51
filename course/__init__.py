"""Reference implementations of the course's blocks.

Each chapter is one package here, named like its notebook and its checks (not always like its
book folder): ``solutions/02-scaling-laws/scaling.py`` <-> ``course/scaling/`` <->
``autograder/chapters/scaling/``. Every chapter package has the same parts, those it needs of:

- ``blocks.py``: the graded blocks, what the checks compare students' code with (chapters with
  several models have one module per model instead: ``foundation/clip.py``, ``tokenization/bpe.py``);
- ``catalogue.py``: published architectures, typed in with their sources (llama, modern_llms);
- ``weights.py``: real checkpoints loaded into the blocks (bert_gpt, llama, foundation);
- ``widgets.py``: what the book's pages display (explorers, viewers, tables);
- ``__init__.py``: the blocks' names, and the other parts' on first use (:mod:`course._parts`), so
  ``from course import llama as ref`` in a check loads the blocks only.

A chapter may add modules named for their job (``llama/triton_rmsnorm.py``, ``foundation/tiny_clip.py``,
``tokenization/corpora.py``). Shared by several chapters: :mod:`course.widgets` (the widget runtime),
:mod:`course.roofline` (device measurements), :mod:`course.schedules` (learning-rate schedules).

The book pages import these to make their figures; the autograder compares students' code against
them; tests/ proves them right against independent oracles.
"""
