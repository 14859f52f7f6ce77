"""Request and response schemas of the JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from nlu.vocab import MAX_TEXT  # the one text limit of gopy

SESSION_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"


def check_chars(value: str) -> str:
    """Refuse what no person types and the databases cannot store: lone surrogates and NUL characters."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters / nội dung có ký tự không hợp lệ")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text is not valid Unicode / nội dung có ký tự không hợp lệ") from None
    return value


class Inbound(BaseModel):
    """A request body: no unknown fields, every string checked for characters nobody can store."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _chars(cls, value: Any) -> Any:
        return check_chars(value) if isinstance(value, str) else value


def _clean_text(value: str) -> str:
    import unicodedata

    value = unicodedata.normalize("NFC", check_chars(value)).strip()
    if not value:
        raise ValueError("text must not be empty / nội dung không được để trống")
    if len(value) > MAX_TEXT:
        raise ValueError(f"text is longer than {MAX_TEXT} characters / nội dung dài quá {MAX_TEXT} ký tự")
    return value


CleanText = Annotated[str, StringConstraints(max_length=MAX_TEXT * 2), AfterValidator(_clean_text)]


class ButtonPublic(BaseModel):
    title: str
    payload: str


class ChatMessageIn(Inbound):
    session: str = Field(pattern=SESSION_PATTERN, description="Client-generated web chat session id")
    text: str = Field(default="", max_length=MAX_TEXT * 2)
    payload: str | None = Field(default=None, max_length=200, description="Payload of a pressed button")
    client_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Client message id: a retry with the same id is not processed twice",
    )
    latitude: float | None = Field(default=None, ge=-90, le=90, description="Shared position (browser geolocation)")
    longitude: float | None = Field(default=None, ge=-180, le=180, description="Shared position, with latitude")

    @model_validator(mode="after")
    def _not_empty(self) -> ChatMessageIn:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude go together / cần cả vĩ độ và kinh độ của vị trí")
        if not self.text and not self.payload and self.latitude is None:
            raise ValueError("text must not be empty / nội dung không được để trống")
        return self

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


class NLUParseIn(Inbound):
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
    assignee: str | None = Field(default=None, description="Username of the official the ticket is assigned to")


class TicketDetailPublic(TicketPublic):
    duplicates: list[str] = Field(default_factory=list, description="Codes of the tickets in the same cluster")
    conversation: list[ConversationEntry]
    events: list[TicketEventPublic]
    attachments: list[dict[str, Any]]


class TicketsPublic(BaseModel):
    data: list[TicketPublic]
    count: int = Field(description="How many tickets match, not only this page; counted up to 10,000")
    count_capped: bool = Field(
        default=False, description="More tickets than ``count`` match (more than 10,000): narrow the filters"
    )


class Assign(Inbound):
    username: str | None = Field(
        max_length=64, description="The official to assign the ticket to (active, of its unit or above); null: nobody"
    )


class ReplyCreate(Inbound):
    text: CleanText
    cluster: bool = Field(default=False, description="Send the same answer to every ticket linked as a duplicate")


class NoteCreate(Inbound):
    text: CleanText


class CategoryCorrection(Inbound):
    category: str = Field(max_length=64)


class PlaceCorrection(Inbound):
    commune_code: str = Field(max_length=16, description="Code of the commune the ticket is really about")
    place_name: str | None = Field(
        default=None, max_length=200, description="The words of the text naming the place (e.g. a hamlet)"
    )


class Reassign(Inbound):
    unit: str = Field(max_length=16, description="Code of the committee that takes over")
    reason: CleanText


class StatusUpdate(Inbound):
    status: str = Field(max_length=32)
    note: str | None = Field(default=None, max_length=MAX_TEXT)


# Open311 GeoReport v2 write fields (form or JSON): the longest value each may have; others get OPEN311_OTHER.
OPEN311_LIMITS = {
    "description": MAX_TEXT * 2,  # checked again after normalising: at most MAX_TEXT characters
    "address_string": 500,
    "first_name": 100,
    "last_name": 100,
    "email": 254,
    "phone": 32,
    "account_id": 128,
    "device_id": 128,
    "service_code": 64,
    "api_key": 256,
    "lat": 32,
    "long": 32,
}
OPEN311_OTHER = 1000
OPEN311_MAX_FIELDS = 50


def open311_field_error(fields: dict[str, str]) -> str | None:
    """Why the fields of an Open311 request cannot be taken as they are (bilingual), or ``None``."""
    if len(fields) > OPEN311_MAX_FIELDS:
        return f"too many fields (at most {OPEN311_MAX_FIELDS}) / quá nhiều trường dữ liệu"
    for name, value in fields.items():
        limit = OPEN311_LIMITS.get(name, OPEN311_OTHER)
        if len(value) > limit:
            return f"{name[:64]} is longer than {limit} characters / {name[:64]} dài quá {limit} ký tự"
        try:
            check_chars(value)
        except ValueError as exc:
            return f"{name[:64]}: {exc}"
    return None


# -- reply templates (backend/api/routes/reply_templates.py) -------------------------------------------------------
class ReplyTemplatePublic(BaseModel):
    id: int
    unit_code: str
    unit_name: str
    name: str
    text: str = Field(description="With the placeholders {code}, {unit} and {deadline}")
    filled: str | None = Field(default=None, description="The text filled for the ticket asked with ?ticket=CODE")
    editable: bool


class ReplyTemplatesPublic(BaseModel):
    data: list[ReplyTemplatePublic]
    count: int


class ReplyTemplateCreate(Inbound):
    unit: str | None = Field(default=None, max_length=16, description="The unit's code; the official's own by default")
    name: str = Field(max_length=MAX_TEXT)
    text: str = Field(max_length=MAX_TEXT * 2)


class ReplyTemplateUpdate(Inbound):
    name: str | None = Field(default=None, max_length=MAX_TEXT)
    text: str | None = Field(default=None, max_length=MAX_TEXT * 2)


# -- officials' accounts (backend/api/routes/officials.py) ----------------------------------------------------------
Role = Literal["officer", "supervisor", "admin"]


class OfficialPublic(BaseModel):
    """An official's account as managers see it (never the password hash)."""

    username: str
    full_name: str
    role: Role
    unit: UnitPublic
    active: bool
    created_at: datetime  # its example, in Vietnam time, is added by backend/console/api_docs.py


class OfficialsPublic(BaseModel):
    data: list[OfficialPublic]
    count: int


class OfficialSaved(OfficialPublic):
    temporary_password: str | None = Field(
        default=None, description="A temporary password, shown only in this response (creation or reset)"
    )


class OfficialCreate(Inbound):
    username: str = Field(min_length=1, max_length=64, examples=["canbo.hoankiem"])
    unit: str = Field(max_length=16, description="The unit's code, inside your subtree", examples=["00070"])
    role: Role = "officer"
    full_name: str = Field(default="", max_length=200, examples=["Nguyễn Thị Lan"])
    password: str | None = Field(
        default=None, max_length=1024, description="Meets the password policy; omitted: a temporary one is returned"
    )


class OfficialUpdate(Inbound):
    full_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    unit: str | None = Field(default=None, max_length=16)
    active: bool | None = None
    password: str | None = Field(default=None, max_length=1024, description="A new password meeting the policy")
    reset_password: bool = Field(default=False, description="Make a temporary password, returned once")
