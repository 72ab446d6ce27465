"""Long-term memory: per-fan and shared memory streams, scored recall within a token budget."""

from clonr.memory.importance import HeuristicImportanceScorer, ImportanceScorer, ModelImportanceScorer
from clonr.memory.service import (
                                  MemoryService,
                                  RecalledMemory,
                                  RetrievalWeights,
                                  TranscriptLine,
                                  format_memory,
                                  read_transcript,
)

__all__ = ["HeuristicImportanceScorer", "ImportanceScorer", "MemoryService", "ModelImportanceScorer",
           "RecalledMemory", "RetrievalWeights", "TranscriptLine", "format_memory", "read_transcript"]
