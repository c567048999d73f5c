"""The planning API: RCPs, sessions, registrations, notifications and webhooks."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from core.api import Blueprint, PaginationArgsSchema, page, page_of
from core.auth import Role, current_principal
from core.db import db
from planning import kinds, notifications, services
from planning.schemas import (
    AttendanceSchema,
    CancelSchema,
    DecisionSchema,
    DeliverySchema,
    GenerationSchema,
    KindSchema,
    NextSessionsArgsSchema,
    NotificationPageSchema,
    NotificationQueryArgsSchema,
    NotificationSchema,
    ParticipantsSchema,
    PeriodSchema,
    RcpCreateSchema,
    RcpQueryArgsSchema,
    RcpSchema,
    RcpUpdateSchema,
    RegistrationCreateSchema,
    RegistrationQueryArgsSchema,
    RegistrationSchema,
    SessionCreateSchema,
    SessionQueryArgsSchema,
    SessionSchema,
    SessionSummarySchema,
    SessionUpdateSchema,
    WebhookCreatedSchema,
    WebhookCreateSchema,
    WebhookSchema,
)

blp = Blueprint(
    "planning",
    __name__,
    url_prefix="/planning",
    description="RCPs of the 3Cs, their sessions, dossier registrations and their decisions.",
)

MANAGERS = (Role.NATIONAL_ADMIN, Role.REGIONAL_ADMIN, Role.COORDINATOR_3C, Role.RCP_SOFTWARE)
MANAGERS_WHO = (
    "national admins; regional admins of the host's region; 3C coordinators and RCP software "
    "of the host establishment"
)


def _offset(args: dict[str, Any]) -> tuple[int, int]:
    return args["page_size"], (args["page"] - 1) * args["page_size"]


@blp.route("/kinds")
class Kinds(MethodView):
    @blp.auth()
    @blp.response(200, KindSchema(many=True))
    def get(self) -> list[Any]:
        """RCP kinds: CI-SIS organ and appareil value sets, and population RCPs"""
        return list(kinds.catalogue().values())


@blp.route("/rcps")
class Rcps(MethodView):
    @blp.auth(who="every authenticated caller")
    @blp.arguments(RcpQueryArgsSchema, location="query")
    @blp.response(200, page_of(RcpSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List RCPs (local, regional or national view)"""
        size, offset = _offset(args)
        rcps, total = services.list_rcps(
            region=args.get("region"),
            department=args.get("department"),
            finess=args.get("finess"),
            kind=args.get("kind"),
            practitioner=args.get("practitioner"),
            limit=size,
            offset=offset,
        )
        return page(rcps, total=total, page=args["page"], page_size=size)

    @blp.auth(*MANAGERS, who=MANAGERS_WHO)
    @blp.arguments(RcpCreateSchema)
    @blp.response(201, RcpSchema)
    @blp.alt_response(
        422, description="Invalid field, or a person or place unknown to the directory"
    )
    def post(self, data: dict[str, Any]) -> Any:
        """Create an RCP

        The coordinator, substitute, members and place are checked against the national
        directory (RPPS, FINESS); the region comes from the host establishment.
        """
        rcp = services.create_rcp(principal=current_principal(), data=data)
        db.session.commit()
        return rcp


@blp.route("/rcps/<int:rcp_id>")
class RcpById(MethodView):
    @blp.auth(who="every authenticated caller")
    @blp.response(200, RcpSchema)
    def get(self, rcp_id: int) -> Any:
        """Read an RCP"""
        return services.get_rcp(rcp_id=rcp_id)

    @blp.auth(*MANAGERS, who=MANAGERS_WHO)
    @blp.arguments(RcpUpdateSchema)
    @blp.response(200, RcpSchema)
    def patch(self, data: dict[str, Any], rcp_id: int) -> Any:
        """Change an RCP (sessions already planned keep their own details)"""
        rcp = services.update_rcp(principal=current_principal(), rcp_id=rcp_id, data=data)
        db.session.commit()
        return rcp


@blp.route("/rcps/<int:rcp_id>/sessions/generate")
class GenerateSessions(MethodView):
    @blp.auth(*MANAGERS, who=MANAGERS_WHO)
    @blp.arguments(PeriodSchema)
    @blp.response(201, GenerationSchema)
    @blp.alt_response(409, description="The RCP has no recurrence or is inactive")
    def post(self, period: dict[str, Any], rcp_id: int) -> Any:
        """Plan the sessions of a period from the RCP's recurrence

        Idempotent: occurrences already planned (even moved, edited or cancelled) are left alone.
        """
        result = services.generate_sessions(
            principal=current_principal(),
            rcp_id=rcp_id,
            period_start=period["from_"],
            period_end=period["to"],
        )
        db.session.commit()
        return {
            "created": len(result.created),
            "existing": result.existing,
            "cancelled_skipped": result.cancelled_skipped,
            "sessions": result.created,
        }


@blp.route("/sessions")
class Sessions(MethodView):
    @blp.auth(who="every authenticated caller (sessions carry no patient data)")
    @blp.arguments(SessionQueryArgsSchema, location="query")
    @blp.response(200, page_of(SessionSummarySchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List sessions: local (finess), regional (region) or national view, by start time

        Items carry the quorum status but not the participants: read one session for them.
        """
        size, offset = _offset(args)
        filters = services.SessionFilters(
            region=args.get("region"),
            department=args.get("department"),
            finess=args.get("finess"),
            kind=args.get("kind"),
            rcp_id=args.get("rcp_id"),
            date_from=args.get("from_"),
            date_to=args.get("to"),
            visio=args.get("visio"),
            open_to_external=args.get("open_to_external"),
            has_capacity=args.get("has_capacity"),
            practitioner=args.get("practitioner"),
            status=args.get("status"),
        )
        sessions, total = services.list_session_summaries(
            filters=filters, limit=size, offset=offset
        )
        return page(sessions, total=total, page=args["page"], page_size=size)

    @blp.auth(*MANAGERS, who=MANAGERS_WHO)
    @blp.arguments(SessionCreateSchema)
    @blp.response(201, SessionSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Add an ad hoc session to an RCP"""
        session = services.add_session(principal=current_principal(), data=data)
        db.session.commit()
        return session


@blp.route("/sessions/next")
class NextSessions(MethodView):
    @blp.auth(who="every authenticated caller")
    @blp.arguments(NextSessionsArgsSchema, location="query")
    @blp.response(200, SessionSummarySchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Next sessions of a kind near a department that still take dossiers

        Only scheduled sessions before their deadline and with places left; nearest first
        (by 50 km bands), then soonest.
        """
        return services.next_sessions(
            kind=args["kind"], department=args["department"], limit=args["limit"]
        )


@blp.route("/sessions/<int:session_id>")
class SessionById(MethodView):
    @blp.auth(who="every authenticated caller")
    @blp.response(200, SessionSchema)
    def get(self, session_id: int) -> Any:
        """Read a session with its participants and quorum status"""
        return services.read_session(session_id=session_id)

    @blp.auth(*MANAGERS, who=MANAGERS_WHO)
    @blp.arguments(SessionUpdateSchema)
    @blp.response(200, SessionSchema)
    @blp.alt_response(409, description="Cancelled, or changed since expected_revision")
    def patch(self, data: dict[str, Any], session_id: int) -> Any:
        """Move or re-place a session (its revision grows; registrants are notified)"""
        session = services.update_session(
            principal=current_principal(), session_id=session_id, data=data
        )
        db.session.commit()
        return session


@blp.route("/sessions/<int:session_id>/cancel")
class CancelSession(MethodView):
    @blp.auth(*MANAGERS, who=MANAGERS_WHO)
    @blp.arguments(CancelSchema)
    @blp.response(200, SessionSchema)
    @blp.alt_response(409, description="Already cancelled")
    def post(self, data: dict[str, Any], session_id: int) -> Any:
        """Cancel a session (it stays, with status cancelled)"""
        session = services.cancel_session(
            principal=current_principal(), session_id=session_id, reason=data["reason"]
        )
        db.session.commit()
        return session


@blp.route("/sessions/<int:session_id>/participants")
class SessionParticipants(MethodView):
    @blp.auth(*MANAGERS, who=MANAGERS_WHO)
    @blp.arguments(ParticipantsSchema)
    @blp.response(200, SessionSchema)
    def put(self, data: dict[str, Any], session_id: int) -> Any:
        """Replace the provisional list of participants of a session"""
        session = services.set_participants(
            principal=current_principal(),
            session_id=session_id,
            participants=data["participants"],
        )
        db.session.commit()
        return session


@blp.route("/sessions/<int:session_id>/attendance")
class SessionAttendance(MethodView):
    @blp.auth(*MANAGERS, who=MANAGERS_WHO)
    @blp.arguments(AttendanceSchema)
    @blp.response(200, SessionSchema)
    @blp.alt_response(409, description="Cancelled, or not started yet")
    def put(self, data: dict[str, Any], session_id: int) -> Any:
        """Record attendance: present, excused, or replaced by whom"""
        session = services.record_attendance(
            principal=current_principal(), session_id=session_id, items=data["items"]
        )
        db.session.commit()
        return session


@blp.route("/sessions/<int:session_id>/registrations")
class SessionRegistrations(MethodView):
    @blp.auth(
        who="physicians: their own dossiers; RCP software: its own; 3C and admins: their RCPs'"
    )
    @blp.arguments(PaginationArgsSchema, location="query")
    @blp.response(200, page_of(RegistrationSchema))
    def get(self, args: dict[str, Any], session_id: int) -> dict[str, Any]:
        """Registrations of a session the caller may read"""
        size, offset = _offset(args)
        rows, total = services.list_registrations(
            principal=current_principal(), session_id=session_id, limit=size, offset=offset
        )
        return page(rows, total=total, page=args["page"], page_size=size)

    @blp.auth(
        Role.PHYSICIAN,
        Role.RCP_SOFTWARE,
        who="a physician for themself; RCP software on a physician's behalf (dcc_on_behalf_of)",
    )
    @blp.arguments(RegistrationCreateSchema)
    @blp.response(201, RegistrationSchema)
    @blp.alt_response(409, description="Deadline passed, session full, cancelled or duplicate")
    @blp.alt_response(422, description="Invalid or unknown field (identity fields are refused)")
    def post(self, data: dict[str, Any], session_id: int) -> Any:
        """Register a dossier for a session (never nominative data)

        The patient is identified only by an opaque reference of the calling software.
        """
        registration = services.register_dossier(
            principal=current_principal(), session_id=session_id, data=data
        )
        db.session.commit()
        return registration


@blp.route("/registrations")
class Registrations(MethodView):
    @blp.auth(
        who="physicians: their own dossiers; RCP software: its own and its perimeter's; "
        "3C and admins: their perimeter's"
    )
    @blp.arguments(RegistrationQueryArgsSchema, location="query")
    @blp.response(200, page_of(RegistrationSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Registrations the caller may read"""
        size, offset = _offset(args)
        rows, total = services.list_registrations(
            principal=current_principal(),
            session_id=args.get("session_id"),
            status=args.get("status"),
            limit=size,
            offset=offset,
        )
        return page(rows, total=total, page=args["page"], page_size=size)


@blp.route("/registrations/<int:registration_id>")
class RegistrationById(MethodView):
    @blp.auth(who="the registering physician, its software, or the host's 3C and admins")
    @blp.response(200, RegistrationSchema)
    def get(self, registration_id: int) -> Any:
        """Read a registration with its transitions"""
        return services.get_registration(
            principal=current_principal(), registration_id=registration_id
        )


@blp.route("/registrations/<int:registration_id>/decision")
class RegistrationDecision(MethodView):
    @blp.auth(*MANAGERS, who=MANAGERS_WHO)
    @blp.arguments(DecisionSchema)
    @blp.response(200, RegistrationSchema)
    @blp.alt_response(409, description="Transition not allowed from the current status")
    def post(self, data: dict[str, Any], registration_id: int) -> Any:
        """Decide on a dossier: accepted, deferred to another session, or refused

        A deferral moves the dossier: the registration becomes deferred and a new, accepted
        registration is created in the target session. The physician is notified.
        """
        registration = services.decide_registration(
            principal=current_principal(),
            registration_id=registration_id,
            decision=data["decision"],
            reason=data.get("reason"),
            target_session_id=data.get("target_session_id"),
        )
        db.session.commit()
        return registration


@blp.route("/registrations/<int:registration_id>/withdraw")
class RegistrationWithdrawal(MethodView):
    @blp.auth(
        Role.PHYSICIAN, Role.RCP_SOFTWARE, who="the registering physician, before the deadline"
    )
    @blp.response(200, RegistrationSchema)
    @blp.alt_response(409, description="Deadline passed or already decided")
    def post(self, registration_id: int) -> Any:
        """Withdraw a dossier"""
        registration = services.withdraw_registration(
            principal=current_principal(), registration_id=registration_id
        )
        db.session.commit()
        return registration


@blp.route("/notifications")
class Notifications(MethodView):
    @blp.auth(
        Role.PHYSICIAN, Role.RCP_SOFTWARE, who="the physician's own (or the one software acts for)"
    )
    @blp.arguments(NotificationQueryArgsSchema, location="query")
    @blp.response(200, NotificationPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The caller's notifications, newest first, with the unread count"""
        size, offset = _offset(args)
        rows, total, unread = notifications.list_notifications(
            principal=current_principal(), unread=args.get("unread"), limit=size, offset=offset
        )
        return {**page(rows, total=total, page=args["page"], page_size=size), "unread": unread}


@blp.route("/notifications/<int:notification_id>/read")
class NotificationRead(MethodView):
    @blp.auth(Role.PHYSICIAN, Role.RCP_SOFTWARE, who="the recipient")
    @blp.response(200, NotificationSchema)
    def post(self, notification_id: int) -> Any:
        """Mark a notification as read"""
        notification = notifications.mark_read(
            principal=current_principal(), notification_id=notification_id
        )
        db.session.commit()
        return notification


@blp.route("/webhooks")
class Webhooks(MethodView):
    @blp.auth(*MANAGERS, who="the caller's own webhooks (national admins: all)")
    @blp.response(200, WebhookSchema(many=True))
    def get(self) -> Any:
        """List webhooks"""
        return notifications.list_webhooks(principal=current_principal())

    @blp.auth(*MANAGERS, who="RCP software and administrators, for their perimeter")
    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, WebhookCreatedSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Register a webhook (events of your perimeter and of your own registrations)

        Each delivery is a JSON POST with headers `X-DCC-Event`, `X-DCC-Delivery`,
        `X-DCC-Timestamp` and `X-DCC-Signature: sha256=<hex>`, the HMAC-SHA256 with the
        returned secret of `<timestamp>.<body>`. Failed deliveries are retried with
        exponential backoff (30 s doubling, 8 attempts).
        """
        hook = notifications.create_webhook(
            principal=current_principal(), url=data["url"], events=data["events"]
        )
        db.session.commit()
        return hook


@blp.route("/webhooks/<int:webhook_id>")
class WebhookById(MethodView):
    @blp.auth(*MANAGERS, who="the owner (national admins: all)")
    @blp.response(204)
    def delete(self, webhook_id: int) -> None:
        """Deactivate a webhook (its delivery log stays)"""
        notifications.delete_webhook(principal=current_principal(), webhook_id=webhook_id)
        db.session.commit()


@blp.route("/webhooks/<int:webhook_id>/deliveries")
class WebhookDeliveries(MethodView):
    @blp.auth(*MANAGERS, who="the owner (national admins: all)")
    @blp.arguments(PaginationArgsSchema, location="query")
    @blp.response(200, page_of(DeliverySchema))
    def get(self, args: dict[str, Any], webhook_id: int) -> dict[str, Any]:
        """The delivery log of a webhook, newest first"""
        size, offset = _offset(args)
        rows, total = notifications.list_deliveries(
            principal=current_principal(), webhook_id=webhook_id, limit=size, offset=offset
        )
        return page(rows, total=total, page=args["page"], page_size=size)
