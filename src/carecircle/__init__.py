"""carecircle: site elderly-care and childcare facilities within a 15-minute walk.

A scenario flows through one pipeline: load -> network -> reach -> coverage ->
optimize -> outputs.  Each step is a public function that a notebook can call;
the ``carecircle`` command is a thin layer over them.
"""

__version__ = "0.1.0"
