"""The chat turn pipeline: one turn builder streams every surface's replies (CLI, studio, widget, groups)."""

from clonr.chat.context import ContextRef
from clonr.chat.group import GroupChatService
from clonr.chat.prompt import Given, Line, PromptPlan, PromptSection, build_prompt, truncate_to_tokens
from clonr.chat.service import ChatService, Conversation, Turn, TurnOptions

__all__ = ["ChatService", "ContextRef", "Conversation", "Given", "GroupChatService", "Line", "PromptPlan",
           "PromptSection", "Turn", "TurnOptions", "build_prompt", "truncate_to_tokens"]
