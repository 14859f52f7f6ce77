"""Request and response schemas of the JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

MAX_TEXT = 4000
SESSION_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"


def _clean_text(value: str) -> str:
    import unicodedata

    value = unicodedata.normalize("NFC", value).strip()
    if not value:
        raise ValueError("text must not be empty / nội dung không được để trống")
    if len(value) > MAX_TEXT:
        raise ValueError(f"text is longer than {MAX_TEXT} characters / nội dung dài quá {MAX_TEXT} ký tự")
    return value


CleanText = Annotated[str, AfterValidator(_clean_text)]


class ButtonPublic(BaseModel):
    title: str
    payload: str


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session: str = Field(pattern=SESSION_PATTERN, description="Client-generated web chat session id")
    text: str = Field(default="", max_length=MAX_TEXT * 2)
    payload: str | None = Field(default=None, max_length=200, description="Payload of a pressed button")
    client_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Client message id: a retry with the same id is not processed twice",
    )

    @field_validator("text")
    @classmethod
    def _nfc(cls, value: str) -> str:
        import unicodedata

        value = unicodedata.normalize("NFC", value).strip()
        if len(value) > MAX_TEXT:
            raise ValueError(f"text is longer than {MAX_TEXT} characters / nội dung dài quá {MAX_TEXT} ký tự")
        return value


class ChatReply(BaseModel):
    id: int
    text: str
    buttons: list[ButtonPublic] = []
    author: str | None = None
    created_at: datetime


class ChatRepliesPublic(BaseModel):
    replies: list[ChatReply]
    cursor: int


class NLUParseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: CleanText


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class UnitPublic(BaseModel):
    code: str
    name: str
    level: Literal["central", "province", "commune"]


class LocationPublic(BaseModel):
    text: str | None
    province_code: str | None
    province: str | None
    commune_code: str | None
    commune: str | None
    latitude: float | None = None
    longitude: float | None = None


class ConversationEntry(BaseModel):
    direction: Literal["in", "out"]
    text: str
    author: str | None
    created_at: datetime


class TicketEventPublic(BaseModel):
    kind: str
    actor: str | None
    old_status: str | None
    new_status: str | None
    note: str | None
    public: bool
    created_at: datetime


class TicketPublic(BaseModel):
    code: str
    status: str
    intent: str
    intent_confidence: float
    category: str | None
    category_confidence: float
    urgent: bool
    text: str
    location: LocationPublic
    unit: UnitPublic
    routing_rule: str
    routing_reason: str
    accept_deadline: datetime | None
    deadline: datetime | None
    overdue: bool
    rating: int | None
    channel: str
    created_at: datetime
    updated_at: datetime


class TicketDetailPublic(TicketPublic):
    duplicates: list[str] = Field(default_factory=list, description="Codes of the tickets in the same cluster")
    conversation: list[ConversationEntry]
    events: list[TicketEventPublic]
    attachments: list[dict[str, Any]]


class TicketsPublic(BaseModel):
    data: list[TicketPublic]
    count: int


class ReplyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: CleanText
    cluster: bool = Field(default=False, description="Send the same answer to every ticket linked as a duplicate")


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: CleanText


class CategoryCorrection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str = Field(max_length=64)


class Reassign(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: str = Field(max_length=16, description="Code of the committee that takes over")
    reason: CleanText


class StatusUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str
    note: str | None = Field(default=None, max_length=MAX_TEXT)
