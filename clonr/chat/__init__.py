"""The chat turn pipeline: one service streams every surface's replies (CLI, studio, widget)."""

from clonr.chat.group import GroupChatService
from clonr.chat.prompt import MEMORY_SHARE, PromptPlan, PromptSection, build_prompt, truncate_to_tokens
from clonr.chat.service import ChatService, Turn

__all__ = ["MEMORY_SHARE", "ChatService", "GroupChatService", "PromptPlan", "PromptSection", "Turn", "build_prompt",
           "truncate_to_tokens"]
