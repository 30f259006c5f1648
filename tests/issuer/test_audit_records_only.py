"""The audit log records; it never decides: pruning or rewording audit events changes no reset-link verdict and
no entry of the revocation list (the state those rules read lives in its own tables)."""

import pytest
from django.contrib.auth import get_user_model

from issuer.models import AuditEvent
from issuer.services import password_reset
from issuer.services.revocations import revoked_session_ids
from issuer.services.sessions import session_start

pytestmark = pytest.mark.django_db
User = get_user_model()
NEW_PASSWORD = "a brand new passphrase 42"


def link_token(mailoutbox) -> str:
    return mailoutbox[-1].body.split("/password-reset/", 1)[1].split("/", 1)[0]


def verdict(raw_token: str) -> str:
    try:
        password_reset.password_reset_token_check(raw_token=raw_token)
    except password_reset.ResetLinkInvalid as e:
        return e.reason
    return "valid"


def reword_and_prune_the_audit_log() -> None:
    AuditEvent.objects.update(detail="reworded by a later version")
    AuditEvent.objects.filter(pk__in=list(AuditEvent.objects.values_list("pk", flat=True)[::2])).delete()


def test_reset_verdicts_survive_rewording_and_pruning_the_audit_log(users, mailoutbox):
    password_reset.password_reset_request(email="bob@example.com")
    older = link_token(mailoutbox)
    password_reset.password_reset_request(email="bob@example.com")
    newer = link_token(mailoutbox)
    before = (verdict(older), verdict(newer))
    reword_and_prune_the_audit_log()
    assert (verdict(older), verdict(newer)) == before == ("superseded by a newer reset", "valid")
    AuditEvent.objects.all().delete()
    assert (verdict(older), verdict(newer)) == before


def test_a_used_link_stays_used_without_its_audit_event(users, mailoutbox):
    password_reset.password_reset_request(email="bob@example.com")
    raw = link_token(mailoutbox)
    password_reset.password_reset_complete(raw_token=raw, new_password=NEW_PASSWORD)
    AuditEvent.objects.all().delete()
    # The password change alone would also spend it (the fingerprint); the request row says why first.
    assert verdict(raw) == "already used"


def test_a_deleted_users_revoked_sessions_stay_listed_without_the_audit_log(users):
    sid = session_start(user=users["bob"]).session.sid
    users["bob"].delete()
    reword_and_prune_the_audit_log()
    AuditEvent.objects.all().delete()
    assert sid in revoked_session_ids()
