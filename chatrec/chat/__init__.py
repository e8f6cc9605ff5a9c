"""Conversational recommendation: a session that keeps dialogue state across turns."""

from chatrec.chat.session import ChatRecommendation, ChatSession, Reply

__all__ = ["ChatRecommendation", "ChatSession", "Reply"]
