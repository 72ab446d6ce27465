"""The persona: example dialogues, the icebreaker interview, AI-drafted descriptions, character cards, the
fidelity check, and variants of a clone as of a date."""

from clonr.persona.cards import CardService
from clonr.persona.describe import DESCRIPTION_TOKENS, TRAIT_AXES, DescriptionService, Estimate
from clonr.persona.dialogues import DialogueService, parse_mes_example, to_mes_example
from clonr.persona.fidelity import FidelityCheck, FidelityItem, FidelityReport, FidelityService
from clonr.persona.interview import InterviewService, InterviewStep
from clonr.persona.questions import CATEGORIES, QUESTIONS, Question
from clonr.persona.variants import Slice, VariantService, parse_as_of

__all__ = ["CATEGORIES", "DESCRIPTION_TOKENS", "QUESTIONS", "TRAIT_AXES", "CardService", "DescriptionService",
           "DialogueService", "Estimate", "FidelityCheck", "FidelityItem", "FidelityReport", "FidelityService",
           "InterviewService", "InterviewStep", "Question", "Slice", "VariantService", "parse_as_of",
           "parse_mes_example", "to_mes_example"]
