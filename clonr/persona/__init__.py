"""The persona: example dialogues, the icebreaker interview, AI-drafted descriptions, character cards and the
fidelity check."""

from clonr.persona.dialogues import DialogueService, parse_mes_example, to_mes_example
from clonr.persona.questions import CATEGORIES, QUESTIONS, Question

__all__ = ["CATEGORIES", "QUESTIONS", "DialogueService", "Question", "parse_mes_example", "to_mes_example"]
