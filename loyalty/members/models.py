"""Members and the consents they give.

A member's personal data (email, phone, names, birth date) is not stored in columns of its
own: it is sealed, as one JSON document, with the member's data key (`personal`), and the data
key is stored wrapped by a master key (`data_key`, `data_key_id`); see
`loyalty.core.personal`. The email address is found through its blind index (`email_index`).
On the object the fields read and write as plain attributes: they are opened on first use
(one unwrap per loaded member) and sealed again when the session flushes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, LargeBinary, String, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from loyalty.core.personal import Keyring, KeyringError, keyring_of, maybe_keyring, seal, unseal
from loyalty.storage.base import Base
from loyalty.storage.types import BigId

# The member's personal fields, sealed together in `Member.personal`.
PERSONAL_FIELDS = ("email", "phone", "first_name", "last_name", "birth_date")


def _personal(name: str) -> property:
    def get(self: Member) -> Any:
        value = self._opened().get(name)
        if name == "birth_date" and isinstance(value, str):
            return date.fromisoformat(value)
        return value

    def put(self: Member, value: Any) -> None:
        opened = self._opened()
        opened[name] = value.isoformat() if isinstance(value, date) else value
        self.__dict__["_reseal"] = True
        # Any assignment marks the row changed, so the flush (and `_seal_members`) sees it.
        self.personal = self.__dict__.get("personal")

    return property(get, put)


class Member(Base):
    __tablename__ = "members"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_number: Mapped[str] = mapped_column(String(16), unique=True)
    card_barcode: Mapped[str] = mapped_column(String(64), unique=True)
    # HMAC-SHA256 of the normalised email address under the blind-index key.
    email_index: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    personal: Mapped[bytes | None] = mapped_column(LargeBinary)
    data_key_id: Mapped[str | None] = mapped_column(String(32))
    data_key: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    locale: Mapped[str | None] = mapped_column(String(35))
    # IANA name; quiet hours and the contact budget's days count in it (else the programme's).
    time_zone: Mapped[str | None] = mapped_column(String(64))
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    interests: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="active")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Subject of the brand's own identity provider, for members who sign in there.
    external_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    joined_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    email = _personal("email")
    phone = _personal("phone")
    first_name = _personal("first_name")
    last_name = _personal("last_name")
    birth_date = _personal("birth_date")

    def _opened(self) -> dict[str, Any]:
        opened = self.__dict__.get("_plain")
        if opened is None:
            blob = self.__dict__.get("personal")
            opened = {} if blob is None else unseal(self._data_key(), blob)
            self.__dict__["_plain"] = opened
        return opened

    def _data_key(self) -> bytes:
        key = self.__dict__.get("_key")
        if key is None:
            keyring: Keyring | None = self.__dict__.get("_keyring")
            if keyring is None:
                raise KeyringError("this member was not loaded through a session with a keyring")
            if self.data_key is None or self.data_key_id is None:
                raise KeyringError("this member's data key has been erased")
            key = keyring.unwrap(self.data_key_id, self.data_key)
            self.__dict__["_key"] = key
        return key

    def forget_personal_data(self) -> None:
        """Erase: the data key, the sealed data and the blind index go."""
        self.personal = None
        self.email_index = None
        self.data_key = None
        self.data_key_id = None
        self.__dict__["_plain"] = {}
        self.__dict__.pop("_key", None)
        self.__dict__.pop("_reseal", None)


class MemberConsent(Base):
    __tablename__ = "member_consents"
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(24), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32), default="member")


@event.listens_for(Member, "load")
def _loaded(member: Member, context: Any) -> None:
    member.__dict__["_keyring"] = maybe_keyring(context.session)
    for name in ("_plain", "_key", "_reseal"):
        member.__dict__.pop(name, None)


@event.listens_for(Member, "refresh")
def _refreshed(member: Member, context: Any, _attrs: Any) -> None:
    _loaded(member, context)


@event.listens_for(Session, "before_flush")
def _seal_members(session: Session, _context: Any, _instances: Any) -> None:
    for member in (*session.new, *session.dirty):
        if isinstance(member, Member) and member.__dict__.pop("_reseal", False):
            reseal(member, keyring_of(session))


def reseal(member: Member, keyring: Keyring) -> None:
    """Seal the member's personal fields (making their data key first if they have none)."""
    opened = member._opened()
    member.__dict__["_keyring"] = keyring
    if member.data_key is None:
        key, member.data_key_id, member.data_key = keyring.new_data_key()
        member.__dict__["_key"] = key
    values = {k: v for k, v in opened.items() if v is not None}
    member.personal = seal(member._data_key(), values) if values else None
    email = opened.get("email")
    member.email_index = keyring.blind(email) if email else None
