"""Long-term memory: per-fan and shared memory streams, scored recall within a token budget, reflections and
knowledge updates done in the background."""

from clonr.memory.importance import HeuristicImportanceScorer, ImportanceScorer, ModelImportanceScorer
from clonr.memory.service import (
    InPrompt,
    MemoryLinks,
    MemoryPolicy,
    MemoryService,
    MemoryWork,
    RecalledMemory,
    RetrievalWeights,
    TranscriptLine,
    format_memory,
    memory_cost,
    memory_day,
    read_transcript,
    render_by_day,
    told,
)

__all__ = ["HeuristicImportanceScorer", "ImportanceScorer", "InPrompt", "MemoryLinks", "MemoryPolicy", "MemoryService",
           "MemoryWork", "ModelImportanceScorer", "RecalledMemory", "RetrievalWeights", "TranscriptLine",
           "format_memory", "memory_cost", "memory_day", "read_transcript", "render_by_day", "told"]
