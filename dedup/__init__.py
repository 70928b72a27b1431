"""dedup: find copies, rewrites and partial reuse in news copy, and show what changed."""
from dedup.document import Document, InputProblem, Skip

__all__ = ["Document", "InputProblem", "Skip"]
__version__ = "0.1.0"
