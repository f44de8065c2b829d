"""The default conversation: its items, in order, and what each costs as context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.refserver.usage import Tokens, audio_in_tokens, audio_out_tokens, text_tokens

if TYPE_CHECKING:
    from bench.refserver.vision import ImageFacts


@dataclass
class Part:
    """One content part, in GA terms (`input_text`, `input_audio`, `output_text`, `output_audio`)."""

    type: str
    """GA content type; the beta shape renames `output_*`."""
    text: str | None = None
    """Text of a text part."""
    transcript: str | None = None
    """Transcript of an audio part (None until known)."""
    audio: bytes | None = None
    """Wire bytes of user audio (kept for `conversation.item.retrieve`)."""
    seconds: float = 0.0
    """Duration of an audio part."""
    image: ImageFacts | None = None
    """What an `input_image` part showed (its colour, size and tokens)."""

    def tokens(self) -> Tokens:
        if self.image is not None:
            return Tokens(image=self.image.tokens)
        if self.type == "input_audio":
            return Tokens(audio=audio_in_tokens(self.seconds))
        if self.type == "output_audio":
            return Tokens(text_tokens(self.transcript), audio_out_tokens(self.seconds))
        return Tokens(text=text_tokens(self.text))


@dataclass
class Item:
    """A conversation item (message or function-call output)."""

    id: str
    """`item_…`."""
    type: str = "message"
    """`message`, `function_call` or `function_call_output`."""
    role: str | None = None
    """`user`, `assistant` or `system` for messages."""
    parts: list[Part] = field(default_factory=list)
    """Content of a message."""
    status: str = "completed"
    """`in_progress`, `completed` or `incomplete`."""
    fields: dict[str, Any] = field(default_factory=dict)
    """Other fields of non-message items (`call_id`, `output`, `name`, `arguments`)."""

    def tokens(self) -> Tokens:
        total = Tokens(text=text_tokens(str(self.fields.get("output") or "")))
        for part in self.parts:
            total = total + part.tokens()
        return total

    def words(self) -> str | None:
        """The user's words in this item: its text, or its transcript; None if not known yet."""
        for part in self.parts:
            if part.type == "input_text":
                return part.text or ""
            if part.type == "input_audio":
                return part.transcript
        return ""


class Conversation:
    """Items in order, plus what earlier responses already read (for cached tokens)."""

    def __init__(self, conversation_id: str) -> None:
        self.id = conversation_id
        self.items: list[Item] = []
        self._seen: set[str] = set()
        self._seen_instructions: str | None = None

    def add(self, item: Item, previous_item_id: str | None = None) -> str | None:
        """Insert after `previous_item_id` (`"root"` = first; None = last). Returns the id of
        the item now before it. KeyError if `previous_item_id` is unknown."""
        if previous_item_id is None:
            index = len(self.items)
        elif previous_item_id == "root":
            index = 0
        else:
            index = self.index(previous_item_id) + 1
        self.items.insert(index, item)
        return self.items[index - 1].id if index > 0 else None

    def index(self, item_id: str) -> int:
        for i, item in enumerate(self.items):
            if item.id == item_id:
                return i
        raise KeyError(item_id)

    def get(self, item_id: str) -> Item:
        return self.items[self.index(item_id)]

    def delete(self, item_id: str) -> None:
        del self.items[self.index(item_id)]

    def last_user_item(self) -> Item | None:
        return next((i for i in reversed(self.items) if i.role == "user"), None)

    def input_tokens(self, instructions: str) -> tuple[Tokens, Tokens]:
        """(input, cached) for a response reading the whole conversation now."""
        inst = Tokens(text=text_tokens(instructions))
        total, cached = inst, inst if instructions == self._seen_instructions else Tokens()
        for item in self.items:
            tokens = item.tokens()
            total = total + tokens
            if item.id in self._seen:
                cached = cached + tokens
        return total, cached

    def mark_read(self, instructions: str) -> None:
        """A response has read everything now in the conversation."""
        self._seen.update(item.id for item in self.items)
        self._seen_instructions = instructions
