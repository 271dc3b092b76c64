"""E-mail over SMTP (plain, STARTTLS or SMTPS), Chinese subject and body encoded correctly."""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any, Literal

from pydantic import Field

from notifiers.base import Channel, ChannelSettings, Deadline, DeliveryError, Message
from notifiers.registry import channel_types


class EmailSettings(ChannelSettings):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    sender: str
    sender_name: str = "县委组织部"
    username_env: str | None = None  # the environment variable holding the user name
    password_env: str | None = None  # … and the password: never in the config file itself
    timeout: float = Field(default=20.0, gt=0)  # seconds, for each socket operation
    deadline: float = Field(default=30.0, gt=0)  # seconds, for the whole attempt (notifiers.base.Deadline)
    verify_tls: bool = True


@channel_types.register("email")
class EmailChannel(Channel):
    """Personal: one message per recipient with an e-mail address.

    The delivery's idempotency key is the ``Message-ID`` seed and an ``X-Rectify-Key``
    header, so a message sent again after a crash can be recognised as the same one.
    """

    personal = True
    Settings = EmailSettings

    def address(self, recipient: Mapping[str, Any]) -> str | None:
        email = recipient.get("email")
        return email if isinstance(email, str) and "@" in email else None

    def compose(self, message: Message, address: str) -> EmailMessage:
        s: EmailSettings = self.settings  # type: ignore[assignment]
        mail = EmailMessage()
        mail["Subject"] = message.title
        user, _, domain = s.sender.partition("@")
        mail["From"] = Address(s.sender_name, user, domain)
        name = (message.recipient or {}).get("name", "")
        to_user, _, to_domain = address.partition("@")
        mail["To"] = Address(name, to_user, to_domain)
        # Stable across retries and processes: the same delivery always has the same Message-ID.
        mail["Message-ID"] = f"<{hashlib.sha256(message.key.encode()).hexdigest()[:32]}@{domain or 'rectify'}>"
        mail["X-Rectify-Key"] = message.key
        mail.set_content(message.body, charset="utf-8")
        return mail

    def send(self, message: Message, address: str) -> None:
        """Send one message; the whole attempt is bounded by the ``deadline`` setting.

        smtplib's timeout applies to each socket operation, so each step of the conversation
        (connect and greeting, STARTTLS, login, the message) gets what is left of the
        deadline as its timeout, and the deadline is checked between steps. A server silent
        past the deadline is given up; one that trickles a single reply line a byte at a
        time is bounded by the per-operation timeout only (a later hardening).
        """
        s: EmailSettings = self.settings  # type: ignore[assignment]
        mail = self.compose(message, address)
        context = ssl.create_default_context()
        if not s.verify_tls:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        budget = Deadline(s.deadline)
        try:
            if s.security == "ssl":
                server: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=budget.timeout(s.timeout),
                                                        context=context)
            else:
                server = smtplib.SMTP(s.host, s.port, timeout=budget.timeout(s.timeout))
            with server:
                if s.security == "starttls":
                    _next_step(server, budget, s.timeout)
                    server.starttls(context=context)
                user, password = self.secret(s.username_env), self.secret(s.password_env)
                if user and password:
                    _next_step(server, budget, s.timeout)
                    server.login(user, password)
                _next_step(server, budget, s.timeout)
                server.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            if budget.ran_out(exc):  # not the server's error: the attempt's time is up
                raise budget.expired() from exc
            raise DeliveryError(f"邮件发送失败 / SMTP {s.host}:{s.port}: {type(exc).__name__}: {exc}") from exc
        except UnicodeEncodeError as exc:  # smtplib sends AUTH in ASCII only
            raise DeliveryError(f"邮件发送失败 / SMTP {s.host}:{s.port}: the username or password has characters "
                                "SMTP AUTH cannot send (ASCII only); use an ASCII password") from exc


def _next_step(server: smtplib.SMTP, budget: Deadline, per_operation: float) -> None:
    """Before a step of the SMTP conversation: stop if the deadline has passed, else give the
    step's socket operations what is left of it."""
    timeout = budget.timeout(per_operation)
    if server.sock is not None:
        server.sock.settimeout(timeout)
