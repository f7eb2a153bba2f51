"""Every chapter's checks: one package per chapter, named like the chapter's notebook
(``solutions/NN-slug/<chapter>.py``). Each holds ``_common`` (the contract adapters the blocks share)
and one module per block: its known mistakes, its case table, its registration, top to bottom.
The engine that runs them is ``autograder.checks``."""
